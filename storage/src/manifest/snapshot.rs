//! A consistent view of the committed blocks at one seq.

use std::collections::BTreeMap;

use super::record::{
    Checkpoint, DeleteRequest, LogRecord, MANIFEST_FORMAT_VERSION, Quarantine, RetentionPolicy,
    Tombstone,
};
use crate::block::BlockMeta;
use crate::paths::{BlockId, Seq};

/// The state of the manifest after applying every record up to `seq`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    seq: Seq,
    blocks: BTreeMap<BlockId, BlockMeta>,
    tombstones: BTreeMap<BlockId, Tombstone>,
    /// Deletion requests in force, by the seq that committed them.
    deletes: BTreeMap<u64, DeleteRequest>,
    /// Quarantined blocks and why.
    quarantined: BTreeMap<BlockId, String>,
    retention: RetentionPolicy,
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

    /// Live blocks of every resolution that may hold samples in `[start, end]` (ms,
    /// inclusive). Readers of samples use [`Snapshot::blocks_at`], which keeps one resolution.
    pub fn blocks_overlapping(&self, start: i64, end: i64) -> impl Iterator<Item = &BlockMeta> {
        self.blocks.values().filter(move |b| b.overlaps(start, end))
    }

    /// The aggregate blocks of `resolution_ms` that answer for their whole time span within
    /// `[start, end]`, in time order: of blocks with overlapping spans the one of highest
    /// precedence, and only if no raw block overlapping its span was committed after the
    /// blocks it was built from (a larger `order`: late samples it does not hold). Readers
    /// use these and fall back to finer data elsewhere; the compactor re-downsamples the rest.
    pub fn current_aggregates(&self, resolution_ms: i64, start: i64, end: i64) -> Vec<&BlockMeta> {
        let mut candidates: Vec<&BlockMeta> = self
            .blocks_at(resolution_ms, start, end)
            .filter(|b| resolution_ms > 0 && !self.is_quarantined(&b.id))
            .collect();
        candidates.sort_by_key(|b| std::cmp::Reverse(b.precedence()));
        let mut chosen: Vec<&BlockMeta> = Vec::new();
        for b in candidates {
            if chosen.iter().any(|c| c.overlaps(b.min_time, b.max_time)) {
                continue;
            }
            let late = self
                .blocks_at(crate::RAW_RESOLUTION, b.min_time, b.max_time)
                .any(|r| r.order > b.order);
            if !late {
                chosen.push(b);
            }
        }
        chosen.sort_by_key(|b| b.min_time);
        chosen
    }

    /// Live blocks of `resolution_ms` (0: raw samples) that may hold samples in
    /// `[start, end]`: raw readers never see aggregate blocks.
    pub fn blocks_at(
        &self,
        resolution_ms: i64,
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = &BlockMeta> {
        self.blocks_overlapping(start, end)
            .filter(move |b| b.resolution_ms == resolution_ms)
    }

    /// Deletion requests in force, with the seq that committed each.
    pub fn deletes(&self) -> impl Iterator<Item = (u64, &DeleteRequest)> {
        self.deletes.iter().map(|(seq, d)| (*seq, d))
    }

    /// The deletion requests that apply to `block`: those committed after its `as_of`.
    pub fn deletes_for(&self, block: &BlockMeta) -> Vec<&DeleteRequest> {
        self.deletes
            .range(block.as_of + 1..)
            .map(|(_, d)| d)
            .filter(|d| d.overlaps(block.min_time, block.max_time))
            .collect()
    }

    /// Quarantined blocks and the reasons.
    pub fn quarantined(&self) -> impl Iterator<Item = (&BlockId, &str)> {
        self.quarantined.iter().map(|(id, r)| (id, r.as_str()))
    }

    /// Whether `id` is quarantined.
    pub fn is_quarantined(&self, id: &BlockId) -> bool {
        self.quarantined.contains_key(id)
    }

    /// The retention policy in force.
    pub fn retention(&self) -> RetentionPolicy {
        self.retention
    }

    /// Removed blocks whose files still exist.
    pub fn tombstones(&self) -> impl Iterator<Item = &Tombstone> {
        self.tombstones.values()
    }

    /// True when `id` is live or awaiting purge: its files must not be deleted as orphans.
    pub fn references(&self, id: &BlockId) -> bool {
        self.blocks.contains_key(id) || self.tombstones.contains_key(id)
    }

    /// The state after applying `records` (seqs 1, 2, …) to an empty manifest: for planning
    /// tests that need no store.
    pub fn from_records(records: &[LogRecord]) -> Self {
        let mut s = Self::default();
        for r in records {
            s.apply(r);
        }
        s
    }

    pub(crate) fn from_checkpoint(cp: Checkpoint) -> Self {
        Self {
            seq: cp.seq,
            blocks: cp.blocks.into_iter().map(|b| (b.id, b)).collect(),
            tombstones: cp.tombstones.into_iter().map(|t| (t.block.id, t)).collect(),
            deletes: cp.deletes.into_iter().collect(),
            quarantined: cp
                .quarantined
                .into_iter()
                .map(|q| (q.block, q.reason))
                .collect(),
            retention: cp.retention,
        }
    }

    pub(crate) fn to_checkpoint(&self, created_at_ms: i64) -> Checkpoint {
        Checkpoint {
            format_version: MANIFEST_FORMAT_VERSION,
            seq: self.seq,
            created_at_ms,
            blocks: self.blocks.values().cloned().collect(),
            tombstones: self.tombstones.values().cloned().collect(),
            deletes: self.deletes.iter().map(|(s, d)| (*s, d.clone())).collect(),
            quarantined: self
                .quarantined
                .iter()
                .map(|(block, reason)| Quarantine {
                    block: *block,
                    reason: reason.clone(),
                })
                .collect(),
            retention: self.retention,
        }
    }

    /// Applies the record that follows `self.seq`. Adding a block twice, or removing one that
    /// is not live, changes nothing. An added block's `order` and `as_of` default to the
    /// record's seq.
    pub(crate) fn apply(&mut self, record: &LogRecord) {
        debug_assert_eq!(record.seq, self.seq.next());
        let seq = record.seq.0;
        for b in &record.add {
            if !self.tombstones.contains_key(&b.id) {
                self.blocks.entry(b.id).or_insert_with(|| {
                    let mut b = b.clone();
                    if b.order == 0 {
                        b.order = seq;
                    }
                    if b.as_of == 0 {
                        b.as_of = seq;
                    }
                    b
                });
            }
        }
        if let Some(d) = &record.delete {
            self.deletes.insert(seq, d.clone());
        }
        for id in &record.retire_deletes {
            self.deletes.remove(id);
        }
        for q in &record.quarantine {
            if self.blocks.contains_key(&q.block) {
                self.quarantined.insert(q.block, q.reason.clone());
            }
        }
        for id in &record.release {
            self.quarantined.remove(id);
        }
        if let Some(r) = record.retention {
            self.retention = r;
        }
        for id in &record.remove {
            self.quarantined.remove(id);
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
