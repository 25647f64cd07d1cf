//! Printing expressions back as PromQL: [`Expr`]'s `Display` is Prometheus' canonical
//! one-line form (`String()`), and [`pretty`] its multi-line form for long expressions
//! (`Pretty()`, served by `/api/v1/format_query`).

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{Aggregate, At, Binary, Card, DurationExpr, Expr, Subquery, VectorSelector};
use super::lexer::go_quote;
use crate::float::format_float;
use strata_storage::matcher::MatchOp;

/// Lines longer than this are split by [`pretty`] (Prometheus' `maxCharactersPerLine`).
const MAX_LINE: usize = 100;

use super::format_duration as duration_ms;

fn is_legacy_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn label_name(s: &str) -> String {
    if is_legacy_name(s) && !s.contains(':') {
        s.to_string()
    } else {
        go_quote(s.as_bytes())
    }
}

fn label_list(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| label_name(l))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Duration<'a>(&'a DurationExpr, bool);

impl Display for Duration<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // `self.1`: a plain number (the right side of `*`, `/`, `%`, `^`), not a duration.
        match self.0 {
            DurationExpr::Seconds(s) if self.1 => f.write_str(&format_float(*s)),
            DurationExpr::Seconds(s) => f.write_str(&duration_ms((s * 1000.0).round() as i64)),
            DurationExpr::Step => f.write_str("step()"),
            DurationExpr::Range => f.write_str("range()"),
            DurationExpr::Start => f.write_str("start()"),
            DurationExpr::End => f.write_str("end()"),
            DurationExpr::MinOf(a, b) => {
                write!(f, "min_of({}, {})", Duration(a, false), Duration(b, false))
            }
            DurationExpr::MaxOf(a, b) => {
                write!(f, "max_of({}, {})", Duration(a, false), Duration(b, false))
            }
            DurationExpr::Neg(a) => write!(f, "-{}", Duration(a, false)),
            DurationExpr::Binary(op, a, b) => {
                let number = matches!(op, '*' | '/' | '%' | '^');
                write!(f, "{} {op} {}", Duration(a, false), Duration(b, number))
            }
        }
    }
}

fn modifiers(f: &mut Formatter<'_>, offset: &Option<DurationExpr>, at: &Option<At>) -> fmt::Result {
    match at {
        Some(At::Time(ms)) => write!(f, " @ {:.3}", *ms as f64 / 1000.0)?,
        Some(At::Start) => f.write_str(" @ start()")?,
        Some(At::End) => f.write_str(" @ end()")?,
        None => {}
    }
    match offset {
        Some(DurationExpr::Neg(d)) => write!(f, " offset -{}", Duration(d, false)),
        Some(DurationExpr::Seconds(s)) if *s < 0.0 => {
            write!(f, " offset -{}", duration_ms((-s * 1000.0).round() as i64))
        }
        Some(d) => write!(f, " offset {}", Duration(d, false)),
        None => Ok(()),
    }
}

fn selector_body(f: &mut Formatter<'_>, vs: &VectorSelector) -> fmt::Result {
    let name_is_legacy = vs.name.as_deref().is_some_and(is_legacy_name);
    if let Some(name) = &vs.name
        && name_is_legacy
    {
        f.write_str(name)?;
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(name) = &vs.name
        && !name_is_legacy
    {
        parts.push(go_quote(name.as_bytes()));
    }
    for m in &vs.matchers {
        let op = match m.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        parts.push(format!(
            "{}{op}{}",
            label_name(&m.name),
            go_quote(m.value.as_bytes())
        ));
    }
    if !parts.is_empty() || vs.name.is_none() {
        write!(f, "{{{}}}", parts.join(", "))?;
    }
    Ok(())
}

fn aggregate_head(a: &Aggregate) -> String {
    let mut s = a.op.clone();
    if let Some(g) = &a.grouping {
        let kind = if g.without { "without" } else { "by" };
        if g.without || !g.labels.is_empty() {
            let _ = write!(s, " {kind} ({}) ", label_list(&g.labels));
        }
    }
    s
}

fn binary_op(b: &Binary) -> String {
    let mut s = b.op.clone();
    if b.return_bool {
        s.push_str(" bool");
    }
    if let Some((on, labels)) = &b.matching {
        let kind = if *on { "on" } else { "ignoring" };
        let _ = write!(s, " {kind} ({})", label_list(labels));
    }
    match &b.card {
        Card::OneToOne => {}
        Card::ManyToOne(l) | Card::OneToMany(l) => {
            let kind = if matches!(b.card, Card::ManyToOne(_)) {
                "group_left"
            } else {
                "group_right"
            };
            if l.is_empty() {
                let _ = write!(s, " {kind}");
            } else {
                let _ = write!(s, " {kind} ({})", label_list(l));
            }
        }
    }
    match b.fill {
        (Some(l), Some(r)) if l.to_bits() == r.to_bits() => {
            let _ = write!(s, " fill ({})", format_float(l));
        }
        (l, r) => {
            if let Some(l) = l {
                let _ = write!(s, " fill_left ({})", format_float(l));
            }
            if let Some(r) = r {
                let _ = write!(s, " fill_right ({})", format_float(r));
            }
        }
    }
    s
}

fn subquery_suffix(sq: &Subquery) -> String {
    struct Suffix<'a>(&'a Subquery);
    impl Display for Suffix<'_> {
        fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
            let sq = self.0;
            write!(f, "[{}:", Duration(&sq.range, false))?;
            if let Some(step) = &sq.step {
                write!(f, "{}", Duration(step, false))?;
            }
            f.write_str("]")?;
            modifiers(f, &sq.offset, &sq.at)
        }
    }
    Suffix(sq).to_string()
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => f.write_str(&format_float(*n)),
            Expr::String(s) => f.write_str(&go_quote(s.as_bytes())),
            Expr::InvalidString(b) => f.write_str(&go_quote(b)),
            Expr::Vector(vs) => {
                selector_body(f, vs)?;
                modifiers(f, &vs.offset, &vs.at)?;
                if vs.anchored {
                    f.write_str(" anchored")?;
                }
                if vs.smoothed {
                    f.write_str(" smoothed")?;
                }
                Ok(())
            }
            Expr::Matrix(ms) => {
                selector_body(f, &ms.selector)?;
                write!(f, "[{}]", Duration(&ms.range, false))?;
                modifiers(f, &ms.selector.offset, &ms.selector.at)?;
                if ms.anchored {
                    f.write_str(" anchored")?;
                }
                if ms.smoothed {
                    f.write_str(" smoothed")?;
                }
                Ok(())
            }
            Expr::Subquery(sq) => write!(f, "{}{}", sq.expr, subquery_suffix(sq)),
            Expr::Call { func, args } => {
                let args: Vec<String> = args.iter().map(ToString::to_string).collect();
                write!(f, "{func}({})", args.join(", "))
            }
            Expr::Aggregate(a) => {
                f.write_str(&aggregate_head(a))?;
                f.write_str("(")?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
            Expr::Binary(b) => write!(f, "{} {} {}", b.lhs, binary_op(b), b.rhs),
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::Paren(e) => write!(f, "({e})"),
        }
    }
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

