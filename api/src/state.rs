//! What every handler shares: the store, the manifest snapshot (refreshed on demand), engine
//! settings and metrics.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use strata_query::{Engine, EngineOptions};
use strata_storage::{Manifest, Snapshot, Store};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::params::Params;

/// Settings of the API server.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Engine defaults (lookback, limits, timeout).
    pub engine: EngineOptions,
    /// How old the manifest snapshot may be before a request refreshes it (one LIST of the
    /// log); zero refreshes on every request, so that committed data is visible at once.
    pub manifest_refresh: Duration,
    /// Build information served by `/api/v1/status/buildinfo`.
    pub version: String,
    /// Serve the TSDB admin endpoints (`--web.enable-admin-api`).
    pub enable_admin_api: bool,
    /// Queries evaluated at once (`--query.max-concurrency`); more wait in a queue, within
    /// their timeout.
    pub max_concurrency: usize,
    /// Commit remote writes before answering them (one block and one manifest record per
    /// request), for processes that may be frozen or stopped right after answering (a
    /// Lambda function); otherwise the write buffer commits them on its schedule.
    pub commit_writes: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            engine: EngineOptions::default(),
            manifest_refresh: Duration::ZERO,
            version: env!("CARGO_PKG_VERSION").to_string(),
            enable_admin_api: false,
            max_concurrency: 20,
            commit_writes: false,
        }
    }
}

type Cached = Arc<RwLock<Option<(Instant, Arc<Snapshot>)>>>;

/// Renders metric families in Prometheus' text format.
#[derive(Clone)]
pub struct ExtraMetrics(pub Arc<dyn Fn() -> String + Send + Sync>);

impl std::fmt::Debug for ExtraMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraMetrics")
    }
}

/// An action the process behind the API runs on request; its error is reported to the
/// client. Used for `/api/v1/admin/tsdb/clean_tombstones` (the compactor's rewrites) and
/// `/-/reload` (the scrape configuration and the rules, as SIGHUP reloads them).
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct AsyncAction(
    pub Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync>,
);

impl AsyncAction {
    /// Runs the action.
    pub async fn run(&self) -> Result<(), String> {
        (self.0)().await
    }
}

impl std::fmt::Debug for AsyncAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncAction")
    }
}

/// A spawned evaluation, stopped when its request goes (timed out, or the client hung up):
/// the task is aborted at its next await, and the engine's loops see the cancellation at
/// their next deadline check.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>, strata_query::Cancel);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.1.cancel();
        self.0.abort();
    }
}

/// Shared server state.
#[derive(Debug)]
pub struct ApiState {
    pub(crate) store: Store,
    pub(crate) config: ApiConfig,
    pub(crate) metrics: Metrics,
    pub(crate) started: Instant,
    /// The remote-write receiver's buffer (`strata serve`); none in a query-only process.
    pub(crate) writer: Option<Arc<strata_ingest::WriteBuffer>>,
    /// The scrape manager (`--config`), for `/api/v1/targets` and `/-/reload`.
    scraper: std::sync::OnceLock<Arc<strata_ingest::scrape::ScrapeManager>>,
    /// The rule groups this process evaluates (`/api/v1/rules`, `/api/v1/alerts`).
    rules: std::sync::OnceLock<strata_rules::evaluator::SharedGroups>,
    /// More metrics for `/metrics` (the embedded compactor's).
    extra_metrics: std::sync::OnceLock<ExtraMetrics>,
    /// The compactor's rewrites, for `clean_tombstones`.
    tombstone_cleaner: std::sync::OnceLock<AsyncAction>,
    /// Re-reads the configuration (`/-/reload`).
    reloader: std::sync::OnceLock<AsyncAction>,
    manifest: Manifest,
    /// Slots of `max_concurrency` queries.
    query_slots: Arc<tokio::sync::Semaphore>,
    current: Cached,
    refresh: tokio::sync::Mutex<()>,
}

/// Engine settings a query request may override.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PerRequest {
    pub(crate) timeout: Option<Duration>,
    pub(crate) lookback: Option<Duration>,
    pub(crate) max_source_resolution: Option<strata_query::SourceResolution>,
}

