//! Turns a PromQL AST into a DataFusion logical plan of PromQL nodes.

use std::time::{Duration, UNIX_EPOCH};

use datafusion::logical_expr::LogicalPlan;
use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{
    self, AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};
use strata_storage::{Labels, METRIC_NAME};

use super::context::Steps;
use super::node::PromNode;
use super::ops::aggregate::{AggOp, Aggregate, Grouping};
use super::ops::binary::{BinOp, Binary, Cardinality};
use super::ops::function::{Func, InstantFunction};
use super::ops::histogram::{ClassicHistogram, HistFn};
use super::ops::literal::Constant;
use super::ops::range_fn::{RangeFn, RangeFunction};
use super::ops::selector::{MatrixSelect, TimeShift, VectorSelect};
use crate::error::QueryError;
use crate::matcher::{MatchOp, Matcher};

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
}

fn ms(d: &Duration) -> i64 {
    d.as_millis() as i64
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
        Expr::Paren(p) => unwrap_parens(&p.expr),
        other => other,
    }
}

/// A number literal argument, folded at planning time.
fn literal(e: &Expr) -> Option<f64> {
    match unwrap_parens(e) {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Unary(u) => literal(&u.expr).map(|v| -v),
        _ => None,
    }
}

fn string_arg(e: &Expr) -> Option<String> {
    match unwrap_parens(e) {
        Expr::StringLiteral(s) => Some(s.val.clone()),
        _ => None,
    }
}

impl Planner {
    fn shift(&self, offset: &Option<Offset>, at: &Option<AtModifier>) -> TimeShift {
        let offset = match offset {
            Some(Offset::Pos(d)) => ms(d),
            Some(Offset::Neg(d)) => -ms(d),
            None => 0,
        };
        let at = at.as_ref().map(|a| match a {
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
            AtModifier::At(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            },
        });
        TimeShift { offset, at }
    }

