//! The scrape manager: jobs from the configuration, their discovery providers, and one
//! scrape loop per target this worker owns.
//!
//! Providers poke `changed`; the manager then recomputes every job's targets (relabeling,
//! then the shard filter) and reconciles: loops of vanished targets stop and write stale
//! markers, new targets get a loop, unchanged targets keep theirs. A reload swaps the
//! configuration under the same rule — jobs whose settings did not change keep their
//! providers and loops untouched, so their scrapes run on without a gap — and a reload that
//! fails validation changes nothing.
//!
//! With `kubernetes_monitors`, a watcher publishes the jobs of ServiceMonitors and
//! PodMonitors; the manager merges them with the file's jobs under the same rule, on every
//! change and on every reload (which keeps them). A monitor whose jobs cannot run (invalid,
//! a name clash with a file job, a client that cannot be built) is skipped alone and listed
//! in [`TargetsView::invalid_monitors`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_storage::{Label, Labels};
use tokio::sync::{Notify, watch};

use super::config::{Config, GlobalConfig, JobSettings, ScrapeConfig};
use super::discovery::{self, Provider};
use super::http::HttpClient;
use super::kubernetes::monitors::watch::{MonitorWatcher, Outcomes};
use super::kubernetes::monitors::{InvalidMonitor, MonitorOutcome, MonitorsConfig};
use super::kubernetes::provider::kubernetes_provider;
use super::scrape_loop::{JobContext, ScrapeLoop, Stop, TargetHealth};
use super::target::{DroppedTarget, Target, shard_of, targets_of};
use crate::buffer::WriteBuffer;

/// Which share of the targets this worker scrapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this worker.
    pub index: u32,
    /// Number of workers.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// Checks `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index} of {count}: the shard index must be below the number of shards"
            ));
        }
        Ok(Self { index, count })
    }

    /// True when `labels` (a target's, after relabeling) belong to this shard.
    pub fn owns(&self, labels: &Labels) -> bool {
        self.count <= 1 || shard_of(labels, self.count) == self.index
    }
}

struct LoopHandle {
    target: Target,
    stop: watch::Sender<Stop>,
    task: tokio::task::JoinHandle<()>,
    health: Arc<Mutex<TargetHealth>>,
}

/// A new or changed job, ready to start: its config, settings, context, HTTP SD clients
/// and Kubernetes providers.
type Fresh = (
    ScrapeConfig,
    JobSettings,
    JobContext,
    Vec<HttpClient>,
    Vec<Provider>,
);

struct Job {
    config: ScrapeConfig,
    settings: JobSettings,
    external_labels: Vec<Label>,
    context: Arc<JobContext>,
    providers: Vec<Provider>,
    loops: HashMap<u64, LoopHandle>,
    dropped: Vec<DroppedTarget>,
    dropped_total: usize,
    /// The provider outputs the loops were last reconciled with: a sync skips the job while
    /// they are the same (a busy provider of another job costs this one nothing).
    synced: Vec<Arc<Vec<discovery::TargetGroup>>>,
}

impl Job {
    fn stop_all(&mut self, mode: Stop) -> Vec<tokio::task::JoinHandle<()>> {
        self.loops
            .drain()
            .map(|(_, l)| {
                let _ = l.stop.send(mode);
                l.task
            })
            .collect()
    }
}

/// One active target, for `/api/v1/targets`.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub job: String,
    pub labels: Labels,
    pub discovered: Labels,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub health: TargetHealth,
}

/// Targets of every job, for `/api/v1/targets`.
#[derive(Debug, Clone, Default)]
pub struct TargetsView {
    pub active: Vec<ActiveTarget>,
    pub dropped: Vec<(String, DroppedTarget)>,
    /// Dropped targets per job, including those not kept (`keep_dropped_targets`).
    pub dropped_counts: BTreeMap<String, usize>,
    /// Selected ServiceMonitors and PodMonitors that are skipped, with the reason.
    pub invalid_monitors: Vec<InvalidMonitor>,
}

