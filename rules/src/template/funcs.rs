//! Prometheus' template functions (`prometheus/template/template.go`, Prometheus 3.x, and
//! `prometheus/common/helpers/templates`): `query` and the sample helpers, regular
//! expressions in Go's RE2 dialect, string helpers, the `humanize*` family, time and
//! duration conversions, URLs — with Prometheus' argument conversions and error texts.

use std::collections::BTreeMap;
use std::net::IpAddr;

use strata_storage::goregex;

use super::builtins::{Func, Param, query_escape};
use super::format::sprintf;
use super::strconv::{NumError, parse_float, quote};
use super::value::{QuerySample, Value};

const S: Param = Param::Str;
const A: Param = Param::Any;

macro_rules! func {
    ($name:expr, [$($p:expr),*], $var:expr, $imp:expr) => {
        Func { name: $name, params: &[$($p),*], variadic: $var, builtin: false, imp: $imp }
    };
}

/// Prometheus' functions.
pub(crate) static FUNCS: &[Func] = &[
    func!("query", [S], None, |ctx, a| {
        ctx.env.query(str_arg(&a, 0)).map(Value::Samples)
    }),
    func!(
        "first",
        [Param::Results],
        None,
        |_, a| match a.into_iter().next() {
            Some(Value::Samples(s)) if !s.is_empty() =>
                Ok(s.into_iter().next().map(Value::Sample).unwrap_or_default()),
            _ => Err("first() called on vector with no elements".to_string()),
        }
    ),
    func!("label", [S, Param::Sample], None, |_, a| {
        let s = sample_arg(&a, 1)?;
        Ok(Value::String(
            s.labels.get(str_arg(&a, 0)).cloned().unwrap_or_default(),
        ))
    }),
    func!("value", [Param::Sample], None, |_, a| Ok(Value::Float(
        sample_arg(&a, 0)?.value
    ))),
    func!("strvalue", [Param::Sample], None, |_, a| {
        let s = sample_arg(&a, 0)?;
        Ok(Value::String(
            s.labels.get("__value__").cloned().unwrap_or_default(),
        ))
    }),
    func!("args", [], Some(A), |_, a| {
        let m: BTreeMap<String, Value> = a
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("arg{i}"), v))
            .collect();
        Ok(Value::Map(m))
    }),
    func!("reReplaceAll", [S, S, S], None, |_, a| {
        let (pattern, repl, text) = (str_arg(&a, 0), str_arg(&a, 1), str_arg(&a, 2));
        let re = compile(pattern)
            .map_err(|e| format!("regexp: Compile({}): {e}", go_regexp_quote(pattern)))?;
        Ok(Value::String(replace_all(&re, text, repl)))
    }),
    func!("safeHtml", [S], None, |_, a| Ok(Value::Html(
        str_arg(&a, 0).to_string()
    ))),
    func!("match", [S, S], None, |_, a| {
        let re = compile(str_arg(&a, 0))?;
        Ok(Value::Bool(re.is_match(str_arg(&a, 1))))
    }),
    func!("title", [S], None, |_, a| Ok(Value::String(title(
        str_arg(&a, 0)
    )))),
    func!("toUpper", [S], None, |_, a| Ok(Value::String(map_chars(
        str_arg(&a, 0),
        true
    )))),
    func!("toLower", [S], None, |_, a| Ok(Value::String(map_chars(
        str_arg(&a, 0),
        false
    )))),
    func!("graphLink", [S], None, |_, a| {
        Ok(Value::String(format!(
            "/graph?g0.expr={}&g0.tab=0",
            query_escape(str_arg(&a, 0))
        )))
    }),
    func!("tableLink", [S], None, |_, a| {
        Ok(Value::String(format!(
            "/graph?g0.expr={}&g0.tab=1",
            query_escape(str_arg(&a, 0))
        )))
    }),
    func!("sortByLabel", [S, Param::Results], None, |_, a| {
        let label = str_arg(&a, 0).to_string();
        let mut samples = match a.into_iter().nth(1) {
            Some(Value::Samples(s)) => s,
            _ => Vec::new(),
        };
        samples.sort_by(|x, y| {
            let get = |s: &QuerySample| s.labels.get(&label).cloned().unwrap_or_default();
            get(x).cmp(&get(y))
        });
        Ok(Value::Samples(samples))
    }),
    func!("stripPort", [S], None, |_, a| {
        let hp = str_arg(&a, 0);
        Ok(Value::String(
            split_host_port(hp).map_or(hp, |(h, _)| h).to_string(),
        ))
    }),
    func!("stripDomain", [S], None, |_, a| Ok(Value::String(
        strip_domain(str_arg(&a, 0))
    ))),
    func!("humanize", [A], None, |_, a| Ok(Value::String(humanize(
        to_float(&a)?
    )))),
    func!("humanize1024", [A], None, |_, a| Ok(Value::String(
        humanize1024(to_float(&a)?)
    ))),
    func!("humanizeDuration", [A], None, |_, a| {
        Ok(Value::String(humanize_duration(to_float(&a)?)))
    }),
    func!("humanizePercentage", [A], None, |_, a| {
        Ok(Value::String(sprintf(
            "%.4g%%",
            &[Value::Float(to_float(&a)? * 100.0)],
        )))
    }),
    func!("humanizeTimestamp", [A], None, |_, a| {
        let v = to_float(&a)?;
        if v.is_nan() || v.is_infinite() {
            return Ok(Value::String(g4(v)));
        }
        Ok(Value::String(super::gotime::time_string(unix_nanos(v)?)))
    }),
    func!("toTime", [A], None, |_, a| {
        let v = to_float(&a)?;
        if v.is_nan() || v.is_infinite() {
            return Err("value is NaN or Inf".to_string());
        }
        Ok(Value::Time(unix_nanos(v)?))
    }),
    func!("toDuration", [A], None, |_, a| Ok(Value::Duration(
        go_int64(to_float(&a)? * 1e9)
    ))),
    func!("now", [], None, |ctx, _| Ok(Value::Float(ctx.env.now()))),
    func!("pathPrefix", [], None, |ctx, _| Ok(Value::String(
        url_path(ctx.env.external_url())
    ))),
    func!("externalURL", [], None, |ctx, _| Ok(Value::String(
        ctx.env.external_url().to_string()
    ))),
    func!("parseDuration", [S], None, |_, a| {
        let d = parse_duration(str_arg(&a, 0))?;
        Ok(Value::Float(d as f64 / 1e9))
    }),
    func!("urlQueryEscape", [S], None, |_, a| Ok(Value::String(
        query_escape(str_arg(&a, 0))
    ))),
];

