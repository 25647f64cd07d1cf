//! The compactor against the real S3 server: a fault at every object-store call of a pass and
//! then recovery, four compactors with writers committing, and a deletion racing a compaction.
//! Each checks that no answer changes, nothing is lost or duplicated, and no file is left over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use strata_compactor::{Compactor, CompactorConfig, GcOptions, HOUR_2_MS};
use strata_query::{MatchOp, Matcher, ReadOptions, Selection, select_series};
use strata_storage::clock::ManualClock;
use strata_storage::{
    BlockId, DeleteRequest, Labels, Manifest, SeriesSamples, Store, Transaction, encode_block,
    upload_block,
};

use crate::faulty::{Fault, Faulty};
use crate::s3;

/// Start of the data: a closed 2h window long ago.
const T0: i64 = 1000 * HOUR_2_MS;
const MINUTE: i64 = 60_000;

/// The compactor's clock: two days after the wall clock, so that every window is closed and
/// every file this test wrote is past the garbage-collection grace.
fn later(days: i64) -> i64 {
    strata_storage::manifest::now_ms() + days * 24 * 3_600_000
}

/// Flush piece `p` (20 minutes at 10 s) of four series; its last sample is also the next
/// piece's first timestamp with a wrong value, which the next (later) commit must outrank
/// (except at the end of a window, which a flush block never crosses).
fn piece(p: i64) -> Vec<SeriesSamples> {
    let (from, to) = (T0 + p * 20 * MINUTE, T0 + (p + 1) * 20 * MINUTE);
    (0..4)
        .map(|i| {
            let mut timestamps: Vec<i64> = (from..to).step_by(10_000).collect();
            let mut values: Vec<f64> = timestamps
                .iter()
                .map(|t| ((t - T0) / 1000) as f64 + f64::from(i) * 1e6)
                .collect();
            if (p + 1) % 6 != 0 {
                timestamps.push(to);
                values.push(-1.0);
            }
            SeriesSamples {
                labels: Labels::from_pairs([
                    ("__name__", "m".to_string()),
                    ("job", "j".to_string()),
                    ("i", i.to_string()),
                ])
                .unwrap(),
                timestamps,
                values,
                start_timestamps: Vec::new(),
            }
        })
        .collect()
}

/// Commits piece `p`; with `drop_trailing`, without the sample that duplicates the next
/// piece's first (when no later commit is to outrank it, or none may conflict).
async fn commit_piece(manifest: &Manifest, p: i64, drop_trailing: bool) {
    let mut series = piece(p);
    if drop_trailing && (p + 1) % 6 != 0 {
        for s in &mut series {
            s.timestamps.pop();
            s.values.pop();
        }
    }
    let block = encode_block(series).unwrap();
    upload_block(manifest.store(), &block).await.unwrap();
    manifest
        .commit(Transaction::add(vec![block.meta], Instant::now()))
        .await
        .unwrap();
}

/// Three flush blocks of one closed window.
async fn seed(store: &Store) {
    let manifest = Manifest::new(store.clone(), "writer");
    for p in 0..3 {
        // Nothing comes after the last piece to outrank its trailing sample.
        commit_piece(&manifest, p, p == 2).await;
    }
}

type Answers = BTreeMap<String, Vec<(i64, u64)>>;

async fn answers(store: &Store) -> Answers {
    let snapshot = Manifest::new(store.clone(), "reader")
        .snapshot()
        .await
        .unwrap();
    let sel = Selection {
        matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()],
        start: i64::MIN,
        end: i64::MAX,
        max_samples: usize::MAX,
        read: ReadOptions {
            now_ms: later(0),
            replica_labels: Vec::new(),
        },
        instant: None,
    };
    select_series(store, &snapshot, &sel)
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let points = s
                .timestamps
                .iter()
                .zip(&s.values)
                .map(|(&t, v)| (t, v.to_bits()))
                .collect();
            (s.labels.to_string(), points)
        })
        .collect()
}

fn compactor(store: &Store, now: i64, name: &str) -> Compactor {
    Compactor::new(
        Manifest::new(store.clone(), name),
        CompactorConfig {
            day_blocks: false,
            late_grace_ms: 0,
            // These tests count merged raw blocks; downsampling is tested in the compactor's
            // own suite.
            downsample: Vec::new(),
            ..Default::default()
        },
        GcOptions::default(),
        ManualClock::new(now),
        name,
    )
}

/// The blocks that have files in the store.
async fn block_files(store: &Store) -> BTreeSet<BlockId> {
    store
        .object_store()
        .list(Some(&Path::from("blocks")))
        .try_filter_map(|m| async move { Ok(BlockId::from_object_path(&m.location)) })
        .try_collect()
        .await
        .unwrap()
}

