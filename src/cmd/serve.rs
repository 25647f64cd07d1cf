//! `strata serve` (the all-in-one process) and `strata query-server` (the stateless query
//! tier alone): Prometheus' HTTP API over a store, through a read cache.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strata_api::{ApiConfig, ApiState};
use strata_ingest::{BufferOptions, WriteBuffer};
use strata_query::EngineOptions;
use strata_storage::{BlockCache, CacheConfig, Manifest, Store};

use super::scrape::stopped;
use super::{CliResult, parse_duration};

/// Default listen address: Prometheus' port, loopback only (pass 0.0.0.0:9090 to expose).
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:9090";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to serve the HTTP API on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Prometheus' web configuration file (exporter-toolkit format): `basic_auth_users`
    /// (bcrypt hashes), `tls_server_config`, `http_server_config.headers`.
    #[arg(long = "web.config.file")]
    web_config: Option<PathBuf>,
    /// Query settings and the read cache.
    #[command(flatten)]
    pub(crate) query: QueryArgs,
    /// `serve` only: how often samples received by remote write are committed as blocks
    /// (the most a crash can lose). `query-server` receives nothing.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    flush_interval: Duration,
    /// `serve` only: scraping (`--config`, `--shard`, `--shards`).
    #[command(flatten)]
    scrape: super::scrape::ScrapeArgs,
    /// Serve the TSDB admin endpoints (`/api/v1/admin/tsdb/delete_series` and
    /// `clean_tombstones`), as Prometheus' flag of the same name.
    #[arg(long = "web.enable-admin-api")]
    enable_admin_api: bool,
    /// `serve` only: do not run the compactor in this process (run `strata compact`
    /// elsewhere, or nothing merges what is flushed).
    #[arg(long)]
    no_compact: bool,
    /// `serve` only: how often the embedded compactor runs a pass.
    #[arg(long = "compact.interval", default_value = "1m", value_parser = parse_duration)]
    compact_interval: Duration,
    /// `serve` only: compaction settings.
    #[command(flatten)]
    compact: super::compact::CompactArgs,
}

/// Settings of the query path, shared by `strata serve`, `strata query-server` and the
/// Lambda query role.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct QueryArgs {
    /// Memory budget of the read cache (footers, series tables, data pages), e.g. 512MiB, 2GiB.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    pub(crate) cache_size: u64,
    /// Directory of an optional disk tier of the cache (data pages; kept across restarts).
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Budget of the disk tier.
    #[arg(long, default_value = "10GiB", value_parser = parse_size)]
    pub(crate) cache_disk_size: u64,
    /// How stale the manifest snapshot may be; 0s lists the manifest log on every request, so
    /// that data is queryable as soon as its commit lands.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub(crate) manifest_refresh: Duration,
    /// How far back an instant selector looks for a sample.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub(crate) lookback_delta: Duration,
    /// Longest a query may run (requests may ask for less with `timeout`).
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub(crate) query_timeout: Duration,
    /// Most samples a query may load or produce.
    #[arg(long, default_value_t = 50_000_000)]
    pub(crate) query_max_samples: usize,
    /// Most queries evaluated at once; more wait (within their timeout), as Prometheus'
    /// --query.max-concurrency.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub(crate) query_max_concurrency: usize,
}

impl QueryArgs {
    /// The read cache these settings describe.
    pub(crate) fn cache(&self) -> Result<BlockCache, String> {
        BlockCache::new(&CacheConfig {
            memory_bytes: self.cache_size,
            disk_dir: self.cache_dir.clone(),
            disk_bytes: self.cache_disk_size,
        })
        .map_err(|e| format!("cannot open the cache directory: {e}"))
    }

    /// The API's settings (engine limits, manifest refresh, concurrency).
    pub(crate) fn api_config(
        &self,
        replica_labels: &[String],
        enable_admin_api: bool,
    ) -> ApiConfig {
        ApiConfig {
            engine: EngineOptions {
                lookback: self.lookback_delta,
                max_samples: self.query_max_samples,
                timeout: self.query_timeout,
                replica_labels: replica_labels.to_vec(),
                ..Default::default()
            },
            manifest_refresh: self.manifest_refresh,
            enable_admin_api,
            max_concurrency: self.query_max_concurrency,
            ..Default::default()
        }
    }
}

/// Parses sizes like `512MiB`, `2GiB`, `100MB`, `4096`.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (use e.g. 512MiB, 2GiB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("invalid size unit {other:?} in {s:?}")),
    };
    Ok((n * mult) as u64)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serves the API until SIGINT/SIGTERM; `role` names the process in its start-up line.