/// The string argument `i` (the executor has checked its type).
fn str_arg(a: &[Value], i: usize) -> &str {
    match a.get(i) {
        Some(Value::String(s)) => s,
        _ => "",
    }
}

/// The `*template.sample` argument `i`; a nil pointer fails as Go's dereference does.
fn sample_arg(a: &[Value], i: usize) -> Result<&QuerySample, String> {
    match a.get(i) {
        Some(Value::Sample(s)) => Ok(s),
        _ => Err("runtime error: invalid memory address or nil pointer dereference".to_string()),
    }
}

/// Go's `int64(f)` on amd64: out of range (and NaN) gives the minimum.
pub(crate) fn go_int64(f: f64) -> i64 {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        f as i64
    } else {
        i64::MIN
    }
}

/// Prometheus' `ConvertToFloat`: floats, integers and numeric strings.
fn to_float(a: &[Value]) -> Result<f64, String> {
    match a.first().unwrap_or(&Value::Nil) {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(s) => parse_float(s).map_err(|e: NumError| {
            format!("strconv.ParseFloat: parsing {}: {}", quote(s), e.text())
        }),
        v => Err(format!("can't convert {} to float", v.go_type())),
    }
}

/// Unix seconds to nanoseconds at millisecond precision, as Prometheus' `model.Time` keeps.
fn unix_nanos(v: f64) -> Result<i64, String> {
    let ns = v * 1e9;
    if !(i64::MIN as f64..=i64::MAX as f64).contains(&ns) {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            super::float::format_float(v, 'g', -1)
        ));
    }
    Ok(go_int64(ns) / 1_000_000 * 1_000_000)
}

/// `fmt.Sprintf("%.4g", v)`.
fn g4(v: f64) -> String {
    sprintf("%.4g", &[Value::Float(v)])
}

fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    g4(v) + prefix
}

fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    g4(v) + prefix
}

fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return g4(v) + "s";
    }
    if v.abs() >= 1.0 {
        let mut sign = "";
        if v < 0.0 {
            sign = "-";
            v = -v;
        }
        let d = go_int64(v);
        let (seconds, minutes, hours, days) =
            (d % 60, d / 60 % 60, d / 60 / 60 % 24, d / 60 / 60 / 24);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Compiles a Go RE2 expression, unanchored; errors read as Go's `regexp` words them.
fn compile(expr: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&goregex::translate(expr)).map_err(|e| {
        let text = e.to_string();
        let code = [
            ("unclosed group", "missing closing )"),
            ("unopened group", "unexpected )"),
            ("unclosed character class", "missing closing ]"),
            (
                "repetition operator missing expression",
                "missing argument to repetition operator",
            ),
            (
                "repetition quantifier expects a valid decimal",
                "invalid repeat count",
            ),
            (
                "invalid character class range",
                "invalid character class range",
            ),
            ("escape sequence", "invalid escape sequence"),
            (
                "incomplete escape",
                "trailing backslash at end of expression",
            ),
            ("exceeds size limit", "expression too large"),
            ("nest limit", "expression nests too deeply"),
            ("capture group name", "invalid named capture"),
        ]
        .into_iter()
        .find(|(rust, _)| text.contains(rust))
        .map_or("invalid or unsupported Perl syntax", |(_, go)| go);
        format!("error parsing regexp: {code}: `{expr}`")
    })
}

/// Go's `regexp` quoting of an expression in `MustCompile`'s panic.
fn go_regexp_quote(s: &str) -> String {
    if super::strconv::can_backquote(s) {
        format!("`{s}`")
    } else {
        quote(s)
    }
}

/// Go's `Regexp.ReplaceAllString`: `$` references expanded as `Expand` does; an empty match
/// right after a previous match is skipped.
fn replace_all(re: &regex::Regex, text: &str, repl: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    let mut last_match_end: Option<usize> = None;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        if m.is_empty() && last_match_end == Some(m.start()) && m.start() > 0 {
            continue;
        }
        out.push_str(&text[last..m.start()]);
        out.push_str(&goregex::expand(&caps, repl));
        last = m.end();
        last_match_end = Some(m.end());
    }
    out.push_str(&text[last..]);
    out
}

