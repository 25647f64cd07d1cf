//! The alerting rule's state machine, as Prometheus' `rules/alerting.go` runs it.
//!
//! Each evaluation takes the rule expression's result at the evaluation time: every sample is
//! an alert whose labels are the sample's (without `__name__`), the rule's labels expanded as
//! templates, and `alertname`. A new alert is *pending*; it *fires* once it has been active for
//! `for` (at once when `for` is 0); an alert missing from the result becomes *inactive*
//! (resolved) unless `keep_firing_for` holds it, and a resolved alert is kept (and sent) for
//! 15 minutes so Alertmanager sees its resolution. Each evaluation also yields the `ALERTS`
//! and `ALERTS_FOR_STATE` samples of the active alerts, and says which alerts to send:
//! firing and resolved ones, when first fired or resolved and then every resend delay, with
//! `endsAt` as Prometheus sets it.
//!
//! Everything here is pure (times are arguments, templates an [`Expander`]): the evaluator
//! owns the clock, the queries and the notifier.

use std::collections::BTreeMap;

/// Label sets of alerts (sorted by name).
pub type LabelMap = BTreeMap<String, String>;

/// How long a resolved alert is kept and re-sent (Prometheus' `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The label naming the alert.
pub const ALERT_NAME_LABEL: &str = "alertname";
/// The label of `ALERTS` giving the state.
pub const ALERT_STATE_LABEL: &str = "alertstate";
/// The series of active alerts (1 per pending or firing alert).
pub const ALERTS_METRIC: &str = "ALERTS";
/// The series holding each active alert's activation time (unix seconds), for restores.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    /// Prometheus' name of the state (`ALERTS{alertstate}`, the rules API).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule. Times are unix milliseconds; 0 is unset (Go's zero time).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub state: AlertState,
    pub labels: LabelMap,
    pub annotations: LabelMap,
    /// The expression's value at the last evaluation that returned the alert.
    pub value: f64,
    pub active_at: i64,
    pub fired_at: i64,
    pub resolved_at: i64,
    pub last_sent_at: i64,
    pub valid_until: i64,
    pub keep_firing_since: i64,
}

/// One sample of the rule's result: labels (with `__name__` if any) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSample {
    pub labels: LabelMap,
    pub value: f64,
}

/// An output sample (`ALERTS`, `ALERTS_FOR_STATE`), written at the evaluation's query time.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSample {
    pub labels: LabelMap,
    pub t: i64,
    pub value: f64,
}

/// An alert as sent to Alertmanager (API v2).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub labels: LabelMap,
    pub annotations: LabelMap,
    pub starts_at: i64,
    pub ends_at: i64,
    pub generator_url: String,
}

/// Expands a label or annotation template of one alert: Prometheus' template expander with
/// `$labels` (the sample's labels), `$value`, and the evaluation time (`query` runs then).
pub trait Expander: Sync {
    fn expand(&self, rule: &str, text: &str, labels: &LabelMap, value: f64, ts: i64) -> String;
}

/// Leaves templates as written (tests of what surrounds expansion).
#[cfg(test)]
pub(crate) struct Verbatim;

#[cfg(test)]
impl Expander for Verbatim {
    fn expand(&self, _: &str, text: &str, _: &LabelMap, _: f64, _: i64) -> String {
        text.to_string()
    }
}

/// Why an evaluation failed; the rule keeps its previous alerts unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertingError {
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateLabelset,
    /// More active alerts than the group's `limit`: all alerts are dropped.
    #[error("exceeded limit of {limit} with {count} alerts")]
    Limit { limit: usize, count: usize },
}

/// An alerting rule and its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub name: String,
    pub expr: String,
    /// `for`, ms.
    pub hold: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for: i64,
    pub labels: LabelMap,
    pub annotations: LabelMap,
    /// Active alerts (pending, firing, and resolved ones within their retention), by labels.
    pub active: BTreeMap<LabelMap, Alert>,
    /// `ALERTS` samples are written only once the state was restored (or there was none).
    pub restored: bool,
}

