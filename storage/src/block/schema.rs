//! Column names, Arrow schemas and Parquet writer settings of block files (format version 2).
//! `docs/format.md` documents every field; change both together and bump the version.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;

/// Version of the block file layout, written into every file's key-value metadata.
/// Version 2 added the samples file's `start_timestamp` column; version 1 files (without it)
/// are still read.
pub const BLOCK_FORMAT_VERSION: u32 = 2;

/// Key-value metadata: format version.
pub const META_FORMAT_VERSION: &str = "strata.format_version";
/// Key-value metadata: which file of the block this is (`series` or `samples`).
pub const META_KIND: &str = "strata.kind";
/// Key-value metadata: the block id.
pub const META_BLOCK_ID: &str = "strata.block_id";
/// Key-value metadata: smallest sample timestamp (ms).
pub const META_MIN_TIME: &str = "strata.min_time";
/// Key-value metadata: largest sample timestamp (ms).
pub const META_MAX_TIME: &str = "strata.max_time";
/// Series-file key-value metadata (optional): metric metadata as a JSON object
/// `{"<metric family>": {"type": …, "help": …, "unit": …}}`.
pub const META_METRIC_METADATA: &str = "strata.metric_metadata";
/// Series-file key-value metadata (optional): the tail of the block's samples file — its
/// page index and footer, from [`META_SAMPLES_TAIL_OFFSET`] to the end — base64-encoded, so
/// that a reader holding the series file needs no request for the samples file's footer.
pub const META_SAMPLES_TAIL: &str = "strata.samples_tail";
/// Series-file key-value metadata: the byte offset in `samples.parquet` where
/// [`META_SAMPLES_TAIL`] starts.
pub const META_SAMPLES_TAIL_OFFSET: &str = "strata.samples_tail_offset";
/// Largest samples tail embedded in a series file.
pub const SAMPLES_TAIL_LIMIT: usize = 256 << 10;
/// `strata.kind` of the series file.
pub const KIND_SERIES: &str = "series";
/// `strata.kind` of the samples file.
pub const KIND_SAMPLES: &str = "samples";

/// Dense ordinal of a series within its block, in sort order (both files).
pub const COL_SERIES_REF: &str = "series_ref";
/// Series file: stable hash of the label set.
pub const COL_SERIES_HASH: &str = "series_hash";
/// Series file: the metric name.
pub const COL_NAME: &str = "__name__";
/// Series file: the `job` label.
pub const COL_JOB: &str = "job";
/// Series file: the `instance` label.
pub const COL_INSTANCE: &str = "instance";
/// Series file: every other label, sorted by name.
pub const COL_LABELS: &str = "labels";
/// Series file: smallest timestamp of the series in this block.
pub const COL_MIN_TIME: &str = "min_time";
/// Series file: largest timestamp of the series in this block.
pub const COL_MAX_TIME: &str = "max_time";
/// Series file: number of samples of the series in this block.
pub const COL_SAMPLE_COUNT: &str = "sample_count";
/// Series file: decimal scale of `value_int` mantissas; null when every value is a float.
pub const COL_VALUE_SCALE: &str = "value_scale";
/// Samples file: timestamp in ms since the epoch.
pub const COL_TIMESTAMP: &str = "timestamp";
/// Samples file: value as a mantissa, `value = value_int / 10^value_scale`.
pub const COL_VALUE_INT: &str = "value_int";
/// Samples file: value as raw IEEE-754 bits when it has no exact mantissa.
pub const COL_VALUE_FLOAT: &str = "value_float";
/// Samples file (version ≥ 2): the sample's start timestamp (ms; OpenMetrics `_created`,
/// remote-write 2.0 / OTLP start time); null when unknown.
pub const COL_START_TIMESTAMP: &str = "start_timestamp";

/// Labels that get their own column in the series file.
pub const DEDICATED_LABELS: [&str; 3] = [COL_NAME, COL_JOB, COL_INSTANCE];