/// The monitor side of the configuration: the file last applied, the monitors' outcomes,
/// and the watcher that publishes them.
#[derive(Default)]
struct Sources {
    file: Option<Config>,
    outcomes: Outcomes,
    watcher: Option<(MonitorsConfig, MonitorWatcher, tokio::task::JoinHandle<()>)>,
}

impl Drop for Sources {
    fn drop(&mut self) {
        if let Some((_, _, task)) = &self.watcher {
            task.abort();
        }
    }
}

/// Counts of selected monitors, for `/metrics` and `/api/v1/targets`.
#[derive(Debug, Clone, Default)]
struct MonitorStatus {
    enabled: bool,
    valid: usize,
    invalid: Vec<InvalidMonitor>,
}

/// Whether a group's own labels pass `filter` ([`ScrapeConfig::group_filter`]).
fn group_selected(
    group: &discovery::TargetGroup,
    filter: &[super::relabel::RelabelConfig],
) -> bool {
    let mut labels =
        super::labelset::from_pairs(group.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    super::relabel::relabel(&mut labels, filter)
}

/// Runs the scrapes of one worker.
pub struct ScrapeManager {
    path: Option<PathBuf>,
    sink: Arc<WriteBuffer>,
    shard: Shard,
    jobs: tokio::sync::Mutex<BTreeMap<String, Job>>,
    changed: Arc<Notify>,
    seed: Mutex<u64>,
    /// Serializes applies (file reloads and monitor updates).
    sources: tokio::sync::Mutex<Sources>,
    monitors: Mutex<MonitorStatus>,
    me: std::sync::Weak<Self>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("path", &self.path)
            .field("shard", &self.shard)
            .finish()
    }
}

fn external_labels(global: &GlobalConfig) -> Vec<Label> {
    super::labelset::from_pairs(
        global
            .external_labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    )
}

impl ScrapeManager {
    /// A manager scraping into `sink`, configured from `path` (reloadable).
    pub async fn from_file(
        path: PathBuf,
        sink: Arc<WriteBuffer>,
        shard: Shard,
    ) -> Result<Arc<Self>, String> {
        let config = Config::load(&path).map_err(|e| e.to_string())?;
        let manager = Self::new(Some(path), sink, shard);
        manager.apply(config).await?;
        Ok(manager)
    }

