//! Runs `.test` files through storage and the engine (FORMAT.md §8–9) and counts passes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_query::parser::ast::{At, Expr};

use strata_query::{Engine, EngineOptions, QueryError, QueryOutput, QueryValue};
use strata_storage::{
    Labels, Manifest, SeriesSamples, Snapshot, Store, Transaction, encode_block, upload_block,
};

use super::parse::{Command, Eval, EvalTime, Expectations};
use super::series::{Point, STALE_NAN, TestLabels};

/// Pass/fail counts of one file, floats and native histograms apart.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) nh_passed: usize,
    pub(crate) nh_failed: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.nh_passed += o.nh_passed;
        self.nh_failed += o.nh_failed;
    }
}

fn engine(store: &Store) -> Engine {
    Engine::new(
        store.clone(),
        EngineOptions {
            lookback: Duration::from_secs(300),
            max_samples: 10_000,
            timeout: Duration::from_secs(100),
            default_subquery_step: Duration::from_secs(60),
            ..Default::default()
        },
    )
}

/// §8.4: equal within a relative 1e-6; stale markers only equal each other.
fn almost_equal(a: f64, b: f64) -> bool {
    let (sa, sb) = (a.to_bits() == STALE_NAN, b.to_bits() == STALE_NAN);
    if sa || sb {
        return sa && sb;
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || a.abs() + b.abs() < f64::MIN_POSITIVE {
        return diff < 1e-6 * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < 1e-6
}

fn to_labels(l: &TestLabels) -> Labels {
    Labels::from_pairs(l.iter().cloned()).unwrap_or_default()
}

async fn load(store: &Store, step: i64, series: &[super::parse::LoadSeries]) -> Result<(), String> {
    let mut input = Vec::new();
    for s in series {
        let mut samples = SeriesSamples {
            labels: to_labels(&s.labels),
            ..Default::default()
        };
        for (i, p) in s.points.iter().enumerate() {
            if let Point::Float(v) = p {
                let t = i as i64 * step;
                samples.timestamps.push(t);
                samples.values.push(*v);
                // FORMAT.md §4.2: an offset from the sample's own timestamp; 0 is unknown.
                let offset = s.start_offsets.get(i).copied().flatten();
                samples.start_timestamps.push(offset.map_or(0, |o| t + o));
            }
        }
        if !samples.timestamps.is_empty() {
            input.push(samples);
        }
    }
    if input.is_empty() {
        return Ok(());
    }
    let block = encode_block(input).map_err(|e| e.to_string())?;
    upload_block(store, &block)
        .await
        .map_err(|e| e.to_string())?;
    Manifest::new(store.clone(), "promqltest")
        .commit(Transaction::add(vec![block.meta], Instant::now()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn check_annotations(e: &Expectations, out: &QueryOutput) -> Result<(), String> {
    let (warns, infos) = (&out.annotations.warnings, &out.annotations.infos);
    for (expected, actual, kind, none, some) in [
        (&e.warn, warns, "warning", e.no_warn, e.some_warn),
        (&e.info, infos, "info", e.no_info, e.some_info),
    ] {
        if none && !actual.is_empty() {
            return Err(format!("unexpected {kind}s {actual:?}"));
        }
        if some && actual.is_empty() {
            return Err(format!("expected a {kind}"));
        }
        if expected.is_empty() {
            continue;
        }
        if actual.is_empty() {
            return Err(format!("expected {kind}s, got none"));
        }
        for m in expected {
            if !actual.iter().any(|a| m.matches(a)) {
                return Err(format!("no {kind} matches {m:?} in {actual:?}"));
            }
        }
        for a in actual {
            if !expected.iter().any(|m| m.matches(a)) {
                return Err(format!("unexpected {kind} {a:?}"));
            }
        }
    }
    Ok(())
}

fn first_float(points: &[Point]) -> Result<f64, String> {
    match points.first() {
        Some(Point::Float(v)) => Ok(*v),
        other => Err(format!("expected a float, got {other:?}")),
    }
}

fn check_value(
    eval: &Eval,
    value: &QueryValue,
    range: Option<(i64, i64, i64)>,
) -> Result<(), String> {
    let e = &eval.expect;
    match value {
        QueryValue::String { s, .. } => {
            let want = e.string.clone().unwrap_or_default();
            if *s == want {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {s:?}"))
            }
        }
        QueryValue::Scalar { v, .. } => match e.scalar {
            Some(want) if almost_equal(want, *v) => Ok(()),
            Some(want) => Err(format!("expected scalar {want}, got {v}")),
            None => Err(format!("got scalar {v}, expected a vector")),
        },
        QueryValue::Vector(samples) => {
            if e.scalar.is_some() {
                return Err("expected a scalar, got a vector".into());
            }
            if samples.len() != e.series.len() {
                return Err(format!(
                    "expected {} samples, got {}: {samples:?}",
                    e.series.len(),
                    samples.len()
                ));
            }
            for (i, s) in samples.iter().enumerate() {
                let Some((pos, want)) = e.series.iter().find(|(_, w)| {
                    to_labels(&w.labels) == s.labels && w.labels.len() == s.labels.len()
                }) else {
                    return Err(format!("unexpected series {}", s.labels));
                };
                if e.ordered && *pos != i + 1 {
                    return Err(format!(
                        "{} at position {} instead of {pos}",
                        s.labels,
                        i + 1
                    ));
                }
                let wv = first_float(&want.points)?;
                if !almost_equal(wv, s.v) {
                    return Err(format!("{}: expected {wv}, got {}", s.labels, s.v));
                }
            }
            Ok(())
        }
        QueryValue::Matrix(series) => {
            if e.ordered {
                return Err("expect ordered on a matrix result".into());
            }
            if e.scalar.is_some() {
                return Err("expected a scalar, got a matrix".into());
            }
            let (start, end, step) = range.ok_or("got a matrix for an instant query")?;
            if !series.windows(2).all(|w| w[0].labels <= w[1].labels) {
                return Err("matrix is not sorted by labels".into());
            }
            if series.len() != e.series.len() {
                return Err(format!(
                    "expected {} series, got {}: {series:?}",
                    e.series.len(),
                    series.len()
                ));
            }
            for s in series {
                let Some((_, want)) = e
                    .series
                    .iter()
                    .find(|(_, w)| to_labels(&w.labels) == s.labels)
                else {
                    return Err(format!("unexpected series {}", s.labels));
                };
                let mut expected: Vec<(i64, f64)> = Vec::new();
                for (i, p) in want.points.iter().enumerate() {
                    let t = start + i as i64 * step;
                    match p {
                        Point::Omitted => {}
                        _ if t > end => return Err("expected point beyond the end".into()),
                        Point::Float(v) => expected.push((t, *v)),
                        Point::Histogram(_) => return Err("expected a histogram".into()),
                    }
                }
                if expected.len() != s.points.len()
                    || expected
                        .iter()
                        .zip(&s.points)
                        .any(|(a, b)| a.0 != b.0 || !almost_equal(a.1, b.1))
                {
                    return Err(format!(
                        "{}: expected {expected:?}, got {:?}",
                        s.labels, s.points
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Runs one query and checks it against the eval's expectations (§8.2).
async fn check_query(
    engine: &Engine,
    snapshot: &Arc<Snapshot>,
    eval: &Eval,
    expr: &Result<Expr, QueryError>,
    time: EvalTime,
) -> Result<(), String> {
    let result: Result<QueryOutput, QueryError> = match (expr, time) {
        (Err(e), _) => Err(QueryError::Parse(e.to_string())),
        (Ok(expr), EvalTime::Instant { at }) => {
            engine.instant_expr(snapshot.clone(), expr, at).await
        }
        (Ok(expr), EvalTime::Range { start, end, step }) => {
            engine
                .range_expr(snapshot.clone(), expr, start, end, step)
                .await
        }
    };
    let out = match (result, &eval.expect.fail) {
        (Err(e), Some(m)) => {
            return if m.matches(&e.to_string()) {
                Ok(())
            } else {
                Err(format!("error {e:?} does not match {m:?}"))
            };
        }
        (Err(e), None) => return Err(format!("error: {e}")),
        (Ok(_), Some(_)) => return Err("expected an error, got none".into()),
        (Ok(out), None) => out,
    };
    check_annotations(&eval.expect, &out)?;
    let range = match time {
        EvalTime::Range { start, end, step } => Some((start, end, step)),
        EvalTime::Instant { .. } => eval.expect.range_vector,
    };
    check_value(eval, &out.value, range)
}

/// §9.2: the instant query's result again, taken from a range query around it.
async fn check_range_mode(
    engine: &Engine,
    snapshot: &Arc<Snapshot>,
    eval: &Eval,
    expr: &Expr,
    at: i64,
) -> Result<(), String> {
    let out = engine
        .range_expr(snapshot.clone(), expr, at - 60_000, at + 60_000, 60_000)
        .await
        .map_err(|e| format!("range mode: {e}"))?;
    if eval.expect.ordered {
        return Ok(());
    }
    let QueryValue::Matrix(series) = out.value else {
        return Err("range mode: not a matrix".into());
    };
    let value = if eval.expect.scalar.is_some() {
        let v = series
            .first()
            .and_then(|s| s.points.iter().find(|p| p.0 == at))
            .map_or(f64::NAN, |p| p.1);
        QueryValue::Scalar { t: at, v }
    } else {
        QueryValue::Vector(
            series
                .into_iter()
                .filter_map(|s| {
                    let p = s.points.iter().find(|p| p.0 == at)?;
                    Some(strata_query::InstantSample {
                        labels: s.labels,
                        t: at,
                        v: p.1,
                    })
                })
                .collect(),
        )
    };
    check_value(eval, &value, None).map_err(|e| format!("range mode: {e}"))
}

/// §9.1: functions whose result depends on the evaluation time itself.
const AT_MODIFIER_UNSAFE: [&str; 15] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

fn calls_at_unsafe(e: &Expr) -> bool {
    match e {
        Expr::Call { func, args } => {
            AT_MODIFIER_UNSAFE.contains(&func.as_str()) || args.iter().any(calls_at_unsafe)
        }
        Expr::Aggregate(a) => {
            calls_at_unsafe(&a.expr) || a.param.as_ref().is_some_and(calls_at_unsafe)
        }
        Expr::Binary(b) => calls_at_unsafe(&b.lhs) || calls_at_unsafe(&b.rhs),
        Expr::Neg(e) | Expr::Paren(e) => calls_at_unsafe(e),
        Expr::Subquery(s) => calls_at_unsafe(&s.expr),
        _ => false,
    }
}

/// §9.1: gives every selector and subquery without `@` an `@ t`; does not descend into
/// subqueries (which then carry one).
fn pin_at(e: &mut Expr, t: i64) {
    match e {
        Expr::Vector(vs) => {
            vs.at.get_or_insert(At::Time(t));
        }
        Expr::Matrix(ms) => {
            ms.selector.at.get_or_insert(At::Time(t));
        }
        Expr::Subquery(sq) => {
            sq.at.get_or_insert(At::Time(t));
        }
        Expr::Call { args, .. } => args.iter_mut().for_each(|a| pin_at(a, t)),
        Expr::Aggregate(a) => {
            pin_at(&mut a.expr, t);
            if let Some(p) = &mut a.param {
                pin_at(p, t);
            }
        }
        Expr::Binary(b) => {
            pin_at(&mut b.lhs, t);
            pin_at(&mut b.rhs, t);
        }
        Expr::Neg(e) | Expr::Paren(e) => pin_at(e, t),
        Expr::Number(_) | Expr::String(_) | Expr::InvalidString(_) => {}
    }
}

async fn check_variant(
    engine: &Engine,
    snapshot: &Arc<Snapshot>,
    eval: &Eval,
    expr: &Result<Expr, QueryError>,
    time: EvalTime,
) -> Result<(), String> {
    check_query(engine, snapshot, eval, expr, time).await?;
    let skip_range_mode = eval.expect.range_vector.is_some()
        || eval.expect.string.is_some()
        || eval.expect.fail.is_some()
        || ["start()", "end()", "range()", "step()"]
            .iter()
            .any(|f| eval.expr.contains(f));
    if let (EvalTime::Instant { at }, Ok(expr)) = (time, expr)
        && !skip_range_mode
    {
        check_range_mode(engine, snapshot, eval, expr, at).await?;
    }
    Ok(())
}

async fn run_eval(engine: &Engine, snapshot: &Arc<Snapshot>, eval: &Eval) -> Result<(), String> {
    let expr = strata_query::parse(&eval.expr);
    check_variant(engine, snapshot, eval, &expr, eval.time).await?;
    // §9.1: the same query pinned with `@` must give the same answer at other times.
    if let (EvalTime::Instant { at }, Ok(parsed)) = (eval.time, &expr)
        && eval.expect.range_vector.is_none()
        && !calls_at_unsafe(parsed)
    {
        let mut pinned = parsed.clone();
        pin_at(&mut pinned, at);
        let pinned = Ok(pinned);
        let times = if at == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * at, 0, at / 5, at, 10 * at]
        };
        for t in times {
            check_variant(engine, snapshot, eval, &pinned, EvalTime::Instant { at: t })
                .await
                .map_err(|e| format!("with @ {at} evaluated at {t}: {e}"))?;
        }
    }
    Ok(())
}

/// True when a query selects series holding native histograms, or calls a histogram function.
fn touches_histograms(query: &str, histogram_series: &[Labels]) -> bool {
    if query.contains("histogram_") {
        return true;
    }
    let Ok(expr) = strata_query::parse(query) else {
        return false;
    };
    let mut selectors = Vec::new();
    collect_selectors(&expr, &mut selectors);
    selectors.iter().any(|vs| {
        let matchers: Vec<strata_query::Matcher> = vs
            .name
            .iter()
            .map(|n| {
                strata_query::Matcher::new(strata_query::MatchOp::Equal, "__name__", n.clone())
            })
            .chain(
                vs.matchers
                    .iter()
                    .map(|m| strata_query::Matcher::new(m.op, m.name.clone(), m.value.clone())),
            )
            .filter_map(Result::ok)
            .collect();
        histogram_series
            .iter()
            .any(|l| matchers.iter().all(|m| m.matches_labels(l)))
    })
}

fn collect_selectors<'a>(
    e: &'a Expr,
    out: &mut Vec<&'a strata_query::parser::ast::VectorSelector>,
) {
    match e {
        Expr::Vector(vs) => out.push(vs),
        Expr::Matrix(ms) => out.push(&ms.selector),
        Expr::Subquery(sq) => collect_selectors(&sq.expr, out),
        Expr::Call { args, .. } => args.iter().for_each(|a| collect_selectors(a, out)),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Neg(e) | Expr::Paren(e) => collect_selectors(e, out),
        Expr::Number(_) | Expr::String(_) | Expr::InvalidString(_) => {}
    }
}

/// Runs a parsed file. `failures` collects a line per failed float eval.
pub(crate) async fn run_file(commands: &[Command], failures: &mut Vec<String>) -> Counts {
    let mut counts = Counts::default();
    let mut store = Store::open("memory://").unwrap();
    // Series holding native histogram samples (loaded directly, or converted by load_with_nhcb).
    let mut histogram_series: Vec<Labels> = Vec::new();
    for cmd in commands {
        match cmd {
            Command::Clear => {
                store = Store::open("memory://").unwrap();
                histogram_series.clear();
            }
            Command::Load {
                step,
                series,
                with_nhcb,
                line,
            } => {
                for series in series {
                    let labels = to_labels(&series.labels);
                    if series
                        .points
                        .iter()
                        .any(|p| matches!(p, Point::Histogram(_)))
                    {
                        histogram_series.push(labels.clone());
                    }
                    if *with_nhcb {
                        // Classic bucket series also become native histograms under their base name.
                        if let Some(base) = labels.metric_name().and_then(|n| {
                            n.strip_suffix("_bucket")
                                .or_else(|| n.strip_suffix("_count"))
                                .or_else(|| n.strip_suffix("_sum"))
                        }) {
                            let pairs = labels.iter().filter(|l| l.name != "le").map(|l| {
                                let v = if l.name == "__name__" {
                                    base.to_string()
                                } else {
                                    l.value.clone()
                                };
                                (l.name.clone(), v)
                            });
                            histogram_series.push(Labels::from_pairs(pairs).unwrap_or_default());
                        }
                    }
                }
                if let Err(e) = load(&store, *step, series).await {
                    failures.push(format!("line {line}: load failed: {e}"));
                }
            }
            Command::Eval(eval) => {
                let snapshot = Manifest::new(store.clone(), "reader")
                    .snapshot()
                    .await
                    .unwrap();
                let native =
                    eval.expects_histograms() || touches_histograms(&eval.expr, &histogram_series);
                let outcome = run_eval(&engine(&store), &snapshot, eval).await;
                match (outcome, native) {
                    (Ok(()), false) => counts.passed += 1,
                    (Ok(()), true) => counts.nh_passed += 1,
                    (Err(e), false) => {
                        counts.failed += 1;
                        failures.push(format!("line {}: {}: {e}", eval.line, eval.expr));
                    }
                    (Err(e), true) => {
                        counts.nh_failed += 1;
                        failures.push(format!(
                            "[native histograms] line {}: {}: {e}",
                            eval.line, eval.expr
                        ));
                    }
                }
            }
        }
    }
    counts
}