/// Go's `strings.ToUpper`/`ToLower`: rune by rune, simple case mappings only.
fn map_chars(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            if !upper && c == '\u{130}' {
                return 'i';
            }
            let mut m: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if m.len() == 1 {
                m.pop().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Word-break classes of `golang.org/x/text/cases`' title caser.
fn is_mid(c: char) -> bool {
    matches!(
        c,
        '\'' | '.'
            | ':'
            | '\u{B7}'
            | '\u{387}'
            | '\u{5F4}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{2024}'
            | '\u{2027}'
            | '\u{FE13}'
            | '\u{FE52}'
            | '\u{FE55}'
            | '\u{FF07}'
            | '\u{FF0E}'
            | '\u{FF1A}'
    )
}

/// Prometheus' `title`: `cases.Title(language.AmericanEnglish, cases.NoLower)` — the first
/// cased letter of each word upper-cased, the rest kept; words break at spaces and
/// punctuation, but not at a single `'`, `.` or `:` between letters, nor at digits or `_`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut mid_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let cased = c.is_lowercase() || c.is_uppercase();
        let was_mid = is_mid(c);
        if cased {
            if !mid_word {
                let up: Vec<char> = c.to_uppercase().collect();
                if up.len() == 1 {
                    out.extend(up);
                } else {
                    out.push(c);
                }
                mid_word = true;
            } else {
                out.push(c);
            }
        } else {
            out.push(c);
            let letterish = c.is_alphanumeric() || c == '_' || was_mid;
            if !letterish {
                mid_word = false;
            }
        }
        if was_mid && chars.peek().copied().is_some_and(is_mid) {
            mid_word = false;
        }
    }
    out
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    let i = hp.rfind(':')?;
    let (host, j, k) = if hp.starts_with('[') {
        let end = hp.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some((host, &hp[i + 1..]))
}

/// Prometheus' `stripDomain`: the host's first label, the port kept; IP addresses unchanged.
fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<IpAddr>().is_ok() {
        return hp.to_string();
    }
    let host = host.split('.').next().unwrap_or("");
    if port.is_empty() {
        host.to_string()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The (percent-decoded) path of a URL, as Go's `url.URL.Path`.
fn url_path(url: &str) -> String {
    let rest = url.split(['?', '#']).next().unwrap_or("");
    let path = match rest.split_once("://") {
        Some((_, after)) => after.find('/').map_or("", |i| &after[i..]),
        None => rest,
    };
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| {
                path.get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .flatten();
        if let Some(v) = escaped {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Prometheus' `model.ParseDurationAllowNegative`, in nanoseconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(rest) = s.strip_prefix('-') {
        return parse_duration_unsigned(rest).map(|d| -d);
    }
    parse_duration_unsigned(s)
}

fn parse_duration_unsigned(s: &str) -> Result<i64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", quote(s));
    let mut rest = s;
    let mut dur: u64 = 0;
    let mut last_pos = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(invalid());
        }
        let v: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.len() - rest.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        const MS: u64 = 1_000_000;
        let (pos, mult) = match unit {
            "ms" => (7, MS),
            "s" => (6, 1000 * MS),
            "m" => (5, 60_000 * MS),
            "h" => (4, 3_600_000 * MS),
            "d" => (3, 86_400_000 * MS),
            "w" => (2, 7 * 86_400_000 * MS),
            "y" => (1, 365 * 86_400_000 * MS),
            _ => {
                return Err(format!(
                    "unknown unit {} in duration {}",
                    quote(unit),
                    quote(s)
                ));
            }
        };
        if pos <= last_pos {
            return Err(invalid());
        }
        last_pos = pos;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".to_string());
        }
        dur += v * mult;
        if dur > (1u64 << 63) - 1 {
            return Err("duration out of range".to_string());
        }
    }
    i64::try_from(dur).map_err(|_| "duration out of range".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizes_as_prometheus() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.00001234), "12.34u");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1.0), "1");
        assert_eq!(humanize(999.0), "999");
        assert_eq!(humanize(1e30), "1e+06Y");
        assert_eq!(humanize(-1500.0), "-1.5k");
        assert_eq!(humanize(f64::NAN), "NaN");
        assert_eq!(humanize(f64::INFINITY), "+Inf");
        assert_eq!(humanize1024(1024.0), "1ki");
        assert_eq!(humanize1024(1.5 * 1024.0 * 1024.0), "1.5Mi");
        assert_eq!(humanize1024(0.5), "0.5");
        assert_eq!(humanize_duration(3725.0), "1h 2m 5s");
        assert_eq!(humanize_duration(60.0), "1m 0s");
        assert_eq!(humanize_duration(1.0), "1s");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(0.5), "500ms");
        assert_eq!(humanize_duration(90061.5), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(-1.5), "-1.5s");
        assert_eq!(humanize_duration(0.000_001_5), "1.5us");
        assert_eq!(humanize_duration(1.23456), "1.235s");
    }

    #[test]
    fn strings_as_prometheus() {
        assert_eq!(
            title("hello world-foo_bar o'neil a.b 123abc"),
            "Hello World-Foo_bar O'neil A.b 123Abc"
        );
        assert_eq!(title("foo..bar"), "Foo..Bar");
        assert_eq!(map_chars("aßé", true), "AßÉ");
        assert_eq!(map_chars("ÀB", false), "àb");
        assert_eq!(split_host_port("host:9090"), Some(("host", "9090")));
        assert_eq!(split_host_port("[::1]:80"), Some(("::1", "80")));
        assert_eq!(split_host_port("host"), None);
        assert_eq!(split_host_port("a:b:c"), None);
        assert_eq!(strip_domain("foo.example.com:9090"), "foo:9090");
        assert_eq!(strip_domain("foo.example.com"), "foo");
        assert_eq!(strip_domain("192.168.1.1:9090"), "192.168.1.1:9090");
        assert_eq!(strip_domain("[::1]:9090"), "[::1]:9090");
        assert_eq!(url_path("http://example.com/prom%20x/?a=b"), "/prom x/");
        assert_eq!(url_path("http://example.com"), "");
    }

    #[test]
    fn durations_and_regexps_as_prometheus() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration(""), Err("empty duration string".to_string()));
        assert_eq!(
            parse_duration("1x"),
            Err("unknown unit \"x\" in duration \"1x\"".to_string())
        );
        assert_eq!(
            parse_duration("1s1h"),
            Err("not a valid duration string: \"1s1h\"".to_string())
        );
        assert_eq!(
            parse_duration("300y"),
            Err("duration out of range".to_string())
        );
        let re = compile("a(x*)").unwrap();
        assert_eq!(replace_all(&re, "-ab-axxb-", "${1}W"), "-Wb-xxWb-");
        let re = compile("a*").unwrap();
        assert_eq!(replace_all(&re, "baaac", "X"), "XbXcX");
        assert_eq!(
            compile("(").unwrap_err(),
            "error parsing regexp: missing closing ): `(`"
        );
    }
}
