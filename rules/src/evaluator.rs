//! The rule evaluator: every group of the configured rule files (or this shard's share of
//! them) evaluated on its own schedule against the store, outputs written through the write
//! buffer, alerts sent to Alertmanager.
//!
//! Data flow per group: wait for the group's next evaluation time ([`crate::group`]) → take a
//! manifest snapshot → [`GroupState::eval`] with a backend that queries the engine over the
//! snapshot plus this evaluation's own outputs (an [`Overlay`], so later rules see earlier
//! ones at once) and appends outputs to the [`WriteBuffer`] (committed at its next flush) →
//! after the first evaluation, restore each alert's `for` state from the stored
//! `ALERTS_FOR_STATE` series, as Prometheus does → hand the alerts to send to the
//! [`Notifier`]. A failing rule or group never stops the others.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use strata_ingest::buffer::{SampleBatch, WriteBuffer};
use strata_ingest::series_key::SeriesKey;
use strata_query::{
    EngineOptions, MatchOp, Matcher, Overlay, ReadOptions, SelectedSeries, Selection,
};
use strata_storage::clock::SharedClock;
use strata_storage::{Labels, Manifest, Snapshot, Store};

use crate::alerting::{
    ALERT_NAME_LABEL, ALERTS_FOR_STATE_METRIC, FOR_GRACE_PERIOD_MS, LabelMap, OUTAGE_TOLERANCE_MS,
    OutputSample, ResultSample,
};
use crate::config::{ConfigError, RulesConfig};
use crate::eval::{GroupState, Rule, RuleBackend, TemplateExpander, query_samples};
use crate::group::{eval_timestamp, group_hash};
use crate::notifier::Notifier;

/// Settings of an evaluator.
#[derive(Debug, Clone)]
pub struct EvaluatorOptions {
    /// The engine's settings for rule queries.
    pub engine: EngineOptions,
    /// Resend firing alerts this often (Prometheus' `--rules.alert.resend-delay`, 1m).
    pub resend_delay_ms: i64,
    /// This evaluator's shard `(index, count)` of the groups.
    pub shard: (u64, u64),
    /// The URL alerts link back to (`generatorURL`, `$externalURL`).
    pub external_url: String,
    /// Rules with a shorter `for` are not restored (`--rules.alert.for-grace-period`, 10m).
    pub for_grace_period_ms: i64,
    /// How far back a restore looks (`--rules.alert.for-outage-tolerance`, 1h).
    pub outage_tolerance_ms: i64,
    /// How often the groups' state is written to the bucket for the API of any process.
    pub state_interval: std::time::Duration,
}

impl Default for EvaluatorOptions {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            resend_delay_ms: 60_000,
            shard: (0, 1),
            external_url: String::new(),
            for_grace_period_ms: FOR_GRACE_PERIOD_MS,
            outage_tolerance_ms: OUTAGE_TOLERANCE_MS,
            state_interval: std::time::Duration::from_secs(10),
        }
    }
}

/// Groups being evaluated, readable by the API (`/api/v1/rules`, `/api/v1/alerts`).
pub type SharedGroups = Arc<RwLock<Vec<GroupState>>>;

/// An evaluator of the rule files of one configuration.
#[derive(Debug)]
pub struct Evaluator {
    /// Wakes `run` to restart the groups with `pending`.
    reloaded: tokio::sync::Notify,
    pending: Mutex<Option<Vec<GroupState>>>,
    store: Store,
    /// The store's manifest, its snapshot kept in memory and caught up per evaluation.
    manifest: Manifest,
    writer: Arc<WriteBuffer>,
    notifier: Arc<Notifier>,
    options: EvaluatorOptions,
    /// `global.external_labels`, for templates (`$externalLabels`); replaced on reload.
    external_labels: RwLock<BTreeMap<String, String>>,
    groups: SharedGroups,
    clock: SharedClock,
}

