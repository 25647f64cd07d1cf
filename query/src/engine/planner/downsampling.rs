//! Where the planner reads downsampled rows instead of raw samples: a selector whose range,
//! step and evaluation times are multiples of a resolution the query may read
//! (`max_source_resolution`), under a function rows answer exactly
//! (`ops/downsampled.rs`); everything else stays on raw samples.

use datafusion::logical_expr::LogicalPlan;

use super::{Planner, selector_mode, unwrap_parens};
use crate::engine::context::Steps;
use crate::engine::node::PromNode;
use crate::engine::ops::downsampled::{DownsampledRange, DownsampledSelect, answers};
use crate::engine::ops::range_fn::RangeFn;
use crate::engine::ops::selector::{RangeMode, TimeShift, VectorSelect};
use crate::error::QueryError;
use crate::parser::ast::{Expr, VectorSelector};

impl Planner {
    /// The coarsest resolution whose windows tile every range a selector reads: `range` (0
    /// for an instant selector), the step and the shifted evaluation times all multiples of
    /// it. Then rows answer exactly what raw samples would; otherwise it reads raw.
    pub(super) fn downsampling(
        &self,
        range: i64,
        shift: &TimeShift,
        steps: Steps,
        what: &str,
    ) -> Option<i64> {
        let (lo, hi) = shift.span(steps);
        let found = self.resolutions.iter().copied().find(|&r| {
            range % r == 0 && lo.rem_euclid(r) == 0 && (lo == hi || steps.step % r == 0)
        });
        if found.is_none()
            && self.explicit_resolution
            && let Some(r) = self.resolutions.first()
            && let Ok(mut notes) = self.notes.lock()
        {
            let msg = format!(
                "PromQL info: {what} read raw samples: its range, step or evaluation times are not multiples of a downsampled resolution (max_source_resolution {})",
                strata_storage::duration::format_duration(*r)
            );
            if !notes.contains(&msg) {
                notes.push(msg);
            }
        }
        found
    }

    /// `func(selector[range])` over downsampled rows, when rows answer it exactly.
    pub(super) fn downsampled_range(
        &self,
        func: RangeFn,
        arg: &Expr,
        steps: Steps,
        name: &str,
    ) -> Result<Option<LogicalPlan>, QueryError> {
        let Expr::Matrix(m) = unwrap_parens(arg) else {
            return Ok(None);
        };
        if self.resolutions.is_empty() || m.anchored || m.smoothed || !answers(func) {
            return Ok(None);
        }
        let shift = self.shift(&m.selector.offset, &m.selector.at);
        let range = self.duration(&m.range);
        if range <= 0 {
            return Ok(None);
        }
        let Some(res) = self.downsampling(range, &shift, steps, &format!("{name}()")) else {
            return Ok(None);
        };
        let op = DownsampledRange {
            func,
            matchers: Self::matchers(&m.selector)?,
            range,
            shift,
            steps,
            res,
        };
        Ok(Some(PromNode::plan(op, vec![])))
    }

    /// A plain selector: over downsampled rows where they answer it exactly, else raw.
    pub(super) fn vector_select(
        &self,
        vs: &VectorSelector,
        steps: Steps,
    ) -> Result<LogicalPlan, QueryError> {
        let (matchers, shift, mode) = (
            Self::matchers(vs)?,
            self.shift(&vs.offset, &vs.at),
            selector_mode(vs),
        );
        let res = (mode == RangeMode::Normal && !self.resolutions.is_empty())
            .then(|| self.downsampling(0, &shift, steps, "a selector"))
            .flatten();
        let plan = match res {
            Some(res) => PromNode::plan(
                DownsampledSelect {
                    matchers,
                    shift,
                    steps,
                    lookback: self.lookback,
                    res,
                },
                vec![],
            ),
            None => PromNode::plan(
                VectorSelect {
                    matchers,
                    shift,
                    steps,
                    lookback: self.lookback,
                    mode,
                },
                vec![],
            ),
        };
        Ok(plan)
    }
}
