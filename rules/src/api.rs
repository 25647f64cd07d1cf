//! The rules' state in the shapes of Prometheus' `/api/v1/rules` and `/api/v1/alerts`
//! (`web/api/v1/api.go`): groups with their rules, each rule with its health, last error,
//! evaluation time and, for alerting rules, state and active alerts; values as Go's
//! `strconv.FormatFloat(v, 'e', -1, 64)`, times as RFC 3339.

use serde_json::{Value, json};

use crate::alerting::{Alert, AlertState};
use crate::eval::{GroupState, Rule};
use crate::notifier::rfc3339;

/// The filters `/api/v1/rules` accepts.
#[derive(Debug, Clone, Default)]
pub struct RulesFilter {
    /// `type`: `alert` or `record` (empty: both).
    pub kind: String,
    /// `rule_name[]`.
    pub rule_names: Vec<String>,
    /// `rule_group[]`.
    pub rule_groups: Vec<String>,
    /// `file[]`.
    pub files: Vec<String>,
    /// `exclude_alerts`: leave out the alerts of alerting rules.
    pub exclude_alerts: bool,
    /// `match[]`: only rules whose configured labels satisfy one of these selectors.
    pub matchers: Vec<Vec<strata_query::Matcher>>,
    /// `group_limit`: at most this many groups, then `groupNextToken` names the next one.
    pub group_limit: Option<usize>,
    /// `group_next_token`: the page starts at the group this token (from a previous
    /// answer's `groupNextToken`) names.
    pub group_next_token: Option<String>,
}

/// The opaque token of a group for pagination (Prometheus hashes `file;name` too).
pub fn group_token(file: &str, name: &str) -> String {
    format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(format!("{file};{name}").as_bytes())
    )
}

/// `{"groups": […]}`, plus `groupNextToken` when `group_limit` cut the list. A
/// `group_next_token` that names no group is refused (the groups changed meanwhile).
pub fn rules_json(groups: &[GroupState], filter: &RulesFilter) -> Result<Value, String> {
    let wanted = |list: &[String], v: &str| list.is_empty() || list.iter().any(|w| w == v);
    let mut selected: Vec<&GroupState> = groups
        .iter()
        .filter(|g| wanted(&filter.rule_groups, &g.name) && wanted(&filter.files, &g.file))
        .collect();
    if let Some(token) = &filter.group_next_token {
        let Some(at) = selected
            .iter()
            .position(|g| &group_token(&g.file, &g.name) == token)
        else {
            return Err(format!(
                "invalid group_next_token '{token}'. were rule groups changed?"
            ));
        };
        selected.drain(..at);
    }
    let mut next_token = None;
    let mut page = Vec::new();
    for g in selected {
        if filter.group_limit.is_some_and(|limit| page.len() >= limit) {
            next_token = Some(group_token(&g.file, &g.name));
            break;
        }
        if let Some(v) = group_json(g, filter) {
            page.push(v);
        }
    }
    let mut out = json!({ "groups": page });
    if let Some(token) = next_token {
        out["groupNextToken"] = json!(token);
    }
    Ok(out)
}

