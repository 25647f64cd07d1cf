use super::ast::*;
use super::parse;
use crate::error::ParseError;

fn q() -> QueryTimes {
    QueryTimes {
        start: 50_000,
        end: 60_000,
        step: 5_000,
    }
}

#[test]
fn precedence_and_associativity() {
    let Expr::Binary(b) = parse("1 + 2 * 3").unwrap() else {
        panic!()
    };
    assert_eq!(b.op, "+");
    let Expr::Neg(inner) = parse("-2 ^ 2").unwrap() else {
        panic!("unary minus binds looser than ^")
    };
    assert!(matches!(*inner, Expr::Binary(_)));
    let Expr::Binary(b) = parse("2 ^ 3 ^ 2").unwrap() else {
        panic!()
    };
    assert!(matches!(b.rhs, Expr::Binary(_)), "^ is right-associative");
    let Expr::Binary(b) = parse("a or b and c").unwrap() else {
        panic!()
    };
    assert_eq!(b.op, "or");
}

#[test]
fn selectors_and_modifiers() {
    let Expr::Matrix(m) =
        parse(r#"http_requests{job="api", "le"=~"0.*"}[5m] offset -1h @ 100 anchored"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(m.selector.name.as_deref(), Some("http_requests"));
    assert_eq!(m.selector.matchers.len(), 2);
    assert_eq!(m.range.millis(q()), 300_000);
    assert_eq!(m.selector.offset.as_ref().unwrap().millis(q()), -3_600_000);
    assert_eq!(m.selector.at, Some(At::Time(100_000)));
    assert!(m.anchored);
    let Expr::Vector(v) = parse(r#"{"my.metric", a="b"}"#).unwrap() else {
        panic!()
    };
    assert_eq!(v.name.as_deref(), Some("my.metric"));
    assert!(parse(r#"{a=""}"#).is_err(), "needs a non-empty matcher");
    assert!(parse("sum(x) offset 5m").is_err());
}

#[test]
fn duration_expressions() {
    let range = |s: &str| match parse(s).unwrap() {
        Expr::Call { args, .. } => match &args[0] {
            Expr::Matrix(m) => m.range.millis(q()),
            Expr::Subquery(sq) => sq.range.millis(q()),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(range("changes(x[26m+4m])"), 1_800_000);
    assert_eq!(range("changes(x[1800])"), 1_800_000);
    assert_eq!(range("changes(x[2m*(10+5)])"), 1_800_000);
    assert_eq!(range("changes(x[1h30m % 1h])"), 1_800_000);
    assert_eq!(range("changes(x[step()+1ms])"), 5_001);
    assert_eq!(range("changes(x[max_of(min_of(step()+1,1h),1ms)])"), 6_000);
    assert_eq!(range("sum_over_time(x[29s+1s:5s+5s])"), 30_000);
    // offset takes one term: `x offset 100 + 2` is `(x offset 100) + 2`.
    let Expr::Binary(b) = parse("x offset 100 + 2").unwrap() else {
        panic!()
    };
    let Expr::Vector(v) = &b.lhs else { panic!() };
    assert_eq!(v.offset.as_ref().unwrap().millis(q()), 100_000);
    let Expr::Vector(v) = parse("x offset (100 + 2)").unwrap() else {
        panic!()
    };
    assert_eq!(v.offset.unwrap().millis(q()), 102_000);
    let Expr::Vector(v) = parse("x offset STEP()").unwrap() else {
        panic!()
    };
    assert_eq!(v.offset.unwrap().millis(q()), 5_000);
}

#[test]
fn aggregations_and_binary_modifiers() {
    let Expr::Aggregate(a) = parse("sum without (instance) (rate(x[5m]))").unwrap() else {
        panic!()
    };
    assert_eq!(
        a.grouping,
        Some(Grouping {
            without: true,
            labels: vec!["instance".into()]
        })
    );
    let Expr::Aggregate(a) = parse("topk(3, x) by (job)").unwrap() else {
        panic!()
    };
    assert!(a.param.is_some() && a.grouping.is_some());
    let Expr::Binary(b) = parse("a > bool on(x) group_left(y) fill(0) b").unwrap() else {
        panic!()
    };
    assert!(b.return_bool);
    assert_eq!(b.matching, Some((true, vec!["x".into()])));
    assert_eq!(b.card, Card::ManyToOne(vec!["y".into()]));
    assert_eq!(b.fill, (Some(0.0), Some(0.0)));
    assert!(parse("1 > 2").is_err(), "scalar comparisons need bool");
    assert!(parse("1 and 2").is_err());
    assert!(parse("sum(").is_err());
}

/// Calls are checked when parsed, with Prometheus' messages and positions: no argument list
/// reaches the planner with the wrong count or type (some used to panic it).
#[test]
fn calls_are_checked_like_prometheus() {
    for (query, want) in [
        (
            "absent()",
            r#"1:1: parse error: expected 1 argument(s) in call to "absent", got 0"#,
        ),
        (
            "clamp(up)",
            r#"1:1: parse error: expected 3 argument(s) in call to "clamp", got 1"#,
        ),
        (
            "sort_by_label()",
            r#"1:1: parse error: expected at least 1 argument(s) in call to "sort_by_label", got 0"#,
        ),
        (
            "rate(up[5m], 1)",
            r#"1:1: parse error: expected 1 argument(s) in call to "rate", got 2"#,
        ),
        (
            "abs(up, up)",
            r#"1:1: parse error: expected 1 argument(s) in call to "abs", got 2"#,
        ),
        (
            "round()",
            r#"1:1: parse error: expected at least 1 argument(s) in call to "round", got 0"#,
        ),
        (
            "vector()",
            r#"1:1: parse error: expected 1 argument(s) in call to "vector", got 0"#,
        ),
        (
            "time(1)",
            r#"1:1: parse error: expected 0 argument(s) in call to "time", got 1"#,
        ),
        (
            "hour(up, up, up)",
            r#"1:1: parse error: expected at most 1 argument(s) in call to "hour", got 3"#,
        ),
        (
            "scalar(up[5m])",
            r#"1:8: parse error: expected type instant vector in call to function "scalar", got range vector"#,
        ),
        (
            "histogram_quantile(0.9, x_bucket[5m])",
            r#"1:25: parse error: expected type instant vector in call to function "histogram_quantile", got range vector"#,
        ),
        (
            "rate(up)",
            r#"1:6: parse error: expected type range vector in call to function "rate", got instant vector"#,
        ),
        (
            "1 + foo(up)",
            r#"1:5: parse error: unknown function with name "foo""#,
        ),
        (
            "RATE(up[5m])",
            r#"1:1: parse error: unknown function with name "RATE""#,
        ),
        (
            "holt_winters(up[5m], 0.5, 0.5)",
            r#"1:1: parse error: unknown function with name "holt_winters""#,
        ),
    ] {
        match parse(query) {
            Err(ParseError(got)) => assert_eq!(got, want, "{query}"),
            other => panic!("{query}: expected a parse error, got {other:?}"),
        }
    }
    for ok in [
        "round(up)",
        "round(up, 5)",
        "label_join(up, \"a\", \",\", \"b\", \"c\")",
        "sort_by_label(up, \"a\", \"b\")",
        "hour()",
        "predict_linear(x[1h], 20 * 3600)",
        "histogram_quantile(scalar(q), rate(x_bucket[5m]))",
        "info(up, {k=\"v\"})",
        "time() + pi()",
    ] {
        assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
    }
}

/// Prometheus' checks of binary expressions, at the operator's position.
#[test]
fn binary_expressions_are_checked_like_prometheus() {
    for (query, want) in [
        (
            "x > on(instance) group_left(instance) y",
            r#"1:3: parse error: label "instance" must not occur in ON and GROUP clause at once"#,
        ),
        (
            "1 > 2",
            "1:3: parse error: comparisons between scalars must use BOOL modifier",
        ),
        (
            "x and 1",
            r#"1:3: parse error: set operator "and" not allowed in binary scalar expression"#,
        ),
        ("x / +on", "1:6: parse error: unexpected <on>"),
        ("Bool", "1:1: parse error: unexpected <Bool>"),
        ("atan2 + 1", "1:1: parse error: unexpected <op:atan2>"),
    ] {
        match parse(query) {
            Err(ParseError(got)) => assert_eq!(got, want, "{query}"),
            other => panic!("{query}: expected a parse error, got {other:?}"),
        }
    }
    assert!(parse("x > on(instance) group_left(job) y").is_ok());
    assert!(parse("x > ignoring(instance) group_left(instance) y").is_ok());
}
