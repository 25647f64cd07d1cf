//! Strata's storage layer: everything that touches the object store.
//!
//! Data flow: a writer (import, scrape worker, compactor) collects [`SeriesSamples`], encodes
//! them into a block — `series.parquet` + `samples.parquet` ([`BlockWriter`]) — uploads both
//! files under a fresh [`BlockId`], then makes the block visible by committing a
//! [`Transaction`] to the [`Manifest`]; [`publish`] is that one path for every writer. Readers take a [`Snapshot`] of the
//! manifest, choose blocks by time range, and read them with a [`BlockReader`]: the series
//! file answers label questions, and the series' row ranges select exactly their samples.
//! Query processes give their [`Store`] a [`BlockCache`] (footers, series tables, byte
//! ranges); every store counts its object-store requests ([`RequestCounts`]).
//!
//! Every object written here is versioned; `docs/format.md` documents them field by field.

pub mod aggregate;
pub mod block;
pub mod cache;
pub mod calendar;
pub mod clock;
pub mod counting;
pub mod dedup;
pub mod duration;
pub mod error;
pub mod goregex;
pub mod labels;
pub mod manifest;
pub mod matcher;
pub mod paths;
pub mod points;
pub mod publish;
pub mod store;

pub use block::{
    BlockMeta, BlockReader, BlockWriter, EncodeOptions, EncodedBlock, MetricMetadata,
    MetricMetadataMap, RAW_RESOLUTION, SeriesEntry, SeriesSamples, SeriesSamplesRead, Shard,
    encode_block, encode_block_with_metadata, encode_block_with_options, series_order,
    upload_block,
};
pub use cache::{BlockCache, CacheConfig, CacheKind};
pub use counting::{Operation, RequestCounts};
pub use error::{Result, StorageError};
pub use labels::{Label, Labels, METRIC_NAME};
pub use manifest::{
    DeleteRequest, MAX_COMMIT_DELAY, Manifest, Quarantine, RetentionPolicy, Snapshot, Transaction,
};
pub use paths::{BlockId, Seq};
pub use store::{DEFAULT_STORE, STORE_ENV, Store};

/// Prometheus' staleness marker: a NaN with this exact bit pattern.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
