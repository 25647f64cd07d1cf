//! Blocks: immutable pairs of Parquet files holding the samples of one time range.
//!
//! `series.parquet` has one row per series (labels, time range, sample count, value scale);
//! `samples.parquet` has one row per sample, sorted by (`series_ref`, `timestamp`), so that
//! a series' samples are one contiguous row range computable from the series file alone.

pub mod aggregates;
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
    BlockWriter, EncodeOptions, EncodedBlock, MetricMetadata, MetricMetadataMap, SeriesSamples,
    encode_block, encode_block_with_metadata, encode_block_with_options, series_order,
    upload_block,
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
    /// Compaction level: 1 for blocks written by ingest or import, higher for the outputs of
    /// the compactor (2 open-window rollups, 3 final window merges, 4 day merges).
    #[serde(default = "default_level")]
    pub level: u32,
    /// Commit precedence (manifest v2): of two samples of a series with one timestamp in
    /// different blocks, the block with the larger `order` wins (ties: the larger id). 0 in a
    /// log record means "the seq of this record"; snapshots fill it in. A compaction output
    /// carries the largest `order` of its inputs, so it never outranks a block committed after
    /// them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub order: u64,
    /// Deletion horizon (manifest v2): deletion requests committed at a seq greater than
    /// `as_of` apply to this block; earlier ones are already applied to its files. 0 in a log
    /// record means "the seq of this record".
    #[serde(default, skip_serializing_if = "is_zero")]
    pub as_of: u64,
    /// Series shard of a compaction output: the block holds the series whose
    /// `series_hash % count == index`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Lineage: the blocks this one was compacted from (empty for ingest blocks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockId>,
}

/// A series shard of a compaction output (see [`BlockMeta::shard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether a series with `series_hash` belongs to this shard.
    pub fn holds(&self, series_hash: u64) -> bool {
        self.count <= 1 || series_hash % u64::from(self.count) == u64::from(self.index)
    }
}

fn default_level() -> u32 {
    1
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Resolution of raw (not downsampled) blocks.
pub const RAW_RESOLUTION: i64 = 0;

impl BlockMeta {
    /// True for blocks of raw samples (not downsampled aggregates): the only blocks that raw
    /// readers may use.
    pub fn is_raw(&self) -> bool {
        self.resolution_ms == RAW_RESOLUTION
    }

    /// Precedence key: larger wins on equal timestamps.
    pub fn precedence(&self) -> (u64, BlockId) {
        (self.order, self.id)
    }

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
