//! The scheduled roles. `compact`: each event runs the compactor's due jobs
//! ([`strata_compactor::Compactor::run_due`], what `strata compact --once` runs) until the
//! invocation's deadline less the margin; a job still running then stops before committing
//! and is redone by a later invocation. `scrape`: each event reads the configuration, scrapes
//! its shard of the targets with the scrape manager of `strata scrape` for the longest scrape
//! interval (so every target once, shorter-interval jobs more often), commits and answers
//! with what it did. Both answer with a JSON summary, including the object-store requests
//! the invocation made.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use strata_ingest::scrape::config::Config;
use strata_ingest::scrape::{ScrapeManager, Shard};
use strata_ingest::{BufferOptions, WriteBuffer};
use strata_storage::{Manifest, Operation, RequestCounts, Store};

use super::{Args, Role, event, log_init, runtime_error};
use crate::cmd::{CliResult, writer_name};

/// The time left before `deadline_ms` (Unix ms, the invocation's deadline), less `margin`.
fn budget(deadline_ms: u64, margin: Duration) -> Duration {
    let now = strata_storage::manifest::now_ms().max(0) as u64;
    Duration::from_millis(deadline_ms.saturating_sub(now)).saturating_sub(margin)
}

/// Requests made since `before`, by kind.
fn requests(counts: &RequestCounts, before: [u64; 4]) -> Value {
    let now = request_counts(counts);
    json!({
        "get": now[0] - before[0],
        "put": now[1] - before[1],
        "list": now[2] - before[2],
        "delete": now[3] - before[3],
    })
}

fn request_counts(counts: &RequestCounts) -> [u64; 4] {
    [
        counts.get(Operation::Get),
        counts.get(Operation::Put),
        counts.get(Operation::List),
        counts.get(Operation::Delete),
    ]
}

pub(super) async fn compact(store_url: &str, args: &Args, started: Instant) -> CliResult {
    let store = Store::open(store_url)?;
    let compactor = Arc::new(args.compact.compactor(&store, "lambda-compactor"));
    let margin = args.deadline_margin;
    log_init(Role::Compact, started);
    let handler = service_fn(move |e: LambdaEvent<Value>| {
        let (compactor, store) = (compactor.clone(), store.clone());
        async move {
            event::parse("compact", &e.payload).map_err(runtime_error)?;
            let before = request_counts(store.request_counts());
            let left = budget(e.context.deadline, margin);
            let clock = Instant::now();
            let r = compactor
                .run_due(Some(Instant::now() + left))
                .await
                .map_err(runtime_error)?;
            tracing::info!(
                jobs = r.jobs,
                failed = r.failed,
                deferred = r.deferred,
                "compaction pass"
            );
            Ok::<_, lambda_runtime::Error>(json!({
                "jobs": r.jobs,
                "failed": r.failed,
                "busy": r.busy,
                "deferred": r.deferred,
                "inputs": r.inputs,
                "outputs": r.outputs,
                "expired": r.expired,
                "quarantined": r.quarantined,
                "samples_in": r.samples_in,
                "samples_out": r.samples_out,
                "bytes_in": r.bytes_in,
                "bytes_out": r.bytes_out,
                "seconds": clock.elapsed().as_secs_f64(),
                "requests": requests(store.request_counts(), before),
            }))
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|e| e.to_string().into())
}

pub(super) async fn scrape(store_url: &str, args: &Args, started: Instant) -> CliResult {
    let Some(config_url) = args.config.clone() else {
        return Err("the scrape role needs STRATA_CONFIG (a file or s3:// object)".into());
    };
    let store = Store::open(store_url)?;
    let margin = args.deadline_margin;
    log_init(Role::Scrape, started);
    let handler = service_fn(move |e: LambdaEvent<Value>| {
        let (store, config_url) = (store.clone(), config_url.clone());
        async move {
            let scheduled = event::parse("scrape", &e.payload).map_err(runtime_error)?;
            let before = request_counts(store.request_counts());
            let clock = Instant::now();
            let text = read_config(&config_url).await.map_err(runtime_error)?;
            let config = Config::parse(&text)
                .map_err(|err| runtime_error(format!("{config_url}: {err}")))?;
            let shard = Shard::new(scheduled.shard, scheduled.shards).map_err(runtime_error)?;
            let buffer = WriteBuffer::new(
                Manifest::new(store.clone(), writer_name("lambda-scrape")),
                BufferOptions {
                    flush_interval: Duration::from_secs(3600),
                    ..Default::default()
                },
            );
            let manager = ScrapeManager::new(None, buffer.clone(), shard);
            manager.apply(config).await.map_err(runtime_error)?;
            // Scrape loops stop quietly and finish a scrape in flight (within its timeout,
            // at most 5 s): keep that much back too.
            let left = budget(e.context.deadline, margin).saturating_sub(Duration::from_secs(5));
            let window = manager
                .longest_interval()
                .await
                .unwrap_or(Duration::from_secs(60))
                .min(left);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let running = tokio::spawn(manager.clone().run(crate::cmd::scrape::stopped(stop_rx)));
            tokio::time::sleep(window).await;
            let view = manager.targets().await;
            let _ = stop_tx.send(true);
            let _ = running.await;
            let flushed = buffer.flush().await.map_err(runtime_error)?;
            let up = view
                .active
                .iter()
                .filter(|t| t.health.health == "up")
                .count();
            tracing::info!(
                targets = view.active.len(),
                up,
                samples = flushed.samples,
                "scrape round"
            );
            Ok::<_, lambda_runtime::Error>(json!({
                "shard": scheduled.shard,
                "shards": scheduled.shards,
                "targets": view.active.len(),
                "up": up,
                "samples": flushed.samples,
                "blocks": flushed.blocks,
                "seconds": clock.elapsed().as_secs_f64(),
                "requests": requests(store.request_counts(), before),
            }))
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|e| e.to_string().into())
}

/// The configuration's text, from a file or an object URL.
async fn read_config(url: &str) -> Result<String, String> {
    let bytes = if url.contains("://") {
        Store::read_url(url)
            .await
            .map_err(|e| format!("cannot read {url}: {e}"))?
            .ok_or_else(|| format!("{url} does not exist"))?
    } else {
        tokio::fs::read(url)
            .await
            .map_err(|e| format!("cannot read {url}: {e}"))?
            .into()
    };
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{url} is not UTF-8 text"))
}