    fn matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
        if !vs.matchers.or_matchers.is_empty() {
            return unsupported("`or` inside label matchers");
        }
        let mut out = Vec::new();
        if let Some(name) = &vs.name {
            out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name.clone())?);
        }
        for m in &vs.matchers.matchers {
            let op = match m.op {
                PMatchOp::Equal => MatchOp::Equal,
                PMatchOp::NotEqual => MatchOp::NotEqual,
                PMatchOp::Re(_) => MatchOp::Regex,
                PMatchOp::NotRe(_) => MatchOp::NotRegex,
            };
            out.push(Matcher::new(op, m.name.clone(), m.value.clone())?);
        }
        Ok(out)
    }

    /// Labels `absent()` reports: the selector's equality matchers, except the name.
    fn absent_labels(e: &Expr) -> Labels {
        let vs = match unwrap_parens(e) {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        let Some(vs) = vs else {
            return Labels::default();
        };
        // Only labels with exactly one matcher, and that one an equality, are reported.
        let mut pairs: Vec<(String, String)> = Vec::new();
        for m in &vs.matchers.matchers {
            let matchers_of_name = vs
                .matchers
                .matchers
                .iter()
                .filter(|o| o.name == m.name)
                .count();
            if matches!(m.op, PMatchOp::Equal) && m.name != METRIC_NAME && matchers_of_name == 1 {
                pairs.push((m.name.clone(), m.value.clone()));
            }
        }
        Labels::from_pairs(pairs).unwrap_or_default()
    }

    pub(crate) fn plan(&self, expr: &Expr, steps: Steps) -> Result<Planned, QueryError> {
        match expr {
            Expr::Paren(p) => self.plan(&p.expr, steps),
            Expr::NumberLiteral(n) => Ok(planned(
                PromNode::plan(
                    Constant {
                        value: n.val,
                        time: false,
                        steps,
                    },
                    vec![],
                ),
                Kind::Scalar,
            )),
            Expr::StringLiteral(s) => Ok(planned(
                PromNode::plan(
                    Constant {
                        value: f64::NAN,
                        time: false,
                        steps,
                    },
                    vec![],
                ),
                Kind::String(s.val.clone()),
            )),
            Expr::Unary(u) => {
                let inner = self.plan(&u.expr, steps)?;
                let kind = inner.kind.clone();
                let minus_one = PromNode::plan(
                    Constant {
                        value: -1.0,
                        time: false,
                        steps,
                    },
                    vec![],
                );
                let op = Binary {
                    op: BinOp::Mul,
                    lhs_scalar: kind == Kind::Scalar,
                    rhs_scalar: true,
                    return_bool: false,
                    matching: None,
                    card: Cardinality::OneToOne,
                    fill: (None, None),
                    steps,
                };
                Ok(planned(
                    PromNode::plan(op, vec![inner.plan, minus_one]),
                    kind,
                ))
            }
            Expr::VectorSelector(vs) => Ok(planned(
                PromNode::plan(
                    VectorSelect {
                        matchers: Self::matchers(vs)?,
                        shift: self.shift(&vs.offset, &vs.at),
                        steps,
                        lookback: self.lookback,
                    },
                    vec![],
                ),
                Kind::Vector,
            )),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let (source, range, shift) = self.range_source(expr, steps)?;
                let op = RangeFunction {
                    func: RangeFn::Window,
                    range,
                    shift,
                    steps,
                    params: vec![],
                };
                Ok(planned(PromNode::plan(op, vec![source]), Kind::Matrix))
            }
            Expr::Call(call) => self.plan_call(call, steps),
            Expr::Aggregate(agg) => self.plan_aggregate(agg, steps),
            Expr::Binary(b) => self.plan_binary(b, steps),
            Expr::Extension(_) => unsupported("extension expressions"),
        }
    }

    /// The raw points behind a range vector or subquery, with its range and time shift.
    fn range_source(
        &self,
        expr: &Expr,
        steps: Steps,
    ) -> Result<(LogicalPlan, i64, TimeShift), QueryError> {
        match unwrap_parens(expr) {
            Expr::MatrixSelector(m) => {
                let shift = self.shift(&m.vs.offset, &m.vs.at);
                let range = ms(&m.range);
                let op = MatrixSelect {
                    matchers: Self::matchers(&m.vs)?,
                    shift: shift.clone(),
                    range,
                    steps,
                };
                Ok((PromNode::plan(op, vec![]), range, shift))
            }
            Expr::Subquery(sq) => {
                let shift = self.shift(&sq.offset, &sq.at);
                let range = ms(&sq.range);
                let step = sq
                    .step
                    .as_ref()
                    .map(ms)
                    .filter(|s| *s > 0)
                    .unwrap_or(self.default_subquery_step);
                let (lo, hi) = shift.span(steps);
                let mut start = step * ((lo - range) / step);
                if start <= lo - range {
                    start += step;
                }
                let inner = self.plan(
                    &sq.expr,
                    Steps {
                        start,
                        end: hi,
                        step,
                    },
                )?;
                if inner.kind != Kind::Vector && inner.kind != Kind::Scalar {
                    return unsupported("subquery of a non-vector expression");
                }
                Ok((inner.plan, range, shift))
            }
            other => Err(QueryError::Parse(format!(
                "expected a range vector, got {other}"
            ))),
        }
    }

    fn plan_call(&self, call: &parser::Call, steps: Steps) -> Result<Planned, QueryError> {
        let name = call.func.name;
        let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
        if let Some(func) = RangeFn::from_name(name) {
            let (matrix_arg, params): (&Expr, Vec<f64>) = match func {
                RangeFn::QuantileOverTime => (
                    args.get(1).copied().ok_or_else(|| arity(name))?,
                    args.first().and_then(|a| literal(a)).into_iter().collect(),
                ),
                RangeFn::PredictLinear => (
                    args.first().copied().ok_or_else(|| arity(name))?,
                    args.get(1).and_then(|a| literal(a)).into_iter().collect(),
                ),
                RangeFn::DoubleExponentialSmoothing => (
                    args.first().copied().ok_or_else(|| arity(name))?,
                    args[1..].iter().filter_map(|a| literal(a)).collect(),
                ),
                _ => (args.first().copied().ok_or_else(|| arity(name))?, vec![]),
            };
            let expected = match func {
                RangeFn::QuantileOverTime | RangeFn::PredictLinear => 1,
                RangeFn::DoubleExponentialSmoothing => 2,
                _ => 0,
            };
            if params.len() != expected {
                return unsupported(format!("non-literal parameter of {name}"));
            }
            let (source, range, shift) = self.range_source(matrix_arg, steps)?;
            let op = RangeFunction {
                func,
                range,
                shift,
                steps,
                params,
            };
            return Ok(planned(PromNode::plan(op, vec![source]), Kind::Vector));
        }
        let instant =
            |func: Func, params: Vec<f64>, input: Option<&Expr>| -> Result<Planned, QueryError> {
                let inputs = match input {
                    Some(e) => vec![self.plan(e, steps)?.plan],
                    None => vec![],
                };
                Ok(planned(
                    PromNode::plan(
                        InstantFunction {
                            func,
                            params,
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
                let op = Binary {
                    op: if name == "min_of" {
                        BinOp::MinOf
                    } else {
                        BinOp::MaxOf
                    },
                    lhs_scalar: true,
                    rhs_scalar: true,
                    return_bool: false,
                    matching: None,
                    card: Cardinality::OneToOne,
                    fill: (None, None),
                    steps,
                };
                Ok(planned(
                    PromNode::plan(op, vec![a.plan, b.plan]),
                    Kind::Scalar,
                ))
            }
            "histogram_quantile" | "histogram_fraction" | "histogram_quantiles" => {
                let (func, input) = match name {
                    "histogram_quantile" => {
                        let q = args.first().and_then(|a| literal(a));
                        let q = q.ok_or_else(|| {
                            QueryError::Unsupported("non-literal quantile".into())
                        })?;
                        (HistFn::Quantile(q), args.get(1).copied())
                    }
                    "histogram_fraction" => {
                        let lower = args.first().and_then(|a| literal(a));
                        let upper = args.get(1).and_then(|a| literal(a));
                        let (Some(lower), Some(upper)) = (lower, upper) else {
                            return unsupported("non-literal histogram_fraction bounds");
                        };
                        (HistFn::Fraction { lower, upper }, args.get(2).copied())
                    }
                    _ => {
                        let label = args
                            .get(1)
                            .and_then(|a| string_arg(a))
                            .ok_or_else(|| arity(name))?;
                        let qs: Option<Vec<f64>> =
                            args.iter().skip(2).map(|a| literal(a)).collect();
                        let qs = qs.ok_or_else(|| {
                            QueryError::Unsupported("non-literal quantiles".into())
                        })?;
                        (HistFn::Quantiles { label, qs }, args.first().copied())
                    }
                };
                let input = self.plan(input.ok_or_else(|| arity(name))?, steps)?;
                let op = ClassicHistogram { func, steps };
                Ok(planned(PromNode::plan(op, vec![input.plan]), Kind::Vector))
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
            "vector" => instant(Func::Vector, vec![], args.first().copied()),
            "scalar" => {
                let mut p = instant(Func::Scalar, vec![], args.first().copied())?;
                p.kind = Kind::Scalar;
                Ok(p)
            }
            "absent" => instant(
                Func::Absent(Self::absent_labels(args[0])),
                vec![],
                args.first().copied(),
            ),
            "absent_over_time" => {
                let arg = args.first().copied().ok_or_else(|| arity(name))?;
                let (source, range, shift) = self.range_source(arg, steps)?;
                let present = RangeFunction {
                    func: RangeFn::PresentOverTime,
                    range,
                    shift,
                    steps,
                    params: vec![],
                };
                let present = PromNode::plan(present, vec![source]);
                let op = InstantFunction {
                    func: Func::Absent(Self::absent_labels(arg)),
                    params: vec![],
                    steps,
                };
                Ok(planned(PromNode::plan(op, vec![present]), Kind::Vector))
            }
            "timestamp" => {
                let arg = args.first().copied().ok_or_else(|| arity(name))?;
                match unwrap_parens(arg) {
                    Expr::VectorSelector(vs) => {
                        // The raw sample's own timestamp.
                        let select = VectorSelect {
                            matchers: Self::matchers(vs)?,
                            shift: self.shift(&vs.offset, &vs.at),
                            steps,
                            lookback: self.lookback,
                        };
                        let op = super::ops::selector::SampleTimestamps { select };
                        Ok(planned(PromNode::plan(op, vec![]), Kind::Vector))
                    }
                    _ => instant(Func::Timestamp, vec![], Some(arg)),
                }
            }
            "round" => {
                let params = match args.get(1) {
                    Some(a) => vec![literal(a).ok_or_else(|| {
                        QueryError::Unsupported("non-literal round precision".into())
                    })?],
                    None => vec![1.0],
                };
                instant(Func::Round, params, args.first().copied())
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let params: Option<Vec<f64>> = args[1..].iter().map(|a| literal(a)).collect();
                let params = params
                    .ok_or_else(|| QueryError::Unsupported(format!("non-literal {name} bounds")))?;
                let func = match name {
                    "clamp" => Func::Clamp,
                    "clamp_min" => Func::ClampMin,
                    _ => Func::ClampMax,
                };
                instant(func, params, args.first().copied())
            }
            "label_replace" => {
                let s = |i: usize| {
                    args.get(i)
                        .and_then(|a| string_arg(a))
                        .ok_or_else(|| arity(name))
                };
                let func = Func::LabelReplace {
                    dst: s(1)?,
                    replacement: s(2)?,
                    src: s(3)?,
                    regex: s(4)?,
                };
                instant(func, vec![], args.first().copied())
            }
            "label_join" => {
                let s = |i: usize| {
                    args.get(i)
                        .and_then(|a| string_arg(a))
                        .ok_or_else(|| arity(name))
                };
                let src: Result<Vec<String>, _> = (3..args.len()).map(s).collect();
                let func = Func::LabelJoin {
                    dst: s(1)?,
                    sep: s(2)?,
                    src: src?,
                };
                instant(func, vec![], args.first().copied())
            }
            "sort" | "sort_desc" => {
                let mut p = instant(
                    Func::Sort {
                        desc: name == "sort_desc",
                    },
                    vec![],
                    args.first().copied(),
                )?;
                p.ordered = true;
                Ok(p)
            }
            "sort_by_label" | "sort_by_label_desc" => {
                let labels: Option<Vec<String>> = args[1..].iter().map(|a| string_arg(a)).collect();
                let func = Func::SortByLabel {
                    desc: name.ends_with("_desc"),
                    labels: labels.ok_or_else(|| arity(name))?,
                };
                let mut p = instant(func, vec![], args.first().copied())?;
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
                Some(func) => instant(func, vec![], args.first().copied()),
                None => unsupported(format!("function {name}")),
            },
        }
    }

    fn plan_aggregate(
        &self,
        agg: &parser::AggregateExpr,
        steps: Steps,
    ) -> Result<Planned, QueryError> {
        let op_name = agg.op.to_string();
        let op = AggOp::from_name(&op_name)
            .ok_or_else(|| QueryError::Unsupported(format!("aggregation {op_name}")))?;
        let grouping = match &agg.modifier {
            Some(LabelModifier::Include(l)) => Grouping {
                without: false,
                labels: l.labels.clone(),
            },
            Some(LabelModifier::Exclude(l)) => Grouping {
                without: true,
                labels: l.labels.clone(),
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
                label_param = Some(string_arg(param).ok_or_else(|| {
                    QueryError::Unsupported("non-literal count_values label".into())
                })?);
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

    fn plan_binary(&self, b: &parser::BinaryExpr, steps: Steps) -> Result<Planned, QueryError> {
        let token = b.op.to_string();
        let op = BinOp::from_token(&token)
            .ok_or_else(|| QueryError::Unsupported(format!("operator {token}")))?;
        let lhs = self.plan(&b.lhs, steps)?;
        let rhs = self.plan(&b.rhs, steps)?;
        let modifier = b.modifier.as_ref();
        let fill = modifier
            .map(|m| (m.fill_values.lhs, m.fill_values.rhs))
            .unwrap_or((None, None));
        let matching = modifier.and_then(|m| m.matching.as_ref()).map(|m| match m {
            LabelModifier::Include(l) => (true, l.labels.clone()),
            LabelModifier::Exclude(l) => (false, l.labels.clone()),
        });
        let card = match modifier.map(|m| &m.card) {
            Some(VectorMatchCardinality::ManyToOne(l)) => Cardinality::ManyToOne(l.labels.clone()),
            Some(VectorMatchCardinality::OneToMany(l)) => Cardinality::OneToMany(l.labels.clone()),
            Some(VectorMatchCardinality::ManyToMany) => Cardinality::ManyToMany,
            _ if op.is_set() => Cardinality::ManyToMany,
            _ => Cardinality::OneToOne,
        };
        let (ls, rs) = (lhs.kind == Kind::Scalar, rhs.kind == Kind::Scalar);
        let kind = if ls && rs { Kind::Scalar } else { Kind::Vector };
        let op = Binary {
            op,
            lhs_scalar: ls,
            rhs_scalar: rs,
            return_bool: modifier.is_some_and(|m| m.return_bool),
            matching,
            card,
            fill,
            steps,
        };
        Ok(planned(PromNode::plan(op, vec![lhs.plan, rhs.plan]), kind))
    }
}

fn arity(name: &str) -> QueryError {
    QueryError::Parse(format!("wrong number of arguments for {name}"))
}
