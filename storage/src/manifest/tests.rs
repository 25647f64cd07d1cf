use std::time::{Duration, Instant};

use super::*;
use crate::block::BLOCK_FORMAT_VERSION;

fn meta(min_time: i64) -> BlockMeta {
    BlockMeta {
        id: BlockId::new(),
        min_time,
        max_time: min_time + 1000,
        series: 1,
        samples: 10,
        series_bytes: 100,
        samples_bytes: 200,
        format_version: BLOCK_FORMAT_VERSION,
        resolution_ms: 0,
        level: 1,
        order: 0,
        as_of: 0,
        shard: None,
        parents: Vec::new(),
    }
}

fn manifest(store: &Store) -> Manifest {
    Manifest::new(store.clone(), "test")
}

#[tokio::test]
async fn commit_then_snapshot_sees_blocks() {
    let store = Store::open("memory://").unwrap();
    let m = manifest(&store);
    assert_eq!(m.snapshot().await.unwrap().seq(), Seq(0));
    let a = meta(0);
    let seq = m
        .commit(Transaction::add(vec![a.clone()], Instant::now()))
        .await
        .unwrap();
    assert_eq!(seq, Seq(1));
    let other = manifest(&store).snapshot().await.unwrap();
    assert_eq!(other.seq(), Seq(1));
    // Unset precedence and deletion horizon take the adding record's seq.
    let committed = BlockMeta {
        order: 1,
        as_of: 1,
        ..a.clone()
    };
    assert_eq!(other.block(&a.id), Some(&committed));
}

#[tokio::test]
async fn removal_is_two_phase_and_conflicts_are_detected() {
    let store = Store::open("memory://").unwrap();
    let m = manifest(&store);
    let (a, b, c) = (meta(0), meta(1), meta(2));
    m.commit(Transaction::add(vec![a.clone(), b.clone()], Instant::now()))
        .await
        .unwrap();
    m.commit(Transaction::add(vec![c.clone()], Instant::now()).removing(vec![a.id, b.id]))
        .await
        .unwrap();
    let snap = m.snapshot().await.unwrap();
    assert_eq!(snap.blocks().map(|b| b.id).collect::<Vec<_>>(), vec![c.id]);
    assert_eq!(snap.tombstones().count(), 2);
    assert!(
        snap.references(&a.id),
        "tombstoned files are not orphans yet"
    );
    // A second compactor that merged the same blocks loses.
    let err = m
        .commit(Transaction::add(vec![meta(3)], Instant::now()).removing(vec![a.id]))
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict { .. }), "{err}");
    m.commit(Transaction::purge(vec![a.id, b.id]))
        .await
        .unwrap();
    let snap = m.snapshot().await.unwrap();
    assert_eq!(snap.tombstones().count(), 0);
    assert!(!snap.references(&a.id));
}

#[tokio::test]
async fn checkpoint_then_log_reads_the_same_state() {
    let store = Store::open("memory://").unwrap();
    let m = manifest(&store);
    for i in 0..5 {
        m.commit(Transaction::add(vec![meta(i)], Instant::now()))
            .await
            .unwrap();
    }
    assert_eq!(m.write_checkpoint().await.unwrap(), Some(Seq(5)));
    for i in 5..8 {
        m.commit(Transaction::add(vec![meta(i)], Instant::now()))
            .await
            .unwrap();
    }
    // Delete the log below the checkpoint, as garbage collection does.
    for s in 1..5 {
        store.delete(&Seq(s).log_path()).await.unwrap();
    }
    let fresh = manifest(&store).snapshot().await.unwrap();
    assert_eq!(fresh.seq(), Seq(8));
    assert_eq!(fresh.len(), 8);
    assert_eq!(*fresh, *m.snapshot().await.unwrap());
}

#[tokio::test]
async fn stale_reader_recovers_from_a_gap() {
    let store = Store::open("memory://").unwrap();
    let writer = manifest(&store);
    let reader = manifest(&store);
    writer
        .commit(Transaction::add(vec![meta(0)], Instant::now()))
        .await
        .unwrap();
    assert_eq!(reader.snapshot().await.unwrap().seq(), Seq(1));
    for i in 1..6 {
        writer
            .commit(Transaction::add(vec![meta(i)], Instant::now()))
            .await
            .unwrap();
    }
    writer.write_checkpoint().await.unwrap();
    for s in 1..6 {
        store.delete(&Seq(s).log_path()).await.unwrap();
    }
    let snap = reader.snapshot().await.unwrap();
    assert_eq!((snap.seq(), snap.len()), (Seq(6), 6));
}

#[tokio::test]
async fn late_commits_are_refused() {
    let store = Store::open("memory://").unwrap();
    let long_ago = Instant::now()
        .checked_sub(MAX_COMMIT_DELAY + Duration::from_secs(1))
        .unwrap_or_else(Instant::now);
    if long_ago.elapsed() > MAX_COMMIT_DELAY {
        let err = manifest(&store)
            .commit(Transaction::add(vec![meta(0)], long_ago))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::CommitTooLate { .. }), "{err}");
    }
}

#[tokio::test]
async fn newer_format_versions_are_refused() {
    let store = Store::open("memory://").unwrap();
    let body = br#"{"format_version": 99, "seq": 1, "txn_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "writer": "x", "committed_at_ms": 0}"#;
    store
        .put(&Seq(1).log_path(), Bytes::from_static(body))
        .await
        .unwrap();
    let err = manifest(&store).snapshot().await.unwrap_err();
    assert!(
        matches!(err, StorageError::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );
}
