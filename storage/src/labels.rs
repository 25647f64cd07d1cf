//! Label sets as Prometheus defines them: sorted by name, names unique, no empty values.

use std::fmt;

use crate::error::{Result, StorageError};

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// A series' identity: labels sorted by name. Empty values are dropped on construction
/// ("no label"), as in Prometheus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// Builds a label set; drops empty values, rejects empty or duplicate names.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Self>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .filter(|l| !l.value.is_empty())
            .collect();
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for pair in labels.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(StorageError::InvalidLabels(format!(
                    "label {:?} appears more than once",
                    pair[0].name
                )));
            }
        }
        if let Some(l) = labels.iter().find(|l| l.name.is_empty()) {
            return Err(StorageError::InvalidLabels(format!(
                "empty label name (value {:?})",
                l.value
            )));
        }
        Ok(Self(labels))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The labels in name order, by value.
    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// Labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Stable 64-bit hash of the label set (xxh3 over `name 0xff value 0xff …`). Stored in
    /// block files; never change it without a format version bump.
    pub fn stable_hash(&self) -> u64 {
        let mut buf = Vec::with_capacity(
            self.0
                .iter()
                .map(|l| l.name.len() + l.value.len() + 2)
                .sum(),
        );
        for l in &self.0 {
            buf.extend_from_slice(l.name.as_bytes());
            buf.push(0xff);
            buf.extend_from_slice(l.value.as_bytes());
            buf.push(0xff);
        }
        xxhash_rust::xxh3::xxh3_64(&buf)
    }

    /// True when every label of `subset` has the same value here.
    pub fn contains_all(&self, subset: &Labels) -> bool {
        subset
            .iter()
            .all(|l| self.get(&l.name) == Some(l.value.as_str()))
    }
}

fn is_legacy_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Prometheus' notation: `name{a="1", b="2"}`; names outside the legacy character set are quoted.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        let mut first = true;
        match name {
            Some(n) if is_legacy_name(n) => f.write_str(n)?,
            Some(n) => {
                f.write_str("{")?;
                write_quoted(f, n)?;
                first = false;
            }
            None => {}
        }
        let rest: Vec<&Label> = self.0.iter().filter(|l| l.name != METRIC_NAME).collect();
        if first {
            if rest.is_empty() && name.is_some() {
                return Ok(());
            }
            f.write_str("{")?;
        }
        for l in rest {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            if is_legacy_name(&l.name) {
                f.write_str(&l.name)?;
            } else {
                write_quoted(f, &l.name)?;
            }
            f.write_str("=")?;
            write_quoted(f, &l.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied()).unwrap_or_default()
    }

    #[test]
    fn sorted_and_empty_values_dropped() {
        let l = labels(&[("z", "1"), ("a", ""), (METRIC_NAME, "up"), ("job", "x")]);
        let names: Vec<_> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, vec![METRIC_NAME, "job", "z"]);
        assert_eq!(l.get("a"), None);
        assert_eq!(l.metric_name(), Some("up"));
    }

    #[test]
    fn duplicates_rejected() {
        assert!(Labels::from_pairs([("a", "1"), ("a", "2")]).is_err());
        assert!(Labels::from_pairs([("", "1")]).is_err());
    }

    #[test]
    fn display_matches_prometheus() {
        assert_eq!(labels(&[(METRIC_NAME, "up")]).to_string(), "up");
        assert_eq!(
            labels(&[(METRIC_NAME, "up"), ("job", "a\"b\\c\nd")]).to_string(),
            r#"up{job="a\"b\\c\nd"}"#
        );
        assert_eq!(labels(&[("job", "x")]).to_string(), r#"{job="x"}"#);
        assert_eq!(
            labels(&[(METRIC_NAME, "my.metric"), ("a.b", "1")]).to_string(),
            r#"{"my.metric", "a.b"="1"}"#
        );
    }

    #[test]
    fn hash_is_stable() {
        let l = labels(&[(METRIC_NAME, "up"), ("job", "node")]);
        // Pinned: this value is part of the on-disk format (`series_hash`).
        assert_eq!(l.stable_hash(), 9_644_008_637_806_697_401);
        assert_ne!(
            l.stable_hash(),
            labels(&[(METRIC_NAME, "up")]).stable_hash()
        );
        // Order of construction does not matter.
        assert_eq!(
            l.stable_hash(),
            labels(&[("job", "node"), (METRIC_NAME, "up")]).stable_hash()
        );
    }
}