/// Target rows per samples row group; groups are cut at series boundaries.
pub const ROW_GROUP_ROWS: usize = 1 << 20;
/// Target rows per row group of an aggregate samples file, cut at series boundaries. Aggregate
/// files are read selectively (a dashboard's few series over a month of windows): a row group
/// is the unit a selective read fetches in one contiguous range, since a group's column chunks
/// lie side by side, so small groups keep that range close to the rows wanted (measured in
/// `bench/downsample.sh`; see `docs/format.md`).
pub const AGG_ROW_GROUP_ROWS: usize = 8 * 1024;
/// Target rows per data page. zstd compresses page by page, so larger pages find more
/// repetition (measured in docs/format.md: 16k rows 1.86 B/sample, 64k 1.65, 128k 1.59);
/// 64k keeps a page around 100 KB, one cheap ranged GET.
const PAGE_ROWS: usize = 64 * 1024;
/// zstd level of blocks meant to last (imports, compaction): slow and memory-hungry
/// (tens of MB per compression context), for the smallest files.
pub const ARCHIVE_ZSTD_LEVEL: i32 = 15;
/// zstd level of the blocks an ingest flush writes every few seconds: a few MB per context
/// instead of tens, and encoding 3× faster, for files 7 % larger (measured in
/// `docs/format.md`); compaction is to rewrite them at [`ARCHIVE_ZSTD_LEVEL`].
pub const FRESH_ZSTD_LEVEL: i32 = 3;

/// Names of the `labels` map's inner fields.
pub const MAP_ENTRIES: &str = "entries";
/// Map key field: label name.
pub const MAP_KEY: &str = "key";
/// Map value field: label value.
pub const MAP_VALUE: &str = "value";

fn entries_field() -> Field {
    Field::new(
        MAP_ENTRIES,
        DataType::Struct(Fields::from(vec![
            Field::new(MAP_KEY, DataType::Utf8, false),
            Field::new(MAP_VALUE, DataType::Utf8, false),
        ])),
        false,
    )
}

/// Arrow schema of `series.parquet`.
pub fn series_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(COL_SERIES_REF, DataType::UInt32, false),
        Field::new(COL_SERIES_HASH, DataType::UInt64, false),
        Field::new(COL_NAME, DataType::Utf8, true),
        Field::new(COL_JOB, DataType::Utf8, true),
        Field::new(COL_INSTANCE, DataType::Utf8, true),
        Field::new(
            COL_LABELS,
            DataType::Map(Arc::new(entries_field()), false),
            false,
        ),
        Field::new(COL_MIN_TIME, DataType::Int64, false),
        Field::new(COL_MAX_TIME, DataType::Int64, false),
        Field::new(COL_SAMPLE_COUNT, DataType::UInt32, false),
        Field::new(COL_VALUE_SCALE, DataType::UInt8, true),
    ]))
}

/// Arrow schema of `samples.parquet`.
pub fn samples_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(COL_SERIES_REF, DataType::UInt32, false),
        Field::new(COL_TIMESTAMP, DataType::Int64, false),
        Field::new(COL_VALUE_INT, DataType::Int64, true),
        Field::new(COL_VALUE_FLOAT, DataType::Float64, true),
        Field::new(COL_START_TIMESTAMP, DataType::Int64, true),
    ]))
}

fn sorted(column_idx: i32) -> SortingColumn {
    SortingColumn {
        column_idx,
        descending: false,
        nulls_first: false,
    }
}

fn metadata(
    kind: &str,
    block_id: &str,
    (min_time, max_time): (i64, i64),
    version: u32,
) -> Vec<KeyValue> {
    vec![
        KeyValue::new(META_FORMAT_VERSION.into(), version.to_string()),
        KeyValue::new(META_KIND.into(), kind.to_string()),
        KeyValue::new(META_BLOCK_ID.into(), block_id.to_string()),
        KeyValue::new(META_MIN_TIME.into(), min_time.to_string()),
        KeyValue::new(META_MAX_TIME.into(), max_time.to_string()),
    ]
}

fn base_properties(zstd_level: i32) -> parquet::file::properties::WriterPropertiesBuilder {
    let zstd = ZstdLevel::try_new(zstd_level).unwrap_or_default();
    WriterProperties::builder()
        .set_writer_version(WriterVersion::PARQUET_2_0)
        .set_compression(Compression::ZSTD(zstd))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(1024)
}

