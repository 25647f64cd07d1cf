//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;

use crate::error::ApiError;
use crate::json;
use crate::params::Params;
use crate::state::ApiState;

/// Prometheus' cap on points per series of a range query.
const MAX_POINTS: i64 = 11_000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn query_text(p: &Params) -> Result<&str, ApiError> {
    p.get("query")
        .ok_or_else(|| ApiError::param("query", "1:1: parse error: no expression found in input"))
}

fn per_request(p: &Params) -> Result<(Option<Duration>, Option<Duration>), ApiError> {
    let ms = |d: i64| Duration::from_millis(d.max(0) as u64);
    Ok((
        p.duration("timeout")?.map(ms),
        p.duration("lookback_delta")?.map(ms),
    ))
}

/// An instant query.
pub(crate) async fn instant(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    let query = query_text(&p)?;
    let t = p.time("time", now_ms())?;
    let (timeout, lookback) = per_request(&p)?;
    let replica_labels = state.replica_labels(&p)?;
    let snapshot = state.snapshot().await?;
    let engine = state.engine(timeout, lookback, replica_labels);
    let query = query.to_string();
    let out = state
        .run_query(timeout, engine.canceller(), async move {
            engine.instant(snapshot, &query, t).await
        })
        .await?;
    Ok(json::success(
        &json::query_data(&out.value),
        Some(&out.annotations),
    ))
}

/// A range query.
pub(crate) async fn range(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    let query = query_text(&p)?;
    let require = |name: &str| -> Result<i64, ApiError> {
        let s = p.get(name).unwrap_or_default();
        crate::params::parse_time(s).map_err(|e| ApiError::param(name, e))
    };
    let start = require("start")?;
    let end = require("end")?;
    if end < start {
        return Err(ApiError::param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = match p.get("step") {
        Some(s) => crate::params::parse_duration(s).map_err(|e| ApiError::param("step", e))?,
        None => {
            return Err(ApiError::param(
                "step",
                "cannot parse \"\" to a valid duration",
            ));
        }
    };
    if step <= 0 {
        return Err(ApiError::param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let (timeout, lookback) = per_request(&p)?;
    let replica_labels = state.replica_labels(&p)?;
    let snapshot = state.snapshot().await?;
    let engine = state.engine(timeout, lookback, replica_labels);
    let query = query.to_string();
    let out = state
        .run_query(timeout, engine.canceller(), async move {
            engine.range(snapshot, &query, start, end, step).await
        })
        .await?;
    Ok(json::success(
        &json::query_data(&out.value),
        Some(&out.annotations),
    ))
}

/// Prometheus' formatting of a query (`Pretty`).
pub(crate) async fn format(p: Params) -> Result<Response, ApiError> {
    let query = query_text(&p)?;
    let expr = strata_query::parse(query).map_err(ApiError::from)?;
    let mut out = String::new();
    json::push_str(&mut out, &strata_query::parser::pretty(&expr));
    Ok(json::success(&out, None))
}
