//! Functions over range vectors (`rate(m[5m])`, `avg_over_time(…)`, …), windowing raw points
//! per step with Prometheus 3's left-open windows `(t − range, t]`.

use async_trait::async_trait;

use super::aggregate::quantile;
use super::counter::{self, RateWindow};
use super::kahan_inc;
use super::param::{Param, Params};
use super::selector::{RangeMode, TimeShift, interpolate};
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;

/// The range functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Changes,
    Resets,
    Deriv,
    PredictLinear,
    AvgOverTime,
    SumOverTime,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    StddevOverTime,
    StdvarOverTime,
    LastOverTime,
    FirstOverTime,
    PresentOverTime,
    QuantileOverTime,
    MadOverTime,
    DoubleExponentialSmoothing,
    /// `ts_of_{min,max,first,last}_over_time`: the timestamp (seconds) of that sample.
    TsOfMin,
    TsOfMax,
    TsOfFirst,
    TsOfLast,
    /// An instant query of a bare range vector or subquery: the window's points themselves.
    Window,
}

impl RangeFn {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "rate" => Self::Rate,
            "increase" => Self::Increase,
            "delta" => Self::Delta,
            "irate" => Self::Irate,
            "idelta" => Self::Idelta,
            "changes" => Self::Changes,
            "resets" => Self::Resets,
            "deriv" => Self::Deriv,
            "predict_linear" => Self::PredictLinear,
            "avg_over_time" => Self::AvgOverTime,
            "sum_over_time" => Self::SumOverTime,
            "count_over_time" => Self::CountOverTime,
            "min_over_time" => Self::MinOverTime,
            "max_over_time" => Self::MaxOverTime,
            "stddev_over_time" => Self::StddevOverTime,
            "stdvar_over_time" => Self::StdvarOverTime,
            "last_over_time" => Self::LastOverTime,
            "first_over_time" => Self::FirstOverTime,
            "present_over_time" => Self::PresentOverTime,
            "quantile_over_time" => Self::QuantileOverTime,
            "mad_over_time" => Self::MadOverTime,
            "double_exponential_smoothing" | "holt_winters" => Self::DoubleExponentialSmoothing,
            "ts_of_min_over_time" => Self::TsOfMin,
            "ts_of_max_over_time" => Self::TsOfMax,
            "ts_of_first_over_time" => Self::TsOfFirst,
            "ts_of_last_over_time" => Self::TsOfLast,
            _ => return None,
        })
    }

    pub(crate) fn keeps_name(self) -> bool {
        matches!(
            self,
            Self::LastOverTime | Self::FirstOverTime | Self::Window
        )
    }
}

