//! Typed identifiers and the object layout under a store's root.
//!
//! ```text
//! blocks/<block-id>/series.parquet      one row per series
//! blocks/<block-id>/samples.parquet     one row per sample
//! manifest/log/<seq:020>.json           create-only commit records, seq = 1, 2, 3, …
//! manifest/checkpoints/<seq:020>.json   folded state as of seq
//! _strata/probe/<ulid>                  start-up check of conditional writes (deleted after)
//! ```

use std::fmt;
use std::str::FromStr;

use object_store::path::Path;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// Prefix of all block directories.
pub const BLOCKS_DIR: &str = "blocks";
/// File name of a block's series file.
pub const SERIES_FILE: &str = "series.parquet";
/// File name of a block's samples file.
pub const SAMPLES_FILE: &str = "samples.parquet";
/// Prefix of the commit log.
pub const LOG_DIR: &str = "manifest/log";
/// Prefix of the checkpoints.
pub const CHECKPOINT_DIR: &str = "manifest/checkpoints";
/// Prefix of the start-up probe objects.
pub const PROBE_DIR: &str = "_strata/probe";
const JSON_EXT: &str = ".json";

/// A block's identity: a ULID, so ids sort by creation time and never collide between writers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlockId(Ulid);

impl BlockId {
    /// A fresh id.
    pub fn new() -> Self {
        Self(Ulid::new())
    }

    /// Creation time encoded in the id, in ms since the epoch.
    pub fn created_at_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }

    /// `blocks/<id>/`.
    pub fn dir(&self) -> Path {
        Path::from_iter([BLOCKS_DIR, &self.0.to_string()])
    }

    /// `blocks/<id>/series.parquet`.
    pub fn series_path(&self) -> Path {
        self.dir().join(SERIES_FILE)
    }

    /// `blocks/<id>/samples.parquet`.
    pub fn samples_path(&self) -> Path {
        self.dir().join(SAMPLES_FILE)
    }

    /// The block id of an object under `blocks/`, if the path is one.
    pub fn from_object_path(path: &Path) -> Option<Self> {
        let mut parts = path.parts();
        if parts.next()?.as_ref() != BLOCKS_DIR {
            return None;
        }
        parts.next()?.as_ref().parse().ok()
    }
}

impl Default for BlockId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for BlockId {
    type Err = ulid::DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(s).map(Self)
    }
}

/// Position in the commit log. Seq 0 means "nothing committed yet"; the first record is 1.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    /// The next position.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }

    /// `manifest/log/<seq:020>.json`.
    pub fn log_path(self) -> Path {
        Path::from(format!("{LOG_DIR}/{:020}{JSON_EXT}", self.0))
    }

    /// `manifest/checkpoints/<seq:020>.json`.
    pub fn checkpoint_path(self) -> Path {
        Path::from(format!("{CHECKPOINT_DIR}/{:020}{JSON_EXT}", self.0))
    }

    /// Parses the seq out of a log or checkpoint path (`…/<digits>.json`).
    pub fn from_object_path(path: &Path) -> Option<Self> {
        let name = path.filename()?;
        let digits = name.strip_suffix(JSON_EXT)?;
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Self)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_paths_round_trip() {
        let id = BlockId::new();
        assert_eq!(
            id.series_path().to_string(),
            format!("blocks/{id}/series.parquet")
        );
        assert_eq!(BlockId::from_object_path(&id.samples_path()), Some(id));
        assert_eq!(
            BlockId::from_object_path(&Path::from("manifest/log/x.json")),
            None
        );
        assert_eq!(
            BlockId::from_object_path(&Path::from("blocks/not-a-ulid/x")),
            None
        );
    }

    #[test]
    fn seq_paths_sort_and_parse() {
        let a = Seq(9).log_path();
        let b = Seq(10).log_path();
        assert!(
            a.as_ref() < b.as_ref(),
            "zero padding keeps lexical = numeric order"
        );
        assert_eq!(a.as_ref(), "manifest/log/00000000000000000009.json");
        assert_eq!(Seq::from_object_path(&b), Some(Seq(10)));
        assert_eq!(
            Seq::from_object_path(&Seq(7).checkpoint_path()),
            Some(Seq(7))
        );
        assert_eq!(
            Seq::from_object_path(&Path::from("manifest/log/12.json")),
            None
        );
        assert_eq!(Seq::from_object_path(&Path::from("manifest/log/abc")), None);
    }
}
