//! Recursive-descent PromQL parser (Prometheus 3.x syntax, including the experimental parts
//! Prometheus' own test suite uses).

use super::ast::*;
use super::lexer::{Tok, Token, lex};
use crate::error::ParseError;
use strata_storage::matcher::{MatchOp, Matcher};

const AGGREGATORS: [&str; 14] = [
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
];
const PARAM_AGGREGATORS: [&str; 6] = [
    "topk",
    "bottomk",
    "count_values",
    "quantile",
    "limitk",
    "limit_ratio",
];

struct Parser {
    toks: Vec<Token>,
    i: usize,
    /// `info()`'s second argument may be a selector of data-label matchers that all match empty.
    allow_empty_selector: bool,
}

fn precedence(op: &str) -> Option<u8> {
    Some(match op {
        "or" => 1,
        "and" | "unless" => 2,
        "==" | "!=" | "<=" | "<" | ">=" | ">" => 3,
        "+" | "-" => 4,
        "*" | "/" | "%" | "atan2" => 5,
        "^" => 6,
        _ => return None,
    })
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | "<=" | "<" | ">=" | ">")
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].kind
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].kind
    }

    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn error<T>(&self, msg: impl Into<String>) -> Result<T, ParseError> {
        // Prometheus' lexer reports input that ends inside parentheses or brackets as such,
        // before the parser can say what it expected.
        let mut msg = msg.into();
        if *self.peek() == Tok::Eof {
            let open = |open: &Tok, close: &Tok| {
                let count = |t: &Tok| self.toks.iter().filter(|k| k.kind == *t).count();
                count(open) > count(close)
            };
            if open(&Tok::LParen, &Tok::RParen) {
                msg = "unclosed left parenthesis".into();
            } else if open(&Tok::LBracket, &Tok::RBracket) {
                msg = "unclosed left bracket".into();
            }
        }
        Err(ParseError(format!(
            "1:{}: parse error: {msg}",
            self.pos() + 1,
        )))
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ParseError> {
        if *self.peek() == want {
            self.bump();
            Ok(())
        } else {
            self.error(format!(
                "unexpected {}, expected {what}",
                describe(self.peek())
            ))
        }
    }

    fn ident_is(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    /// The binary operator at the cursor, if any.
    fn binary_op(&self) -> Option<&'static str> {
        match self.peek() {
            Tok::Op(op) if precedence(op).is_some() => Some(op),
            Tok::Ident(w) => ["and", "or", "unless", "atan2"]
                .into_iter()
                .find(|o| w.eq_ignore_ascii_case(o)),
            _ => None,
        }
    }

    fn parse_expr(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.parse_unary()?;
        while let Some(op) = self.binary_op() {
            let prec = precedence(op).unwrap_or(0);
            if prec < min_prec {
                break;
            }
            let op_pos = self.pos();
            self.bump();
            let (return_bool, matching, card, fill) = self.binary_modifiers(op)?;
            // `^` is right-associative, everything else left-associative.
            let rhs = if op == "^" {
                self.parse_expr(prec)?
            } else {
                self.parse_expr(prec + 1)?
            };
            lhs = match make_binary(op, lhs, rhs, return_bool, matching, card, fill) {
                Ok(e) => e,
                Err(msg) => return self.error_at(op_pos, msg),
            };
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Op("-") | Tok::Op("+") => {
                let negative = *self.peek() == Tok::Op("-");
                self.bump();
                // Unary minus binds more loosely than `^`: -2^2 is -(2^2).
                let operand = self.parse_expr(6)?;
                match operand.value_type() {
                    ValueType::Scalar | ValueType::Vector => {}
                    other => return self.error(format!("unary expression only allowed on expressions of type scalar or vector, got: {}", type_name(other))),
                }
                Ok(if negative {
                    Expr::Neg(Box::new(operand))
                } else {
                    operand
                })
            }
            _ => self.parse_postfix(),
        }
    }

    #[allow(clippy::type_complexity)]
    fn binary_modifiers(
        &mut self,
        op: &str,
    ) -> Result<
        (
            bool,
            Option<(bool, Vec<String>)>,
            Card,
            (Option<f64>, Option<f64>),
        ),
        ParseError,
    > {
        let mut return_bool = false;
        if self.ident_is("bool") {
            if !is_comparison(op) {
                return self.error("bool modifier can only be used on comparison operators");
            }
            self.bump();
            return_bool = true;
        }
        let mut matching = None;
        if self.ident_is("on") || self.ident_is("ignoring") {
            let on = self.ident_is("on");
            self.bump();
            matching = Some((on, self.label_list()?));
        }
        let mut card = Card::OneToOne;
        if self.ident_is("group_left") || self.ident_is("group_right") {
            let left = self.ident_is("group_left");
            self.bump();
            let labels = if *self.peek() == Tok::LParen {
                self.label_list()?
            } else {
                Vec::new()
            };
            card = if left {
                Card::ManyToOne(labels)
            } else {
                Card::OneToMany(labels)
            };
        }
        let mut fill = (None, None);
        loop {
            // `fill(…)` is a modifier; a bare `fill` is a metric name.
            let which = ["fill", "fill_left", "fill_right"]
                .into_iter()
                .find(|w| self.ident_is(w) && *self.peek_at(1) == Tok::LParen);
            let Some(which) = which else { break };
            self.bump();
            self.expect(Tok::LParen, "\"(\"")?;
            let v = self.signed_number()?;
            self.expect(Tok::RParen, "\")\"")?;
            match which {
                "fill" => fill = (Some(v), Some(v)),
                "fill_left" => fill.0 = Some(v),
                _ => fill.1 = Some(v),
            }
        }
        Ok((return_bool, matching, card, fill))
    }

    fn signed_number(&mut self) -> Result<f64, ParseError> {
        let sign = match self.peek() {
            Tok::Op("-") => {
                self.bump();
                -1.0
            }
            Tok::Op("+") => {
                self.bump();
                1.0
            }
            _ => 1.0,
        };
        match self.bump() {
            Tok::Number(v) => Ok(sign * v),
            Tok::Duration(ms) => Ok(sign * ms as f64 / 1000.0),
            other => self.error(format!(
                "unexpected {}, expected a number",
                describe(&other)
            )),
        }
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(Tok::LParen, "\"(\"")?;
        let mut labels = Vec::new();
        loop {
            match self.bump() {
                Tok::RParen => break,
                Tok::Ident(name) | Tok::Str(name) => {
                    labels.push(name);
                    match self.bump() {
                        Tok::Comma => {}
                        Tok::RParen => break,
                        other => {
                            return self.error(format!(
                                "unexpected {} in grouping opts, expected \",\" or \")\"",
                                describe(&other)
                            ));
                        }
                    }
                }
                other => {
                    return self.error(format!(
                        "unexpected {} in grouping opts, expected label",
                        describe(&other)
                    ));
                }
            }
        }
        Ok(labels)
    }

    fn parse_postfix(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.parse_primary()?;
        loop {
            if *self.peek() == Tok::LBracket {
                self.bump();
                let range = self.duration_expr(0)?;
                if *self.peek() == Tok::Colon {
                    self.bump();
                    let step = if *self.peek() == Tok::RBracket {
                        None
                    } else {
                        Some(self.duration_expr(0)?)
                    };
                    self.expect(Tok::RBracket, "\"]\"")?;
                    if expr.value_type() != ValueType::Vector
                        && expr.value_type() != ValueType::Scalar
                    {
                        return self.error(format!(
                            "subquery is only allowed on instant vector, got {} instead",
                            type_name(expr.value_type())
                        ));
                    }
                    expr = Expr::Subquery(Box::new(Subquery {
                        expr,
                        range,
                        step,
                        offset: None,
                        at: None,
                    }));
                } else {
                    self.expect(Tok::RBracket, "\"]\"")?;
                    let Expr::Vector(vs) = expr else {
                        return self.error("ranges only allowed for vector selectors");
                    };
                    if vs.offset.is_some() || vs.at.is_some() || vs.anchored || vs.smoothed {
                        return self.error(
                            "no offset, @, anchored or smoothed modifiers allowed before range",
                        );
                    }
                    expr = Expr::Matrix(Box::new(MatrixSelector {
                        selector: *vs,
                        range,
                        anchored: false,
                        smoothed: false,
                    }));
                }
                continue;
            }
            if self.ident_is("offset") {
                self.bump();
                let negative = match self.peek() {
                    Tok::Op("-") => {
                        self.bump();
                        true
                    }
                    Tok::Op("+") => {
                        self.bump();
                        false
                    }
                    _ => false,
                };
                let mut d = self.duration_atom()?;
                if negative {
                    d = DurationExpr::Neg(Box::new(d));
                }
                let slot = match &mut expr {
                    Expr::Vector(vs) => &mut vs.offset,
                    Expr::Matrix(ms) => &mut ms.selector.offset,
                    Expr::Subquery(sq) => &mut sq.offset,
                    _ => return self.error("offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
                };
                if slot.is_some() {
                    return self.error("offset may not be set multiple times");
                }
                *slot = Some(d);
                continue;
            }
            if *self.peek() == Tok::At {
                self.bump();
                let at = self.at_value()?;
                let slot = match &mut expr {
                    Expr::Vector(vs) => &mut vs.at,
                    Expr::Matrix(ms) => &mut ms.selector.at,
                    Expr::Subquery(sq) => &mut sq.at,
                    _ => return self.error("@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"),
                };
                if slot.is_some() {
                    return self.error("@ <timestamp> may not be set multiple times");
                }
                *slot = Some(at);
                continue;
            }
            if self.ident_is("anchored") || self.ident_is("smoothed") {
                let anchored = self.ident_is("anchored");
                let (a, s) = match &mut expr {
                    Expr::Matrix(ms) => (&mut ms.anchored, &mut ms.smoothed),
                    Expr::Vector(vs) => (&mut vs.anchored, &mut vs.smoothed),
                    _ => {
                        let word = if anchored { "anchored" } else { "smoothed" };
                        return self.error(format!(
                            "{word} modifier can only be used on vector selectors"
                        ));
                    }
                };
                if *a || *s {
                    return self
                        .error("anchored and smoothed modifiers cannot be combined or repeated");
                }
                if anchored {
                    *a = true;
                } else {
                    *s = true;
                }
                self.bump();
                continue;
            }
            return Ok(expr);
        }
    }

    fn at_value(&mut self) -> Result<At, ParseError> {
        if (self.ident_is("start") || self.ident_is("end")) && *self.peek_at(1) == Tok::LParen {
            let start = self.ident_is("start");
            self.bump();
            self.bump();
            self.expect(Tok::RParen, "\")\"")?;
            return Ok(if start { At::Start } else { At::End });
        }
        let v = self.signed_number()?;
        if !v.is_finite() {
            return self.error("timestamp out of bounds for @ modifier");
        }
        Ok(At::Time((v * 1000.0).round() as i64))
    }

    fn duration_expr(&mut self, min_prec: u8) -> Result<DurationExpr, ParseError> {
        let mut lhs = match self.peek() {
            Tok::Op("-") => {
                self.bump();
                DurationExpr::Neg(Box::new(self.duration_expr(6)?))
            }
            Tok::Op("+") => {
                self.bump();
                self.duration_expr(6)?
            }
            _ => self.duration_atom()?,
        };
        while let Tok::Op(op @ ("+" | "-" | "*" | "/" | "%" | "^")) = self.peek() {
            let op = *op;
            let prec = precedence(op).unwrap_or(0);
            if prec < min_prec {
                break;
            }
            self.bump();
            let rhs = if op == "^" {
                self.duration_expr(prec)?
            } else {
                self.duration_expr(prec + 1)?
            };
            lhs = DurationExpr::Binary(
                op.chars().next().unwrap_or('+'),
                Box::new(lhs),
                Box::new(rhs),
            );
        }
        Ok(lhs)
    }

    fn duration_atom(&mut self) -> Result<DurationExpr, ParseError> {
        match self.bump() {
            Tok::Duration(ms) => Ok(DurationExpr::Seconds(ms as f64 / 1000.0)),
            Tok::Number(v) => Ok(DurationExpr::Seconds(v)),
            Tok::LParen => {
                let e = self.duration_expr(0)?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(e)
            }
            Tok::Ident(name) if *self.peek() == Tok::LParen => {
                self.bump();
                let lower = name.to_ascii_lowercase();
                let e = match lower.as_str() {
                    "step" => DurationExpr::Step,
                    "range" => DurationExpr::Range,
                    "start" => DurationExpr::Start,
                    "end" => DurationExpr::End,
                    "min_of" | "max_of" => {
                        let a = self.duration_expr(0)?;
                        self.expect(Tok::Comma, "\",\"")?;
                        let b = self.duration_expr(0)?;
                        if lower == "min_of" {
                            DurationExpr::MinOf(Box::new(a), Box::new(b))
                        } else {
                            DurationExpr::MaxOf(Box::new(a), Box::new(b))
                        }
                    }
                    _ => {
                        return self.error(format!(
                            "unexpected function {name:?} in duration expression"
                        ));
                    }
                };
                self.expect(Tok::RParen, "\")\"")?;
                Ok(e)
            }
            other => self.error(format!(
                "unexpected {} in duration expression",
                describe(&other)
            )),
        }
    }

    fn parse_primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Number(v) => {
                self.bump();
                Ok(Expr::Number(v))
            }
            Tok::Duration(ms) => {
                self.bump();
                Ok(Expr::Number(ms as f64 / 1000.0))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::String(s))
            }
            Tok::Bytes(b) => {
                self.bump();
                Ok(Expr::InvalidString(b))
            }
            Tok::LParen => {
                self.bump();
                let e = self.parse_expr(0)?;
                self.expect(Tok::RParen, "\")\"")?;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::LBrace => self.selector(None),
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                let next = self.peek_at(1).clone();
                // Prometheus' lexer makes these keywords, which its grammar's
                // `metric_identifier` does not accept: `{__name__="on"}` selects such a name.
                if let Some(desc) = match lower.as_str() {
                    "on" | "ignoring" | "group_left" | "group_right" | "bool" => Some("<"),
                    "atan2" => Some("<op:"),
                    _ => None,
                } {
                    return self.error(format!("unexpected {desc}{name}>"));
                }
                if AGGREGATORS.contains(&lower.as_str())
                    && (next == Tok::LParen
                        || matches!(&next, Tok::Ident(w) if w.eq_ignore_ascii_case("by") || w.eq_ignore_ascii_case("without")))
                {
                    self.bump();
                    return self.aggregation(lower);
                }
                if next == Tok::LParen {
                    self.bump();
                    return self.call(name);
                }
                self.bump();
                self.selector(Some(name))
            }
            other => self.error(format!("unexpected {}", describe(&other))),
        }
    }

    fn error_at<T>(&self, pos: usize, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError(format!(
            "1:{}: parse error: {}",
            pos + 1,
            msg.into()
        )))
    }

    fn call(&mut self, name: String) -> Result<Expr, ParseError> {
        // The name token was just consumed: the call starts there.
        let call_pos = self.toks[self.i.saturating_sub(1)].pos;
        let func = match name.to_ascii_lowercase().as_str() {
            f @ ("start" | "end" | "range" | "step" | "min_of" | "max_of") => f.to_string(),
            _ => name,
        };
        let Some(function) = super::functions::lookup(&func) else {
            return self.error_at(call_pos, format!("unknown function with name {func:?}"));
        };
        self.expect(Tok::LParen, "\"(\"")?;
        let mut args = Vec::new();
        let mut arg_pos = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                self.allow_empty_selector = func == "info" && args.len() == 1;
                arg_pos.push(self.pos());
                let arg = self.parse_expr(0);
                self.allow_empty_selector = false;
                args.push(arg?);
                match self.bump() {
                    Tok::Comma => {}
                    Tok::RParen => break,
                    other => {
                        return self.error(format!(
                            "unexpected {} in call, expected \",\" or \")\"",
                            describe(&other)
                        ));
                    }
                }
            }
        } else {
            self.bump();
        }
        // Prometheus' checkAST for calls: the count, then each argument's type.
        if let Err(msg) = super::functions::check_arity(function, args.len()) {
            return self.error_at(call_pos, msg);
        }
        for (i, (arg, pos)) in args.iter().zip(arg_pos).enumerate() {
            if let Err(msg) = super::functions::check_arg_type(function, i, arg.value_type().into())
            {
                return self.error_at(pos, msg);
            }
        }
        Ok(Expr::Call { func, args })
    }

    fn aggregation(&mut self, op: String) -> Result<Expr, ParseError> {
        let mut grouping = self.grouping()?;
        self.expect(Tok::LParen, "\"(\"")?;
        let mut param = None;
        let first = self.parse_expr(0)?;
        let expr = if *self.peek() == Tok::Comma {
            self.bump();
            param = Some(first);
            self.parse_expr(0)?
        } else {
            first
        };
        self.expect(Tok::RParen, "\")\"")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        if PARAM_AGGREGATORS.contains(&op.as_str()) != param.is_some() {
            return self.error(format!(
                "wrong number of arguments for aggregate expression provided, expected {}, got {}",
                if param.is_some() { 1 } else { 2 },
                if param.is_some() { 2 } else { 1 }
            ));
        }
        if expr.value_type() != ValueType::Vector {
            return self.error(format!(
                "expected type instant vector in aggregation expression, got {}",
                type_name(expr.value_type())
            ));
        }
        Ok(Expr::Aggregate(Box::new(Aggregate {
            op,
            expr,
            param,
            grouping,
        })))
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        if self.ident_is("by") || self.ident_is("without") {
            let without = self.ident_is("without");
            self.bump();
            return Ok(Some(Grouping {
                without,
                labels: self.label_list()?,
            }));
        }
        Ok(None)
    }

    fn selector(&mut self, name: Option<String>) -> Result<Expr, ParseError> {
        let mut vs = VectorSelector {
            name,
            ..Default::default()
        };
        if *self.peek() == Tok::LBrace {
            self.bump();
            loop {
                let label = match self.bump() {
                    Tok::RBrace => break,
                    Tok::Ident(l) => (l, false),
                    Tok::Str(l) => (l, true),
                    other => {
                        return self.error(format!(
                            "unexpected {} in label matching, expected label",
                            describe(&other)
                        ));
                    }
                };
                let op = match self.peek() {
                    Tok::Op("=") => Some(MatchOp::Equal),
                    Tok::Op("!=") => Some(MatchOp::NotEqual),
                    Tok::Op("=~") => Some(MatchOp::Regex),
                    Tok::Op("!~") => Some(MatchOp::NotRegex),
                    _ => None,
                };
                match op {
                    Some(op) => {
                        self.bump();
                        let value = match self.bump() {
                            Tok::Str(v) => v,
                            other => {
                                return self.error(format!(
                                    "unexpected {} in label matching, expected string",
                                    describe(&other)
                                ));
                            }
                        };
                        vs.matchers.push(LabelMatcher {
                            name: label.0,
                            op,
                            value,
                        });
                    }
                    None if label.1 && vs.name.is_none() => vs.name = Some(label.0),
                    None => {
                        return self.error(format!(
                            "unexpected {} in label matching, expected label matching operator",
                            describe(self.peek())
                        ));
                    }
                }
                match self.bump() {
                    Tok::Comma => {}
                    Tok::RBrace => break,
                    other => {
                        return self.error(format!(
                            "unexpected {} in label matching, expected \",\" or \"}}\"",
                            describe(&other)
                        ));
                    }
                }
            }
        }
        if vs.name.is_some() && vs.matchers.iter().any(|m| m.name == "__name__") {
            return self.error("metric name must not be set twice");
        }
        let non_empty = vs.name.is_some()
            || vs.matchers.iter().any(|m| {
                Matcher::new(m.op, m.name.clone(), m.value.clone())
                    .is_ok_and(|mm| !mm.matches_empty())
            });
        if !non_empty && !self.allow_empty_selector {
            return self.error("vector selector must contain at least one non-empty matcher");
        }
        Ok(Expr::Vector(Box::new(vs)))
    }
}

