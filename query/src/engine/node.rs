//! The DataFusion side of every PromQL operator: one generic logical node ([`PromNode`]) and
//! one generic physical node ([`PromExec`]) wrapping a [`PromOp`], and the planner that turns
//! the first into the second. Each operator lives in its own file under `ops/`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::DFSchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use super::context::EvalContext;
use super::value::{Series, decode, encode, series_df_schema, series_schema};
use crate::error::QueryError;

/// A PromQL operator: evaluates its inputs' series into its output series.
#[async_trait]
pub(crate) trait PromOp: fmt::Debug + Send + Sync {
    /// Node name in EXPLAIN output.
    fn name(&self) -> &'static str;
    /// Parameters in EXPLAIN output.
    fn describe(&self) -> String;
    /// Evaluates over the context's steps.
    async fn evaluate(
        &self,
        ctx: &EvalContext,
        inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError>;
}

/// Logical plan node of any PromQL operator.
#[derive(Debug, Clone)]
pub(crate) struct PromNode {
    op: Arc<dyn PromOp>,
    inputs: Vec<LogicalPlan>,
}

impl PromNode {
    pub(crate) fn plan(op: impl PromOp + 'static, inputs: Vec<LogicalPlan>) -> LogicalPlan {
        LogicalPlan::Extension(datafusion::logical_expr::Extension {
            node: Arc::new(Self {
                op: Arc::new(op),
                inputs,
            }),
        })
    }

    fn key(&self) -> (&'static str, String) {
        (self.op.name(), self.op.describe())
    }
}

impl PartialEq for PromNode {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key() && self.inputs == other.inputs
    }
}

impl Eq for PromNode {}

impl PartialOrd for PromNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.key().partial_cmp(&other.key())
    }
}

impl Hash for PromNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
        self.inputs.hash(state);
    }
}

impl UserDefinedLogicalNodeCore for PromNode {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        static_schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op.name(), self.op.describe())
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        Ok(Self {
            op: self.op.clone(),
            inputs,
        })
    }
}

fn static_schema() -> &'static DFSchemaRef {
    static SCHEMA: std::sync::LazyLock<DFSchemaRef> = std::sync::LazyLock::new(series_df_schema);
    &SCHEMA
}

/// Physical plan node of any PromQL operator: collects its children, evaluates, emits one batch.
#[derive(Debug)]
pub(crate) struct PromExec {
    op: Arc<dyn PromOp>,
    children: Vec<Arc<dyn ExecutionPlan>>,
    properties: Arc<PlanProperties>,
}

impl PromExec {
    fn new(op: Arc<dyn PromOp>, children: Vec<Arc<dyn ExecutionPlan>>) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(series_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            op,
            children,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for PromExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Exec: {}", self.op.name(), self.op.describe())
    }
}

impl ExecutionPlan for PromExec {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.children.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(self.op.clone(), children)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "{} has one partition",
                self.op.name()
            )));
        }
        let eval_ctx = context
            .session_config()
            .get_extension::<EvalContext>()
            .ok_or_else(|| DataFusionError::Internal("no PromQL evaluation context".into()))?;
        let op = self.op.clone();
        let children = self.children.clone();
        let output = async move {
            let mut inputs = Vec::with_capacity(children.len());
            for child in children {
                let batches = datafusion::physical_plan::collect(child, context.clone()).await?;
                inputs.push(decode(&batches)?);
            }
            eval_ctx.check_deadline().map_err(external)?;
            let out = op.evaluate(&eval_ctx, inputs).await.map_err(external)?;
            encode(&out)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            series_schema(),
            futures::stream::once(output),
        )))
    }
}

fn external(e: QueryError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Recovers a [`QueryError`] raised inside a node from DataFusion's error wrapping.
pub(crate) fn unwrap_error(e: DataFusionError) -> QueryError {
    match e {
        DataFusionError::External(inner) => match inner.downcast::<QueryError>() {
            Ok(q) => *q,
            Err(other) => QueryError::Execution(other.to_string()),
        },
        DataFusionError::Context(_, inner) => unwrap_error(*inner),
        other => QueryError::Execution(other.to_string()),
    }
}

#[derive(Debug)]
struct PromExtensionPlanner;

#[async_trait]
impl ExtensionPlanner for PromExtensionPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _state: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        Ok(node.as_any().downcast_ref::<PromNode>().map(|n| {
            Arc::new(PromExec::new(n.op.clone(), physical_inputs.to_vec()))
                as Arc<dyn ExecutionPlan>
        }))
    }
}

/// DataFusion query planner that knows the PromQL nodes.
#[derive(Debug)]
pub(crate) struct PromQueryPlanner;

#[async_trait]
impl QueryPlanner for PromQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(PromExtensionPlanner)])
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}
