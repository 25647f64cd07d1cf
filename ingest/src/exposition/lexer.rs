//! Line-level lexing: series (`name{label="value",…}`, including Prometheus 3's quoted
//! UTF-8 names), values and timestamps.

use strata_storage::{Labels, METRIC_NAME};

use super::{Format, RawSample};

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn skip_blanks(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

/// Reads a legacy name starting at `i`; returns its end.
fn scan_name(s: &[u8], i: usize) -> Option<usize> {
    if i < s.len() && is_name_start(s[i]) {
        let mut j = i + 1;
        while j < s.len() && is_name_char(s[j]) {
            j += 1;
        }
        Some(j)
    } else {
        None
    }
}

/// Reads a quoted string starting at the `"` at `i`; returns the end (after the closing
/// quote), and appends the unescaped text to `out` when given.
fn scan_quoted(text: &str, i: usize, mut out: Option<&mut String>) -> Result<usize, String> {
    let s = text.as_bytes();
    debug_assert_eq!(s[i], b'"');
    let mut j = i + 1;
    let mut chunk_start = j;
    while j < s.len() {
        match s[j] {
            b'"' => {
                if let Some(o) = out.as_deref_mut() {
                    o.push_str(&text[chunk_start..j]);
                }
                return Ok(j + 1);
            }
            b'\\' => {
                let unescaped = match s.get(j + 1) {
                    Some(b'\\') => '\\',
                    Some(b'"') => '"',
                    Some(b'n') => '\n',
                    Some(&c) => return Err(format!("invalid escape sequence \\{}", c as char)),
                    None => return Err("unterminated quoted string".into()),
                };
                if let Some(o) = out.as_deref_mut() {
                    o.push_str(&text[chunk_start..j]);
                    o.push(unescaped);
                }
                j += 2;
                chunk_start = j;
            }
            _ => j += 1,
        }
    }
    Err("unterminated quoted string".into())
}

/// Validates the series at the start of `text` and returns where it ends. With `labels`,
/// also collects its label pairs (metric name as `__name__`).
fn scan_series(
    text: &str,
    mut labels: Option<&mut Vec<(String, String)>>,
) -> Result<usize, String> {
    let s = text.as_bytes();
    let mut has_name = false;
    let mut i = 0;
    if let Some(end) = scan_name(s, 0) {
        if let Some(l) = labels.as_deref_mut() {
            l.push((METRIC_NAME.to_string(), text[..end].to_string()));
        }
        has_name = true;
        i = end;
    }
    if s.get(i) == Some(&b'{') {
        i = skip_blanks(s, i + 1);
        loop {
            match s.get(i) {
                Some(b'}') => {
                    i += 1;
                    break;
                }
                None => return Err("unterminated label set (missing '}')".into()),
                _ => {}
            }
            // A label name (plain or quoted), or a quoted metric name standing alone.
            let mut name = String::new();
            let collect = labels.is_some();
            let name_end = if s[i] == b'"' {
                scan_quoted(text, i, collect.then_some(&mut name))?
            } else {
                let end = scan_name(s, i).ok_or_else(|| {
                    format!(
                        "invalid label name starting at {:?}",
                        &text[i..].chars().next().unwrap_or(' ')
                    )
                })?;
                if collect {
                    name.push_str(&text[i..end]);
                }
                end
            };
            let quoted_name = s[i] == b'"';
            // `""` (exactly two bytes) is the only quoted string that unescapes to nothing.
            let empty_name = quoted_name && name_end == i + 2;
            i = skip_blanks(s, name_end);
            if empty_name {
                return Err(if s.get(i) == Some(&b'=') {
                    "empty label name".into()
                } else {
                    "empty metric name".into()
                });
            }
            if s.get(i) == Some(&b'=') {
                i = skip_blanks(s, i + 1);
                if s.get(i) != Some(&b'"') {
                    return Err("label value must be a quoted string".into());
                }
                let mut value = String::new();
                i = scan_quoted(text, i, collect.then_some(&mut value))?;
                if let Some(l) = labels.as_deref_mut() {
                    l.push((name, value));
                }
            } else if quoted_name && !has_name {
                has_name = true;
                if let Some(l) = labels.as_deref_mut() {
                    l.push((METRIC_NAME.to_string(), name));
                }
            } else {
                return Err("expected '=' after label name".into());
            }
            i = skip_blanks(s, i);
            match s.get(i) {
                Some(b',') => i = skip_blanks(s, i + 1),
                Some(b'}') => {}
                _ => return Err("expected ',' or '}' in label set".into()),
            }
        }
    }
    if !has_name {
        return Err("sample has no metric name".into());
    }
    Ok(i)
}

/// Parses a series written as in the exposition formats into labels.
pub fn parse_series(text: &str) -> Result<Labels, String> {
    let mut pairs = Vec::new();
    let end = scan_series(text, Some(&mut pairs))?;
    if end != text.len() {
        return Err(format!("unexpected text after series: {:?}", &text[end..]));
    }
    Labels::from_pairs(pairs).map_err(|e| e.to_string())
}

/// Parses a float as Go's `strconv.ParseFloat` does for the formats' values.
fn parse_value(token: &str) -> Result<f64, String> {
    match token {
        "+Inf" | "Inf" | "+inf" | "inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        _ => token
            .parse::<f64>()
            .map_err(|_| format!("invalid value {token:?}")),
    }
}

/// OpenMetrics timestamps: seconds with an optional fraction, converted to ms exactly
/// (rounded to the nearest ms) without going through binary floating point when possible.
fn parse_seconds(token: &str) -> Result<i64, String> {
    let invalid = || format!("invalid timestamp {token:?}");
    let (neg, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token.strip_prefix('+').unwrap_or(token)),
    };
    let (int_part, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !int_part.is_empty() && plain(int_part) && plain(frac) {
        let secs: i64 = int_part.parse().map_err(|_| invalid())?;
        let mut ms_digits = frac
            .bytes()
            .take(3)
            .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
        for _ in frac.len().min(3)..3 {
            ms_digits *= 10;
        }
        let round_up = frac.as_bytes().get(3).is_some_and(|&b| b >= b'5');
        let ms = secs
            .checked_mul(1000)
            .and_then(|v| v.checked_add(ms_digits + i64::from(round_up)))
            .ok_or_else(invalid)?;
        return Ok(if neg { -ms } else { ms });
    }
    let secs: f64 = token.parse().map_err(|_| invalid())?;
    let ms = (secs * 1000.0).round();
    if !ms.is_finite() || ms.abs() > 9.2e18 {
        return Err(invalid());
    }
    Ok(ms as i64)
}

/// Parses one sample line.
pub(super) fn parse_sample(line: &str, format: Format) -> Result<RawSample<'_>, String> {
    let end = scan_series(line, None)?;
    let series = &line[..end];
    let rest = &line[end..];
    if !rest.starts_with([' ', '\t']) {
        return Err(if rest.is_empty() {
            "sample has no value".into()
        } else {
            format!(
                "unexpected {:?} after series",
                rest.chars().next().unwrap_or(' ')
            )
        });
    }
    let mut tokens = rest.split_ascii_whitespace();
    let value = parse_value(tokens.next().ok_or("sample has no value")?)?;
    let timestamp_ms = match tokens.next() {
        None => None,
        Some("#") => None, // exemplar follows
        Some(t) => Some(match format {
            Format::Prometheus => t
                .parse::<i64>()
                .map_err(|_| format!("invalid timestamp {t:?} (expected integer milliseconds)"))?,
            Format::OpenMetrics => parse_seconds(t)?,
        }),
    };
    match tokens.next() {
        None | Some("#") => {} // exemplars are skipped
        Some(t) => return Err(format!("unexpected {t:?} after timestamp")),
    }
    Ok(RawSample {
        series,
        value,
        timestamp_ms,
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn seconds_convert_exactly() {
        assert_eq!(parse_seconds("1520879607.789"), Ok(1_520_879_607_789));
        assert_eq!(parse_seconds("1520879607"), Ok(1_520_879_607_000));
        assert_eq!(parse_seconds("1.5"), Ok(1500));
        assert_eq!(parse_seconds("1.0005"), Ok(1001));
        assert_eq!(parse_seconds("-1.25"), Ok(-1250));
        assert_eq!(parse_seconds("1e3"), Ok(1_000_000));
        assert!(parse_seconds("abc").is_err());
        assert!(parse_seconds("1e300").is_err());
    }

    #[test]
    fn values_follow_go() {
        assert_eq!(parse_value("+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_value("-Inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_value("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_value("1.5e3"), Ok(1500.0));
        assert_eq!(parse_value("-0"), Ok(-0.0));
        assert!(parse_value("1,5").is_err());
    }
}
