//! Label matchers with Prometheus semantics: regular expressions are fully anchored and `.`
//! matches newlines; an absent label matches as the empty string.
//!
//! They live in the storage crate because deletion requests are stored with their matchers
//! (manifest v2, `docs/format.md`): queries, the series APIs and the compactor all evaluate
//! the same ones. On the store a matcher is `{"name": …, "op": "=~", "value": …}`.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::labels::Labels;

/// A matcher whose regular expression does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid regular expression {regex:?} for label {label:?}: {reason}")]
pub struct MatcherError {
    pub label: String,
    pub regex: String,
    pub reason: String,
}

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    /// `=`
    #[serde(rename = "=")]
    Equal,
    /// `!=`
    #[serde(rename = "!=")]
    NotEqual,
    /// `=~`
    #[serde(rename = "=~")]
    Regex,
    /// `!~`
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    /// The operator as PromQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// A matcher as stored: compiled on load.
#[derive(Serialize, Deserialize)]
struct MatcherSpec {
    name: String,
    op: MatchOp,
    value: String,
}

impl TryFrom<MatcherSpec> for Matcher {
    type Error = MatcherError;
    fn try_from(s: MatcherSpec) -> Result<Self, MatcherError> {
        Matcher::new(s.op, s.name, s.value)
    }
}

impl From<Matcher> for MatcherSpec {
    fn from(m: Matcher) -> Self {
        Self {
            name: m.name,
            op: m.op,
            value: m.value,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// One label matcher.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "MatcherSpec", into = "MatcherSpec")]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// A matcher; regex operators compile `^(?s:value)$` (Prometheus' anchoring) in Go's RE2
    /// dialect ([`crate::goregex`]), as relabeling does.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let (name, value) = (name.into(), value.into());
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(crate::goregex::anchored(&value).map_err(|e| MatcherError {
                    label: name.clone(),
                    regex: value.clone(),
                    reason: e.to_string(),
                })?)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name,
            op,
            value,
            regex,
        })
    }

    /// The label this matcher looks at.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or pattern as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether a label value (`""` for an absent label) matches.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(r)) => r.is_match(v),
            (MatchOp::NotRegex, Some(r)) => !r.is_match(v),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether a series matches.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or_default())
    }

    /// True when this matcher matches the empty string (and so series lacking the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(op: MatchOp, v: &str) -> Matcher {
        Matcher::new(op, "job", v).unwrap()
    }

    #[test]
    fn regexes_are_anchored_and_dot_matches_newline() {
        assert!(m(MatchOp::Regex, "api").matches("api"));
        assert!(!m(MatchOp::Regex, "api").matches("api-server"));
        assert!(!m(MatchOp::Regex, "pi").matches("api"));
        assert!(m(MatchOp::Regex, "a.*|b").matches("b"));
        assert!(m(MatchOp::Regex, "a.b").matches("a\nb"));
        assert!(m(MatchOp::Regex, "(?i)API").matches("api"));
        assert!(m(MatchOp::NotRegex, "a.*").matches("b"));
    }

    #[test]
    fn absent_labels_match_as_empty() {
        let labels = Labels::from_pairs([("__name__", "up")]).unwrap();
        assert!(m(MatchOp::Equal, "").matches_labels(&labels));
        assert!(!m(MatchOp::NotEqual, "").matches_labels(&labels));
        assert!(m(MatchOp::Regex, "a?").matches_labels(&labels));
        assert!(m(MatchOp::Regex, ".*").matches_empty());
        assert!(!m(MatchOp::Regex, ".+").matches_empty());
    }

    #[test]
    fn stored_form_round_trips() {
        let m = Matcher::new(MatchOp::Regex, "job", "a|b").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"name":"job","op":"=~","value":"a|b"}"#);
        let back: Matcher = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(back.matches("b"));
        assert!(serde_json::from_str::<Matcher>(r#"{"name":"j","op":"=~","value":"("}"#).is_err());
    }

    #[test]
    fn bad_regex_is_a_clear_error() {
        let e = Matcher::new(MatchOp::Regex, "job", "(")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid regular expression"), "{e}");
    }
}
