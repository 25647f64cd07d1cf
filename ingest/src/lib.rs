//! Strata ingest: getting samples from the outside world into blocks.
//!
//! Data flow of an import: the file is read whole and parsed by [`exposition::Parser`]
//! (Prometheus text or OpenMetrics); every sample is appended to its series' buffer, series
//! being interned by their raw text first and by their canonical [`Labels`] second. Once the
//! whole file has parsed — a malformed line stops everything before anything is written — each
//! series is sorted and cut into aligned time windows; each window becomes one block, encoded
//! on the blocking pool and uploaded; all blocks are then made visible by a single manifest
//! commit, so an import is all or nothing.
//!
//! Remote write: [`remote_write::decode_write_request`] (1.0) and
//! [`remote_write::decode_write_request_v2`] (2.0) turn a snappy-compressed protobuf request
//! into per-series samples (with start timestamps, in 2.0) and metadata, refusing a bad
//! payload as a whole before anything is accepted; a [`WriteBuffer`] holds accepted samples
//! and commits them as blocks every flush interval (see `buffer` for the loss window and
//! backpressure).
//!
//! Scraping ([`scrape`]): Prometheus' configuration → discovery → relabeled, sharded targets
//! → one scrape loop per target, whose samples, stale markers and report series go to the
//! same [`WriteBuffer`].
//!
//! [`Labels`]: strata_storage::Labels

pub mod buffer;
pub mod error;
pub mod exposition;
pub mod import;
pub mod remote_write;
pub mod scrape;
pub mod series_key;

pub use buffer::{BufferFull, BufferOptions, FlushSummary, SampleBatch, WriteBuffer};
pub use error::IngestError;
pub use import::{ImportOptions, ImportProgress, ImportSummary, import_file};
pub use series_key::SeriesKey;
