//! Blocks: immutable pairs of Parquet files holding the samples of one time range.
//!
//! `series.parquet` has one row per series (labels, time range, sample count, value scale);
//! `samples.parquet` has one row per sample, sorted by (`series_ref`, `timestamp`), so that
//! a series' samples are one contiguous row range computable from the series file alone.

mod object_reader;
mod reader;
mod schema;
pub mod values;
mod writer;

use serde::{Deserialize, Serialize};

use crate::paths::BlockId;

pub use object_reader::ObjectFileReader;
pub use reader::{BlockReader, SeriesEntry, SeriesSamplesRead};
pub use schema::*;
pub use writer::{
    EncodeOptions, EncodedBlock, MetricMetadata, MetricMetadataMap, SeriesSamples, encode_block,
    encode_block_with_metadata, encode_block_with_options, upload_block,
};

/// What the manifest records about a committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// Block id; files live under `blocks/<id>/`.
    pub id: BlockId,
    /// Smallest sample timestamp, ms since the epoch (inclusive).
    pub min_time: i64,
    /// Largest sample timestamp, ms since the epoch (inclusive).
    pub max_time: i64,
    /// Number of series.
    pub series: u64,
    /// Number of samples.
    pub samples: u64,
    /// Size of `series.parquet` in bytes.
    pub series_bytes: u64,
    /// Size of `samples.parquet` in bytes.
    pub samples_bytes: u64,
    /// Block file format version ([`BLOCK_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Sample resolution in ms: 0 for raw data, else the downsampling window.
    #[serde(default)]
    pub resolution_ms: i64,
    /// Compaction level: 1 for blocks written by ingest or import.
    #[serde(default = "default_level")]
    pub level: u32,
}

fn default_level() -> u32 {
    1
}

impl BlockMeta {
    /// Bytes of both files.
    pub fn bytes(&self) -> u64 {
        self.series_bytes + self.samples_bytes
    }

    /// True when the block may hold samples in `[start, end]` (ms, inclusive).
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.min_time <= end && self.max_time >= start
    }
}

#[cfg(test)]
mod tests;
