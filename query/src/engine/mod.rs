//! The PromQL engine: parse (`crate::parser`) → plan (one DataFusion extension node per PromQL
//! operator, see `ops/`) → execute with DataFusion → Prometheus-shaped results.

mod context;
mod node;
mod ops;
mod planner;
mod value;
mod warm_up;

pub use ops::{format_float, write_float};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::parser::ast::Expr;
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::displayable;
use datafusion::prelude::SessionConfig;
use strata_storage::{Labels, METRIC_NAME, Snapshot, Store};

pub use context::{Annotations, Cancel, QueryStats};
use context::{EvalContext, Steps};
use node::{PromQueryPlanner, unwrap_error};
use planner::{Kind, Planner};
use value::Series;
pub use warm_up::warm_up;

use crate::error::QueryError;

/// Engine settings (Prometheus' defaults).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample.
    pub lookback: Duration,
    /// Most samples one query may load or produce.
    pub max_samples: usize,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Resolution of subqueries written without a step (`[5m:]`).
    pub default_subquery_step: Duration,
    /// The clock that retention is measured against.
    pub clock: strata_storage::clock::SharedClock,
    /// HA replica labels deduplicated when selecting (empty: every replica is its own series).
    pub replica_labels: Vec<String>,
    /// Stops the queries of this engine when cancelled (a client that hung up).
    pub cancel: Cancel,
    /// Samples read as if stored (see [`crate::Overlay`]).
    pub overlay: crate::Overlay,
    /// Which downsampled resolutions queries may read (`max_source_resolution`).
    pub max_source_resolution: crate::SourceResolution,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
            clock: strata_storage::clock::system(),
            replica_labels: Vec::new(),
            cancel: Cancel::default(),
            overlay: crate::Overlay::default(),
            max_source_resolution: crate::SourceResolution::Auto,
        }
    }
}

/// One sample of an instant-vector result.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// One series of a matrix result.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// A query result, typed as Prometheus types it.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar { t: i64, v: f64 },
    String { t: i64, s: String },
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
}

/// A result and the annotations raised computing it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub value: QueryValue,
    pub annotations: Annotations,
    /// What the query read.
    pub stats: QueryStats,
}

/// Evaluates PromQL over a store's blocks.
#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    options: EngineOptions,
}

impl Engine {
    /// An engine reading `store`.
    pub fn new(store: Store, options: EngineOptions) -> Self {
        Self { store, options }
    }

    /// The handle that cancels this engine's queries (`EngineOptions::cancel`).
    pub fn canceller(&self) -> Cancel {
        self.options.cancel.clone()
    }

    fn planner(&self, start: i64, end: i64, step: i64) -> Planner {
        Planner {
            query_step: step,
            lookback: self.options.lookback.as_millis() as i64,
            default_subquery_step: (self.options.default_subquery_step.as_millis() as i64).max(1),
            query_start: start,
            query_end: end,
            max_samples: self.options.max_samples,
            // Aggregates carry no replica labels and cannot hold a rule's unflushed outputs.
            resolutions: if self.options.replica_labels.is_empty()
                && self.options.overlay.0.is_empty()
            {
                self.options.max_source_resolution.candidates()
            } else {
                Vec::new()
            },
            explicit_resolution: self.options.max_source_resolution.explicit(),
            notes: Default::default(),
        }
    }

    /// An instant query at `t` (ms).
    pub async fn instant(
        &self,
        snapshot: Arc<Snapshot>,
        query: &str,
        t: i64,
    ) -> Result<QueryOutput, QueryError> {
        self.instant_expr(snapshot, &parse(query)?, t).await
    }

    /// An instant query of an already parsed expression.
    pub async fn instant_expr(
        &self,
        snapshot: Arc<Snapshot>,
        expr: &Expr,
        t: i64,
    ) -> Result<QueryOutput, QueryError> {
        self.run(
            snapshot,
            expr,
            Steps {
                start: t,
                end: t,
                step: 1,
            },
            true,
        )
        .await
    }

