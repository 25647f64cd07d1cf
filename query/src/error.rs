//! The query crate's error type.

use strata_storage::StorageError;

/// Errors of selection and evaluation.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A matcher's regular expression does not compile.
    #[error("invalid regular expression {regex:?} for label {label:?}: {reason}")]
    InvalidRegex {
        label: String,
        regex: String,
        reason: String,
    },
    /// A query would load more samples than allowed.
    #[error("query processing would load too many samples into memory (limit {limit})")]
    TooManySamples { limit: usize },
    /// Reading the store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
