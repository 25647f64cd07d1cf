//! Encoding a block's two Parquet files and uploading them.

use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int64Builder, MapBuilder, MapFieldNames, StringBuilder, UInt8Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;

use super::BlockMeta;
use super::schema::*;
use super::values;
use crate::error::{Result, StorageError};
use crate::labels::{Labels, METRIC_NAME};
use crate::paths::{BlockId, SAMPLES_FILE, SERIES_FILE};
use crate::store::Store;

/// Rows per Arrow batch handed to the Parquet writer.
const BATCH_ROWS: usize = 64 * 1024;

/// One series' samples, as handed to [`encode_block`].
#[derive(Debug, Clone, Default)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// Start timestamps (ms), one per sample, 0 where unknown; empty when none is known.
    pub start_timestamps: Vec<i64>,
}

impl SeriesSamples {
    /// Sorts by timestamp; of several samples with one timestamp the last one added wins.
    /// Returns how many samples were dropped as duplicates.
    fn normalize(&mut self) -> usize {
        let n = self.timestamps.len().min(self.values.len());
        self.timestamps.truncate(n);
        self.values.truncate(n);
        if self.start_timestamps.iter().all(|&st| st == 0) {
            self.start_timestamps.clear();
        } else {
            self.start_timestamps.resize(n, 0);
        }
        if self.timestamps.is_sorted_by(|a, b| a < b) {
            return 0;
        }
        let has_st = !self.start_timestamps.is_empty();
        let mut points: Vec<(i64, f64, i64)> = (0..n)
            .map(|i| {
                let st = if has_st { self.start_timestamps[i] } else { 0 };
                (self.timestamps[i], self.values[i], st)
            })
            .collect();
        points.sort_by_key(|p| p.0); // stable: later duplicates stay later
        let mut out: Vec<(i64, f64, i64)> = Vec::with_capacity(points.len());
        for p in points {
            match out.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => out.push(p),
            }
        }
        let dropped = n - out.len();
        self.timestamps = out.iter().map(|p| p.0).collect();
        self.values = out.iter().map(|p| p.1).collect();
        if has_st {
            self.start_timestamps = out.iter().map(|p| p.2).collect();
        }
        dropped
    }
}

/// Metadata of one metric family, as exposition formats declare it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MetricMetadata {
    /// `counter`, `gauge`, `histogram`, `summary`, `gaugehistogram`, `info`, `stateset` or
    /// `unknown`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub unit: String,
}

/// Metric metadata by metric family name.
pub type MetricMetadataMap = std::collections::BTreeMap<String, MetricMetadata>;

/// A block encoded in memory, ready to upload.
#[derive(Debug, Clone)]
pub struct EncodedBlock {
    pub meta: BlockMeta,
    pub series_file: Bytes,
    pub samples_file: Bytes,
    /// Samples dropped because another sample of the series had the same timestamp.
    pub duplicates: usize,
}

/// The order of series in a block: by name, job, instance, then the whole label set.
fn sort_key(l: &Labels) -> (Option<&str>, Option<&str>, Option<&str>, &Labels) {
    (l.metric_name(), l.get(COL_JOB), l.get(COL_INSTANCE), l)
}

/// Encodes series into a new block. Samples need not be sorted; series without samples are
/// skipped. Fails on an empty input.
pub fn encode_block(series: Vec<SeriesSamples>) -> Result<EncodedBlock> {
    encode_block_with_metadata(series, &MetricMetadataMap::new())
}

/// [`encode_block`], recording metric metadata (HELP, TYPE, UNIT by metric family) in the
/// series file.
pub fn encode_block_with_metadata(
    series: Vec<SeriesSamples>,
    metric_metadata: &MetricMetadataMap,
) -> Result<EncodedBlock> {
    encode_block_with_options(series, metric_metadata, &EncodeOptions::default())
}

/// How a block is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// zstd level of every column ([`ARCHIVE_ZSTD_LEVEL`] or [`FRESH_ZSTD_LEVEL`]).
    pub zstd_level: i32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            zstd_level: ARCHIVE_ZSTD_LEVEL,
        }
    }
}

impl EncodeOptions {
    /// Settings for the small blocks of an ingest flush (see [`FRESH_ZSTD_LEVEL`]).
    pub fn fresh() -> Self {
        Self {
            zstd_level: FRESH_ZSTD_LEVEL,
        }
    }
}

