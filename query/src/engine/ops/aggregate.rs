//! Aggregation operators (`sum`, `avg`, `topk`, `count_values`, … with `by`/`without`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use strata_storage::{Labels, METRIC_NAME};

use super::range_fn::{mean, variance};
use super::{format_float, kahan_inc};
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;

/// The aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
    CountValues,
    Limitk,
    LimitRatio,
}

impl AggOp {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sum" => Self::Sum,
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "count" => Self::Count,
            "group" => Self::Group,
            "stddev" => Self::Stddev,
            "stdvar" => Self::Stdvar,
            "topk" => Self::Topk,
            "bottomk" => Self::Bottomk,
            "quantile" => Self::Quantile,
            "count_values" => Self::CountValues,
            "limitk" => Self::Limitk,
            "limit_ratio" => Self::LimitRatio,
            _ => return None,
        })
    }

    /// Operators that keep the input series (and their labels) instead of one per group.
    fn selects_series(self) -> bool {
        matches!(
            self,
            Self::Topk | Self::Bottomk | Self::Limitk | Self::LimitRatio
        )
    }
}

/// `by (…)` or `without (…)`.
#[derive(Debug, Clone)]
pub(crate) struct Grouping {
    pub(crate) without: bool,
    pub(crate) labels: Vec<String>,
}

impl Grouping {
    /// The group's label set of a series.
    pub(crate) fn key(&self, labels: &Labels) -> Labels {
        let pairs = labels.iter().filter(|l| {
            if self.without {
                l.name != METRIC_NAME && !self.labels.contains(&l.name)
            } else {
                self.labels.contains(&l.name)
            }
        });
        Labels::from_pairs(pairs.map(|l| (l.name.clone(), l.value.clone()))).unwrap_or_default()
    }
}

/// An aggregation. With a numeric parameter (`topk`, `quantile`, `limitk`) the first input is
/// the parameter as a scalar; `count_values` takes its label name as `label_param`.
#[derive(Debug)]
pub(crate) struct Aggregate {
    pub(crate) op: AggOp,
    pub(crate) grouping: Grouping,
    pub(crate) steps: Steps,
    pub(crate) has_param: bool,
    pub(crate) label_param: Option<String>,
}

/// Prometheus' `quantile`: linear interpolation between ranks; φ outside [0, 1] gives ±Inf.
pub(crate) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    // NaNs sort last with total_cmp, as Go's sort.Float64s puts them first: move them.
    let nans = values.iter().filter(|v| v.is_nan()).count();
    values.rotate_right(nans);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[async_trait]
