//! Checkpointing and garbage collection.

use std::collections::HashSet;
use std::time::Duration;

use futures::TryStreamExt;
use strata_storage::manifest::now_ms;
use strata_storage::paths::{BLOCKS_DIR, CHECKPOINT_DIR, LOG_DIR};
use strata_storage::{BlockId, MAX_COMMIT_DELAY, Manifest, Seq, Transaction};

use crate::error::CompactorError;

/// Default grace period before anything is deleted.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// How a pass behaves.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Age an object must reach before it may be deleted. Must exceed the longest query plus
    /// cache lifetime, and [`MAX_COMMIT_DELAY`] (so in-flight uploads are never orphaned).
    pub grace: Duration,
    /// Write a checkpoint once this many records follow the newest one.
    pub checkpoint_every: u64,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            grace: DEFAULT_GRACE,
            // A cold reader GETs every record after the newest checkpoint, one by one: keep
            // that short (measured: ~60 records cost a cold query on S3 half a second).
            checkpoint_every: 10,
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Seq of the checkpoint written, if one was.
    pub checkpoint: Option<u64>,
    /// Removed blocks whose files were deleted and purge committed.
    pub purged_blocks: usize,
    /// Objects of never-committed blocks deleted.
    pub orphan_objects: usize,
    /// Log records deleted.
    pub log_records_deleted: usize,
    /// Old checkpoints deleted.
    pub checkpoints_deleted: usize,
}

/// One pass at the current time.
pub async fn collect_garbage(
    manifest: &Manifest,
    opts: &GcOptions,
) -> Result<GcReport, CompactorError> {
    collect_garbage_at(manifest, opts, now_ms()).await
}

