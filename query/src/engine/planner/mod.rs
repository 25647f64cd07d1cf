//! Turns a PromQL AST into a DataFusion logical plan of PromQL nodes.

mod downsampling;

use datafusion::logical_expr::LogicalPlan;
use strata_storage::{Labels, METRIC_NAME};

use super::context::Steps;
use super::node::PromNode;
use super::ops::aggregate::{AggOp, Aggregate, Grouping};
use super::ops::binary::{BinOp, Binary, Cardinality};
use super::ops::function::{Func, InstantFunction};
use super::ops::histogram::{ClassicHistogram, HistFn};
use super::ops::info::InfoFunction;
use super::ops::literal::Constant;
use super::ops::param::Param;
use super::ops::range_fn::{RangeFn, RangeFunction};
use super::ops::selector::{MatrixSelect, RangeMode, TimeShift, VectorSelect};
use crate::error::QueryError;
use crate::matcher::{MatchOp, Matcher};
use crate::parser::ast::{self, At, Card, DurationExpr, Expr, QueryTimes, VectorSelector};

/// What a planned expression evaluates to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Scalar,
    Vector,
    Matrix,
    String(String),
}

/// A planned expression.
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) plan: LogicalPlan,
    pub(crate) kind: Kind,
    /// Instant results keep the plan's series order (`sort`, `topk`).
    pub(crate) ordered: bool,
}

/// Planning parameters of one query.
#[derive(Debug, Clone)]
pub(crate) struct Planner {
    pub(crate) lookback: i64,
    pub(crate) default_subquery_step: i64,
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    /// The query's step (0 for instant queries), for `step()`.
    pub(crate) query_step: i64,
    /// The sample limit: a subquery with more steps than this would exceed it with one series
    /// (Prometheus counts a sample per series per step), so it is refused before evaluating.
    pub(crate) max_samples: usize,
    /// Downsampled resolutions selectors may read, coarsest first (empty: raw only).
    pub(crate) resolutions: Vec<i64>,
    /// The resolution was asked for (`max_source_resolution`): say where it was not used.
    pub(crate) explicit_resolution: bool,
    /// Info annotations of planning.
    pub(crate) notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn unsupported<T>(what: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError::Unsupported(what.into()))
}

fn planned(plan: LogicalPlan, kind: Kind) -> Planned {
    Planned {
        plan,
        kind,
        ordered: false,
    }
}

fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap_parens(p),
        other => other,
    }
}

/// A number literal argument, folded at planning time.
/// The value of a constant scalar expression, folded as the engine would evaluate it:
/// numbers, `-x`, `pi()`, and arithmetic or `bool` comparisons of constants
/// (`predict_linear(x[1h], 20 * 3600)`, `quantile(1 - 0.01, …)`).
fn literal(e: &Expr) -> Option<f64> {
    match unwrap_parens(e) {
        Expr::Number(n) => Some(*n),
        Expr::Neg(u) => literal(u).map(|v| -v),
        Expr::Call { func, args } if func == "pi" && args.is_empty() => Some(std::f64::consts::PI),
        Expr::Binary(b) if b.matching.is_none() => {
            let op = BinOp::from_token(&b.op)?;
            if op.is_set() || (op.is_comparison() && !b.return_bool) {
                return None;
            }
            let (l, r) = (literal(&b.lhs)?, literal(&b.rhs)?);
            let (v, keep) = op.apply(l, r);
            Some(if op.is_comparison() {
                f64::from(u8::from(keep))
            } else {
                v
            })
        }
        _ => None,
    }
}

/// A string argument naming a label: invalid UTF-8 can never be one.
fn label_arg(e: &Expr, role: &str, func: &str) -> Result<Option<String>, QueryError> {
    match unwrap_parens(e) {
        Expr::InvalidString(b) => Err(QueryError::Execution(format!(
            "invalid {role} label name in {func}(): {}",
            String::from_utf8_lossy(b)
        ))),
        other => Ok(string_arg(other)),
    }
}

