//! Functions over instant vectors and scalars: math, clamping, rounding, dates, label
//! manipulation, sorting, `vector`/`scalar`/`absent`.

use async_trait::async_trait;
use strata_storage::calendar::{civil_from_days as civil, is_leap};
use strata_storage::{Labels, METRIC_NAME};

use super::param::{Param, Params};
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;

/// The instant functions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Func {
    /// Element-wise math (`abs`, `ln`, `sin`, …), dropping the metric name.
    Math(&'static str),
    Round,
    Clamp,
    ClampMin,
    ClampMax,
    /// Date functions on values (seconds since the epoch); without an argument, on `time()`.
    Date(&'static str),
    /// `timestamp(v)` for a non-selector argument: the evaluation time.
    Timestamp,
    /// `start_timestamp(v)` for a non-selector argument: expressions carry no start
    /// timestamps, so the result is empty (the argument is still evaluated for its errors).
    StartTimestamp,
    LabelReplace {
        dst: String,
        replacement: String,
        src: String,
        regex: String,
    },
    LabelJoin {
        dst: String,
        sep: String,
        src: Vec<String>,
    },
    Sort {
        desc: bool,
    },
    SortByLabel {
        desc: bool,
        labels: Vec<String>,
    },
    Vector,
    Scalar,
    /// `absent(v)` / `absent_over_time(…)`: 1 with these labels where the input is empty.
    Absent(Labels),
}

const MATH: [&str; 22] = [
    "abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn", "sin", "cos", "tan",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg",
];
const DATES: [&str; 8] = [
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
];

impl Func {
    /// Element-wise functions by name.
    pub(crate) fn simple(name: &str) -> Option<Self> {
        if name == "rad" {
            return Some(Self::Math("rad"));
        }
        if let Some(m) = MATH.iter().find(|m| **m == name) {
            return Some(Self::Math(m));
        }
        DATES.iter().find(|d| **d == name).map(|d| Self::Date(d))
    }
}

fn math(name: &str, v: f64) -> f64 {
    match name {
        "abs" => v.abs(),
        "ceil" => v.ceil(),
        "floor" => v.floor(),
        "exp" => v.exp(),
        "ln" => v.ln(),
        "log2" => v.log2(),
        "log10" => v.log10(),
        "sqrt" => v.sqrt(),
        "sgn" => {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        }
        "sin" => v.sin(),
        "cos" => v.cos(),
        "tan" => v.tan(),
        "asin" => v.asin(),
        "acos" => v.acos(),
        "atan" => v.atan(),
        "sinh" => v.sinh(),
        "cosh" => v.cosh(),
        "tanh" => v.tanh(),
        "asinh" => v.asinh(),
        "acosh" => v.acosh(),
        "atanh" => v.atanh(),
        "deg" => v.to_degrees(),
        "rad" => v.to_radians(),
        _ => f64::NAN,
    }
}

fn date(name: &str, seconds: f64) -> f64 {
    if !seconds.is_finite() {
        return f64::NAN;
    }
    let secs = seconds as i64;
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let days_in_month = [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    match name {
        "day_of_month" => f64::from(d),
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => f64::from(CUMULATIVE[m as usize - 1] + d + u32::from(m > 2 && is_leap(y))),
        "days_in_month" => f64::from(days_in_month[m as usize - 1]),
        "hour" => (in_day / 3600) as f64,
        "minute" => (in_day % 3600 / 60) as f64,
        "month" => f64::from(m),
        "year" => y as f64,
        _ => f64::NAN,
    }
}

/// An instant function. The vector argument, if any, is the first input; numeric
/// parameters (`round`'s precision, `clamp`'s bounds) are evaluated per step.
#[derive(Debug)]
pub(crate) struct InstantFunction {
    pub(crate) func: Func,
    pub(crate) params: Vec<Param>,
    pub(crate) steps: Steps,
}

/// Maps every point through `f(step, value)`; a `None` drops the point (and a series left
/// without points).
fn map_points(series: Vec<Series>, f: impl Fn(i64, f64) -> Option<f64>) -> Vec<Series> {
    series
        .into_iter()
        .filter_map(|mut s| {
            let (mut ts, mut vs) = (Vec::new(), Vec::new());
            for (&t, &v) in s.timestamps.iter().zip(&s.values) {
                if let Some(v) = f(t, v) {
                    ts.push(t);
                    vs.push(v);
                }
            }
            (!ts.is_empty()).then(|| {
                s.timestamps = ts;
                s.values = vs;
                s.drop_name = true;
                s
            })
        })
        .collect()
}

fn map_values(series: Vec<Series>, drop_name: bool, f: impl Fn(f64) -> f64) -> Vec<Series> {
    series
        .into_iter()
        .map(|mut s| {
            s.values.iter_mut().for_each(|v| *v = f(*v));
            s.drop_name |= drop_name;
            s
        })
        .collect()
}

fn value_order(a: f64, b: f64, desc: bool) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ if desc => b.total_cmp(&a),
        _ => a.total_cmp(&b),
    }
}

