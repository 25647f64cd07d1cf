//! Leaf operators over downsampled rows: a range function whose every range is a whole
//! number of windows (`rate(x[1h])` at an aligned step), and an instant selector read at
//! window ends. Both give the raw answer — bit-equal for counts, extremes, first/last values,
//! resets and changes, equal to rounding for sums and rates — because each row carries
//! what the function needs of its window ([`strata_storage::aggregate`]). The planner uses
//! them only where that holds (`planner.rs`, `downsampling`); everything else reads raw.

use async_trait::async_trait;
use strata_storage::aggregate::{AggRow, Span, newest, window_end};

use super::counter::{self, Edges, RateWindow};
use super::is_stale;
use super::range_fn::{RangeFn, not_a_counter_info};
use super::selector::TimeShift;
use crate::downsampled::{AggSelection, select_aggregates};
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;
use crate::matcher::Matcher;

/// Whether rows can answer `func` exactly.
pub(crate) fn answers(func: RangeFn) -> bool {
    matches!(
        func,
        RangeFn::Rate
            | RangeFn::Increase
            | RangeFn::Delta
            | RangeFn::Changes
            | RangeFn::Resets
            | RangeFn::AvgOverTime
            | RangeFn::SumOverTime
            | RangeFn::CountOverTime
            | RangeFn::MinOverTime
            | RangeFn::MaxOverTime
            | RangeFn::LastOverTime
            | RangeFn::FirstOverTime
            | RangeFn::PresentOverTime
            | RangeFn::TsOfFirst
            | RangeFn::TsOfLast
    )
}

/// `func` over one range's rows folded into `span`.
fn apply(func: RangeFn, span: &Span, start: i64, end: i64) -> Option<f64> {
    if span.count == 0 {
        return None;
    }
    let rate = |is_counter: bool, is_rate: bool| {
        let result = if is_counter {
            span.increase()
        } else {
            span.last - span.first
        };
        let edges = Edges {
            n: span.count,
            first_t: span.first_t,
            last_t: span.last_t,
            first_v: span.first,
            first_st: span.first_start,
        };
        let w = RateWindow {
            start,
            end,
            is_counter,
            is_rate,
        };
        counter::extrapolate(edges, result, w)
    };
    Some(match func {
        RangeFn::Rate => return rate(true, true),
        RangeFn::Increase => return rate(true, false),
        RangeFn::Delta => return rate(false, false),
        RangeFn::Changes => span.changes as f64,
        RangeFn::Resets => span.resets as f64,
        RangeFn::AvgOverTime => span.sum() / span.count as f64,
        RangeFn::SumOverTime => span.sum(),
        RangeFn::CountOverTime => span.count as f64,
        RangeFn::MinOverTime => span.min,
        RangeFn::MaxOverTime => span.max,
        RangeFn::LastOverTime => span.last,
        RangeFn::FirstOverTime => span.first,
        RangeFn::PresentOverTime => 1.0,
        RangeFn::TsOfFirst => span.first_t as f64 / 1000.0,
        RangeFn::TsOfLast => span.last_t as f64 / 1000.0,
        _ => return None,
    })
}

async fn load(
    ctx: &EvalContext,
    matchers: &[Matcher],
    res: i64,
    (first_end, last_end): (i64, i64),
    instant_lookback: Option<i64>,
) -> Result<Vec<crate::downsampled::AggSeries>, QueryError> {
    let sel = AggSelection {
        matchers: matchers.to_vec(),
        res,
        first_end,
        last_end,
        max_samples: ctx.remaining_samples(),
        read: ctx.read.clone(),
        instant_lookback,
    };
    let (found, stats) = select_aggregates(&ctx.store, &ctx.snapshot, &sel).await?;
    ctx.note_downsampled(stats.rows_read, stats.raw_samples_read);
    if instant_lookback.is_none() {
        // Raw samples read for gaps count as a raw range read would.
        ctx.account(stats.raw_samples_read)?;
    }
    Ok(found)
}

/// `func(selector[range])` evaluated over rows of `res`-wide windows; `range`, the step and
/// the (shifted) evaluation times are multiples of `res`.
#[derive(Debug)]
pub(crate) struct DownsampledRange {
    pub(crate) func: RangeFn,
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) range: i64,
    pub(crate) shift: TimeShift,
    pub(crate) steps: Steps,
    pub(crate) res: i64,
}

#[async_trait]
impl PromOp for DownsampledRange {
    fn name(&self) -> &'static str {
        "DownsampledRange"
    }

    fn describe(&self) -> String {
        format!(
            "{:?} {:?}[{}ms] res={}ms offset={}ms at={:?} steps={:?}",
            self.func,
            self.matchers,
            self.range,
            self.res,
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
        let found = load(
            ctx,
            &self.matchers,
            self.res,
            (lo - self.range + self.res, hi),
            None,
        )
        .await?;
        ctx.account(found.iter().map(|s| s.rows.len()).sum())?;
        let mut out = Vec::with_capacity(found.len());
        let mut work = 0usize;
        for s in found {
            ctx.check_deadline()?;
            if matches!(self.func, RangeFn::Rate | RangeFn::Increase) {
                not_a_counter_info(ctx, &s.labels);
            }
            let mut series = Series::new(s.labels);
            series.drop_name = !self.func.keeps_name();
            let ends: Vec<i64> = s.rows.iter().map(|r| r.t).collect();
            for t in self.steps.iter() {
                work += 1;
                ctx.check_deadline_every(work)?;
                let end = self.shift.eval_time(t);
                let a = ends.partition_point(|&e| e <= end - self.range);
                let b = ends.partition_point(|&e| e <= end);
                let mut span = Span::default();
                s.rows[a..b].iter().for_each(|r| span.push_row(r));
                if let Some(v) = apply(self.func, &span, end - self.range, end) {
                    series.push(t, v);
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

/// An instant selector read at window ends: the newest sample of the rows ending at or
/// before each (shifted) evaluation time, if it lies within the lookback and is no stale
/// marker.
#[derive(Debug)]
pub(crate) struct DownsampledSelect {
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) shift: TimeShift,
    pub(crate) steps: Steps,
    pub(crate) lookback: i64,
    pub(crate) res: i64,
}

#[async_trait]
impl PromOp for DownsampledSelect {
    fn name(&self) -> &'static str {
        "DownsampledSelect"
    }

    fn describe(&self) -> String {
        format!(
            "{:?} res={}ms offset={}ms at={:?} lookback={}ms steps={:?}",
            self.matchers, self.res, self.shift.offset, self.shift.at, self.lookback, self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        _inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let (lo, hi) = self.shift.span(self.steps);
        let first = window_end(lo - self.lookback + 1, self.res);
        let found = load(
            ctx,
            &self.matchers,
            self.res,
            (first, hi),
            Some(self.lookback),
        )
        .await?;
        let mut out = Vec::with_capacity(found.len());
        let mut work = 0usize;
        for s in found {
            let mut series = Series::new(s.labels);
            let rows: &[AggRow] = &s.rows;
            for t in self.steps.iter() {
                work += 1;
                ctx.check_deadline_every(work)?;
                let at = self.shift.eval_time(t);
                let upto = rows.partition_point(|r| r.t <= at);
                match newest(&rows[..upto]) {
                    Some((ts, v)) if ts > at - self.lookback && !is_stale(v) => series.push(t, v),
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
