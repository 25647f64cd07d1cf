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

/// Per-request engine settings: `timeout`, `lookback_delta` and Thanos'
/// `max_source_resolution` (`auto`, `raw`/`0s`, `5m`, `1h`).
fn per_request(p: &Params) -> Result<crate::state::PerRequest, ApiError> {
    let ms = |d: i64| Duration::from_millis(d.max(0) as u64);
    Ok(crate::state::PerRequest {
        timeout: p.duration("timeout")?.map(ms),
        lookback: p.duration("lookback_delta")?.map(ms),
        max_source_resolution: p
            .get("max_source_resolution")
            .map(strata_query::SourceResolution::parse)
            .transpose()
            .map_err(|e| ApiError::param("max_source_resolution", e))?,
    })
}

/// The query's data, with Prometheus' `stats` object when the request asks for it
/// (`totalQueryableSamples`, plus what downsampled reads took).
fn data(out: &strata_query::QueryOutput, p: &Params) -> String {
    let mut data = json::query_data(&out.value);
    if p.get("stats").is_some() && data.ends_with('}') {
        data.pop();
        data.push_str(&format!(
            r#","stats":{{"samples":{{"totalQueryableSamples":{},"peakSamples":{}}},"downsampling":{{"rows":{},"rawSamplesAggregated":{}}}}}}}"#,
            out.stats.samples,
            out.stats.samples,
            out.stats.downsampled_rows,
            out.stats.raw_samples_aggregated
        ));
    }
    data
}

/// An instant query.
pub(crate) async fn instant(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    let query = query_text(&p)?;
    let t = p.time("time", now_ms())?;
    let settings = per_request(&p)?;
    let timeout = settings.timeout;
    let replica_labels = state.replica_labels(&p)?;
    let snapshot = state.snapshot().await?;
    let engine = state.engine(settings, replica_labels);
    let query = query.to_string();
    let out = state
        .run_query(timeout, engine.canceller(), async move {
            engine.instant(snapshot, &query, t).await
        })
        .await?;
    Ok(json::success(&data(&out, &p), Some(&out.annotations)))
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
    let settings = per_request(&p)?;
    let timeout = settings.timeout;
    let replica_labels = state.replica_labels(&p)?;
    let snapshot = state.snapshot().await?;
    let engine = state.engine(settings, replica_labels);
    let query = query.to_string();
    let out = state
        .run_query(timeout, engine.canceller(), async move {
            engine.range(snapshot, &query, start, end, step).await
        })
        .await?;
    Ok(json::success(&data(&out, &p), Some(&out.annotations)))
}

/// Prometheus' formatting of a query (`Pretty`).
pub(crate) async fn format(p: Params) -> Result<Response, ApiError> {
    let query = query_text(&p)?;
    let expr = strata_query::parse(query).map_err(ApiError::from)?;
    let mut out = String::new();
    json::push_str(&mut out, &strata_query::parser::pretty(&expr));
    Ok(json::success(&out, None))
}
