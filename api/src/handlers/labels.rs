//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values` and `/api/v1/metadata`:
//! answered from the blocks' series files, never their samples.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use strata_query::{Annotations, Matcher, find_series, parse_series_selector};
use strata_storage::{BlockReader, Labels};

use crate::error::ApiError;
use crate::json;
use crate::params::{MAX_TIME, MIN_TIME, Params};
use crate::state::ApiState;

const TRUNCATED: &str = "results truncated due to limit";

pub(crate) fn matchers(p: &Params) -> Result<Vec<Vec<Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|m| parse_series_selector(m).map_err(|e| ApiError::param("match[]", e)))
        .collect()
}

async fn series_in_range(
    state: &ApiState,
    p: &Params,
    require_match: bool,
) -> Result<Vec<Labels>, ApiError> {
    let matchers = matchers(p)?;
    if require_match && matchers.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = p.time("start", MIN_TIME)?;
    let end = p.time("end", MAX_TIME)?;
    let snapshot = state.snapshot().await?;
    let read = state.read_options(p)?;
    Ok(find_series(&state.store, &snapshot, &matchers, start, end, &read).await?)
}

/// Truncates to `limit` (0 = no limit), warning as Prometheus does.
fn limited<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, Annotations) {
    let mut annotations = Annotations::default();
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        annotations.warnings.push(TRUNCATED.into());
    }
    (items, annotations)
}

/// The series matching `match[]`.
pub(crate) async fn series(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = p.limit()?;
    let found = series_in_range(&state, &p, true).await?;
    let (found, annotations) = limited(found, limit);
    let mut out = String::from("[");
    for (i, labels) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::push_labels(&mut out, labels);
    }
    out.push(']');
    Ok(json::success(&out, Some(&annotations)))
}

/// Label names of the matching series (all series without `match[]`).
pub(crate) async fn label_names(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = p.limit()?;
    let found = series_in_range(&state, &p, false).await?;
    let names: BTreeSet<&str> = found
        .iter()
        .flat_map(|l| l.iter().map(|l| l.name.as_str()))
        .collect();
    let (names, annotations) = limited(names.into_iter().collect(), limit);
    let mut out = String::new();
    json::push_json(&mut out, &names);
    Ok(json::success(&out, Some(&annotations)))
}

/// Values of one label over the matching series.
pub(crate) async fn label_values(
    State(state): State<Arc<ApiState>>,
    Path(name): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let limit = p.limit()?;
    let found = series_in_range(&state, &p, false).await?;
    let values: BTreeSet<&str> = found.iter().filter_map(|l| l.get(&name)).collect();
    let (values, annotations) = limited(values.into_iter().collect(), limit);
    let mut out = String::new();
    json::push_json(&mut out, &values);
    Ok(json::success(&out, Some(&annotations)))
}

/// Metric metadata (type, help, unit) recorded by writers in the blocks' series files.
pub(crate) async fn metadata(
    State(state): State<Arc<ApiState>>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = p.limit()?;
    let per_metric: usize = match p.get("limit_per_metric") {
        None => 0,
        Some(s) => s.parse().map_err(|_| {
            ApiError::param(
                "limit_per_metric",
                format!("cannot parse {s:?} to an integer"),
            )
        })?,
    };
    let metric = p.get("metric");
    let snapshot = state.snapshot().await?;
    let mut by_metric: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for meta in snapshot.blocks() {
        let reader = BlockReader::new(state.store.clone(), meta.clone());
        for (name, m) in reader.metric_metadata().await? {
            if metric.is_some_and(|want| want != name) {
                continue;
            }
            let entry = serde_json::json!({"type": m.kind, "help": m.help, "unit": m.unit});
            let list = by_metric.entry(name).or_default();
            if !list.contains(&entry) {
                list.push(entry);
            }
        }
    }
    let mut out = serde_json::Map::new();
    for (name, mut list) in by_metric {
        if limit > 0 && out.len() >= limit {
            break;
        }
        if per_metric > 0 {
            list.truncate(per_metric);
        }
        out.insert(name, serde_json::Value::Array(list));
    }
    let mut body = String::new();
    json::push_json(&mut body, &out);
    Ok(json::success(&body, None))
}
