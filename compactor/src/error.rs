//! The compactor's error type.

use strata_storage::StorageError;

/// Errors of compactor passes.
#[derive(Debug, thiserror::Error)]
pub enum CompactorError {
    /// Options that would make a pass unsafe.
    #[error("invalid compactor options: {0}")]
    InvalidOptions(String),
    /// Reading or writing the store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
