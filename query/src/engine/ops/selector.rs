//! Leaf operators: instant-vector selection (lookback, staleness, `offset`, `@`) and raw-sample
//! selection for range vectors.

use async_trait::async_trait;

use super::is_stale;
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;
use crate::matcher::Matcher;
use crate::select::{InstantReads, Selection, select_series};

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

/// Reads the raw samples of `[start, end]`. A range read counts them against the sample
/// limit; an instant read (`instant`) keeps only the samples its steps can pick, and its
/// caller counts the points it outputs, as Prometheus counts one sample per series per step.
pub(crate) async fn load(
    ctx: &EvalContext,
    matchers: &[Matcher],
    start: i64,
    end: i64,
    instant: Option<InstantReads>,
) -> Result<Vec<Series>, QueryError> {
    let sel = Selection {
        matchers: matchers.to_vec(),
        start,
        end,
        max_samples: ctx.remaining_samples(),
        read: ctx.read.clone(),
        instant,
    };
    let found = select_series(&ctx.store, &ctx.snapshot, &sel).await?;
    let found = ctx.overlay.merge_into(found, matchers, start, end);
    if instant.is_none() {
        ctx.account(found.iter().map(|s| s.timestamps.len()).sum())?;
    }
    Ok(found
        .into_iter()
        .map(|s| Series {
            labels: s.labels,
            drop_name: false,
            timestamps: s.timestamps,
            values: s.values,
            start_timestamps: s.start_timestamps,
        })
        .collect())
}

/// How a selector treats the edges of its window (Prometheus 3's extended range selectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeMode {
    Normal,
    /// Adds the last sample at or before the window start (stale markers ignored).
    Anchored,
    /// Interpolates values at the window edges from the samples around them.
    Smoothed,
}

/// Removes stale markers (extended modes ignore them).
pub(crate) fn drop_stale(s: &mut Series) {
    if s.values.iter().all(|v| !is_stale(*v)) {
        return;
    }
    let keep: Vec<usize> = (0..s.values.len())
        .filter(|&i| !is_stale(s.values[i]))
        .collect();
    s.timestamps = keep.iter().map(|&i| s.timestamps[i]).collect();
    s.values = keep.iter().map(|&i| s.values[i]).collect();
    if !s.start_timestamps.is_empty() {
        s.start_timestamps = keep.iter().map(|&i| s.start_timestamps[i]).collect();
    }
}

/// Linear interpolation at `t` between two samples.
pub(crate) fn interpolate(t0: i64, v0: f64, t1: i64, v1: f64, t: i64) -> f64 {
    v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64
}

/// `metric{…}`: at each step, the newest sample within the lookback window, unless stale.
#[derive(Debug)]
pub(crate) struct VectorSelect {
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) shift: TimeShift,
    pub(crate) steps: Steps,
    pub(crate) lookback: i64,
    pub(crate) mode: RangeMode,
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
        let ahead = if self.mode == RangeMode::Smoothed {
            self.lookback
        } else {
            0
        };
        let instant = (self.mode == RangeMode::Normal).then(|| self.reads());
        let raw = load(
            ctx,
            &self.matchers,
            lo - self.lookback + 1,
            hi + ahead,
            instant,
        )
        .await?;
        let mut out = Vec::with_capacity(raw.len());
        let mut work = 0usize;
        for mut s in raw {
            if self.mode != RangeMode::Normal {
                drop_stale(&mut s);
            }
            let mut series = Series::new(s.labels.clone());
            for t in self.steps.iter() {
                work += 1;
                ctx.check_deadline_every(work)?;
                let at = self.shift.eval_time(t);
                let value = match (self.mode, s.newest_within(at, self.lookback)) {
                    (RangeMode::Smoothed, Some(b)) if s.timestamps[b] == at => Some(s.values[b]),
                    (RangeMode::Smoothed, Some(b)) => Some(match s.timestamps.get(b + 1) {
                        Some(&ta) if ta <= at + self.lookback => {
                            interpolate(s.timestamps[b], s.values[b], ta, s.values[b + 1], at)
                        }
                        _ => s.values[b],
                    }),
                    (_, Some(b)) if !is_stale(s.values[b]) => Some(s.values[b]),
                    _ => None,
                };
                if let Some(v) = value {
                    series.push(t, v);
                }
            }
            if !series.timestamps.is_empty() {
                if instant.is_some() {
                    ctx.account(series.timestamps.len())?;
                }
                out.push(series);
            }
        }
        Ok(out)
    }
}

impl VectorSelect {
    /// The times this selector reads at, for keeping only the samples they pick.
    fn reads(&self) -> InstantReads {
        let (first, last) = self.shift.span(self.steps);
        InstantReads {
            first,
            last,
            step: if first == last { 1 } else { self.steps.step },
            lookback: self.lookback,
        }
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
    /// Extended modes also load a lookback window before (and for `smoothed` after) the range.
    pub(crate) mode: RangeMode,
    pub(crate) lookback: i64,
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
        let (before, after) = match self.mode {
            RangeMode::Normal => (0, 0),
            RangeMode::Anchored => (self.lookback, 0),
            RangeMode::Smoothed => (self.lookback, self.lookback),
        };
        let mut raw = load(
            ctx,
            &self.matchers,
            lo - self.range - before + 1,
            hi + after,
            None,
        )
        .await?;
        for s in &mut raw {
            drop_stale(s);
        }
        raw.retain(|s| !s.timestamps.is_empty());
        Ok(raw)
    }
}

/// `timestamp(selector)`: the selected raw sample's own timestamp (seconds) at each step;
/// with `start`, `start_timestamp(selector)`: its start timestamp (0 when unknown).
#[derive(Debug)]
pub(crate) struct SampleTimestamps {
    pub(crate) select: VectorSelect,
    pub(crate) start: bool,
}

#[async_trait]
impl PromOp for SampleTimestamps {
    fn name(&self) -> &'static str {
        if self.start {
            "SampleStartTimestamps"
        } else {
            "SampleTimestamps"
        }
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
        let raw = load(
            ctx,
            &sel.matchers,
            lo - sel.lookback + 1,
            hi,
            Some(sel.reads()),
        )
        .await?;
        let mut out = Vec::with_capacity(raw.len());
        let mut work = 0usize;
        for s in raw {
            let mut series = Series::new(s.labels.clone());
            series.drop_name = true;
            for t in sel.steps.iter() {
                work += 1;
                ctx.check_deadline_every(work)?;
                let at = sel.shift.eval_time(t);
                match s.newest_within(at, sel.lookback) {
                    Some(i) if !is_stale(s.values[i]) => {
                        let ms = if self.start {
                            s.start_timestamps.get(i).copied().unwrap_or(0)
                        } else {
                            s.timestamps[i]
                        };
                        series.push(t, ms as f64 / 1000.0)
                    }
                    _ => {}
                }
            }
            if !series.timestamps.is_empty() {
                ctx.account(series.timestamps.len())?;
                out.push(series);
            }
        }
        Ok(out)
    }
}
