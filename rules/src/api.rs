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
}

/// `{"groups": […]}`.
pub fn rules_json(groups: &[GroupState], filter: &RulesFilter) -> Value {
    let wanted = |list: &[String], v: &str| list.is_empty() || list.iter().any(|w| w == v);
    let groups: Vec<Value> = groups
        .iter()
        .filter(|g| wanted(&filter.rule_groups, &g.name) && wanted(&filter.files, &g.file))
        .filter_map(|g| {
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
                                v["alerts"] = Value::Array(
                                    active(a.active.values()).map(alert_json).collect(),
                                );
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
            let filtered = !filter.kind.is_empty()
                || !filter.rule_names.is_empty()
                || !filter.matchers.is_empty();
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
        })
        .collect();
    json!({ "groups": groups })
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
        let v = rules_json(std::slice::from_ref(&g), &RulesFilter::default());
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
        let v = rules_json(std::slice::from_ref(&g), &only_records);
        assert_eq!(v["groups"][0]["rules"].as_array().map(Vec::len), Some(1));
        let by_label = RulesFilter {
            matchers: vec![strata_query::parse_series_selector(r#"{severity="page"}"#).unwrap()],
            ..Default::default()
        };
        let v = rules_json(std::slice::from_ref(&g), &by_label);
        assert_eq!(v["groups"][0]["rules"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["groups"][0]["rules"][0]["name"], "A");
        let none = RulesFilter {
            rule_names: vec!["nope".into()],
            ..Default::default()
        };
        assert_eq!(
            rules_json(std::slice::from_ref(&g), &none)["groups"],
            json!([])
        );
        let alerts = alerts_json(std::slice::from_ref(&g));
        assert_eq!(alerts["alerts"][0]["state"], "pending");
    }
}
