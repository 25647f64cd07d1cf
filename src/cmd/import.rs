//! `strata import`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use strata_ingest::exposition::Format;
use strata_ingest::import::DEFAULT_BLOCK_DURATION;
use strata_ingest::{ImportOptions, ImportProgress, import_file};
use strata_storage::{Manifest, Store};

use super::{CliResult, format_ms, parse_duration, writer_name};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum FormatArg {
    /// OpenMetrics when the file ends with `# EOF`, else Prometheus text.
    Auto,
    /// OpenMetrics 1.0 (timestamps in seconds).
    Openmetrics,
    /// Prometheus text 0.0.4 (timestamps in milliseconds).
    Prometheus,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file to import; every sample needs a timestamp.
    file: PathBuf,
    /// Width of the aligned time windows blocks are cut at.
    #[arg(long, default_value = "2h", value_parser = parse_duration)]
    block_duration: Duration,
    /// Input format.
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
    /// Do not draw a progress bar.
    #[arg(long)]
    quiet: bool,
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let store = Store::open_checked(store_url).await?;
    let manifest = Manifest::new(store, writer_name("import"));
    let options = ImportOptions {
        block_duration: if args.block_duration.is_zero() {
            DEFAULT_BLOCK_DURATION
        } else {
            args.block_duration
        },
        format: match args.format {
            FormatArg::Auto => None,
            FormatArg::Openmetrics => Some(Format::OpenMetrics),
            FormatArg::Prometheus => Some(Format::Prometheus),
        },
        ..Default::default()
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    let bytes_style = ProgressStyle::with_template(
        "parsing  {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    )?;
    let blocks_style = ProgressStyle::with_template("writing  {bar:40} {pos}/{len} blocks")?;
    let progress_bar = bar.clone();
    let progress = Arc::new(move |p: ImportProgress| match p {
        ImportProgress::Parsing { done, total } => {
            if progress_bar.length() != Some(total) {
                progress_bar.set_style(bytes_style.clone());
                progress_bar.set_length(total);
            }
            progress_bar.set_position(done);
        }
        ImportProgress::Writing { done, total } => {
            if done == 0 {
                progress_bar.set_style(blocks_style.clone());
                progress_bar.set_length(total);
            }
            progress_bar.set_position(done);
        }
        ImportProgress::Committing => progress_bar.set_message("committing"),
    });
    let summary = import_file(&manifest, &args.file, &options, progress).await;
    bar.finish_and_clear();
    let s = summary?;
    println!(
        "imported {} into {} (manifest seq {})",
        args.file.display(),
        manifest.store(),
        s.seq
    );
    println!("  series        {}", s.series);
    println!("  samples       {}", s.samples);
    println!("  blocks        {}", s.blocks);
    println!(
        "  time range    {} .. {}",
        format_ms(s.min_time),
        format_ms(s.max_time)
    );
    println!("  bytes         {}", s.bytes);
    println!("  bytes/sample  {:.3}", s.bytes_per_sample());
    if s.duplicates > 0 {
        println!(
            "  duplicates    {} (same series and timestamp; the last one was kept)",
            s.duplicates
        );
    }
    let secs = s.total_time.as_secs_f64().max(1e-9);
    println!(
        "  took          {:.2}s ({:.0} samples/s; parsing {:.2}s)",
        secs,
        s.samples as f64 / secs,
        s.parse_time.as_secs_f64()
    );
    Ok(())
}
