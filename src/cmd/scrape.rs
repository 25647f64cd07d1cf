//! `strata scrape`: a stateless scrape worker. It scrapes the targets of a Prometheus
//! configuration (its shard of them) and commits the samples as blocks every flush interval;
//! it serves only health, readiness, reload, targets and its own metrics. `strata serve
//! --config` runs the same scraper inside the all-in-one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strata_api::{ApiConfig, ApiState};
use strata_ingest::scrape::{ScrapeManager, Shard};
use strata_ingest::{BufferOptions, FlushSummary, IngestError, WriteBuffer};
use strata_storage::{Manifest, Store};

use super::serve::shutdown_signal;
use super::{CliResult, parse_duration};

/// Scrape settings shared by `strata scrape` and `strata serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ScrapeArgs {
    /// Prometheus configuration file (`global`, `scrape_configs`): scrape its targets.
    /// Re-read on SIGHUP and on POST /-/reload.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// This worker's shard, 0-based: it scrapes only the targets whose labels hash to it.
    #[arg(long, default_value_t = 0)]
    pub(crate) shard: u32,
    /// Number of scrape workers sharing the targets (each with its own --shard).
    #[arg(long, default_value_t = 1)]
    pub(crate) shards: u32,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    scrape: ScrapeArgs,
    /// Address of the worker's HTTP endpoints (/-/healthy, /-/ready, /-/reload,
    /// /api/v1/targets, /metrics).
    #[arg(long, default_value = "127.0.0.1:9091")]
    listen: SocketAddr,
    /// Prometheus' web configuration file for those endpoints (basic authentication, TLS).
    #[arg(long = "web.config.file")]
    web_config: Option<PathBuf>,
    /// How often scraped samples are committed as blocks (the most a crash can lose).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    flush_interval: Duration,
}

/// A stop signal shared by the tasks of a process.
pub(crate) type StopRx = tokio::sync::watch::Receiver<bool>;

pub(crate) async fn stopped(mut rx: StopRx) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Starts the scrape manager for `args` (none without `--config`).
pub(crate) async fn start(
    args: &ScrapeArgs,
    buffer: &Arc<WriteBuffer>,
    stop: &StopRx,
) -> Result<Option<(Arc<ScrapeManager>, tokio::task::JoinHandle<()>)>, String> {
    let shard = Shard::new(args.shard, args.shards)?;
    let Some(path) = &args.config else {
        if args.shards != 1 || args.shard != 0 {
            return Err("--shard and --shards need --config".into());
        }
        return Ok(None);
    };
    let manager = ScrapeManager::from_file(path.clone(), buffer.clone(), shard).await?;
    let task = tokio::spawn(manager.clone().run(stopped(stop.clone())));
    Ok(Some((manager, task)))
}

/// Logs a flush's outcome.
pub(crate) fn log_flush(result: &Result<FlushSummary, IngestError>) {
    match result {
        Ok(s) if s.samples > 0 => {
            tracing::info!(
                samples = s.samples,
                blocks = s.blocks,
                seq = s.seq,
                "committed"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "flush failed; samples kept for the next one"),
    }
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    if args.scrape.config.is_none() {
        return Err("strata scrape needs --config FILE (a Prometheus configuration)".into());
    }
    let store = Store::open_checked(store_url).await?;
    let buffer = WriteBuffer::new(
        Manifest::new(store.clone(), super::writer_name("scraper")),
        BufferOptions {
            flush_interval: args.flush_interval,
            ..Default::default()
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let Some((manager, scraper)) = start(&args.scrape, &buffer, &stop_rx).await? else {
        return Ok(());
    };
    let state = ApiState::new(store.clone(), ApiConfig::default(), None);
    let reloadables = super::reload::Reloadables {
        scraper: Some(manager.clone()),
        rules: None,
    };
    reloadables.on_sighup(&stop_rx)?;
    state.set_reloader(reloadables.action());
    let m = manager.clone();
    state.set_extra_metrics(strata_api::ExtraMetrics(Arc::new(move || {
        m.monitor_metrics()
    })));
    state.set_scraper(manager);
    let web = super::web_config(args.web_config.as_deref(), args.listen)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "strata scrape: shard {} of {}, writing to {store}; endpoints on {}://{addr}",
        args.scrape.shard,
        args.scrape.shards,
        if web
            .as_ref()
            .is_some_and(|w| w.current().tls_server_config.is_some())
        {
            "https"
        } else {
            "http"
        }
    );
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let flusher = tokio::spawn(buffer.clone().run(stopped(stop_rx.clone()), log_flush));
    strata_api::serve_router(
        listener,
        strata_api::worker_router(state),
        stopped(stop_rx),
        web,
    )
    .await?;
    // Scrapes in flight finish (or are abandoned after a few seconds), then a last flush
    // commits everything they appended, even after the flusher's own final flush.
    scraper.await?;
    flusher.await?;
    log_flush(&buffer.flush().await);
    Ok(())
}