impl AlertingRule {
    pub fn new(
        name: impl Into<String>,
        expr: impl Into<String>,
        hold: i64,
        keep_firing_for: i64,
        labels: LabelMap,
        annotations: LabelMap,
    ) -> Self {
        Self {
            name: name.into(),
            expr: expr.into(),
            hold,
            keep_firing_for,
            labels,
            annotations,
            active: BTreeMap::new(),
            restored: true,
        }
    }

    /// The rule's state: the most severe of its alerts' (inactive without alerts).
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// One evaluation at `ts` of the expression's `result` (queried at `ts − query_offset`):
    /// updates the alerts and returns the `ALERTS` and `ALERTS_FOR_STATE` samples, stamped
    /// at the query time. `limit` (0: none) caps the active alerts.
    pub fn eval(
        &mut self,
        result: &[ResultSample],
        ts: i64,
        query_offset: i64,
        limit: usize,
        expander: &dyn Expander,
    ) -> Result<Vec<OutputSample>, AlertingError> {
        let mut current: BTreeMap<LabelMap, Alert> = BTreeMap::new();
        for sample in result {
            let expand =
                |text: &str| expander.expand(&self.name, text, &sample.labels, sample.value, ts);
            let mut labels: LabelMap = sample
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != strata_storage::METRIC_NAME)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, v) in &self.labels {
                labels.insert(k.clone(), expand(v));
            }
            labels.insert(ALERT_NAME_LABEL.to_string(), self.name.clone());
            let annotations: LabelMap = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand(v)))
                .collect();
            if current.contains_key(&labels) {
                return Err(AlertingError::DuplicateLabelset);
            }
            current.insert(
                labels.clone(),
                Alert {
                    state: AlertState::Pending,
                    labels,
                    annotations,
                    value: sample.value,
                    active_at: ts,
                    fired_at: 0,
                    resolved_at: 0,
                    last_sent_at: 0,
                    valid_until: 0,
                    keep_firing_since: 0,
                },
            );
        }
        let returned: Vec<LabelMap> = current.keys().cloned().collect();
        for (labels, alert) in current {
            match self.active.get_mut(&labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = alert.value;
                    existing.annotations = alert.annotations;
                }
                _ => {
                    self.active.insert(labels, alert);
                }
            }
        }
        let at = ts - query_offset;
        let mut out = Vec::new();
        let mut active_pending = 0usize;
        let mut gone = Vec::new();
        for (labels, a) in &mut self.active {
            if returned.binary_search(labels).is_err() {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for > 0 {
                    if a.keep_firing_since == 0 {
                        a.keep_firing_since = ts;
                    }
                    keep_firing = ts - a.keep_firing_since < self.keep_firing_for;
                }
                // Pending alerts go at once; resolved ones after their retention.
                if a.state == AlertState::Pending
                    || (a.resolved_at != 0 && ts - a.resolved_at > RESOLVED_RETENTION_MS)
                {
                    gone.push(labels.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = ts;
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = 0;
            }
            active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.hold {
                a.state = AlertState::Firing;
                a.fired_at = ts;
            }
            if self.restored {
                out.push(self_sample(&self.name, a, at));
                out.push(for_state_sample(&self.name, a, at));
            }
        }
        for labels in gone {
            self.active.remove(&labels);
        }
        if limit > 0 && active_pending > limit {
            self.active.clear();
            return Err(AlertingError::Limit {
                limit,
                count: active_pending,
            });
        }
        Ok(out)
    }

    /// The alerts to send after an evaluation at `ts`: firing and resolved alerts not sent
    /// since they last changed, or not within `resend_delay`. Marks them sent; `endsAt` is the
    /// resolution time, or `ts + 4 × max(interval, resend_delay)` while firing.
    pub fn to_send(
        &mut self,
        ts: i64,
        resend_delay: i64,
        interval: i64,
        generator_url: &str,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            let needs = a.state != AlertState::Pending
                && (a.resolved_at > a.last_sent_at || a.last_sent_at + resend_delay < ts);
            if !needs {
                continue;
            }
            a.last_sent_at = ts;
            a.valid_until = ts + 4 * interval.max(resend_delay);
            out.push(Notification {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.fired_at,
                ends_at: if a.resolved_at != 0 {
                    a.resolved_at
                } else {
                    a.valid_until
                },
                generator_url: generator_url.to_string(),
            });
        }
        out
    }
}

