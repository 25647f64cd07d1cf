//! The parser's error: a message in Prometheus' words, with its position
//! (`1:5: parse error: unexpected end of input`).

/// A query that does not parse or does not type-check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl From<String> for ParseError {
    fn from(message: String) -> Self {
        Self(message)
    }
}
