//! `POST /api/v1/write`: Prometheus remote write, 1.0 and 2.0, into the process's write
//! buffer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strata_ingest::remote_write::{
    Protocol, decode_write_request, decode_write_request_v2, protocol_of,
};

use crate::state::ApiState;

/// Largest compressed request accepted.
pub(crate) const MAX_WRITE_BYTES: usize = 32 << 20;

/// Answers as Prometheus' receiver does: 204 once the samples are accepted (buffered; see
/// `strata_ingest::buffer` for when they are committed — or committed before the answer
/// with [`crate::ApiConfig::commit_writes`], where a failed commit is a 503), 400 with a message for a bad
/// payload (nothing of it is kept), 415 for a content type or encoding it does not speak,
/// 503 when the buffer is full (clients retry). A 2.0 answer says what was written in the
/// `X-Prometheus-Remote-Write-*-Written` headers (native histograms and exemplars are not
/// stored yet: 0).
pub(crate) async fn remote_write(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(writer) = &state.writer else {
        return (
            StatusCode::NOT_FOUND,
            "remote write receiver is not enabled in this process (run strata serve)\n",
        )
            .into_response();
    };
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(encoding) = text(header::CONTENT_ENCODING)
        && !encoding.eq_ignore_ascii_case("snappy")
    {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {encoding:?} (snappy only)\n"),
        )
            .into_response();
    }
    let protocol = match protocol_of(text(header::CONTENT_TYPE)) {
        Ok(p) => p,
        Err(e) => return (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("{e}\n")).into_response(),
    };
    let decoded = match protocol {
        Protocol::V1 => decode_write_request(&body),
        Protocol::V2 => decode_write_request_v2(&body),
    };
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let samples = decoded.samples;
    let appended = writer.append(decoded);
    if appended.is_ok()
        && state.config.commit_writes
        && let Err(e) = writer.flush().await
    {
        // The samples stay buffered for the next request's commit; the client retries too
        // (a sample written twice reads once).
        tracing::error!(error = %e, "remote write commit failed");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot commit the samples: {e}\n"),
        )
            .into_response();
    }
    match appended {
        Ok(()) if protocol == Protocol::V2 => (
            StatusCode::NO_CONTENT,
            [
                (
                    "X-Prometheus-Remote-Write-Samples-Written",
                    samples.to_string(),
                ),
                (
                    "X-Prometheus-Remote-Write-Histograms-Written",
                    "0".to_string(),
                ),
                (
                    "X-Prometheus-Remote-Write-Exemplars-Written",
                    "0".to_string(),
                ),
            ],
        )
            .into_response(),
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(full) => (StatusCode::SERVICE_UNAVAILABLE, format!("{full}\n")).into_response(),
    }
}
