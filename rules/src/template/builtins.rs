//! Go's builtin template functions (`text/template/funcs.go`, Go 1.24): `and`, `or`, `not`,
//! `len`, `index`, `slice`, `print`, `printf`, `println`, `html`, `js`, `urlquery`, `call`
//! and the comparisons `eq ne lt le gt ge` with Go's rules and error texts; and the methods
//! templates may call on the `*time.Time` and `*time.Duration` values of Prometheus' functions.

use super::Env;
use super::format::{eval_args, sprint, sprintf, sprintln};
use super::gotime::{civil, duration_string, format as time_format, time_string};
use super::strconv::is_print;
use super::value::Value;

/// The Go type of a function parameter, which decides how arguments are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface{}`.
    Any,
    /// `reflect.Value` (Go's builtins).
    Reflect,
    /// `string`.
    Str,
    /// `template.queryResult`.
    Results,
    /// `*template.sample`.
    Sample,
    /// `time.Duration` (a `*time.Duration` is dereferenced).
    Duration,
    /// `time.Time` (a `*time.Time` is dereferenced).
    Time,
}

impl Param {
    pub(crate) fn go_type(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Reflect => "reflect.Value",
            Param::Str => "string",
            Param::Results => "template.queryResult",
            Param::Sample => "*template.sample",
            Param::Duration => "time.Duration",
            Param::Time => "time.Time",
        }
    }
}

/// What a function may use besides its arguments.
pub(crate) struct Ctx<'a> {
    pub(crate) env: &'a dyn Env,
}

/// A function's body: arguments in, a value or Go's error text out.
pub(crate) type Imp = fn(&Ctx<'_>, Vec<Value>) -> Result<Value, String>;

/// A template function (or method): its signature and body.
pub(crate) struct Func {
    pub(crate) name: &'static str,
    pub(crate) params: &'static [Param],
    pub(crate) variadic: Option<Param>,
    /// Go's builtins (`and`, `or` and `call` are evaluated specially).
    pub(crate) builtin: bool,
    pub(crate) imp: Imp,
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const R: Param = Param::Reflect;
const A: Param = Param::Any;

macro_rules! builtin {
    ($name:expr, [$($p:expr),*], $var:expr, $imp:expr) => {
        Func { name: $name, params: &[$($p),*], variadic: $var, builtin: true, imp: $imp }
    };
}

/// Go's builtins.
pub(crate) static BUILTINS: &[Func] = &[
    builtin!("and", [R], Some(R), |_, _| Ok(Value::Nil)),
    builtin!("or", [R], Some(R), |_, _| Ok(Value::Nil)),
    builtin!("call", [R], Some(R), |_, _| Ok(Value::Nil)),
    builtin!("html", [], Some(A), |_, a| Ok(Value::String(html_escape(
        &eval_args(&a)
    )))),
    builtin!("index", [R], Some(R), index),
    builtin!("slice", [R], Some(R), slice),
    builtin!("js", [], Some(A), |_, a| Ok(Value::String(js_escape(
        &eval_args(&a)
    )))),
    builtin!("len", [R], None, length),
    builtin!("not", [R], None, |_, a| Ok(Value::Bool(
        !a.first().is_some_and(Value::is_true)
    ))),
    builtin!("print", [], Some(A), |_, a| Ok(Value::String(sprint(&a)))),
    builtin!("printf", [Param::Str], Some(A), |_, a| {
        let (f, rest) = a.split_first().ok_or("printf needs a format")?;
        let f = match f {
            Value::String(s) => s.as_str(),
            _ => "",
        };
        Ok(Value::String(sprintf(f, rest)))
    }),
    builtin!("println", [], Some(A), |_, a| Ok(Value::String(sprintln(
        &a
    )))),
    builtin!("urlquery", [], Some(A), |_, a| Ok(Value::String(
        query_escape(&eval_args(&a))
    ))),
    builtin!("eq", [R], Some(R), |_, a| eq(&a).map(Value::Bool)),
    builtin!("ne", [R, R], None, |_, a| eq(&a).map(|b| Value::Bool(!b))),
    builtin!("lt", [R, R], None, |_, a| lt(&a).map(Value::Bool)),
    builtin!("le", [R, R], None, |_, a| le(&a).map(Value::Bool)),
    builtin!("gt", [R, R], None, |_, a| le(&a).map(|b| Value::Bool(!b))),
    builtin!("ge", [R, R], None, |_, a| lt(&a).map(|b| Value::Bool(!b))),
];

/// Go's `HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if !c.is_ascii() && !is_print(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `indexArg`: an integer index no greater than `cap`.
fn index_arg(index: &Value, cap: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i) => *i,
        Value::Byte(b) => i64::from(*b),
        Value::Nil => return Err("cannot index slice/array with nil".to_string()),
        v => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.go_type()
            ));
        }
    };
    match usize::try_from(x) {
        Ok(u) if u <= cap => Ok(u),
        _ => Err(format!("index out of range: {x}")),
    }
}

