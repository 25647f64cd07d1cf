//! Label matchers with Prometheus semantics: regular expressions are fully anchored and `.`
//! matches newlines; an absent label matches as the empty string.

use regex::Regex;
use strata_storage::Labels;

use crate::error::QueryError;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// A matcher; regex operators compile `^(?s:value)$` (Prometheus' anchoring).
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, QueryError> {
        let (name, value) = (name.into(), value.into());
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?s:{value})$")).map_err(|e| {
                    QueryError::InvalidRegex {
                        label: name.clone(),
                        regex: value.clone(),
                        reason: e.to_string(),
                    }
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
    fn bad_regex_is_a_clear_error() {
        let e = Matcher::new(MatchOp::Regex, "job", "(")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid regular expression"), "{e}");
    }
}
