//! The scrape side of the API: `/api/v1/targets` and the lifecycle endpoint `/-/reload`
//! (which re-reads the configuration: scrape jobs, rules, Alertmanagers; SIGHUP does the same).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use strata_ingest::scrape::config::PromDuration;
use strata_storage::Labels;

use crate::error::ApiError;
use crate::json;
use crate::params::Params;
use crate::state::ApiState;

fn labels_json(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|l| (l.name.clone(), Value::String(l.value.clone())))
            .collect::<Map<String, Value>>(),
    )
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `/api/v1/targets?state=active|dropped|any&scrapePool=job`.
pub(crate) async fn targets(
    State(state): State<Arc<ApiState>>,
    params: Params,
) -> Result<Response, ApiError> {
    let which = params.get("state").unwrap_or("any").to_ascii_lowercase();
    let pool = params.get("scrapePool");
    let view = match state.scraper() {
        Some(s) => s.targets().await,
        None => Default::default(),
    };
    let in_pool = |job: &str| pool.is_none_or(|p| p == job);
    let active: Vec<Value> = view
        .active
        .iter()
        .filter(|t| in_pool(&t.job))
        .map(|t| {
            json!({
                "discoveredLabels": labels_json(&t.discovered),
                "labels": labels_json(&t.labels),
                "scrapePool": t.job,
                "scrapeUrl": t.url,
                "globalUrl": t.url,
                "lastError": t.health.last_error,
                "lastScrape": if t.health.last_scrape_ms > 0 {
                    rfc3339(t.health.last_scrape_ms)
                } else {
                    "0001-01-01T00:00:00Z".to_string()
                },
                "lastScrapeDuration": t.health.last_duration.as_secs_f64(),
                "health": t.health.health,
                "scrapeInterval": PromDuration(t.interval).to_string(),
                "scrapeTimeout": PromDuration(t.timeout).to_string(),
            })
        })
        .collect();
    let dropped: Vec<Value> = view
        .dropped
        .iter()
        .filter(|(job, _)| in_pool(job))
        .map(|(_, d)| {
            let mut v = json!({ "discoveredLabels": labels_json(&d.discovered) });
            if let Some(e) = &d.error {
                v["error"] = Value::String(e.clone());
            }
            v
        })
        .collect();
    let mut data = Map::new();
    if matches!(which.as_str(), "active" | "any") {
        data.insert("activeTargets".into(), Value::Array(active));
    }
    if matches!(which.as_str(), "dropped" | "any") {
        data.insert("droppedTargets".into(), Value::Array(dropped));
        data.insert("droppedTargetCounts".into(), json!(view.dropped_counts));
    }
    // Strata's addition (Prometheus clients ignore it): selected ServiceMonitors and
    // PodMonitors that are skipped, and why.
    if !view.invalid_monitors.is_empty() {
        let invalid: Vec<Value> = view
            .invalid_monitors
            .iter()
            .map(|m| {
                json!({
                    "kind": m.kind.as_str(),
                    "namespace": m.namespace,
                    "name": m.name,
                    "reason": m.reason,
                })
            })
            .collect();
        data.insert("invalidMonitors".into(), Value::Array(invalid));
    }
    Ok(json::success(&Value::Object(data).to_string(), None))
}

/// `POST|PUT /-/reload`: re-reads the configuration (scrape jobs, rules, Alertmanagers) as
/// SIGHUP does; an invalid one changes nothing and is reported with a 500, as in Prometheus.
pub(crate) async fn reload(State(state): State<Arc<ApiState>>) -> Response {
    let Some(reloader) = state.reloader() else {
        return (
            StatusCode::FORBIDDEN,
            "no configuration to reload (start with --config)\n",
        )
            .into_response();
    };
    match reloader.run().await {
        Ok(()) => (StatusCode::OK, "").into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}
