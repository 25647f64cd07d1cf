//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over classic
//! histograms (`*_bucket` series with an `le` label), following Prometheus' `quantile.go`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use strata_storage::{Labels, METRIC_NAME};

use super::format_float;
use super::param::{Param, Params};
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;

/// The bucket label.
const LE: &str = "le";
/// Relative differences below this between adjacent buckets are float noise, not decreases.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// What to compute from each histogram. The numeric arguments are the node's `params`,
/// evaluated per step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HistFn {
    /// `histogram_quantile(φ, v)`: params `[φ]`.
    Quantile,
    /// `histogram_quantiles(v, "label", φ…)`: one series per quantile, labelled; params `[φ…]`.
    Quantiles { label: String },
    /// `histogram_fraction(lower, upper, v)`: params `[lower, upper]`.
    Fraction,
}

/// One bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || a.abs() + b.abs() < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < epsilon
}

/// Sorts, merges equal bounds and repairs monotonicity; `None` without a `+Inf` bucket.
/// Returns whether monotonicity had to be forced.
fn prepare(mut buckets: Vec<Bucket>) -> Option<(Vec<Bucket>, bool)> {
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return None;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(b),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].count;
    for b in merged.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    Some((merged, forced))
}

/// Prometheus' `BucketQuantile`.
fn bucket_quantile(q: f64, buckets: &[Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|b| b.count < rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].upper;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return buckets[0].upper;
    }
    let (mut start, end, mut count) = (0.0, buckets[b].upper, buckets[b].count);
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

/// Prometheus' `BucketFraction`: the estimated share of observations in `[lower, upper]`.
fn bucket_fraction(lower: f64, upper: f64, buckets: &[Bucket]) -> f64 {
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, b) in buckets.iter().enumerate() {
        let lower_bound = if i > 0 {
            buckets[i - 1].upper
        } else {
            f64::NEG_INFINITY
        };
        let upper_bound = b.upper;
        let interpolate = |v: f64| -> f64 {
            if lower_bound == f64::NEG_INFINITY {
                if upper_bound <= 0.0 {
                    // An infinitely wide bucket: nothing in it is attributed above `v`.
                    return b.count;
                }
                // A first bucket with a positive bound is taken to start at zero.
                return if v <= 0.0 {
                    rank
                } else {
                    rank + (b.count - rank) * v / upper_bound
                };
            }
            if upper_bound == f64::INFINITY {
                return rank;
            }
            rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Classic-histogram functions over an instant vector of bucket series.
#[derive(Debug)]
pub(crate) struct ClassicHistogram {
    pub(crate) func: HistFn,
    pub(crate) params: Vec<Param>,
    pub(crate) steps: Steps,
}

fn without_le_and_name(labels: &Labels) -> Labels {
    let pairs = labels
        .iter()
        .filter(|l| l.name != LE && l.name != METRIC_NAME)
        .map(|l| (l.name.clone(), l.value.clone()));
    Labels::from_pairs(pairs).unwrap_or_default()
}

#[async_trait]
impl PromOp for ClassicHistogram {
    fn name(&self) -> &'static str {
        "ClassicHistogram"
    }

    fn describe(&self) -> String {
        format!(
            "{:?} params={:?} steps={:?}",
            self.func, self.params, self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let mut inputs = inputs.into_iter();
        let input = inputs.next().unwrap_or_default();
        let params = Params::resolve(&self.params, &mut inputs);
        if self.func == HistFn::Quantile {
            for q in params.distinct(0, self.steps) {
                if !(0.0..=1.0).contains(&q) {
                    ctx.warn(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        format_float(q)
                    ));
                }
            }
        }
        let mut work = 0usize;
        // Group bucket series by their labels without `le` (and the name).
        let mut groups: BTreeMap<Labels, Vec<(f64, &Series)>> = BTreeMap::new();
        for s in &input {
            let le = s.labels.get(LE).and_then(parse_le);
            let Some(le) = le else {
                let name = s.labels.metric_name().unwrap_or_default();
                ctx.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"{}\" for metric name \"{name}\"",
                    s.labels.get(LE).unwrap_or_default()
                ));
                continue;
            };
            groups
                .entry(without_le_and_name(&s.labels))
                .or_default()
                .push((le, s));
        }
        let mut out: BTreeMap<Labels, Series> = BTreeMap::new();
        for (key, members) in &groups {
            for t in self.steps.iter() {
                work += 1;
                ctx.check_deadline_every(work)?;
                let buckets: Vec<Bucket> = members
                    .iter()
                    .filter_map(|(le, s)| s.at(t).map(|count| Bucket { upper: *le, count }))
                    .collect();
                if buckets.is_empty() {
                    continue;
                }
                let Some((buckets, forced)) = prepare(buckets) else {
                    out.entry(key.clone())
                        .or_insert_with(|| Series::new(key.clone()))
                        .push(t, f64::NAN);
                    continue;
                };
                if forced {
                    let name = members[0].1.labels.metric_name().unwrap_or_default();
                    ctx.info(format!(
                        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{name}\""
                    ));
                }
                match &self.func {
                    HistFn::Quantile => {
                        out.entry(key.clone())
                            .or_insert_with(|| Series::new(key.clone()))
                            .push(t, bucket_quantile(params.at(0, t), &buckets));
                    }
                    HistFn::Fraction => {
                        let (lower, upper) = (params.at(0, t), params.at(1, t));
                        out.entry(key.clone())
                            .or_insert_with(|| Series::new(key.clone()))
                            .push(t, bucket_fraction(lower, upper, &buckets));
                    }
                    HistFn::Quantiles { label } => {
                        for i in 0..self.params.len() {
                            let q = params.at(i, t);
                            let pairs = key
                                .iter()
                                .map(|l| (l.name.clone(), l.value.clone()))
                                .chain(std::iter::once((label.clone(), format_float(q))));
                            let labels = Labels::from_pairs(pairs).unwrap_or_default();
                            out.entry(labels.clone())
                                .or_insert_with(|| Series::new(labels))
                                .push(t, bucket_quantile(q, &buckets));
                        }
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }
}

/// `le` values as Go's ParseFloat reads them (`+Inf`, `1e3`, `0.5`).
fn parse_le(v: &str) -> Option<f64> {
    match v.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse::<f64>().ok().filter(|f| !f.is_nan()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(spec: &[(f64, f64)]) -> Vec<Bucket> {
        spec.iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn quantile_interpolates_within_the_bucket() {
        let (b, forced) = prepare(buckets(&[
            (0.1, 10.0),
            (0.5, 30.0),
            (1.0, 40.0),
            (f64::INFINITY, 40.0),
        ]))
        .unwrap();
        assert!(!forced);
        assert_eq!(bucket_quantile(0.5, &b), 0.1 + 0.4 * (10.0 / 20.0));
        assert_eq!(
            bucket_quantile(1.0, &b),
            1.0,
            "the +Inf bucket answers its lower bound"
        );
        assert!(prepare(buckets(&[(0.1, 1.0)])).is_none(), "no +Inf bucket");
        let (_, forced) =
            prepare(buckets(&[(0.1, 10.0), (0.5, 5.0), (f64::INFINITY, 12.0)])).unwrap();
        assert!(forced);
    }
}
