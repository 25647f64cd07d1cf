//! The manifest: which blocks are committed, changed atomically by many stateless writers.
//!
//! Protocol (details and failure analysis in `docs/format.md`):
//! 1. A writer uploads block files under fresh ULID names; they are invisible.
//! 2. It commits by creating `manifest/log/<head+1>.json` with create-only semantics
//!    (`If-None-Match: *`). If another writer took that seq, it re-reads the log and tries the
//!    next one. A PUT whose response was lost is retried at the same seq; finding its own
//!    `txn_id` there means it landed.
//! 3. Checkpoints fold the log (`manifest/checkpoints/<seq>.json`, create-only). Readers load
//!    the newest checkpoint and apply the contiguous log entries after it; a gap means garbage
//!    collection raced the reader, which then reloads from the newest checkpoint.
//! 4. Removal is two-phase: a `remove` makes blocks invisible (a tombstone with a time); after a
//!    grace period the compactor deletes the files and commits a `purge`.

mod record;
mod snapshot;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use tokio::sync::Mutex;
use ulid::Ulid;

pub use record::{
    Checkpoint, DeleteRequest, LogRecord, MANIFEST_FORMAT_VERSION, Quarantine, RetentionPolicy,
    Tombstone, now_ms,
};
pub use snapshot::Snapshot;

use crate::block::BlockMeta;
use crate::error::{Result, StorageError};
use crate::paths::{BlockId, CHECKPOINT_DIR, LOG_DIR, Seq};
use crate::store::{Created, Store};

/// Longest a writer may take from starting an upload to committing it. Garbage collection
/// must use a grace period longer than this (see `strata-compactor`).
pub const MAX_COMMIT_DELAY: Duration = Duration::from_secs(30 * 60);
/// Attempts at one seq when the store fails in a way that leaves the outcome unknown.
const PUT_RETRIES: u32 = 5;
/// Seqs a commit may lose to other writers before giving up.
const MAX_COMMIT_ROUNDS: u32 = 10_000;
/// Reloads a reader tries when garbage collection keeps racing it.
const MAX_RELOADS: u32 = 5;
/// Log records fetched concurrently while catching up.
const FETCH_CONCURRENCY: usize = 16;

/// A change to commit atomically.
#[derive(Debug, Clone)]
pub struct Transaction {
    txn_id: Ulid,
    add: Vec<BlockMeta>,
    remove: Vec<BlockId>,
    purge: Vec<BlockId>,
    delete: Option<DeleteRequest>,
    retire_deletes: Vec<u64>,
    quarantine: Vec<Quarantine>,
    release: Vec<BlockId>,
    retention: Option<RetentionPolicy>,
    started: Instant,
}

impl Transaction {
    /// Makes `blocks` visible. `upload_started` is when their upload began: a commit later
    /// than [`MAX_COMMIT_DELAY`] after it is refused.
    pub fn add(blocks: Vec<BlockMeta>, upload_started: Instant) -> Self {
        Self {
            txn_id: Ulid::new(),
            add: blocks,
            remove: Vec::new(),
            purge: Vec::new(),
            delete: None,
            retire_deletes: Vec::new(),
            quarantine: Vec::new(),
            release: Vec::new(),
            retention: None,
            started: upload_started,
        }
    }

    /// A transaction that changes no block (deletion requests, quarantine, settings).
    pub fn empty() -> Self {
        Self::add(Vec::new(), Instant::now())
    }

    /// Commits a deletion request (in force from this transaction's seq on).
    pub fn deleting(mut self, request: DeleteRequest) -> Self {
        self.delete = Some(request);
        self
    }

    /// Drops deletion requests (by seq) that no live block needs any more.
    pub fn retiring_deletes(mut self, seqs: Vec<u64>) -> Self {
        self.retire_deletes = seqs;
        self
    }

    /// Quarantines blocks (the compactor skips them until released).
    pub fn quarantining(mut self, blocks: Vec<Quarantine>) -> Self {
        self.quarantine = blocks;
        self
    }

    /// Releases quarantined blocks.
    pub fn releasing(mut self, blocks: Vec<BlockId>) -> Self {
        self.release = blocks;
        self
    }

    /// Sets the retention policy.
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = Some(policy);
        self
    }

    /// The blocks this transaction adds.
    pub fn added(&self) -> &[BlockMeta] {
        &self.add
    }

    /// Also removes `blocks`; the commit fails with [`StorageError::Conflict`] if any of them is
    /// no longer live (another compactor got there first).
    pub fn removing(mut self, blocks: Vec<BlockId>) -> Self {
        self.remove = blocks;
        self
    }

    /// Drops the tombstones of blocks whose files were deleted.
    pub fn purge(blocks: Vec<BlockId>) -> Self {
        Self {
            purge: blocks,
            ..Self::add(Vec::new(), Instant::now())
        }
    }

    /// The id that recognises this transaction across retries.
    pub fn txn_id(&self) -> Ulid {
        self.txn_id
    }
}

