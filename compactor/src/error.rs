//! The compactor's error types.

use strata_storage::{BlockId, StorageError};

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

/// Why one job failed (the pass goes on with the others).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// An input block could not be read.
    #[error("block {block}: {source}")]
    Input {
        block: BlockId,
        #[source]
        source: StorageError,
    },
    /// An output read back differs from what was written.
    #[error("output {block} failed verification: {reason}")]
    Verify { block: BlockId, reason: String },
    /// The pass's deadline passed before the job could commit.
    #[error("deadline reached before the job could commit")]
    Deadline,
    /// Reading or writing the store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl JobError {
    /// The input block this error shows to be unreadable, when the error is about its data
    /// (not a passing failure of the store): such a block is quarantined at once.
    pub(crate) fn bad_block(&self) -> Option<BlockId> {
        match self {
            // A failure of the store, even when the Parquet reader reports it, says nothing
            // about the data, except that a file of a live block is missing.
            Self::Input { block, source } if source.store_error().is_some() => matches!(
                source.store_error(),
                Some(object_store::Error::NotFound { .. })
            )
            .then_some(*block),
            Self::Input {
                block,
                source:
                    StorageError::Corrupt { .. }
                    | StorageError::Parquet { .. }
                    | StorageError::Arrow { .. }
                    | StorageError::UnsupportedVersion { .. }
                    | StorageError::InvalidLabels(_)
                    | StorageError::InvalidArgument(_),
            } => Some(*block),
            _ => None,
        }
    }
}