/// How long a rule must have been pending before restoring its alerts' `for` state is worth it
/// (Prometheus' `--rules.alert.for-grace-period`, 10m).
pub const FOR_GRACE_PERIOD_MS: i64 = 10 * 60 * 1000;

/// How far back restores look for `ALERTS_FOR_STATE` (`--rules.alert.for-outage-tolerance`).
pub const OUTAGE_TOLERANCE_MS: i64 = 60 * 60 * 1000;

impl AlertingRule {
    /// Prometheus' `RestoreForState` for this rule, after its first evaluation at `ts`: each
    /// pending or firing alert takes back its activation time from the newest
    /// `ALERTS_FOR_STATE` sample of its labels (`last(labels)` = that sample's time and value,
    /// read over `[ts − outage tolerance, ts]`), shifted by the downtime so `for` keeps
    /// counting where it stopped; an alert about to fire gets at least `grace` before it
    /// does. Rules whose `for` is below the grace period are not restored. Afterwards the rule
    /// writes its `ALERTS` series again.
    pub fn restore(&mut self, ts: i64, grace: i64, last: &dyn Fn(&LabelMap) -> Option<(i64, f64)>) {
        if self.hold >= grace {
            for a in self.active.values_mut() {
                let Some((down_at, value)) = last(&a.labels) else {
                    continue;
                };
                if value.to_bits() == strata_storage::STALE_NAN_BITS || !value.is_finite() {
                    continue;
                }
                // Prometheus works in whole seconds here.
                let down_at = down_at.div_euclid(1000) * 1000;
                let mut active_at = (value as i64).saturating_mul(1000);
                let remaining = self.hold - (down_at - active_at);
                if remaining <= 0 {
                    // It was firing: the next evaluation fires it again if still true.
                } else if remaining < grace {
                    active_at = ts + grace - self.hold;
                } else {
                    active_at += ts - down_at;
                }
                a.active_at = active_at;
            }
        }
        self.restored = true;
    }
}

/// `ALERTS{alertname, alertstate, …} 1`.
fn self_sample(name: &str, a: &Alert, t: i64) -> OutputSample {
    let mut labels = a.labels.clone();
    labels.insert(
        strata_storage::METRIC_NAME.to_string(),
        ALERTS_METRIC.to_string(),
    );
    labels.insert(ALERT_NAME_LABEL.to_string(), name.to_string());
    labels.insert(ALERT_STATE_LABEL.to_string(), a.state.as_str().to_string());
    OutputSample {
        labels,
        t,
        value: 1.0,
    }
}

