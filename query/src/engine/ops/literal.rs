//! Scalar sources: number literals and `time()`.

use async_trait::async_trait;
use strata_storage::Labels;

use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;

/// A number literal, or `time()` when `time` is set: one value per step.
#[derive(Debug)]
pub(crate) struct Constant {
    pub(crate) value: f64,
    pub(crate) time: bool,
    pub(crate) steps: Steps,
}

#[async_trait]
impl PromOp for Constant {
    fn name(&self) -> &'static str {
        if self.time { "Time" } else { "Constant" }
    }

    fn describe(&self) -> String {
        if self.time {
            format!("steps={:?}", self.steps)
        } else {
            format!("{} steps={:?}", self.value, self.steps)
        }
    }

    async fn evaluate(
        &self,
        _ctx: &EvalContext,
        _inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let mut s = Series::new(Labels::default());
        for t in self.steps.iter() {
            s.push(
                t,
                if self.time {
                    t as f64 / 1000.0
                } else {
                    self.value
                },
            );
        }
        Ok(vec![s])
    }
}
