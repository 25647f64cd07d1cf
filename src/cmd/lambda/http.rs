//! The `query` and `write` roles: Prometheus' HTTP API for API Gateway HTTP API (payload
//! 2.0) and Function URL events, through `strata serve`'s router, adapted by `lambda_http`.
//! Answers are buffered (HTTP APIs cannot stream) and Lambda caps a response at 6 MB, so an
//! answer whose body passes [`MAX_BODY_BYTES`] is replaced by a Prometheus-style error that
//! says so, rather than a gateway failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use strata_api::ApiState;
use strata_ingest::{BufferOptions, WriteBuffer};
use strata_storage::{Manifest, Store};

use super::{Args, Role, log_init};
use crate::cmd::{CliResult, writer_name};

/// Largest body answered: Lambda's 6 MB response cap, less room for the JSON escaping of a
/// text body (each `"` of Prometheus' JSON becomes `\"`) or base64 for a binary one.
pub(super) const MAX_BODY_BYTES: usize = 4 << 20;

pub(super) async fn run(store_url: &str, args: &Args, writes: bool, started: Instant) -> CliResult {
    let cache = args.query.cache()?;
    let store = Store::open(store_url)?.with_cache(Arc::new(cache));
    let mut config = args.query.api_config(&args.compact.replica_labels, false);
    config.commit_writes = writes;
    // No background flusher: each remote write commits before its answer.
    let writer = writes.then(|| {
        WriteBuffer::new(
            Manifest::new(store.clone(), writer_name("lambda-write")),
            BufferOptions {
                flush_interval: Duration::from_secs(3600),
                ..Default::default()
            },
        )
    });
    let state = ApiState::new(store, config, writer);
    let router = strata_api::router(state).layer(axum::middleware::from_fn(fit_response));
    log_init(if writes { Role::Write } else { Role::Query }, started);
    lambda_http::run(router)
        .await
        .map_err(|e| e.to_string().into())
}

/// Buffers the answer and replaces one too large for Lambda with a 422 that says so.
async fn fit_response(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
        Err(_) => too_large(),
    }
}

fn too_large() -> Response {
    let body = serde_json::json!({
        "status": "error",
        "errorType": "execution",
        "error": format!(
            "the answer is larger than {} MiB, the most a Lambda function can return \
             through the HTTP API: narrow the query (fewer series, a shorter range or a \
             larger step) or use strata serve",
            MAX_BODY_BYTES >> 20
        ),
    });
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [("Content-Type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn oversized_answers_become_errors() {
        let router = axum::Router::new()
            .route("/small", get(|| async { "ok" }))
            .route("/big", get(|| async { "x".repeat(MAX_BODY_BYTES + 1) }))
            .layer(axum::middleware::from_fn(fit_response));
        let call = |path: &'static str| {
            let router = router.clone();
            async move {
                let r = router
                    .oneshot(Request::get(path).body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = r.status();
                let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (status, String::from_utf8_lossy(&body).into_owned())
            }
        };
        assert_eq!(call("/small").await, (StatusCode::OK, "ok".to_string()));
        let (status, body) = call("/big").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("\"errorType\":\"execution\""), "{body}");
    }
}
