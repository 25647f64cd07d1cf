//! Parsing `.test` files into commands (FORMAT.md §1–5, §7).

use regex::Regex;
use std::sync::LazyLock;

use super::series::{
    NotationError, Point, SeriesDesc, TestLabels, parse_number, parse_series, string_literal,
};

/// A message expectation of `expect fail|warn|info`.
#[derive(Debug, Clone)]
pub(crate) enum MessageMatch {
    Any,
    Exact(String),
    Regex(Regex),
}

impl MessageMatch {
    pub(crate) fn matches(&self, msg: &str) -> bool {
        match self {
            Self::Any => !msg.contains('\n'),
            Self::Exact(s) => s == msg,
            Self::Regex(r) => r.is_match(msg),
        }
    }
}

/// When an eval runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvalTime {
    Instant { at: i64 },
    Range { start: i64, end: i64, step: i64 },
}

/// What an eval expects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expectations {
    pub(crate) fail: Option<MessageMatch>,
    pub(crate) warn: Vec<MessageMatch>,
    pub(crate) info: Vec<MessageMatch>,
    pub(crate) no_warn: bool,
    pub(crate) no_info: bool,
    /// Deprecated `eval_warn` / `eval_info`: at least one annotation of that kind.
    pub(crate) some_warn: bool,
    pub(crate) some_info: bool,
    pub(crate) ordered: bool,
    /// `expect range vector from … to … step …` (instant evals returning a matrix).
    pub(crate) range_vector: Option<(i64, i64, i64)>,
    pub(crate) string: Option<String>,
    pub(crate) scalar: Option<f64>,
    /// Expected series with their 1-based positions.
    pub(crate) series: Vec<(usize, SeriesDesc)>,
}

/// One `eval` command.
#[derive(Debug, Clone)]
pub(crate) struct Eval {
    pub(crate) line: usize,
    pub(crate) expr: String,
    pub(crate) time: EvalTime,
    pub(crate) expect: Expectations,
}

impl Eval {
    /// True when the expected result mentions a native histogram.
    pub(crate) fn expects_histograms(&self) -> bool {
        self.expect
            .series
            .iter()
            .any(|(_, s)| s.points.iter().any(|p| matches!(p, Point::Histogram(_))))
    }
}

/// A `load` body line's series, with start timestamps when an `@st` line preceded it.
#[derive(Debug, Clone)]
pub(crate) struct LoadSeries {
    pub(crate) labels: TestLabels,
    pub(crate) points: Vec<Point>,
    /// Per position, the start timestamp as an offset (ms) from the sample's own timestamp;
    /// empty without an `@st` line.
    pub(crate) start_offsets: Vec<Option<i64>>,
}

/// One command of a file.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Clear,
    Load {
        line: usize,
        step: i64,
        with_nhcb: bool,
        series: Vec<LoadSeries>,
    },
    Eval(Box<Eval>),
}

/// A parse error with its line.
#[derive(Debug, Clone)]
pub(crate) struct FileError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

static LOAD: LazyLock<Regex> = LazyLock::new(|| re(r"^load(?:_(with_nhcb))?\s+(.+?)$"));
static INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
});
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
});
static RANGE_VECTOR: LazyLock<Regex> =
    LazyLock::new(|| re(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$"));

#[allow(clippy::expect_used)]
fn re(s: &str) -> Regex {
    Regex::new(s).expect("static regex")
}

/// Prometheus' `model.ParseDuration`.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    strata_query::parser::parse_duration(s)
}

/// Splits a file into trimmed lines; `#` lines become blank (they end blocks).
fn lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect()
}

fn notation(line: usize) -> impl Fn(NotationError) -> FileError {
    move |e| FileError { line, message: e.0 }
}

fn file_err(line: usize, message: impl Into<String>) -> FileError {
    FileError {
        line,
        message: message.into(),
    }
}

