//! The compaction pass: make the retention policy known to readers, plan, then run the due
//! jobs one by one — claim, execute, commit (adding the outputs and removing the inputs in one
//! transaction), release the claim — until the plan is done or the deadline nears. A job that
//! fails never stops the others: a block whose data cannot be read is quarantined at once with
//! the reason; a job that fails `max_attempts` times (counted by its claims, across processes)
//! has its inputs quarantined. Garbage collection ends the pass.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use strata_storage::clock::SharedClock;
use strata_storage::{Manifest, Quarantine, Snapshot, StorageError, Transaction};

use crate::claims::{self, Claimed};
use crate::config::CompactorConfig;
use crate::error::{CompactorError, JobError};
use crate::gc::{GcOptions, GcReport, collect_garbage_at};
use crate::merge;
use crate::planner::{Job, JobKind, plan};

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Jobs committed.
    pub jobs: usize,
    /// Jobs that failed (retried by a later pass, or quarantined).
    pub failed: usize,
    /// Jobs left to another compactor holding their claim.
    pub busy: usize,
    /// Jobs not started because the deadline came.
    pub deferred: usize,
    /// Blocks read by merges.
    pub inputs: usize,
    /// Blocks written.
    pub outputs: usize,
    /// Blocks removed by retention.
    pub expired: usize,
    /// Blocks quarantined in this pass.
    pub quarantined: usize,
    /// Samples read and written by merges.
    pub samples_in: u64,
    pub samples_out: u64,
    /// Bytes read and written by merges.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Garbage collection at the end of the pass.
    pub gc: GcReport,
}

impl CompactReport {
    /// Adds another pass's counts (garbage collection: the latest pass's report).
    pub fn absorb(&mut self, other: CompactReport) {
        self.jobs += other.jobs;
        self.failed += other.failed;
        self.busy += other.busy;
        self.deferred = other.deferred;
        self.inputs += other.inputs;
        self.outputs += other.outputs;
        self.expired += other.expired;
        self.quarantined += other.quarantined;
        self.samples_in += other.samples_in;
        self.samples_out += other.samples_out;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.gc = other.gc;
    }
}

/// Counters and gauges of a compactor, served on `/metrics` as `strata_compactor_*`.
#[derive(Debug, Default)]
pub struct CompactorStats {
    jobs: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    pending: Mutex<BTreeMap<&'static str, u64>>,
    samples_in: AtomicU64,
    samples_out: AtomicU64,
    bytes_out: AtomicU64,
    quarantined: AtomicU64,
    oldest_unmerged_end_ms: AtomicI64,
    last_pass_ms: AtomicI64,
    pass_seconds_ms: AtomicU64,
}

impl CompactorStats {
    fn job(&self, kind: JobKind, outcome: &'static str) {
        if let Ok(mut m) = self.jobs.lock() {
            *m.entry((kind.as_str(), outcome)).or_default() += 1;
        }
    }

