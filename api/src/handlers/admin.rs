//! Prometheus' TSDB admin API, enabled by `--web.enable-admin-api`:
//! - `delete_series` (`match[]`, `start`, `end`) commits a deletion request to the manifest;
//!   every query, series and label lookup honours it from that commit on, in every process;
//! - `clean_tombstones` removes deleted samples from the blocks now (the compactor otherwise
//!   does it once a request is `--delete.rewrite-after` old).
//!
//! Both answer 204 No Content, as Prometheus does; disabled, they answer `unavailable`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use strata_storage::{DeleteRequest, Transaction};

use crate::error::{ApiError, ErrorType};
use crate::params::{MAX_TIME, MIN_TIME, Params};
use crate::state::ApiState;

fn enabled(state: &ApiState) -> Result<(), ApiError> {
    if state.config.enable_admin_api {
        Ok(())
    } else {
        Err(ApiError {
            kind: ErrorType::Unavailable,
            message: "admin APIs disabled".into(),
        })
    }
}

/// `POST /api/v1/admin/tsdb/delete_series`.
pub(crate) async fn delete_series(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let selectors = super::labels::matchers(&p)?;
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = p.time("start", MIN_TIME)?;
    let end = p.time("end", MAX_TIME)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start time",
        ));
    }
    let request = DeleteRequest {
        selectors,
        start,
        end,
        requested_at_ms: state.config.engine.clock.now_ms(),
    };
    let seq = state
        .manifest()
        .commit(Transaction::empty().deleting(request))
        .await?;
    state.invalidate_snapshot();
    tracing::info!(%seq, "deletion request committed");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/admin/tsdb/clean_tombstones`.
pub(crate) async fn clean_tombstones(
    State(state): State<Arc<ApiState>>,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let Some(cleaner) = state.tombstone_cleaner() else {
        return Err(ApiError {
            kind: ErrorType::Unavailable,
            message: "this process runs no compactor: run `strata compact --clean-tombstones`"
                .into(),
        });
    };
    cleaner.run().await.map_err(ApiError::internal)?;
    state.invalidate_snapshot();
    Ok(StatusCode::NO_CONTENT.into_response())
}
