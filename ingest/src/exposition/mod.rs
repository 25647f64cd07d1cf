//! The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text format.
//!
//! [`Parser`] walks a document line by line and yields [`Entry`]s borrowing from the input.
//! A sample's series is returned as its raw text ([`RawSample::series`]) so that callers can
//! intern series cheaply; [`parse_series`] turns it into [`Labels`] when a series is new.
//! Differences between the formats: OpenMetrics timestamps are seconds (with fractions) and
//! the document must end with `# EOF`; Prometheus text timestamps are integer milliseconds.

mod lexer;
#[cfg(test)]
mod tests;

use strata_storage::{Labels, MetricMetadataMap};

pub use lexer::parse_series;

/// Which text format a document is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: timestamps in integer ms.
    Prometheus,
    /// OpenMetrics 1.0: timestamps in (fractional) seconds, `# EOF` required.
    OpenMetrics,
}

impl Format {
    /// Guesses the format of a whole document: OpenMetrics when its last line is `# EOF`.
    pub fn detect(doc: &[u8]) -> Self {
        let trimmed = doc.trim_ascii_end();
        let last = trimmed.rsplit(|&b| b == b'\n').next().unwrap_or_default();
        if last.trim_ascii() == b"# EOF" {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

/// Metric type from a `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" => Self::Histogram,
            "gaugehistogram" => Self::GaugeHistogram,
            "summary" => Self::Summary,
            "info" => Self::Info,
            "stateset" => Self::StateSet,
            "unknown" | "untyped" => Self::Unknown,
            _ => return None,
        })
    }

    /// The name Prometheus' metadata API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::GaugeHistogram => "gaugehistogram",
            Self::Summary => "summary",
            Self::Info => "info",
            Self::StateSet => "stateset",
            Self::Unknown => "unknown",
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample<'a> {
    /// The series as written (`name{a="b"}`), validated.
    pub series: &'a str,
    pub value: f64,
    /// Explicit timestamp in ms, if the line has one.
    pub timestamp_ms: Option<i64>,
}

impl RawSample<'_> {
    /// The sample's labels (parses the series text again).
    pub fn labels(&self) -> Result<Labels, String> {
        parse_series(self.series)
    }
}

/// One meaningful line of a document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    Sample(RawSample<'a>),
    Help { metric: &'a str, text: &'a str },
    Type { metric: &'a str, kind: MetricType },
    Unit { metric: &'a str, unit: &'a str },
}

impl Entry<'_> {
    /// Records a HELP, TYPE or UNIT line into `metadata` (by metric family); a sample is
    /// ignored. Call [`fill_unknown_kinds`] once all lines are in.
    pub fn record_metadata(&self, metadata: &mut MetricMetadataMap) {
        match *self {
            Entry::Help { metric, text } => {
                metadata.entry(metric.to_string()).or_default().help = text.to_string();
            }
            Entry::Type { metric, kind } => {
                metadata.entry(metric.to_string()).or_default().kind = kind.as_str().to_string();
            }
            Entry::Unit { metric, unit } => {
                metadata.entry(metric.to_string()).or_default().unit = unit.to_string();
            }
            Entry::Sample(_) => {}
        }
    }
}

/// Families with HELP or UNIT but no TYPE are `unknown`, as in Prometheus' metadata API.
pub fn fill_unknown_kinds(metadata: &mut MetricMetadataMap) {
    for m in metadata.values_mut() {
        if m.kind.is_empty() {
            m.kind = MetricType::Unknown.as_str().into();
        }
    }
}

/// A syntax error, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Iterates the entries of a document.
#[derive(Debug)]
pub struct Parser<'a> {
    rest: &'a [u8],
    line: usize,
    format: Format,
    seen_eof: bool,
}

impl<'a> Parser<'a> {
    /// A parser over a whole document.
    pub fn new(doc: &'a [u8], format: Format) -> Self {
        Self {
            rest: doc,
            line: 0,
            format,
            seen_eof: false,
        }
    }

    /// The 1-based number of the line last returned.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Bytes not yet parsed.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            message: message.into(),
        }
    }

    fn next_line(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        self.line += 1;
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }

    fn parse_comment(&self, line: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let body = line[1..].trim_start();
        let mut words = body.splitn(3, ' ');
        let keyword = words.next().unwrap_or_default();
        let (metric, arg) = (words.next(), words.next());
        let entry = match (keyword, metric) {
            ("HELP", Some(metric)) => Entry::Help {
                metric,
                text: arg.unwrap_or_default(),
            },
            ("TYPE", Some(metric)) => {
                let kind = arg.map(str::trim).unwrap_or_default();
                let kind = MetricType::parse(kind)
                    .ok_or_else(|| self.error(format!("unknown metric type {kind:?}")))?;
                Entry::Type { metric, kind }
            }
            ("UNIT", Some(metric)) => Entry::Unit {
                metric,
                unit: arg.map(str::trim).unwrap_or_default(),
            },
            ("HELP" | "TYPE" | "UNIT", None) if self.format == Format::OpenMetrics => {
                return Err(self.error(format!("# {keyword} without a metric name")));
            }
            _ => return Ok(None), // an ordinary comment
        };
        Ok(Some(entry))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let raw = self.next_line()?;
            let Ok(line) = std::str::from_utf8(raw) else {
                return Some(Err(self.error("line is not valid UTF-8")));
            };
            if self.seen_eof {
                if line.trim().is_empty() {
                    continue;
                }
                return Some(Err(self.error("content after # EOF")));
            }
            if line.trim().is_empty() {
                if self.format == Format::OpenMetrics {
                    return Some(Err(self.error("empty line (not allowed in OpenMetrics)")));
                }
                continue;
            }
            if line.starts_with('#') {
                if line.trim_end() == "# EOF" {
                    self.seen_eof = true;
                    continue;
                }
                match self.parse_comment(line) {
                    Ok(Some(entry)) => return Some(Ok(entry)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            return Some(
                lexer::parse_sample(line, self.format)
                    .map(Entry::Sample)
                    .map_err(|m| self.error(m)),
            );
        }
    }
}

impl Parser<'_> {
    /// Call after the iterator is exhausted: OpenMetrics documents must have ended with `# EOF`.
    pub fn finish(&self) -> Result<(), ParseError> {
        if self.format == Format::OpenMetrics && !self.seen_eof {
            return Err(self.error("OpenMetrics document does not end with # EOF"));
        }
        Ok(())
    }
}