/// [`encode_block_with_metadata`] with explicit encoding settings.
pub fn encode_block_with_options(
    mut series: Vec<SeriesSamples>,
    metric_metadata: &MetricMetadataMap,
    options: &EncodeOptions,
) -> Result<EncodedBlock> {
    let zstd_level = options.zstd_level;
    let duplicates = series.iter_mut().map(SeriesSamples::normalize).sum();
    series.retain(|s| !s.timestamps.is_empty());
    if series.is_empty() {
        return Err(StorageError::InvalidArgument(
            "cannot encode an empty block".into(),
        ));
    }
    series.sort_by(|a, b| sort_key(&a.labels).cmp(&sort_key(&b.labels)));
    let min_time = series
        .iter()
        .map(|s| s.timestamps[0])
        .min()
        .unwrap_or_default();
    let max_time = series
        .iter()
        .filter_map(|s| s.timestamps.last().copied())
        .max()
        .unwrap_or_default();
    let id = BlockId::new();
    let id_str = id.to_string();
    let scales: Vec<Option<u8>> = series
        .iter()
        .map(|s| values::choose_scale(&s.values))
        .collect();

    // The samples file first: the series file embeds its tail.
    let (samples_file, samples_metadata) =
        write_samples(&series, &scales, &id_str, (min_time, max_time), zstd_level)?;
    let mut extra: Vec<(String, String)> = Vec::new();
    if !metric_metadata.is_empty() {
        let json = serde_json::to_string(metric_metadata).map_err(|e| StorageError::Json {
            path: SERIES_FILE.into(),
            source: e,
        })?;
        extra.push((META_METRIC_METADATA.into(), json));
    }
    if let Some((offset, tail)) = samples_tail(&samples_file, &samples_metadata)? {
        use base64::Engine as _;
        extra.push((META_SAMPLES_TAIL_OFFSET.into(), offset.to_string()));
        extra.push((
            META_SAMPLES_TAIL.into(),
            base64::engine::general_purpose::STANDARD.encode(tail),
        ));
    }
    let series_file = write_series(
        &series,
        &scales,
        &id_str,
        (min_time, max_time),
        extra,
        zstd_level,
    )?;
    let meta = BlockMeta {
        id,
        min_time,
        max_time,
        series: series.len() as u64,
        samples: series.iter().map(|s| s.timestamps.len() as u64).sum(),
        series_bytes: series_file.len() as u64,
        samples_bytes: samples_file.len() as u64,
        format_version: BLOCK_FORMAT_VERSION,
        resolution_ms: 0,
        level: 1,
    };
    Ok(EncodedBlock {
        meta,
        series_file,
        samples_file,
        duplicates,
    })
}

fn new_writer<W: std::io::Write + Send>(
    out: W,
    schema: arrow_schema::SchemaRef,
    props: WriterProperties,
    name: &'static str,
) -> Result<ArrowWriter<W>> {
    ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| StorageError::parquet(name, e))
}

fn finish_writer(writer: ArrowWriter<Vec<u8>>, name: &'static str) -> Result<Bytes> {
    let buf = writer
        .into_inner()
        .map_err(|e| StorageError::parquet(name, e))?;
    Ok(Bytes::from(buf))
}

fn write_series(
    series: &[SeriesSamples],
    scales: &[Option<u8>],
    id: &str,
    (min_time, max_time): (i64, i64),
    extra: Vec<(String, String)>,
    zstd_level: i32,
) -> Result<Bytes> {
    let n = series.len();
    let mut refs = UInt32Builder::with_capacity(n);
    let mut hashes = UInt64Builder::with_capacity(n);
    let mut dedicated: [StringBuilder; 3] = Default::default();
    let names = MapFieldNames {
        entry: MAP_ENTRIES.into(),
        key: MAP_KEY.into(),
        value: MAP_VALUE.into(),
    };
    let mut others = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new())
        .with_values_field(Field::new(MAP_VALUE, DataType::Utf8, false));
    let mut mins = Int64Builder::with_capacity(n);
    let mut maxs = Int64Builder::with_capacity(n);
    let mut counts = UInt32Builder::with_capacity(n);
    let mut scale_col = UInt8Builder::with_capacity(n);
    for (i, (s, scale)) in series.iter().zip(scales).enumerate() {
        refs.append_value(i as u32);
        hashes.append_value(s.labels.stable_hash());
        for (builder, name) in dedicated.iter_mut().zip(DEDICATED_LABELS) {
            builder.append_option(s.labels.get(name));
        }
        for l in s
            .labels
            .iter()
            .filter(|l| !DEDICATED_LABELS.contains(&l.name.as_str()))
        {
            others.keys().append_value(&l.name);
            others.values().append_value(&l.value);
        }
        others
            .append(true)
            .map_err(|e| StorageError::arrow("series labels", e))?;
        mins.append_value(s.timestamps[0]);
        maxs.append_value(s.timestamps[s.timestamps.len() - 1]);
        let count = u32::try_from(s.timestamps.len()).map_err(|_| {
            StorageError::InvalidArgument(format!("series {} has over 2^32 samples", s.labels))
        })?;
        counts.append_value(count);
        scale_col.append_option(*scale);
    }
    debug_assert_eq!(METRIC_NAME, COL_NAME);
    let [mut name, mut job, mut instance] = dedicated;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(refs.finish()),
        Arc::new(hashes.finish()),
        Arc::new(name.finish()),
        Arc::new(job.finish()),
        Arc::new(instance.finish()),
        Arc::new(others.finish()),
        Arc::new(mins.finish()),
        Arc::new(maxs.finish()),
        Arc::new(counts.finish()),
        Arc::new(scale_col.finish()),
    ];
    let schema = series_schema();
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| StorageError::arrow("series batch", e))?;
    let mut writer = new_writer(
        Vec::new(),
        schema,
        series_properties(id, min_time, max_time, extra, zstd_level),
        SERIES_FILE,
    )?;
    writer
        .write(&batch)
        .map_err(|e| StorageError::parquet(SERIES_FILE, e))?;
    finish_writer(writer, SERIES_FILE)
}

