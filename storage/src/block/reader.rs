//! Reading block files back: the series table, and the samples of chosen series through a
//! row selection derived from the series table (no scan of other series' rows).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use futures::TryStreamExt;
use object_store::path::Path;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, RowSelection, RowSelector};
use parquet::file::metadata::{FileMetaData, ParquetMetaData, RowGroupMetaData};

use super::aggregates::{self, AGGREGATE_FORMAT_VERSION, KIND_AGGREGATES};
use super::object_reader::ObjectFileReader;
use super::schema::*;
use super::{BlockMeta, MetricMetadataMap, values};
use crate::aggregate::AggRow;
use crate::error::{Result, StorageError};
use crate::labels::Labels;
use crate::store::Store;

/// One row of a block's series file.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    pub series_ref: u32,
    pub series_hash: u64,
    pub labels: Labels,
    pub min_time: i64,
    pub max_time: i64,
    pub sample_count: u32,
    pub value_scale: Option<u8>,
}

/// The samples of one series read from a block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesSamplesRead {
    pub series_ref: u32,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// Start timestamps, one per sample, 0 where unknown; empty when none is known.
    pub start_timestamps: Vec<i64>,
}

/// Reads the files of one committed block.
#[derive(Debug, Clone)]
pub struct BlockReader {
    store: Store,
    meta: BlockMeta,
}

/// The value of `key` in a file's key-value metadata.
fn kv_value<'a>(md: &'a FileMetaData, key: &str) -> Option<&'a str> {
    md.key_value_metadata()?
        .iter()
        .find(|e| e.key == key)
        .and_then(|e| e.value.as_deref())
}

/// Most bytes of selected row groups a read of an aggregate file fetches up front
/// ([`BlockReader::read`]); a larger selection is fetched group by group as it is decoded.
const PREFETCH_LIMIT: u64 = 64 << 20;

/// The row groups `selection` (over the whole file) selects rows of, each with its part of
/// the selection: Parquet's reader takes the groups with `with_row_groups` and the parts
/// joined as the selection, so groups without a selected row are neither fetched nor decoded.
fn selected_row_groups(
    metadata: &ParquetMetaData,
    mut selection: RowSelection,
) -> Vec<(usize, RowSelection)> {
    let mut groups = Vec::new();
    for (i, group) in metadata.row_groups().iter().enumerate() {
        let rows = usize::try_from(group.num_rows()).unwrap_or(0);
        let head = selection.split_off(rows);
        if head.selects_any() {
            groups.push((i, head));
        }
    }
    groups
}

/// The byte range of a row group's column chunks (contiguous as writers lay them out).
fn row_group_span(group: &RowGroupMetaData) -> Option<std::ops::Range<u64>> {
    let ranges = group.columns().iter().map(|c| c.byte_range());
    let start = ranges.clone().map(|(o, _)| o).min()?;
    let end = ranges.map(|(o, len)| o + len).max()?;
    Some(start..end)
}

fn check_metadata(path: &Path, md: &FileMetaData, kind: &str) -> Result<()> {
    let get = |key: &str| kv_value(md, key);
    let version: u32 = get(META_FORMAT_VERSION)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StorageError::corrupt(path, format!("no {META_FORMAT_VERSION} metadata")))?;
    if version > AGGREGATE_FORMAT_VERSION {
        return Err(StorageError::UnsupportedVersion {
            path: path.to_string(),
            found: version,
            supported: AGGREGATE_FORMAT_VERSION,
        });
    }
    if get(META_KIND) != Some(kind) {
        return Err(StorageError::corrupt(
            path,
            format!("expected a {kind} file"),
        ));
    }
    Ok(())
}

pub(super) fn column<'a>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a dyn Array> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| StorageError::corrupt(path, format!("missing column {name}")))
}

impl BlockReader {
    /// A reader for `meta`'s files in `store`.
    pub fn new(store: Store, meta: BlockMeta) -> Self {
        Self { store, meta }
    }

