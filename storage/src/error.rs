//! The storage crate's error type.

use std::time::Duration;

/// Everything that can go wrong while reading or writing Strata's on-store structures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `--store` / `STRATA_STORE` could not be understood.
    #[error("invalid store URL {url:?}: {reason}")]
    InvalidStoreUrl { url: String, reason: String },

    /// The object store failed an operation.
    #[error("object store {op} {path}: {source}")]
    ObjectStore {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },

    /// The store does not give the guarantees the manifest protocol needs.
    #[error("refusing store {store}: {reason}")]
    UnsafeStore { store: String, reason: String },

    /// A Parquet file could not be written or read.
    #[error("parquet {path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// Building or reading Arrow arrays failed.
    #[error("arrow ({context}): {source}")]
    Arrow {
        context: &'static str,
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// A JSON manifest object could not be (de)serialised.
    #[error("manifest object {path}: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// An on-store object is well-formed but says something impossible.
    #[error("corrupt {path}: {reason}")]
    Corrupt { path: String, reason: String },

    /// An object was written by a newer (or unknown) format version.
    #[error("{path}: format version {found} is not supported (this build reads up to {supported})")]
    UnsupportedVersion {
        path: String,
        found: u32,
        supported: u32,
    },

    /// A transaction that removes blocks lost a race with another one that removed them first.
    #[error("commit conflict: blocks {blocks:?} were already removed by manifest entry {seq}")]
    Conflict { seq: u64, blocks: Vec<String> },

    /// A writer took longer between upload and commit than the orphan grace period allows.
    #[error(
        "commit refused: blocks were uploaded {elapsed:?} ago, longer than the allowed {limit:?}; \
         garbage collection may already have deleted them as orphans"
    )]
    CommitTooLate { elapsed: Duration, limit: Duration },

    /// A commit's PUT failed in a way that leaves open whether it landed. The blocks it adds
    /// may be committed: nothing may delete their files (garbage collection checks
    /// references before deleting uploads).
    #[error("commit outcome unknown (the record may have landed): {0}")]
    CommitOutcomeUnknown(Box<StorageError>),

    /// The manifest log kept changing under a reader or writer beyond the retry budget.
    #[error("manifest {what} did not settle after {attempts} attempts")]
    Unsettled { what: &'static str, attempts: u32 },

    /// A label set broke Prometheus' rules.
    #[error("invalid labels: {0}")]
    InvalidLabels(String),

    /// Caller asked for something invalid (bad argument, not bad data).
    #[error("{0}")]
    InvalidArgument(String),

    /// A failed load shared by concurrent readers of the cache.
    #[error("{0}")]
    Shared(std::sync::Arc<StorageError>),
}

/// Result alias for the storage crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    pub(crate) fn store(
        op: &'static str,
        path: impl ToString,
        source: object_store::Error,
    ) -> Self {
        Self::ObjectStore {
            op,
            path: path.to_string(),
            source,
        }
    }

    /// The object-store error behind this one, if it comes from the store (directly, or
    /// through the Parquet or Arrow reader that was reading from it).
    pub fn store_error(&self) -> Option<&object_store::Error> {
        if let Self::ObjectStore { source, .. } = self {
            return Some(source);
        }
        if let Self::Parquet {
            source: parquet::errors::ParquetError::External(e),
            ..
        } = self
            && let Some(e) = e.downcast_ref::<object_store::Error>()
        {
            return Some(e);
        }
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            if let Some(e) = e.downcast_ref::<object_store::Error>() {
                return Some(e);
            }
            next = e.source();
        }
        None
    }

    pub(crate) fn parquet(path: impl ToString, source: parquet::errors::ParquetError) -> Self {
        Self::Parquet {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn arrow(context: &'static str, source: arrow_schema::ArrowError) -> Self {
        Self::Arrow { context, source }
    }

    pub(crate) fn corrupt(path: impl ToString, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}
