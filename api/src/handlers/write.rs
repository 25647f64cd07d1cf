//! `POST /api/v1/write`: Prometheus remote-write 1.0 into the process's write buffer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use strata_ingest::remote_write::decode_write_request;

use crate::state::ApiState;

/// Largest compressed request accepted.
pub(crate) const MAX_WRITE_BYTES: usize = 32 << 20;

/// Answers as Prometheus' receiver does: 204 once the samples are accepted (buffered; see
/// `strata_ingest::buffer` for when they are committed), 400 with a message for a bad
/// payload (nothing of it is kept), 503 when the buffer is full (clients retry).
pub(crate) async fn remote_write(State(state): State<Arc<ApiState>>, body: Bytes) -> Response {
    let Some(writer) = &state.writer else {
        return (
            StatusCode::NOT_FOUND,
            "remote write receiver is not enabled in this process (run strata serve)\n",
        )
            .into_response();
    };
    let decoded = match decode_write_request(&body) {
        Ok(d) => d,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    match writer.append(decoded) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(full) => (StatusCode::SERVICE_UNAVAILABLE, format!("{full}\n")).into_response(),
    }
}