/// Parses a whole `.test` file.
pub(crate) fn parse_file(text: &str) -> Result<Vec<Command>, FileError> {
    let lines = lines(text);
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let first = l
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let start = i;
        let mut end = i + 1;
        while end < lines.len() && !lines[end].is_empty() {
            end += 1;
        }
        let body = &lines[start + 1..end];
        if first == "clear" {
            commands.push(Command::Clear);
            end = start + 1;
        } else if first.starts_with("load") {
            commands.push(parse_load(start + 1, l, body)?);
        } else if first.starts_with("eval") {
            let (eval, consumed) = parse_eval(start + 1, l, body)?;
            commands.push(Command::Eval(Box::new(eval)));
            end = start + 1 + consumed;
        } else {
            return Err(file_err(start + 1, format!("invalid command {l:?}")));
        }
        i = end;
    }
    Ok(commands)
}

fn parse_load(line: usize, header: &str, body: &[String]) -> Result<Command, FileError> {
    let caps = LOAD
        .captures(header)
        .ok_or_else(|| file_err(line, format!("invalid load command {header:?}")))?;
    let with_nhcb = caps.get(1).is_some();
    let step = parse_duration(&caps[2]).map_err(|e| file_err(line, e))?;
    let mut series: Vec<LoadSeries> = Vec::new();
    // An `@st` line waiting for its series line: (metric part, offsets, line number).
    let mut pending: Option<(String, Vec<Option<i64>>, usize)> = None;
    for (k, l) in body.iter().enumerate() {
        let lineno = line + 1 + k;
        let first = l.split_whitespace().next().unwrap_or_default();
        if let Some(metric) = first.strip_suffix("@st") {
            if pending.is_some() {
                return Err(file_err(lineno, "@st line not followed by its series"));
            }
            let items = l[first.len()..].trim();
            let offsets = parse_start_offsets(items).map_err(|e| file_err(lineno, e))?;
            pending = Some((metric.to_string(), offsets, lineno));
            continue;
        }
        let desc = parse_series(l).map_err(notation(lineno))?;
        let mut start_offsets = Vec::new();
        if let Some((metric, offsets, st_line)) = pending.take() {
            let st_desc = parse_series(&format!("{metric} 0")).map_err(notation(st_line))?;
            if st_desc.labels != desc.labels {
                return Err(file_err(
                    st_line,
                    "@st line and series line differ in labels",
                ));
            }
            if offsets.len() != desc.points.len() {
                return Err(file_err(
                    st_line,
                    format!(
                        "@st line has {} values, its series {}",
                        offsets.len(),
                        desc.points.len()
                    ),
                ));
            }
            start_offsets = offsets;
        }
        // The same label set twice: the later line replaces the earlier one.
        series.retain(|s| s.labels != desc.labels);
        series.push(LoadSeries {
            labels: desc.labels,
            points: desc.points,
            start_offsets,
        });
    }
    if let Some((_, _, st_line)) = pending {
        return Err(file_err(st_line, "@st line not followed by its series"));
    }
    Ok(Command::Load {
        line,
        step,
        with_nhcb,
        series,
    })
}

/// A signed duration of an `@st` item (`-30s`, `+1m`, `-0ms`).
fn signed_duration(s: &str) -> Result<i64, String> {
    match s.strip_prefix('-') {
        Some(rest) => parse_duration(rest).map(|d| -d),
        None => parse_duration(s.strip_prefix('+').unwrap_or(s)),
    }
}

/// Splits `<dur>[(+|-)<dur>][x<N>]` into its parts; the unit scan stops at `x`, `+` and `-`.
fn split_st_item(item: &str) -> Result<(i64, i64, Option<usize>), String> {
    let (body, times) = match item.split_once('x') {
        Some((b, n)) => (
            b,
            Some(
                n.parse::<usize>()
                    .map_err(|_| format!("invalid repetition in {item:?}"))?,
            ),
        ),
        None => (item, None),
    };
    // The first duration may carry a sign; the next '+' or '-' starts the increment.
    let sign_len = usize::from(body.starts_with(['+', '-']));
    let split = body[sign_len..].find(['+', '-']).map(|i| i + sign_len);
    let (start, delta) = match split {
        Some(i) => (&body[..i], signed_duration(&body[i..])?),
        None => (body, 0),
    };
    Ok((signed_duration(start)?, delta, times))
}

