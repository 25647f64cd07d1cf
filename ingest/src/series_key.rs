//! [`SeriesKey`]: a series' labels packed in one shared allocation, the form in which
//! ingestion keeps series between arrival and flush.
//!
//! A [`Labels`] holds two heap strings per label; a worker that keeps hundreds of thousands of
//! active series cannot afford that per series. The key packs the sorted pairs as
//! `name 0xff value 0xff …` (0xff never occurs in UTF-8, so the encoding is unambiguous) behind
//! an `Arc`, so the scrape cache and the write buffer share one copy; it is turned back into
//! [`Labels`] only when a block is encoded.

use std::sync::Arc;

use strata_storage::{Label, Labels};

const SEP: u8 = 0xff;

/// A series' identity in one allocation. Cloning is a reference-count increment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey(Arc<[u8]>);

impl std::fmt::Debug for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeriesKey({})", self.to_labels())
    }
}

impl SeriesKey {
    /// Packs a label set.
    pub fn from_labels(labels: &Labels) -> Self {
        Self::pack(|| labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }

    /// Packs labels already sorted by name, unique, with no empty value.
    pub(crate) fn from_sorted(labels: &[Label]) -> Self {
        Self::pack(|| labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }

    fn pack<'a, I: Iterator<Item = (&'a str, &'a str)>>(pairs: impl Fn() -> I) -> Self {
        let len = pairs().map(|(n, v)| n.len() + v.len() + 2).sum();
        let mut buf = Vec::with_capacity(len);
        for (name, value) in pairs() {
            buf.extend_from_slice(name.as_bytes());
            buf.push(SEP);
            buf.extend_from_slice(value.as_bytes());
            buf.push(SEP);
        }
        Self(buf.into())
    }

    /// The label pairs, in name order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self
            .0
            .split(|&b| b == SEP)
            .map(|p| std::str::from_utf8(p).unwrap_or_default());
        std::iter::from_fn(move || {
            let name = parts.next()?;
            let value = parts.next()?;
            Some((name, value))
        })
    }

    /// Unpacks into [`Labels`].
    pub fn to_labels(&self) -> Labels {
        // The pairs came from valid labels, so this cannot fail; an empty set is the fallback.
        Labels::from_pairs(self.pairs()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "node"), ("é", "ü")])
            .unwrap_or_default();
        let key = SeriesKey::from_labels(&labels);
        assert_eq!(key.to_labels(), labels);
        assert_eq!(
            key.pairs().collect::<Vec<_>>(),
            [("__name__", "up"), ("job", "node"), ("é", "ü")]
        );
        assert_eq!(
            SeriesKey::from_labels(&Labels::default()).to_labels(),
            Labels::default()
        );
        // Distinct label sets never pack alike.
        let a = Labels::from_pairs([("a", "bc")]).unwrap_or_default();
        let b = Labels::from_pairs([("ab", "c")]).unwrap_or_default();
        assert_ne!(SeriesKey::from_labels(&a), SeriesKey::from_labels(&b));
    }
}
