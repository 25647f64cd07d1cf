//! `strata`: one binary, one subcommand per job.
//!
//! Every subcommand takes `--store URL` (or `STRATA_STORE`; default `./data`, the embedded
//! local store). Commands that write check first that the store honours conditional writes.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// mimalloc: queries allocate many short-lived vectors; it beats glibc's malloc on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "Object-storage-native time-series database that speaks Prometheus"
)]
struct Cli {
    /// Object store: file:///path, a local path, s3://bucket/prefix (AWS_* variables configure
    /// S3, AWS_ENDPOINT_URL and AWS_ALLOW_HTTP S3-compatible servers) or memory://.
    #[arg(long, global = true, env = "STRATA_STORE", default_value = strata_storage::DEFAULT_STORE)]
    store: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Backfill from an OpenMetrics or Prometheus text file with timestamps.
    Import(cmd::import::Args),
    /// List committed blocks, or dump one series' samples.
    Inspect(cmd::inspect::Args),
    /// Checkpoint the manifest and delete expired, removed and orphaned objects.
    Gc(cmd::gc::Args),
    /// Merge flushed blocks, enforce retention, deduplicate HA replicas and remove deleted
    /// data (once, or every --interval).
    Compact(cmd::compact::Args),
    /// Delete series in a time range (as Prometheus' delete_series): invisible at once,
    /// removed from the blocks by the compactor.
    Delete(cmd::delete::Args),
    /// Evaluate a PromQL expression (instant, or range with --start/--end/--step).
    Query(cmd::query::Args),
    /// Run Strata: the Prometheus HTTP API over the store (the all-in-one process).
    Serve(cmd::serve::Args),
    /// Run a stateless scrape worker: scrape the targets of a Prometheus configuration
    /// (optionally one shard of them) into the store.
    Scrape(cmd::scrape::Args),
    /// Run the stateless query tier alone (Prometheus HTTP API), for scale-out behind a balancer.
    QueryServer(cmd::serve::Args),
    /// Run as an AWS Lambda function (what `bootstrap` runs): the role comes from
    /// STRATA_LAMBDA_ROLE, the store from STRATA_STORE, more flags from STRATA_ARGS.
    Lambda(cmd::lambda::Args),
    /// Evaluate recording and alerting rules (`--config FILE`, optionally one shard of the
    /// groups); `strata rules check FILE…` and `strata rules test FILE…` work as `promtool
    /// check rules` and `promtool test rules`.
    Rules(cmd::rules::Args),
}

/// Exit status of a process killed by SIGPIPE, as Go programs (promtool) and coreutils end
/// when their reader goes away.
const CLOSED_PIPE_EXIT: i32 = 128 + 13;

/// A closed stdout (`strata inspect | head`) ends the process quietly, as a Go program would
/// end on SIGPIPE; any other panic is one line on stderr, never a backtrace.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("panic");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(CLOSED_PIPE_EXIT);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error (please report it): {msg}{at}");
    }));
}

fn main() -> ExitCode {
    quiet_panics();
    // Lambda starts `bootstrap` without arguments: the command line comes from the
    // environment, logs go to CloudWatch without colours (as JSON lines when the function's
    // log format is JSON), at `info` unless RUST_LOG says otherwise.
    let lambda = cmd::lambda::started_as_bootstrap();
    let cli = if lambda {
        Cli::parse_from(cmd::lambda::bootstrap_argv())
    } else {
        Cli::parse()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if lambda { "info" } else { "warn" })
    });
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if lambda && std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f == "JSON") {
        logs.json().with_ansi(false).init();
    } else if lambda {
        logs.with_ansi(false).init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Import(args) => cmd::import::run(&cli.store, args).await,
            Command::Inspect(args) => cmd::inspect::run(&cli.store, args).await,
            Command::Gc(args) => cmd::gc::run(&cli.store, args).await,
            Command::Compact(args) => cmd::compact::run(&cli.store, args).await,
            Command::Delete(args) => cmd::delete::run(&cli.store, args).await,
            Command::Query(args) => cmd::query::run(&cli.store, args).await,
            Command::Serve(args) => cmd::serve::run(&cli.store, args, "serve").await,
            Command::Scrape(args) => cmd::scrape::run(&cli.store, args).await,
            Command::QueryServer(args) => cmd::serve::run(&cli.store, args, "query-server").await,
            Command::Rules(args) => cmd::rules::run(&cli.store, args).await,
            Command::Lambda(args) => cmd::lambda::run(&cli.store, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Checks print their own messages, as promtool does: only the status is left.
        Err(e) if e.is::<cmd::rules::ChecksFailed>() => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
