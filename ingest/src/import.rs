//! `strata import`: backfilling blocks from a text exposition file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use rustc_hash::FxHashMap;
use strata_storage::publish::{self, encode_and_upload};
use strata_storage::{
    BlockMeta, EncodeOptions, Labels, Manifest, MetricMetadataMap, SeriesSamples, Transaction,
};

use crate::error::IngestError;
use crate::exposition::{Entry, Format, Parser, fill_unknown_kinds};

/// Default width of the time windows blocks are cut at (as Prometheus' 2h head blocks).
pub const DEFAULT_BLOCK_DURATION: Duration = Duration::from_secs(2 * 3600);

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Width of the aligned windows (from the epoch) that blocks are cut at.
    pub block_duration: Duration,
    /// Input format; `None` detects it (OpenMetrics when the file ends with `# EOF`).
    pub format: Option<Format>,
    /// Blocks encoded and uploaded at once.
    pub concurrency: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            block_duration: DEFAULT_BLOCK_DURATION,
            format: None,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Progress reports, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    /// Parsing: `done` of `total` bytes.
    Parsing { done: u64, total: u64 },
    /// Writing: `done` of `total` blocks uploaded.
    Writing { done: u64, total: u64 },
    /// Committing to the manifest.
    Committing,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    pub series: u64,
    pub samples: u64,
    pub blocks: u64,
    /// Bytes of all block files written.
    pub bytes: u64,
    /// Samples dropped because their series already had a sample at that timestamp.
    pub duplicates: u64,
    pub min_time: i64,
    pub max_time: i64,
    pub parse_time: Duration,
    pub total_time: Duration,
    /// Manifest seq of the commit.
    pub seq: u64,
}

impl ImportSummary {
    /// Stored bytes per sample.
    pub fn bytes_per_sample(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.bytes as f64 / self.samples as f64
        }
    }
}

/// One series' samples as they arrive (any order).
#[derive(Debug, Default, Clone)]
pub(crate) struct SeriesBuf {
    pub(crate) labels: Labels,
    pub(crate) timestamps: Vec<i64>,
    pub(crate) values: Vec<f64>,
    /// Start timestamps, one per sample, or empty when none is known.
    pub(crate) starts: Vec<i64>,
}

