//! End-to-end tests of the compactor against a store: compaction never changes an answer,
//! precedence survives it, retention with an injected clock, quarantine of a corrupt block,
//! deletion, and the bound on live blocks in an open window.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up step fails the test

mod downsample;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use strata_compactor::{Compactor, CompactorConfig, GcOptions, HOUR_2_MS};
use strata_query::{MatchOp, Matcher, ReadOptions, Selection, select_series};
use strata_storage::clock::ManualClock;
use strata_storage::{
    BlockMeta, DeleteRequest, EncodeOptions, Labels, Manifest, RetentionPolicy, SeriesSamples,
    Store, Transaction, encode_block_with_options, upload_block,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn labels(name: &str, i: u64) -> Labels {
    Labels::from_pairs([
        ("__name__", name.to_string()),
        ("job", "j".to_string()),
        ("instance", format!("i{i}")),
    ])
    .unwrap()
}

async fn commit(manifest: &Manifest, series: Vec<SeriesSamples>) -> BlockMeta {
    let block =
        encode_block_with_options(series, &Default::default(), &EncodeOptions::fresh()).unwrap();
    upload_block(manifest.store(), &block).await.unwrap();
    manifest
        .commit(Transaction::add(vec![block.meta.clone()], Instant::now()))
        .await
        .unwrap();
    block.meta
}

/// Every sample visible at `now`, by series, with exact value bits.
async fn answers(
    store: &Store,
    start: i64,
    end: i64,
    now: i64,
) -> BTreeMap<String, Vec<(i64, u64)>> {
    answers_with(store, start, end, now, &[]).await
}

fn compactor(store: &Store, clock: Arc<ManualClock>, cfg: CompactorConfig) -> Compactor {
    Compactor::new(
        Manifest::new(store.clone(), "compactor"),
        cfg,
        GcOptions::default(),
        clock,
        "test-compactor",
    )
}

async fn live(store: &Store) -> Vec<BlockMeta> {
    let s = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
    s.blocks().cloned().collect()
}

/// Random overlapping, out-of-order flush blocks with conflicting duplicates over three days:
/// compaction (rollups, window and day merges, sharding) changes no answer.
#[tokio::test]
async fn compaction_changes_no_answer() {
    for seed in [7u64, 99, 12345] {
        let store = Store::open("memory://").unwrap();
        let manifest = Manifest::new(store.clone(), "writer");
        let mut rng = Rng(seed);
        let base = 1_700_000_000_000 - 1_700_000_000_000 % (24 * 3600 * 1000);
        let span: i64 = 3 * 24 * 3600 * 1000;
        for _ in 0..40 {
            let mut series = Vec::new();
            for i in 0..(1 + rng.below(12)) {
                let n = 1 + rng.below(40) as usize;
                let start = base + rng.below(span as u64) as i64;
                let mut ts: Vec<i64> = (0..n)
                    .map(|k| start + (k as i64) * 15_000 + rng.below(5) as i64 * 1000)
                    .collect();
                ts.iter_mut().for_each(|t| *t = (*t).min(base + span - 1));
                let values = (0..n)
                    .map(|_| match rng.below(10) {
                        0 => f64::from_bits(strata_storage::STALE_NAN_BITS),
                        1 => rng.below(1000) as f64 / 7.0,
                        _ => rng.below(100) as f64 / 4.0,
                    })
                    .collect();
                series.push(SeriesSamples {
                    labels: labels(if i % 3 == 0 { "a" } else { "b_total" }, i),
                    timestamps: ts,
                    values,
                    start_timestamps: Vec::new(),
                });
            }
            commit(&manifest, series).await;
        }
        let now = base + span + 24 * 3600 * 1000;
        let before = answers(&store, i64::MIN, i64::MAX, now).await;
        let clock = ManualClock::new(now);
        let cfg = CompactorConfig {
            max_block_series: 3, // force sharding
            chunk_samples: 50,   // many chunks
            ..Default::default()
        };
        let c = compactor(&store, clock, cfg);
        for _ in 0..6 {
            c.run_once(None).await.unwrap();
        }
        let blocks = live(&store).await;
        assert!(
            blocks.iter().all(|b| b.level >= 3),
            "seed {seed}: all merged: {blocks:?}"
        );
        assert!(blocks.len() < 40, "seed {seed}: {}", blocks.len());
        assert_eq!(
            answers(&store, i64::MIN, i64::MAX, now).await,
            before,
            "seed {seed}"
        );
        for _ in 0..10 {
            let a = base + rng.below(span as u64) as i64;
            let b = a + rng.below(6 * 3600 * 1000) as i64;
            let snapshot_answer = answers(&store, a, b, now).await;
            let expect: BTreeMap<String, Vec<(i64, u64)>> = before
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.iter()
                            .filter(|(t, _)| *t >= a && *t <= b)
                            .copied()
                            .collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, v)| !v.is_empty())
                .collect();
            assert_eq!(snapshot_answer, expect, "seed {seed} range {a}..{b}");
        }
    }
}