impl ApiState {
    /// State of a server reading `store`; with `writer`, it also receives remote writes.
    pub fn new(
        store: Store,
        config: ApiConfig,
        writer: Option<Arc<strata_ingest::WriteBuffer>>,
    ) -> Arc<Self> {
        let current: Cached = Arc::new(RwLock::new(None));
        let info = current.clone();
        let snapshot_info = Arc::new(move || match info.read().ok().as_deref() {
            Some(Some((_, s))) => (s.len() as u64, s.seq().0),
            _ => (0, 0),
        });
        let metrics = Metrics::new(store.clone(), snapshot_info);
        let manifest = Manifest::new(store.clone(), "api");
        let query_slots = Arc::new(tokio::sync::Semaphore::new(config.max_concurrency.max(1)));
        Arc::new(Self {
            store,
            config,
            metrics,
            started: Instant::now(),
            writer,
            scraper: std::sync::OnceLock::new(),
            rules: std::sync::OnceLock::new(),
            extra_metrics: std::sync::OnceLock::new(),
            tombstone_cleaner: std::sync::OnceLock::new(),
            reloader: std::sync::OnceLock::new(),
            manifest,
            query_slots,
            current,
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// Attaches the rule groups this process evaluates (once).
    pub fn set_rules(&self, groups: strata_rules::evaluator::SharedGroups) {
        let _ = self.rules.set(groups);
    }

    /// The rule groups' state: this process's evaluator's, or else what the evaluators wrote
    /// to the bucket (`rules/state/`), so that a query tier answers too.
    pub(crate) async fn rule_groups(
        &self,
    ) -> Result<Vec<strata_rules::eval::GroupState>, ApiError> {
        if let Some(groups) = self.rules.get() {
            return Ok(groups.read().map(|g| g.clone()).unwrap_or_default());
        }
        strata_rules::state::read(&self.store)
            .await
            .map_err(|e| ApiError::internal(format!("cannot read the rule state: {e}")))
    }

    /// Attaches the scrape manager (once).
    pub fn set_scraper(&self, scraper: Arc<strata_ingest::scrape::ScrapeManager>) {
        let _ = self.scraper.set(scraper);
    }

    /// Adds metric families to `/metrics` (once).
    pub fn set_extra_metrics(&self, render: ExtraMetrics) {
        let _ = self.extra_metrics.set(render);
    }

    /// Lets `clean_tombstones` run the compactor's rewrites (once).
    pub fn set_tombstone_cleaner(&self, cleaner: AsyncAction) {
        let _ = self.tombstone_cleaner.set(cleaner);
    }

    pub(crate) fn tombstone_cleaner(&self) -> Option<&AsyncAction> {
        self.tombstone_cleaner.get()
    }

    /// Lets `/-/reload` re-read the configuration (once).
    pub fn set_reloader(&self, reloader: AsyncAction) {
        let _ = self.reloader.set(reloader);
    }

    pub(crate) fn reloader(&self) -> Option<&AsyncAction> {
        self.reloader.get()
    }

    /// The manifest this server reads (and the admin API commits deletion requests to).
    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub(crate) fn extra_metrics(&self) -> Option<String> {
        self.extra_metrics.get().map(|f| (f.0)())
    }

    pub(crate) fn scraper(&self) -> Option<&Arc<strata_ingest::scrape::ScrapeManager>> {
        self.scraper.get()
    }

    fn cached(&self, max_age: Duration) -> Option<Arc<Snapshot>> {
        let guard = self.current.read().ok()?;
        let (at, snapshot) = guard.as_ref()?;
        (at.elapsed() <= max_age).then(|| snapshot.clone())
    }

    /// The manifest snapshot, refreshed when older than the configured interval. Concurrent
    /// requests share one refresh.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, ApiError> {
        let max_age = self.config.manifest_refresh;
        if !max_age.is_zero()
            && let Some(s) = self.cached(max_age)
        {
            return Ok(s);
        }
        let asked = Instant::now();
        let _refreshing = self.refresh.lock().await;
        // A refresh that started after we asked is as fresh as one of our own.
        if let Ok(guard) = self.current.read()
            && let Some((at, s)) = guard.as_ref()
            && (*at >= asked || (!max_age.is_zero() && at.elapsed() <= max_age))
        {
            return Ok(s.clone());
        }
        let started = Instant::now();
        let snapshot = self.manifest.snapshot().await?;
        if let Ok(mut guard) = self.current.write() {
            *guard = Some((started, snapshot.clone()));
        }
        Ok(snapshot)
    }

    /// Forgets the cached snapshot (after this process commits).
    pub fn invalidate_snapshot(&self) {
        if let Ok(mut guard) = self.current.write() {
            *guard = None;
        }
    }

    /// The HA replica labels a request deduplicates, as Thanos' querier reads them: `dedup`
    /// (default true) turns deduplication off when false; `replicaLabels[]` replaces the
    /// configured labels (`--dedup.replica-label`).
    pub(crate) fn replica_labels(&self, p: &Params) -> Result<Vec<String>, ApiError> {
        if let Some(v) = p.get("dedup") {
            let on = match v {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                _ => {
                    return Err(ApiError::param(
                        "dedup",
                        format!("strconv.ParseBool: parsing {v:?}: invalid syntax"),
                    ));
                }
            };
            if !on {
                return Ok(Vec::new());
            }
        }
        let asked = p.all("replicaLabels[]");
        if asked.is_empty() {
            Ok(self.config.engine.replica_labels.clone())
        } else {
            Ok(asked.into_iter().map(str::to_string).collect())
        }
    }

    /// Runs `query` (an engine evaluation) as Prometheus' engine does: at most
    /// `max_concurrency` at once, the rest queued; the wait and the evaluation both within the
    /// query's `timeout`, after which the answer is `timeout` (503) whatever the evaluation is
    /// doing. The evaluation runs as its own task, so that the answer never waits for a busy
    /// loop; it is aborted when the time is up or the client hangs up (dropping the request).
    pub(crate) async fn run_query<T: Send + 'static>(
        &self,
        timeout: Option<Duration>,
        cancel: strata_query::Cancel,
        query: impl Future<Output = Result<T, strata_query::QueryError>> + Send + 'static,
    ) -> Result<T, ApiError> {
        let limit = timeout.map_or(self.config.engine.timeout, |t| {
            t.min(self.config.engine.timeout)
        });
        let started = Instant::now();
        let timed_out = |message: &str| ApiError {
            kind: crate::error::ErrorType::Timeout,
            message: message.into(),
        };
        let _slot = tokio::time::timeout(limit, self.query_slots.acquire())
            .await
            .map_err(|_| timed_out("query timed out in query queue"))?
            .map_err(|_| ApiError::internal("the query queue is closed"))?;
        // The engine checks its own deadline inside its loops; this bounds what it cannot see
        // (a slow store, a long loop between checks), with a small margin for it to answer.
        let left = limit.saturating_sub(started.elapsed()) + Duration::from_millis(500);
        let mut task = AbortOnDrop(tokio::spawn(query), cancel);
        tokio::select! {
            joined = &mut task.0 => match joined {
                Ok(result) => Ok(result?),
                Err(e) => Err(ApiError::internal(format!("query evaluation failed: {e}"))),
            },
            _ = tokio::time::sleep(left) => {
                Err(timed_out("query timed out in expression evaluation"))
            }
        }
    }

    /// An engine with the server's settings, adjusted per request.
    pub(crate) fn engine(&self, request: PerRequest, replica_labels: Vec<String>) -> Engine {
        let mut options = self.config.engine.clone();
        options.replica_labels = replica_labels;
        // Each request cancels only its own evaluation.
        options.cancel = strata_query::Cancel::default();
        if let Some(t) = request.timeout {
            options.timeout = options.timeout.min(t);
        }
        if let Some(l) = request.lookback {
            options.lookback = l;
        }
        if let Some(r) = request.max_source_resolution {
            options.max_source_resolution = r;
        }
        Engine::new(self.store.clone(), options)
    }

    /// How label lookups read the store: the engine's clock for the retention floor, and the
    /// request's replica labels (dropped from the label sets).
    pub(crate) fn read_options(&self, p: &Params) -> Result<strata_query::ReadOptions, ApiError> {
        Ok(strata_query::ReadOptions {
            now_ms: self.config.engine.clock.now_ms(),
            replica_labels: self.replica_labels(p)?,
        })
    }

    /// The store this server reads.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