/// Parses a document into per-series buffers and the metric metadata it declares (HELP,
/// TYPE, UNIT by family). Errors carry the line number.
fn parse_document(
    doc: &[u8],
    format: Format,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<(Vec<SeriesBuf>, MetricMetadataMap), crate::exposition::ParseError> {
    let mut metadata = MetricMetadataMap::new();
    let total = doc.len() as u64;
    let mut by_text: FxHashMap<&str, u32> = FxHashMap::default();
    let mut by_labels: FxHashMap<Labels, u32> = FxHashMap::default();
    let mut series: Vec<SeriesBuf> = Vec::new();
    let mut parser = Parser::new(doc, format);
    let mut next_report = 0u64;
    while let Some(entry) = parser.next() {
        let sample = match entry? {
            Entry::Sample(sample) => sample,
            other => {
                other.record_metadata(&mut metadata);
                continue;
            }
        };
        let line = parser.line();
        let error = |message: String| crate::exposition::ParseError { line, message };
        let ts = sample.timestamp_ms.ok_or_else(|| {
            error("sample has no timestamp; imports need explicit timestamps".into())
        })?;
        let id = match by_text.get(sample.series) {
            Some(&id) => id,
            None => {
                let labels = sample.labels().map_err(error)?;
                let next = series.len() as u32;
                let id = *by_labels.entry(labels.clone()).or_insert(next);
                if id == next {
                    series.push(SeriesBuf {
                        labels,
                        ..Default::default()
                    });
                }
                by_text.insert(sample.series, id);
                id
            }
        };
        let buf = &mut series[id as usize];
        buf.timestamps.push(ts);
        buf.values.push(sample.value);
        let done = total - parser.remaining() as u64;
        if done >= next_report {
            progress(ImportProgress::Parsing { done, total });
            next_report = done + (4 << 20);
        }
    }
    parser.finish()?;
    progress(ImportProgress::Parsing { done: total, total });
    fill_unknown_kinds(&mut metadata);
    Ok((series, metadata))
}

/// Sorts each series by time and cuts all of them into aligned windows.
pub(crate) fn cut_windows(
    series: Vec<SeriesBuf>,
    width_ms: i64,
) -> BTreeMap<i64, Vec<SeriesSamples>> {
    let mut windows: BTreeMap<i64, Vec<SeriesSamples>> = BTreeMap::new();
    for mut s in series {
        if !s.timestamps.is_sorted() {
            let mut order: Vec<usize> = (0..s.timestamps.len()).collect();
            order.sort_by_key(|&i| s.timestamps[i]); // stable: the last duplicate stays last
            s.timestamps = order.iter().map(|&i| s.timestamps[i]).collect();
            s.values = order.iter().map(|&i| s.values[i]).collect();
            if !s.starts.is_empty() {
                s.starts = order.iter().map(|&i| s.starts[i]).collect();
            }
        }
        let (Some(first), Some(last)) = (s.timestamps.first(), s.timestamps.last()) else {
            continue;
        };
        let window = first.div_euclid(width_ms);
        if last.div_euclid(width_ms) == window {
            // The common case (recent samples): one window, moved rather than copied.
            windows.entry(window).or_default().push(SeriesSamples {
                labels: s.labels,
                timestamps: s.timestamps,
                values: s.values,
                start_timestamps: s.starts,
            });
            continue;
        }
        let mut start = 0;
        while start < s.timestamps.len() {
            let window = s.timestamps[start].div_euclid(width_ms);
            let len = s.timestamps[start..].partition_point(|t| t.div_euclid(width_ms) == window);
            windows.entry(window).or_default().push(SeriesSamples {
                labels: s.labels.clone(),
                timestamps: s.timestamps[start..start + len].to_vec(),
                values: s.values[start..start + len].to_vec(),
                start_timestamps: s
                    .starts
                    .get(start..start + len)
                    .map(<[i64]>::to_vec)
                    .unwrap_or_default(),
            });
            start += len;
        }
    }
    windows
}

/// Imports a text exposition file: every sample needs a timestamp; samples may be of any age.
/// All blocks are committed together, or nothing is.
pub async fn import_file(
    manifest: &Manifest,
    path: &Path,
    options: &ImportOptions,
    progress: Arc<dyn Fn(ImportProgress) + Send + Sync>,
) -> Result<ImportSummary, IngestError> {
    let started = Instant::now();
    let display = path.display().to_string();
    let doc = tokio::fs::read(path)
        .await
        .map_err(|source| IngestError::Io {
            path: display.clone(),
            source,
        })?;
    let format = options.format.unwrap_or_else(|| Format::detect(&doc));
    let width_ms = i64::try_from(options.block_duration.as_millis())
        .ok()
        .filter(|w| *w > 0)
        .ok_or_else(|| IngestError::Internal("block duration must be positive".into()))?;
    let parse_progress = progress.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        parse_document(&doc, format, &*parse_progress)
            .map(|(s, metadata)| (s.len() as u64, cut_windows(s, width_ms), metadata))
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))?;
    let (series_count, windows, metadata) = parsed.map_err(|source| IngestError::Parse {
        path: display.clone(),
        source,
    })?;
    let parse_time = started.elapsed();
    if windows.is_empty() {
        return Err(IngestError::Empty { path: display });
    }

    let total_blocks = windows.len() as u64;
    let store = manifest.store().clone();
    let upload_started = Instant::now();
    let mut done = 0u64;
    progress(ImportProgress::Writing {
        done,
        total: total_blocks,
    });
    let mut metas: Vec<BlockMeta> = Vec::with_capacity(windows.len());
    let mut duplicates = 0u64;
    let metadata = Arc::new(metadata);
    let mut uploads = futures::stream::iter(windows.into_values())
        .map(|series| encode_and_upload(&store, series, metadata.clone(), EncodeOptions::default()))
        .buffer_unordered(options.concurrency.max(1));
    let outcome: Result<(), IngestError> = async {
        while let Some(up) = uploads.try_next().await? {
            metas.push(up.meta);
            duplicates += up.duplicates as u64;
            done += 1;
            progress(ImportProgress::Writing {
                done,
                total: total_blocks,
            });
        }
        Ok(())
    }
    .await;
    drop(uploads);
    if let Err(e) = outcome {
        // Nothing was committed: what was uploaded is invisible and can go now.
        publish::discard(&store, &metas).await;
        return Err(e);
    }
    progress(ImportProgress::Committing);
    // On a commit whose outcome is unknown the uploads stay (garbage collection deletes them
    // only if the commit did not land).
    let seq = publish::commit(manifest, Transaction::add(metas.clone(), upload_started)).await?;
    Ok(ImportSummary {
        series: series_count,
        samples: metas.iter().map(|m| m.samples).sum(),
        blocks: metas.len() as u64,
        bytes: metas.iter().map(BlockMeta::bytes).sum(),
        duplicates,
        min_time: metas.iter().map(|m| m.min_time).min().unwrap_or_default(),
        max_time: metas.iter().map(|m| m.max_time).max().unwrap_or_default(),
        parse_time,
        total_time: started.elapsed(),
        seq: seq.0,
    })
}
