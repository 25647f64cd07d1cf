//! The ingest crate's error type.

use strata_storage::StorageError;

use crate::exposition::ParseError;

/// Errors of import and ingestion.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input is malformed; nothing of it was committed.
    #[error("{path}: {source}; nothing was imported")]
    Parse {
        path: String,
        #[source]
        source: ParseError,
    },
    /// The input file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The input has no samples.
    #[error("{path}: no samples to import")]
    Empty { path: String },
    /// Writing blocks or committing them failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}
