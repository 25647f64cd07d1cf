//! Encoding a block's two Parquet files and uploading them: [`BlockWriter`] streams series in
//! block order into both files; [`encode_block_with_options`] sorts a whole window first.

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
use super::aggregates::*;
use super::schema::*;
use super::values;
use crate::aggregate::AggRow;
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

/// Compares two label sets in block order (the order of `series.parquet` rows): writers that
/// stream series into a [`BlockWriter`] must hand them over in this order.
pub fn series_order(a: &Labels, b: &Labels) -> std::cmp::Ordering {
    sort_key(a).cmp(&sort_key(b))
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

/// [`encode_block_with_metadata`] with explicit encoding settings: sorts the series into block
/// order and streams them through a [`BlockWriter`].
pub fn encode_block_with_options(
    mut series: Vec<SeriesSamples>,
    metric_metadata: &MetricMetadataMap,
    options: &EncodeOptions,
) -> Result<EncodedBlock> {
    series.sort_by(|a, b| series_order(&a.labels, &b.labels));
    let mut writer = BlockWriter::new(options)?;
    writer.set_metric_metadata(metric_metadata.clone());
    for s in series {
        writer.push(s)?;
    }
    writer.finish()
}

/// The series-file columns of the series written so far.
struct SeriesColumns {
    refs: UInt32Builder,
    hashes: UInt64Builder,
    dedicated: [StringBuilder; 3],
    others: MapBuilder<StringBuilder, StringBuilder>,
    mins: Int64Builder,
    maxs: Int64Builder,
    counts: UInt32Builder,
    scales: UInt8Builder,
}

impl SeriesColumns {
    fn new() -> Self {
        let names = MapFieldNames {
            entry: MAP_ENTRIES.into(),
            key: MAP_KEY.into(),
            value: MAP_VALUE.into(),
        };
        Self {
            refs: UInt32Builder::new(),
            hashes: UInt64Builder::new(),
            dedicated: Default::default(),
            others: MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new())
                .with_values_field(Field::new(MAP_VALUE, DataType::Utf8, false)),
            mins: Int64Builder::new(),
            maxs: Int64Builder::new(),
            counts: UInt32Builder::new(),
            scales: UInt8Builder::new(),
        }
    }

    /// One series row: `count` samples (or aggregate rows) in `[min_time, max_time]`.
    fn push(
        &mut self,
        series_ref: u32,
        labels: &Labels,
        (min_time, max_time): (i64, i64),
        count: usize,
        scale: Option<u8>,
    ) -> Result<()> {
        let count = u32::try_from(count).map_err(|_| {
            StorageError::InvalidArgument(format!("series {labels} has over 2^32 samples"))
        })?;
        self.refs.append_value(series_ref);
        self.hashes.append_value(labels.stable_hash());
        for (builder, name) in self.dedicated.iter_mut().zip(DEDICATED_LABELS) {
            builder.append_option(labels.get(name));
        }
        for l in labels
            .iter()
            .filter(|l| !DEDICATED_LABELS.contains(&l.name.as_str()))
        {
            self.others.keys().append_value(&l.name);
            self.others.values().append_value(&l.value);
        }
        self.others
            .append(true)
            .map_err(|e| StorageError::arrow("series labels", e))?;
        self.mins.append_value(min_time);
        self.maxs.append_value(max_time);
        self.counts.append_value(count);
        self.scales.append_option(scale);
        Ok(())
    }

    fn finish(mut self) -> Result<RecordBatch> {
        debug_assert_eq!(METRIC_NAME, COL_NAME);
        let [mut name, mut job, mut instance] = self.dedicated;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.refs.finish()),
            Arc::new(self.hashes.finish()),
            Arc::new(name.finish()),
            Arc::new(job.finish()),
            Arc::new(instance.finish()),
            Arc::new(self.others.finish()),
            Arc::new(self.mins.finish()),
            Arc::new(self.maxs.finish()),
            Arc::new(self.counts.finish()),
            Arc::new(self.scales.finish()),
        ];
        RecordBatch::try_new(series_schema(), columns)
            .map_err(|e| StorageError::arrow("series batch", e))
    }
}