/// `ALERTS_FOR_STATE{alertname, …}` = the activation time in unix seconds.
fn for_state_sample(name: &str, a: &Alert, t: i64) -> OutputSample {
    let mut labels = a.labels.clone();
    labels.insert(
        strata_storage::METRIC_NAME.to_string(),
        ALERTS_FOR_STATE_METRIC.to_string(),
    );
    labels.insert(ALERT_NAME_LABEL.to_string(), name.to_string());
    OutputSample {
        labels,
        t,
        value: (a.active_at.div_euclid(1000)) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `{{ $value }}` and `{{ $labels.x }}` only (the real expander is `template`).
    struct Simple;

    impl Expander for Simple {
        fn expand(&self, _: &str, text: &str, labels: &LabelMap, value: f64, _: i64) -> String {
            let mut out = text.replace("{{ $value }}", &value.to_string());
            for (k, v) in labels {
                out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v);
            }
            out
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn up(instance: &str, value: f64) -> ResultSample {
        ResultSample {
            labels: labels(&[("__name__", "up"), ("instance", instance)]),
            value,
        }
    }

    fn rule(hold: i64, keep: i64) -> AlertingRule {
        AlertingRule::new(
            "Down",
            "up == 0",
            hold,
            keep,
            labels(&[("severity", "page"), ("who", "{{ $labels.instance }}")]),
            labels(&[("summary", "value {{ $value }}")]),
        )
    }

    const M: i64 = 60_000;

    #[test]
    fn pending_then_firing_then_resolved_then_forgotten() {
        let mut r = rule(2 * M, 0);
        let out = r.eval(&[up("a", 0.0)], 0, 0, 0, &Simple).unwrap();
        let alert = r.active.values().next().unwrap();
        assert_eq!(alert.state, AlertState::Pending);
        assert_eq!(
            alert.labels,
            labels(&[
                ("alertname", "Down"),
                ("instance", "a"),
                ("severity", "page"),
                ("who", "a")
            ])
        );
        assert_eq!(alert.annotations["summary"], "value 0");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].labels["__name__"], "ALERTS");
        assert_eq!(out[0].labels["alertstate"], "pending");
        assert_eq!(out[1].labels["__name__"], "ALERTS_FOR_STATE");
        assert_eq!(out[1].value, 0.0);
        assert!(
            r.to_send(0, M, M, "").is_empty(),
            "pending alerts are not sent"
        );

        r.eval(&[up("a", 0.0)], M, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Pending);
        let out = r.eval(&[up("a", 0.0)], 2 * M, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Firing);
        assert_eq!(out[0].labels["alertstate"], "firing");
        let sent = r.to_send(2 * M, M, M / 2, "http://x/graph");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].starts_at, 2 * M);
        assert_eq!(
            sent[0].ends_at,
            2 * M + 4 * M,
            "endsAt = ts + 4 × max(interval, resend)"
        );
        assert!(
            r.to_send(2 * M + 30_000, M, M / 2, "").is_empty(),
            "within the resend delay"
        );
        assert_eq!(
            r.to_send(3 * M + 1, M, M / 2, "").len(),
            1,
            "resent after it"
        );

        let out = r.eval(&[], 4 * M, 0, 0, &Simple).unwrap();
        assert!(out.is_empty(), "inactive alerts write no ALERTS");
        assert_eq!(r.state(), AlertState::Inactive);
        let sent = r.to_send(4 * M, M, M, "");
        assert_eq!(sent.len(), 1, "the resolution is sent at once");
        assert_eq!(sent[0].ends_at, 4 * M);
        // Kept (and re-sent) for 15 minutes, then forgotten.
        r.eval(&[], 4 * M + RESOLVED_RETENTION_MS, 0, 0, &Simple)
            .unwrap();
        assert_eq!(r.active.len(), 1);
        r.eval(&[], 5 * M + RESOLVED_RETENTION_MS, 0, 0, &Simple)
            .unwrap();
        assert!(r.active.is_empty());
    }

    #[test]
    fn zero_for_fires_at_once_and_pending_alerts_vanish() {
        let mut r = rule(0, 0);
        r.eval(&[up("a", 0.0)], 0, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Firing);
        let mut r = rule(M, 0);
        r.eval(&[up("a", 0.0)], 0, 0, 0, &Simple).unwrap();
        r.eval(&[], M / 2, 0, 0, &Simple).unwrap();
        assert!(
            r.active.is_empty(),
            "a pending alert that goes away is dropped"
        );
        r.eval(&[up("a", 0.0)], M, 0, 0, &Simple).unwrap();
        assert_eq!(
            r.active.values().next().unwrap().active_at,
            M,
            "a new activation"
        );
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert() {
        let mut r = rule(0, 2 * M);
        r.eval(&[up("a", 0.0)], 0, 0, 0, &Simple).unwrap();
        let out = r.eval(&[], M, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Firing);
        assert_eq!(out.len(), 2, "still written while kept firing");
        assert_eq!(r.active.values().next().unwrap().keep_firing_since, M);
        r.eval(&[], 2 * M, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Firing);
        r.eval(&[], 3 * M, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Inactive);
        assert_eq!(r.active.values().next().unwrap().resolved_at, 3 * M);
    }

    #[test]
    fn value_and_annotations_follow_the_latest_result() {
        let mut r = rule(0, 0);
        r.eval(&[up("a", 0.0)], 0, 0, 0, &Simple).unwrap();
        r.eval(&[up("a", 7.0)], M, 0, 0, &Simple).unwrap();
        let a = r.active.values().next().unwrap();
        assert_eq!((a.value, a.active_at), (7.0, 0));
        assert_eq!(a.annotations["summary"], "value 7");
    }

    #[test]
    fn duplicate_labelsets_and_limits_are_errors() {
        let mut r = AlertingRule::new("X", "e", 0, 0, LabelMap::new(), LabelMap::new());
        let twins = [
            ResultSample {
                labels: labels(&[("__name__", "a"), ("i", "1")]),
                value: 1.0,
            },
            ResultSample {
                labels: labels(&[("__name__", "b"), ("i", "1")]),
                value: 1.0,
            },
        ];
        assert_eq!(
            r.eval(&twins, 0, 0, 0, &Simple),
            Err(AlertingError::DuplicateLabelset)
        );
        let mut r = rule(0, 0);
        let err = r
            .eval(&[up("a", 0.0), up("b", 0.0)], 0, 0, 1, &Simple)
            .unwrap_err();
        assert_eq!(err.to_string(), "exceeded limit of 1 with 2 alerts");
        assert!(r.active.is_empty(), "all alerts dropped");
    }

    #[test]
    fn restores_keep_for_counting_across_a_restart() {
        let for_state = |r: &AlertingRule| r.active.values().next().unwrap().active_at;
        // Pending for 10 of its 30 minutes, down 5 minutes: activation shifted by the downtime.
        let mut r = rule(30 * M, 0);
        r.restored = false;
        r.eval(&[up("a", 0.0)], 100 * M, 0, 0, &Simple).unwrap();
        let last = |_: &LabelMap| Some((95 * M, (85 * M / 1000) as f64));
        r.restore(100 * M, FOR_GRACE_PERIOD_MS, &last);
        assert!(r.restored);
        assert_eq!(for_state(&r), 85 * M + 5 * M);
        // 25 of 30 minutes done: less than the grace period left, so it fires `grace` after ts.
        let mut r = rule(30 * M, 0);
        r.eval(&[up("a", 0.0)], 100 * M, 0, 0, &Simple).unwrap();
        r.restore(100 * M, FOR_GRACE_PERIOD_MS, &|_| {
            Some((95 * M, (70 * M / 1000) as f64))
        });
        assert_eq!(for_state(&r), 100 * M + FOR_GRACE_PERIOD_MS - 30 * M);
        // Already firing when it went down: its old activation, so it fires at once.
        let mut r = rule(30 * M, 0);
        r.eval(&[up("a", 0.0)], 100 * M, 0, 0, &Simple).unwrap();
        r.restore(100 * M, FOR_GRACE_PERIOD_MS, &|_| Some((95 * M, 600.0)));
        assert_eq!(for_state(&r), 10 * M);
        r.eval(&[up("a", 0.0)], 101 * M, 0, 0, &Simple).unwrap();
        assert_eq!(r.state(), AlertState::Firing);
        // A stale marker or no sample: nothing to restore; short `for`s are not restored.
        let stale = f64::from_bits(strata_storage::STALE_NAN_BITS);
        let mut r = rule(30 * M, 0);
        r.eval(&[up("a", 0.0)], 100 * M, 0, 0, &Simple).unwrap();
        r.restore(100 * M, FOR_GRACE_PERIOD_MS, &|_| Some((95 * M, stale)));
        assert_eq!(for_state(&r), 100 * M);
        r.restore(100 * M, FOR_GRACE_PERIOD_MS, &|_| None);
        assert_eq!(for_state(&r), 100 * M);
        let mut r = rule(5 * M, 0);
        r.eval(&[up("a", 0.0)], 100 * M, 0, 0, &Simple).unwrap();
        r.restore(100 * M, FOR_GRACE_PERIOD_MS, &|_| Some((95 * M, 0.0)));
        assert_eq!(for_state(&r), 100 * M);
    }

    #[test]
    fn samples_are_stamped_at_the_query_time_and_wait_for_restore() {
        let mut r = rule(0, 0);
        let out = r.eval(&[up("a", 0.0)], 10 * M, M, 0, &Simple).unwrap();
        assert!(out.iter().all(|s| s.t == 9 * M));
        assert_eq!(out[1].value, 600.0, "activation in unix seconds");
        r.restored = false;
        assert!(
            r.eval(&[up("a", 0.0)], 11 * M, 0, 0, &Simple)
                .unwrap()
                .is_empty()
        );
    }
}
