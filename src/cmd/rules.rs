//! `strata rules`: Prometheus rule files from the command line, as promtool handles them.
//! `strata rules check FILE…` reads and validates rule files as `promtool check rules` does —
//! same output (`Checking F`, `SUCCESS: N rules found`, or `FAILED:` and Prometheus' messages
//! on stderr), same duplicate-rules lint. `strata rules test FILE…` runs `promtool test rules`
//! unit-test files through Strata's own rule evaluation, with promtool's output. Both exit
//! with status 1 when any file fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use strata_ingest::{BufferOptions, WriteBuffer};
use strata_query::EngineOptions;
use strata_rules::config::RulesConfig;
use strata_rules::evaluator::{Evaluator, EvaluatorOptions};
use strata_rules::rulefmt::RuleGroups;
use strata_storage::{Manifest, Store};

use super::scrape::{StopRx, stopped};
use super::{CliResult, parse_duration};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<RulesCommand>,
    #[command(flatten)]
    run: RunArgs,
}

/// `strata rules --config FILE`: an evaluator alone.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Prometheus configuration file: its `rule_files`, `global` (evaluation_interval,
    /// rule_query_offset, external_labels) and `alerting` sections.
    #[arg(long, required = true)]
    config: Option<PathBuf>,
    /// This evaluator's shard of the rule groups, 0-based.
    #[arg(long, default_value_t = 0)]
    shard: u64,
    /// Number of evaluators sharing the groups (each with its own --shard).
    #[arg(long, default_value_t = 1)]
    shards: u64,
    /// The URL alerts link back to (generatorURL, $externalURL in templates).
    #[arg(long = "web.external-url", default_value = "")]
    external_url: String,
    /// How often recorded samples and alert series are committed as blocks.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    flush_interval: Duration,
    /// Minimum time between two sends of a still-firing alert.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m", value_parser = parse_duration)]
    resend_delay: Duration,
    /// Alerts whose `for` is shorter are not restored after a restart; an alert with less
    /// than this left before firing gets this long.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m", value_parser = parse_duration)]
    for_grace_period: Duration,
    /// How long an evaluator may have been down for alert state to be restored.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h", value_parser = parse_duration)]
    for_outage_tolerance: Duration,
}

/// A started evaluator and its task.
pub(crate) type Running = (Arc<Evaluator>, tokio::task::JoinHandle<()>);

/// Starts the evaluator of `config`'s rule files when it names any: outputs go to `writer`.
pub(crate) fn start_evaluator(
    store: &Store,
    writer: &Arc<WriteBuffer>,
    config_path: &Path,
    options: EvaluatorOptions,
    stop: &StopRx,
) -> Result<Option<Running>, String> {
    let config = RulesConfig::load(config_path).map_err(|e| e.to_string())?;
    if config.rule_files.is_empty() {
        return Ok(None);
    }
    let base = config_path.parent().unwrap_or(Path::new("."));
    let evaluator = Arc::new(
        Evaluator::new(store.clone(), writer.clone(), &config, base, options)
            .map_err(|e| e.to_string())?,
    );
    let groups = evaluator.groups().read().map(|g| g.len()).unwrap_or(0);
    tracing::info!(groups, "rule evaluation started");
    let task = tokio::spawn(evaluator.clone().run(stop.clone()));
    Ok(Some((evaluator, task)))
}

/// Runs an evaluator until SIGINT/SIGTERM, then commits what it wrote.
async fn run_evaluator(store_url: &str, args: RunArgs) -> CliResult {
    let Some(config) = args.config else {
        return Err("--config is required".into());
    };
    let store = Store::open_checked(store_url).await?;
    let writer = WriteBuffer::new(
        Manifest::new(store.clone(), super::writer_name("rules")),
        BufferOptions {
            flush_interval: args.flush_interval,
            ..Default::default()
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let options = EvaluatorOptions {
        engine: EngineOptions::default(),
        resend_delay_ms: args.resend_delay.as_millis() as i64,
        shard: (args.shard, args.shards),
        external_url: args.external_url,
        for_grace_period_ms: args.for_grace_period.as_millis() as i64,
        outage_tolerance_ms: args.for_outage_tolerance.as_millis() as i64,
        ..Default::default()
    };
    if args.shard >= args.shards.max(1) {
        return Err(format!(
            "--shard {} is not below --shards {}",
            args.shard, args.shards
        )
        .into());
    }
    let Some((evaluator, task)) = start_evaluator(&store, &writer, &config, options, &stop_rx)?
    else {
        return Err(format!("{}: no rule_files to evaluate", config.display()).into());
    };
    // SIGHUP re-reads the rule files and the `alerting` section; unchanged rules keep their
    // state.
    super::reload::Reloadables {
        scraper: None,
        rules: Some((evaluator, config.clone())),
    }
    .on_sighup(&stop_rx)?;
    eprintln!(
        "strata rules: evaluating the rules of {} into {store}",
        config.display()
    );
    let flusher = tokio::spawn(
        writer
            .clone()
            .run(stopped(stop_rx.clone()), super::scrape::log_flush),
    );
    super::serve::shutdown_signal().await;
    let _ = stop_tx.send(true);
    task.await?;
    flusher.await?;
    super::scrape::log_flush(&writer.flush().await);
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// Check rule files as `promtool check rules` does (exit status 1 if any is invalid).
    Check {
        /// Rule files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run unit tests of rules in `promtool test rules`' format (exit status 1 if any fails).
    Test {
        /// Unit-test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The files failed their checks: the messages are already printed, only the status is left.
#[derive(Debug, thiserror::Error)]
#[error("")]
pub(crate) struct ChecksFailed;

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let mut failed = false;
    match args.command {
        None => return run_evaluator(store_url, args.run).await,
        Some(RulesCommand::Check { files }) => {
            for file in &files {
                failed |= !check(file);
            }
        }
        Some(RulesCommand::Test { files }) => {
            for file in &files {
                failed |= !test(file).await;
            }
        }
    }
    if failed {
        return Err(Box::new(ChecksFailed));
    }
    Ok(())
}

/// Runs one unit-test file, printing as promtool does; false when a test fails.
async fn test(file: &Path) -> bool {
    println!("Unit Testing:  {}", file.display());
    match strata_rules::unittest::run_file(file).await {
        Ok(()) => {
            println!("  SUCCESS");
            println!();
            true
        }
        Err(errors) => {
            eprintln!("  FAILED:");
            for e in &errors {
                eprintln!("{e}");
                println!();
            }
            println!();
            false
        }
    }
}

/// Checks one file, printing as promtool does; false when it is invalid.
fn check(file: &Path) -> bool {
    println!("Checking {}", file.display());
    match RuleGroups::load(file) {
        Ok(groups) => {
            let duplicates = groups.duplicates();
            if duplicates.is_empty() {
                println!("  SUCCESS: {} rules found", groups.rule_count());
            } else {
                // A lint, not an error: reported as promtool reports it, status unchanged.
                let mut message = format!("{} duplicate rule(s) found.\n", duplicates.len());
                for (name, labels) in &duplicates {
                    message.push_str(&format!("Metric: {name}\nLabel(s):\n"));
                    for (k, v) in labels {
                        message.push_str(&format!("\t{k}: {v}\n"));
                    }
                }
                message.push_str("Might cause inconsistency while recording expressions");
                eprintln!("  FAILED:\nlint error {message}");
            }
            println!();
            true
        }
        Err(e) => {
            eprintln!("  FAILED:");
            for line in &e.errors {
                eprintln!("{line}");
            }
            println!();
            false
        }
    }
}