/// One pass, with `now_ms` as the current time (tests move it forward).
pub async fn collect_garbage_at(
    manifest: &Manifest,
    opts: &GcOptions,
    now_ms: i64,
) -> Result<GcReport, CompactorError> {
    if opts.grace <= MAX_COMMIT_DELAY {
        return Err(CompactorError::InvalidOptions(format!(
            "grace period {:?} must exceed the maximum commit delay {:?}",
            opts.grace, MAX_COMMIT_DELAY
        )));
    }
    let grace_ms = opts.grace.as_millis() as i64;
    let cutoff = now_ms - grace_ms;
    let store = manifest.store();
    let mut report = GcReport::default();

    // 1. Checkpoint.
    let snapshot = manifest.snapshot().await?;
    let mut latest_cp = manifest.latest_checkpoint_seq().await?.unwrap_or_default();
    if snapshot.seq().0 >= latest_cp.0 + opts.checkpoint_every.max(1)
        && let Some(seq) = manifest.write_checkpoint().await?
    {
        report.checkpoint = Some(seq.0);
        latest_cp = seq;
    }

    // 2. Purge blocks removed longer ago than the grace period.
    let expired: Vec<BlockId> = snapshot
        .tombstones()
        .filter(|t| t.removed_at_ms < cutoff)
        .map(|t| t.block.id)
        .collect();
    for id in &expired {
        store.delete(&id.series_path()).await?;
        store.delete(&id.samples_path()).await?;
    }
    if !expired.is_empty() {
        report.purged_blocks = expired.len();
        manifest.commit(Transaction::purge(expired)).await?;
    }

    // 3. Orphans: block objects nobody references, older than the grace period. A block
    //    committed after our snapshot was uploaded less than MAX_COMMIT_DELAY ago, so it is
    //    younger than the cutoff and safe.
    let objects: Vec<_> = store
        .list_after(&BLOCKS_DIR.into(), None)
        .try_collect()
        .await?;
    let mut orphan_blocks = HashSet::new();
    for meta in objects {
        let referenced =
            BlockId::from_object_path(&meta.location).is_some_and(|id| snapshot.references(&id));
        if !referenced && meta.last_modified.timestamp_millis() < cutoff {
            if let Some(id) = BlockId::from_object_path(&meta.location) {
                orphan_blocks.insert(id);
            }
            store.delete(&meta.location).await?;
            report.orphan_objects += 1;
        }
    }
    if !orphan_blocks.is_empty() {
        tracing::info!(blocks = orphan_blocks.len(), "deleted uncommitted uploads");
    }

    // 4. Log records and checkpoints superseded by the newest checkpoint. The record at the
    //    checkpoint's seq stays, so readers at older seqs always notice the gap.
    for (dir, counter) in [
        (LOG_DIR, &mut report.log_records_deleted),
        (CHECKPOINT_DIR, &mut report.checkpoints_deleted),
    ] {
        let objects: Vec<_> = store.list_after(&dir.into(), None).try_collect().await?;
        for meta in objects {
            let old = Seq::from_object_path(&meta.location).is_some_and(|s| s < latest_cp);
            if old && meta.last_modified.timestamp_millis() < cutoff {
                store.delete(&meta.location).await?;
                *counter += 1;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use strata_storage::{BlockMeta, Store};

    use super::*;

    fn meta() -> BlockMeta {
        BlockMeta {
            id: BlockId::new(),
            min_time: 0,
            max_time: 1,
            series: 1,
            samples: 1,
            series_bytes: 1,
            samples_bytes: 1,
            format_version: 1,
            resolution_ms: 0,
            level: 1,
            order: 0,
            as_of: 0,
            shard: None,
            parents: Vec::new(),
        }
    }

    async fn upload(store: &Store, m: &BlockMeta) {
        for p in [m.id.series_path(), m.id.samples_path()] {
            store.put(&p, Bytes::from_static(b"x")).await.unwrap();
        }
    }

    async fn exists(store: &Store, m: &BlockMeta) -> bool {
        store.get_opt(&m.id.series_path()).await.unwrap().is_some()
    }

    #[tokio::test]
    async fn full_cycle() {
        let store = Store::open("memory://").unwrap();
        let manifest = Manifest::new(store.clone(), "test");
        let opts = GcOptions {
            checkpoint_every: 3,
            ..Default::default()
        };
        let (a, b, c, orphan) = (meta(), meta(), meta(), meta());
        for m in [&a, &b, &c, &orphan] {
            upload(&store, m).await;
        }
        manifest
            .commit(Transaction::add(vec![a.clone()], Instant::now()))
            .await
            .unwrap();
        manifest
            .commit(Transaction::add(vec![b.clone()], Instant::now()))
            .await
            .unwrap();
        manifest
            .commit(Transaction::add(vec![c.clone()], Instant::now()).removing(vec![a.id]))
            .await
            .unwrap();

        // Now: a checkpoint, but nothing is old enough to delete.
        let r = collect_garbage(&manifest, &opts).await.unwrap();
        assert_eq!(
            r,
            GcReport {
                checkpoint: Some(3),
                ..Default::default()
            }
        );
        assert!(exists(&store, &a).await && exists(&store, &orphan).await);

        // Two hours later: a's files and the orphan go, a's tombstone is purged, and the log
        // below the checkpoint is deleted.
        let later = now_ms() + 2 * 3600 * 1000;
        let r = collect_garbage_at(&manifest, &opts, later).await.unwrap();
        assert_eq!(r.purged_blocks, 1);
        assert_eq!(r.orphan_objects, 2);
        assert_eq!(r.log_records_deleted, 2);
        assert!(!exists(&store, &a).await && !exists(&store, &orphan).await);
        assert!(exists(&store, &b).await && exists(&store, &c).await);

        // A fresh reader still sees exactly b and c.
        let snap = Manifest::new(store.clone(), "reader")
            .snapshot()
            .await
            .unwrap();
        let mut live: Vec<BlockId> = snap.blocks().map(|m| m.id).collect();
        live.sort();
        let mut want = vec![b.id, c.id];
        want.sort();
        assert_eq!(live, want);
        assert_eq!(snap.tombstones().count(), 0);
    }

    #[tokio::test]
    async fn grace_shorter_than_commit_delay_is_refused() {
        let manifest = Manifest::new(Store::open("memory://").unwrap(), "t");
        let opts = GcOptions {
            grace: Duration::from_secs(60),
            ..Default::default()
        };
        assert!(matches!(
            collect_garbage(&manifest, &opts).await,
            Err(CompactorError::InvalidOptions(_))
        ));
    }
}
