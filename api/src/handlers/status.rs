//! Health, readiness, build and runtime information, `/metrics`, the rules and alerts of the
//! process's rule evaluator, and the endpoints Grafana probes (exemplars).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::json;
use crate::state::ApiState;

/// `/-/healthy`: the process serves.
pub(crate) async fn healthy() -> &'static str {
    "Strata is Healthy.\n"
}

/// `/-/ready`: the store answers (the manifest snapshot loads).
pub(crate) async fn ready(State(state): State<Arc<ApiState>>) -> Response {
    match state.snapshot().await {
        Ok(_) => (StatusCode::OK, "Strata is Ready.\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Strata is not ready: {}\n", e.message),
        )
            .into_response(),
    }
}

/// `/api/v1/status/buildinfo`.
pub(crate) async fn buildinfo(State(state): State<Arc<ApiState>>) -> Response {
    let data = serde_json::json!({
        "version": state.config.version,
        "revision": option_env!("STRATA_REVISION").unwrap_or("unknown"),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "none (Strata is written in Rust)",
    });
    json::success(&data.to_string(), None)
}

/// `/api/v1/status/runtimeinfo`.
pub(crate) async fn runtimeinfo(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let snapshot = state.snapshot().await?;
    let started = chrono::Utc::now()
        - chrono::Duration::from_std(state.started.elapsed()).unwrap_or_default();
    let data = serde_json::json!({
        "startTime": started.to_rfc3339(),
        "CWD": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "reloadConfigSuccess": true,
        "lastConfigTime": started.to_rfc3339(),
        "corruptionCount": 0,
        "goroutineCount": 0,
        "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": "unlimited (object storage)",
        "storage": state.store.to_string(),
        "manifestSeq": snapshot.seq().0,
        "blocks": snapshot.len(),
    });
    Ok(json::success(&data.to_string(), None))
}

/// `/api/v1/status/flags`: the engine settings in force.
pub(crate) async fn flags(State(state): State<Arc<ApiState>>) -> Response {
    let e = &state.config.engine;
    let data = serde_json::json!({
        "query.lookback-delta": format!("{}s", e.lookback.as_secs_f64()),
        "query.max-samples": e.max_samples.to_string(),
        "query.timeout": format!("{}s", e.timeout.as_secs_f64()),
        "storage": state.store.to_string(),
    });
    json::success(&data.to_string(), None)
}

/// `/api/v1/query_exemplars`: Strata stores no exemplars.
pub(crate) async fn exemplars() -> Response {
    json::success("[]", None)
}

/// `/api/v1/rules` with Prometheus' filters (`type`, `rule_name[]`, `rule_group[]`,
/// `file[]`, `match[]`, `exclude_alerts`, `group_limit`, `group_next_token`): the groups this process evaluates, or in a query tier those
/// the evaluators wrote to the bucket.
pub(crate) async fn rules(
    State(state): State<Arc<ApiState>>,
    p: crate::params::Params,
) -> Result<Response, ApiError> {
    let kind = p.get("type").unwrap_or_default().to_ascii_lowercase();
    if !kind.is_empty() && kind != "alert" && kind != "record" {
        return Err(ApiError::param(
            "type",
            format!("not supported value {kind:?}"),
        ));
    }
    let exclude_alerts = match p.get("exclude_alerts") {
        None => false,
        Some(v) => v
            .parse::<bool>()
            .map_err(|_| ApiError::param("exclude_alerts", format!("{v:?} is not a boolean")))?,
    };
    let owned = |name: &str| p.all(name).into_iter().map(String::from).collect();
    let matchers = p
        .all("match[]")
        .into_iter()
        .map(|s| strata_query::parse_series_selector(s).map_err(|e| ApiError::param("match[]", e)))
        .collect::<Result<Vec<_>, _>>()?;
    // Pagination, as Prometheus: `group_limit` > 0, `group_next_token` only with it.
    let group_limit = match p.get("group_limit") {
        None => None,
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => {
                return Err(ApiError::param(
                    "group_limit",
                    "group_limit needs to be greater than 0",
                ));
            }
            Err(e) => {
                return Err(ApiError::param(
                    "group_limit",
                    format!("group_limit needs to be a valid number: {e}"),
                ));
            }
        },
    };
    let group_next_token = p.get("group_next_token").filter(|t| !t.is_empty());
    if group_next_token.is_some() && group_limit.is_none() {
        return Err(ApiError::param(
            "group_next_token",
            "group_limit needs to be present in order to paginate over the groups",
        ));
    }
    let filter = strata_rules::api::RulesFilter {
        kind,
        rule_names: owned("rule_name[]"),
        rule_groups: owned("rule_group[]"),
        files: owned("file[]"),
        exclude_alerts,
        matchers,
        group_limit,
        group_next_token: group_next_token.map(String::from),
    };
    let data = strata_rules::api::rules_json(&state.rule_groups().await?, &filter)
        .map_err(ApiError::bad_data)?;
    Ok(json::success(&data.to_string(), None))
}

/// `/api/v1/alerts`: the pending and firing alerts of the evaluated rules.
pub(crate) async fn alerts(State(state): State<Arc<ApiState>>) -> Result<Response, ApiError> {
    let data = strata_rules::api::alerts_json(&state.rule_groups().await?);
    Ok(json::success(&data.to_string(), None))
}

/// `/metrics`: Strata's own metrics.
pub(crate) async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let mut text = state.metrics.encode();
    if let Some(extra) = state.extra_metrics() {
        // Before OpenMetrics' closing `# EOF`.
        let at = text.rfind("# EOF").unwrap_or(text.len());
        text.insert_str(at, &extra);
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Any other path under `/api/v1/`.
pub(crate) async fn not_found() -> ApiError {
    ApiError {
        kind: crate::error::ErrorType::NotFound,
        message: "not found".into(),
    }
}