/// Prometheus' info for `rate`/`increase` of a metric whose name does not look like a
/// counter's.
pub(crate) fn not_a_counter_info(ctx: &EvalContext, labels: &strata_storage::Labels) {
    if let Some(name) = labels.metric_name()
        && !["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
    {
        ctx.info(format!(
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
        ));
    }
}

/// A range function over a child producing raw points.
#[derive(Debug)]
pub(crate) struct RangeFunction {
    pub(crate) func: RangeFn,
    pub(crate) range: i64,
    pub(crate) shift: TimeShift,
    pub(crate) steps: Steps,
    /// Scalar parameters (`quantile_over_time`'s φ, `predict_linear`'s t, smoothing factors),
    /// evaluated per step.
    pub(crate) params: Vec<Param>,
    /// `anchored` / `smoothed` windows (rate, increase, delta, changes, resets only).
    pub(crate) mode: RangeMode,
    /// How far around the window extended modes look for boundary samples.
    pub(crate) lookback: i64,
}

#[async_trait]
impl PromOp for RangeFunction {
    fn name(&self) -> &'static str {
        "RangeFunction"
    }

    fn describe(&self) -> String {
        format!(
            "{:?} range={}ms offset={}ms at={:?} params={:?} steps={:?}",
            self.func, self.range, self.shift.offset, self.shift.at, self.params, self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let mut inputs = inputs.into_iter();
        let raw = inputs.next().unwrap_or_default();
        let params = Params::resolve(&self.params, &mut inputs);
        if self.func == RangeFn::DoubleExponentialSmoothing && !raw.is_empty() {
            for sf in params.distinct(0, self.steps) {
                if !(sf > 0.0 && sf < 1.0) {
                    return Err(QueryError::Execution(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                    )));
                }
            }
            for tf in params.distinct(1, self.steps) {
                if !(tf > 0.0 && tf < 1.0) {
                    return Err(QueryError::Execution(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                    )));
                }
            }
        }
        if self.func == RangeFn::QuantileOverTime {
            for q in params.distinct(0, self.steps) {
                if !(0.0..=1.0).contains(&q) {
                    ctx.warn(quantile_warning(q));
                }
            }
        }
        // Under `@` every step reads the same window: with constant parameters (and a
        // prediction not anchored at the step) it is evaluated once.
        let memoize = params.constant() && self.func != RangeFn::PredictLinear;
        let mut out = Vec::with_capacity(raw.len());
        let mut work = 0usize;
        for s in raw {
            ctx.check_deadline()?;
            if self.func == RangeFn::Window {
                out.push(self.window(&s));
                continue;
            }
            if matches!(self.func, RangeFn::Rate | RangeFn::Increase) {
                not_a_counter_info(ctx, &s.labels);
            }
            let mut series = Series::new(s.labels.clone());
            series.drop_name = s.drop_name || !self.func.keeps_name();
            let mut memo: Option<(i64, Option<f64>)> = None;
            for t in self.steps.iter() {
                work += 1;
                ctx.check_deadline_every(work)?;
                let end = self.shift.eval_time(t);
                if let Some((at, v)) = memo
                    && at == end
                    && memoize
                {
                    if let Some(v) = v {
                        series.push(t, v);
                    }
                    continue;
                }
                if self.mode != RangeMode::Normal {
                    if let Some(v) = self.extended(&s.timestamps, &s.values, end - self.range, end)
                    {
                        series.push(t, v);
                    }
                    continue;
                }
                let lo = s.timestamps.partition_point(|&ts| ts <= end - self.range);
                let hi = s.timestamps.partition_point(|&ts| ts <= end);
                if lo >= hi {
                    memo = Some((end, None));
                    continue;
                }
                let (ts, vs) = (&s.timestamps[lo..hi], &s.values[lo..hi]);
                let sts = s.start_timestamps.get(lo..hi).unwrap_or_default();
                if matches!(self.func, RangeFn::Rate | RangeFn::Increase)
                    && counter::any_start_overlap(ts, sts)
                {
                    ctx.warn(format!(
                        "PromQL warning: sample has start time that overlaps with previous sample timestamp for metric {:?}",
                        s.labels.metric_name().unwrap_or_default()
                    ));
                }
                let v = self.apply(ts, vs, sts, t, end, &params);
                memo = Some((end, v));
                if let Some(v) = v {
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

impl RangeFunction {
    /// The points of the window at the (single) evaluation step.
    fn window(&self, s: &Series) -> Series {
        let end = self.shift.eval_time(self.steps.end);
        let lo = s.timestamps.partition_point(|&ts| ts <= end - self.range);
        let hi = s.timestamps.partition_point(|&ts| ts <= end);
        Series {
            labels: s.labels.clone(),
            drop_name: s.drop_name,
            timestamps: s.timestamps[lo..hi].to_vec(),
            values: s.values[lo..hi].to_vec(),
            start_timestamps: Vec::new(),
        }
    }

    /// `t` is the evaluation step, `end` the (shifted) window end; `sts` the samples' start
    /// timestamps (empty when unknown).
    fn apply(
        &self,
        ts: &[i64],
        vs: &[f64],
        sts: &[i64],
        t: i64,
        end: i64,
        params: &Params,
    ) -> Option<f64> {
        let n = vs.len();
        match self.func {
            RangeFn::Rate | RangeFn::Increase | RangeFn::Delta => {
                let window = RateWindow {
                    start: end - self.range,
                    end,
                    is_counter: self.func != RangeFn::Delta,
                    is_rate: self.func == RangeFn::Rate,
                };
                counter::extrapolated_rate(ts, vs, sts, window)
            }
            RangeFn::Irate | RangeFn::Idelta => {
                counter::instant_rate(ts, vs, sts, self.func == RangeFn::Irate)
            }
            RangeFn::Changes => Some(
                vs.windows(2)
                    .filter(|w| !(w[0] == w[1] || (w[0].is_nan() && w[1].is_nan())))
                    .count() as f64,
            ),
            RangeFn::Resets => Some(counter::count_resets(ts, vs, sts) as f64),
            RangeFn::Deriv => {
                if n < 2 {
                    return None;
                }
                Some(linear_regression(ts, vs, ts[0]).0)
            }
            RangeFn::PredictLinear => {
                if n < 2 {
                    return None;
                }
                // Prometheus anchors the prediction at the evaluation time, even under `@`.
                let (slope, intercept) = linear_regression(ts, vs, t);
                Some(intercept + slope * params.at(0, t))
            }
            RangeFn::AvgOverTime => Some(mean(vs)),
            RangeFn::SumOverTime => {
                let (sum, c) = vs.iter().fold((0.0, 0.0), |(s, c), v| kahan_inc(*v, s, c));
                Some(sum + c)
            }
            RangeFn::CountOverTime => Some(n as f64),
            RangeFn::MinOverTime => Some(
                vs.iter()
                    .fold(vs[0], |m, &v| if v < m || m.is_nan() { v } else { m }),
            ),
            RangeFn::MaxOverTime => Some(
                vs.iter()
                    .fold(vs[0], |m, &v| if v > m || m.is_nan() { v } else { m }),
            ),
            RangeFn::StddevOverTime => Some(variance(vs).sqrt()),
            RangeFn::StdvarOverTime => Some(variance(vs)),
            RangeFn::LastOverTime => vs.last().copied(),
            RangeFn::FirstOverTime => vs.first().copied(),
            RangeFn::PresentOverTime => Some(1.0),
            RangeFn::QuantileOverTime => Some(quantile(params.at(0, t), vs.to_vec())),
            RangeFn::MadOverTime => {
                if vs.iter().any(|v| v.is_nan()) {
                    return Some(f64::NAN);
                }
                let median = quantile(0.5, vs.to_vec());
                Some(quantile(
                    0.5,
                    vs.iter().map(|v| (v - median).abs()).collect(),
                ))
            }
            RangeFn::DoubleExponentialSmoothing => {
                double_exponential_smoothing(vs, params.at(0, t), params.at(1, t))
            }
            RangeFn::TsOfMin | RangeFn::TsOfMax => {
                // The last sample holding the extreme value (NaN loses to any number).
                let mut best = 0;
                for i in 1..n {
                    let (v, b) = (vs[i], vs[best]);
                    let better = if self.func == RangeFn::TsOfMin {
                        v <= b
                    } else {
                        v >= b
                    };
                    if better || b.is_nan() {
                        best = i;
                    }
                }
                Some(ts[best] as f64 / 1000.0)
            }
            RangeFn::TsOfFirst => Some(ts[0] as f64 / 1000.0),
            RangeFn::TsOfLast => Some(ts[n - 1] as f64 / 1000.0),
            RangeFn::Window => None,
        }
    }
}

impl RangeFunction {
    /// `anchored` and `smoothed` windows: boundary values at `start` and `end` from the
    /// samples around them, no extrapolation.
    fn extended(&self, ts: &[i64], vs: &[f64], start: i64, end: i64) -> Option<f64> {
        let lo = ts.partition_point(|&t| t <= start);
        let hi = ts.partition_point(|&t| t <= end);
        let counter = matches!(self.func, RangeFn::Rate | RangeFn::Increase);
        // Across a counter reset the counter is taken to restart from zero.
        let interp = |a: usize, b: usize, t: i64| {
            if counter && vs[b] < vs[a] {
                interpolate(ts[a], 0.0, ts[b], vs[b], t)
            } else {
                interpolate(ts[a], vs[a], ts[b], vs[b], t)
            }
        };
        let mut points: Vec<f64> = Vec::with_capacity(hi.saturating_sub(lo) + 2);
        match self.mode {
            RangeMode::Anchored => {
                if lo >= hi {
                    return None;
                }
                let before = lo > 0 && ts[lo - 1] > start - self.lookback;
                points.push(if before { vs[lo - 1] } else { vs[lo] });
                points.extend_from_slice(&vs[lo..hi]);
            }
            RangeMode::Smoothed => {
                let before = (lo > 0 && ts[lo - 1] > start - self.lookback).then(|| lo - 1);
                let after = (hi < ts.len() && ts[hi] <= end + self.lookback).then_some(hi);
                if lo >= hi {
                    let (b, a) = (before?, after?);
                    points.push(interp(b, a, start));
                    points.push(interp(b, a, end));
                } else {
                    points.push(match before {
                        Some(b) => interp(b, lo, start),
                        None => vs[lo],
                    });
                    points.extend_from_slice(&vs[lo..hi]);
                    if ts[hi - 1] != end {
                        points.push(match after {
                            Some(a) => interp(hi - 1, a, end),
                            None => vs[hi - 1],
                        });
                    }
                }
            }
            RangeMode::Normal => return None,
        }
        let (first, last) = (points[0], points[points.len() - 1]);
        match self.func {
            RangeFn::Rate | RangeFn::Increase => {
                let mut increase = last - first;
                for w in points.windows(2) {
                    if w[1] < w[0] {
                        increase += w[0];
                    }
                }
                Some(if self.func == RangeFn::Rate {
                    increase / (self.range as f64 / 1000.0)
                } else {
                    increase
                })
            }
            RangeFn::Delta => Some(last - first),
            RangeFn::Changes => Some(
                points
                    .windows(2)
                    .filter(|w| !(w[0] == w[1] || (w[0].is_nan() && w[1].is_nan())))
                    .count() as f64,
            ),
            RangeFn::Resets => Some(points.windows(2).filter(|w| w[1] < w[0]).count() as f64),
            _ => None,
        }
    }
}

/// Prometheus' warning for a quantile outside [0, 1].
pub(crate) fn quantile_warning(q: f64) -> String {
    format!(
        "PromQL warning: quantile value should be between 0 and 1, got {}",
        super::format_float(q)
    )
}

/// Prometheus' `linearRegression`: slope per second and intercept at `intercept_time`.
pub(crate) fn linear_regression(ts: &[i64], vs: &[f64], intercept_time: i64) -> (f64, f64) {
    let init = vs[0];
    if vs.iter().all(|v| *v == init) {
        return if init.is_infinite() {
            (f64::NAN, f64::NAN)
        } else {
            (0.0, init)
        };
    }
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (&t, &v) in ts.iter().zip(vs) {
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1000.0;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Prometheus' mean: compensated sum, switching to an incremental mean on overflow.
pub(crate) fn mean(vs: &[f64]) -> f64 {
    let (mut sum, mut c) = (vs[0], 0.0);
    let mut mean = 0.0;
    let mut incremental = false;
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(v, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        let count = vs.len() as f64;
        sum / count + c / count
    }
}

/// Population variance with compensated incremental updates, as Prometheus computes it.
pub(crate) fn variance(vs: &[f64]) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        let delta = v - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (v - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

/// Prometheus' `double_exponential_smoothing` (Holt's linear method); factors are validated by
/// the caller.
fn double_exponential_smoothing(vs: &[f64], sf: f64, tf: f64) -> Option<f64> {
    if vs.len() < 2 {
        return None;
    }
    let (mut s0, mut s1, mut b) = (0.0, vs[0], vs[1] - vs[0]);
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_and_stats() {
        let (slope, intercept) = linear_regression(&[0, 1000, 2000], &[1.0, 3.0, 5.0], 0);
        assert_eq!((slope, intercept), (2.0, 1.0));
        assert_eq!(mean(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(variance(&[1.0, 1.0, 3.0, 3.0]), 1.0);
        assert_eq!(mean(&[f64::MAX, f64::MAX]), f64::MAX);
    }
}
