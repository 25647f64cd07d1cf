//! Go's `fmt` for template values: `Sprint` (what an action prints, `print`), `Sprintln`,
//! `Sprintf` (`printf`, and Prometheus' `%.4g` in `humanize*`) with Go's verbs, flags, width,
//! precision and argument indexes, and Go's complaints in the output — `%!d(string=foo)`,
//! `%!d(MISSING)`, `%!(EXTRA string=x)`, `%!(NOVERB)`, `%!d(BADINDEX)`.

use super::float::format_float;
use super::gotime::{duration_string, time_string};
use super::strconv::{can_backquote, is_print, quote, quote_ascii, quote_rune};
use super::value::{GoStruct, QuerySample, Value};

/// Go's `fmt` flags of the verb being printed.
#[derive(Debug, Default, Clone, Copy)]
struct Flags {
    wid: Option<usize>,
    prec: Option<usize>,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

/// Go's `pp`: the output and the flags.
#[derive(Debug, Default)]
struct Printer {
    buf: String,
    f: Flags,
}

/// Go's `tooLarge`: widths and precisions beyond a million are refused.
const TOO_LARGE: usize = 1_000_000;
/// `Sprintf` stops formatting past this many bytes (the executor then refuses the result).
pub(crate) const MAX_STRING: usize = 16 << 20;

/// `fmt.Sprint`: operands in `%v`, with spaces between operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_) | Value::Html(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: operands in `%v`, always spaced, and a newline.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// What an action prints for a value: Go's `printableValue` (pointers dereferenced, nil as
/// `<no value>`) and `fmt.Fprint`.
pub(crate) fn print_action(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".to_string(),
        Value::Sample(s) => {
            let mut p = Printer::default();
            p.print_sample(s, 'v', 0);
            p.buf
        }
        v => sprint(std::slice::from_ref(v)),
    }
}

/// Go's `evalArgs` (`html`, `js`, `urlquery`): one string as is, else `Sprint` of the
/// printable values.
pub(crate) fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.clone();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Nil => Value::string("<no value>"),
            Value::Sample(_) => Value::String(print_action(a)),
            a => a.clone(),
        })
        .collect();
    sprint(&printable)
}

/// Go's `parsenum`: a decimal number at `s[start..end]`.
fn parse_num(s: &[char], start: usize, end: usize) -> (Option<usize>, usize) {
    let mut i = start;
    let mut num: usize = 0;
    let mut is_num = false;
    while i < end && s[i].is_ascii_digit() {
        if num > TOO_LARGE {
            return (None, end);
        }
        num = num * 10 + (s[i] as usize - '0' as usize);
        is_num = true;
        i += 1;
    }
    (is_num.then_some(num), i)
}

/// Go's `intFromArg`: a `*` width or precision from an integer operand.
fn int_from_arg(args: &[Value], arg_num: usize) -> (Option<i64>, usize) {
    let Some(a) = args.get(arg_num) else {
        return (None, arg_num);
    };
    let n = match a {
        Value::Int(i) => Some(*i),
        Value::Byte(b) => Some(i64::from(*b)),
        _ => None,
    };
    (
        n.filter(|n| n.unsigned_abs() <= TOO_LARGE as u64),
        arg_num + 1,
    )
}

/// Go's `parseArgNumber`: `[n]` at the start of `f` as a 0-based index, its length, and
/// whether it was well formed.
fn parse_arg_number(f: &[char]) -> (i64, usize, bool) {
    if f.len() < 3 {
        return (0, 1, false);
    }
    for j in 1..f.len() {
        if f[j] == ']' {
            return match parse_num(f, 1, j) {
                (Some(n), ni) if ni == j => (n as i64 - 1, j + 1, true),
                _ => (0, j + 1, false),
            };
        }
    }
    (0, 1, false)
}

/// Go's `argNumber`: an explicit argument index at `s[i..]`, if any; returns the argument
/// number, the new position and whether an index was found.
fn arg_number(
    s: &[char],
    i: usize,
    arg_num: usize,
    num_args: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize, bool) {
    if s.get(i) != Some(&'[') {
        return (arg_num, i, false);
    }
    *reordered = true;
    let (index, wid, ok) = parse_arg_number(&s[i..]);
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good = false;
    (arg_num, i + wid, ok)
}