async fn live(store: &Store) -> BTreeSet<BlockId> {
    Manifest::new(store.clone(), "r")
        .snapshot()
        .await
        .unwrap()
        .blocks()
        .map(|b| b.id)
        .collect()
}

/// A crash before every object-store call of a pass, and a failure of every call (writes
/// landing with their response lost): a reader never sees a different answer, and a healthy
/// compactor afterwards merges the window, with no file left that no block owns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_at_every_call_of_a_pass_then_recovery() {
    let reference = s3::fresh_store();
    seed(&reference).await;
    let expected = answers(&reference).await;
    assert_eq!(expected.len(), 4);
    let counting = Faulty::wrap(reference.object_store().clone(), Fault::Count);
    let counted = Store::from_object_store(counting.clone(), "counting");
    let report = compactor(&counted, later(2), "c")
        .run_once(None)
        .await
        .unwrap();
    assert_eq!((report.jobs, report.failed), (1, 0));
    assert_eq!(answers(&reference).await, expected);
    let calls = counting.calls();
    assert!(calls > 10, "a pass makes {calls} calls");
    eprintln!("a pass makes {calls} object-store calls");

    // Faults are independent: try several at once.
    let faults: Vec<Fault> = (0..calls)
        .flat_map(|i| [Fault::CrashAt(i), Fault::FailCall(i)])
        .collect();
    let failed: Vec<bool> = futures::stream::iter(faults)
        .map(|fault| fault_then_recovery(fault, &expected))
        .buffer_unordered(4)
        .collect()
        .await;
    let failed_passes = failed.iter().filter(|f| **f).count();
    assert!(
        failed_passes > calls,
        "most faults fail the pass: {failed_passes} of {}",
        2 * calls
    );
}

/// Every key of the store's bucket.
async fn keys(store: &Store) -> Vec<Path> {
    store
        .object_store()
        .list(None)
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .unwrap()
}

/// Deletes everything: keeps the bucket small, since moto lists a prefix by scanning every
/// key of the bucket.
async fn empty(store: &Store) {
    for path in keys(store).await {
        store.delete(&path).await.unwrap();
    }
}

/// Seeds a fresh store, runs a pass with `fault`, then checks that a reader never saw a
/// different answer and that a healthy compactor recovers. Returns whether the pass failed.
async fn fault_then_recovery(fault: Fault, expected: &Answers) -> bool {
    let clean = s3::fresh_store();
    seed(&clean).await;
    let faulty =
        Store::from_object_store(Faulty::wrap(clean.object_store().clone(), fault), "faulty");
    let failed_pass = !matches!(
        compactor(&faulty, later(2), "faulty").run_once(None).await,
        Ok(r) if r.failed == 0
    );
    assert_eq!(
        &answers(&clean).await,
        expected,
        "{fault:?}: answers changed"
    );
    // Recovery: another compactor once the claim expired (its garbage collection, a day
    // later, also takes whatever the failed pass left).
    let r = compactor(&clean, later(3), "healthy")
        .run_once(None)
        .await
        .unwrap();
    assert_eq!(r.failed, 0, "{fault:?}");
    assert_eq!(
        &answers(&clean).await,
        expected,
        "{fault:?}: after recovery"
    );
    let live = live(&clean).await;
    assert_eq!(live.len(), 1, "{fault:?}: the window is merged");
    assert_eq!(
        block_files(&clean).await,
        live,
        "{fault:?}: files nobody owns"
    );
    let snapshot = Manifest::new(clean.clone(), "r").snapshot().await.unwrap();
    assert_eq!(snapshot.quarantined().count(), 0, "{fault:?}");
    empty(&clean).await;
    failed_pass
}

