//! Numeric arguments of functions (`histogram_quantile`'s φ, `round`'s precision, `clamp`'s
//! bounds, `quantile_over_time`'s φ, `predict_linear`'s t, smoothing factors).
//!
//! PromQL lets any scalar expression stand there and evaluates it at every step, as it does
//! for `topk`'s k. The planner folds constant expressions into [`Param::Const`]; any other
//! expression is planned as an extra input of the node ([`Param::Input`], after the node's
//! own inputs, in argument order) and read back here, one value per step.

use super::super::context::Steps;
use super::super::value::Series;

/// Where a numeric argument comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Param {
    /// Folded at planning time.
    Const(f64),
    /// A scalar expression evaluated per step: the node's next unused input.
    Input,
}

/// The arguments of one node, resolved from its inputs.
#[derive(Debug)]
pub(crate) struct Params {
    values: Vec<Value>,
}

#[derive(Debug)]
enum Value {
    Const(f64),
    /// The scalar's points (one per step; a missing step reads as NaN, as an empty
    /// `scalar()` does).
    Steps(Series),
}

impl Params {
    /// Resolves `params`, taking one input from `inputs` per [`Param::Input`].
    pub(crate) fn resolve(
        params: &[Param],
        inputs: &mut impl Iterator<Item = Vec<Series>>,
    ) -> Self {
        let values = params
            .iter()
            .map(|p| match p {
                Param::Const(v) => Value::Const(*v),
                Param::Input => match inputs.next().and_then(|s| s.into_iter().next()) {
                    Some(series) => Value::Steps(series),
                    None => Value::Const(f64::NAN),
                },
            })
            .collect();
        Self { values }
    }

    /// The `i`th argument at step `t` (NaN when absent).
    pub(crate) fn at(&self, i: usize, t: i64) -> f64 {
        match self.values.get(i) {
            Some(Value::Const(v)) => *v,
            Some(Value::Steps(s)) => s.at(t).unwrap_or(f64::NAN),
            None => f64::NAN,
        }
    }

    /// True when every argument has the same value at every step.
    pub(crate) fn constant(&self) -> bool {
        self.values.iter().all(|v| matches!(v, Value::Const(_)))
    }

    /// The distinct values the `i`th argument takes over `steps`, in step order (for checks
    /// and warnings that Prometheus reports once per value).
    pub(crate) fn distinct(&self, i: usize, steps: Steps) -> Vec<f64> {
        let mut out: Vec<f64> = Vec::new();
        match self.values.get(i) {
            Some(Value::Const(v)) => out.push(*v),
            Some(Value::Steps(_)) => {
                for t in steps.iter() {
                    let v = self.at(i, t);
                    if !out.iter().any(|o| o.to_bits() == v.to_bits()) {
                        out.push(v);
                    }
                }
            }
            None => out.push(f64::NAN),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_storage::Labels;

    #[test]
    fn constants_and_per_step_inputs() {
        let mut s = Series::new(Labels::default());
        s.push(0, 0.5);
        s.push(20, 0.9);
        let mut inputs = vec![vec![s]].into_iter();
        let p = Params::resolve(&[Param::Const(2.0), Param::Input], &mut inputs);
        assert!(!p.constant());
        assert_eq!(p.at(0, 10), 2.0);
        assert_eq!(p.at(1, 0), 0.5);
        assert!(p.at(1, 10).is_nan(), "a step without a value reads NaN");
        assert_eq!(p.at(1, 20), 0.9);
        assert!(p.at(2, 0).is_nan());
        let steps = Steps {
            start: 0,
            end: 20,
            step: 10,
        };
        let d = p.distinct(1, steps);
        assert_eq!(d.len(), 3);
        assert_eq!(p.distinct(0, steps), vec![2.0]);
        let missing = Params::resolve(&[Param::Input], &mut Vec::new().into_iter());
        assert!(missing.at(0, 0).is_nan());
    }
}