/// `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let s: Vec<char> = format.chars().collect();
    let end = s.len();
    let mut p = Printer::default();
    let mut arg_num = 0;
    let mut reordered = false;
    let mut i = 0;
    while i < end && p.buf.len() <= MAX_STRING {
        let mut good_arg_num = true;
        let last = i;
        while i < end && s[i] != '%' {
            i += 1;
        }
        p.buf.extend(&s[last..i]);
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            match s[i] {
                '#' => p.f.sharp = true,
                '0' => p.f.zero = !p.f.minus,
                '+' => p.f.plus = true,
                '-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                ' ' => p.f.space = true,
                _ => break,
            }
            i += 1;
        }
        let (n, ni, mut after_index) = arg_number(
            &s,
            i,
            arg_num,
            args.len(),
            &mut reordered,
            &mut good_arg_num,
        );
        (arg_num, i) = (n, ni);
        if i < end && s[i] == '*' {
            i += 1;
            let (w, next) = int_from_arg(args, arg_num);
            arg_num = next;
            match w {
                Some(w) => {
                    p.f.wid = Some(w.unsigned_abs() as usize);
                    if w < 0 {
                        p.f.minus = true;
                        p.f.zero = false;
                    }
                }
                None => p.buf.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(&s, i, end);
            p.f.wid = w;
            i = ni;
            if after_index && w.is_some() {
                good_arg_num = false;
            }
        }
        if i + 1 < end && s[i] == '.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            let (n, ni, found) = arg_number(
                &s,
                i,
                arg_num,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
            (arg_num, i, after_index) = (n, ni, found);
            if i < end && s[i] == '*' {
                i += 1;
                let (pr, next) = int_from_arg(args, arg_num);
                arg_num = next;
                match pr {
                    Some(pr) if pr >= 0 => p.f.prec = Some(pr as usize),
                    _ => {
                        p.f.prec = None;
                        p.buf.push_str("%!(BADPREC)");
                    }
                }
                after_index = false;
            } else {
                let (pr, ni) = parse_num(&s, i, end);
                p.f.prec = Some(pr.unwrap_or(0));
                i = ni;
            }
        }
        if !after_index {
            let (n, ni, _) = arg_number(
                &s,
                i,
                arg_num,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
            (arg_num, i) = (n, ni);
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = s[i];
        i += 1;
        if verb == '%' {
            p.buf.push('%');
        } else if !good_arg_num {
            p.buf.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if arg_num >= args.len() {
            p.buf.push_str(&format!("%!{verb}(MISSING)"));
        } else {
            if verb == 'v' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            p.print_arg(&args[arg_num], verb);
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (i, arg) in args[arg_num..].iter().enumerate() {
            if i > 0 {
                p.buf.push_str(", ");
            }
            if *arg == Value::Nil {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(&arg.go_type());
                p.buf.push('=');
                p.print_arg(arg, 'v');
            }
        }
        p.buf.push(')');
    }
    p.buf
}

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Go's `pad`: `s` padded to the width in runes.
    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|&w| w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let n = wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(n);
        } else {
            self.write_padding(n);
            self.buf.push_str(s);
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => s.char_indices().nth(p).map_or(s, |(i, _)| &s[..i]),
            None => s,
        }
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if *v == Value::Nil {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&v.go_type());
            self.buf.push('=');
            self.print_arg(v, 'v');
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, v: &Value, verb: char) {
        match (v, verb) {
            (Value::Nil, 'T' | 'v') => return self.pad("<nil>"),
            (Value::Nil, _) => return self.bad_verb(verb, v),
            (_, 'T') => {
                let t = v.go_type();
                let t = self.truncate(&t).to_string();
                return self.pad(&t);
            }
            _ => {}
        }
        self.print_value(v, verb, 0);
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        match v {
            Value::Nil => {
                if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => self.fmt_integer(*i as u64, true, verb, v),
            Value::Byte(b) => self.fmt_integer(u64::from(*b), false, verb, v),
            Value::Float(f) => self.fmt_float(*f, verb, v),
            Value::String(s) | Value::Html(s) => self.fmt_string(s, verb, v),
            Value::Time(t) => self.fmt_stringer(&time_string(*t), verb, v),
            Value::Duration(d) => match verb {
                'v' | 's' | 'x' | 'X' | 'q' => self.fmt_stringer(&duration_string(*d), verb, v),
                _ => self.fmt_integer(*d as u64, true, verb, v),
            },
            Value::Labels(m) => {
                let entries: Vec<(Value, Value)> = m
                    .iter()
                    .map(|(k, v)| (Value::string(k), Value::string(v)))
                    .collect();
                self.print_map(v, &entries, verb, depth);
            }
            Value::Map(m) => {
                let entries: Vec<(Value, Value)> = m
                    .iter()
                    .map(|(k, v)| (Value::string(k), v.clone()))
                    .collect();
                self.print_map(v, &entries, verb, depth);
            }
            Value::List(l) => self.print_list(v, l.iter(), verb, depth),
            Value::Samples(s) => {
                let items: Vec<Value> = s.iter().cloned().map(Value::Sample).collect();
                self.print_list(v, items.iter(), verb, depth);
            }
            Value::Sample(s) => {
                if self.f.sharp_v {
                    self.buf.push_str("&template.sample");
                } else {
                    self.buf.push('&');
                }
                self.print_sample(s, verb, depth + 1);
            }
            Value::Struct(s) => self.print_struct(s, verb, depth),
        }
    }

    /// A `fmt.Stringer` (times and durations) under `%v %s %x %X %q`; other verbs complain.
    fn fmt_stringer(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' | 's' | 'x' | 'X' | 'q' => self.fmt_string(s, verb, v),
            _ => self.bad_verb(verb, v),
        }
    }

    fn print_map(&mut self, v: &Value, entries: &[(Value, Value)], verb: char, depth: usize) {
        if self.f.sharp_v {
            self.buf.push_str(&v.go_type());
            self.buf.push('{');
        } else {
            self.buf.push_str("map[");
        }
        for (i, (k, val)) in entries.iter().enumerate() {
            if i > 0 {
                self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
            }
            self.print_value(k, verb, depth + 1);
            self.buf.push(':');
            self.print_value(val, verb, depth + 1);
        }
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
    }

    fn print_list<'v>(
        &mut self,
        v: &Value,
        items: impl Iterator<Item = &'v Value>,
        verb: char,
        depth: usize,
    ) {
        if self.f.sharp_v {
            self.buf.push_str(&v.go_type());
            self.buf.push('{');
        } else {
            self.buf.push('[');
        }
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
            }
            self.print_value(item, verb, depth + 1);
        }
        self.buf.push(if self.f.sharp_v { '}' } else { ']' });
    }

    fn print_sample(&mut self, s: &QuerySample, verb: char, depth: usize) {
        let st = GoStruct {
            type_name: String::new(),
            fields: vec![
                ("Labels".to_string(), Value::Labels(s.labels.clone())),
                ("Value".to_string(), Value::Float(s.value)),
            ],
        };
        self.print_struct(&st, verb, depth);
    }

    fn print_struct(&mut self, s: &GoStruct, verb: char, depth: usize) {
        if self.f.sharp_v {
            self.buf.push_str(&s.type_name);
        }
        self.buf.push('{');
        for (i, (name, val)) in s.fields.iter().enumerate() {
            if i > 0 {
                self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
            }
            if self.f.plus_v || self.f.sharp_v {
                self.buf.push_str(name);
                self.buf.push(':');
            }
            self.print_value(val, verb, depth + 1);
        }
        self.buf.push('}');
    }

    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char, v: &Value) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_int(u, 16, signed, verb, false);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_int(u, 10, signed, verb, false),
            'b' => self.fmt_int(u, 2, signed, verb, false),
            'o' | 'O' => self.fmt_int(u, 8, signed, verb, false),
            'x' => self.fmt_int(u, 16, signed, verb, false),
            'X' => self.fmt_int(u, 16, signed, verb, true),
            'c' => {
                let c = char::from_u32(u32::try_from(u).unwrap_or(0xFFFD)).unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
            }
            'q' => {
                let c = char::from_u32(u32::try_from(u).unwrap_or(0xFFFD)).unwrap_or('\u{FFFD}');
                let q = quote_rune(c, self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, v),
        }
    }

    /// Go's `fmt.fmtInteger`.
    fn fmt_int(&mut self, u: u64, base: u64, signed: bool, verb: char, upper: bool) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = zero;
                return;
            }
        } else if let Some(w) = self.f.wid.filter(|_| self.f.zero && !self.f.minus) {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let digits: &[u8] = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        let mut buf: Vec<u8> = Vec::new();
        loop {
            buf.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => buf.extend(if upper { b"X0" } else { b"x0" }),
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8_lossy(&buf).into_owned();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_unicode(&mut self, u: u64) {
        let prec = self.f.prec.filter(|&p| p > 4).unwrap_or(4);
        let mut s = format!("U+{u:0prec$X}");
        let printable = u32::try_from(u)
            .ok()
            .and_then(char::from_u32)
            .filter(|&c| is_print(c));
        if let Some(c) = printable.filter(|_| self.f.sharp) {
            s.push_str(&format!(" '{c}'"));
        }
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_float(&mut self, f: f64, verb: char, v: &Value) {
        let (verb, prec) = match verb {
            'v' => ('g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => (verb, -1),
            'f' | 'F' => ('f', 6),
            'e' | 'E' => (verb, 6),
            _ => return self.bad_verb(verb, v),
        };
        let prec = self.f.prec.map_or(prec, |p| p as i32);
        let mut num = format_float(f, verb, prec);
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        if num[1..].starts_with(['I', 'N']) {
            let zero = self.f.zero;
            self.f.zero = false;
            if num[1..].starts_with('N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = zero;
            return;
        }
        if self.f.sharp && verb != 'b' {
            num = sharp_float(num, verb, prec);
        }
        if self.f.plus || !num.starts_with('+') {
            let wid = self.f.wid.unwrap_or(0);
            if self.f.zero && !self.f.minus && wid > num.len() {
                let (sign, rest) = num.split_at(1);
                self.buf.push_str(sign);
                self.write_padding(wid - num.len());
                self.buf.push_str(rest);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn fmt_string(&mut self, s: &str, verb: char, v: &Value) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => {
                let t = self.truncate(s).to_string();
                self.pad(&t);
            }
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        let q = if self.f.sharp && can_backquote(&s) {
            format!("`{s}`")
        } else if self.f.plus {
            quote_ascii(&s)
        } else {
            quote(&s)
        };
        self.pad(&q);
    }

    /// Go's `fmtSbx`: the bytes of `s` in hexadecimal.
    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let digits: &[u8] = if upper {
            b"0123456789ABCDEFX"
        } else {
            b"0123456789abcdefx"
        };
        let bytes = s.as_bytes();
        let length = self.f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
        let mut width = 2 * length;
        if width == 0 {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, &c) in bytes[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[usize::from(c >> 4)] as char);
            self.buf.push(digits[usize::from(c & 0xF)] as char);
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }
}

/// The `#` flag on floats: a decimal point always, and `%g` keeps its trailing zeros.
fn sharp_float(num: String, verb: char, prec: i32) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => {
            if prec == -1 {
                6
            } else {
                i64::from(prec)
            }
        }
        _ => 0,
    };
    let mut body: Vec<char> = num.chars().collect();
    let mut tail = String::new();
    let mut has_point = false;
    let mut saw_nonzero = false;
    let mut i = 1;
    while i < body.len() {
        match body[i] {
            '.' => has_point = true,
            'p' | 'P' => {
                tail = body[i..].iter().collect();
                body.truncate(i);
                break;
            }
            'e' | 'E' if verb != 'x' && verb != 'X' => {
                tail = body[i..].iter().collect();
                body.truncate(i);
                break;
            }
            c => {
                if c != '0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
            }
        }
        i += 1;
    }
    if !has_point {
        if body.len() == 2 && body[1] == '0' {
            digits -= 1;
        }
        body.push('.');
    }
    while digits > 0 {
        body.push('0');
        digits -= 1;
    }
    body.into_iter().collect::<String>() + &tail
}