impl Evaluator {
    /// Loads the configuration's rule files (relative to `base`) and keeps this shard's
    /// groups.
    pub fn new(
        store: Store,
        writer: Arc<WriteBuffer>,
        config: &RulesConfig,
        base: &Path,
        options: EvaluatorOptions,
    ) -> Result<Self, ConfigError> {
        let groups = load_groups(config, base, options.shard)?;
        let clock = options.engine.clock.clone();
        Ok(Self {
            manifest: Manifest::new(store.clone(), "rules"),
            store,
            writer,
            notifier: Notifier::new(config)?,
            options,
            external_labels: RwLock::new(config.global.external_labels.clone()),
            groups: Arc::new(RwLock::new(groups)),
            clock,
            reloaded: tokio::sync::Notify::new(),
            pending: Mutex::new(None),
        })
    }

    /// Re-reads the rule files of `config` (relative to `base`): unchanged rules keep their
    /// state (alerts, `for` timers, health), as Prometheus' `Group.CopyState`; the groups
    /// restart on their schedules. The `alerting` section and external labels are applied
    /// too. An invalid file or section refuses the whole reload: the old rules stay.
    pub fn reload(&self, config: &RulesConfig, base: &Path) -> Result<(), ConfigError> {
        let mut groups = load_groups(config, base, self.options.shard)?;
        self.notifier.apply(config)?;
        if let Ok(mut labels) = self.external_labels.write() {
            labels.clone_from(&config.global.external_labels);
        }
        let old = self.groups.read().map(|g| g.clone()).unwrap_or_default();
        for g in &mut groups {
            if let Some(prev) = old.iter().find(|o| o.file == g.file && o.name == g.name) {
                copy_state(prev, g);
            }
        }
        if let Ok(mut pending) = self.pending.lock() {
            *pending = Some(groups);
        }
        self.reloaded.notify_one();
        Ok(())
    }

    /// The groups' state, shared with the API.
    pub fn groups(&self) -> SharedGroups {
        self.groups.clone()
    }

    /// The notifier (its metrics).
    pub fn notifier(&self) -> Arc<Notifier> {
        self.notifier.clone()
    }