impl PromOp for Aggregate {
    fn name(&self) -> &'static str {
        "Aggregate"
    }

    fn describe(&self) -> String {
        format!(
            "{:?} {} ({}) steps={:?}",
            self.op,
            if self.grouping.without {
                "without"
            } else {
                "by"
            },
            self.grouping.labels.join(", "),
            self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let mut inputs = inputs.into_iter();
        let param = if self.has_param {
            inputs.next().and_then(|p| p.into_iter().next())
        } else {
            None
        };
        let series = inputs.next().unwrap_or_default();
        if let Some(label) = &self.label_param
            && !is_valid_label_name(label)
        {
            return Err(QueryError::Execution(format!(
                "invalid label name {label:?}"
            )));
        }
        // Each series' group, computed once; groups are visited in label order.
        let mut group_ids: BTreeMap<Labels, usize> = BTreeMap::new();
        let group_of: Vec<usize> = series
            .iter()
            .map(|s| {
                let key = self.grouping.key(&s.labels);
                let next = group_ids.len();
                *group_ids.entry(key).or_insert(next)
            })
            .collect();
        let mut group_keys: Vec<Labels> = vec![Labels::default(); group_ids.len()];
        let mut group_order: Vec<usize> = Vec::with_capacity(group_ids.len());
        for (key, id) in group_ids {
            group_order.push(id);
            group_keys[id] = key;
        }
        let mut out: BTreeMap<Labels, Series> = BTreeMap::new();
        // Output series of the plain aggregations, one per group.
        let mut grouped: Vec<Option<Series>> = vec![None; group_keys.len()];
        let mut selected: Vec<Series> = series
            .iter()
            .map(|s| Series {
                labels: s.labels.clone(),
                drop_name: s.drop_name,
                timestamps: Vec::new(),
                values: Vec::new(),
                start_timestamps: Vec::new(),
            })
            .collect();
        let mut ordered: Vec<usize> = Vec::new();
        // Per group: (series index, value) present at the current step.
        let mut members_of: Vec<Vec<(usize, f64)>> = vec![Vec::new(); group_keys.len()];
        // Points are step-aligned and ascending: one cursor per series walks them.
        let mut cursors: Vec<usize> = vec![0; series.len()];
        for (n, t) in self.steps.iter().enumerate() {
            // Each step visits every series: check the deadline every few steps.
            if n.is_multiple_of(16) {
                ctx.check_deadline()?;
            }
            let p = param.as_ref().and_then(|p| p.at(t));
            if self.has_param && self.op != AggOp::Quantile {
                let k = p.unwrap_or(f64::NAN);
                if k.is_nan() {
                    let what = if self.op == AggOp::LimitRatio {
                        "Ratio"
                    } else {
                        "Parameter"
                    };
                    return Err(QueryError::Execution(format!("{what} value is NaN")));
                }
            }
            if self.op == AggOp::Quantile
                && let Some(q) = p
                && !(0.0..=1.0).contains(&q)
            {
                ctx.warn(super::range_fn::quantile_warning(q));
            }
            for m in &mut members_of {
                m.clear();
            }
            for (i, s) in series.iter().enumerate() {
                if let Some(v) = s.at_cursor(&mut cursors[i], t) {
                    members_of[group_of[i]].push((i, v));
                }
            }
            for &g in &group_order {
                let key = &group_keys[g];
                let members = &mut members_of[g];
                if members.is_empty() {
                    continue;
                }
                if self.op == AggOp::LimitRatio {
                    // A deterministic sample by label hash: ratio r keeps the series whose
                    // hash falls below r (r < 0: at or above 1 + r).
                    let r = p.unwrap_or(0.0).clamp(-1.0, 1.0);
                    for &(i, v) in members.iter() {
                        let position = series[i].labels.stable_hash() as f64 / u64::MAX as f64;
                        let keep = if r >= 0.0 {
                            position < r
                        } else {
                            position >= 1.0 + r
                        };
                        if keep {
                            selected[i].push(t, v);
                        }
                    }
                    continue;
                }
                if self.op.selects_series() {
                    let k = p.unwrap_or(0.0);
                    let k = if k >= members.len() as f64 {
                        members.len()
                    } else if k < 1.0 {
                        0
                    } else {
                        k as usize
                    };
                    match self.op {
                        AggOp::Topk => members.sort_by(|a, b| desc_nan_last(a.1, b.1)),
                        AggOp::Bottomk => members.sort_by(|a, b| asc_nan_last(a.1, b.1)),
                        _ => {}
                    }
                    for &(i, v) in members.iter().take(k) {
                        selected[i].push(t, v);
                        if self.steps.len() == 1 {
                            ordered.push(i);
                        }
                    }
                    continue;
                }
                let values: Vec<f64> = members.iter().map(|m| m.1).collect();
                if self.op == AggOp::CountValues {
                    let label = self.label_param.clone().unwrap_or_default();
                    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
                    for v in &values {
                        *counts.entry(format_float(*v)).or_default() += 1.0;
                    }
                    for (value, n) in counts {
                        let mut pairs: Vec<(String, String)> = key
                            .iter()
                            .filter(|l| l.name != label)
                            .map(|l| (l.name.clone(), l.value.clone()))
                            .collect();
                        pairs.push((label.clone(), value));
                        let labels = Labels::from_pairs(pairs).unwrap_or_default();
                        out.entry(labels.clone())
                            .or_insert_with(|| Series::new(labels))
                            .push(t, n);
                    }
                    continue;
                }
                let v = match self.op {
                    AggOp::Sum => {
                        let (s, c) = values
                            .iter()
                            .fold((0.0, 0.0), |(s, c), v| kahan_inc(*v, s, c));
                        s + c
                    }
                    AggOp::Avg => mean(&values),
                    AggOp::Min => values
                        .iter()
                        .fold(values[0], |m, &v| if m > v || m.is_nan() { v } else { m }),
                    AggOp::Max => values
                        .iter()
                        .fold(values[0], |m, &v| if m < v || m.is_nan() { v } else { m }),
                    AggOp::Count => values.len() as f64,
                    AggOp::Group => 1.0,
                    AggOp::Stddev => variance(&values).sqrt(),
                    AggOp::Stdvar => variance(&values),
                    AggOp::Quantile => quantile(p.unwrap_or(f64::NAN), values),
                    AggOp::Topk
                    | AggOp::Bottomk
                    | AggOp::Limitk
                    | AggOp::LimitRatio
                    | AggOp::CountValues => continue,
                };
                let entry = grouped[g].get_or_insert_with(|| Series::new(key.clone()));
                // A name kept by `by (__name__)` is dropped later if any input drops it.
                entry.drop_name |= members.iter().any(|&(i, _)| series[i].drop_name);
                entry.push(t, v);
            }
        }
        if self.op.selects_series() {
            if self.steps.len() == 1 {
                return Ok(ordered.into_iter().map(|i| selected[i].clone()).collect());
            }
            selected.retain(|s| !s.timestamps.is_empty());
            return Ok(selected);
        }
        for g in group_order {
            if let Some(s) = grouped[g].take() {
                out.insert(group_keys[g].clone(), s);
            }
        }
        let result: Vec<Series> = out.into_values().collect();
        ctx.account(result.iter().map(|s| s.timestamps.len()).sum())?;
        Ok(result)
    }
}

fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.total_cmp(&a),
    }
}

fn asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.total_cmp(&b),
    }
}

/// Prometheus 3 accepts any non-empty UTF-8 label name.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(quantile(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.0, vec![3.0, 1.0]), 1.0);
        assert_eq!(quantile(1.5, vec![1.0]), f64::INFINITY);
        assert!(quantile(0.5, vec![]).is_nan());
    }

    #[test]
    fn grouping_keys() {
        let l = Labels::from_pairs([("__name__", "m"), ("a", "1"), ("b", "2")]).unwrap();
        let by = Grouping {
            without: false,
            labels: vec!["a".into()],
        };
        assert_eq!(by.key(&l).to_string(), r#"{a="1"}"#);
        let without = Grouping {
            without: true,
            labels: vec!["a".into()],
        };
        assert_eq!(without.key(&l).to_string(), r#"{b="2"}"#);
    }
}