fn new_writer<W: std::io::Write + Send>(
    out: W,
    schema: arrow_schema::SchemaRef,
    props: WriterProperties,
    name: &'static str,
) -> Result<ArrowWriter<W>> {
    ArrowWriter::try_new(out, schema, Some(props)).map_err(|e| StorageError::parquet(name, e))
}

/// Writes one block series by series, in block order ([`series_order`]), holding in memory
/// only the series rows, the current row group of the samples file, and the samples-file
/// bytes not yet taken with [`BlockWriter::take_samples_bytes`]. Import and the write buffer
/// hand it a whole window at once ([`encode_block_with_options`]); the compactor streams
/// merged series through it and uploads the samples file in parts as it grows, so that merging
/// a large window never holds the window in memory.
pub struct BlockWriter {
    id: BlockId,
    zstd_level: i32,
    samples: ArrowWriter<Vec<u8>>,
    /// Bytes of the samples file already handed out.
    taken: usize,
    cols: SampleColumns,
    /// Set for an aggregate block (format 3): its rows, resolution and covered time span.
    agg: Option<AggMode>,
    rows_in_group: usize,
    series: SeriesColumns,
    /// The last series written, for the order check.
    last: Option<Labels>,
    series_count: u32,
    sample_count: u64,
    min_time: i64,
    max_time: i64,
    duplicates: usize,
    metric_metadata: MetricMetadataMap,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter")
            .field("id", &self.id)
            .field("series", &self.series_count)
            .field("samples", &self.sample_count)
            .finish()
    }
}

impl BlockWriter {
    /// A writer for a new block with a fresh id.
    pub fn new(options: &EncodeOptions) -> Result<Self> {
        let id = BlockId::new();
        let props = samples_properties(&id.to_string(), options.zstd_level);
        Ok(Self {
            id,
            zstd_level: options.zstd_level,
            samples: new_writer(Vec::new(), samples_schema(), props, SAMPLES_FILE)?,
            taken: 0,
            cols: SampleColumns::new(),
            agg: None,
            rows_in_group: 0,
            series: SeriesColumns::new(),
            last: None,
            series_count: 0,
            sample_count: 0,
            min_time: i64::MAX,
            max_time: i64::MIN,
            duplicates: 0,
            metric_metadata: MetricMetadataMap::new(),
        })
    }

    /// A writer for an aggregate block of `resolution_ms` windows (block format 3) whose rows
    /// cover the sample times `span` (ms, inclusive): the block's recorded time range, so that
    /// readers know which windows it answers for even where it has no rows.
    pub fn new_aggregates(
        options: &EncodeOptions,
        resolution_ms: i64,
        span: (i64, i64),
    ) -> Result<Self> {
        if resolution_ms <= 0 {
            return Err(StorageError::InvalidArgument(format!(
                "aggregate resolution must be positive, got {resolution_ms}"
            )));
        }
        let mut w = Self::new(options)?;
        let props = aggregates_properties(&w.id.to_string(), options.zstd_level, resolution_ms);
        w.samples = new_writer(Vec::new(), aggregates_schema(), props, SAMPLES_FILE)?;
        w.agg = Some(AggMode {
            cols: AggColumns::new(),
            resolution_ms,
            span,
        });
        Ok(w)
    }

    /// The id of the block being written.
    pub fn id(&self) -> BlockId {
        self.id
    }

    /// Samples written so far.
    pub fn samples(&self) -> u64 {
        self.sample_count
    }

    /// Series written so far.
    pub fn series(&self) -> u32 {
        self.series_count
    }

    /// Metric metadata (HELP, TYPE, UNIT by family) to record in the series file.
    pub fn set_metric_metadata(&mut self, metadata: MetricMetadataMap) {
        self.metric_metadata = metadata;
    }