/// A block committed after the inputs of a merge still wins its duplicates afterwards.
#[tokio::test]
async fn late_block_outranks_the_merge_of_earlier_blocks() {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    let t0 = 10 * HOUR_2_MS;
    let s = |v: f64| SeriesSamples {
        labels: labels("m", 0),
        timestamps: vec![t0 + 1000],
        values: vec![v],
        start_timestamps: Vec::new(),
    };
    commit(&manifest, vec![s(1.0)]).await;
    commit(&manifest, vec![s(2.0)]).await;
    let now = t0 + 100 * HOUR_2_MS;
    let c = compactor(
        &store,
        ManualClock::new(now),
        CompactorConfig {
            day_blocks: false,
            // Counts raw blocks only.
            downsample: Vec::new(),
            ..Default::default()
        },
    );
    c.run_once(None).await.unwrap();
    assert_eq!(live(&store).await.len(), 1);
    commit(&manifest, vec![s(3.0)]).await;
    let got = answers(&store, i64::MIN, i64::MAX, now).await;
    assert_eq!(
        got.values().next().unwrap(),
        &vec![(t0 + 1000, 3.0f64.to_bits())]
    );
    c.run_once(None).await.unwrap(); // late merge (one late block: below the threshold)
    let got = answers(&store, i64::MIN, i64::MAX, now).await;
    assert_eq!(
        got.values().next().unwrap(),
        &vec![(t0 + 1000, 3.0f64.to_bits())]
    );
}

/// Retention with an injected clock: expired samples are invisible at once, blocks go at the
/// next pass.
#[tokio::test]
async fn retention_hides_then_removes() {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    let t0 = 1000 * HOUR_2_MS;
    for (k, v) in [(0, 1.0), (5, 2.0)] {
        commit(
            &manifest,
            vec![SeriesSamples {
                labels: labels("m", 0),
                timestamps: vec![t0 + k * HOUR_2_MS],
                values: vec![v],
                start_timestamps: Vec::new(),
            }],
        )
        .await;
    }
    let clock = ManualClock::new(t0 + 6 * HOUR_2_MS);
    let cfg = CompactorConfig {
        retention: RetentionPolicy {
            raw_ms: 3 * HOUR_2_MS,
            ..Default::default()
        },
        // Raw retention alone (with downsampling, raw waits for the aggregates).
        downsample: Vec::new(),
        ..Default::default()
    };
    let c = compactor(&store, clock.clone(), cfg);
    c.run_once(None).await.unwrap();
    let got = answers(&store, i64::MIN, i64::MAX, clock.now()).await;
    assert_eq!(
        got.values().next().unwrap(),
        &vec![(t0 + 5 * HOUR_2_MS, 2.0f64.to_bits())]
    );
    assert!(
        live(&store)
            .await
            .iter()
            .all(|b| b.max_time >= t0 + 3 * HOUR_2_MS)
    );
    // Later still: the query clamps even before the compactor runs again.
    clock.set(t0 + 9 * HOUR_2_MS);
    assert!(
        answers(&store, i64::MIN, i64::MAX, clock.now())
            .await
            .is_empty()
    );
}

trait Now {
    fn now(&self) -> i64;
}
impl Now for ManualClock {
    fn now(&self) -> i64 {
        strata_storage::clock::Clock::now_ms(self)
    }
}

/// A corrupt block is quarantined with its reason; the other windows compact.
#[tokio::test]
async fn corrupt_block_is_quarantined_and_the_rest_compacts() {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    let t0 = 50 * HOUR_2_MS;
    let mut metas = Vec::new();
    for w in 0..2 {
        for v in 0..3 {
            metas.push(
                commit(
                    &manifest,
                    vec![SeriesSamples {
                        labels: labels("m", 0),
                        timestamps: vec![t0 + w * HOUR_2_MS + v * 1000],
                        values: vec![v as f64],
                        start_timestamps: Vec::new(),
                    }],
                )
                .await,
            );
        }
    }
    let bad = metas[0].clone();
    store
        .put(
            &bad.id.samples_path(),
            bytes::Bytes::from_static(b"not parquet at all"),
        )
        .await
        .unwrap();
    let now = t0 + 50 * HOUR_2_MS;
    let c = compactor(
        &store,
        ManualClock::new(now),
        CompactorConfig {
            day_blocks: false,
            // Counts raw blocks only.
            downsample: Vec::new(),
            ..Default::default()
        },
    );
    let r = c.run_once(None).await.unwrap();
    assert_eq!(r.quarantined, 1, "{r:?}");
    let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
    let q: Vec<_> = snapshot.quarantined().collect();
    assert_eq!(q.len(), 1);
    assert_eq!(*q[0].0, bad.id);
    assert!(q[0].1.contains("samples.parquet"), "{}", q[0].1);
    // The second window merged in the same pass; the first merges without the bad block next.
    c.run_once(None).await.unwrap();
    let blocks = live(&store).await;
    assert_eq!(blocks.len(), 3, "{blocks:?}"); // the quarantined block + one per window
    assert!(blocks.iter().any(|b| b.id == bad.id));
}

