//! Go's `strconv` where templates meet it: `Quote` and friends (`%q`, error texts), `Unquote`
//! and `UnquoteChar` (string and character literals in actions), `ParseInt`/`ParseUint` with
//! base 0 (number literals: `0x1F`, `0o17`, `0b1`, `017`, `1_000`) and `ParseFloat` (number
//! literals, and Prometheus' `convertToFloat` of strings), with Go's accepted syntax and errors.

use std::fmt::Write as _;

/// Why a Go number parse failed: `strconv.ErrSyntax` or `strconv.ErrRange`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// `invalid syntax`.
    Syntax,
    /// `value out of range`.
    Range,
}

impl NumError {
    /// Go's error text.
    pub(crate) fn text(self) -> &'static str {
        match self {
            NumError::Syntax => "invalid syntax",
            NumError::Range => "value out of range",
        }
    }
}

/// Go's `unicode.IsPrint`, approximated without Unicode tables: graphic characters and the
/// ASCII space; not controls, other spaces, format characters, private use, noncharacters.
pub(crate) fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let u = c as u32;
    if c.is_control() || (c.is_whitespace()) {
        return false;
    }
    let format_or_special = matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFDD0..=0xFDEF);
    !format_or_special && (u & 0xFFFE) != 0xFFFE
}

/// Appends `c` escaped as Go does inside a literal quoted with `quote`.
fn escape_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    let printable = if ascii_only {
        c.is_ascii() && is_print(c)
    } else {
        is_print(c)
    };
    if printable {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.QuoteToASCII`.
pub(crate) fn quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

fn quote_with(s: &str, quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        escape_rune(&mut out, c, quote, ascii_only);
    }
    out.push(quote);
    out
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c < ' ' || c == '\u{7f}')))
}

/// Go's `strconv.UnquoteChar`: decodes the first character or escape of `s`, in a literal
/// quoted with `quote`; returns it and the rest.
pub(crate) fn unquote_char(s: &str, quote: char) -> Result<(char, &str), NumError> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(NumError::Syntax)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(NumError::Syntax);
    }
    if c != '\\' {
        return Ok((c, chars.as_str()));
    }
    let e = chars.next().ok_or(NumError::Syntax)?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' if e == quote => Some(e),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((c, rest));
    }
    let hex = |n: usize| -> Result<(u32, &str), NumError> {
        let digits = rest.get(..n).ok_or(NumError::Syntax)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NumError::Syntax);
        }
        let v = u32::from_str_radix(digits, 16).map_err(|_| NumError::Syntax)?;
        Ok((v, &rest[n..]))
    };
    match e {
        'x' => {
            // A byte; invalid UTF-8 bytes cannot be kept in a Rust string.
            let (v, rest) = hex(2)?;
            Ok((
                char::from_u32(v).filter(|_| v < 0x80).unwrap_or('\u{FFFD}'),
                rest,
            ))
        }
        'u' | 'U' => {
            let (v, rest) = hex(if e == 'u' { 4 } else { 8 })?;
            char::from_u32(v).map(|c| (c, rest)).ok_or(NumError::Syntax)
        }
        '0'..='7' => {
            let digits = s.get(1..4).ok_or(NumError::Syntax)?;
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(NumError::Syntax);
            }
            let v = u32::from_str_radix(digits, 8).map_err(|_| NumError::Syntax)?;
            if v > 255 {
                return Err(NumError::Syntax);
            }
            let c = char::from_u32(v).filter(|_| v < 0x80).unwrap_or('\u{FFFD}');
            Ok((c, &s[4..]))
        }
        _ => Err(NumError::Syntax),
    }
}

/// Go's `strconv.Unquote` for `"…"`, `` `…` `` and `'…'` literals.
pub(crate) fn unquote(s: &str) -> Result<String, NumError> {
    let quote = s.chars().next().ok_or(NumError::Syntax)?;
    if !matches!(quote, '"' | '`' | '\'') || s.len() < 2 || !s.ends_with(quote) {
        return Err(NumError::Syntax);
    }
    let body = &s[1..s.len() - 1];
    match quote {
        '`' => {
            if body.contains('`') {
                return Err(NumError::Syntax);
            }
            // Carriage returns inside raw strings are discarded.
            Ok(body.replace('\r', ""))
        }
        '"' | '\'' => {
            if body.contains('\n') {
                return Err(NumError::Syntax);
            }
            let mut out = String::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                let (c, tail) = unquote_char(rest, quote)?;
                out.push(c);
                rest = tail;
                if quote == '\'' && !rest.is_empty() {
                    return Err(NumError::Syntax);
                }
            }
            if quote == '\'' && out.is_empty() {
                return Err(NumError::Syntax);
            }
            Ok(out)
        }
        _ => Err(NumError::Syntax),
    }
}

