//! One evaluation of a rule group, as Prometheus' `Group.Eval` runs it: the rules in order,
//! each querying at `ts − query_offset` and seeing what the previous rules of the same
//! evaluation wrote (the backend makes outputs visible before the next rule runs). A
//! recording rule writes its result renamed and relabelled, and stale markers for the series
//! it wrote last time and not this time; an alerting rule runs its state machine
//! ([`crate::alerting`]) and writes `ALERTS`/`ALERTS_FOR_STATE`. A failing rule records its
//! error and the others still run.
//!
//! The backend is a trait so that `strata rules test` (an in-memory store) and the evaluator
//! (the store and its write path) share this code.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use async_trait::async_trait;

use crate::alerting::{AlertingRule, Expander, LabelMap, OutputSample, ResultSample};
use crate::rulefmt::RuleGroup;
use crate::template;

/// Where a group reads its queries and writes its outputs.
#[async_trait]
pub trait RuleBackend: Send + Sync {
    /// An instant query at `t` (ms): its samples (a scalar is one sample without labels),
    /// or the error (a string or range result is an error, as in Prometheus).
    async fn query(&self, expr: &str, t: i64) -> Result<Vec<ResultSample>, String>;
    /// Writes rule outputs; visible to the next [`Self::query`].
    async fn append(&self, samples: Vec<OutputSample>) -> Result<(), String>;
}

/// A recording rule.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub name: String,
    pub expr: String,
    pub labels: LabelMap,
}

/// A rule of a group.
#[derive(Debug, Clone)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

/// A rule and how its last evaluation went (the rules API's `health`, `lastError`, …).
#[derive(Debug, Clone)]
pub struct RuleState {
    pub rule: Rule,
    pub last_error: Option<String>,
    /// When it was last evaluated (ms; 0: never).
    pub last_eval: i64,
    pub eval_seconds: f64,
    /// The series it wrote at its last evaluation: those missing next time get stale markers.
    pub previous: BTreeSet<LabelMap>,
}

impl RuleState {
    /// `ok`, `err` or `unknown` (never evaluated), as the rules API says.
    pub fn health(&self) -> &'static str {
        match (&self.last_error, self.last_eval) {
            (Some(_), _) => "err",
            (None, 0) => "unknown",
            (None, _) => "ok",
        }
    }
}

/// A group being evaluated.
#[derive(Debug, Clone)]
pub struct GroupState {
    pub name: String,
    pub file: String,
    /// ms.
    pub interval: i64,
    /// ms.
    pub query_offset: i64,
    pub limit: usize,
    pub rules: Vec<RuleState>,
    pub last_eval: i64,
    pub eval_seconds: f64,
}

impl GroupState {
    /// A group of a rule file, with the global interval and query offset as defaults. The
    /// group's `labels` are added to every rule's (a rule's own label wins).
    pub fn new(group: &RuleGroup, file: &str, default_interval: i64, default_offset: i64) -> Self {
        let rules = group
            .rules
            .iter()
            .map(|r| {
                let mut labels = group.labels.clone();
                labels.extend(r.labels.clone());
                let rule = if r.is_alert() {
                    Rule::Alerting(AlertingRule::new(
                        r.alert.clone(),
                        r.expr.clone(),
                        r.for_.0,
                        r.keep_firing_for.0,
                        labels,
                        r.annotations.clone(),
                    ))
                } else {
                    Rule::Recording(RecordingRule {
                        name: r.record.clone(),
                        expr: r.expr.clone(),
                        labels,
                    })
                };
                RuleState {
                    rule,
                    last_error: None,
                    last_eval: 0,
                    eval_seconds: 0.0,
                    previous: BTreeSet::new(),
                }
            })
            .collect();
        Self {
            name: group.name.clone(),
            file: file.to_string(),
            interval: group.interval.map_or(default_interval, |d| d.0),
            query_offset: group.query_offset.map_or(default_offset, |d| d.0),
            limit: group.limit,
            rules,
            last_eval: 0,
            eval_seconds: 0.0,
        }
    }