    /// A manager without jobs; [`Self::apply`] configures it.
    pub fn new(path: Option<PathBuf>, sink: Arc<WriteBuffer>, shard: Shard) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            path,
            sink,
            shard,
            jobs: tokio::sync::Mutex::new(BTreeMap::new()),
            changed: Arc::new(Notify::new()),
            seed: Mutex::new(0),
            sources: tokio::sync::Mutex::new(Sources::default()),
            monitors: Mutex::new(MonitorStatus::default()),
            me: me.clone(),
        })
    }

    /// Re-reads the configuration file and applies it; on error nothing changes.
    pub async fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Err("no configuration file to reload".into());
        };
        let config = Config::load(path).map_err(|e| e.to_string())?;
        self.apply(config).await?;
        tracing::info!(file = %path.display(), "configuration reloaded");
        Ok(())
    }

    /// Switches to `config`: unchanged jobs keep running, changed ones restart, removed ones
    /// stop (their series marked stale). The monitors' jobs stay; a changed
    /// `kubernetes_monitors` section restarts their watcher.
    pub async fn apply(&self, config: Config) -> Result<(), String> {
        for section in config.ignored_sections() {
            tracing::warn!(
                section,
                "configuration section ignored (Strata does not use it)"
            );
        }
        let mut sources = self.sources.lock().await;
        let wanted = config.kubernetes_monitors.clone();
        let restart = sources.watcher.as_ref().map(|w| &w.0) != wanted.as_ref();
        // A new watcher starts first: one that cannot refuses the reload.
        let watcher = match (&wanted, restart) {
            (Some(m), true) => Some(self.watch_monitors(m.clone())?),
            _ => None,
        };
        // Until a restarted watcher publishes, the monitors' jobs stay as they were.
        let outcomes = if wanted.is_some() {
            sources.outcomes.clone()
        } else {
            Outcomes::default()
        };
        self.apply_jobs(&config, &outcomes).await?;
        if restart {
            if let Some((_, _, task)) = sources.watcher.take() {
                task.abort();
            }
            sources.watcher = wanted.zip(watcher).map(|(m, (w, t))| (m, w, t));
        }
        sources.outcomes = outcomes;
        sources.file = Some(config);
        Ok(())
    }

    /// Starts the monitor watcher and the task that applies what it publishes.
    fn watch_monitors(
        &self,
        config: MonitorsConfig,
    ) -> Result<(MonitorWatcher, tokio::task::JoinHandle<()>), String> {
        let (watcher, mut rx) = super::kubernetes::monitors::watch::start(config)?;
        let me = self.me.clone();
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let outcomes = rx.borrow_and_update().clone();
                let Some(manager) = me.upgrade() else { return };
                manager.set_monitors(outcomes).await;
            }
        });
        Ok((watcher, task))
    }

    /// Applies new monitor outcomes with the file's jobs.
    pub async fn set_monitors(&self, outcomes: Outcomes) {
        let mut sources = self.sources.lock().await;
        let Some(file) = sources.file.take() else {
            return;
        };
        if let Err(e) = self.apply_jobs(&file, &outcomes).await {
            tracing::error!(error = %e, "applying the monitors' jobs failed");
        }
        sources.file = Some(file);
        sources.outcomes = outcomes;
    }

    /// The file's jobs and the valid monitors' jobs, applied together.
    async fn apply_jobs(&self, config: &Config, outcomes: &[MonitorOutcome]) -> Result<(), String> {
        let external = external_labels(&config.global);
        // Build every new job's clients first: a bad certificate refuses the whole reload
        // before anything running is touched.
        let mut jobs = self.jobs.lock().await;
        let mut fresh: Vec<Fresh> = Vec::new();
        for sc in &config.scrape_configs {
            if let Some(f) = self.prepare(&jobs, sc, &config.global, &external)? {
                fresh.push(f);
            }
        }
        let mut wanted: std::collections::HashSet<String> = config
            .scrape_configs
            .iter()
            .map(|s| s.job_name.clone())
            .collect();
        let mut status = MonitorStatus {
            enabled: config.kubernetes_monitors.is_some(),
            ..Default::default()
        };
        for o in outcomes {
            let prepared = o.jobs.clone().and_then(|scs| {
                let mut out = Vec::new();
                for sc in &scs {
                    if wanted.contains(&sc.job_name) {
                        return Err(format!(
                            "job name {:?} is also a job of the configuration file",
                            sc.job_name
                        ));
                    }
                    let at = |f: &str| format!("job {:?}: {f}", sc.job_name);
                    sc.validate(&config.global, &at)
                        .map_err(|e| e.to_string())?;
                    out.extend(self.prepare(&jobs, sc, &config.global, &external)?);
                }
                Ok((scs, out))
            });
            match prepared {
                Ok((scs, out)) => {
                    status.valid += 1;
                    wanted.extend(scs.into_iter().map(|s| s.job_name));
                    fresh.extend(out);
                }
                Err(reason) => status.invalid.push(InvalidMonitor {
                    kind: o.kind,
                    namespace: o.namespace.clone(),
                    name: o.name.clone(),
                    reason,
                }),
            }
        }
        let mut stopping = Vec::new();
        let names: Vec<String> = jobs.keys().cloned().collect();
        for name in names {
            let still = wanted.contains(&name);
            let replaced = fresh.iter().any(|(s, ..)| s.job_name == name);
            if (!still || replaced)
                && let Some(mut job) = jobs.remove(&name)
            {
                stopping.extend(job.stop_all(if still { Stop::Quiet } else { Stop::Gone }));
            }
        }
        for (sc, settings, context, sd_clients, kubernetes) in fresh {
            let mut providers = kubernetes;
            if !sc.static_configs.is_empty() {
                providers.push(discovery::static_provider(&sc.static_configs));
            }
            for f in &sc.file_sd_configs {
                providers.push(discovery::file_provider(f, self.changed.clone()));
            }
            for (h, client) in sc.http_sd_configs.iter().zip(sd_clients) {
                providers.push(discovery::http_provider(h, client, self.changed.clone()));
            }
            jobs.insert(
                sc.job_name.clone(),
                Job {
                    config: sc,
                    settings,
                    external_labels: external.clone(),
                    context: Arc::new(context),
                    providers,
                    loops: HashMap::new(),
                    dropped: Vec::new(),
                    dropped_total: 0,
                    synced: Vec::new(),
                },
            );
        }
        if let Ok(mut seed) = self.seed.lock() {
            *seed = Labels::from_pairs(external.iter().map(|l| (l.name.clone(), l.value.clone())))
                .map(|l| l.stable_hash())
                .unwrap_or(0);
        }
        drop(jobs);
        if let Ok(mut m) = self.monitors.lock() {
            *m = status;
        }
        self.sync().await;
        // Stopped loops finish their in-flight scrape on their own.
        drop(stopping);
        Ok(())
    }

    /// Builds a job's clients and discovery when it is new or changed (`None`: unchanged).
    fn prepare(
        &self,
        jobs: &BTreeMap<String, Job>,
        sc: &ScrapeConfig,
        global: &GlobalConfig,
        external: &[Label],
    ) -> Result<Option<Fresh>, String> {
        let settings = sc.settings(global);
        let unchanged = jobs.get(&sc.job_name).is_some_and(|j| {
            j.config == *sc && j.settings == settings && j.external_labels == external
        });
        if unchanged {
            return Ok(None);
        }
        let context = JobContext::new(sc, &settings, external)?;
        let sd_clients = sc
            .http_sd_configs
            .iter()
            .map(|h| HttpClient::new(&h.http, true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("job {:?}: http_sd_configs: {e}", sc.job_name))?;
        // Kubernetes discovery starts here (its watches are shared per process): a
        // configuration it cannot use refuses the reload before anything changes.
        let kubernetes = sc
            .kubernetes_sd_configs
            .iter()
            .map(|k| kubernetes_provider(k, self.changed.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("job {:?}: {e}", sc.job_name))?;
        Ok(Some((
            sc.clone(),
            settings,
            context,
            sd_clients,
            kubernetes,
        )))
    }

    /// `strata_kubernetes_monitors` gauges (OpenMetrics text; empty without
    /// `kubernetes_monitors`).
    pub fn monitor_metrics(&self) -> String {
        let Ok(m) = self.monitors.lock() else {
            return String::new();
        };
        if !m.enabled {
            return String::new();
        }
        let mut out = String::from(
            "# HELP strata_kubernetes_monitors Selected ServiceMonitors and PodMonitors, by whether their jobs run.\n\
             # TYPE strata_kubernetes_monitors gauge\n",
        );
        out.push_str(&format!(
            "strata_kubernetes_monitors{{state=\"valid\"}} {}\nstrata_kubernetes_monitors{{state=\"invalid\"}} {}\n",
            m.valid,
            m.invalid.len()
        ));
        out.push_str(
            "# HELP strata_kubernetes_monitor_invalid A selected monitor that is skipped (its reason is in /api/v1/targets).\n\
             # TYPE strata_kubernetes_monitor_invalid gauge\n",
        );
        let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        for i in &m.invalid {
            out.push_str(&format!(
                "strata_kubernetes_monitor_invalid{{kind=\"{}\",namespace=\"{}\",name=\"{}\"}} 1\n",
                i.kind.as_str(),
                escape(&i.namespace),
                escape(&i.name)
            ));
        }
        out
    }

    /// Recomputes every job's targets and reconciles the loops.
    async fn sync(&self) {
        let seed = self.seed.lock().map(|s| *s).unwrap_or(0);
        let mut jobs = self.jobs.lock().await;
        for (name, job) in jobs.iter_mut() {
            let outputs: Vec<Arc<Vec<discovery::TargetGroup>>> = job
                .providers
                .iter()
                .map(|p| p.groups.borrow().clone())
                .collect();
            let unchanged = !job.synced.is_empty()
                && outputs.len() == job.synced.len()
                && outputs
                    .iter()
                    .zip(&job.synced)
                    .all(|(a, b)| Arc::ptr_eq(a, b));
            if unchanged {
                continue;
            }
            job.synced = outputs.clone();
            let filter = &job.config.group_filter;
            let groups: Vec<_> = outputs
                .iter()
                .flat_map(|g| g.iter())
                .filter(|g| filter.is_empty() || group_selected(g, filter))
                .cloned()
                .collect();
            let (active, dropped) = targets_of(
                &job.config,
                job.settings.interval,
                job.settings.timeout,
                &groups,
            );
            let mine: Vec<Target> = active
                .into_iter()
                .filter(|t| self.shard.owns(&t.labels))
                .collect();
            job.dropped_total = dropped.len();
            let keep = job.config.keep_dropped_targets.unwrap_or(0) as usize;
            job.dropped = if keep > 0 {
                dropped.into_iter().take(keep).collect()
            } else {
                dropped
            };
            let limit = job.settings.target_limit as usize;
            if limit > 0 && mine.len() > limit {
                tracing::error!(job = %name, targets = mine.len(), limit, "target_limit exceeded: no target of the job is scraped");
                drop(job.stop_all(Stop::Gone));
                continue;
            }
            let wanted: HashMap<u64, Target> = mine.into_iter().map(|t| (t.hash(), t)).collect();
            job.loops.retain(|hash, l| {
                let keep = wanted.contains_key(hash);
                if !keep {
                    let _ = l.stop.send(Stop::Gone);
                }
                keep
            });
            for (hash, target) in wanted {
                if job.loops.contains_key(&hash) {
                    continue;
                }
                let health = Arc::new(Mutex::new(TargetHealth {
                    health: "unknown",
                    ..Default::default()
                }));
                let (stop, stop_rx) = watch::channel(Stop::Running);
                let scrape = ScrapeLoop::new(
                    target.clone(),
                    job.context.clone(),
                    self.sink.clone(),
                    health.clone(),
                );
                let task = tokio::spawn(scrape.run(seed, stop_rx));
                job.loops.insert(
                    hash,
                    LoopHandle {
                        target,
                        stop,
                        task,
                        health,
                    },
                );
            }
        }
    }

    /// Follows discovery until `shutdown`, then stops every loop (quietly: a restarted
    /// worker carries on) and waits a little for in-flight scrapes.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                _ = self.changed.notified() => {
                    // Let a burst of discovery updates settle into one sync.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    self.sync().await;
                }
                _ = &mut shutdown => break,
            }
        }
        let mut jobs = self.jobs.lock().await;
        let tasks: Vec<_> = jobs
            .values_mut()
            .flat_map(|j| j.stop_all(Stop::Quiet))
            .collect();
        jobs.clear();
        drop(jobs);
        let all = futures::future::join_all(tasks);
        let _ = tokio::time::timeout(Duration::from_secs(5), all).await;
    }

    /// The longest scrape interval of the configured jobs: a worker that runs for one
    /// round (a scheduled function) runs this long to scrape every target once.
    pub async fn longest_interval(&self) -> Option<Duration> {
        let jobs = self.jobs.lock().await;
        jobs.values().map(|j| j.settings.interval).max()
    }

    /// The targets of every job.
    pub async fn targets(&self) -> TargetsView {
        let jobs = self.jobs.lock().await;
        let mut view = TargetsView::default();
        for (name, job) in jobs.iter() {
            for l in job.loops.values() {
                view.active.push(ActiveTarget {
                    job: name.clone(),
                    labels: l.target.labels.clone(),
                    discovered: l.target.discovered.clone(),
                    url: l.target.url.clone(),
                    interval: l.target.interval,
                    timeout: l.target.timeout,
                    health: l.health.lock().map(|h| h.clone()).unwrap_or_default(),
                });
            }
            view.dropped
                .extend(job.dropped.iter().map(|d| (name.clone(), d.clone())));
            view.dropped_counts.insert(name.clone(), job.dropped_total);
        }
        view.active
            .sort_by(|a, b| (&a.job, &a.url).cmp(&(&b.job, &b.url)));
        view.invalid_monitors = self
            .monitors
            .lock()
            .map(|m| m.invalid.clone())
            .unwrap_or_default();
        view
    }
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