pub(crate) async fn run(store_url: &str, args: Args, role: &str) -> CliResult {
    let cache = args.query.cache()?;
    // The all-in-one process writes (remote write): its store must pass the conditional-write
    // check; the query tier only reads.
    let receives = role == "serve";
    if !receives && args.scrape.config.is_some() {
        return Err("query-server does not scrape: use strata serve or strata scrape".into());
    }
    // The admin API commits deletion requests: it needs a store that passes the check too.
    let store = if receives || args.enable_admin_api {
        Store::open_checked(store_url).await?
    } else {
        Store::open(store_url)?
    }
    .with_cache(Arc::new(cache));
    let writer = receives.then(|| {
        WriteBuffer::new(
            Manifest::new(store.clone(), super::writer_name("receiver")),
            BufferOptions {
                flush_interval: args.flush_interval,
                ..Default::default()
            },
        )
    });
    let config = args
        .query
        .api_config(&args.compact.replica_labels, args.enable_admin_api);
    let config_engine = config.engine.clone();
    let state = ApiState::new(store.clone(), config, writer.clone());
    // Fail fast on an unreadable store rather than on the first request.
    state
        .snapshot()
        .await
        .map_err(|e| format!("cannot read the manifest of {store}: {}", e.message))?;
    // Pay the first evaluation's one-off costs before the first user query does.
    match strata_query::warm_up(&EngineOptions::default()).await {
        Ok(took) => tracing::debug!(?took, "engine warmed up"),
        Err(e) => tracing::warn!(error = %e, "engine warm-up failed"),
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // The compactor of this process: scheduled in `serve`, and behind `clean_tombstones`
    // wherever the admin API is on.
    let compactor = ((receives && !args.no_compact) || args.enable_admin_api)
        .then(|| Arc::new(args.compact.compactor(&store, "serve-compactor")));
    if let Some(c) = &compactor
        && args.enable_admin_api
    {
        let c = c.clone();
        state.set_tombstone_cleaner(strata_api::AsyncAction(Arc::new(move || {
            let c = c.clone();
            Box::pin(async move {
                let r = c.clean_tombstones(None).await.map_err(|e| e.to_string())?;
                tracing::info!(jobs = r.jobs, failed = r.failed, "tombstones cleaned");
                if r.failed > 0 {
                    return Err(format!(
                        "{} of {} rewrites failed (see the log; the next pass retries them)",
                        r.failed,
                        r.jobs + r.failed
                    ));
                }
                Ok(())
            })
        })));
    }
    // Extra `/metrics` sections: the compactor's and the notifier's.
    let mut extra: Vec<Arc<dyn Fn() -> String + Send + Sync>> = Vec::new();
    let compactor = compactor
        .filter(|_| receives && !args.no_compact)
        .map(|compactor| {
            let stats = compactor.stats();
            extra.push(Arc::new(move || {
                stats.render(strata_storage::manifest::now_ms())
            }));
            let stop = stopped(stop_rx.clone());
            let interval = args.compact_interval;
            let c = compactor.clone();
            tokio::spawn(async move { c.run(interval, stop).await })
        });
    let scraper = match &writer {
        Some(w) => super::scrape::start(&args.scrape, w, &stop_rx).await?,
        None => None,
    };
    // The rules of the same configuration file, evaluated into the same write buffer.
    let evaluator = match (&writer, &args.scrape.config) {
        (Some(w), Some(config)) => {
            let options = strata_rules::evaluator::EvaluatorOptions {
                engine: config_engine.clone(),
                ..Default::default()
            };
            super::rules::start_evaluator(&store, w, config, options, &stop_rx)?
        }
        _ => None,
    };
    if let Some((evaluator, _)) = &evaluator {
        state.set_rules(evaluator.groups());
        let notifier = evaluator.notifier();
        extra.push(Arc::new(move || notifier.metrics()));
    }
    if let Some((manager, _)) = &scraper {
        let m = manager.clone();
        extra.push(Arc::new(move || m.monitor_metrics()));
    }
    if !extra.is_empty() {
        state.set_extra_metrics(strata_api::ExtraMetrics(Arc::new(move || {
            extra.iter().map(|f| f()).collect()
        })));
    }
    if let Some((manager, _)) = &scraper {
        state.set_scraper(manager.clone());
    }
    // SIGHUP and `/-/reload` re-read the file into the scrape manager and the evaluator.
    let reloadables = super::reload::Reloadables {
        scraper: scraper.as_ref().map(|(m, _)| m.clone()),
        rules: evaluator
            .as_ref()
            .zip(args.scrape.config.as_ref())
            .map(|((e, _), path)| (e.clone(), path.clone())),
    };
    if !reloadables.is_empty() {
        reloadables.on_sighup(&stop_rx)?;
        state.set_reloader(reloadables.action());
    }
    let web = super::web_config(args.web_config.as_deref(), args.listen)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if web
        .as_ref()
        .is_some_and(|w| w.current().tls_server_config.is_some())
    {
        "https"
    } else {
        "http"
    };
    eprintln!("strata {role}: serving the Prometheus API of {store} on {scheme}://{addr}");
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let last_flush = writer.clone();
    let flusher = writer.map(|w| {
        let state = state.clone();
        tokio::spawn(w.run(stopped(stop_rx.clone()), move |result| {
            if matches!(result, Ok(s) if s.samples > 0) {
                state.invalidate_snapshot();
            }
            super::scrape::log_flush(result);
        }))
    });
    strata_api::serve(listener, state, stopped(stop_rx), web).await?;
    if let Some((_, task)) = scraper {
        task.await?;
    }
    if let Some(task) = compactor {
        task.await?;
    }
    if let Some((_, task)) = evaluator {
        task.await?;
    }
    if let Some(flusher) = flusher {
        // The flusher's last flush commits what was accepted before the signal…
        flusher.await?;
    }
    if let Some(w) = last_flush {
        // …and this one what scrapes still in flight appended after it.
        super::scrape::log_flush(&w.flush().await);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5XB").is_err());
    }
}
