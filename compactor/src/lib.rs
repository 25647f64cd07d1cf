//! Strata's compactor: background maintenance of a store.
//!
//! Data flow of one garbage-collection pass ([`collect_garbage`]): take a manifest snapshot;
//! fold the log into a checkpoint when enough records accumulated; delete the files of blocks
//! removed more than the grace period ago, then commit their `purge`; delete block objects no
//! snapshot references that are older than the grace period (uploads whose commit never
//! came); delete log records and checkpoints superseded by the newest checkpoint once they are
//! older than the grace period. Every deletion waits out the grace period so that readers
//! holding an older snapshot can finish.

mod error;
mod gc;

pub use error::CompactorError;
pub use gc::{DEFAULT_GRACE, GcOptions, GcReport, collect_garbage, collect_garbage_at};