/// Go's `underscoreOK`: underscores only between digits, or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`: prefixes `0x`, `0o`, `0b`, a leading `0` for octal,
/// and underscores as digit separators.
pub(crate) fn parse_uint(s: &str) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let b = s.as_bytes();
    let (base, digits) = if b[0] == b'0' && b.len() >= 2 {
        match b[1].to_ascii_lowercase() {
            b'x' => (16, &s[2..]),
            b'o' => (8, &s[2..]),
            b'b' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if s.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let mut v: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(base).ok_or(NumError::Syntax)?;
        any = true;
        v = v
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(NumError::Range)?;
    }
    if !any && base != 8 {
        return Err(NumError::Syntax);
    }
    Ok(v)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Result<i64, NumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u > 1 << 63 {
            return Err(NumError::Range);
        }
        Ok((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal and hexadecimal (`0x1p-2`) forms, `inf`,
/// `infinity` and `nan` in any case, underscores between digits; `ErrRange` on overflow.
pub(crate) fn parse_float(s: &str) -> Result<f64, NumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let special = match lower.as_str() {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    };
    if let Some(v) = special {
        return Ok(if neg { -v } else { v });
    }
    if body.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean[..2].eq_ignore_ascii_case("0x") {
        parse_hex_float(&clean[2..])?
    } else {
        if !clean
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return Err(NumError::Syntax);
        }
        clean.parse::<f64>().map_err(|_| NumError::Syntax)?
    };
    if v.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(if neg { -v } else { v })
}

/// The mantissa and mandatory `p` exponent of a hexadecimal float, after `0x`.
fn parse_hex_float(s: &str) -> Result<f64, NumError> {
    let (mant, exp) = s.split_once(['p', 'P']).ok_or(NumError::Syntax)?;
    let exp: i64 = match exp.strip_prefix('+') {
        Some(e) if !e.starts_with(['+', '-']) => e.parse(),
        _ => exp.parse(),
    }
    .map_err(|_| NumError::Syntax)?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut value = 0f64;
    let mut scale: i64 = 0;
    for c in int.chars().chain(frac.chars()) {
        let d = c.to_digit(16).ok_or(NumError::Syntax)?;
        if value < 2f64.powi(60) {
            value = value * 16.0 + f64::from(d);
        } else {
            scale += 4;
        }
    }
    scale -= 4 * frac.len() as i64;
    let total = exp.saturating_add(scale).clamp(-2000, 2000);
    Ok(value * 2f64.powi(total as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go() {
        assert_eq!(quote("a\"b\\c\n\t"), r#""a\"b\\c\n\t""#);
        assert_eq!(quote("\u{1}é\u{7f}"), "\"\\x01é\\x7f\"");
        assert_eq!(quote_ascii("é"), "\"\\u00e9\"");
        assert_eq!(quote_rune('x', false), "'x'");
        assert_eq!(quote_rune('\'', false), "'\\''");
        assert!(can_backquote("a b"));
        assert!(!can_backquote("a`b"));
    }

    #[test]
    fn unquotes_as_go() {
        assert_eq!(unquote(r#""a\tb\x41\u00e9\101""#).unwrap(), "a\tbAéA");
        assert_eq!(unquote("`a\\n\rb`").unwrap(), "a\\nb");
        assert_eq!(unquote("'\\n'").unwrap(), "\n");
        assert_eq!(unquote(r#""\'""#), Err(NumError::Syntax));
        assert_eq!(unquote(r#""\q""#), Err(NumError::Syntax));
        assert_eq!(unquote("'ab'"), Err(NumError::Syntax));
        assert_eq!(unquote("''"), Err(NumError::Syntax));
    }

    #[test]
    fn parses_numbers_as_go() {
        assert_eq!(parse_int("0x1F"), Ok(31));
        assert_eq!(parse_int("017"), Ok(15));
        assert_eq!(parse_int("0o17"), Ok(15));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("-1_000"), Ok(-1000));
        assert_eq!(parse_int("1__0"), Err(NumError::Syntax));
        assert_eq!(parse_int("089"), Err(NumError::Syntax));
        assert_eq!(parse_int("9223372036854775808"), Err(NumError::Range));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_uint("-1"), Err(NumError::Syntax));
        assert_eq!(parse_uint("0"), Ok(0));
        assert_eq!(parse_float("1.5e3"), Ok(1500.0));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("0x1p-2"), Ok(0.25));
        assert_eq!(parse_float("0x1.8p1"), Ok(3.0));
        assert_eq!(parse_float("0x10"), Err(NumError::Syntax));
        assert_eq!(parse_float("1e400"), Err(NumError::Range));
        assert_eq!(parse_float("-Inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("abc"), Err(NumError::Syntax));
        assert_eq!(parse_float(""), Err(NumError::Syntax));
        assert_eq!(parse_float("1_0.5"), Ok(10.5));
    }
}
