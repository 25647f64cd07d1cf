//! `strata lambda`: the same binary as AWS Lambda's `bootstrap`, one role per function.
//!
//! Lambda starts `bootstrap` with no arguments; [`bootstrap_argv`] turns that into
//! `strata lambda` with Lambda's defaults (a 25 s query timeout under the HTTP API's 30 s,
//! a 10 s manifest refresh, the cache's disk tier in `/tmp`, half the function's memory for
//! the memory tier) followed by the words of `STRATA_ARGS`, so every flag of the long-running
//! commands is available. `STRATA_LAMBDA_ROLE` picks the role, `STRATA_STORE` the bucket:
//!
//! - `query`: the Prometheus HTTP API ([`http`]) for API Gateway HTTP API (payload 2.0) and
//!   Function URL events, through the router of `strata serve`; the read cache lives as long
//!   as the execution environment;
//! - `write`: the same router with remote write committing inside each request (one block
//!   and one manifest record) before it answers, since the environment may be frozen right
//!   after;
//! - `compact`: a scheduled event runs the compactor's due jobs until the invocation's
//!   deadline minus `--lambda.deadline-margin` ([`schedule`]);
//! - `scrape`: a scheduled event `{"shard": I, "shards": N}` scrapes that shard of the
//!   configuration's targets (`STRATA_CONFIG`, a file or an `s3://` object, read at each
//!   invocation) for one scrape interval, commits, and returns;
//! - `authorizer`: an HTTP API REQUEST authorizer (simple responses) that accepts the bearer
//!   token whose SHA-256 is `STRATA_BEARER_TOKEN_SHA256` ([`authorizer`]).
//!
//! Nothing runs between invocations (Lambda freezes the process): manifest refreshes,
//! commits and compaction all happen inside one. The runtime loop is the official
//! `lambda_runtime` crate; a malformed event gets an error response and the process keeps
//! serving.

mod authorizer;
mod event;
mod http;
mod schedule;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use super::compact::CompactArgs;
use super::serve::QueryArgs;
use super::{CliResult, parse_duration};

/// The function's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    Query,
    Write,
    Compact,
    Scrape,
    Authorizer,
}

#[derive(Debug, clap::Args)]
#[command(args_override_self = true)]
pub(crate) struct Args {
    /// The function's role.
    #[arg(long, env = "STRATA_LAMBDA_ROLE", value_enum)]
    role: Role,
    /// Query settings and the read cache (`query`, `write`).
    #[command(flatten)]
    query: QueryArgs,
    /// Compaction settings (`compact`; `--dedup.replica-label` for `query` too).
    #[command(flatten)]
    compact: CompactArgs,
    /// `scrape`: the Prometheus configuration, a file or an object (`s3://bucket/key`),
    /// read at each invocation.
    #[arg(long, env = "STRATA_CONFIG")]
    config: Option<String>,
    /// Time kept back from each invocation's deadline to commit and answer.
    #[arg(long = "lambda.deadline-margin", default_value = "10s", value_parser = parse_duration)]
    deadline_margin: Duration,
    /// `authorizer`: hex SHA-256 of the bearer token to accept.
    #[arg(long = "authorizer.token-sha256", env = "STRATA_BEARER_TOKEN_SHA256")]
    token_sha256: Option<String>,
}

/// Variables the Lambda runtime sets (`lambda_runtime` needs them all).
const LAMBDA_VARIABLES: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Whether this process is a Lambda function's `bootstrap`: started under that name, or
/// with no arguments where the Runtime API is set.
pub(crate) fn started_as_bootstrap() -> bool {
    let mut args = std::env::args_os();
    let named = args
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n == "bootstrap")
        })
        .unwrap_or(false);
    named || (args.next().is_none() && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some())
}

/// The command line of a `bootstrap` process: `strata lambda`, Lambda's defaults, then
/// `STRATA_QUERY_TIMEOUT` and the words of `STRATA_ARGS` (later flags win).
pub(crate) fn bootstrap_argv() -> Vec<OsString> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    argv_from(
        env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|m| m.parse().ok()),
        env("STRATA_QUERY_TIMEOUT"),
        env("STRATA_ARGS"),
    )
}

fn argv_from(
    memory_mb: Option<u64>,
    query_timeout: Option<String>,
    extra: Option<String>,
) -> Vec<OsString> {
    // Half the function's memory for the cache's memory tier; the rest for queries.
    let cache_mb = memory_mb.map_or(256, |m| (m / 2).max(32));
    let mut argv: Vec<String> = [
        "strata",
        "lambda",
        "--query-timeout",
        "25s",
        "--manifest-refresh",
        "10s",
        "--cache-dir",
        "/tmp/strata-cache",
        "--cache-disk-size",
        "384MiB",
    ]
    .map(String::from)
    .into();
    argv.extend(["--cache-size".into(), format!("{cache_mb}MiB")]);
    if let Some(t) = query_timeout {
        argv.extend(["--query-timeout".into(), t]);
    }
    if let Some(extra) = extra {
        argv.extend(extra.split_whitespace().map(String::from));
    }
    argv.into_iter().map(OsString::from).collect()
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let started = Instant::now();
    if let Some(missing) = LAMBDA_VARIABLES
        .iter()
        .find(|v| std::env::var_os(v).is_none())
    {
        return Err(format!("not in a Lambda environment: {missing} is not set").into());
    }
    if args.role != Role::Authorizer && std::env::var_os(strata_storage::STORE_ENV).is_none() {
        return Err(format!("{} is not set", strata_storage::STORE_ENV).into());
    }
    match args.role {
        Role::Query => http::run(store_url, &args, false, started).await,
        Role::Write => http::run(store_url, &args, true, started).await,
        Role::Compact => schedule::compact(store_url, &args, started).await,
        Role::Scrape => schedule::scrape(store_url, &args, started).await,
        Role::Authorizer => authorizer::run(&args, started).await,
    }
}

/// Logs the end of initialisation (Lambda's INIT phase) with its duration.
fn log_init(role: Role, started: Instant) {
    tracing::info!(
        role = ?role,
        init_ms = started.elapsed().as_secs_f64() * 1e3,
        "lambda initialised"
    );
}

/// Converts an error into the runtime's error type (reported to the Runtime API).
fn runtime_error(e: impl std::fmt::Display) -> lambda_runtime::Error {
    e.to_string().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_command_line() {
        let argv = argv_from(
            Some(1024),
            Some("20s".into()),
            Some(" --role query --retention.raw 30d ".into()),
        );
        let words: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(&words[..2], ["strata", "lambda"]);
        let pos = |flag: &str| words.iter().rposition(|w| w == flag).unwrap();
        assert_eq!(words[pos("--cache-size") + 1], "512MiB");
        assert_eq!(
            words[pos("--query-timeout") + 1],
            "20s",
            "the variable wins"
        );
        assert_eq!(&words[words.len() - 2..], ["--retention.raw", "30d"]);
        // Later flags override earlier ones: the parsed command takes the last.
        let cli = <crate::Cli as clap::Parser>::try_parse_from(&argv).unwrap();
        let crate::Command::Lambda(args) = cli.command else {
            panic!("not the lambda command")
        };
        assert_eq!(args.query.query_timeout, Duration::from_secs(20));
    }
}
