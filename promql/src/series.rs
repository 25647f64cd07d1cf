//! The series-description notation of Prometheus' test language (`load` bodies and expected
//! results of `.test` files) and of `promtool test rules` (`input_series`): a label set, then
//! values expanded from `1+2x3`, `_`, `stale`, `1x5`, … (`promql/parser/lex.go`'s series
//! description).

use std::fmt;

/// Prometheus' staleness marker.
pub const STALE_NAN: u64 = strata_storage::STALE_NAN_BITS;

/// Labels as written in a test file, sorted by name.
pub type TestLabels = Vec<(String, String)>;

/// One expanded value position.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    /// `_`: no sample.
    Omitted,
    Float(f64),
    /// A native histogram literal (`{{…}}`), kept as text: native histograms are counted
    /// separately from float evals.
    Histogram(String),
}

/// A parsed series description.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    pub labels: TestLabels,
    pub points: Vec<Point>,
}

/// Error of the notation, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct NotationError(pub String);

impl fmt::Display for NotationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, NotationError> {
    Err(NotationError(msg.into()))
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Reads a PromQL string literal at the start of `s`; returns the value and the rest.
pub fn string_literal(s: &str) -> Result<(String, &str), NotationError> {
    let (value, len) = crate::string_literal(s).map_err(NotationError)?;
    Ok((value, &s[len..]))
}

fn parse_labels(s: &str) -> Result<(TestLabels, &str), NotationError> {
    let s = s.trim_start();
    let mut labels: TestLabels = Vec::new();
    let mut rest = s;
    let mut named = false;
    let name_len = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    if name_len > 0 && s.starts_with(is_name_start) {
        labels.push(("__name__".into(), s[..name_len].into()));
        rest = &s[name_len..];
        named = true;
    }
    if let Some(body) = rest.strip_prefix('{') {
        rest = body.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, r) = if rest.starts_with(['"', '\'', '`']) {
                string_literal(rest)?
            } else {
                let n = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
                if n == 0 || !rest.starts_with(is_name_start) {
                    return err(format!("invalid label name at {rest:?}"));
                }
                (rest[..n].to_string(), &rest[n..])
            };
            let r = r.trim_start();
            if let Some(r) = r.strip_prefix('=') {
                let (value, r) = string_literal(r.trim_start())?;
                labels.push((name, value));
                rest = r.trim_start();
            } else if !named {
                // `{"quoted.name", …}`: a metric name standing alone.
                labels.push(("__name__".into(), name));
                named = true;
                rest = r;
            } else {
                return err(format!("expected '=' after label {name:?}"));
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.starts_with('}') {
                return err(format!("expected ',' or '}}' at {rest:?}"));
            }
        }
    } else if !named {
        return err(format!("expected a series at {s:?}"));
    }
    // With a metric name, empty values mean "no such label"; a bare {…} is kept as written.
    if s.starts_with(is_name_start) {
        labels.retain(|(_, v)| !v.is_empty());
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    if labels.windows(2).any(|w| w[0].0 == w[1].0) {
        return err("duplicate label name");
    }
    Ok((labels, rest))
}

/// Length of the number at the start of `s` (sign, digits with `_`, fraction, exponent, or
/// `Inf`/`NaN` in any case).
fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    for word in ["inf", "nan"] {
        if s.len() >= i + 3 && s[i..i + 3].eq_ignore_ascii_case(word) {
            return i + 3;
        }
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == start || (i == start + 1 && b[start] == b'.') {
        return 0;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let digits = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > digits {
            i = j;
        }
    }
    i
}

/// Go's ParseInt(base 0) falling back to ParseFloat, as the PromQL lexer converts numbers.
pub fn parse_number(s: &str) -> Result<f64, NotationError> {
    let bad = || NotationError(format!("invalid number {s:?}"));
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let clean = body.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bits) = lower.strip_prefix("0b") {
        i64::from_str_radix(bits, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|c| c.is_ascii_digit()) && !lower.is_empty() {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    let v = match int {
        Some(i) => i as f64,
        None => match lower.as_str() {
            "inf" | "infinity" => f64::INFINITY,
            "nan" => f64::NAN,
            _ => lower.parse::<f64>().map_err(|_| bad())?,
        },
    };
    Ok(if neg { -v } else { v })
}

fn parse_count(s: &str) -> Result<(usize, &str), NotationError> {
    let n = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if n == 0 {
        return err(format!("expected a repeat count at {s:?}"));
    }
    let k = s[..n]
        .parse()
        .map_err(|_| NotationError("repeat count too large".into()))?;
    Ok((k, &s[n..]))
}

/// Splits the value part into items; a histogram literal may contain spaces.
fn value_items(s: &str) -> Result<Vec<&str>, NotationError> {
    let mut items = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let mut end = 0;
        let b = rest.as_bytes();
        while end < b.len() && !b[end].is_ascii_whitespace() {
            if rest[end..].starts_with("{{") {
                let close = rest[end..]
                    .find("}}")
                    .ok_or_else(|| NotationError("unterminated {{".into()))?;
                end += close + 2;
            } else {
                end += 1;
            }
        }
        items.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    Ok(items)
}

fn expand_item(item: &str, out: &mut Vec<Point>) -> Result<(), NotationError> {
    if item == "_" {
        out.push(Point::Omitted);
        return Ok(());
    }
    if let Some(k) = item.strip_prefix("_x") {
        let (k, rest) = parse_count(k)?;
        if !rest.is_empty() {
            return err(format!("bad item {item:?}"));
        }
        out.extend(std::iter::repeat_n(Point::Omitted, k));
        return Ok(());
    }
    if item == "stale" {
        out.push(Point::Float(f64::from_bits(STALE_NAN)));
        return Ok(());
    }
    if item.starts_with("{{") {
        let close = item.find("}}").map(|i| i + 2).unwrap_or(item.len());
        let literal = &item[..close];
        let rest = &item[close..];
        let copies = if let Some(k) = rest.strip_prefix('x') {
            parse_count(k)?.0 + 1
        } else if rest.starts_with(['+', '-']) {
            let x = rest
                .rfind('x')
                .ok_or_else(|| NotationError(format!("bad item {item:?}")))?;
            parse_count(&rest[x + 1..])?.0 + 1
        } else {
            1
        };
        out.extend(std::iter::repeat_n(
            Point::Histogram(item.to_string()),
            copies,
        ));
        let _ = literal;
        return Ok(());
    }
    let n = number_len(item);
    if n == 0 {
        return err(format!("bad value {item:?}"));
    }
    let a = parse_number(&item[..n])?;
    let rest = &item[n..];
    if rest.is_empty() {
        out.push(Point::Float(a));
    } else if let Some(k) = rest.strip_prefix('x') {
        let (k, tail) = parse_count(k)?;
        if !tail.is_empty() {
            return err(format!("bad item {item:?}"));
        }
        out.extend(std::iter::repeat_n(Point::Float(a), k + 1));
    } else if rest.starts_with(['+', '-']) {
        let neg = rest.starts_with('-');
        let m = number_len(&rest[1..]);
        if m == 0 {
            return err(format!("bad item {item:?}"));
        }
        let b = parse_number(&rest[1..1 + m])?;
        let step = if neg { -b } else { b };
        let tail = rest[1 + m..]
            .strip_prefix('x')
            .ok_or_else(|| NotationError(format!("expected x<count> in {item:?}")))?;
        let (k, tail) = parse_count(tail)?;
        if !tail.is_empty() {
            return err(format!("bad item {item:?}"));
        }
        let mut v = a;
        out.push(Point::Float(v));
        for _ in 0..k {
            v += step;
            out.push(Point::Float(v));
        }
    } else {
        return err(format!("bad item {item:?}"));
    }
    Ok(())
}

/// Parses `labels values…`.
pub fn parse_series(line: &str) -> Result<SeriesDesc, NotationError> {
    let (labels, rest) = parse_labels(line)?;
    let mut points = Vec::new();
    for item in value_items(rest)? {
        expand_item(item, &mut points)?;
    }
    Ok(SeriesDesc { labels, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(line: &str) -> Vec<Option<f64>> {
        parse_series(line)
            .unwrap()
            .points
            .into_iter()
            .map(|p| match p {
                Point::Float(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn expansions() {
        assert_eq!(floats("m 1x3"), vec![Some(1.0); 4]);
        assert_eq!(
            floats("m 1+2x3"),
            vec![Some(1.0), Some(3.0), Some(5.0), Some(7.0)]
        );
        assert_eq!(floats("m -2-1x2"), vec![Some(-2.0), Some(-3.0), Some(-4.0)]);
        assert_eq!(
            floats("m _ 1 _x2 010"),
            vec![None, Some(1.0), None, None, Some(8.0)]
        );
        assert_eq!(
            floats("m 1e-3 .5 +Inf -inf"),
            vec![
                Some(1e-3),
                Some(0.5),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY)
            ]
        );
        assert_eq!(floats("m 1_000"), vec![Some(1000.0)]);
        let stale = floats("m stale")[0].unwrap();
        assert_eq!(stale.to_bits(), STALE_NAN);
        assert!(floats("m NaN")[0].unwrap().is_nan());
    }

    #[test]
    fn labels() {
        let s = parse_series(r#"http{job="a b", path='/x', e="", raw=`\n`} 1"#).unwrap();
        assert_eq!(
            s.labels,
            vec![
                ("__name__".into(), "http".into()),
                ("job".into(), "a b".into()),
                ("path".into(), "/x".into()),
                ("raw".into(), "\\n".into())
            ]
        );
        let s = parse_series(r#"{"quoted.name", "a.b"="1"} 2"#).unwrap();
        assert_eq!(s.labels[0], ("__name__".into(), "quoted.name".into()));
        let s = parse_series("{} 3").unwrap();
        assert!(s.labels.is_empty());
        let s = parse_series(r#"{__name__="x", a=""} 3"#).unwrap();
        assert_eq!(s.labels.len(), 2, "a bare label set is kept as written");
        // Label values are UTF-8 here: a lone \xc5 byte is refused, not silently replaced.
        assert!(parse_series(r#"m{a="a\xc5z"} 1"#).is_err());
        let s = parse_series(r#"m{a="\u00e9\x41"} 1"#).unwrap();
        assert_eq!(s.labels[1].1, "éA");
    }

    #[test]
    fn histograms_are_recognised() {
        let s = parse_series("m {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2 {{}}").unwrap();
        assert_eq!(s.points.len(), 4);
        assert!(s.points.iter().all(|p| matches!(p, Point::Histogram(_))));
    }
}