fn string_arg(e: &Expr) -> Option<String> {
    match unwrap_parens(e) {
        Expr::String(s) => Some(s.clone()),
        Expr::InvalidString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

impl Planner {
    /// Info annotations collected while planning.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn times(&self) -> QueryTimes {
        QueryTimes {
            start: self.query_start,
            end: self.query_end,
            step: self.query_step,
        }
    }

    fn duration(&self, d: &DurationExpr) -> i64 {
        d.millis(self.times())
    }

    fn shift(&self, offset: &Option<DurationExpr>, at: &Option<At>) -> TimeShift {
        let offset = offset.as_ref().map(|d| self.duration(d)).unwrap_or(0);
        let at = at.as_ref().map(|a| match a {
            At::Start => self.query_start,
            At::End => self.query_end,
            At::Time(t) => *t,
        });
        TimeShift { offset, at }
    }

    pub(crate) fn matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
        let mut out = Vec::new();
        if let Some(name) = &vs.name {
            out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name.clone())?);
        }
        for m in &vs.matchers {
            out.push(Matcher::new(m.op, m.name.clone(), m.value.clone())?);
        }
        Ok(out)
    }

    /// Labels `absent()` reports: the selector's equality matchers, except the name.
    fn absent_labels(e: &Expr) -> Labels {
        let vs = match unwrap_parens(e) {
            Expr::Vector(vs) => Some(vs.as_ref()),
            Expr::Matrix(ms) => Some(&ms.selector),
            _ => None,
        };
        let Some(vs) = vs else {
            return Labels::default();
        };
        // Only labels with exactly one matcher, and that one an equality, are reported.
        let mut pairs: Vec<(String, String)> = Vec::new();
        for m in &vs.matchers {
            let matchers_of_name = vs.matchers.iter().filter(|o| o.name == m.name).count();
            if m.op == MatchOp::Equal && m.name != METRIC_NAME && matchers_of_name == 1 {
                pairs.push((m.name.clone(), m.value.clone()));
            }
        }
        Labels::from_pairs(pairs).unwrap_or_default()
    }

    pub(crate) fn plan(&self, expr: &Expr, steps: Steps) -> Result<Planned, QueryError> {
        match expr {
            Expr::Paren(p) => self.plan(p, steps),
            Expr::Number(n) => Ok(planned(
                PromNode::plan(
                    Constant {
                        value: *n,
                        time: false,
                        steps,
                    },
                    vec![],
                ),
                Kind::Scalar,
            )),
            Expr::InvalidString(b) => self.plan(
                &Expr::String(String::from_utf8_lossy(b).into_owned()),
                steps,
            ),
            Expr::String(s) => Ok(planned(
                PromNode::plan(
                    Constant {
                        value: f64::NAN,
                        time: false,
                        steps,
                    },
                    vec![],
                ),
                Kind::String(s.clone()),
            )),
            Expr::Neg(u) => {
                let inner = self.plan(u, steps)?;
                let kind = inner.kind.clone();
                let minus_one = PromNode::plan(
                    Constant {
                        value: -1.0,
                        time: false,
                        steps,
                    },
                    vec![],
                );
                let op = Binary::plain(BinOp::Mul, kind == Kind::Scalar, true, steps);
                Ok(planned(
                    PromNode::plan(op, vec![inner.plan, minus_one]),
                    kind,
                ))
            }
            Expr::Vector(vs) => Ok(planned(self.vector_select(vs, steps)?, Kind::Vector)),
            Expr::Matrix(_) | Expr::Subquery(_) => {
                let (source, range, shift, mode) = self.range_source(expr, steps)?;
                let op = RangeFunction {
                    func: RangeFn::Window,
                    range,
                    shift,
                    steps,
                    params: vec![],
                    mode,
                    lookback: self.lookback,
                };
                Ok(planned(PromNode::plan(op, vec![source]), Kind::Matrix))
            }
            Expr::Call { func, args } => self.plan_call(func, args, steps),
            Expr::Aggregate(agg) => self.plan_aggregate(agg, steps),
            Expr::Binary(b) => self.plan_binary(b, steps),
        }
    }

    /// A numeric argument: folded when constant, otherwise planned as one more input of the
    /// node (appended to `inputs`) and evaluated per step.
    fn param(
        &self,
        e: &Expr,
        steps: Steps,
        inputs: &mut Vec<LogicalPlan>,
    ) -> Result<Param, QueryError> {
        if let Some(v) = literal(e) {
            return Ok(Param::Const(v));
        }
        let p = self.plan(e, steps)?;
        if p.kind != Kind::Scalar {
            return Err(QueryError::Parse(
                "expected a scalar expression as a numeric argument".into(),
            ));
        }
        inputs.push(p.plan);
        Ok(Param::Input)
    }

    /// The raw points behind a range vector or subquery, with its range and time shift.
    fn range_source(
        &self,
        expr: &Expr,
        steps: Steps,
    ) -> Result<(LogicalPlan, i64, TimeShift, RangeMode), QueryError> {
        match unwrap_parens(expr) {
            Expr::Matrix(m) => {
                let mode = match (m.anchored, m.smoothed) {
                    (true, _) => RangeMode::Anchored,
                    (_, true) => RangeMode::Smoothed,
                    _ => RangeMode::Normal,
                };
                let shift = self.shift(&m.selector.offset, &m.selector.at);
                let range = self.duration(&m.range);
                let op = MatrixSelect {
                    matchers: Self::matchers(&m.selector)?,
                    shift: shift.clone(),
                    range,
                    steps,
                    mode,
                    lookback: self.lookback,
                };
                Ok((PromNode::plan(op, vec![]), range, shift, mode))
            }
            Expr::Subquery(sq) => {
                let shift = self.shift(&sq.offset, &sq.at);
                let range = self.duration(&sq.range);
                let step = sq
                    .step
                    .as_ref()
                    .map(|d| self.duration(d))
                    .filter(|s| *s > 0)
                    .unwrap_or(self.default_subquery_step);
                let (lo, hi) = shift.span(steps);
                let from = lo.saturating_sub(range);
                let mut start = step.saturating_mul(from / step);
                if start <= from {
                    start = start.saturating_add(step);
                }
                let inner_steps = Steps {
                    start,
                    end: hi,
                    step,
                };
                if inner_steps.len() > self.max_samples {
                    return Err(QueryError::TooManySamples {
                        limit: self.max_samples,
                    });
                }
                let inner = self.plan(&sq.expr, inner_steps)?;
                if inner.kind != Kind::Vector && inner.kind != Kind::Scalar {
                    return unsupported("subquery of a non-vector expression");
                }
                Ok((inner.plan, range, shift, RangeMode::Normal))
            }
            _ => Err(QueryError::Parse("expected a range vector".into())),
        }
    }

    fn plan_call(&self, name: &str, args: &[Expr], steps: Steps) -> Result<Planned, QueryError> {
        let args: Vec<&Expr> = args.iter().collect();
        if let Some(func) = RangeFn::from_name(name) {
            let matrix_pos = usize::from(func == RangeFn::QuantileOverTime);
            let matrix_arg = args.get(matrix_pos).copied().ok_or_else(|| arity(name))?;
            let expected = match func {
                RangeFn::QuantileOverTime | RangeFn::PredictLinear => 1,
                RangeFn::DoubleExponentialSmoothing => 2,
                _ => 0,
            };
            if args.len() != expected + 1 {
                return Err(arity(name));
            }
            if let Some(plan) = self.downsampled_range(func, matrix_arg, steps, name)? {
                return Ok(planned(plan, Kind::Vector));
            }
            let (source, range, shift, mode) = self.range_source(matrix_arg, steps)?;
            check_extended(mode, name)?;
            let mut inputs = vec![source];
            let params = args
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != matrix_pos)
                .map(|(_, a)| self.param(a, steps, &mut inputs))
                .collect::<Result<Vec<_>, _>>()?;
            let op = RangeFunction {
                func,
                range,
                shift,
                steps,
                params,
                mode,
                lookback: self.lookback,
            };
            return Ok(planned(PromNode::plan(op, inputs), Kind::Vector));
        }
        // An instant function of `input` with numeric arguments `params` (evaluated per step).
        let instant = |func: Func,
                       params: &[Param],
                       param_args: &[&Expr],
                       input: Option<&Expr>|
         -> Result<Planned, QueryError> {
            let mut inputs = match input {
                Some(e) => vec![self.plan(e, steps)?.plan],
                None => vec![],
            };
            let mut all = params.to_vec();
            for a in param_args {
                all.push(self.param(a, steps, &mut inputs)?);
            }
            Ok(planned(
                PromNode::plan(
                    InstantFunction {
                        func,
                        params: all,
                        steps,
                    },
                    inputs,
                ),
                Kind::Vector,
            ))
        };
        let constant = |value: f64| {
            planned(
                PromNode::plan(
                    Constant {
                        value,
                        time: false,
                        steps,
                    },
                    vec![],
                ),
                Kind::Scalar,
            )
        };
        match name {
            // Query-level constants, folded at planning time.
            "start" => Ok(constant(self.query_start as f64 / 1000.0)),
            "end" => Ok(constant(self.query_end as f64 / 1000.0)),
            "range" => Ok(constant(
                (self.query_end - self.query_start) as f64 / 1000.0,
            )),
            "step" => Ok(constant(self.query_step as f64 / 1000.0)),
            "min_of" | "max_of" => {
                let a = args.first().copied().ok_or_else(|| arity(name))?;
                let b = args.get(1).copied().ok_or_else(|| arity(name))?;
                let (a, b) = (self.plan(a, steps)?, self.plan(b, steps)?);
                let op = if name == "min_of" {
                    BinOp::MinOf
                } else {
                    BinOp::MaxOf
                };
                let op = Binary::plain(op, true, true, steps);
                Ok(planned(
                    PromNode::plan(op, vec![a.plan, b.plan]),
                    Kind::Scalar,
                ))
            }
            "info" => {
                let base = self.plan(args.first().copied().ok_or_else(|| arity(name))?, steps)?;
                let (mut name_matchers, mut data_matchers) = (Vec::new(), Vec::new());
                if let Some(arg) = args.get(1) {
                    let Expr::Vector(vs) = unwrap_parens(arg) else {
                        return Err(QueryError::Parse(
                            "expected a label selector as the second argument of info".into(),
                        ));
                    };
                    for m in Self::matchers(vs)? {
                        if m.name() == METRIC_NAME {
                            name_matchers.push(m);
                        } else {
                            data_matchers.push(m);
                        }
                    }
                }
                let positive = |m: &Matcher| matches!(m.op(), MatchOp::Equal | MatchOp::Regex);
                if name_matchers.is_empty() {
                    name_matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, "target_info")?);
                } else if !name_matchers.iter().any(positive) {
                    // Only exclusions given: info metrics are still the `*_info` ones.
                    name_matchers.push(Matcher::new(MatchOp::Regex, METRIC_NAME, ".+_info")?);
                }
                let op = InfoFunction {
                    name_matchers,
                    data_matchers,
                    steps,
                    lookback: self.lookback,
                };
                Ok(planned(PromNode::plan(op, vec![base.plan]), Kind::Vector))
            }
            "histogram_quantile" | "histogram_fraction" | "histogram_quantiles" => {
                // The histogram argument and where the numeric arguments are.
                let (func, input, param_args) = match name {
                    "histogram_quantile" => (HistFn::Quantile, args.get(1), args.get(..1)),
                    "histogram_fraction" => (HistFn::Fraction, args.get(2), args.get(..2)),
                    _ => {
                        let label = args
                            .get(1)
                            .and_then(|a| string_arg(a))
                            .ok_or_else(|| arity(name))?;
                        (HistFn::Quantiles { label }, args.first(), args.get(2..))
                    }
                };
                let input = self.plan(input.ok_or_else(|| arity(name))?, steps)?;
                let mut inputs = vec![input.plan];
                let params = param_args
                    .unwrap_or_default()
                    .iter()
                    .map(|a| self.param(a, steps, &mut inputs))
                    .collect::<Result<Vec<_>, _>>()?;
                let op = ClassicHistogram {
                    func,
                    params,
                    steps,
                };
                Ok(planned(PromNode::plan(op, inputs), Kind::Vector))
            }
            "time" => Ok(planned(
                PromNode::plan(
                    Constant {
                        value: 0.0,
                        time: true,
                        steps,
                    },
                    vec![],
                ),
                Kind::Scalar,
            )),
            "pi" => Ok(planned(
                PromNode::plan(
                    Constant {
                        value: std::f64::consts::PI,
                        time: false,
                        steps,
                    },
                    vec![],
                ),
                Kind::Scalar,
            )),
            "vector" => instant(Func::Vector, &[], &[], args.first().copied()),
            "scalar" => {
                let mut p = instant(Func::Scalar, &[], &[], args.first().copied())?;
                p.kind = Kind::Scalar;
                Ok(p)
            }
            "absent" => {
                let arg = args.first().copied().ok_or_else(|| arity(name))?;
                instant(Func::Absent(Self::absent_labels(arg)), &[], &[], Some(arg))
            }
            "absent_over_time" => {
                let arg = args.first().copied().ok_or_else(|| arity(name))?;
                let (source, range, shift, mode) = self.range_source(arg, steps)?;
                check_extended(mode, name)?;
                let present = RangeFunction {
                    func: RangeFn::PresentOverTime,
                    range,
                    shift,
                    steps,
                    params: vec![],
                    mode,
                    lookback: self.lookback,
                };
                let present = PromNode::plan(present, vec![source]);
                let op = InstantFunction {
                    func: Func::Absent(Self::absent_labels(arg)),
                    params: vec![],
                    steps,
                };
                Ok(planned(PromNode::plan(op, vec![present]), Kind::Vector))
            }
            "timestamp" | "start_timestamp" => {
                let start = name == "start_timestamp";
                let arg = args.first().copied().ok_or_else(|| arity(name))?;
                match unwrap_parens(arg) {
                    Expr::Vector(vs) => {
                        // The raw sample's own timestamp.
                        let select = VectorSelect {
                            matchers: Self::matchers(vs)?,
                            shift: self.shift(&vs.offset, &vs.at),
                            steps,
                            lookback: self.lookback,
                            mode: selector_mode(vs),
                        };
                        let op = super::ops::selector::SampleTimestamps { select, start };
                        Ok(planned(PromNode::plan(op, vec![]), Kind::Vector))
                    }
                    _ if start => instant(Func::StartTimestamp, &[], &[], Some(arg)),
                    _ => instant(Func::Timestamp, &[], &[], Some(arg)),
                }
            }
            "round" => {
                let input = args.first().copied().ok_or_else(|| arity(name))?;
                match args.get(1..).unwrap_or_default() {
                    [] => instant(Func::Round, &[Param::Const(1.0)], &[], Some(input)),
                    precision => instant(Func::Round, &[], precision, Some(input)),
                }
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let (func, bounds) = match name {
                    "clamp" => (Func::Clamp, 2),
                    "clamp_min" => (Func::ClampMin, 1),
                    _ => (Func::ClampMax, 1),
                };
                if args.len() != bounds + 1 {
                    return Err(arity(name));
                }
                instant(
                    func,
                    &[],
                    args.get(1..).unwrap_or_default(),
                    args.first().copied(),
                )
            }
            "label_replace" => {
                let s = |i: usize| {
                    args.get(i)
                        .and_then(|a| string_arg(a))
                        .ok_or_else(|| arity(name))
                };
                let dst = match args.get(1) {
                    Some(a) => label_arg(a, "destination", name)?,
                    None => None,
                };
                let func = Func::LabelReplace {
                    dst: dst.ok_or_else(|| arity(name))?,
                    replacement: s(2)?,
                    src: s(3)?,
                    regex: s(4)?,
                };
                instant(func, &[], &[], args.first().copied())
            }
            "label_join" => {
                let s = |i: usize| {
                    args.get(i)
                        .and_then(|a| string_arg(a))
                        .ok_or_else(|| arity(name))
                };
                let src: Result<Vec<String>, _> = (3..args.len()).map(s).collect();
                for (i, a) in args.iter().enumerate().skip(1) {
                    if i != 2 {
                        let role = if i == 1 { "destination" } else { "source" };
                        label_arg(a, role, name)?;
                    }
                }
                let func = Func::LabelJoin {
                    dst: s(1)?,
                    sep: s(2)?,
                    src: src?,
                };
                instant(func, &[], &[], args.first().copied())
            }
            "sort" | "sort_desc" => {
                let mut p = instant(
                    Func::Sort {
                        desc: name == "sort_desc",
                    },
                    &[],
                    &[],
                    args.first().copied(),
                )?;
                p.ordered = true;
                Ok(p)
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let labels: Option<Vec<String>> = args
                    .get(1..)
                    .unwrap_or_default()
                    .iter()
                    .map(|a| string_arg(a))
                    .collect();
                let func = Func::SortByLabel {
                    desc: name.ends_with("_desc"),
                    labels: labels.ok_or_else(|| arity(name))?,
                };
                let mut p = instant(func, &[], &[], args.first().copied())?;
                p.ordered = true;
                Ok(p)
            }
            _ => match Func::simple(name) {
                Some(func @ Func::Date(_)) if args.is_empty() => {
                    let time = PromNode::plan(
                        Constant {
                            value: 0.0,
                            time: true,
                            steps,
                        },
                        vec![],
                    );
                    let vector = PromNode::plan(
                        InstantFunction {
                            func: Func::Vector,
                            params: vec![],
                            steps,
                        },
                        vec![time],
                    );
                    Ok(planned(
                        PromNode::plan(
                            InstantFunction {
                                func,
                                params: vec![],
                                steps,
                            },
                            vec![vector],
                        ),
                        Kind::Vector,
                    ))
                }
                Some(func) => instant(func, &[], &[], args.first().copied()),
                None => unsupported(format!("function {name}")),
            },
        }
    }

    fn plan_aggregate(&self, agg: &ast::Aggregate, steps: Steps) -> Result<Planned, QueryError> {
        let op = AggOp::from_name(&agg.op)
            .ok_or_else(|| QueryError::Unsupported(format!("aggregation {}", agg.op)))?;
        let grouping = match &agg.grouping {
            Some(g) => Grouping {
                without: g.without,
                labels: g.labels.clone(),
            },
            None => Grouping {
                without: false,
                labels: vec![],
            },
        };
        let mut inputs = Vec::new();
        let mut label_param = None;
        let mut has_param = false;
        if let Some(param) = &agg.param {
            if op == AggOp::CountValues {
                if let Expr::InvalidString(b) = unwrap_parens(param) {
                    return Err(QueryError::Execution(format!(
                        "invalid label name {}",
                        crate::parser::go_quote(b)
                    )));
                }
                let label = string_arg(param).ok_or_else(|| {
                    QueryError::Unsupported("non-literal count_values label".into())
                })?;
                label_param = Some(label);
            } else {
                has_param = true;
                inputs.push(self.plan(param, steps)?.plan);
            }
        }
        inputs.push(self.plan(&agg.expr, steps)?.plan);
        let ordered = matches!(op, AggOp::Topk | AggOp::Bottomk);
        let node = PromNode::plan(
            Aggregate {
                op,
                grouping,
                steps,
                has_param,
                label_param,
            },
            inputs,
        );
        Ok(Planned {
            plan: node,
            kind: Kind::Vector,
            ordered,
        })
    }

    fn plan_binary(&self, b: &ast::Binary, steps: Steps) -> Result<Planned, QueryError> {
        let op = BinOp::from_token(&b.op)
            .ok_or_else(|| QueryError::Unsupported(format!("operator {}", b.op)))?;
        let lhs = self.plan(&b.lhs, steps)?;
        let rhs = self.plan(&b.rhs, steps)?;
        let card = match &b.card {
            Card::ManyToOne(l) => Cardinality::ManyToOne(l.clone()),
            Card::OneToMany(l) => Cardinality::OneToMany(l.clone()),
            Card::OneToOne if op.is_set() => Cardinality::ManyToMany,
            Card::OneToOne => Cardinality::OneToOne,
        };
        let (ls, rs) = (lhs.kind == Kind::Scalar, rhs.kind == Kind::Scalar);
        let kind = if ls && rs { Kind::Scalar } else { Kind::Vector };
        let op = Binary {
            op,
            lhs_scalar: ls,
            rhs_scalar: rs,
            return_bool: b.return_bool,
            matching: b.matching.clone(),
            card,
            fill: b.fill,
            steps,
        };
        Ok(planned(PromNode::plan(op, vec![lhs.plan, rhs.plan]), kind))
    }
}

fn selector_mode(vs: &VectorSelector) -> RangeMode {
    match (vs.anchored, vs.smoothed) {
        (true, _) => RangeMode::Anchored,
        (_, true) => RangeMode::Smoothed,
        _ => RangeMode::Normal,
    }
}

/// Extended range selectors only make sense for some functions (Prometheus' wording).
fn check_extended(mode: RangeMode, func: &str) -> Result<(), QueryError> {
    let (allowed, word, list): (&[&str], &str, &str) = match mode {
        RangeMode::Normal => return Ok(()),
        RangeMode::Anchored => (
            &["changes", "delta", "increase", "rate", "resets"],
            "anchored",
            "changes, delta, increase, rate, resets",
        ),
        RangeMode::Smoothed => (
            &["delta", "increase", "rate"],
            "smoothed",
            "delta, increase, rate",
        ),
    };
    if allowed.contains(&func) {
        Ok(())
    } else {
        Err(QueryError::Execution(format!(
            "{word} modifier can only be used with: {list} - not with {func}"
        )))
    }
}

fn arity(name: &str) -> QueryError {
    QueryError::Parse(format!("wrong number of arguments for {name}"))
}
