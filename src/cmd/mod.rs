//! Subcommands.

pub(crate) mod compact;
pub(crate) mod delete;
pub(crate) mod gc;
pub(crate) mod import;
pub(crate) mod inspect;
pub(crate) mod lambda;
pub(crate) mod query;
pub(crate) mod reload;
pub(crate) mod rules;
pub(crate) mod scrape;
pub(crate) mod serve;

use std::time::Duration;

/// Errors of the CLI: printed as one line.
pub(crate) type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Parses durations like `2h`, `90m`, `1d`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Formats a ms timestamp as RFC 3339 (UTC), any year.
pub(crate) fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The `--web.config.file` of a listener (basic authentication, TLS), checked now. Without
/// one, a listener beyond loopback is open to anyone who reaches it: that is logged.
pub(crate) fn web_config(
    path: Option<&std::path::Path>,
    listen: std::net::SocketAddr,
) -> Result<Option<std::sync::Arc<strata_api::WebConfigFile>>, String> {
    match path {
        Some(p) => strata_api::WebConfigFile::open(p)
            .map(Some)
            .map_err(|e| e.to_string()),
        None => {
            if !listen.ip().is_loopback() {
                tracing::warn!(
                    %listen,
                    "listening beyond loopback without --web.config.file: no authentication, no TLS"
                );
            }
            Ok(None)
        }
    }
}

/// A name for this process in manifest records: its role, host (on Lambda, the execution
/// environment's log stream) and process id.
pub(crate) fn writer_name(role: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_STREAM_NAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("{role}@{host}/{}", std::process::id())
}