/// Expands an `@st` line's items (FORMAT.md §4.2) into per-position offsets.
pub(crate) fn parse_start_offsets(items: &str) -> Result<Vec<Option<i64>>, String> {
    let mut out = Vec::new();
    for item in items.split_whitespace() {
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("invalid item {item:?}"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        let (start, delta, times) = split_st_item(item)?;
        match times {
            None if delta != 0 => return Err(format!("increment without repetition in {item:?}")),
            None => out.push(Some(start)),
            Some(n) => out.extend((0..=n as i64).map(|k| Some(start + k * delta))),
        }
    }
    Ok(out)
}

/// Parses an eval; returns it and how many body lines it used.
fn parse_eval(line: usize, header: &str, body: &[String]) -> Result<(Eval, usize), FileError> {
    let mut expect = Expectations::default();
    let (modifier, time, expr) = if let Some(c) = RANGE.captures(header) {
        let d = |i: usize| parse_duration(c[i].trim()).map_err(|e| file_err(line, e));
        let (start, end, step) = (d(2)?, d(3)?, d(4)?);
        if end < start {
            return Err(file_err(
                line,
                "invalid test definition, end timestamp is before start timestamp",
            ));
        }
        (
            c.get(1).map(|m| m.as_str().to_string()),
            EvalTime::Range { start, end, step },
            c[5].to_string(),
        )
    } else if let Some(c) = INSTANT.captures(header) {
        let at = c.get(2).map(|m| m.as_str()).unwrap_or_default();
        let at = parse_duration(at).map_err(|e| file_err(line, e))?;
        (
            c.get(1).map(|m| m.as_str().to_string()),
            EvalTime::Instant { at },
            c[3].to_string(),
        )
    } else {
        return Err(file_err(
            line,
            format!("invalid evaluation command {header:?}"),
        ));
    };
    match modifier.as_deref() {
        Some("fail") => expect.fail = Some(MessageMatch::Any),
        Some("warn") => expect.some_warn = true,
        Some("info") => expect.some_info = true,
        Some("ordered") => expect.ordered = true,
        _ => {}
    }
    let mut time = time;
    let mut position = 0usize;
    let mut consumed = 0usize;
    for (k, l) in body.iter().enumerate() {
        let lineno = line + 1 + k;
        consumed = k + 1;
        if modifier.as_deref() == Some("fail") {
            if let Some(m) = l.strip_prefix("expected_fail_message") {
                expect.fail = Some(MessageMatch::Exact(m.trim().to_string()));
                break;
            }
            if let Some(m) = l.strip_prefix("expected_fail_regexp") {
                let r = Regex::new(m.trim()).map_err(|e| file_err(lineno, e.to_string()))?;
                expect.fail = Some(MessageMatch::Regex(r));
                break;
            }
        }
        if l.starts_with("expect range vector") {
            let c = RANGE_VECTOR.captures(l).ok_or_else(|| {
                file_err(lineno, format!("invalid range vector definition {l:?}"))
            })?;
            let d = |i: usize| parse_duration(c[i].trim()).map_err(|e| file_err(lineno, e));
            let (from, to, step) = (d(1)?, d(2)?, d(3)?);
            expect.range_vector = Some((from, to, step));
            time = EvalTime::Instant { at: to };
            position += 1;
            continue;
        }
        if let Some(rest) = l.strip_prefix("expect string") {
            let (s, tail) = string_literal(rest.trim()).map_err(notation(lineno))?;
            if !tail.trim().is_empty() {
                return Err(file_err(lineno, "text after the expected string"));
            }
            expect.string = Some(s);
            position += 1;
            continue;
        }
        if l.split(' ').next() == Some("expect") {
            let c = EXPECT
                .captures(l)
                .ok_or_else(|| file_err(lineno, format!("invalid expect line {l:?}")))?;
            let matcher = match c.get(2).map(|m| m.as_str()) {
                Some("msg") => MessageMatch::Exact(c[3].trim().to_string()),
                Some(_) => MessageMatch::Regex(
                    Regex::new(c[3].trim()).map_err(|e| file_err(lineno, e.to_string()))?,
                ),
                None => MessageMatch::Any,
            };
            match &c[1] {
                "ordered" => expect.ordered = true,
                "fail" => {
                    if expect.fail.is_some() {
                        return Err(file_err(lineno, "more than one expect fail"));
                    }
                    expect.fail = Some(matcher);
                }
                "warn" => expect.warn.push(matcher),
                "info" => expect.info.push(matcher),
                "no_warn" => expect.no_warn = true,
                "no_info" => expect.no_info = true,
                _ => {}
            }
            continue;
        }
        if let Ok(v) = parse_number(l) {
            expect.scalar = Some(v);
            break;
        }
        let desc = parse_series(l).map_err(notation(lineno))?;
        if matches!(time, EvalTime::Instant { .. })
            && expect.range_vector.is_none()
            && desc.points.len() > 1
        {
            return Err(file_err(
                lineno,
                "expecting multiple values in instant evaluation not allowed",
            ));
        }
        position += 1;
        expect.series.retain(|(_, s)| s.labels != desc.labels);
        expect.series.push((position, desc));
    }
    if (!expect.warn.is_empty() && expect.no_warn) || (!expect.info.is_empty() && expect.no_info) {
        return Err(file_err(line, "contradictory expect lines"));
    }
    Ok((
        Eval {
            line,
            expr,
            time,
            expect,
        },
        consumed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_offsets() {
        let s = 1000;
        let m = 60 * s;
        assert_eq!(
            parse_start_offsets("_ _x2 -30s-1mx2 -59999msx1 +1m -0ms").unwrap(),
            vec![
                None,
                None,
                None,
                Some(-30 * s),
                Some(-90 * s),
                Some(-150 * s),
                Some(-59_999),
                Some(-59_999),
                Some(m),
                Some(0)
            ]
        );
        assert_eq!(
            parse_start_offsets("1ms-1mx1").unwrap(),
            vec![Some(1), Some(1 - m)]
        );
        assert!(parse_start_offsets("1m+1m").is_err());
    }

    #[test]
    fn commands() {
        let text = "# comment\nload 5m\n  a{x=\"1\"} 1+1x2\n  a{x=\"1\"} 5\n\neval instant at 10m a\n  a{x=\"1\"} 5\n\n\
            eval range from 0 to 10m step 5m sum(a)\n  {} 5 5 5\n\neval instant at 0 1 + 1\n  2\n\n\
            eval instant at 1m foo\n  expect fail msg: something bad\n  expect warn regex:^x\n# empty\n\nclear\n";
        let cmds = parse_file(text).unwrap();
        assert_eq!(cmds.len(), 6);
        let Command::Load { step, series, .. } = &cmds[0] else {
            panic!()
        };
        assert_eq!(*step, 300_000);
        assert_eq!(series.len(), 1, "the later line replaces the earlier one");
        assert_eq!(series[0].points, vec![Point::Float(5.0)]);
        let Command::Eval(e) = &cmds[2] else { panic!() };
        assert_eq!(
            e.time,
            EvalTime::Range {
                start: 0,
                end: 600_000,
                step: 300_000
            }
        );
        assert_eq!(e.expr, "sum(a)");
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert_eq!(e.expect.scalar, Some(2.0));
        let Command::Eval(e) = &cmds[4] else { panic!() };
        assert!(matches!(&e.expect.fail, Some(MessageMatch::Exact(m)) if m == "something bad"));
        assert_eq!(e.expect.warn.len(), 1);
        assert!(matches!(cmds[5], Command::Clear));
    }

    #[test]
    fn the_whole_corpus_parses() {
        let dir = super::super::corpus_dir();
        let mut evals = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "test") {
                let text = std::fs::read_to_string(&path).unwrap();
                let cmds = parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                evals += cmds
                    .iter()
                    .filter(|c| matches!(c, Command::Eval(_)))
                    .count();
            }
        }
        assert_eq!(evals, 2090, "INVENTORY.md counts 2,090 evals");
    }
}
