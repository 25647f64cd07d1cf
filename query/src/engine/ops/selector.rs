//! Leaf operators: instant-vector selection (lookback, staleness, `offset`, `@`) and raw-sample
//! selection for range vectors.

use async_trait::async_trait;

use super::is_stale;
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;
use crate::matcher::Matcher;
use crate::select::{Selection, select_series};

/// Where a selector looks: `@` pins the evaluation time, `offset` shifts it back.
#[derive(Debug, Clone)]
pub(crate) struct TimeShift {
    pub(crate) offset: i64,
    pub(crate) at: Option<i64>,
}

impl TimeShift {
    /// The time data is read at for evaluation step `t`.
    pub(crate) fn eval_time(&self, t: i64) -> i64 {
        self.at.unwrap_or(t) - self.offset
    }

    /// Smallest and largest read time over `steps`.
    pub(crate) fn span(&self, steps: Steps) -> (i64, i64) {
        match self.at {
            Some(at) => (at - self.offset, at - self.offset),
            None => (steps.start - self.offset, steps.end - self.offset),
        }
    }
}

fn describe_matchers(matchers: &[Matcher]) -> String {
    let parts: Vec<String> = matchers
        .iter()
        .map(|m| {
            let op = match m.op() {
                crate::matcher::MatchOp::Equal => "=",
                crate::matcher::MatchOp::NotEqual => "!=",
                crate::matcher::MatchOp::Regex => "=~",
                crate::matcher::MatchOp::NotRegex => "!~",
            };
            format!("{}{op}{:?}", m.name(), m.value())
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

pub(crate) async fn load(
    ctx: &EvalContext,
    matchers: &[Matcher],
    start: i64,
    end: i64,
) -> Result<Vec<Series>, QueryError> {
    let sel = Selection {
        matchers: matchers.to_vec(),
        start,
        end,
        max_samples: ctx.remaining_samples(),
    };
    let found = select_series(&ctx.store, &ctx.snapshot, &sel).await?;
    ctx.account(found.iter().map(|s| s.timestamps.len()).sum())?;
    Ok(found
        .into_iter()
        .map(|s| Series {
            labels: s.labels,
            drop_name: false,
            timestamps: s.timestamps,
            values: s.values,
        })
        .collect())
}

/// `metric{…}`: at each step, the newest sample within the lookback window, unless stale.
#[derive(Debug)]
pub(crate) struct VectorSelect {
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) shift: TimeShift,
    pub(crate) steps: Steps,
    pub(crate) lookback: i64,
}

#[async_trait]
impl PromOp for VectorSelect {
    fn name(&self) -> &'static str {
        "VectorSelect"
    }

    fn describe(&self) -> String {
        format!(
            "{} offset={}ms at={:?} lookback={}ms steps={:?}",
            describe_matchers(&self.matchers),
            self.shift.offset,
            self.shift.at,
            self.lookback,
            self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        _inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let (lo, hi) = self.shift.span(self.steps);
        let raw = load(ctx, &self.matchers, lo - self.lookback + 1, hi).await?;
        let mut out = Vec::with_capacity(raw.len());
        for s in raw {
            let mut series = Series::new(s.labels.clone());
            for t in self.steps.iter() {
                let at = self.shift.eval_time(t);
                let i = s.timestamps.partition_point(|&ts| ts <= at);
                if i == 0 || s.timestamps[i - 1] <= at - self.lookback {
                    continue;
                }
                let v = s.values[i - 1];
                if !is_stale(v) {
                    series.push(t, v);
                }
            }
            if !series.timestamps.is_empty() {
                out.push(series);
            }
        }
        Ok(out)
    }
}

/// The raw samples a range vector covers over all steps: `(first read − range, last read]`,
/// stale markers removed. Range functions window them per step.
#[derive(Debug)]
pub(crate) struct MatrixSelect {
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) shift: TimeShift,
    pub(crate) range: i64,
    pub(crate) steps: Steps,
}

#[async_trait]
impl PromOp for MatrixSelect {
    fn name(&self) -> &'static str {
        "MatrixSelect"
    }

    fn describe(&self) -> String {
        format!(
            "{}[{}ms] offset={}ms at={:?} steps={:?}",
            describe_matchers(&self.matchers),
            self.range,
            self.shift.offset,
            self.shift.at,
            self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        _inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let (lo, hi) = self.shift.span(self.steps);
        let mut raw = load(ctx, &self.matchers, lo - self.range + 1, hi).await?;
        for s in &mut raw {
            let keep: Vec<bool> = s.values.iter().map(|v| !is_stale(*v)).collect();
            if keep.iter().all(|k| *k) {
                continue;
            }
            let mut k = keep.iter();
            s.timestamps.retain(|_| *k.next().unwrap_or(&true));
            let mut k = keep.iter();
            s.values.retain(|_| *k.next().unwrap_or(&true));
        }
        raw.retain(|s| !s.timestamps.is_empty());
        Ok(raw)
    }
}

/// `timestamp(selector)`: the selected raw sample's own timestamp (seconds) at each step.
#[derive(Debug)]
pub(crate) struct SampleTimestamps {
    pub(crate) select: VectorSelect,
}

#[async_trait]
impl PromOp for SampleTimestamps {
    fn name(&self) -> &'static str {
        "SampleTimestamps"
    }

    fn describe(&self) -> String {
        self.select.describe()
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        _inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let sel = &self.select;
        let (lo, hi) = sel.shift.span(sel.steps);
        let raw = load(ctx, &sel.matchers, lo - sel.lookback + 1, hi).await?;
        let mut out = Vec::with_capacity(raw.len());
        for s in raw {
            let mut series = Series::new(s.labels.clone());
            series.drop_name = true;
            for t in sel.steps.iter() {
                let at = sel.shift.eval_time(t);
                let i = s.timestamps.partition_point(|&ts| ts <= at);
                if i == 0 || s.timestamps[i - 1] <= at - sel.lookback || is_stale(s.values[i - 1]) {
                    continue;
                }
                series.push(t, s.timestamps[i - 1] as f64 / 1000.0);
            }
            if !series.timestamps.is_empty() {
                out.push(series);
            }
        }
        Ok(out)
    }
}
