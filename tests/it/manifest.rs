//! The manifest protocol against the real S3 server: concurrency, crashes, lost responses.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use strata_compactor::{GcOptions, collect_garbage_at};
use strata_storage::manifest::now_ms;
use strata_storage::{
    BlockId, BlockMeta, BlockReader, Labels, METRIC_NAME, Manifest, STALE_NAN_BITS, Seq,
    SeriesSamples, Store, Transaction, encode_block, upload_block,
};

use crate::faulty::{Fault, Faulty};
use crate::s3;

fn block(name: &str, ts: Vec<i64>, values: Vec<f64>) -> strata_storage::EncodedBlock {
    let labels = Labels::from_pairs([(METRIC_NAME, name), ("job", "test")]).unwrap();
    encode_block(vec![SeriesSamples {
        labels,
        timestamps: ts,
        values,
        start_timestamps: Vec::new(),
    }])
    .unwrap()
}

fn fake_meta() -> BlockMeta {
    let mut m = block("m", vec![1], vec![1.0]).meta;
    m.id = BlockId::new();
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_fifty_commits_each_none_lost_none_duplicated() {
    const WRITERS: usize = 16;
    const COMMITS: usize = 50;
    let url = s3::fresh_url();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        // Each writer has its own store client and manifest, as separate processes would.
        let store = s3::open(&url);
        tasks.push(tokio::spawn(async move {
            let manifest = Manifest::new(store, format!("writer-{w}"));
            let mut committed = Vec::new();
            for _ in 0..COMMITS {
                let meta = fake_meta();
                let seq = manifest
                    .commit(Transaction::add(vec![meta.clone()], Instant::now()))
                    .await
                    .unwrap();
                committed.push((seq, meta.id));
            }
            committed
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), WRITERS * COMMITS);
    let seqs: HashSet<Seq> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs.len(),
        WRITERS * COMMITS,
        "every commit got its own seq"
    );
    let snapshot = Manifest::new(s3::open(&url), "reader")
        .snapshot()
        .await
        .unwrap();
    assert_eq!(
        snapshot.seq(),
        Seq((WRITERS * COMMITS) as u64),
        "no gaps, no extra records"
    );
    let live: HashSet<BlockId> = snapshot.blocks().map(|b| b.id).collect();
    let expected: HashSet<BlockId> = all.iter().map(|(_, id)| *id).collect();
    assert_eq!(live, expected, "none lost, none duplicated");
}

#[tokio::test]
async fn crash_between_upload_and_commit_leaves_the_block_invisible() {
    let store = s3::fresh_store();
    let manifest = Manifest::new(store.clone(), "crashy");
    let committed = block("kept", vec![1000], vec![1.0]);
    upload_block(&store, &committed).await.unwrap();
    manifest
        .commit(Transaction::add(
            vec![committed.meta.clone()],
            Instant::now(),
        ))
        .await
        .unwrap();
    // A writer uploads, then dies before committing.
    let crashed = block("lost", vec![2000], vec![2.0]);
    upload_block(&store, &crashed).await.unwrap();

    let snapshot = Manifest::new(store.clone(), "reader")
        .snapshot()
        .await
        .unwrap();
    assert!(
        snapshot.block(&crashed.meta.id).is_none(),
        "uncommitted block is invisible"
    );
    assert!(snapshot.block(&committed.meta.id).is_some());

    // Within the grace period garbage collection leaves it alone; after it, it goes.
    let opts = GcOptions::default();
    let r = collect_garbage_at(&manifest, &opts, now_ms())
        .await
        .unwrap();
    assert_eq!(r.orphan_objects, 0);
    let later = now_ms() + 2 * opts.grace.as_millis() as i64;
    let r = collect_garbage_at(&manifest, &opts, later).await.unwrap();
    assert_eq!(r.orphan_objects, 2, "both files of the crashed upload");
    assert!(
        store
            .get_opt(&crashed.meta.id.series_path())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_opt(&committed.meta.id.series_path())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_retried_put_that_landed_is_not_a_conflict() {
    let inner = s3::fresh_store().object_store().clone();
    let faulty = Faulty::wrap(inner, Fault::LoseCommitResponses(1));
    let store = Store::from_object_store(faulty.clone(), "faulty-s3");
    let manifest = Manifest::new(store.clone(), "retrier");
    let meta = fake_meta();
    let seq = manifest
        .commit(Transaction::add(vec![meta.clone()], Instant::now()))
        .await
        .unwrap();
    assert_eq!(
        faulty.lost_responses(),
        1,
        "the first commit's response was lost"
    );
    assert_eq!(seq, Seq(1), "the retry recognised its own record");
    let snapshot = Manifest::new(store, "reader").snapshot().await.unwrap();
    assert_eq!(snapshot.seq(), Seq(1), "no second record");
    assert_eq!(snapshot.blocks().filter(|b| b.id == meta.id).count(), 1);
}

#[tokio::test]
async fn values_and_timestamps_round_trip_through_s3() {
    let store = s3::fresh_store();
    let values = vec![
        f64::NAN,
        f64::from_bits(STALE_NAN_BITS),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        0.1 + 0.2,
        42.5,
    ];
    let y2100 = 4_102_444_800_000;
    let ts = vec![
        0,
        1,
        86_400_000,
        1_000_000_000_000,
        1_700_000_000_001,
        2_000_000_000_000,
        3_000_000_000_000,
        y2100,
    ];
    let encoded = block("edge", ts.clone(), values.clone());
    upload_block(&store, &encoded).await.unwrap();
    let manifest = Manifest::new(store.clone(), "rt");
    manifest
        .commit(Transaction::add(vec![encoded.meta.clone()], Instant::now()))
        .await
        .unwrap();
    let snapshot = Manifest::new(store.clone(), "reader")
        .snapshot()
        .await
        .unwrap();
    let meta = snapshot.blocks().next().unwrap().clone();
    assert_eq!((meta.min_time, meta.max_time), (0, y2100));
    let reader = BlockReader::new(store, meta);
    let series = reader.series().await.unwrap();
    let got = reader.samples(&series, &[0]).await.unwrap();
    assert_eq!(got[0].timestamps, ts);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got[0].values), bits(&values));
}

#[tokio::test]
async fn concurrent_compactors_cannot_both_replace_a_block() {
    let store = s3::fresh_store();
    let a = fake_meta();
    let setup = Manifest::new(store.clone(), "setup");
    setup
        .commit(Transaction::add(vec![a.clone()], Instant::now()))
        .await
        .unwrap();
    let results = futures::future::join_all((0..4).map(|i| {
        let store = store.clone();
        let a = a.id;
        async move {
            let m = Arc::new(Manifest::new(store, format!("compactor-{i}")));
            m.commit(Transaction::add(vec![fake_meta()], Instant::now()).removing(vec![a]))
                .await
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let snapshot = Manifest::new(store, "reader").snapshot().await.unwrap();
    assert_eq!(snapshot.len(), 1, "exactly one replacement is live");
}
