//! Strata's Prometheus-compatible HTTP API.
//!
//! Data flow: a request's parameters (URL query, or form body for POST) are parsed as
//! Prometheus parses them ([`params`]); the handler takes the current manifest snapshot
//! ([`ApiState::snapshot`], refreshed by one LIST when older than `--manifest-refresh`),
//! then either runs the PromQL engine over the snapshot's blocks (`/query`, `/query_range`)
//! or reads only the blocks' series files (`/series`, `/labels`, `/label/…/values`,
//! `/metadata`). With `--web.enable-admin-api`, `delete_series` commits a deletion request
//! to the manifest and `clean_tombstones` runs the compactor's rewrites. Block reads go through the store's cache (footers, series tables, byte
//! ranges). Answers are Prometheus' JSON ([`json`]), errors its `errorType`s ([`ApiError`]),
//! and every request is counted in Strata's own `/metrics`. `POST /api/v1/write` (in
//! `strata serve`) decodes remote-write requests into the process's write buffer. Every
//! surface can sit behind `--web.config.file` ([`web`]: basic authentication, TLS, headers).

pub mod error;
mod handlers;
pub mod json;
pub mod metrics;
pub mod params;
mod state;
pub mod web;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

pub use error::{ApiError, ErrorType};
pub use state::{ApiConfig, ApiState, AsyncAction, ExtraMetrics};
pub use web::{WebConfigError, WebConfigFile};

use handlers::{admin, labels, query, scrape, status, write};

/// The API's routes over `state`.
pub fn router(state: Arc<ApiState>) -> Router {
    let api = Router::new()
        .route("/query", get(query::instant).post(query::instant))
        .route("/query_range", get(query::range).post(query::range))
        .route("/format_query", get(query::format).post(query::format))
        .route("/series", get(labels::series).post(labels::series))
        .route(
            "/labels",
            get(labels::label_names).post(labels::label_names),
        )
        .route("/label/{name}/values", get(labels::label_values))
        .route("/metadata", get(labels::metadata))
        .route("/status/buildinfo", get(status::buildinfo))
        .route("/status/runtimeinfo", get(status::runtimeinfo))
        .route("/status/flags", get(status::flags))
        .route(
            "/query_exemplars",
            get(status::exemplars).post(status::exemplars),
        )
        .route("/rules", get(status::rules))
        .route("/alerts", get(status::alerts))
        .route("/targets", get(scrape::targets))
        .route(
            "/admin/tsdb/delete_series",
            post(admin::delete_series).put(admin::delete_series),
        )
        .route(
            "/admin/tsdb/clean_tombstones",
            post(admin::clean_tombstones).put(admin::clean_tombstones),
        )
        .route(
            "/write",
            post(write::remote_write).layer(DefaultBodyLimit::max(write::MAX_WRITE_BYTES)),
        )
        .fallback(status::not_found);
    with_lifecycle(api, state)
}

/// `api` under `/api/v1`, with the endpoints every Strata process serves (health, readiness,
/// reload, its own metrics) and the request metrics of all of them.
fn with_lifecycle(api: Router<Arc<ApiState>>, state: Arc<ApiState>) -> Router {
    Router::new()
        .nest("/api/v1", api)
        .route("/-/healthy", get(status::healthy).head(status::healthy))
        .route("/-/ready", get(status::ready).head(status::ready))
        .route("/-/reload", post(scrape::reload).put(scrape::reload))
        .route("/metrics", get(status::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The HTTP surface of a scrape worker (`strata scrape`): health, readiness, reload,
/// targets, build information and its own metrics — no queries, no writes.
pub fn worker_router(state: Arc<ApiState>) -> Router {
    let api = Router::new()
        .route("/targets", get(scrape::targets))
        .route("/status/buildinfo", get(status::buildinfo))
        .fallback(status::not_found);
    with_lifecycle(api, state)
}

async fn observe(State(state): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    state
        .metrics
        .observe(&handler, response.status().as_u16(), started.elapsed());
    response
}

/// Serves the API on `listener` until `shutdown` resolves, behind `web`
/// (`--web.config.file`: basic authentication, TLS, headers) when given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    web: Option<Arc<WebConfigFile>>,
) -> std::io::Result<()> {
    serve_router(listener, router(state), shutdown, web).await
}

/// Serves `app` (a [`router`] or [`worker_router`]) until `shutdown` resolves, behind
/// `web` when given.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    web: Option<Arc<WebConfigFile>>,
) -> std::io::Result<()> {
    web::serve(listener, app, shutdown, web).await
}