/// A deletion hides data at once and the rewrite removes it physically.
#[tokio::test]
async fn deletion_hides_then_rewrites() {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    let t0 = 70 * HOUR_2_MS;
    for i in 0..3 {
        commit(
            &manifest,
            vec![
                SeriesSamples {
                    labels: labels("keep", i),
                    timestamps: vec![t0, t0 + 1000],
                    values: vec![1.0, 2.0],
                    start_timestamps: Vec::new(),
                },
                SeriesSamples {
                    labels: labels("gone", i),
                    timestamps: vec![t0, t0 + 1000],
                    values: vec![1.0, 2.0],
                    start_timestamps: Vec::new(),
                },
            ],
        )
        .await;
    }
    let now = t0 + 40 * HOUR_2_MS;
    manifest
        .commit(Transaction::empty().deleting(DeleteRequest {
            selectors: vec![vec![
                Matcher::new(MatchOp::Equal, "__name__", "gone").unwrap(),
            ]],
            start: t0 + 500,
            end: t0 + 5000,
            requested_at_ms: now - 48 * 3600 * 1000,
        }))
        .await
        .unwrap();
    let got = answers(&store, i64::MIN, i64::MAX, now).await;
    assert_eq!(got.len(), 6);
    for (k, v) in &got {
        let want = if k.starts_with("gone") { 1 } else { 2 };
        assert_eq!(v.len(), want, "{k}");
    }
    let c = compactor(
        &store,
        ManualClock::new(now),
        CompactorConfig {
            day_blocks: false,
            // Counts raw blocks only.
            downsample: Vec::new(),
            ..Default::default()
        },
    );
    for _ in 0..3 {
        c.run_once(None).await.unwrap();
    }
    let blocks = live(&store).await;
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        blocks[0].samples, 9,
        "deleted samples are gone from the files"
    );
    assert_eq!(answers(&store, i64::MIN, i64::MAX, now).await, got);
    let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
    assert_eq!(
        snapshot.deletes().count(),
        0,
        "the request is retired once applied"
    );
}

/// With a flush every 10 s, an open window keeps a bounded number of live blocks.
#[tokio::test]
async fn open_window_stays_bounded() {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    let t0 = 90 * HOUR_2_MS;
    let clock = ManualClock::new(t0);
    let c = compactor(&store, clock.clone(), CompactorConfig::default());
    let mut max_live = 0;
    for flush in 0..240i64 {
        let t = t0 + flush * 10_000;
        clock.set(t + 1);
        commit(
            &manifest,
            vec![SeriesSamples {
                labels: labels("m", 0),
                timestamps: vec![t],
                values: vec![flush as f64],
                start_timestamps: Vec::new(),
            }],
        )
        .await;
        if flush % 6 == 5 {
            c.run_once(None).await.unwrap(); // every minute (the default interval)
        }
        max_live = max_live.max(live(&store).await.len());
    }
    assert!(max_live <= 16, "{max_live} live blocks");
    let got = answers(&store, i64::MIN, i64::MAX, clock.now()).await;
    assert_eq!(got.values().next().unwrap().len(), 240);
}

/// Every visible sample, read the way a query with `replica_labels` reads it (none: every
/// replica is its own series).
async fn answers_with(
    store: &Store,
    start: i64,
    end: i64,
    now: i64,
    replica_labels: &[&str],
) -> BTreeMap<String, Vec<(i64, u64)>> {
    let snapshot = Manifest::new(store.clone(), "reader")
        .snapshot()
        .await
        .unwrap();
    let sel = Selection {
        matchers: vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()],
        start,
        end,
        max_samples: usize::MAX,
        read: ReadOptions {
            now_ms: now,
            replica_labels: replica_labels.iter().map(|s| s.to_string()).collect(),
        },
        instant: None,
    };
    select_series(store, &snapshot, &sel)
        .await
        .unwrap()
        .into_iter()
        .map(|s| {
            let pts = s
                .timestamps
                .iter()
                .zip(&s.values)
                .map(|(&t, v)| (t, v.to_bits()))
                .collect();
            (s.labels.to_string(), pts)
        })
        .collect()
}

