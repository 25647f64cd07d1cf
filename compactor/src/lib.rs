//! Strata's compactor: background maintenance of a store.
//!
//! Data flow of a pass ([`Compactor::run_once`]): take a manifest snapshot; commit the
//! retention policy if it changed (readers clamp to it, so answers never depend on compactor
//! lag); [`plan`] the due jobs — a pure function of the snapshot, the time and the
//! [`CompactorConfig`]; for each job take an advisory claim, merge its input blocks into new
//! ones streamed to the store ([`merge`]: k-way by series in block order, duplicates resolved
//! by commit precedence, HA replicas deduplicated, deleted and expired samples dropped,
//! outputs verified), then commit one transaction that adds the outputs and removes the
//! inputs; quarantine blocks that cannot be read. Garbage collection ([`collect_garbage`])
//! ends the pass: it folds the log into a checkpoint, deletes the files of removed blocks
//! after the grace period, orphaned uploads, and superseded log records.

mod claims;
mod config;
mod error;
mod gc;
mod merge;
mod planner;
mod runner;

pub use claims::{CLAIM_FORMAT_VERSION, CLAIMS_DIR};
pub use config::{CompactorConfig, DAY_MS, DEFAULT_DOWNSAMPLE, HOUR_2_MS, level, parse_downsample};
pub use error::{CompactorError, JobError};
pub use gc::{DEFAULT_GRACE, GcOptions, GcReport, collect_garbage, collect_garbage_at};
pub use planner::{Job, JobKind, Plan, plan};
pub use runner::{CompactReport, Compactor, CompactorStats};