    /// Evaluates every rule at `ts` (ms), in order. Errors are kept per rule.
    pub async fn eval(&mut self, ts: i64, backend: &dyn RuleBackend, expander: &dyn Expander) {
        let started = Instant::now();
        let at = ts - self.query_offset;
        for state in &mut self.rules {
            let rule_started = Instant::now();
            let result = match &mut state.rule {
                Rule::Recording(r) => eval_recording(r, at, self.limit, backend).await,
                Rule::Alerting(r) => match backend.query(&r.expr, at).await {
                    Ok(result) => r
                        .eval(&result, ts, self.query_offset, self.limit, expander)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                },
            };
            let result = match result {
                Ok(mut samples) => {
                    // Series written last time and not now end with a stale marker.
                    let current: BTreeSet<LabelMap> =
                        samples.iter().map(|s| s.labels.clone()).collect();
                    let stale = f64::from_bits(strata_storage::STALE_NAN_BITS);
                    samples.extend(state.previous.difference(&current).map(|labels| {
                        OutputSample {
                            labels: labels.clone(),
                            t: at,
                            value: stale,
                        }
                    }));
                    state.previous = current;
                    if samples.is_empty() {
                        Ok(())
                    } else {
                        backend.append(samples).await
                    }
                }
                // Prometheus keeps the previous series (no stale markers) when a rule fails.
                Err(e) => Err(e),
            };
            state.last_error = result.err();
            state.last_eval = ts;
            state.eval_seconds = rule_started.elapsed().as_secs_f64();
        }
        self.last_eval = ts;
        self.eval_seconds = started.elapsed().as_secs_f64();
    }
}

/// A recording rule at query time `at`: its samples, renamed and relabelled.
async fn eval_recording(
    rule: &RecordingRule,
    at: i64,
    limit: usize,
    backend: &dyn RuleBackend,
) -> Result<Vec<OutputSample>, String> {
    let result = backend.query(&rule.expr, at).await?;
    let mut out: BTreeMap<LabelMap, f64> = BTreeMap::new();
    for sample in result {
        let mut labels = sample.labels;
        labels.insert(strata_storage::METRIC_NAME.to_string(), rule.name.clone());
        for (k, v) in &rule.labels {
            labels.insert(k.clone(), v.clone());
        }
        if out.insert(labels, sample.value).is_some() {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels"
                    .to_string(),
            );
        }
    }
    if limit > 0 && out.len() > limit {
        return Err(format!(
            "exceeded limit of {limit} with {} series",
            out.len()
        ));
    }
    let samples = out
        .into_iter()
        .map(|(labels, value)| OutputSample {
            labels,
            t: at,
            value,
        })
        .collect();
    Ok(samples)
}

/// Prometheus' template expansion for alert labels and annotations, with `query` running
/// through the group's backend at the evaluation time.
#[derive(Clone, Copy)]
pub struct TemplateExpander<'a> {
    pub backend: &'a dyn RuleBackend,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
}

impl std::fmt::Debug for TemplateExpander<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateExpander")
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

/// What templates reach while expanding at `ts`.
struct BackendEnv<'a> {
    backend: &'a dyn RuleBackend,
    ts: i64,
    external_url: &'a str,
}

impl template::Env for BackendEnv<'_> {
    fn query(&self, q: &str) -> Result<Vec<template::QuerySample>, String> {
        // Templates are synchronous: the query runs on this worker thread.
        let handle = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread {
            return Err("queries in templates need the multi-threaded runtime".to_string());
        }
        let result =
            tokio::task::block_in_place(|| handle.block_on(self.backend.query(q, self.ts)))?;
        Ok(result
            .into_iter()
            .map(|s| template::QuerySample {
                labels: s.labels,
                value: s.value,
            })
            .collect())
    }

    fn now(&self) -> f64 {
        self.ts as f64 / 1000.0
    }

    fn external_url(&self) -> &str {
        self.external_url
    }
}

impl Expander for TemplateExpander<'_> {
    fn expand(&self, rule: &str, text: &str, labels: &LabelMap, value: f64, ts: i64) -> String {
        let env = BackendEnv {
            backend: self.backend,
            ts,
            external_url: self.external_url,
        };
        template::expand_alert_template(
            &format!("__alert_{rule}"),
            text,
            labels,
            self.external_labels,
            self.external_url,
            value,
            &env,
        )
    }
}

/// A rule's instant query at `t` over `snapshot` plus `overlay` (outputs not stored yet),
/// as rule samples: what every [`RuleBackend`] runs.
pub async fn query_samples(
    store: &strata_storage::Store,
    options: &strata_query::EngineOptions,
    snapshot: std::sync::Arc<strata_storage::Snapshot>,
    overlay: strata_query::Overlay,
    expr: &str,
    t: i64,
) -> Result<Vec<ResultSample>, String> {
    let options = strata_query::EngineOptions {
        overlay,
        ..options.clone()
    };
    let out = strata_query::Engine::new(store.clone(), options)
        .instant(snapshot, expr, t)
        .await
        .map_err(|e| e.to_string())?;
    to_samples(out.value)
}