/// One group of `/api/v1/rules` with its rules that pass `filter`; `None` when the filters
/// leave it without rules.
fn group_json(g: &GroupState, filter: &RulesFilter) -> Option<Value> {
    let wanted = |list: &[String], v: &str| list.is_empty() || list.iter().any(|w| w == v);
    let rules: Vec<Value> = g
        .rules
        .iter()
        .filter(|r| {
            let (kind, name) = match &r.rule {
                Rule::Alerting(a) => ("alert", a.name.as_str()),
                Rule::Recording(rr) => ("record", rr.name.as_str()),
            };
            let labels = match &r.rule {
                Rule::Alerting(a) => &a.labels,
                Rule::Recording(rr) => &rr.labels,
            };
            (filter.kind.is_empty() || filter.kind == kind)
                && wanted(&filter.rule_names, name)
                && matches_any(&filter.matchers, labels)
        })
        .map(|r| {
            let common = |mut v: Value| {
                v["health"] = json!(r.health());
                v["lastError"] = json!(r.last_error.clone().unwrap_or_default());
                v["evaluationTime"] = json!(r.eval_seconds);
                v["lastEvaluation"] = json!(time_or_zero(r.last_eval));
                v
            };
            match &r.rule {
                Rule::Alerting(a) => {
                    let mut v = json!({
                        "state": a.state().as_str(),
                        "name": a.name,
                        "query": a.expr,
                        "duration": a.hold as f64 / 1000.0,
                        "keepFiringFor": a.keep_firing_for as f64 / 1000.0,
                        "labels": a.labels,
                        "annotations": a.annotations,
                        "type": "alerting",
                    });
                    if !filter.exclude_alerts {
                        v["alerts"] =
                            Value::Array(active(a.active.values()).map(alert_json).collect());
                    }
                    common(v)
                }
                Rule::Recording(rr) => common(json!({
                    "name": rr.name,
                    "query": rr.expr,
                    "labels": rr.labels,
                    "type": "recording",
                })),
            }
        })
        .collect();
    // Filters that leave a group without rules leave the group out, as Prometheus.
    let filtered =
        !filter.kind.is_empty() || !filter.rule_names.is_empty() || !filter.matchers.is_empty();
    (!(filtered && rules.is_empty())).then(|| {
        json!({
            "name": g.name,
            "file": g.file,
            "rules": rules,
            "interval": g.interval as f64 / 1000.0,
            "limit": g.limit,
            "evaluationTime": g.eval_seconds,
            "lastEvaluation": time_or_zero(g.last_eval),
        })
    })
}

/// True when `labels` (a rule's configured labels) satisfy one of the matcher sets (or
/// there are none).
fn matches_any(sets: &[Vec<strata_query::Matcher>], labels: &crate::alerting::LabelMap) -> bool {
    if sets.is_empty() {
        return true;
    }
    let Ok(labels) = strata_storage::Labels::from_pairs(labels.clone()) else {
        return false;
    };
    sets.iter()
        .any(|set| set.iter().all(|m| m.matches_labels(&labels)))
}

/// `{"alerts": […]}`: every pending or firing alert.
pub fn alerts_json(groups: &[GroupState]) -> Value {
    let alerts: Vec<Value> = groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| match &r.rule {
            Rule::Alerting(a) => Some(a),
            Rule::Recording(_) => None,
        })
        .flat_map(|a| active(a.active.values()))
        .map(alert_json)
        .collect();
    json!({ "alerts": alerts })
}

fn active<'a>(alerts: impl Iterator<Item = &'a Alert>) -> impl Iterator<Item = &'a Alert> {
    alerts.filter(|a| a.state != AlertState::Inactive)
}

fn alert_json(a: &Alert) -> Value {
    let mut v = json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": rfc3339(a.active_at),
        "value": go_e(a.value),
    });
    if a.keep_firing_since != 0 {
        v["keepFiringSince"] = json!(rfc3339(a.keep_firing_since));
    }
    v
}