#[async_trait]
impl PromOp for InstantFunction {
    fn name(&self) -> &'static str {
        "InstantFunction"
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
        if matches!(self.func, Func::Sort { .. } | Func::SortByLabel { .. }) && self.steps.len() > 1
        {
            ctx.warn("PromQL warning: sort is ineffective for range queries since results are always ordered by labels".into());
        }
        Ok(match &self.func {
            Func::Math(name) => map_values(input, true, |v| math(name, v)),
            Func::Date(name) => map_values(input, true, |v| date(name, v)),
            Func::Timestamp => input
                .into_iter()
                .map(|mut s| {
                    s.values = s.timestamps.iter().map(|t| *t as f64 / 1000.0).collect();
                    s.drop_name = true;
                    s
                })
                .collect(),
            Func::StartTimestamp => Vec::new(),
            Func::Round => map_points(input, |t, v| {
                let inverse = 1.0 / params.at(0, t);
                Some((v * inverse + 0.5).floor() / inverse)
            }),
            // A step where the bounds cross has no output (Prometheus' empty vector).
            Func::Clamp => map_points(input, |t, v| {
                let (lo, hi) = (params.at(0, t), params.at(1, t));
                (hi >= lo || lo.is_nan() || hi.is_nan()).then(|| go_max(lo, go_min(hi, v)))
            }),
            Func::ClampMin => map_points(input, |t, v| Some(go_max(params.at(0, t), v))),
            Func::ClampMax => map_points(input, |t, v| Some(go_min(params.at(0, t), v))),
            Func::LabelReplace {
                dst,
                replacement,
                src,
                regex,
            } => {
                let re = strata_storage::goregex::anchored(regex).map_err(|_| {
                    QueryError::Execution(format!(
                        "invalid regular expression in label_replace(): {regex}"
                    ))
                })?;
                if dst.is_empty() {
                    return Err(QueryError::Execution(format!(
                        "invalid destination label name in label_replace(): {dst}"
                    )));
                }
                input
                    .into_iter()
                    .map(|mut s| {
                        let value = s.labels.get(src).unwrap_or_default().to_string();
                        if let Some(caps) = re.captures(&value) {
                            let out = strata_storage::goregex::expand(&caps, replacement);
                            s.labels = set_label(&s.labels, dst, &out);
                            if dst == METRIC_NAME {
                                s.drop_name = false;
                            }
                        }
                        s
                    })
                    .collect()
            }
            Func::LabelJoin { dst, sep, src } => input
                .into_iter()
                .map(|mut s| {
                    let joined: Vec<&str> = src
                        .iter()
                        .map(|l| s.labels.get(l).unwrap_or_default())
                        .collect();
                    s.labels = set_label(&s.labels, dst, &joined.join(sep));
                    if dst == METRIC_NAME {
                        s.drop_name = false;
                    }
                    s
                })
                .collect(),
            Func::Sort { desc } => {
                let mut input = input;
                let first = |s: &Series| s.values.first().copied().unwrap_or(f64::NAN);
                input.sort_by(|a, b| value_order(first(a), first(b), *desc));
                input
            }
            Func::SortByLabel { desc, labels } => {
                let mut input = input;
                input.sort_by(|a, b| {
                    let key = |s: &Series| -> Vec<String> {
                        labels
                            .iter()
                            .map(|l| s.labels.get(l).unwrap_or_default().to_string())
                            .collect()
                    };
                    let (ka, kb) = (key(a), key(b));
                    let o = ka
                        .iter()
                        .zip(&kb)
                        .map(|(x, y)| natural_cmp(x, y))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| a.labels.cmp(&b.labels));
                    if *desc { o.reverse() } else { o }
                });
                input
            }
            Func::Vector => input
                .into_iter()
                .map(|mut s| {
                    s.labels = Labels::default();
                    s
                })
                .collect(),
            Func::Scalar => {
                let mut out = Series::new(Labels::default());
                for t in self.steps.iter() {
                    let present: Vec<f64> = input.iter().filter_map(|s| s.at(t)).collect();
                    out.push(
                        t,
                        if present.len() == 1 {
                            present[0]
                        } else {
                            f64::NAN
                        },
                    );
                }
                vec![out]
            }
            Func::Absent(labels) => {
                let mut out = Series::new(labels.clone());
                for t in self.steps.iter() {
                    if input.iter().all(|s| s.at(t).is_none()) {
                        out.push(t, 1.0);
                    }
                }
                if out.timestamps.is_empty() {
                    Vec::new()
                } else {
                    vec![out]
                }
            }
        })
    }
}

/// Natural order: runs of digits compare by number (`cpu9` < `cpu10`).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                let nb = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
                let (da, db) = (
                    a[..na].trim_start_matches('0'),
                    b[..nb].trim_start_matches('0'),
                );
                let o = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
                if o.is_ne() {
                    return o;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn set_label(labels: &Labels, name: &str, value: &str) -> Labels {
    let pairs = labels
        .iter()
        .filter(|l| l.name != name)
        .map(|l| (l.name.clone(), l.value.clone()))
        .chain(std::iter::once((name.to_string(), value.to_string())));
    Labels::from_pairs(pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // 2024-02-29T13:45:00Z is 1709214300.
        let t = 1_709_214_300.0;
        assert_eq!(date("year", t), 2024.0);
        assert_eq!(date("month", t), 2.0);
        assert_eq!(date("day_of_month", t), 29.0);
        assert_eq!(date("days_in_month", t), 29.0);
        assert_eq!(date("day_of_year", t), 60.0);
        assert_eq!(date("day_of_week", t), 4.0);
        assert_eq!(date("hour", t), 13.0);
        assert_eq!(date("minute", t), 45.0);
        assert_eq!(date("year", -1.0), 1969.0);
    }
}
