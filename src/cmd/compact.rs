//! `strata compact`: merge the blocks writers flush, enforce retention, deduplicate HA
//! replicas and remove deleted data — once (`--once`), or every `--interval`. The same
//! settings ([`CompactArgs`]) run the compactor inside `strata serve`.

use std::time::Duration;

use strata_compactor::{Compactor, CompactorConfig, DEFAULT_GRACE, GcOptions};
use strata_storage::{Manifest, Operation, RetentionPolicy, Store};

use super::{CliResult, parse_duration, writer_name};

/// Compaction settings shared by `strata compact` and `strata serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CompactArgs {
    /// Width of the blocks of closed days: 24h (one block per day, the smallest and fastest to
    /// scan) or 2h (one block per 2h window).
    #[arg(long = "compact.window", value_parser = ["2h", "24h"], default_value = "24h")]
    window: String,
    /// How long after a window ends late samples are still expected before its final merge.
    #[arg(long = "compact.late-grace", default_value = "15m", value_parser = parse_duration)]
    late_grace: Duration,
    /// How long raw samples are kept (0s = forever), as Prometheus'
    /// --storage.tsdb.retention.time; queries never see older samples.
    #[arg(long = "retention.raw", default_value = "0s", value_parser = parse_duration)]
    retention_raw: Duration,
    /// How long 5-minute aggregates are kept (0s = forever).
    #[arg(long = "retention.5m", default_value = "0s", value_parser = parse_duration)]
    retention_5m: Duration,
    /// How long 1-hour aggregates are kept (0s = forever).
    #[arg(long = "retention.1h", default_value = "0s", value_parser = parse_duration)]
    retention_1h: Duration,
    /// A label that tells HA replicas apart (repeatable): queries of `strata serve` read their
    /// series as one (unless a request says `dedup=false` or names other `replicaLabels[]`),
    /// and compaction merges them in windows older than --dedup.after, with the same result.
    #[arg(long = "dedup.replica-label")]
    pub(crate) replica_labels: Vec<String>,
    /// Age of the windows whose replicas are deduplicated in storage.
    #[arg(long = "dedup.after", default_value = "24h", value_parser = parse_duration)]
    dedup_after: Duration,
    /// Age of a deletion request after which its data is removed from the blocks.
    #[arg(long = "delete.rewrite-after", default_value = "24h", value_parser = parse_duration)]
    delete_rewrite_after: Duration,
    /// Downsampling: `<resolution>=<age>` pairs (resolutions 5m and 1h), or `none`. A day is
    /// aggregated into windows of the resolution once its end is that old; raw blocks then
    /// expire (--retention.raw) only once every resolution covers their days.
    #[arg(long = "downsample.after", default_value = "5m=40h,1h=10d", value_parser = parse_ages)]
    downsample: DownsampleAges,
    /// Grace period before removed blocks and orphaned uploads are deleted.
    #[arg(long = "compact.gc-grace", default_value = "1h", value_parser = parse_duration)]
    gc_grace: Duration,
}

/// `--downsample.after`: `(resolution_ms, age_ms)` pairs (one flag value, not repeated).
#[derive(Debug, Clone)]
struct DownsampleAges(Vec<(i64, i64)>);