/// Go's zero time for "never", else RFC 3339.
fn time_or_zero(ms: i64) -> String {
    if ms == 0 {
        "0001-01-01T00:00:00Z".to_string()
    } else {
        rfc3339(ms)
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`, `1.5e-07`, `NaN`, `+Inf`.
pub fn go_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::{ResultSample, Verbatim};
    use crate::rulefmt::RuleGroups;

    #[test]
    fn go_exponent_format() {
        assert_eq!(go_e(1.0), "1e+00");
        assert_eq!(go_e(1234.5), "1.2345e+03");
        assert_eq!(go_e(1.5e-7), "1.5e-07");
        assert_eq!(go_e(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn rules_and_alerts_in_prometheus_shapes() {
        let file = RuleGroups::parse(
            "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - record: r\n        expr: up\n      - alert: A\n        expr: up == 0\n        for: 1m\n        labels: {severity: page}\n",
        )
        .unwrap();
        let mut g = GroupState::new(&file.groups[0], "rules.yml", 60_000, 0);
        if let Rule::Alerting(a) = &mut g.rules[1].rule {
            let sample = ResultSample {
                labels: [("instance".to_string(), "x".to_string())].into(),
                value: 0.0,
            };
            a.eval(&[sample], 1_000, 0, 0, &Verbatim).unwrap();
        }
        let v = rules_json(std::slice::from_ref(&g), &RulesFilter::default()).unwrap();
        let group = &v["groups"][0];
        assert_eq!(group["interval"], 30.0);
        assert_eq!(group["rules"][0]["type"], "recording");
        assert_eq!(group["rules"][0]["health"], "unknown");
        assert_eq!(group["rules"][1]["type"], "alerting");
        assert_eq!(group["rules"][1]["state"], "pending");
        assert_eq!(group["rules"][1]["duration"], 60.0);
        let alert = &group["rules"][1]["alerts"][0];
        assert_eq!(alert["labels"]["alertname"], "A");
        assert_eq!(alert["activeAt"], "1970-01-01T00:00:01.000Z");
        assert_eq!(alert["value"], "0e+00");
        let only_records = RulesFilter {
            kind: "record".into(),
            ..Default::default()
        };
        let v = rules_json(std::slice::from_ref(&g), &only_records).unwrap();
        assert_eq!(v["groups"][0]["rules"].as_array().map(Vec::len), Some(1));
        let by_label = RulesFilter {
            matchers: vec![strata_query::parse_series_selector(r#"{severity="page"}"#).unwrap()],
            ..Default::default()
        };
        let v = rules_json(std::slice::from_ref(&g), &by_label).unwrap();
        assert_eq!(v["groups"][0]["rules"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["groups"][0]["rules"][0]["name"], "A");
        let none = RulesFilter {
            rule_names: vec!["nope".into()],
            ..Default::default()
        };
        assert_eq!(
            rules_json(std::slice::from_ref(&g), &none).unwrap()["groups"],
            json!([])
        );
        let alerts = alerts_json(std::slice::from_ref(&g));
        assert_eq!(alerts["alerts"][0]["state"], "pending");
    }

    /// `group_limit` pages through the groups; each page's `groupNextToken` starts the next,
    /// the last page has none, and a token naming no group is refused.
    #[test]
    fn group_limit_pages_with_next_tokens() {
        let file = RuleGroups::parse(
            "groups:\n  - {name: a, rules: [{record: r, expr: up}]}\n  - {name: b, rules: [{record: r, expr: up}]}\n  - {name: c, rules: [{record: r, expr: up}]}\n",
        )
        .unwrap();
        let groups: Vec<GroupState> = file
            .groups
            .iter()
            .map(|g| GroupState::new(g, "rules.yml", 60_000, 0))
            .collect();
        let page = |token: Option<String>| {
            let filter = RulesFilter {
                group_limit: Some(2),
                group_next_token: token,
                ..Default::default()
            };
            rules_json(&groups, &filter)
        };
        let names = |v: &Value| -> Vec<String> {
            v["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_string())
                .collect()
        };
        let first = page(None).unwrap();
        assert_eq!(names(&first), ["a", "b"]);
        let token = first["groupNextToken"].as_str().unwrap().to_string();
        assert_eq!(token, group_token("rules.yml", "c"));
        let second = page(Some(token)).unwrap();
        assert_eq!(names(&second), ["c"]);
        assert!(second.get("groupNextToken").is_none(), "{second}");
        let err = page(Some("nope".into())).unwrap_err();
        assert!(err.contains("invalid group_next_token 'nope'"), "{err}");
        // Without a limit, every group and no token.
        let all = rules_json(&groups, &RulesFilter::default()).unwrap();
        assert_eq!(names(&all), ["a", "b", "c"]);
        assert!(all.get("groupNextToken").is_none());
    }
}
