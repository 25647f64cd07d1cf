//! API errors in Prometheus' shape: `{"status":"error","errorType":…,"error":…}` with the
//! HTTP status Prometheus uses for each type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use strata_query::QueryError;
use strata_storage::StorageError;

/// Prometheus' `errorType`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Invalid parameters or query text (400).
    BadData,
    /// The query could not be evaluated (422).
    Execution,
    /// The query ran out of time (503).
    Timeout,
    /// The client went away (499).
    Canceled,
    /// The server failed, e.g. the object store (500).
    Internal,
    /// Nothing to serve (404).
    NotFound,
    /// The server cannot answer yet or right now (503).
    Unavailable,
}

impl ErrorType {
    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Canceled => {
                StatusCode::from_u16(499).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// `invalid parameter "name": reason`, as Prometheus words parameter errors.
    pub fn param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::bad_data(format!("invalid parameter {name:?}: {reason}"))
    }

    /// An `internal` error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Internal,
            message: message.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let kind = match &e {
            QueryError::Parse(_) | QueryError::InvalidRegex { .. } => ErrorType::BadData,
            QueryError::Unsupported(_)
            | QueryError::TooManySamples { .. }
            | QueryError::Execution(_) => ErrorType::Execution,
            QueryError::Timeout => ErrorType::Timeout,
            QueryError::Cancelled => ErrorType::Canceled,
            QueryError::Storage(_) => ErrorType::Internal,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        Self::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.kind.as_str(),
            "error": self.message,
        });
        crate::json::response(self.kind.status(), body.to_string())
    }
}