    /// Evaluates every group on its schedule until `stop` is set; a [`Self::reload`]
    /// restarts the groups with the new rules.
    pub async fn run(self: Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) {
        let me = self.clone();
        let mut global = stop.clone();
        let groups_task = tokio::spawn(async move {
            loop {
                let (epoch_tx, epoch_rx) = tokio::sync::watch::channel(false);
                let count = me.groups.read().map(|g| g.len()).unwrap_or(0);
                let mut tasks = Vec::new();
                for i in 0..count {
                    let me = me.clone();
                    let (mut a, mut b) = (global.clone(), epoch_rx.clone());
                    let (either_tx, either_rx) = tokio::sync::watch::channel(false);
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = a.wait_for(|s| *s) => {}
                            _ = b.wait_for(|s| *s) => {}
                        }
                        let _ = either_tx.send(true);
                    });
                    tasks.push(tokio::spawn(
                        async move { me.run_group(i, either_rx).await },
                    ));
                }
                let stopping = tokio::select! {
                    _ = global.wait_for(|s| *s) => true,
                    _ = me.reloaded.notified() => false,
                };
                let _ = epoch_tx.send(true);
                for t in tasks {
                    let _ = t.await;
                }
                if stopping {
                    return;
                }
                let pending = me.pending.lock().ok().and_then(|mut p| p.take());
                if let (Some(groups), Ok(mut shared)) = (pending, me.groups.write()) {
                    *shared = groups;
                }
                tracing::info!("rules reloaded");
            }
        });
        let tasks = vec![groups_task];
        let notifier = self.notifier.clone();
        let mut notifier_stop = stop.clone();
        let notifier_task = tokio::spawn(notifier.run(async move {
            let _ = notifier_stop.wait_for(|s| *s).await;
        }));
        let me = self.clone();
        let mut state_stop = stop.clone();
        let state_task = tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = tokio::time::sleep(me.options.state_interval) => false,
                    _ = state_stop.wait_for(|s| *s) => true,
                };
                if stopping {
                    break;
                }
                me.write_state().await;
            }
        });
        for t in tasks {
            let _ = t.await;
        }
        let _ = state_task.await;
        // The last state, as the evaluator stops.
        self.write_state().await;
        let _ = notifier_task.await;
    }

    /// Writes the groups' state object (`rules/state/<shards>-<shard>.json`).
    async fn write_state(&self) {
        let groups = self.groups.read().map(|g| g.clone()).unwrap_or_default();
        let (shard, shards) = (self.options.shard.0, self.options.shard.1.max(1));
        let file = crate::state::StateFile::new(&groups, shard, shards, self.clock.now_ms());
        if let Err(e) = crate::state::write(&self.store, &file).await {
            tracing::warn!(error = %e, "cannot write the rule state");
        }
    }

    async fn run_group(&self, index: usize, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(mut group) = self.groups.read().ok().and_then(|g| g.get(index).cloned()) else {
            return;
        };
        let hash = group_hash(&group.name, &group.file);
        let interval = group.interval.max(1);
        let mut last = i64::MIN;
        let mut first = true;
        loop {
            let now = self.clock.now_ms();
            let mut ts = eval_timestamp(hash, interval, now);
            if ts <= last || first {
                // The first evaluation waits for the group's next slot, as in Prometheus.
                ts += interval;
            }
            let wait = u64::try_from(ts - now).unwrap_or(0);
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            self.eval_once(&mut group, ts, first).await;
            first = false;
            last = ts;
            if let Ok(mut shared) = self.groups.write()
                && let Some(slot) = shared.get_mut(index)
            {
                *slot = group.clone();
            }
        }
    }

    /// One evaluation of `group` at `ts`: rules, then (the first time) the restore, then
    /// notifications.
    pub async fn eval_once(&self, group: &mut GroupState, ts: i64, first: bool) {
        // One snapshot per evaluation: the rules see the store as of its start, plus the
        // outputs of the rules before them.
        let snapshot = match self.manifest.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(group = %group.name, error = %e, "cannot read the manifest: evaluation skipped");
                for r in &mut group.rules {
                    r.last_error = Some(format!("cannot read the manifest: {e}"));
                }
                return;
            }
        };
        let backend = StoreBackend {
            snapshot: snapshot.clone(),
            store: self.store.clone(),
            writer: self.writer.clone(),
            options: self.options.engine.clone(),
            outputs: Mutex::default(),
        };
        let external_labels = self
            .external_labels
            .read()
            .map(|l| l.clone())
            .unwrap_or_default();
        let expander = TemplateExpander {
            backend: &backend,
            external_labels: &external_labels,
            external_url: &self.options.external_url,
        };
        group.eval(ts, &backend, &expander).await;
        if first {
            self.restore(group, ts, &snapshot).await;
        }
        let mut alerts = Vec::new();
        for r in &mut group.rules {
            if let Rule::Alerting(a) = &mut r.rule {
                let url = format!(
                    "{}/graph?g0.expr={}&g0.tab=1",
                    self.options.external_url.trim_end_matches('/'),
                    query_escape(&a.expr)
                );
                alerts.extend(a.to_send(ts, self.options.resend_delay_ms, group.interval, &url));
            }
        }
        self.notifier.send(alerts);
    }

    /// Prometheus' `RestoreForState`: the newest `ALERTS_FOR_STATE` sample of each alert
    /// within the outage tolerance gives back its activation time.
    async fn restore(&self, group: &mut GroupState, ts: i64, snapshot: &Snapshot) {
        for r in &mut group.rules {
            let Rule::Alerting(rule) = &mut r.rule else {
                continue;
            };
            // Rules carried over by a reload keep their state as it is.
            if rule.restored {
                continue;
            }
            let grace = self.options.for_grace_period_ms;
            if rule.hold < grace {
                rule.restored = true;
                continue;
            }
            let matchers = [
                Matcher::new(
                    MatchOp::Equal,
                    strata_storage::METRIC_NAME,
                    ALERTS_FOR_STATE_METRIC,
                ),
                Matcher::new(MatchOp::Equal, ALERT_NAME_LABEL, rule.name.as_str()),
            ];
            let Ok(matchers) = matchers.into_iter().collect::<Result<Vec<_>, _>>() else {
                rule.restored = true;
                continue;
            };
            let selection = Selection {
                matchers,
                start: ts - self.options.outage_tolerance_ms,
                end: ts,
                max_samples: self.options.engine.max_samples,
                read: ReadOptions {
                    now_ms: self.clock.now_ms(),
                    replica_labels: Vec::new(),
                },
                instant: None,
            };
            let found = strata_query::select_series(&self.store, snapshot, &selection)
                .await
                .unwrap_or_default();
            let last: BTreeMap<LabelMap, (i64, f64)> = found
                .into_iter()
                .filter_map(|s| {
                    let (&t, &v) = (s.timestamps.last()?, s.values.last()?);
                    let labels: LabelMap = s
                        .labels
                        .iter()
                        .filter(|l| l.name != strata_storage::METRIC_NAME)
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    Some((labels, (t, v)))
                })
                .collect();
            rule.restore(ts, grace, &|labels| last.get(labels).copied());
        }
    }
}

