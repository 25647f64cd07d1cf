//! A consistent view of the committed blocks at one seq.

use std::collections::BTreeMap;

use super::record::{Checkpoint, LogRecord, MANIFEST_FORMAT_VERSION, Tombstone};
use crate::block::BlockMeta;
use crate::paths::{BlockId, Seq};

/// The state of the manifest after applying every record up to `seq`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    seq: Seq,
    blocks: BTreeMap<BlockId, BlockMeta>,
    tombstones: BTreeMap<BlockId, Tombstone>,
}

impl Snapshot {
    /// The last applied seq (0: empty manifest).
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// Live blocks, by id (so by creation time).
    pub fn blocks(&self) -> impl Iterator<Item = &BlockMeta> {
        self.blocks.values()
    }

    /// A live block by id.
    pub fn block(&self, id: &BlockId) -> Option<&BlockMeta> {
        self.blocks.get(id)
    }

    /// Number of live blocks.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// True when no block is live.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Live blocks that may hold samples in `[start, end]` (ms, inclusive).
    pub fn blocks_overlapping(&self, start: i64, end: i64) -> impl Iterator<Item = &BlockMeta> {
        self.blocks.values().filter(move |b| b.overlaps(start, end))
    }

    /// Removed blocks whose files still exist.
    pub fn tombstones(&self) -> impl Iterator<Item = &Tombstone> {
        self.tombstones.values()
    }

    /// True when `id` is live or awaiting purge: its files must not be deleted as orphans.
    pub fn references(&self, id: &BlockId) -> bool {
        self.blocks.contains_key(id) || self.tombstones.contains_key(id)
    }

    pub(crate) fn from_checkpoint(cp: Checkpoint) -> Self {
        Self {
            seq: cp.seq,
            blocks: cp.blocks.into_iter().map(|b| (b.id, b)).collect(),
            tombstones: cp.tombstones.into_iter().map(|t| (t.block.id, t)).collect(),
        }
    }

    pub(crate) fn to_checkpoint(&self, created_at_ms: i64) -> Checkpoint {
        Checkpoint {
            format_version: MANIFEST_FORMAT_VERSION,
            seq: self.seq,
            created_at_ms,
            blocks: self.blocks.values().cloned().collect(),
            tombstones: self.tombstones.values().cloned().collect(),
        }
    }

    /// Applies the record that follows `self.seq`. Adding a block twice, or removing one that
    /// is not live, changes nothing.
    pub(crate) fn apply(&mut self, record: &LogRecord) {
        debug_assert_eq!(record.seq, self.seq.next());
        for b in &record.add {
            if !self.tombstones.contains_key(&b.id) {
                self.blocks.entry(b.id).or_insert_with(|| b.clone());
            }
        }
        for id in &record.remove {
            if let Some(block) = self.blocks.remove(id) {
                let removed_at_ms = record.committed_at_ms;
                self.tombstones.insert(
                    *id,
                    Tombstone {
                        block,
                        removed_at_ms,
                    },
                );
            }
        }
        for id in &record.purge {
            self.tombstones.remove(id);
        }
        self.seq = record.seq;
    }
}