/// A query result as rule samples: a vector as is, a scalar as one sample without labels
/// (Prometheus' `EngineQueryFunc`); anything else is an error.
pub fn to_samples(value: strata_query::QueryValue) -> Result<Vec<ResultSample>, String> {
    match value {
        strata_query::QueryValue::Vector(v) => Ok(v
            .into_iter()
            .map(|s| ResultSample {
                labels: s
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                value: s.v,
            })
            .collect()),
        strata_query::QueryValue::Scalar { v, .. } => Ok(vec![ResultSample {
            labels: LabelMap::new(),
            value: v,
        }]),
        _ => Err("rule result is not a vector or scalar".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::alerting::Verbatim;
    use crate::rulefmt::RuleGroups;

    /// Answers `vector(N)` with N, fails anything else; records what is appended.
    #[derive(Default)]
    struct Fake {
        appended: Mutex<Vec<OutputSample>>,
    }

    #[async_trait]
    impl RuleBackend for Fake {
        async fn query(&self, expr: &str, _t: i64) -> Result<Vec<ResultSample>, String> {
            if expr == "empty" {
                return Ok(Vec::new());
            }
            let n = expr
                .strip_prefix("vector(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|n| n.parse::<f64>().ok())
                .ok_or_else(|| format!("cannot evaluate {expr}"))?;
            Ok(vec![ResultSample {
                labels: LabelMap::new(),
                value: n,
            }])
        }

        async fn append(&self, samples: Vec<OutputSample>) -> Result<(), String> {
            self.appended.lock().unwrap().extend(samples);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failing_rule_leaves_the_others_running_and_stale_markers_follow() {
        let file = RuleGroups::parse(
            "groups:\n  - name: g\n    labels: {team: a}\n    rules:\n      - record: one\n        expr: vector(1)\n      - record: broken\n        expr: up\n      - alert: Two\n        expr: vector(2)\n        labels: {team: b}\n",
        )
        .unwrap();
        let mut g = GroupState::new(&file.groups[0], "f.yml", 60_000, 5_000);
        let backend = Fake::default();
        g.eval(60_000, &backend, &Verbatim).await;
        assert_eq!(g.rules[0].health(), "ok");
        assert_eq!(g.rules[1].health(), "err");
        assert_eq!(g.rules[1].last_error.as_deref(), Some("cannot evaluate up"));
        assert_eq!(g.rules[2].health(), "ok");
        let appended = backend.appended.lock().unwrap().clone();
        let one = &appended[0];
        assert_eq!(one.labels["__name__"], "one");
        assert_eq!(one.labels["team"], "a", "group labels");
        assert_eq!(one.t, 55_000, "written at the query time");
        let alerts: Vec<&OutputSample> = appended
            .iter()
            .filter(|s| s.labels["__name__"] == "ALERTS")
            .collect();
        assert_eq!(
            alerts[0].labels["team"], "b",
            "the rule's label wins over the group's"
        );
        // A failing evaluation writes no stale markers (Prometheus keeps the series)…
        if let Rule::Recording(r) = &mut g.rules[0].rule {
            r.expr = "missing".into();
        }
        backend.appended.lock().unwrap().clear();
        g.eval(120_000, &backend, &Verbatim).await;
        assert_eq!(g.rules[0].health(), "err");
        assert!(
            backend
                .appended
                .lock()
                .unwrap()
                .iter()
                .all(|s| s.labels["__name__"] != "one"),
            "no stale marker after a failure"
        );
        // …a successful one without the series ends it with a stale marker.
        if let Rule::Recording(r) = &mut g.rules[0].rule {
            r.expr = "empty".into();
        }
        g.eval(180_000, &backend, &Verbatim).await;
        let appended = backend.appended.lock().unwrap().clone();
        let stale: Vec<&OutputSample> = appended
            .iter()
            .filter(|s| s.labels["__name__"] == "one")
            .collect();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].value.to_bits(), strata_storage::STALE_NAN_BITS);
        assert_eq!(stale[0].t, 175_000);
    }
}