/// Prometheus' `Pretty`: the one-line form when it fits in 100 characters, else one operand
/// per line, indented two spaces per level.
pub fn pretty(expr: &Expr) -> String {
    pretty_at(expr, 0)
}

fn pretty_at(expr: &Expr, level: usize) -> String {
    let flat = expr.to_string();
    if flat.len() <= MAX_LINE {
        return format!("{}{flat}", indent(level));
    }
    let ind = indent(level);
    match expr {
        Expr::Aggregate(a) => {
            let mut s = format!("{ind}{}(\n", aggregate_head(a));
            if let Some(p) = &a.param {
                s.push_str(&pretty_at(p, level + 1));
                s.push_str(",\n");
            }
            s.push_str(&pretty_at(&a.expr, level + 1));
            s.push('\n');
            s.push_str(&ind);
            s.push(')');
            s
        }
        Expr::Binary(b) => format!(
            "{}\n{ind}{}\n{}",
            pretty_at(&b.lhs, level + 1),
            binary_op(b),
            pretty_at(&b.rhs, level + 1)
        ),
        Expr::Call { func, args } if !args.is_empty() => {
            let args: Vec<String> = args.iter().map(|a| pretty_at(a, level + 1)).collect();
            format!("{ind}{func}(\n{}\n{ind})", args.join(",\n"))
        }
        Expr::Paren(e) => format!("{ind}(\n{}\n{ind})", pretty_at(e, level + 1)),
        Expr::Subquery(sq) => format!("{}{}", pretty_at(&sq.expr, level), subquery_suffix(sq)),
        Expr::Neg(e) => format!("{ind}-{}", pretty_at(e, level).trim_start()),
        _ => format!("{ind}{flat}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn round_trip(q: &str) -> String {
        parse(q).unwrap().to_string()
    }

    #[test]
    fn canonical_one_line_form() {
        for (input, want) in [
            (
                "sum by(job)(rate(http_requests_total{code=~'5..'}[5m]))",
                r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))"#,
            ),
            ("a+on(x)group_left(y)b", "a + on (x) group_left (y) b"),
            ("a > bool 1", "a > bool 1"),
            ("foo offset 1h30m", "foo offset 1h30m"),
            ("foo @ 100 offset -5m", "foo @ 100.000 offset -5m"),
            (
                "max_over_time(rate(x[1m])[30m:])",
                "max_over_time(rate(x[1m])[30m:])",
            ),
            ("x[5m:1m] @ end()", "x[5m:1m] @ end()"),
            ("topk(3, -x)", "topk(3, -x)"),
            ("{__name__=~'a.*'}", r#"{__name__=~"a.*"}"#),
            (r#"{"my.metric", "a.b"="1"}"#, r#"{"my.metric", "a.b"="1"}"#),
            ("(1 + 2) * 3", "(1 + 2) * 3"),
            ("sum without () (x)", "sum without () (x)"),
            ("x[26m+4m]", "x[26m + 4m]"),
        ] {
            assert_eq!(round_trip(input), want, "{input}");
            // The printed form parses to the same tree.
            assert_eq!(parse(want).unwrap(), parse(input).unwrap(), "{want}");
        }
    }

    #[test]
    fn long_expressions_are_split() {
        let q = "sum by (job, instance) (rate(http_requests_total{job=\"api-server\", code=~\"5..\"}[5m])) / sum by (job, instance) (rate(http_requests_total{job=\"api-server\"}[5m]))";
        let want = "  sum by (job, instance) (rate(http_requests_total{job=\"api-server\", code=~\"5..\"}[5m]))\n/\n  sum by (job, instance) (rate(http_requests_total{job=\"api-server\"}[5m]))";
        assert_eq!(pretty(&parse(q).unwrap()), want);
        assert_eq!(pretty(&parse("up").unwrap()), "up");
    }
}
