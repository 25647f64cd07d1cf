//! `strata inspect`.

use strata_ingest::exposition::parse_series;
use strata_storage::{BlockReader, Manifest, Store};

use super::{CliResult, format_ms, writer_name};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Dump the samples of the series matching these labels, e.g. 'up{job="node"}'
    /// (every label given must match exactly).
    #[arg(long)]
    series: Option<String>,
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let store = Store::open(store_url)?;
    let manifest = Manifest::new(store.clone(), writer_name("inspect"));
    let snapshot = manifest.snapshot().await?;
    let Some(selector) = args.series else {
        println!(
            "store {store}, manifest seq {}, {} blocks",
            snapshot.seq(),
            snapshot.len()
        );
        println!(
            "{:<26}  {:<24}  {:<24}  {:>8}  {:>12}  {:>12}  {:>8}  RES",
            "BLOCK", "MIN TIME", "MAX TIME", "SERIES", "SAMPLES", "BYTES", "B/SAMPLE"
        );
        let (mut samples, mut bytes) = (0u64, 0u64);
        for b in snapshot.blocks() {
            samples += b.samples;
            bytes += b.bytes();
            // SAMPLES counts windows (rows) in aggregate blocks.
            let res = match b.resolution_ms {
                0 => "raw".to_string(),
                r => strata_storage::duration::format_duration(r),
            };
            println!(
                "{:<26}  {:<24}  {:<24}  {:>8}  {:>12}  {:>12}  {:>8.3}  {res}",
                b.id.to_string(),
                format_ms(b.min_time),
                format_ms(b.max_time),
                b.series,
                b.samples,
                b.bytes(),
                b.bytes() as f64 / b.samples.max(1) as f64
            );
        }
        println!(
            "total: {samples} samples, {bytes} bytes, {:.3} bytes/sample",
            bytes as f64 / samples.max(1) as f64
        );
        return Ok(());
    };
    let wanted =
        parse_series(&selector).map_err(|e| format!("invalid --series {selector:?}: {e}"))?;
    let mut blocks: Vec<_> = snapshot.blocks().cloned().collect();
    blocks.sort_by_key(|b| (b.min_time, b.id));
    let mut found = 0usize;
    for meta in blocks {
        let reader = BlockReader::new(store.clone(), meta);
        let series = reader.series().await?;
        let refs: Vec<u32> = series
            .iter()
            .filter(|s| s.labels.contains_all(&wanted))
            .map(|s| s.series_ref)
            .collect();
        if refs.is_empty() {
            continue;
        }
        for s in reader.samples(&series, &refs).await? {
            found += 1;
            println!(
                "# {} (block {})",
                series[s.series_ref as usize].labels,
                reader.meta().id
            );
            for (t, v) in s.timestamps.iter().zip(&s.values) {
                println!("{t} {v}\t{}", format_ms(*t));
            }
        }
    }
    if found == 0 {
        return Err(format!("no series matches {selector}").into());
    }
    Ok(())
}