    /// The metrics in Prometheus' text format (OpenMetrics-compatible, without `# EOF`).
    pub fn render(&self, now_ms: i64) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP strata_compactor_jobs Compaction jobs by kind and outcome.\n# TYPE strata_compactor_jobs counter"
        );
        if let Ok(m) = self.jobs.lock() {
            for ((kind, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "strata_compactor_jobs_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP strata_compactor_pending_jobs Jobs due at the last planning, by kind.\n# TYPE strata_compactor_pending_jobs gauge"
        );
        if let Ok(m) = self.pending.lock() {
            for (kind, n) in m.iter() {
                let _ = writeln!(out, "strata_compactor_pending_jobs{{kind=\"{kind}\"}} {n}");
            }
        }
        for (name, help, v) in [
            (
                "strata_compactor_samples_read",
                "Samples read by merges.",
                self.samples_in.load(Ordering::Relaxed),
            ),
            (
                "strata_compactor_samples_written",
                "Samples written by merges.",
                self.samples_out.load(Ordering::Relaxed),
            ),
            (
                "strata_compactor_bytes_written",
                "Bytes of blocks written by merges.",
                self.bytes_out.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}_total {v}"
            );
        }
        let oldest = self.oldest_unmerged_end_ms.load(Ordering::Relaxed);
        let lag = if oldest > 0 {
            (now_ms - oldest).max(0) as f64 / 1000.0
        } else {
            0.0
        };
        let last = self.last_pass_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let took = self.pass_seconds_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let quarantined = self.quarantined.load(Ordering::Relaxed);
        for (name, help, v) in [
            (
                "strata_compactor_oldest_unmerged_window_seconds",
                "Age of the end of the oldest closed window still waiting for its merge.",
                lag,
            ),
            (
                "strata_compactor_quarantined_blocks",
                "Blocks the compactor skips until released (strata compact --retry-quarantined).",
                quarantined as f64,
            ),
            (
                "strata_compactor_last_pass_timestamp_seconds",
                "When the last pass ended.",
                last,
            ),
            (
                "strata_compactor_last_pass_duration_seconds",
                "How long the last pass took.",
                took,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

/// A compactor over one store.
#[derive(Debug)]
pub struct Compactor {
    manifest: Manifest,
    config: CompactorConfig,
    gc: GcOptions,
    clock: SharedClock,
    owner: String,
    stats: std::sync::Arc<CompactorStats>,
}

impl Compactor {
    /// A compactor committing to `manifest` as `owner`.
    pub fn new(
        manifest: Manifest,
        config: CompactorConfig,
        gc: GcOptions,
        clock: SharedClock,
        owner: impl Into<String>,
    ) -> Self {
        Self {
            manifest,
            config,
            gc,
            clock,
            owner: owner.into(),
            stats: Default::default(),
        }
    }

    /// Its metrics.
    pub fn stats(&self) -> std::sync::Arc<CompactorStats> {
        self.stats.clone()
    }

    /// The jobs due now (what a pass would do).
    pub async fn plan(&self) -> Result<Vec<Job>, CompactorError> {
        let snapshot = self.manifest.snapshot().await?;
        Ok(plan(&snapshot, self.clock.now_ms(), &self.config).jobs)
    }

    /// Releases every quarantined block for another try.
    pub async fn release_quarantined(&self) -> Result<usize, CompactorError> {
        let snapshot = self.manifest.snapshot().await?;
        let ids: Vec<_> = snapshot.quarantined().map(|(id, _)| *id).collect();
        if !ids.is_empty() {
            self.manifest
                .commit(Transaction::empty().releasing(ids.clone()))
                .await?;
        }
        Ok(ids.len())
    }

    /// One pass: every due job, until `deadline` (jobs are not started past it, and a job
    /// still running at it stops before committing).
    pub async fn run_once(
        &self,
        deadline: Option<Instant>,
    ) -> Result<CompactReport, CompactorError> {
        self.pass(&self.config, |_, _| true, deadline).await
    }

    /// Passes until nothing is due (a merge can make another due: a rollup, then its
    /// window) or `deadline` comes, at most 16: what `strata compact --once` and the
    /// scheduled Lambda run.
    pub async fn run_due(
        &self,
        deadline: Option<Instant>,
    ) -> Result<CompactReport, CompactorError> {
        let mut total = CompactReport::default();
        for _ in 0..16 {
            let pass = self.run_once(deadline).await?;
            let progressed = pass.jobs > 0;
            total.absorb(pass);
            if !progressed || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        Ok(total)
    }

    /// Removes deleted samples physically now (Prometheus' `clean_tombstones`): runs every job
    /// that reads a block a deletion request covers (a rewrite, or the merge due for its
    /// window, which drops deleted samples too), whatever the request's age, then retires the
    /// requests no block needs any more. Other due jobs wait for the next pass. The report
    /// counts those jobs in `jobs`.
    pub async fn clean_tombstones(
        &self,
        deadline: Option<Instant>,
    ) -> Result<CompactReport, CompactorError> {
        let config = CompactorConfig {
            delete_rewrite_after_ms: 0,
            ..self.config.clone()
        };
        // Every job that reads a block with deleted samples writes it without them.
        let mut report = self
            .pass(
                &config,
                |snapshot, job| {
                    job.kind != JobKind::Retire
                        && job
                            .inputs
                            .iter()
                            .any(|b| !snapshot.deletes_for(b).is_empty())
                },
                deadline,
            )
            .await?;
        // Retiring needs the rewrites committed: plan again on the new snapshot.
        let retired = self
            .pass(&config, |_, job| job.kind == JobKind::Retire, deadline)
            .await?;
        report.failed += retired.failed;
        Ok(report)
    }

    async fn pass(
        &self,
        config: &CompactorConfig,
        wanted: impl Fn(&Snapshot, &Job) -> bool,
        deadline: Option<Instant>,
    ) -> Result<CompactReport, CompactorError> {
        let started = Instant::now();
        let store = self.manifest.store().clone();
        let mut report = CompactReport::default();
        let snapshot = self.manifest.snapshot().await?;
        if snapshot.retention() != self.config.retention {
            self.manifest
                .commit(Transaction::empty().with_retention(self.config.retention))
                .await?;
        }
        let now = self.clock.now_ms();
        let planned = plan(&snapshot, now, config);
        self.record_plan(&snapshot, &planned.jobs, planned.oldest_unmerged_window_end);
        for job in planned.jobs.into_iter().filter(|j| wanted(&snapshot, j)) {
            if deadline.is_some_and(|d| Instant::now() > d) {
                report.deferred += 1;
                continue;
            }
            match self.run_job(&job, deadline, &mut report).await {
                Ok(()) => {}
                Err(e) if self.lost_race(&job).await => {
                    // Another compactor replaced an input (and GC may have deleted its
                    // files) while we read it: not a failure, and no block is bad.
                    tracing::debug!(kind = job.kind.as_str(), "inputs replaced meanwhile: {e}");
                    report.busy += 1;
                    self.stats.job(job.kind, "conflict");
                    let _ = claims::release(&store, &job.key()).await;
                }
                Err(e) => {
                    report.failed += 1;
                    self.stats.job(job.kind, "failed");
                    tracing::warn!(
                        kind = job.kind.as_str(),
                        inputs = job.inputs.len(),
                        "compaction job failed: {e}"
                    );
                    if let Some(block) = e.bad_block() {
                        self.quarantine(vec![block], &e.to_string(), &mut report)
                            .await?;
                    }
                }
            }
        }
        let snapshot = self.manifest.snapshot().await?;
        self.stats
            .quarantined
            .store(snapshot.quarantined().count() as u64, Ordering::Relaxed);
        claims::collect(&store, self.clock.now_ms()).await?;
        report.gc = collect_garbage_at(&self.manifest, &self.gc, self.clock.now_ms()).await?;
        self.stats
            .last_pass_ms
            .store(self.clock.now_ms(), Ordering::Relaxed);
        self.stats
            .pass_seconds_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        Ok(report)
    }

    /// Whether some input of `job` is no longer live (a fresh snapshot says so).
    async fn lost_race(&self, job: &Job) -> bool {
        match self.manifest.snapshot().await {
            Ok(snapshot) => job.inputs.iter().any(|b| snapshot.block(&b.id).is_none()),
            Err(_) => false,
        }
    }

    fn record_plan(&self, _snapshot: &Snapshot, jobs: &[Job], oldest: Option<i64>) {
        if let Ok(mut m) = self.stats.pending.lock() {
            m.clear();
            for j in jobs {
                *m.entry(j.kind.as_str()).or_default() += 1;
            }
        }
        self.stats
            .oldest_unmerged_end_ms
            .store(oldest.unwrap_or(0), Ordering::Relaxed);
    }

    async fn quarantine(
        &self,
        blocks: Vec<strata_storage::BlockId>,
        reason: &str,
        report: &mut CompactReport,
    ) -> Result<(), CompactorError> {
        tracing::error!(?blocks, "quarantining: {reason}");
        let q = blocks
            .iter()
            .map(|b| Quarantine {
                block: *b,
                reason: reason.to_string(),
            })
            .collect();
        self.manifest
            .commit(Transaction::empty().quarantining(q))
            .await?;
        report.quarantined += blocks.len();
        Ok(())
    }

    async fn run_job(
        &self,
        job: &Job,
        deadline: Option<Instant>,
        report: &mut CompactReport,
    ) -> Result<(), JobError> {
        let store = self.manifest.store();
        match job.kind {
            JobKind::Retention => {
                let ids = job.inputs.iter().map(|b| b.id).collect();
                match self
                    .manifest
                    .commit(Transaction::empty().removing(ids))
                    .await
                {
                    Ok(_) => report.expired += job.inputs.len(),
                    // Another compactor removed some first: the next pass retries the rest.
                    Err(StorageError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                self.stats.job(job.kind, "ok");
                report.jobs += 1;
                return Ok(());
            }
            JobKind::Retire => {
                self.manifest
                    .commit(Transaction::empty().retiring_deletes(job.retire.clone()))
                    .await?;
                self.stats.job(job.kind, "ok");
                report.jobs += 1;
                return Ok(());
            }
            _ => {}
        }
        let key = job.key();
        let now = self.clock.now_ms();
        match claims::claim(
            store,
            &key,
            &self.owner,
            now,
            self.config.claim_ttl_ms,
            self.config.max_attempts,
        )
        .await
        .map_err(|e| match e {
            CompactorError::Storage(s) => JobError::Storage(s),
            other => JobError::Storage(StorageError::InvalidArgument(other.to_string())),
        })? {
            Claimed::Busy => {
                report.busy += 1;
                self.stats.job(job.kind, "busy");
                return Ok(());
            }
            Claimed::Exhausted { attempts } => {
                let ids = job.inputs.iter().map(|b| b.id).collect();
                let reason = format!("{} job failed {attempts} times", job.kind.as_str());
                self.quarantine(ids, &reason, report)
                    .await
                    .map_err(|e| JobError::Storage(StorageError::InvalidArgument(e.to_string())))?;
                return Ok(());
            }
            Claimed::Yes { .. } => {}
        }
        let upload_started = Instant::now();
        let snapshot = self.manifest.snapshot().await?;
        // Re-check: the inputs may have gone since planning.
        if job.inputs.iter().any(|b| snapshot.block(&b.id).is_none()) {
            let _ = claims::release(store, &key).await;
            return Ok(());
        }
        let merged = merge::run(store, &snapshot, job, &self.config, now, deadline).await?;
        if deadline.is_some_and(|d| Instant::now() > d) {
            strata_storage::publish::discard(store, &merged.outputs).await;
            return Err(JobError::Deadline);
        }
        // A merge replaces its inputs; a downsampling job keeps its raw inputs and replaces
        // the outdated aggregates of its span.
        let removed = if job.kind == JobKind::Downsample {
            job.replaces.iter().map(|b| b.id).collect()
        } else {
            job.inputs.iter().map(|b| b.id).collect()
        };
        let txn = Transaction::add(merged.outputs.clone(), upload_started).removing(removed);
        match strata_storage::publish::commit(&self.manifest, txn).await {
            Ok(_) => {}
            Err(StorageError::Conflict { .. }) => {
                // Another compactor replaced an input first: our outputs were discarded.
                report.busy += 1;
                self.stats.job(job.kind, "conflict");
                let _ = claims::release(store, &key).await;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        let _ = claims::release(store, &key).await;
        self.stats.job(job.kind, "ok");
        self.stats
            .samples_in
            .fetch_add(merged.samples_in, Ordering::Relaxed);
        self.stats
            .samples_out
            .fetch_add(merged.samples_out, Ordering::Relaxed);
        self.stats
            .bytes_out
            .fetch_add(merged.bytes_out, Ordering::Relaxed);
        report.jobs += 1;
        report.inputs += job.inputs.len();
        report.outputs += merged.outputs.len();
        report.samples_in += merged.samples_in;
        report.samples_out += merged.samples_out;
        report.bytes_in += job.input_bytes();
        report.bytes_out += merged.bytes_out;
        tracing::info!(
            kind = job.kind.as_str(),
            inputs = job.inputs.len(),
            outputs = merged.outputs.len(),
            samples = merged.samples_out,
            "compacted"
        );
        Ok(())
    }

    /// Runs a pass every `interval` until `shutdown` resolves (a failing pass is logged and
    /// retried at the next interval).
    pub async fn run(&self, interval: Duration, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            match self.run_once(None).await {
                Ok(r) if r.jobs > 0 || r.failed > 0 => tracing::info!(?r, "compaction pass"),
                Ok(_) => {}
                Err(e) => tracing::warn!("compaction pass failed: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = &mut shutdown => return,
            }
        }
    }
}