struct SampleColumns {
    refs: UInt32Builder,
    ts: Int64Builder,
    ints: Int64Builder,
    floats: Float64Builder,
    starts: Int64Builder,
    rows: usize,
}

impl SampleColumns {
    fn new() -> Self {
        Self {
            refs: UInt32Builder::with_capacity(BATCH_ROWS),
            ts: Int64Builder::with_capacity(BATCH_ROWS),
            ints: Int64Builder::with_capacity(BATCH_ROWS),
            floats: Float64Builder::with_capacity(BATCH_ROWS),
            starts: Int64Builder::with_capacity(BATCH_ROWS),
            rows: 0,
        }
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.refs.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.ints.finish()),
            Arc::new(self.floats.finish()),
            Arc::new(self.starts.finish()),
        ];
        RecordBatch::try_new(samples_schema(), columns)
            .map_err(|e| StorageError::arrow("samples batch", e))
    }
}

fn write_samples(
    series: &[SeriesSamples],
    scales: &[Option<u8>],
    id: &str,
    (min_time, max_time): (i64, i64),
    zstd_level: i32,
) -> Result<(Bytes, ParquetMetaData)> {
    let err = |e| StorageError::parquet(SAMPLES_FILE, e);
    let props = samples_properties(id, min_time, max_time, zstd_level);
    let mut buf = Vec::new();
    let mut writer = new_writer(&mut buf, samples_schema(), props, SAMPLES_FILE)?;
    let mut cols = SampleColumns::new();
    let mut rows_in_group = 0usize;
    for (i, (s, scale)) in series.iter().zip(scales).enumerate() {
        for (k, (&t, &v)) in s.timestamps.iter().zip(&s.values).enumerate() {
            cols.refs.append_value(i as u32);
            cols.ts.append_value(t);
            match s.start_timestamps.get(k) {
                Some(&st) if st != 0 => cols.starts.append_value(st),
                _ => cols.starts.append_null(),
            }
            match scale.and_then(|k| values::encode(v, k)) {
                Some(m) => {
                    cols.ints.append_value(m);
                    cols.floats.append_null();
                }
                None => {
                    cols.ints.append_null();
                    cols.floats.append_value(v);
                }
            }
            cols.rows += 1;
            if cols.rows == BATCH_ROWS {
                writer.write(&cols.finish()?).map_err(err)?;
            }
        }
        rows_in_group += s.timestamps.len();
        if rows_in_group >= ROW_GROUP_ROWS {
            // Cut row groups at series boundaries.
            if cols.rows > 0 {
                writer.write(&cols.finish()?).map_err(err)?;
            }
            writer.flush().map_err(err)?;
            rows_in_group = 0;
        }
    }
    if cols.rows > 0 {
        writer.write(&cols.finish()?).map_err(err)?;
    }
    // The written footer's metadata tells where the page index starts (see `samples_tail`).
    let metadata = writer.close().map_err(err)?;
    Ok((Bytes::from(buf), metadata))
}

/// The tail of a Parquet file that holds its page index and footer: `(offset, bytes)`, or
/// `None` when it is larger than [`SAMPLES_TAIL_LIMIT`].
fn samples_tail(file: &Bytes, md: &ParquetMetaData) -> Result<Option<(u64, Bytes)>> {
    let len = file.len();
    let footer_len = file
        .get(len.saturating_sub(8)..len.saturating_sub(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StorageError::corrupt(SAMPLES_FILE, "no Parquet footer"))?;
    let mut start = len.saturating_sub(8 + footer_len as usize) as u64;
    for rg in md.row_groups() {
        for c in rg.columns() {
            for offset in [c.column_index_offset(), c.offset_index_offset()]
                .into_iter()
                .flatten()
            {
                start = start.min(u64::try_from(offset).unwrap_or(0));
            }
        }
    }
    let tail = file.slice(start as usize..);
    Ok((tail.len() <= SAMPLES_TAIL_LIMIT).then_some((start, tail)))
}

/// Uploads both files of a block (not yet visible: only a manifest commit makes it so).
pub async fn upload_block(store: &Store, block: &EncodedBlock) -> Result<()> {
    let (series_path, samples_path) = (block.meta.id.series_path(), block.meta.id.samples_path());
    futures::try_join!(
        store.put(&series_path, block.series_file.clone()),
        store.put(&samples_path, block.samples_file.clone()),
    )?;
    Ok(())
}