fn parse_ages(s: &str) -> Result<DownsampleAges, String> {
    strata_compactor::parse_downsample(s).map(DownsampleAges)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl CompactArgs {
    pub(crate) fn config(&self) -> CompactorConfig {
        CompactorConfig {
            day_blocks: self.window == "24h",
            late_grace_ms: ms(self.late_grace),
            retention: RetentionPolicy {
                raw_ms: ms(self.retention_raw),
                res_5m_ms: ms(self.retention_5m),
                res_1h_ms: ms(self.retention_1h),
            },
            replica_labels: self.replica_labels.clone(),
            dedup_after_ms: ms(self.dedup_after),
            delete_rewrite_after_ms: ms(self.delete_rewrite_after),
            downsample: self.downsample.0.clone(),
            ..Default::default()
        }
    }

    /// A compactor for `store` with these settings.
    pub(crate) fn compactor(&self, store: &Store, role: &str) -> Compactor {
        let gc = GcOptions {
            grace: if self.gc_grace.is_zero() {
                DEFAULT_GRACE
            } else {
                self.gc_grace
            },
            ..Default::default()
        };
        Compactor::new(
            Manifest::new(store.clone(), writer_name(role)),
            self.config(),
            gc,
            strata_storage::clock::system(),
            writer_name(role),
        )
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Do all work that is due, then exit.
    #[arg(long, conflicts_with = "interval")]
    once: bool,
    /// Run a pass every interval until stopped (SIGINT/SIGTERM). An idle pass costs one
    /// LIST; a minute keeps an open window at a dozen blocks with 10 s flushes.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    interval: Duration,
    /// Release the quarantined blocks for another try first.
    #[arg(long)]
    retry_quarantined: bool,
    /// Print the plan and exit without changing anything.
    #[arg(long)]
    dry_run: bool,
    /// With --interval: serve the compactor's metrics (`/metrics`, `strata_compactor_*` and
    /// object-store requests) and health (`/-/healthy`) on this address, e.g. 0.0.0.0:9091.
    #[arg(long, conflicts_with = "once")]
    listen: Option<std::net::SocketAddr>,
    /// Prometheus' web configuration file for --listen (basic authentication, TLS).
    #[arg(long = "web.config.file", requires = "listen")]
    web_config: Option<std::path::PathBuf>,
    /// Remove deleted samples from the blocks now (as Prometheus' clean_tombstones), then exit.
    #[arg(long, conflicts_with_all = ["once", "dry_run"])]
    clean_tombstones: bool,
    #[command(flatten)]
    settings: CompactArgs,
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let store = Store::open_checked(store_url).await?;
    let compactor = args.settings.compactor(&store, "compactor");
    if args.dry_run {
        for job in compactor.plan().await? {
            println!(
                "{} inputs={} samples={} bytes={} shards={} dedup={}",
                job.kind.as_str(),
                job.inputs.len(),
                job.input_samples(),
                job.input_bytes(),
                job.shards,
                job.dedup
            );
        }
        return Ok(());
    }
    if args.clean_tombstones {
        let r = compactor.clean_tombstones(None).await?;
        println!("cleaned: rewrites={} failed={}", r.jobs, r.failed);
        if r.failed > 0 {
            return Err(
                format!("{} rewrite(s) failed; the compactor retries them", r.failed).into(),
            );
        }
        return Ok(());
    }
    if args.retry_quarantined {
        let n = compactor.release_quarantined().await?;
        println!("released {n} quarantined blocks");
    }
    if !args.once {
        eprintln!(
            "strata compact: compacting {store} every {}",
            humantime::format_duration(args.interval)
        );
        if let Some(addr) = args.listen {
            let web = super::web_config(args.web_config.as_deref(), addr)?;
            let state = strata_api::ApiState::new(store.clone(), Default::default(), None);
            let stats = compactor.stats();
            state.set_extra_metrics(strata_api::ExtraMetrics(std::sync::Arc::new(move || {
                stats.render(strata_storage::manifest::now_ms())
            })));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            eprintln!(
                "strata compact: metrics on http://{}/metrics",
                listener.local_addr()?
            );
            tokio::spawn(strata_api::serve_router(
                listener,
                strata_api::worker_router(state),
                super::serve::shutdown_signal(),
                web,
            ));
        }
        compactor
            .run(args.interval, super::serve::shutdown_signal())
            .await;
        return Ok(());
    }
    let started = std::time::Instant::now();
    let total = compactor.run_due(None).await?;
    let c = store.request_counts();
    println!(
        "compacted: jobs={} inputs={} outputs={} samples={} bytes_in={} bytes_out={} expired={} failed={} quarantined={} seconds={:.3} requests=get:{},put:{},list:{},delete:{}",
        total.jobs,
        total.inputs,
        total.outputs,
        total.samples_out,
        total.bytes_in,
        total.bytes_out,
        total.expired,
        total.failed,
        total.quarantined,
        started.elapsed().as_secs_f64(),
        c.get(Operation::Get),
        c.get(Operation::Put),
        c.get(Operation::List),
        c.get(Operation::Delete),
    );
    Ok(())
}