#[allow(clippy::too_many_arguments)]
fn make_binary(
    op: &str,
    lhs: Expr,
    rhs: Expr,
    return_bool: bool,
    matching: Option<(bool, Vec<String>)>,
    card: Card,
    fill: (Option<f64>, Option<f64>),
) -> Result<Expr, String> {
    let (lt, rt) = (lhs.value_type(), rhs.value_type());
    for t in [lt, rt] {
        if t != ValueType::Scalar && t != ValueType::Vector {
            return Err(
                "binary expression must contain only scalar and instant vector types".into(),
            );
        }
    }
    let set = matches!(op, "and" | "or" | "unless");
    if set && (lt == ValueType::Scalar || rt == ValueType::Scalar) {
        return Err(format!(
            "set operator \"{op}\" not allowed in binary scalar expression"
        ));
    }
    if is_comparison(op) && lt == ValueType::Scalar && rt == ValueType::Scalar && !return_bool {
        return Err("comparisons between scalars must use BOOL modifier".into());
    }
    if (matching.is_some() || card != Card::OneToOne)
        && (lt == ValueType::Scalar || rt == ValueType::Scalar)
    {
        return Err("vector matching only allowed between instant vectors".into());
    }
    if set && card != Card::OneToOne {
        return Err(format!("no grouping allowed for \"{op}\" operation"));
    }
    if let (Some((true, on)), Card::ManyToOne(include) | Card::OneToMany(include)) =
        (&matching, &card)
        && let Some(both) = on.iter().find(|l| include.contains(l))
    {
        return Err(format!(
            "label {both:?} must not occur in ON and GROUP clause at once"
        ));
    }
    Ok(Expr::Binary(Box::new(Binary {
        op: op.to_ascii_lowercase(),
        lhs,
        rhs,
        return_bool,
        matching,
        card,
        fill,
    })))
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(w) => format!("identifier {w:?}"),
        Tok::Number(n) => format!("number {n}"),
        Tok::Duration(d) => format!("duration {d}ms"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Bytes(b) => format!("string {}", super::lexer::go_quote(b)),
        Tok::Op(o) => format!("{o:?}"),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LBrace => "\"{\"".into(),
        Tok::RBrace => "\"}\"".into(),
        Tok::LBracket => "\"[\"".into(),
        Tok::RBracket => "\"]\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Colon => "\":\"".into(),
        Tok::At => "\"@\"".into(),
        Tok::Eof => "end of input".into(),
    }
}

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let toks = lex(input)?;
    let mut p = Parser {
        toks,
        i: 0,
        allow_empty_selector: false,
    };
    if *p.peek() == Tok::Eof {
        return p.error("no expression found in input");
    }
    let e = p.parse_expr(0)?;
    if *p.peek() != Tok::Eof {
        return p.error(format!("unexpected {}", describe(p.peek())));
    }
    Ok(e)
}