/// Writer settings of `series.parquet`: dictionary-encoded strings, bloom filter on the name;
/// `extra` holds further key-value metadata ([`META_METRIC_METADATA`], [`META_SAMPLES_TAIL`]);
/// `version` is the block's format version (2 raw, 3 aggregates).
pub fn series_properties(
    block_id: &str,
    span: (i64, i64),
    extra: Vec<(String, String)>,
    zstd_level: i32,
    version: u32,
) -> WriterProperties {
    let mut kv = metadata(KIND_SERIES, block_id, span, version);
    kv.extend(extra.into_iter().map(|(k, v)| KeyValue::new(k, v)));
    base_properties(zstd_level)
        .set_column_bloom_filter_enabled(ColumnPath::from(COL_NAME), true)
        .set_column_encoding(
            ColumnPath::from(COL_SERIES_REF),
            Encoding::DELTA_BINARY_PACKED,
        )
        .set_column_dictionary_enabled(ColumnPath::from(COL_SERIES_REF), false)
        .set_sorting_columns(Some(vec![sorted(0)]))
        .set_key_value_metadata(Some(kv))
        .build()
}

/// Writer settings of `samples.parquet`, chosen by measurement (see `docs/format.md`): no
/// dictionaries, delta-packed integers, byte-stream-split floats.
/// The block's time range is not known before its last sample: it is appended to the
/// key-value metadata when the file is closed (see `BlockWriter::finish`).
pub fn samples_properties(block_id: &str, zstd_level: i32) -> WriterProperties {
    let delta = [
        COL_SERIES_REF,
        COL_TIMESTAMP,
        COL_VALUE_INT,
        COL_START_TIMESTAMP,
    ];
    let mut b = base_properties(zstd_level)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(4 * ROW_GROUP_ROWS))
        .set_column_encoding(
            ColumnPath::from(COL_VALUE_FLOAT),
            Encoding::BYTE_STREAM_SPLIT,
        )
        .set_sorting_columns(Some(vec![sorted(0), sorted(1)]))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(META_FORMAT_VERSION.into(), BLOCK_FORMAT_VERSION.to_string()),
            KeyValue::new(META_KIND.into(), KIND_SAMPLES.to_string()),
            KeyValue::new(META_BLOCK_ID.into(), block_id.to_string()),
        ]));
    for col in delta {
        b = b.set_column_encoding(ColumnPath::from(col), Encoding::DELTA_BINARY_PACKED);
    }
    b.build()
}

/// Writer settings of an aggregate block's samples file (format 3): delta-packed integers and
/// mantissas, byte-stream-split floats, as the raw samples file.
pub fn aggregates_properties(
    block_id: &str,
    zstd_level: i32,
    resolution_ms: i64,
) -> WriterProperties {
    use super::aggregates::*;
    let mut b = base_properties(zstd_level)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(4 * ROW_GROUP_ROWS))
        .set_sorting_columns(Some(vec![sorted(0), sorted(1)]))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                META_FORMAT_VERSION.into(),
                AGGREGATE_FORMAT_VERSION.to_string(),
            ),
            KeyValue::new(META_KIND.into(), KIND_AGGREGATES.to_string()),
            KeyValue::new(META_BLOCK_ID.into(), block_id.to_string()),
            KeyValue::new(META_RESOLUTION.into(), resolution_ms.to_string()),
        ]));
    for col in aggregate_delta_columns() {
        b = b.set_column_encoding(ColumnPath::from(col), Encoding::DELTA_BINARY_PACKED);
    }
    for col in aggregate_float_columns() {
        b = b.set_column_encoding(ColumnPath::from(col), Encoding::BYTE_STREAM_SPLIT);
    }
    // Readers prune by series and time only: statistics of the value columns would cost
    // footer bytes in each of the many small row groups and serve no reader.
    for field in aggregates_schema().fields() {
        let name = field.name();
        if name != COL_SERIES_REF && name != COL_TIMESTAMP {
            b = b.set_column_statistics_enabled(
                ColumnPath::from(name.as_str()),
                EnabledStatistics::None,
            );
        }
    }
    b.build()
}
