use super::ast::*;
use super::parse;

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
