//! Rule state in the bucket, so that any API process — not only the evaluating one — answers
//! `/api/v1/rules` and `/api/v1/alerts`.
//!
//! Each evaluator writes `rules/state/<shards>-<shard>.json` (format v1, `docs/format.md`):
//! its groups with their rules' health, last error, evaluation times and active alerts,
//! replaced every state interval and when it stops. Readers list `rules/state/`, keep the
//! objects of the newest sharding (the `shards` of the most recently updated object, so a
//! re-sharded deployment's old objects are ignored) and merge their groups. The object is a
//! view: `for` state is restored from `ALERTS_FOR_STATE`, not from here.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use strata_storage::Store;

use crate::alerting::{Alert, AlertState, AlertingRule, LabelMap};
use crate::eval::{GroupState, RecordingRule, Rule, RuleState};

/// Where evaluators keep their state.
pub const STATE_DIR: &str = "rules/state";
/// The state format's version.
pub const STATE_VERSION: u32 = 1;

/// One evaluator's state object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    pub version: u32,
    pub shard: u64,
    pub shards: u64,
    /// When it was written (unix ms).
    pub updated_ms: i64,
    pub groups: Vec<GroupRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub file: String,
    pub interval_ms: i64,
    pub query_offset_ms: i64,
    pub limit: usize,
    pub last_eval_ms: i64,
    pub eval_seconds: f64,
    pub rules: Vec<RuleRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// `alerting` or `recording`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub query: String,
    pub labels: LabelMap,
    #[serde(default)]
    pub annotations: LabelMap,
    #[serde(default)]
    pub for_ms: i64,
    #[serde(default)]
    pub keep_firing_for_ms: i64,
    #[serde(default)]
    pub last_error: Option<String>,
    pub last_eval_ms: i64,
    pub eval_seconds: f64,
    #[serde(default)]
    pub alerts: Vec<AlertRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// `pending`, `firing` or `inactive`.
    pub state: String,
    pub labels: LabelMap,
    pub annotations: LabelMap,
    /// Prometheus' float text (`NaN`, `+Inf` included: JSON numbers cannot hold them).
    pub value: String,
    pub active_at_ms: i64,
    pub fired_at_ms: i64,
    pub resolved_at_ms: i64,
    pub keep_firing_since_ms: i64,
}

impl StateFile {
    /// The state of `groups`, evaluated by shard `shard` of `shards`.
    pub fn new(groups: &[GroupState], shard: u64, shards: u64, now_ms: i64) -> Self {
        Self {
            version: STATE_VERSION,
            shard,
            shards,
            updated_ms: now_ms,
            groups: groups.iter().map(GroupRecord::from).collect(),
        }
    }

    /// The object's path.
    pub fn path(shard: u64, shards: u64) -> object_store::path::Path {
        object_store::path::Path::from(format!("{STATE_DIR}/{shards}-{shard}.json"))
    }
}

impl From<&GroupState> for GroupRecord {
    fn from(g: &GroupState) -> Self {
        Self {
            name: g.name.clone(),
            file: g.file.clone(),
            interval_ms: g.interval,
            query_offset_ms: g.query_offset,
            limit: g.limit,
            last_eval_ms: g.last_eval,
            eval_seconds: g.eval_seconds,
            rules: g.rules.iter().map(RuleRecord::from).collect(),
        }
    }
}

impl From<&RuleState> for RuleRecord {
    fn from(r: &RuleState) -> Self {
        let (kind, name, query, labels, annotations, for_ms, keep, alerts) = match &r.rule {
            Rule::Alerting(a) => (
                "alerting",
                &a.name,
                &a.expr,
                &a.labels,
                a.annotations.clone(),
                a.hold,
                a.keep_firing_for,
                a.active.values().map(AlertRecord::from).collect(),
            ),
            Rule::Recording(rr) => (
                "recording",
                &rr.name,
                &rr.expr,
                &rr.labels,
                LabelMap::new(),
                0,
                0,
                Vec::new(),
            ),
        };
        Self {
            kind: kind.to_string(),
            name: name.clone(),
            query: query.clone(),
            labels: labels.clone(),
            annotations,
            for_ms,
            keep_firing_for_ms: keep,
            last_error: r.last_error.clone(),
            last_eval_ms: r.last_eval,
            eval_seconds: r.eval_seconds,
            alerts,
        }
    }
}

impl From<&Alert> for AlertRecord {
    fn from(a: &Alert) -> Self {
        Self {
            state: a.state.as_str().to_string(),
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            value: strata_promql::format_float(a.value),
            active_at_ms: a.active_at,
            fired_at_ms: a.fired_at,
            resolved_at_ms: a.resolved_at,
            keep_firing_since_ms: a.keep_firing_since,
        }
    }
}

impl GroupRecord {
    /// Back to a group's state, for the API.
    pub fn to_state(&self) -> GroupState {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let rule = if r.kind == "alerting" {
                    let mut a = AlertingRule::new(
                        r.name.clone(),
                        r.query.clone(),
                        r.for_ms,
                        r.keep_firing_for_ms,
                        r.labels.clone(),
                        r.annotations.clone(),
                    );
                    a.active = r
                        .alerts
                        .iter()
                        .map(|x| (x.labels.clone(), x.to_alert()))
                        .collect();
                    Rule::Alerting(a)
                } else {
                    Rule::Recording(RecordingRule {
                        name: r.name.clone(),
                        expr: r.query.clone(),
                        labels: r.labels.clone(),
                    })
                };
                RuleState {
                    rule,
                    last_error: r.last_error.clone(),
                    last_eval: r.last_eval_ms,
                    eval_seconds: r.eval_seconds,
                    previous: Default::default(),
                }
            })
            .collect();
        GroupState {
            name: self.name.clone(),
            file: self.file.clone(),
            interval: self.interval_ms,
            query_offset: self.query_offset_ms,
            limit: self.limit,
            rules,
            last_eval: self.last_eval_ms,
            eval_seconds: self.eval_seconds,
        }
    }
}