    /// Appends one series. Its samples need not be sorted (of several samples with one
    /// timestamp the last one wins); a series without samples is skipped. Series must come in
    /// strictly increasing block order.
    pub fn push(&mut self, mut s: SeriesSamples) -> Result<()> {
        if self.agg.is_some() {
            return Err(StorageError::InvalidArgument(
                "raw samples pushed into an aggregate block".into(),
            ));
        }
        self.duplicates += s.normalize();
        if s.timestamps.is_empty() {
            return Ok(());
        }
        self.check_order(&s.labels)?;
        let err = |e| StorageError::parquet(SAMPLES_FILE, e);
        let series_ref = self.series_count;
        let scale = values::choose_scale(&s.values);
        let span = (s.timestamps[0], s.timestamps[s.timestamps.len() - 1]);
        self.series
            .push(series_ref, &s.labels, span, s.timestamps.len(), scale)?;
        for (k, (&t, &v)) in s.timestamps.iter().zip(&s.values).enumerate() {
            let cols = &mut self.cols;
            cols.refs.append_value(series_ref);
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
                self.samples.write(&cols.finish()?).map_err(err)?;
            }
        }
        self.series_done(s.labels, s.timestamps.len(), span)
    }

    fn check_order(&self, labels: &Labels) -> Result<()> {
        match &self.last {
            Some(last) if series_order(last, labels) != std::cmp::Ordering::Less => {
                Err(StorageError::InvalidArgument(format!(
                    "series {labels} written out of block order (after {last})"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Writes the pending batch of whichever columns this block has.
    fn write_batch(&mut self) -> Result<()> {
        let err = |e| StorageError::parquet(SAMPLES_FILE, e);
        let batch = match &mut self.agg {
            Some(a) if a.cols.rows > 0 => a.cols.finish()?,
            None if self.cols.rows > 0 => self.cols.finish()?,
            _ => return Ok(()),
        };
        self.samples.write(&batch).map_err(err)
    }

    /// Book-keeping after a series' rows: cut row groups at series boundaries.
    fn series_done(&mut self, labels: Labels, rows: usize, (min, max): (i64, i64)) -> Result<()> {
        self.rows_in_group += rows;
        let limit = match self.agg {
            Some(_) => AGG_ROW_GROUP_ROWS,
            None => ROW_GROUP_ROWS,
        };
        if self.rows_in_group >= limit {
            self.write_batch()?;
            self.samples
                .flush()
                .map_err(|e| StorageError::parquet(SAMPLES_FILE, e))?;
            self.rows_in_group = 0;
        }
        self.series_count = self
            .series_count
            .checked_add(1)
            .ok_or_else(|| StorageError::InvalidArgument("over 2^32 series in a block".into()))?;
        self.sample_count += rows as u64;
        self.min_time = self.min_time.min(min);
        self.max_time = self.max_time.max(max);
        self.last = Some(labels);
        Ok(())
    }

    /// Appends one series' aggregate rows (time order) to an aggregate block; series come in
    /// strictly increasing block order, a series without rows is skipped.
    pub fn push_rows(&mut self, labels: Labels, rows: &[AggRow]) -> Result<()> {
        let Some(res) = self.agg.as_ref().map(|a| a.resolution_ms) else {
            return Err(StorageError::InvalidArgument(
                "aggregate rows pushed into a raw block".into(),
            ));
        };
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(());
        };
        if rows.windows(2).any(|w| w[0].t >= w[1].t) {
            return Err(StorageError::InvalidArgument(format!(
                "aggregate rows of {labels} out of time order"
            )));
        }
        self.check_order(&labels)?;
        let series_ref = self.series_count;
        let scale = AggColumns::scale(rows);
        let span = (first.t - res + 1, last.t);
        self.series
            .push(series_ref, &labels, span, rows.len(), scale)?;
        for r in rows {
            let full = match &mut self.agg {
                Some(a) => {
                    a.cols.push(series_ref, r, scale);
                    a.cols.rows == BATCH_ROWS
                }
                None => false,
            };
            if full {
                self.write_batch()?;
            }
        }
        self.series_done(labels, rows.len(), span)
    }

    /// The bytes of the samples file written since the last call: its next part, in order.
    /// Whoever takes them uploads them (the compactor, as parts of a multipart upload).
    pub fn take_samples_bytes(&mut self) -> Bytes {
        let part = std::mem::take(self.samples.inner_mut());
        self.taken += part.len();
        Bytes::from(part)
    }

    /// Bytes of the samples file not yet taken.
    pub fn pending_samples_bytes(&self) -> usize {
        self.samples.inner().len()
    }

    /// Closes the block: the samples file's last bytes (everything not yet taken) and the
    /// series file, which embeds the samples file's tail. Fails when no sample was written.
    pub fn finish(mut self) -> Result<EncodedBlock> {
        if self.sample_count == 0 {
            return Err(StorageError::InvalidArgument(
                "cannot encode an empty block".into(),
            ));
        }
        let err = |e| StorageError::parquet(SAMPLES_FILE, e);
        self.write_batch()?;
        let (min_time, max_time) = match &self.agg {
            Some(a) => a.span,
            None => (self.min_time, self.max_time),
        };
        for (k, v) in [(META_MIN_TIME, min_time), (META_MAX_TIME, max_time)] {
            self.samples
                .append_key_value_metadata(parquet::file::metadata::KeyValue::new(
                    k.into(),
                    v.to_string(),
                ));
        }
        // The written footer's metadata tells where the page index starts (see `samples_tail`).
        let samples_metadata = self.samples.finish().map_err(err)?;
        // `finish` flushed everything into the buffer.
        let rest = Bytes::from(std::mem::take(self.samples.inner_mut()));
        let samples_len = self.taken + rest.len();

        let mut extra: Vec<(String, String)> = Vec::new();
        if !self.metric_metadata.is_empty() {
            let json =
                serde_json::to_string(&self.metric_metadata).map_err(|e| StorageError::Json {
                    path: SERIES_FILE.into(),
                    source: e,
                })?;
            extra.push((META_METRIC_METADATA.into(), json));
        }
        if let Some((offset, tail)) = samples_tail(&rest, self.taken, &samples_metadata)? {
            use base64::Engine as _;
            extra.push((META_SAMPLES_TAIL_OFFSET.into(), offset.to_string()));
            extra.push((
                META_SAMPLES_TAIL.into(),
                base64::engine::general_purpose::STANDARD.encode(tail),
            ));
        }
        let id_str = self.id.to_string();
        let (format_version, resolution_ms) = match &self.agg {
            Some(a) => {
                extra.push((META_RESOLUTION.into(), a.resolution_ms.to_string()));
                (AGGREGATE_FORMAT_VERSION, a.resolution_ms)
            }
            None => (BLOCK_FORMAT_VERSION, super::RAW_RESOLUTION),
        };
        let batch = self.series.finish()?;
        let props = series_properties(
            &id_str,
            (min_time, max_time),
            extra,
            self.zstd_level,
            format_version,
        );
        let mut writer = new_writer(Vec::new(), series_schema(), props, SERIES_FILE)?;
        writer
            .write(&batch)
            .map_err(|e| StorageError::parquet(SERIES_FILE, e))?;
        let series_file = Bytes::from(
            writer
                .into_inner()
                .map_err(|e| StorageError::parquet(SERIES_FILE, e))?,
        );
        let meta = BlockMeta {
            id: self.id,
            min_time,
            max_time,
            series: u64::from(self.series_count),
            samples: self.sample_count,
            series_bytes: series_file.len() as u64,
            samples_bytes: samples_len as u64,
            format_version,
            resolution_ms,
            level: 1,
            order: 0,
            as_of: 0,
            shard: None,
            parents: Vec::new(),
        };
        Ok(EncodedBlock {
            meta,
            series_file,
            samples_file: rest,
            duplicates: self.duplicates,
        })
    }
}

/// The aggregate side of a [`BlockWriter`].
struct AggMode {
    cols: AggColumns,
    resolution_ms: i64,
    span: (i64, i64),
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

/// The tail of a Parquet file that holds its page index and footer: `(offset, bytes)`, or
/// `None` when it is larger than [`SAMPLES_TAIL_LIMIT`] or starts before `last`, the file's
/// last part (which begins at byte `last_offset`).
fn samples_tail(
    last: &Bytes,
    last_offset: usize,
    md: &ParquetMetaData,
) -> Result<Option<(u64, Bytes)>> {
    let len = last.len();
    let footer_len = last
        .get(len.saturating_sub(8)..len.saturating_sub(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| StorageError::corrupt(SAMPLES_FILE, "no Parquet footer"))?;
    let mut start = (last_offset + len).saturating_sub(8 + footer_len as usize) as u64;
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
    let Some(within) = (start as usize).checked_sub(last_offset) else {
        return Ok(None);
    };
    let tail = last.slice(within..);
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
