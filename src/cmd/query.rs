//! `strata query`: evaluate PromQL against a store from the command line.

use std::time::Duration;

use strata_query::{Engine, EngineOptions, QueryValue, format_float};
use strata_storage::{Manifest, Store, manifest::now_ms};

use super::{CliResult, format_ms, parse_duration, writer_name};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The PromQL expression.
    expr: String,
    /// Evaluation time of an instant query: RFC 3339 or Unix seconds (default: now).
    #[arg(long, conflicts_with_all = ["start", "end"])]
    time: Option<String>,
    /// Start of a range query (RFC 3339 or Unix seconds).
    #[arg(long, requires = "end")]
    start: Option<String>,
    /// End of a range query (RFC 3339 or Unix seconds).
    #[arg(long, requires = "start")]
    end: Option<String>,
    /// Step of a range query.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    step: Duration,
    /// How far back an instant selector looks for a sample.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    lookback_delta: Duration,
    /// Coarsest downsampled data to read: `auto` (the coarsest resolution whose windows tile
    /// every range and step, answering exactly as raw data), `raw`/`0s`, `5m` or `1h`.
    #[arg(long = "max-source-resolution", default_value = "auto", value_parser = strata_query::SourceResolution::parse)]
    max_source_resolution: strata_query::SourceResolution,
    /// Print what the query read (samples, downsampled rows) on stderr.
    #[arg(long)]
    stats: bool,
    /// Print the plan instead of evaluating.
    #[arg(long)]
    explain: bool,
}

/// Parses RFC 3339 or (fractional) Unix seconds into ms.
fn parse_time(s: &str) -> Result<i64, String> {
    strata_api::params::parse_time(s)
        .map_err(|e| format!("invalid time: {e} (use RFC 3339 or Unix seconds)"))
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let store = Store::open(store_url)?;
    let options = EngineOptions {
        lookback: args.lookback_delta,
        max_source_resolution: args.max_source_resolution,
        ..Default::default()
    };
    let engine = Engine::new(store.clone(), options);
    let range = match (&args.start, &args.end) {
        (Some(s), Some(e)) => Some((parse_time(s)?, parse_time(e)?)),
        _ => None,
    };
    let step = i64::try_from(args.step.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    if args.explain {
        let (start, end) = range.unwrap_or_else(|| {
            let t = args
                .time
                .as_deref()
                .map(parse_time)
                .and_then(Result::ok)
                .unwrap_or_else(now_ms);
            (t, t)
        });
        println!("{}", engine.explain(&args.expr, start, end, step)?);
        return Ok(());
    }
    let snapshot = Manifest::new(store, writer_name("query"))
        .snapshot()
        .await?;
    let out = match range {
        Some((start, end)) => engine.range(snapshot, &args.expr, start, end, step).await?,
        None => {
            let t = match &args.time {
                Some(t) => parse_time(t)?,
                None => now_ms(),
            };
            engine.instant(snapshot, &args.expr, t).await?
        }
    };
    if args.stats {
        eprintln!(
            "samples: {}, downsampled rows: {}, raw samples aggregated: {}",
            out.stats.samples, out.stats.downsampled_rows, out.stats.raw_samples_aggregated
        );
    }
    for w in &out.annotations.warnings {
        eprintln!("warning: {w}");
    }
    for i in &out.annotations.infos {
        eprintln!("info: {i}");
    }
    match out.value {
        QueryValue::Scalar { t, v } => println!("scalar: {} @[{}]", format_float(v), format_ms(t)),
        QueryValue::String { t, s } => println!("string: {s:?} @[{}]", format_ms(t)),
        QueryValue::Vector(samples) => {
            for s in samples {
                println!(
                    "{} => {} @[{}]",
                    s.labels,
                    format_float(s.v),
                    format_ms(s.t)
                );
            }
        }
        QueryValue::Matrix(series) => {
            for s in series {
                println!("{} =>", s.labels);
                for (t, v) in s.points {
                    println!("  {} @[{}]", format_float(v), format_ms(t));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.5"), Ok(1_700_000_000_500));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert!(parse_time("yesterday").is_err());
    }
}