    /// A range query over `[start, end]` every `step` (ms).
    pub async fn range(
        &self,
        snapshot: Arc<Snapshot>,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, QueryError> {
        self.range_expr(snapshot, &parse(query)?, start, end, step)
            .await
    }

    /// A range query of an already parsed expression.
    pub async fn range_expr(
        &self,
        snapshot: Arc<Snapshot>,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, QueryError> {
        if step <= 0 {
            return Err(QueryError::Parse(
                "zero or negative query resolution step widths are not accepted".into(),
            ));
        }
        if end < start {
            return Err(QueryError::Parse(
                "end timestamp must not be before start time".into(),
            ));
        }
        self.run(snapshot, expr, Steps { start, end, step }, false)
            .await
    }

    /// The physical plan of a query, as DataFusion prints it.
    pub fn explain(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<String, QueryError> {
        let expr = parse(query)?;
        let planned = self.planner(start, end, step).plan(
            &expr,
            Steps {
                start,
                end,
                step: step.max(1),
            },
        )?;
        Ok(planned.plan.display_indent().to_string())
    }

    async fn run(
        &self,
        snapshot: Arc<Snapshot>,
        expr: &Expr,
        steps: Steps,
        instant: bool,
    ) -> Result<QueryOutput, QueryError> {
        let query_step = if instant { 0 } else { steps.step };
        let planner = self.planner(steps.start, steps.end, query_step);
        let planned = planner.plan(expr, steps)?;
        if !instant && matches!(planned.kind, Kind::Matrix | Kind::String(_)) {
            let t = if planned.kind == Kind::Matrix {
                "range vector"
            } else {
                "string"
            };
            return Err(QueryError::Parse(format!(
                "invalid expression type \"{t}\" for range query, must be Scalar or instant Vector"
            )));
        }
        if let Kind::String(s) = &planned.kind {
            return Ok(QueryOutput {
                value: QueryValue::String {
                    t: steps.start,
                    s: s.clone(),
                },
                annotations: Annotations::default(),
                stats: QueryStats::default(),
            });
        }
        let deadline = Instant::now() + self.options.timeout;
        let ctx = Arc::new(EvalContext::new(
            self.store.clone(),
            snapshot,
            self.options.max_samples,
            deadline,
            crate::select::ReadOptions {
                now_ms: self.options.clock.now_ms(),
                replica_labels: self.options.replica_labels.clone(),
            },
            self.options.cancel.clone(),
            self.options.overlay.clone(),
        ));
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_extension(ctx.clone());
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_query_planner(Arc::new(PromQueryPlanner))
            .build();
        let physical = state
            .create_physical_plan(&planned.plan)
            .await
            .map_err(unwrap_error)?;
        tracing::debug!(plan = %displayable(physical.as_ref()).indent(true), "promql plan");
        let task = Arc::new(TaskContext::from(&state));
        let run = datafusion::physical_plan::collect(physical, task);
        let batches = match tokio::time::timeout(self.options.timeout, run).await {
            Ok(r) => r.map_err(unwrap_error)?,
            Err(_) => return Err(QueryError::Timeout),
        };
        let series = value::decode(&batches).map_err(unwrap_error)?;
        let value = finish(series, &planned.kind, planned.ordered, steps, instant)?;
        for note in planner.notes() {
            ctx.info(note);
        }
        Ok(QueryOutput {
            value,
            annotations: ctx.annotations(),
            stats: ctx.stats(),
        })
    }
}

/// Parses PromQL text.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    Ok(crate::parser::parse(query)?)
}

/// Parses a series selector (`match[]` of the HTTP API) into matchers; anything else, or
/// modifiers like `offset`, is a parse error.
pub fn parse_series_selector(selector: &str) -> Result<Vec<crate::Matcher>, QueryError> {
    match parse(selector)? {
        Expr::Vector(vs)
            if vs.offset.is_none() && vs.at.is_none() && !vs.anchored && !vs.smoothed =>
        {
            Planner::matchers(&vs)
        }
        _ => Err(QueryError::Parse(format!(
            "invalid series selector {selector:?}: expected a vector selector like metric{{label=\"value\"}}"
        ))),
    }
}

/// Drops names marked for removal, rejects duplicate label sets, and shapes the result.
fn finish(
    series: Vec<Series>,
    kind: &Kind,
    ordered: bool,
    steps: Steps,
    instant: bool,
) -> Result<QueryValue, QueryError> {
    if *kind == Kind::Scalar {
        let s = series.into_iter().next();
        if instant {
            let v = s
                .and_then(|s| s.values.first().copied())
                .unwrap_or(f64::NAN);
            return Ok(QueryValue::Scalar { t: steps.start, v });
        }
        let points = s
            .map(|s| s.timestamps.into_iter().zip(s.values).collect())
            .unwrap_or_default();
        return Ok(QueryValue::Matrix(vec![RangeSeries {
            labels: Labels::default(),
            points,
        }]));
    }
    let cleaned: Vec<Series> = series
        .into_iter()
        .filter(|s| !s.timestamps.is_empty())
        .map(|mut s| {
            if s.drop_name {
                let pairs = s
                    .labels
                    .iter()
                    // Dropping the name drops the labels that describe it too.
                    .filter(|l| ![METRIC_NAME, "__type__", "__unit__"].contains(&l.name.as_str()))
                    .map(|l| (l.name.clone(), l.value.clone()));
                s.labels = Labels::from_pairs(pairs).unwrap_or_default();
            }
            s
        })
        .collect();
    if *kind == Kind::Matrix {
        let mut out: Vec<RangeSeries> = cleaned
            .into_iter()
            .map(|s| RangeSeries {
                labels: s.labels,
                points: s.timestamps.into_iter().zip(s.values).collect(),
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        return Ok(QueryValue::Matrix(out));
    }
    // Series that became identical must not overlap in time.
    let mut merged: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    let mut order: Vec<Labels> = Vec::new();
    for s in cleaned {
        let points = merged.entry(s.labels.clone()).or_insert_with(|| {
            order.push(s.labels.clone());
            BTreeMap::new()
        });
        for (t, v) in s.timestamps.into_iter().zip(s.values) {
            if points.insert(t, v).is_some() {
                return Err(QueryError::Execution(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
        }
    }
    if instant {
        if !ordered {
            order.sort();
        }
        let samples = order
            .into_iter()
            .filter_map(|l| {
                let (t, v) = merged.get(&l)?.iter().next().map(|(t, v)| (*t, *v))?;
                Some(InstantSample { labels: l, t, v })
            })
            .collect();
        return Ok(QueryValue::Vector(samples));
    }
    Ok(QueryValue::Matrix(
        merged
            .into_iter()
            .map(|(labels, points)| RangeSeries {
                labels,
                points: points.into_iter().collect(),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests;
