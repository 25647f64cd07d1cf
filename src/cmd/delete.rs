//! `strata delete`: Prometheus' `delete_series` from the command line. Commits a deletion
//! request (series selectors and a time range) to the manifest: the data is invisible to every
//! query, series and label lookup from that commit on, and the compactor removes it from the
//! blocks once the request is `--delete.rewrite-after` old (at once with `--clean-tombstones`).

use strata_storage::{DeleteRequest, Manifest, Store, Transaction};

use super::{CliResult, format_ms, writer_name};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Series selector of the series to delete (repeatable; a series matching any is deleted),
    /// e.g. '{job="node",instance="a:9100"}'.
    #[arg(long = "match", required = true)]
    matches: Vec<String>,
    /// Start of the deleted range (RFC 3339 or Unix seconds); default: the beginning of time.
    #[arg(long)]
    start: Option<String>,
    /// End of the deleted range (RFC 3339 or Unix seconds, inclusive); default: the end of time.
    #[arg(long)]
    end: Option<String>,
    /// Also remove the deleted samples from the blocks now, as Prometheus' clean_tombstones.
    #[arg(long)]
    clean_tombstones: bool,
    /// Compaction settings used by --clean-tombstones.
    #[command(flatten)]
    compact: super::compact::CompactArgs,
}

fn time(arg: &Option<String>, default: i64) -> Result<i64, String> {
    arg.as_deref()
        .map_or(Ok(default), strata_api::params::parse_time)
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let selectors = args
        .matches
        .iter()
        .map(|m| {
            strata_query::parse_series_selector(m)
                .map_err(|e| format!("invalid --match {m:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start = time(&args.start, strata_api::params::MIN_TIME)
        .map_err(|e| format!("invalid --start: {e}"))?;
    let end =
        time(&args.end, strata_api::params::MAX_TIME).map_err(|e| format!("invalid --end: {e}"))?;
    if end < start {
        return Err("--end must not be before --start".into());
    }
    let store = Store::open_checked(store_url).await?;
    let manifest = Manifest::new(store.clone(), writer_name("delete"));
    let request = DeleteRequest {
        selectors,
        start,
        end,
        requested_at_ms: strata_storage::manifest::now_ms(),
    };
    let seq = manifest
        .commit(Transaction::empty().deleting(request))
        .await?;
    println!(
        "deletion request committed at seq {seq}: {} selector(s) from {} to {}",
        args.matches.len(),
        format_ms(start),
        format_ms(end)
    );
    if args.clean_tombstones {
        let report = args
            .compact
            .compactor(&store, "delete")
            .clean_tombstones(None)
            .await?;
        println!("cleaned: rewrites={} failed={}", report.jobs, report.failed);
        if report.failed > 0 {
            return Err(format!(
                "{} rewrite(s) failed; the compactor retries them",
                report.failed
            )
            .into());
        }
    }
    Ok(())
}