/// Go's `prepareArg` for a map key of type `string`.
fn map_key(index: &Value) -> Result<&str, String> {
    match index {
        Value::String(s) => Ok(s),
        Value::Nil => Err("value is nil; should be of type string".to_string()),
        v => Err(format!("value has type {}; should be string", v.go_type())),
    }
}

/// What `indirect` leaves of a pointer, for messages: `*time.Time` is a `time.Time`.
fn pointee_type(v: &Value) -> String {
    v.go_type().trim_start_matches('*').to_string()
}

fn index(_: &Ctx<'_>, args: Vec<Value>) -> Result<Value, String> {
    let mut args = args.into_iter();
    let mut item = args.next().unwrap_or_default();
    if item == Value::Nil {
        return Err("index of untyped nil".to_string());
    }
    for idx in args {
        item = match item {
            Value::List(l) => {
                let x = index_arg(&idx, l.len())?;
                l.into_iter()
                    .nth(x)
                    .ok_or("reflect: slice index out of range")?
            }
            Value::Samples(s) => {
                let x = index_arg(&idx, s.len())?;
                s.into_iter()
                    .nth(x)
                    .map(Value::Sample)
                    .ok_or("reflect: slice index out of range")?
            }
            Value::String(s) | Value::Html(s) => {
                let x = index_arg(&idx, s.len())?;
                Value::Byte(
                    *s.as_bytes()
                        .get(x)
                        .ok_or("reflect: string index out of range")?,
                )
            }
            Value::Labels(m) => Value::String(m.get(map_key(&idx)?).cloned().unwrap_or_default()),
            Value::Map(m) => m.get(map_key(&idx)?).cloned().unwrap_or_default(),
            Value::Nil => return Err("index of nil pointer".to_string()),
            v => return Err(format!("can't index item of type {}", pointee_type(&v))),
        };
    }
    Ok(item)
}

fn slice(_: &Ctx<'_>, args: Vec<Value>) -> Result<Value, String> {
    let (item, indexes) = args.split_first().ok_or("slice needs an argument")?;
    if *item == Value::Nil {
        return Err("slice of untyped nil".to_string());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::String(s) | Value::Html(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".to_string());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Samples(s) => s.len(),
        v => return Err(format!("can't slice item of type {}", pointee_type(v))),
    };
    let mut idx = [0, len, 0];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    let (i, j) = (idx[0], idx[1]);
    Ok(match item {
        Value::String(s) => {
            Value::String(String::from_utf8_lossy(&s.as_bytes()[i..j]).into_owned())
        }
        Value::Html(s) => Value::Html(String::from_utf8_lossy(&s.as_bytes()[i..j]).into_owned()),
        Value::List(l) => Value::List(l[i..j].to_vec()),
        Value::Samples(s) => Value::Samples(s[i..j].to_vec()),
        _ => Value::Nil,
    })
}

fn length(_: &Ctx<'_>, args: Vec<Value>) -> Result<Value, String> {
    let n = match args.first().unwrap_or(&Value::Nil) {
        Value::String(s) | Value::Html(s) => s.len(),
        Value::Labels(m) => m.len(),
        Value::Map(m) => m.len(),
        Value::List(l) => l.len(),
        Value::Samples(s) => s.len(),
        Value::Nil => return Err("reflect: call of reflect.Value.Type on zero Value".to_string()),
        v => return Err(format!("len of type {}", pointee_type(v))),
    };
    Ok(Value::Int(n as i64))
}

/// Go's `basicKind` of a value, for comparisons.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Basic<'v> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'v str),
}

fn basic(v: &Value) -> Option<Basic<'_>> {
    Some(match v {
        Value::Bool(b) => Basic::Bool(*b),
        Value::Int(i) => Basic::Int(*i),
        Value::Byte(b) => Basic::Uint(u64::from(*b)),
        Value::Float(f) => Basic::Float(*f),
        Value::String(s) | Value::Html(s) => Basic::Str(s),
        _ => return None,
    })
}

fn incompatible(a: &Value, b: &Value) -> String {
    format!(
        "incompatible types for comparison: {} and {}",
        a.go_type(),
        b.go_type()
    )
}