/// Four compactors run passes while two writers commit flush blocks into closed windows (late
/// data) and an open one: nothing is lost or duplicated, and no job fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_compactors_with_writers_committing() {
    let url = s3::fresh_url();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let store = s3::open(&url);
            tokio::spawn(async move {
                let manifest = Manifest::new(store, format!("writer-{w}"));
                // Writer w commits every other piece of 3 windows (18 pieces).
                // No conflicting duplicates between writers: the trailing sample goes.
                for p in (w..18).step_by(2) {
                    commit_piece(&manifest, p, true).await;
                }
            })
        })
        .collect();
    let compactors: Vec<_> = (0..4)
        .map(|c| {
            let store = s3::open(&url);
            let done = done.clone();
            tokio::spawn(async move {
                // The real clock: garbage collection must not take the writers' uploads
                // in flight for orphans.
                let compactor = compactor(&store, later(0), &format!("compactor-{c}"));
                let mut failed = 0;
                let mut jobs = 0;
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                    let r = compactor.run_once(None).await.unwrap();
                    failed += r.failed;
                    jobs += r.jobs;
                    if finished && r.jobs == 0 && r.busy == 0 {
                        return (jobs, failed);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut jobs = 0;
    for c in compactors {
        let (j, failed) = c.await.unwrap();
        assert_eq!(failed, 0, "no job fails");
        jobs += j;
    }
    assert!(jobs >= 3, "the windows were merged ({jobs} jobs)");
    let store = s3::open(&url);
    // Settle: whatever the last passes left due.
    let last = compactor(&store, later(0), "last");
    while last.run_once(None).await.unwrap().jobs > 0 {}
    let got = answers(&store).await;
    assert_eq!(got.len(), 4);
    for (series, points) in &got {
        assert_eq!(points.len(), 18 * 120, "{series}: every sample once");
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
    }
    assert_eq!(live(&store).await.len(), 3, "one block per window");
}

/// A deletion committed while a compaction job is writing its output: the merged block never
/// brings the deleted samples back, and clean_tombstones then removes them for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_racing_a_compaction_is_never_resurrected() {
    let clean = s3::fresh_store();
    seed(&clean).await;
    let all = answers(&clean).await;
    let faulty = Faulty::wrap(clean.object_store().clone(), Fault::PauseFirstBlockWrite);
    let pause = faulty.pause();
    let paused = Store::from_object_store(faulty, "paused");
    let job = tokio::spawn(async move { compactor(&paused, later(2), "c").run_once(None).await });
    pause.reached.notified().await;
    // The job has read its inputs and is writing the output: delete now.
    let request = DeleteRequest {
        selectors: vec![
            vec![Matcher::new(MatchOp::Equal, "i", "0").unwrap()],
            vec![Matcher::new(MatchOp::Equal, "i", "1").unwrap()],
        ],
        start: T0 + 30 * MINUTE,
        end: T0 + 60 * MINUTE,
        requested_at_ms: strata_storage::manifest::now_ms(),
    };
    Manifest::new(clean.clone(), "admin")
        .commit(Transaction::empty().deleting(request))
        .await
        .unwrap();
    let hidden = answers(&clean).await;
    pause.resume.notify_one();
    let report = job.await.unwrap().unwrap();
    assert_eq!(report.jobs, 1, "the merge committed");
    assert_eq!(live(&clean).await.len(), 1);
    let after = answers(&clean).await;
    assert_eq!(after, hidden, "the merge resurrected deleted samples");
    let kept = |a: &Answers, series: &str| a.get(series).map_or(0, Vec::len);
    let s0 = r#"m{i="0", job="j"}"#;
    let s2 = r#"m{i="2", job="j"}"#;
    assert_eq!(
        kept(&all, s0) - kept(&after, s0),
        180,
        "30 minutes at 10 s, inclusive"
    );
    assert_eq!(kept(&all, s2), kept(&after, s2));
    // Physically removed; the request retired; the answers the same.
    let r = compactor(&clean, later(2), "c2")
        .clean_tombstones(None)
        .await
        .unwrap();
    assert_eq!((r.jobs, r.failed), (1, 0));
    let snapshot = Manifest::new(clean.clone(), "r").snapshot().await.unwrap();
    assert_eq!(snapshot.deletes().count(), 0);
    assert_eq!(answers(&clean).await, hidden);
}

/// `strata compact --interval` with `--listen` serves its metrics while it compacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_compact_serves_its_metrics() {
    let url = s3::fresh_url();
    seed(&s3::open(&url)).await;
    let server = crate::api::start_strata(
        &url,
        &[
            "compact",
            "--interval",
            "1s",
            "--compact.late-grace",
            "0s",
            "--compact.window",
            "2h",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let metrics = format!("{}/metrics", server.url.trim_end_matches("/metrics"));
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let body = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        if body.contains(r#"strata_compactor_jobs_total{kind="window",outcome="ok"} 1"#) {
            assert!(
                body.contains("strata_compactor_quarantined_blocks 0"),
                "{body}"
            );
            assert!(
                body.contains("strata_compactor_samples_written_total"),
                "{body}"
            );
            assert!(body.trim_end().ends_with("# EOF"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no merge reported: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(live(&s3::open(&url)).await.len(), 1);
}

/// What a downsampled read answers: `max_over_time(m[1h])` and `resets(m[1h])` over the
/// seeded window at a 1h step, from raw samples (`raw`) or from the resolution `auto` picks.
async fn downsampled_answers(store: &Store, raw: bool) -> Vec<(String, Vec<(i64, f64)>)> {
    let snapshot = Manifest::new(store.clone(), "reader")
        .snapshot()
        .await
        .unwrap();
    let engine = strata_query::Engine::new(
        store.clone(),
        strata_query::EngineOptions {
            max_source_resolution: if raw {
                strata_query::SourceResolution::Raw
            } else {
                strata_query::SourceResolution::Auto
            },
            clock: ManualClock::new(later(0)),
            ..Default::default()
        },
    );
    let mut out = Vec::new();
    for q in [
        "max_over_time(m[1h])",
        "resets(m[1h])",
        "count_over_time(m[1h])",
    ] {
        let r = engine
            .range(
                snapshot.clone(),
                q,
                T0 + 3_600_000,
                T0 + HOUR_2_MS,
                3_600_000,
            )
            .await
            .unwrap();
        let strata_query::QueryValue::Matrix(m) = r.value else {
            panic!("{q}")
        };
        out.extend(
            m.into_iter()
                .map(|s| (format!("{q} {}", s.labels), s.points)),
        );
    }
    out
}

fn downsampling_compactor(store: &Store, days: i64, name: &str) -> Compactor {
    Compactor::new(
        Manifest::new(store.clone(), name),
        CompactorConfig {
            day_blocks: false,
            late_grace_ms: 0,
            ..Default::default()
        },
        GcOptions::default(),
        ManualClock::new(later(days)),
        name,
    )
}

/// A crash before, or a failure of, every object-store call of a downsampling pass (5m and
/// 1h of the merged day): answers never change, raw or downsampled; a healthy compactor then
/// commits exactly one block per resolution and leaves no file that no block owns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_at_every_call_of_a_downsampling_pass_then_recovery() {
    // A store whose window is merged (the downsampling inputs), copied per fault.
    let merged = s3::fresh_store();
    seed(&merged).await;
    let r = compactor(&merged, later(2), "m")
        .run_once(None)
        .await
        .unwrap();
    assert_eq!((r.jobs, r.failed), (1, 0));
    let expected = answers(&merged).await;
    let expected_downsampled = downsampled_answers(&merged, true).await;
    assert!(!expected_downsampled.is_empty());
    let mut objects: Vec<(Path, bytes::Bytes)> = Vec::new();
    for p in keys(&merged).await {
        objects.push((p.clone(), merged.get_opt(&p).await.unwrap().unwrap()));
    }
    let copy = || async {
        let store = s3::fresh_store();
        for (p, b) in &objects {
            store.put(p, b.clone()).await.unwrap();
        }
        store
    };
    let counting = Faulty::wrap(copy().await.object_store().clone(), Fault::Count);
    let counted = Store::from_object_store(counting.clone(), "counting");
    let report = downsampling_compactor(&counted, 2, "c")
        .run_once(None)
        .await
        .unwrap();
    assert_eq!((report.jobs, report.failed), (2, 0), "5m and 1h");
    let calls = counting.calls();
    eprintln!("a downsampling pass makes {calls} object-store calls");
    let faults: Vec<Fault> = (0..calls)
        .flat_map(|i| [Fault::CrashAt(i), Fault::FailCall(i)])
        .collect();
    let expected = &expected;
    let expected_downsampled = &expected_downsampled;
    futures::stream::iter(faults)
        .map(|fault| async move {
            let clean = copy().await;
            let faulty = Store::from_object_store(
                Faulty::wrap(clean.object_store().clone(), fault),
                "faulty",
            );
            let _ = downsampling_compactor(&faulty, 2, "faulty")
                .run_once(None)
                .await;
            assert_eq!(&answers(&clean).await, expected, "{fault:?}: raw answers");
            assert_eq!(
                &downsampled_answers(&clean, false).await,
                expected_downsampled,
                "{fault:?}: downsampled answers"
            );
            let r = // Another compactor once the claim expired (its GC also takes what the failed
            // pass left).
            downsampling_compactor(&clean, 3, "healthy")
                .run_once(None)
                .await
                .unwrap();
            assert_eq!(r.failed, 0, "{fault:?}");
            let snapshot = Manifest::new(clean.clone(), "r").snapshot().await.unwrap();
            for res in [300_000, 3_600_000] {
                assert_eq!(
                    snapshot.blocks_at(res, i64::MIN, i64::MAX).count(),
                    1,
                    "{fault:?}: one block at {res} ms"
                );
            }
            assert_eq!(
                &downsampled_answers(&clean, false).await,
                expected_downsampled,
                "{fault:?}: after recovery"
            );
            assert_eq!(
                block_files(&clean).await,
                live(&clean).await,
                "{fault:?}: orphans"
            );
            empty(&clean).await;
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
}