    /// The block's manifest entry.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Reads a whole file, or the rows of `selection`, checking its metadata.
    async fn read(
        &self,
        path: &Path,
        size: u64,
        kind: &str,
        selection: Option<RowSelection>,
    ) -> Result<(Vec<RecordBatch>, Arc<ParquetMetaData>)> {
        let err = |e| StorageError::parquet(path, e);
        let mut reader = ObjectFileReader::for_store(&self.store, path.clone(), size);
        let arrow_metadata = ArrowReaderMetadata::load_async(&mut reader, Default::default())
            .await
            .map_err(err)?;
        let metadata = arrow_metadata.metadata().clone();
        check_metadata(path, metadata.file_metadata(), kind)?;
        let groups = selection.map(|s| selected_row_groups(&metadata, s));
        if let Some(groups) = &groups
            && groups.len() > 1
            && kind == KIND_AGGREGATES
        {
            // Parquet's stream fetches a row group only after decoding the one before. The
            // small groups of aggregate files (a page per column, so a group is what Parquet
            // would fetch of it) are fetched up front instead, by coalesced concurrent GETs,
            // unless that would hold too much at once. Raw files' groups are 1 Mi rows, whose
            // pages Parquet picks more finely than whole groups: a read rarely spans several.
            let spans: Vec<_> = groups
                .iter()
                .filter_map(|(g, _)| row_group_span(metadata.row_group(*g)))
                .collect();
            let total: u64 = spans.iter().map(|r| r.end - r.start).sum();
            if total <= PREFETCH_LIMIT {
                reader.prefetch(spans).await.map_err(err)?;
            }
        }
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, arrow_metadata);
        if let Some(groups) = groups {
            let mut selectors: Vec<RowSelector> = Vec::new();
            let mut indices = Vec::with_capacity(groups.len());
            for (g, part) in groups {
                indices.push(g);
                selectors.extend(part.iter().copied());
            }
            builder = builder
                .with_row_groups(indices)
                .with_row_selection(RowSelection::from(selectors));
        }
        let batches = builder
            .build()
            .map_err(err)?
            .try_collect()
            .await
            .map_err(err)?;
        Ok((batches, metadata))
    }

    /// Puts the samples file's footer, embedded in the series file's key-value metadata by
    /// writers since format version 2, into the store's cache: reading the samples then
    /// needs no request for it.
    async fn prime_samples_footer(&self, series_file: &FileMetaData) {
        use base64::Engine as _;
        use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
        let Some(cache) = self.store.cache() else {
            return;
        };
        let get = |key: &str| kv_value(series_file, key);
        let (Some(offset), Some(tail)) = (get(META_SAMPLES_TAIL_OFFSET), get(META_SAMPLES_TAIL))
        else {
            return;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(tail) else {
            return;
        };
        let size = self.meta.samples_bytes;
        if offset.parse::<u64>().ok().map(|o| o + bytes.len() as u64) != Some(size) {
            return; // Not this file's tail: read the footer from the file itself.
        }
        let mut reader =
            ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional);
        if reader
            .try_parse_sized(&bytes::Bytes::from(bytes), size)
            .is_err()
        {
            return;
        }
        if let Ok(md) = reader.finish() {
            let path = self.meta.id.samples_path();
            let _ = cache
                .footer::<_, StorageError>(path.as_ref(), async { Ok(Arc::new(md)) })
                .await;
        }
    }

    /// Metric metadata recorded in the series file (read from its footer, which the store's
    /// cache keeps).
    pub async fn metric_metadata(&self) -> Result<MetricMetadataMap> {
        use parquet::arrow::async_reader::AsyncFileReader;
        let path = self.meta.id.series_path();
        let mut reader =
            ObjectFileReader::for_store(&self.store, path.clone(), self.meta.series_bytes);
        let md = reader
            .get_metadata(None)
            .await
            .map_err(|e| StorageError::parquet(&path, e))?;
        match kv_value(md.file_metadata(), META_METRIC_METADATA) {
            None => Ok(MetricMetadataMap::new()),
            Some(j) => serde_json::from_str(j).map_err(|e| StorageError::Json {
                path: path.to_string(),
                source: e,
            }),
        }
    }

    /// Every series of the block, in `series_ref` order (cached by the store's cache).
    pub async fn series(&self) -> Result<Arc<Vec<SeriesEntry>>> {
        match self.store.cache() {
            Some(cache) => cache.series(self.meta.id, self.read_series()).await,
            None => self.read_series().await.map(Arc::new),
        }
    }

    async fn read_series(&self) -> Result<Vec<SeriesEntry>> {
        let path = self.meta.id.series_path();
        let (batches, metadata) = self
            .read(&path, self.meta.series_bytes, KIND_SERIES, None)
            .await?;
        self.prime_samples_footer(metadata.file_metadata()).await;
        let mut out = Vec::with_capacity(self.meta.series as usize);
        for batch in &batches {
            let refs = column(batch, COL_SERIES_REF, &path)?.as_primitive::<UInt32Type>();
            let hashes = column(batch, COL_SERIES_HASH, &path)?.as_primitive::<UInt64Type>();
            let dedicated = DEDICATED_LABELS
                .map(|name| column(batch, name, &path).map(|c| c.as_string::<i32>()));
            let others = column(batch, COL_LABELS, &path)?.as_map();
            let mins = column(batch, COL_MIN_TIME, &path)?.as_primitive::<Int64Type>();
            let maxs = column(batch, COL_MAX_TIME, &path)?.as_primitive::<Int64Type>();
            let counts = column(batch, COL_SAMPLE_COUNT, &path)?.as_primitive::<UInt32Type>();
            let scales = column(batch, COL_VALUE_SCALE, &path)?.as_primitive::<UInt8Type>();
            for row in 0..batch.num_rows() {
                let mut pairs: Vec<(String, String)> = Vec::new();
                for (col, name) in dedicated.iter().zip(DEDICATED_LABELS) {
                    let col = col
                        .as_ref()
                        .map_err(|e| StorageError::corrupt(&path, e.to_string()))?;
                    if col.is_valid(row) {
                        pairs.push((name.to_string(), col.value(row).to_string()));
                    }
                }
                let entries = others.value(row);
                let keys = entries.column(0).as_string::<i32>();
                let vals = entries.column(1).as_string::<i32>();
                for i in 0..entries.len() {
                    pairs.push((keys.value(i).to_string(), vals.value(i).to_string()));
                }
                let labels = Labels::from_pairs(pairs)
                    .map_err(|e| StorageError::corrupt(&path, e.to_string()))?;
                out.push(SeriesEntry {
                    series_ref: refs.value(row),
                    series_hash: hashes.value(row),
                    labels,
                    min_time: mins.value(row),
                    max_time: maxs.value(row),
                    sample_count: counts.value(row),
                    value_scale: scales.is_valid(row).then(|| scales.value(row)),
                });
            }
        }
        if out
            .iter()
            .enumerate()
            .any(|(i, s)| s.series_ref as usize != i)
        {
            return Err(StorageError::corrupt(
                &path,
                "series_ref is not dense and sorted",
            ));
        }
        Ok(out)
    }

    /// The samples of the series in `wanted` (refs into `series`, as returned by
    /// [`BlockReader::series`]), in `series_ref` order.
    pub async fn samples(
        &self,
        series: &[SeriesEntry],
        wanted: &[u32],
    ) -> Result<Vec<SeriesSamplesRead>> {
        Ok(self
            .samples_shared(series, wanted)
            .await?
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .collect())
    }

    /// Like [`BlockReader::samples`], sharing decoded samples with the store's cache: cached
    /// series cost nothing, the others are read (one row selection for all of them) and
    /// cached.
    pub async fn samples_shared(
        &self,
        series: &[SeriesEntry],
        wanted: &[u32],
    ) -> Result<Vec<Arc<SeriesSamplesRead>>> {
        let mut wanted: Vec<u32> = wanted.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let Some(cache) = self.store.cache() else {
            let read = self.read_samples(series, &wanted).await?;
            return Ok(read.into_iter().map(Arc::new).collect());
        };
        let mut found: Vec<Arc<SeriesSamplesRead>> = Vec::with_capacity(wanted.len());
        let mut missing: Vec<u32> = Vec::new();
        for &r in &wanted {
            match cache.samples(self.meta.id, r).await {
                Some(s) => found.push(s),
                None => missing.push(r),
            }
        }
        if !missing.is_empty() {
            for s in self.read_samples(series, &missing).await? {
                let s = Arc::new(s);
                cache.put_samples(self.meta.id, s.clone()).await;
                found.push(s);
            }
            found.sort_unstable_by_key(|s| s.series_ref);
        }
        Ok(found)
    }

    /// The sorted, deduplicated `wanted` refs and the row selection of their rows in the
    /// samples file (the rows of series `r` follow from the sample counts before it).
    fn selection(
        &self,
        series: &[SeriesEntry],
        wanted: &[u32],
    ) -> Result<(Vec<u32>, RowSelection)> {
        let mut starts = Vec::with_capacity(series.len() + 1);
        let mut total = 0usize;
        for s in series {
            starts.push(total);
            total += s.sample_count as usize;
        }
        starts.push(total);
        let mut wanted: Vec<u32> = wanted.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if let Some(&bad) = wanted.iter().find(|&&r| r as usize >= series.len()) {
            return Err(StorageError::InvalidArgument(format!(
                "series_ref {bad} is not in block {}",
                self.meta.id
            )));
        }
        let mut selectors = Vec::new();
        let mut pos = 0usize;
        for &r in &wanted {
            let (start, end) = (starts[r as usize], starts[r as usize + 1]);
            if start > pos {
                selectors.push(RowSelector::skip(start - pos));
            }
            selectors.push(RowSelector::select(end - start));
            pos = end;
        }
        Ok((wanted, RowSelection::from(selectors)))
    }

    /// The aggregate rows of the series in `wanted` of an aggregate block (format 3), in
    /// `series_ref` order: `(series_ref, rows in time order)`. Decoded rows are shared with the
    /// store's cache, as [`BlockReader::samples_shared`] shares samples.
    pub async fn aggregates(
        &self,
        series: &[SeriesEntry],
        wanted: &[u32],
    ) -> Result<Vec<(u32, Arc<Vec<AggRow>>)>> {
        let mut wanted: Vec<u32> = wanted.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let Some(cache) = self.store.cache() else {
            let read = self.read_aggregates(series, &wanted).await?;
            return Ok(read.into_iter().map(|(r, v)| (r, Arc::new(v))).collect());
        };
        let mut found = Vec::with_capacity(wanted.len());
        let mut missing = Vec::new();
        for &r in &wanted {
            match cache.rows(self.meta.id, r).await {
                Some(rows) => found.push((r, rows)),
                None => missing.push(r),
            }
        }
        if !missing.is_empty() {
            for (r, rows) in self.read_aggregates(series, &missing).await? {
                let rows = Arc::new(rows);
                cache.put_rows(self.meta.id, r, rows.clone()).await;
                found.push((r, rows));
            }
            found.sort_unstable_by_key(|(r, _)| *r);
        }
        Ok(found)
    }

    async fn read_aggregates(
        &self,
        series: &[SeriesEntry],
        wanted: &[u32],
    ) -> Result<Vec<(u32, Vec<AggRow>)>> {
        let path = self.meta.id.samples_path();
        let (wanted, selection) = self.selection(series, wanted)?;
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let (batches, _) = self
            .read(
                &path,
                self.meta.samples_bytes,
                KIND_AGGREGATES,
                Some(selection),
            )
            .await?;
        let mut out: Vec<(u32, Vec<AggRow>)> = Vec::with_capacity(wanted.len());
        let scale_of = |r: u32| {
            series
                .get(r as usize)
                .map(|e| e.value_scale)
                .ok_or_else(|| StorageError::corrupt(&path, format!("unknown series_ref {r}")))
        };
        for batch in &batches {
            aggregates::decode_batch(batch, &path, scale_of, |r, row| match out.last_mut() {
                Some((last, rows)) if *last == r => rows.push(row),
                _ => out.push((r, vec![row])),
            })?;
        }
        Ok(out)
    }

    /// Reads the samples of `wanted` through a row selection, so other series cost nothing
    /// beyond the pages they share with wanted ones.
    async fn read_samples(
        &self,
        series: &[SeriesEntry],
        wanted: &[u32],
    ) -> Result<Vec<SeriesSamplesRead>> {
        let path = self.meta.id.samples_path();
        let (wanted, selection) = self.selection(series, wanted)?;
        let (batches, _) = self
            .read(
                &path,
                self.meta.samples_bytes,
                KIND_SAMPLES,
                Some(selection),
            )
            .await?;
        // Rows come sorted by series_ref: one output per run of equal refs.
        let mut out: Vec<SeriesSamplesRead> = Vec::with_capacity(wanted.len());
        for batch in &batches {
            let refs = column(batch, COL_SERIES_REF, &path)?.as_primitive::<UInt32Type>();
            let ts = column(batch, COL_TIMESTAMP, &path)?.as_primitive::<Int64Type>();
            let ints = column(batch, COL_VALUE_INT, &path)?.as_primitive::<Int64Type>();
            let floats = column(batch, COL_VALUE_FLOAT, &path)?.as_primitive::<Float64Type>();
            // Absent from version 1 files.
            let starts = batch
                .column_by_name(COL_START_TIMESTAMP)
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .filter(|c| c.null_count() < c.len());
            let (ref_values, ts_values) = (refs.values(), ts.values());
            let mut row = 0;
            while row < batch.num_rows() {
                let r = ref_values[row];
                let run_end = row + ref_values[row..].partition_point(|&x| x == r);
                let entry = series.get(r as usize).ok_or_else(|| {
                    StorageError::corrupt(&path, format!("unknown series_ref {r}"))
                })?;
                if out.last().is_none_or(|s| s.series_ref != r) {
                    out.push(SeriesSamplesRead {
                        series_ref: r,
                        timestamps: Vec::with_capacity(entry.sample_count as usize),
                        values: Vec::with_capacity(entry.sample_count as usize),
                        start_timestamps: Vec::new(),
                    });
                }
                let s = out
                    .last_mut()
                    .ok_or_else(|| StorageError::corrupt(&path, "no series"))?;
                s.timestamps.extend_from_slice(&ts_values[row..run_end]);
                // Fast paths: the whole batch holds mantissas, or the whole batch raw floats.
                let only_ints = ints.null_count() == 0;
                let only_floats = floats.null_count() == 0;
                match entry.value_scale {
                    Some(scale) if only_ints => s.values.extend(
                        ints.values()[row..run_end]
                            .iter()
                            .map(|&m| values::decode(m, scale)),
                    ),
                    _ if only_floats => {
                        s.values.extend_from_slice(&floats.values()[row..run_end]);
                    }
                    _ => {
                        for i in row..run_end {
                            let value = if ints.is_valid(i) {
                                let scale = entry.value_scale.ok_or_else(|| {
                                    StorageError::corrupt(
                                        &path,
                                        format!("value_int without a scale (ref {r})"),
                                    )
                                })?;
                                values::decode(ints.value(i), scale)
                            } else if floats.is_valid(i) {
                                floats.value(i)
                            } else {
                                return Err(StorageError::corrupt(
                                    &path,
                                    format!("sample without value (ref {r})"),
                                ));
                            };
                            s.values.push(value);
                        }
                    }
                }
                if let Some(starts) = starts {
                    for i in row..run_end {
                        if starts.is_valid(i) {
                            // Samples before the first known start get 0 (unknown).
                            let at = s.timestamps.len() - (run_end - i);
                            s.start_timestamps.resize(at, 0);
                            s.start_timestamps.push(starts.value(i));
                        }
                    }
                }
                row = run_end;
            }
        }
        for s in &mut out {
            if !s.start_timestamps.is_empty() {
                s.start_timestamps.resize(s.timestamps.len(), 0);
            }
        }
        Ok(out)
    }
}