/// Go's `reflect.Kind` of a value that is not of a basic kind.
fn reflect_kind(v: &Value) -> &'static str {
    match v {
        Value::Labels(_) | Value::Map(_) => "map",
        Value::List(_) | Value::Samples(_) => "slice",
        Value::Sample(_) | Value::Time(_) | Value::Duration(_) => "ptr",
        Value::Struct(_) => "struct",
        _ => "basic",
    }
}

/// Whether Go would find the value comparable with `==` at all.
fn comparable(v: &Value) -> bool {
    !matches!(
        v,
        Value::Labels(_) | Value::Map(_) | Value::List(_) | Value::Samples(_) | Value::Struct(_)
    )
}

/// Go's `eq arg1 arg2 arg3…`: whether `arg1` equals any of the others.
fn eq(args: &[Value]) -> Result<bool, String> {
    let (a, rest) = args
        .split_first()
        .ok_or("missing argument for comparison")?;
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    for b in rest {
        let truth = match (basic(a), basic(b)) {
            (Some(Basic::Int(x)), Some(Basic::Uint(y))) => x >= 0 && x as u64 == y,
            (Some(Basic::Uint(x)), Some(Basic::Int(y))) => y >= 0 && x == y as u64,
            (Some(x), Some(y)) if std::mem::discriminant(&x) == std::mem::discriminant(&y) => {
                x == y
            }
            (Some(_), _) | (_, Some(_)) if *a != Value::Nil && *b != Value::Nil => {
                return Err(incompatible(a, b));
            }
            (Some(_), _) | (_, Some(_)) => false,
            (None, None) => {
                let (ka, kb) = (reflect_kind(a), reflect_kind(b));
                if ka != kb && *a != Value::Nil && *b != Value::Nil {
                    return Err(format!(
                        "non-comparable types {}: {}, {}: {}",
                        sprint(std::slice::from_ref(a)),
                        a.go_type(),
                        b.go_type(),
                        sprint(std::slice::from_ref(b))
                    ));
                }
                if *a == Value::Nil || *b == Value::Nil {
                    *a == *b
                } else if !comparable(b) {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        sprint(std::slice::from_ref(b)),
                        b.go_type()
                    ));
                } else {
                    a == b
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`.
fn lt(args: &[Value]) -> Result<bool, String> {
    const BAD: &str = "invalid type for comparison";
    let [a, b] = args else {
        return Err("missing argument for comparison".to_string());
    };
    let (x, y) = (basic(a).ok_or(BAD)?, basic(b).ok_or(BAD)?);
    Ok(match (x, y) {
        (Basic::Int(x), Basic::Uint(y)) => x < 0 || (x as u64) < y,
        (Basic::Uint(x), Basic::Int(y)) => y >= 0 && x < y as u64,
        (Basic::Int(x), Basic::Int(y)) => x < y,
        (Basic::Uint(x), Basic::Uint(y)) => x < y,
        (Basic::Float(x), Basic::Float(y)) => x < y,
        (Basic::Str(x), Basic::Str(y)) => x < y,
        (Basic::Bool(_), Basic::Bool(_)) => return Err(BAD.to_string()),
        _ => return Err(incompatible(a, b)),
    })
}

/// Go's `le`: `lt`, or else `eq`.
fn le(args: &[Value]) -> Result<bool, String> {
    if lt(args)? {
        return Ok(true);
    }
    eq(args)
}

macro_rules! method {
    ($name:expr, [$($p:expr),*], $imp:expr) => {
        Func { name: $name, params: &[$($p),*], variadic: None, builtin: false, imp: $imp }
    };
}

/// The receiver of a method call, first in its arguments.
fn recv_nanos(a: &[Value]) -> i64 {
    match a.first() {
        Some(Value::Time(t) | Value::Duration(t)) => *t,
        _ => 0,
    }
}

static TIME_METHODS: &[Func] = &[
    method!("Unix", [], |_, a| Ok(Value::Int(
        recv_nanos(&a).div_euclid(1_000_000_000)
    ))),
    method!("UnixMilli", [], |_, a| Ok(Value::Int(
        recv_nanos(&a).div_euclid(1_000_000)
    ))),
    method!("UnixMicro", [], |_, a| Ok(Value::Int(
        recv_nanos(&a).div_euclid(1_000)
    ))),
    method!("UnixNano", [], |_, a| Ok(Value::Int(recv_nanos(&a)))),
    method!("String", [], |_, a| Ok(Value::String(time_string(
        recv_nanos(&a)
    )))),
    method!("Format", [Param::Str], |_, a| {
        let layout = match a.get(1) {
            Some(Value::String(s)) => s.as_str(),
            _ => "",
        };
        Ok(Value::String(time_format(recv_nanos(&a), layout)))
    }),
    method!("UTC", [], |_, a| Ok(Value::Time(recv_nanos(&a)))),
    method!("Local", [], |_, a| Ok(Value::Time(recv_nanos(&a)))),
    method!("IsZero", [], |_, _| Ok(Value::Bool(false))),
    method!("Add", [Param::Duration], |_, a| {
        Ok(Value::Time(recv_nanos(&a).wrapping_add(nanos_arg(&a))))
    }),
    method!("Sub", [Param::Time], |_, a| {
        Ok(Value::Duration(
            recv_nanos(&a).saturating_sub(nanos_arg(&a)),
        ))
    }),
    method!("Before", [Param::Time], |_, a| Ok(Value::Bool(
        recv_nanos(&a) < nanos_arg(&a)
    ))),
    method!("After", [Param::Time], |_, a| Ok(Value::Bool(
        recv_nanos(&a) > nanos_arg(&a)
    ))),
    method!("Equal", [Param::Time], |_, a| Ok(Value::Bool(
        recv_nanos(&a) == nanos_arg(&a)
    ))),
    method!("Year", [], |_, a| Ok(Value::Int(
        civil(recv_nanos(&a)).year
    ))),
    method!("YearDay", [], |_, a| Ok(Value::Int(i64::from(
        civil(recv_nanos(&a)).yday
    )))),
    method!("Day", [], |_, a| Ok(Value::Int(i64::from(
        civil(recv_nanos(&a)).day
    )))),
    method!("Hour", [], |_, a| Ok(Value::Int(i64::from(
        civil(recv_nanos(&a)).hour
    )))),
    method!("Minute", [], |_, a| Ok(Value::Int(i64::from(
        civil(recv_nanos(&a)).minute
    )))),
    method!("Second", [], |_, a| Ok(Value::Int(i64::from(
        civil(recv_nanos(&a)).second
    )))),
    method!("Nanosecond", [], |_, a| Ok(Value::Int(i64::from(
        civil(recv_nanos(&a)).nanos
    )))),
];

static DURATION_METHODS: &[Func] = &[
    method!("String", [], |_, a| Ok(Value::String(duration_string(
        recv_nanos(&a)
    )))),
    method!("Hours", [], |_, a| Ok(Value::Float(
        recv_nanos(&a) as f64 / 3.6e12
    ))),
    method!("Minutes", [], |_, a| Ok(Value::Float(
        recv_nanos(&a) as f64 / 6e10
    ))),
    method!("Seconds", [], |_, a| Ok(Value::Float(
        recv_nanos(&a) as f64 / 1e9
    ))),
    method!("Milliseconds", [], |_, a| Ok(Value::Int(
        recv_nanos(&a) / 1_000_000
    ))),
    method!("Microseconds", [], |_, a| Ok(Value::Int(
        recv_nanos(&a) / 1_000
    ))),
    method!("Nanoseconds", [], |_, a| Ok(Value::Int(recv_nanos(&a)))),
    method!("Abs", [], |_, a| {
        let d = recv_nanos(&a);
        Ok(Value::Duration(if d == i64::MIN {
            i64::MAX
        } else {
            d.abs()
        }))
    }),
    method!("Truncate", [Param::Duration], |_, a| {
        let (d, m) = (recv_nanos(&a), nanos_arg(&a));
        Ok(Value::Duration(if m <= 0 { d } else { d - d % m }))
    }),
    method!("Round", [Param::Duration], |_, a| {
        Ok(Value::Duration(round_duration(
            recv_nanos(&a),
            nanos_arg(&a),
        )))
    }),
];

/// Go's `Duration.Round`: to the nearest multiple of `m`, halves away from zero, saturating.
fn round_duration(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let r = (d % m).abs();
    let less_than_half = (r as u64).wrapping_add(r as u64) < m as u64;
    if d < 0 {
        if less_than_half {
            return d + r;
        }
        return d.checked_sub(m - r).unwrap_or(i64::MIN);
    }
    if less_than_half {
        return d - r;
    }
    d.checked_add(m - r).unwrap_or(i64::MAX)
}

/// The time or duration argument after the receiver, in nanoseconds.
fn nanos_arg(a: &[Value]) -> i64 {
    match a.get(1) {
        Some(Value::Time(t) | Value::Duration(t)) => *t,
        _ => 0,
    }
}

/// The method `name` of a value, if its Go type has one templates can call.
pub(crate) fn method(recv: &Value, name: &str) -> Option<&'static Func> {
    let table = match recv {
        Value::Time(_) => TIME_METHODS,
        Value::Duration(_) => DURATION_METHODS,
        _ => return None,
    };
    table.iter().find(|f| f.name == name)
}