/// The groups of `config`'s rule files that fall to `shard`, their alerting rules waiting for
/// a restore.
fn load_groups(
    config: &RulesConfig,
    base: &Path,
    shard: (u64, u64),
) -> Result<Vec<GroupState>, ConfigError> {
    let interval = config.evaluation_interval();
    let offset = config.global.rule_query_offset.map_or(0, |d| d.0);
    let (index, count) = (shard.0, shard.1.max(1));
    let mut groups = Vec::new();
    for (file, rule_groups) in config.load_rule_files(base)? {
        let file = file.display().to_string();
        for g in &rule_groups.groups {
            if group_hash(&g.name, &file) % count != index {
                continue;
            }
            let mut state = GroupState::new(g, &file, interval, offset);
            for r in &mut state.rules {
                if let Rule::Alerting(a) = &mut r.rule {
                    a.restored = false;
                }
            }
            groups.push(state);
        }
    }
    Ok(groups)
}

/// Prometheus' `Group.CopyState`: each rule of `new` that `old` has unchanged (same kind,
/// name, query, labels, annotations, `for` and `keep_firing_for`) takes its state.
fn copy_state(old: &GroupState, new: &mut GroupState) {
    for r in &mut new.rules {
        let same = old.rules.iter().find(|o| match (&o.rule, &r.rule) {
            (Rule::Recording(a), Rule::Recording(b)) => {
                a.name == b.name && a.expr == b.expr && a.labels == b.labels
            }
            (Rule::Alerting(a), Rule::Alerting(b)) => {
                a.name == b.name
                    && a.expr == b.expr
                    && a.labels == b.labels
                    && a.annotations == b.annotations
                    && a.hold == b.hold
                    && a.keep_firing_for == b.keep_firing_for
            }
            _ => false,
        });
        if let Some(o) = same {
            *r = o.clone();
        }
    }
    new.last_eval = old.last_eval;
    new.eval_seconds = old.eval_seconds;
}

/// Queries over the store plus this evaluation's outputs; outputs go to the write buffer.
struct StoreBackend {
    snapshot: Arc<Snapshot>,
    store: Store,
    writer: Arc<WriteBuffer>,
    options: EngineOptions,
    outputs: Mutex<Vec<SelectedSeries>>,
}

#[async_trait]
impl RuleBackend for StoreBackend {
    async fn query(&self, expr: &str, t: i64) -> Result<Vec<ResultSample>, String> {
        let overlay = self.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        let overlay = Overlay(Arc::new(overlay));
        query_samples(
            &self.store,
            &self.options,
            self.snapshot.clone(),
            overlay,
            expr,
            t,
        )
        .await
    }

    async fn append(&self, samples: Vec<OutputSample>) -> Result<(), String> {
        let mut batch = SampleBatch::default();
        let mut overlay = Vec::with_capacity(samples.len());
        for s in samples {
            let labels = Labels::from_pairs(s.labels).map_err(|e| e.to_string())?;
            batch.push(SeriesKey::from_labels(&labels), s.t, s.value);
            overlay.push(SelectedSeries {
                labels,
                timestamps: vec![s.t],
                values: vec![s.value],
                start_timestamps: Vec::new(),
            });
        }
        self.writer
            .append_samples(&batch)
            .map_err(|e| e.to_string())?;
        if let Ok(mut o) = self.outputs.lock() {
            o.extend(overlay);
            o.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        Ok(())
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
