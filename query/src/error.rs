//! The query crate's error type.

use strata_storage::StorageError;
use strata_storage::matcher::MatcherError;

/// Errors of selection and evaluation. Messages follow Prometheus' where it has one.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A matcher's regular expression does not compile.
    #[error("invalid regular expression {regex:?} for label {label:?}: {reason}")]
    InvalidRegex {
        label: String,
        regex: String,
        reason: String,
    },
    /// The query text does not parse.
    #[error("{0}")]
    Parse(String),
    /// The query is valid PromQL that this engine does not evaluate yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A query would load more samples than allowed.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples { limit: usize },
    /// The query ran longer than its timeout.
    #[error("query timed out in expression evaluation")]
    Timeout,
    /// The query was cancelled (its client went away).
    #[error("query was canceled in expression evaluation")]
    Cancelled,
    /// A runtime error with Prometheus' wording (`vector cannot contain metrics with the same
    /// labelset`, …).
    #[error("{0}")]
    Execution(String),
    /// Reading the store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<strata_promql::ParseError> for QueryError {
    fn from(e: strata_promql::ParseError) -> Self {
        Self::Parse(e.0)
    }
}

impl From<MatcherError> for QueryError {
    fn from(e: MatcherError) -> Self {
        Self::InvalidRegex {
            label: e.label,
            regex: e.regex,
            reason: e.reason,
        }
    }
}