impl AlertRecord {
    fn to_alert(&self) -> Alert {
        let state = match self.state.as_str() {
            "firing" => AlertState::Firing,
            "pending" => AlertState::Pending,
            _ => AlertState::Inactive,
        };
        let value = match self.value.as_str() {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        Alert {
            state,
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            value,
            active_at: self.active_at_ms,
            fired_at: self.fired_at_ms,
            resolved_at: self.resolved_at_ms,
            last_sent_at: 0,
            valid_until: 0,
            keep_firing_since: self.keep_firing_since_ms,
        }
    }
}

/// Writes an evaluator's state object (a plain overwrite: each shard has its own object).
pub async fn write(store: &Store, state: &StateFile) -> Result<(), String> {
    let body = serde_json::to_vec(state).map_err(|e| e.to_string())?;
    store
        .put(
            &StateFile::path(state.shard, state.shards),
            Bytes::from(body),
        )
        .await
        .map_err(|e| e.to_string())
}

/// The groups of every evaluator of the newest sharding, sorted by file and name. Objects
/// that do not parse, or of a newer format version, are skipped with a warning.
pub async fn read(store: &Store) -> Result<Vec<GroupState>, String> {
    let prefix = object_store::path::Path::from(STATE_DIR);
    let metas: Vec<_> = store
        .list_after(&prefix, None)
        .try_collect()
        .await
        .map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    for meta in metas {
        let Some(bytes) = store
            .get_opt(&meta.location)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        match serde_json::from_slice::<StateFile>(&bytes) {
            Ok(f) if f.version <= STATE_VERSION => files.push(f),
            Ok(f) => {
                tracing::warn!(path = %meta.location, version = f.version, "rule state of a newer format skipped")
            }
            Err(e) => {
                tracing::warn!(path = %meta.location, error = %e, "unreadable rule state skipped")
            }
        }
    }
    let Some(newest) = files.iter().max_by_key(|f| f.updated_ms) else {
        return Ok(Vec::new());
    };
    let shards = newest.shards;
    let mut groups: BTreeMap<(String, String), GroupState> = BTreeMap::new();
    for f in files.iter().filter(|f| f.shards == shards) {
        for g in &f.groups {
            groups.insert((g.file.clone(), g.name.clone()), g.to_state());
        }
    }
    Ok(groups.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::{ResultSample, Verbatim};
    use crate::rulefmt::RuleGroups;

    fn group(name: &str) -> GroupState {
        let file = RuleGroups::parse(&format!(
            "groups:\n  - name: {name}\n    rules:\n      - record: r\n        expr: up\n      - alert: A\n        expr: up == 0\n        for: 1m\n"
        ))
        .unwrap();
        let mut g = GroupState::new(&file.groups[0], "f.yml", 60_000, 0);
        if let Rule::Alerting(a) = &mut g.rules[1].rule {
            let sample = ResultSample {
                labels: [("instance".to_string(), "x".to_string())].into(),
                value: f64::NAN,
            };
            a.eval(&[sample], 5_000, 0, 0, &Verbatim).unwrap();
        }
        g.rules[0].last_error = Some("boom".into());
        g.last_eval = 5_000;
        g
    }

    #[tokio::test]
    async fn state_round_trips_through_the_bucket_and_newest_sharding_wins() {
        let store = Store::open("memory://").unwrap();
        assert!(read(&store).await.unwrap().is_empty());
        // An old deployment with one evaluator, then two shards.
        write(&store, &StateFile::new(&[group("old")], 0, 1, 1_000))
            .await
            .unwrap();
        write(&store, &StateFile::new(&[group("b")], 1, 2, 9_000))
            .await
            .unwrap();
        write(&store, &StateFile::new(&[group("a")], 0, 2, 8_000))
            .await
            .unwrap();
        let groups = read(&store).await.unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let original = group("a");
        let back = &groups[0];
        assert_eq!(back.rules[0].last_error.as_deref(), Some("boom"));
        let (Rule::Alerting(x), Rule::Alerting(y)) = (&back.rules[1].rule, &original.rules[1].rule)
        else {
            panic!("alerting rules expected")
        };
        assert_eq!(x.active.len(), 1);
        let (ax, ay) = (
            x.active.values().next().unwrap(),
            y.active.values().next().unwrap(),
        );
        assert_eq!(
            (ax.state, ax.active_at, &ax.labels),
            (ay.state, ay.active_at, &ay.labels)
        );
        assert!(ax.value.is_nan(), "NaN survives JSON");
        // The API shapes read the same from either.
        let filter = crate::api::RulesFilter::default();
        assert_eq!(
            crate::api::rules_json(std::slice::from_ref(back), &filter).unwrap(),
            crate::api::rules_json(std::slice::from_ref(&original), &filter).unwrap()
        );
    }
}