async fn rate_range(
    store: &Store,
    now: i64,
    replica_labels: &[&str],
    start: i64,
    end: i64,
) -> String {
    let snapshot = Manifest::new(store.clone(), "reader")
        .snapshot()
        .await
        .unwrap();
    let engine = strata_query::Engine::new(
        store.clone(),
        strata_query::EngineOptions {
            clock: ManualClock::new(now),
            replica_labels: replica_labels.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    );
    let out = engine
        .range(snapshot, "rate(c_total[5m])", start, end, 60_000)
        .await
        .unwrap();
    format!("{:?}", out.value)
}

/// An HA pair scraping one target at different phases: replica a misses 20 minutes, the
/// target restarts (its counter resets) at 3h. Queries that deduplicate give one series at
/// the scrape rate of one replica with exactly one counter reset, and the same answers before
/// and after compaction deduplicates the replicas in storage.
#[tokio::test]
async fn ha_pair_with_gap_and_reset_dedups_equally_at_query_time_and_in_compaction() {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    let t0 = 1000 * HOUR_2_MS;
    let hour = 3_600_000;
    let counter = |t: i64| {
        let since = if t - t0 < 3 * hour {
            t - t0
        } else {
            t - t0 - 3 * hour
        };
        (since / 100) as f64 // 10 per second
    };
    let replica = |name: &str, phase: i64, from: i64, to: i64| {
        let timestamps: Vec<i64> = (0..6 * 240)
            .map(|i| t0 + phase + i * 15_000)
            .filter(|&t| t >= from && t < to)
            .filter(|&t| name != "a" || !(t0 + hour..t0 + hour + 20 * 60_000).contains(&t))
            .collect();
        let values = timestamps.iter().map(|&t| counter(t)).collect();
        SeriesSamples {
            labels: Labels::from_pairs([("__name__", "c_total"), ("job", "j"), ("replica", name)])
                .unwrap(),
            timestamps,
            values,
            start_timestamps: Vec::new(),
        }
    };
    // Each replica flushes every 30 minutes, interleaved.
    for piece in 0..12 {
        let (from, to) = (t0 + piece * hour / 2, t0 + (piece + 1) * hour / 2);
        commit(&manifest, vec![replica("a", 0, from, to)]).await;
        commit(&manifest, vec![replica("b", 7_000, from, to)]).await;
    }
    let now = t0 + 30 * 24 * hour;
    let whole = (t0, t0 + 6 * hour);
    let part = (t0 + hour + 5 * 60_000, t0 + 3 * hour + 30 * 60_000);
    let before_whole = answers_with(&store, whole.0, whole.1, now, &["replica"]).await;
    let before_part = answers_with(&store, part.0, part.1, now, &["replica"]).await;
    let before_rate = rate_range(&store, now, &["replica"], part.0, part.1).await;

    assert_eq!(
        before_whole.len(),
        1,
        "one series: {:?}",
        before_whole.keys()
    );
    let (name, points) = before_whole.iter().next().unwrap();
    assert_eq!(name, r#"c_total{job="j"}"#);
    assert!(
        (1430..=1445).contains(&points.len()),
        "one replica's rate, the gap filled: {}",
        points.len()
    );
    assert!(
        points.windows(2).all(|w| w[1].0 - w[0].0 >= 7_000),
        "never both replicas' samples interleaved"
    );
    let resets = points
        .windows(2)
        .filter(|w| f64::from_bits(w[1].1) < f64::from_bits(w[0].1))
        .count();
    assert_eq!(resets, 1, "the target's restart, and nothing else");

    let c = compactor(
        &store,
        ManualClock::new(now),
        CompactorConfig {
            day_blocks: false,
            late_grace_ms: 0,
            dedup_after_ms: 0,
            replica_labels: vec!["replica".into()],
            // Counts raw blocks only.
            downsample: Vec::new(),
            ..Default::default()
        },
    );
    for _ in 0..4 {
        c.run_once(None).await.unwrap();
    }
    assert!(live(&store).await.len() <= 3, "one block per 2h window");
    // Stored deduplicated: even a reader without replica labels sees one series now.
    let stored = answers(&store, whole.0, whole.1, now).await;
    assert_eq!(stored, before_whole);
    assert_eq!(
        answers_with(&store, whole.0, whole.1, now, &["replica"]).await,
        before_whole
    );
    assert_eq!(
        answers_with(&store, part.0, part.1, now, &["replica"]).await,
        before_part
    );
    assert_eq!(
        rate_range(&store, now, &["replica"], part.0, part.1).await,
        before_rate
    );
}