/// Reads and commits the manifest of one store. Keeps the last snapshot and catches up
/// incrementally (one LIST when nothing changed).
#[derive(Debug)]
pub struct Manifest {
    store: Store,
    writer: String,
    cached: Mutex<Arc<Snapshot>>,
    /// Highest seq this handle committed or saw taken: where the next commit starts.
    head_hint: AtomicU64,
}

impl Manifest {
    /// A manifest handle; `writer` names this process in the records it commits.
    pub fn new(store: Store, writer: impl Into<String>) -> Self {
        Self {
            store,
            writer: writer.into(),
            cached: Mutex::new(Arc::new(Snapshot::default())),
            head_hint: AtomicU64::new(0),
        }
    }

    /// The store this manifest lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current committed state.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let mut cached = self.cached.lock().await;
        let fresh = self.catch_up(cached.clone()).await?;
        *cached = fresh.clone();
        Ok(fresh)
    }

    /// Brings `base` up to the head of the log.
    async fn catch_up(&self, base: Arc<Snapshot>) -> Result<Arc<Snapshot>> {
        let mut base = base;
        if base.seq() == Seq(0)
            && let Some(cp) = self.load_latest_checkpoint().await?
        {
            base = Arc::new(cp);
        }
        for _ in 0..MAX_RELOADS {
            match self.apply_log_after(&base).await? {
                Some(snapshot) => return Ok(snapshot),
                None => {
                    // A gap: garbage collection deleted records we have not applied.
                    let cp = self.load_latest_checkpoint().await?;
                    match cp {
                        Some(cp) if cp.seq() > base.seq() => base = Arc::new(cp),
                        _ => {
                            return Err(StorageError::corrupt(
                                LOG_DIR,
                                format!(
                                    "log has a gap after seq {} and no newer checkpoint",
                                    base.seq()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Err(StorageError::Unsettled {
            what: "log",
            attempts: MAX_RELOADS,
        })
    }

    /// Applies the log records after `base`; `None` when they do not continue it.
    async fn apply_log_after(&self, base: &Arc<Snapshot>) -> Result<Option<Arc<Snapshot>>> {
        let seqs = self.list_seqs(LOG_DIR, base.seq()).await?;
        if seqs.is_empty() {
            return Ok(Some(base.clone()));
        }
        if seqs
            .iter()
            .zip(base.seq().0 + 1..)
            .any(|(s, want)| s.0 != want)
        {
            return Ok(None);
        }
        let records: Vec<Option<LogRecord>> = futures::stream::iter(seqs)
            .map(|seq| self.read_record(seq))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut next = (**base).clone();
        for record in records {
            match record {
                Some(r) => next.apply(&r),
                None => return Ok(None), // deleted while we read
            }
        }
        Ok(Some(Arc::new(next)))
    }

    /// Seqs of objects under `dir` after `after`, ascending.
    async fn list_seqs(&self, dir: &str, after: Seq) -> Result<Vec<Seq>> {
        let prefix = Path::from(dir);
        let offset = (after.0 > 0).then(|| {
            if dir == LOG_DIR {
                after.log_path()
            } else {
                after.checkpoint_path()
            }
        });
        let mut seqs: Vec<Seq> = self
            .store
            .list_after(&prefix, offset.as_ref())
            .try_filter_map(|m| async move { Ok(Seq::from_object_path(&m.location)) })
            .try_collect()
            .await?;
        seqs.retain(|s| *s > after);
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The log record at `seq`; `None` when it does not exist.
    pub async fn read_record(&self, seq: Seq) -> Result<Option<LogRecord>> {
        let path = seq.log_path();
        let Some(bytes) = self.store.get_opt(&path).await? else {
            return Ok(None);
        };
        let record: LogRecord = record::decode(&path, &bytes)?;
        if record.seq != seq {
            return Err(StorageError::corrupt(
                &path,
                format!("holds seq {}", record.seq),
            ));
        }
        Ok(Some(record))
    }

    /// Seq of the newest checkpoint, if any.
    pub async fn latest_checkpoint_seq(&self) -> Result<Option<Seq>> {
        Ok(self
            .list_seqs(CHECKPOINT_DIR, Seq(0))
            .await?
            .last()
            .copied())
    }

    async fn load_latest_checkpoint(&self) -> Result<Option<Snapshot>> {
        for _ in 0..MAX_RELOADS {
            let Some(seq) = self.latest_checkpoint_seq().await? else {
                return Ok(None);
            };
            let path = seq.checkpoint_path();
            if let Some(bytes) = self.store.get_opt(&path).await? {
                let cp: Checkpoint = record::decode(&path, &bytes)?;
                if cp.seq != seq {
                    return Err(StorageError::corrupt(
                        &path,
                        format!("holds seq {}", cp.seq),
                    ));
                }
                return Ok(Some(Snapshot::from_checkpoint(cp)));
            }
        }
        Err(StorageError::Unsettled {
            what: "checkpoint",
            attempts: MAX_RELOADS,
        })
    }

    /// Commits `txn` atomically and returns its seq.
    ///
    /// A transaction that only adds blocks conflicts with nothing: after losing a seq it needs
    /// only the new head (one LIST), not the records in between. One that removes blocks
    /// catches up fully and re-validates that its blocks are still live.
    pub async fn commit(&self, txn: Transaction) -> Result<Seq> {
        let elapsed = txn.started.elapsed();
        if !txn.add.is_empty() && elapsed > MAX_COMMIT_DELAY {
            return Err(StorageError::CommitTooLate {
                elapsed,
                limit: MAX_COMMIT_DELAY,
            });
        }
        // Start from the newest seq we know of; losing it costs one LIST to find the head.
        let mut head =
            Seq(self.head_hint.load(Ordering::Relaxed)).max(self.cached.lock().await.seq());
        for round in 0..MAX_COMMIT_ROUNDS {
            if !txn.remove.is_empty() {
                let snapshot = self.snapshot().await?;
                check_removals(&snapshot, &txn)?;
                head = snapshot.seq();
            }
            let seq = head.next();
            let record = LogRecord {
                format_version: MANIFEST_FORMAT_VERSION,
                seq,
                txn_id: txn.txn_id,
                writer: self.writer.clone(),
                committed_at_ms: now_ms(),
                add: txn.add.clone(),
                remove: txn.remove.clone(),
                purge: txn.purge.clone(),
                delete: txn.delete.clone(),
                retire_deletes: txn.retire_deletes.clone(),
                quarantine: txn.quarantine.clone(),
                release: txn.release.clone(),
                retention: txn.retention,
            };
            let body =
                Bytes::from(
                    serde_json::to_vec(&record).map_err(|source| StorageError::Json {
                        path: seq.log_path().to_string(),
                        source,
                    })?,
                );
            if self.create_record(seq, body, txn.txn_id).await? {
                tracing::debug!(%seq, txn = %txn.txn_id, "committed");
                self.head_hint.fetch_max(seq.0, Ordering::Relaxed);
                return Ok(seq);
            }
            // Another writer holds `seq`. Back off a little when contended, then find the head.
            // Randomised exponential backoff spreads contending writers out.
            let window_ms = 4u64 << round.min(6);
            let ms = xorshift(txn.txn_id.random() as u64 ^ u64::from(round)) % window_ms;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            head = self
                .list_seqs(LOG_DIR, seq)
                .await?
                .last()
                .copied()
                .unwrap_or(seq);
        }
        Err(StorageError::Unsettled {
            what: "commit",
            attempts: MAX_COMMIT_ROUNDS,
        })
    }

    /// Tries to create the record at `seq`. `Ok(true)`: it is ours (now, or from an earlier
    /// attempt whose response was lost); `Ok(false)`: another transaction holds the seq.
    async fn create_record(&self, seq: Seq, body: Bytes, txn_id: Ulid) -> Result<bool> {
        let path = seq.log_path();
        let mut attempt = 0;
        loop {
            match self.store.put_create(&path, body.clone()).await {
                Ok(Created::Yes) => return Ok(true),
                Ok(Created::AlreadyExists) => {
                    // Our own earlier attempt may have landed: the store's client retries
                    // internally too, so check the record whenever it exists.
                    let existing = self.read_record(seq).await?;
                    return Ok(existing.is_some_and(|r| r.txn_id == txn_id));
                }
                Err(e) if attempt + 1 < PUT_RETRIES => {
                    // The outcome is unknown: the PUT may have landed. Retrying the same
                    // create-only PUT is safe and tells us which.
                    attempt += 1;
                    tracing::warn!(%seq, attempt, "retrying commit after error: {e}");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                // The PUT may have landed: callers must not delete what it commits.
                Err(e) => return Err(StorageError::CommitOutcomeUnknown(Box::new(e))),
            }
        }
    }

    /// Writes a checkpoint of the current state (create-only; an existing checkpoint at the
    /// same seq is fine). Returns its seq, or `None` for an empty log.
    pub async fn write_checkpoint(&self) -> Result<Option<Seq>> {
        let snapshot = self.snapshot().await?;
        if snapshot.seq() == Seq(0) {
            return Ok(None);
        }
        let cp = snapshot.to_checkpoint(now_ms());
        let path = cp.seq.checkpoint_path();
        let body = serde_json::to_vec(&cp).map_err(|source| StorageError::Json {
            path: path.to_string(),
            source,
        })?;
        self.store.put_create(&path, Bytes::from(body)).await?;
        Ok(Some(cp.seq))
    }
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn check_removals(snapshot: &Snapshot, txn: &Transaction) -> Result<()> {
    let gone: Vec<String> = txn
        .remove
        .iter()
        .filter(|id| snapshot.block(id).is_none())
        .map(ToString::to_string)
        .collect();
    if gone.is_empty() {
        Ok(())
    } else {
        Err(StorageError::Conflict {
            seq: snapshot.seq().0,
            blocks: gone,
        })
    }
}

#[cfg(test)]
mod tests;
