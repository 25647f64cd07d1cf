//! PromQL tokens.

use crate::error::ParseError;

/// A token and the byte offset it starts at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Number(f64),
    /// A duration literal, in ms.
    Duration(i64),
    Str(String),
    /// A string literal whose escapes spell bytes that are not valid UTF-8.
    Bytes(Vec<u8>),
    Op(&'static str),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    Eof,
}

const OPS: [&str; 15] = [
    "==", "!=", "<=", ">=", "=~", "!~", "+", "-", "*", "/", "%", "^", "<", ">", "=",
];

fn err(pos: usize, msg: impl Into<String>) -> ParseError {
    ParseError(format!("1:{}: parse error: {}", pos + 1, msg.into()))
}

/// Reads a duration literal (`1h30m`, `10s53ms`) at the start of `s`; returns (ms, length).
pub(crate) fn duration_literal(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut parts = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = s[start..i].parse().ok()?;
        // The longest unit that matches: "ms" rather than "m".
        let (unit, mult) = super::DURATION_UNITS
            .iter()
            .filter(|(u, _)| s[i..].starts_with(u))
            .max_by_key(|(u, _)| u.len())?;
        // A unit must not run into letters (checked below).
        i += unit.len();
        total = total.checked_add(n.checked_mul(*mult)?)?;
        parts += 1;
    }
    if parts == 0 || (i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_')) {
        return None;
    }
    Some((total, i))
}

/// Splits a query into tokens.
pub(crate) fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let pos = i;
        let single = match c {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'{' => Some(Tok::LBrace),
            b'}' => Some(Tok::RBrace),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b',' => Some(Tok::Comma),
            b':' if !(i + 1 < b.len()
                && (b[i + 1].is_ascii_alphanumeric() || b[i + 1] == b'_' || b[i + 1] == b':'))
                || out.last().is_some_and(|t: &Token| {
                    t.kind == Tok::LBracket
                        || matches!(t.kind, Tok::Duration(_) | Tok::Number(_) | Tok::RParen)
                }) =>
            {
                Some(Tok::Colon)
            }
            b'@' => Some(Tok::At),
            _ => None,
        };
        if let Some(kind) = single {
            out.push(Token { kind, pos });
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            let (bytes, len) = string_bytes(&input[i..]).map_err(|m| err(pos, m))?;
            let kind = match String::from_utf8(bytes) {
                Ok(s) => Tok::Str(s),
                Err(e) => Tok::Bytes(e.into_bytes()),
            };
            out.push(Token { kind, pos });
            i += len;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && i + 1 < b.len() && b[i + 1].is_ascii_digit()) {
            if let Some((ms, len)) = duration_literal(&input[i..]) {
                out.push(Token {
                    kind: Tok::Duration(ms),
                    pos,
                });
                i += len;
                continue;
            }
            let len = number_len(&input[i..]);
            let text = &input[i..i + len];
            let v = parse_number(text)
                .ok_or_else(|| err(pos, format!("bad number or duration syntax: {text:?}")))?;
            out.push(Token {
                kind: Tok::Number(v),
                pos,
            });
            i += len;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':') {
                j += 1;
            }
            let word = &input[i..j];
            let kind = match word.to_ascii_lowercase().as_str() {
                "inf" => Tok::Number(f64::INFINITY),
                "nan" => Tok::Number(f64::NAN),
                _ => Tok::Ident(word.to_string()),
            };
            out.push(Token { kind, pos });
            i = j;
            continue;
        }
        match OPS.iter().find(|op| input[i..].starts_with(**op)) {
            Some(op) => {
                out.push(Token {
                    kind: Tok::Op(op),
                    pos,
                });
                i += op.len();
            }
            None => {
                let ch = input[i..].chars().next().unwrap_or(' ');
                return Err(err(pos, format!("unexpected character: {ch:?}")));
            }
        }
    }
    out.push(Token {
        kind: Tok::Eof,
        pos: input.len(),
    });
    Ok(out)
}

fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    if s.len() > 2 && (s.starts_with("0x") || s.starts_with("0X")) {
        return 2 + b[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
    }
    let mut i = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

/// Go's ParseInt(base 0) then ParseFloat, as Prometheus reads number literals (the series
/// notation's reader: the same conversion).
fn parse_number(text: &str) -> Option<f64> {
    crate::series::parse_number(text).ok()
}

/// A PromQL string literal at the start of `s` (`"…"`, `'…'` with Go escapes, or raw
/// `` `…` ``): returns the value and the number of bytes it spans. Escapes that spell invalid
/// UTF-8 are an error here (see [`string_bytes`]).
pub fn string(s: &str) -> Result<(String, usize), String> {
    let (bytes, len) = string_bytes(s)?;
    let text = String::from_utf8(bytes).map_err(|_| "invalid UTF-8 in string".to_string())?;
    Ok((text, len))
}

/// Like [`string`], but returns the bytes: as in Go, `\x` and octal escapes are bytes and
/// may spell invalid UTF-8.
pub(super) fn string_bytes(s: &str) -> Result<(Vec<u8>, usize), String> {
    let quote = s.chars().next().unwrap_or('"');
    let mut out: Vec<u8> = Vec::new();
    let push = |out: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + 1));
        }
        if c == '\n' && quote != '`' {
            return Err("unterminated quoted string".into());
        }
        if c != '\\' || quote == '`' {
            push(&mut out, c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            'a' => out.push(0x07),
            'b' => out.push(0x08),
            'f' => out.push(0x0c),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(0x0b),
            '\\' | '"' | '\'' => push(&mut out, e),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == n)
                    .ok_or_else(|| format!("invalid escape sequence \\{e}{hex}"))?;
                if e == 'x' {
                    out.push(code as u8);
                } else {
                    let c = char::from_u32(code)
                        .ok_or_else(|| format!("invalid escape sequence \\{e}{hex}"))?;
                    push(&mut out, c);
                }
            }
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                let code = u32::from_str_radix(&format!("{e}{rest}"), 8)
                    .ok()
                    .filter(|&c| rest.len() == 2 && c <= 0xff)
                    .ok_or_else(|| "invalid octal escape".to_string())?;
                out.push(code as u8);
            }
            other => return Err(format!("unknown escape sequence {other:?}")),
        }
    }
    Err("unterminated quoted string".into())
}

/// Go's `%q` of a byte string: invalid UTF-8 bytes and control characters escaped.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn durations_numbers_and_strings() {
        assert_eq!(duration_literal("1h30m"), Some((5_400_000, 5)));
        assert_eq!(duration_literal("10s53ms"), Some((10_053, 7)));
        assert_eq!(duration_literal("5mx"), None);
        assert_eq!(kinds("5m")[0], Tok::Duration(300_000));
        assert_eq!(kinds("1e3")[0], Tok::Number(1000.0));
        assert_eq!(kinds("0x1f")[0], Tok::Number(31.0));
        assert_eq!(kinds("010")[0], Tok::Number(8.0));
        assert_eq!(kinds(".5")[0], Tok::Number(0.5));
        assert_eq!(kinds(r#""a\"b""#)[0], Tok::Str("a\"b".into()));
        assert_eq!(kinds("`a\\b`")[0], Tok::Str("a\\b".into()));
        assert_eq!(kinds(r#""\xc3\xa9""#)[0], Tok::Str("é".into()));
        assert_eq!(kinds(r#""a\xc5z""#)[0], Tok::Bytes(b"a\xc5z".to_vec()));
        assert_eq!(go_quote(b"a\xc5z\"\n"), r#""a\xc5z\"\n""#);
        assert!(matches!(kinds("Inf")[0], Tok::Number(v) if v.is_infinite()));
    }

    #[test]
    fn operators_and_colons() {
        assert_eq!(
            kinds("a:b{x=~\"1\"}[5m:1m] != 3"),
            vec![
                Tok::Ident("a:b".into()),
                Tok::LBrace,
                Tok::Ident("x".into()),
                Tok::Op("=~"),
                Tok::Str("1".into()),
                Tok::RBrace,
                Tok::LBracket,
                Tok::Duration(300_000),
                Tok::Colon,
                Tok::Duration(60_000),
                Tok::RBracket,
                Tok::Op("!="),
                Tok::Number(3.0),
                Tok::Eof
            ]
        );
    }
}
