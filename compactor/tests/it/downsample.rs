//! Downsampling end to end: the compactor aggregates days of raw blocks into 5m and 1h
//! blocks, and aligned queries answer the same from raw, 5m and 1h data (bit-equal for
//! counts, extremes, last values, resets, changes and plain selectors; equal to 1e-12 for
//! sums and rates), including Thanos' downsampling regressions; raw data expires only once
//! every resolution covers it; a late raw block outdates an aggregate until it is rebuilt.

use std::sync::Arc;

use strata_compactor::{CompactorConfig, DAY_MS, HOUR_2_MS};
use strata_query::{Engine, EngineOptions, QueryValue, SourceResolution};
use strata_storage::aggregate::{RES_1H, RES_5M};
use strata_storage::clock::ManualClock;
use strata_storage::{Labels, Manifest, RetentionPolicy, STALE_NAN_BITS, SeriesSamples, Store};

use super::{Rng, commit, compactor, live};

/// An epoch-aligned day far from zero.
const T0: i64 = 20_000 * DAY_MS;
const DAYS: i64 = 3;

fn series(pairs: &[(&str, &str)], ts: Vec<i64>, vs: Vec<f64>, sts: Vec<i64>) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::from_pairs(pairs.iter().copied()).unwrap(),
        timestamps: ts,
        values: vs,
        start_timestamps: sts,
    }
}

/// Three days at 15 s with jitter: counters with random resets (one exactly at a 5m window
/// end, one exactly at the day edge), decimal gauges, a series that goes stale for hours,
/// a classic histogram, and a counter with start timestamps.
fn dataset() -> Vec<SeriesSamples> {
    let mut rng = Rng(0xd0_5a_3b_1e);
    let mut out = Vec::new();
    let n = (DAYS * DAY_MS / 15_000) as usize;
    let times = |rng: &mut Rng| -> Vec<i64> {
        (1..=n as i64)
            .map(|k| T0 + k * 15_000 - 2000 + rng.below(4000) as i64)
            .collect()
    };
    for i in 0..6 {
        let ts = times(&mut rng);
        let mut v = 0.0;
        let vs = ts
            .iter()
            .map(|&t| {
                // Resets exactly at a 5m window end and at the day edge, and at random.
                if rng.below(3000) == 0
                    || (i == 0 && (t - T0) % RES_5M < 15_000 && rng.below(50) == 0)
                {
                    v = 0.0;
                } else {
                    v += rng.below(20) as f64;
                }
                v
            })
            .collect();
        let inst = format!("c{i}");
        out.push(series(
            &[("__name__", "c_total"), ("instance", &inst)],
            ts,
            vs,
            vec![],
        ));
    }
    // A reset exactly at a window end and exactly at the day edge (Thanos #1568).
    let ts: Vec<i64> = (1..=n as i64).map(|k| T0 + k * 15_000).collect();
    let mut v = 0.0;
    let vs = ts
        .iter()
        .map(|&t| {
            v = if t == T0 + DAY_MS || t == T0 + 7 * RES_5M {
                1.0
            } else {
                v + 3.0
            };
            v
        })
        .collect();
    out.push(series(
        &[("__name__", "c_total"), ("instance", "edge")],
        ts,
        vs,
        vec![],
    ));
    for i in 0..4 {
        let ts = times(&mut rng);
        let vs = ts
            .iter()
            .map(|_| rng.below(100_000) as f64 / 100.0)
            .collect();
        let inst = format!("g{i}");
        out.push(series(
            &[("__name__", "g"), ("instance", &inst)],
            ts,
            vs,
            vec![],
        ));
    }
    // Goes stale at 10h for 5h, and in the last hour.
    let stale = f64::from_bits(STALE_NAN_BITS);
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for (k, t) in times(&mut rng).into_iter().enumerate() {
        let h = (t - T0) / 3_600_000;
        let gone = (10..15).contains(&h) || h >= DAYS * 24 - 1;
        let was_gone = k > 0
            && vs
                .last()
                .is_some_and(|v: &f64| v.to_bits() == STALE_NAN_BITS);
        if gone && !was_gone {
            ts.push(t);
            vs.push(stale);
        } else if !gone {
            ts.push(t);
            vs.push((k % 97) as f64);
        }
    }
    out.push(series(
        &[("__name__", "flappy"), ("instance", "s")],
        ts,
        vs,
        vec![],
    ));
    // A classic histogram: cumulative buckets.
    let ts: Vec<i64> = (1..=n as i64).map(|k| T0 + k * 15_000).collect();
    let mut counts = [0.0f64; 3];
    let mut per_le: [Vec<f64>; 3] = Default::default();
    for _ in &ts {
        let obs = rng.below(3) as usize;
        for (b, c) in counts.iter_mut().enumerate() {
            if b >= obs {
                *c += 1.0;
            }
        }
        for b in 0..3 {
            per_le[b].push(counts[b]);
        }
    }
    for (b, le) in ["0.1", "1", "+Inf"].iter().enumerate() {
        out.push(series(
            &[("__name__", "h_bucket"), ("le", le)],
            ts.clone(),
            per_le[b].clone(),
            vec![],
        ));
    }
    // A counter with start timestamps: restarts are told by the start, not the value.
    let ts: Vec<i64> = (1..=n as i64).map(|k| T0 + k * 15_000).collect();
    let mut start = T0 - 1000;
    let mut v = 0.0;
    let (mut vs, mut sts) = (Vec::new(), Vec::new());
    for &t in &ts {
        if rng.below(2000) == 0 {
            start = t - 500;
            v = 0.0;
        }
        v += 5.0;
        vs.push(v);
        sts.push(start);
    }
    out.push(series(
        &[("__name__", "st_total"), ("instance", "x")],
        ts,
        vs,
        sts,
    ));
    out
}

/// Commits the dataset as 2h blocks, as writers cut them.
async fn ingest(manifest: &Manifest, data: &[SeriesSamples]) {
    let mut w = T0;
    while w < T0 + DAYS * DAY_MS + HOUR_2_MS {
        let mut block = Vec::new();
        for s in data {
            let idx: Vec<usize> = (0..s.timestamps.len())
                .filter(|&i| s.timestamps[i] >= w && s.timestamps[i] < w + HOUR_2_MS)
                .collect();
            if idx.is_empty() {
                continue;
            }
            block.push(SeriesSamples {
                labels: s.labels.clone(),
                timestamps: idx.iter().map(|&i| s.timestamps[i]).collect(),
                values: idx.iter().map(|&i| s.values[i]).collect(),
                start_timestamps: if s.start_timestamps.is_empty() {
                    Vec::new()
                } else {
                    idx.iter().map(|&i| s.start_timestamps[i]).collect()
                },
            });
        }
        if !block.is_empty() {
            commit(manifest, block).await;
        }
        w += HOUR_2_MS;
    }
}

/// A store with the dataset, compacted and downsampled at `now`.
async fn downsampled_store(now: i64, cfg: CompactorConfig) -> (Store, Arc<ManualClock>) {
    let store = Store::open("memory://").unwrap();
    let manifest = Manifest::new(store.clone(), "w");
    ingest(&manifest, &dataset()).await;
    let clock = ManualClock::new(now);
    let c = compactor(&store, clock.clone(), cfg);
    for _ in 0..6 {
        c.run_once(None).await.unwrap();
    }
    (store, clock)
}

/// A range query's series as (labels, points).
async fn range(
    store: &Store,
    clock: &Arc<ManualClock>,
    res: SourceResolution,
    q: &str,
    (start, end, step): (i64, i64, i64),
) -> (Vec<(String, Vec<(i64, f64)>)>, strata_query::QueryStats) {
    let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
    let engine = Engine::new(
        store.clone(),
        EngineOptions {
            max_source_resolution: res,
            clock: clock.clone(),
            ..Default::default()
        },
    );
    let out = engine.range(snapshot, q, start, end, step).await.unwrap();
    let QueryValue::Matrix(m) = out.value else {
        panic!("{q}: not a matrix")
    };
    (
        m.into_iter()
            .map(|s| (s.labels.to_string(), s.points))
            .collect(),
        out.stats,
    )
}

fn same(q: &str, exact: bool, a: &[(String, Vec<(i64, f64)>)], b: &[(String, Vec<(i64, f64)>)]) {
    assert_eq!(a.len(), b.len(), "{q}: series");
    for ((la, pa), (lb, pb)) in a.iter().zip(b) {
        assert_eq!(la, lb, "{q}");
        assert_eq!(pa.len(), pb.len(), "{q} {la}: points");
        for ((ta, va), (tb, vb)) in pa.iter().zip(pb) {
            assert_eq!(ta, tb, "{q} {la}");
            let ok = if exact {
                va.to_bits() == vb.to_bits()
            } else {
                va.to_bits() == vb.to_bits() || (va - vb).abs() <= 1e-12 * va.abs().max(vb.abs())
            };
            assert!(ok, "{q} {la} at {ta}: raw {va} vs downsampled {vb}");
        }
    }
}

/// Past the 1h age of the two-week 1h blocks: every day is downsampled at both resolutions.
fn late_enough() -> i64 {
    T0 + DAYS * DAY_MS + 14 * DAY_MS + 11 * DAY_MS
}

#[tokio::test]
async fn aligned_queries_answer_equally_from_raw_5m_and_1h() {
    let (store, clock) = downsampled_store(late_enough(), CompactorConfig::default()).await;
    let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
    for res in [RES_5M, RES_1H] {
        for d in 0..DAYS {
            let (lo, hi) = (T0 + d * DAY_MS + 1, T0 + (d + 1) * DAY_MS);
            let current = snapshot.current_aggregates(res, lo, hi);
            assert!(
                current.iter().any(|b| b.min_time <= lo && b.max_time >= hi),
                "day {d} is covered by a current {res}ms block"
            );
        }
    }
    let span = (T0 + 2 * RES_1H, T0 + DAYS * DAY_MS, RES_1H);
    // (query, bit-exact)
    let queries = [
        ("rate(c_total[1h])", false),
        ("sum(rate(c_total[1h]))", false),
        ("increase(c_total[2h])", false),
        ("rate(st_total[1h])", false),
        ("delta(g[1h])", false),
        ("resets(c_total[1h])", true),
        ("resets(st_total[2h])", true),
        ("changes(g[1h])", true),
        ("max_over_time(g[1h])", true),
        ("min_over_time(g[2h])", true),
        ("count_over_time(flappy[1h])", true),
        ("last_over_time(flappy[1h])", true),
        ("first_over_time(g[1h])", true),
        ("present_over_time(flappy[1h])", true),
        ("ts_of_last_over_time(g[1h])", true),
        ("sum_over_time(g[1h])", false),
        ("avg_over_time(g[1h])", false),
        ("g", true),
        ("flappy", true),
        ("flappy offset 1h", true),
        ("rate(c_total[5m])", false),
        (
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[1h])))",
            false,
        ),
    ];
    for (q, exact) in queries {
        let (raw, raw_stats) = range(&store, &clock, SourceResolution::Raw, q, span).await;
        assert!(!raw.is_empty(), "{q}: raw answer");
        assert_eq!(raw_stats.downsampled_rows, 0, "{q}");
        for res in [SourceResolution::UpTo(RES_5M), SourceResolution::Auto] {
            let (got, stats) = range(&store, &clock, res, q, span).await;
            same(q, exact, &raw, &got);
            assert!(stats.downsampled_rows > 0, "{q} at {res:?} read aggregates");
            assert_eq!(stats.raw_samples_aggregated, 0, "{q}: every day is covered");
            assert!(
                stats.samples * 10 < raw_stats.samples || q.ends_with("[5m])") || !q.contains('['),
                "{q} at {res:?}: {} samples against {} raw",
                stats.samples,
                raw_stats.samples
            );
        }
    }
}

/// Thanos #1568: a counter reset exactly at a window end or a block edge was lost.
#[tokio::test]
async fn thanos_1568_reset_at_window_and_block_edge_is_counted() {
    let (store, clock) = downsampled_store(late_enough(), CompactorConfig::default()).await;
    let span = (T0 + DAY_MS - 3 * RES_1H, T0 + DAY_MS + 3 * RES_1H, RES_1H);
    for q in [
        "resets(c_total{instance=\"edge\"}[1h])",
        "increase(c_total{instance=\"edge\"}[1h])",
    ] {
        let (raw, _) = range(&store, &clock, SourceResolution::Raw, q, span).await;
        let (got, stats) = range(&store, &clock, SourceResolution::Auto, q, span).await;
        assert!(stats.downsampled_rows > 0);
        same(q, q.starts_with("resets"), &raw, &got);
    }
    let (got, _) = range(
        &store,
        &clock,
        SourceResolution::Auto,
        "resets(c_total{instance=\"edge\"}[1h])",
        (T0 + DAY_MS, T0 + DAY_MS, RES_1H),
    )
    .await;
    assert_eq!(
        got[0].1,
        vec![(T0 + DAY_MS, 1.0)],
        "the reset at the day edge"
    );
}

/// Thanos #1115: `rate(x[5m])` over 5m data was empty.
#[tokio::test]
async fn thanos_1115_rate_over_one_window_is_not_empty() {
    let (store, clock) = downsampled_store(late_enough(), CompactorConfig::default()).await;
    let span = (T0 + RES_1H, T0 + 2 * DAY_MS, RES_5M * 12);
    let q = "rate(c_total[5m])";
    let (raw, _) = range(&store, &clock, SourceResolution::Raw, q, span).await;
    let (got, stats) = range(&store, &clock, SourceResolution::UpTo(RES_5M), q, span).await;
    assert!(stats.downsampled_rows > 0);
    assert!(got.iter().all(|(_, p)| !p.is_empty()));
    same(q, false, &raw, &got);
}

/// Thanos #922: a plain selector over downsampled data returned the window's average.
#[tokio::test]
async fn thanos_922_plain_selector_returns_the_value_not_an_average() {
    let (store, clock) = downsampled_store(late_enough(), CompactorConfig::default()).await;
    let span = (T0 + RES_1H, T0 + DAYS * DAY_MS, RES_1H);
    let (raw, _) = range(&store, &clock, SourceResolution::Raw, "g", span).await;
    let (got, stats) = range(&store, &clock, SourceResolution::UpTo(RES_1H), "g", span).await;
    assert!(stats.downsampled_rows > 0);
    same("g", true, &raw, &got);
    let (avg, _) = range(
        &store,
        &clock,
        SourceResolution::Raw,
        "avg_over_time(g[1h])",
        span,
    )
    .await;
    assert_ne!(got[0].1, avg[0].1, "the value, not the window's average");
}

/// Raw blocks outlive their retention until 5m and 1h aggregates cover their days; then the
/// aggregates answer what raw no longer can.
#[tokio::test]
async fn raw_expires_only_once_every_resolution_covers_it() {
    let cfg = CompactorConfig {
        retention: RetentionPolicy {
            raw_ms: DAY_MS,
            ..Default::default()
        },
        ..Default::default()
    };
    // Past the 5m age (40h), before the 1h age (10d): raw stays.
    let now = T0 + DAYS * DAY_MS + 2 * DAY_MS;
    let (store, clock) = downsampled_store(now, cfg.clone()).await;
    let blocks = live(&store).await;
    assert!(blocks.iter().any(|b| b.resolution_ms == RES_5M));
    assert!(!blocks.iter().any(|b| b.resolution_ms == RES_1H));
    let raw_days = |blocks: &[strata_storage::BlockMeta]| {
        blocks
            .iter()
            .filter(|b| b.is_raw())
            .map(|b| b.min_time / DAY_MS)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    assert!(
        raw_days(&blocks) >= DAYS as usize,
        "raw kept for the 1h downsampling"
    );
    // Past the 1h age: 1h aggregates are built, then expired raw goes.
    clock.set(late_enough());
    let c = compactor(&store, clock.clone(), cfg);
    for _ in 0..4 {
        c.run_once(None).await.unwrap();
    }
    let blocks = live(&store).await;
    assert!(blocks.iter().any(|b| b.resolution_ms == RES_1H));
    assert!(blocks.iter().all(|b| !b.is_raw()), "expired raw removed");
    let span = (T0 + 2 * RES_1H, T0 + DAYS * DAY_MS, RES_1H);
    let (raw, _) = range(
        &store,
        &clock,
        SourceResolution::Raw,
        "max_over_time(g[1h])",
        span,
    )
    .await;
    assert!(raw.is_empty(), "raw data expired");
    let (agg, _) = range(
        &store,
        &clock,
        SourceResolution::Auto,
        "max_over_time(g[1h])",
        span,
    )
    .await;
    assert_eq!(agg.len(), 4, "aggregates still answer");
}

/// A raw block committed into a downsampled day outdates its aggregates: queries read raw
/// there at once, and the next pass rebuilds the aggregates to include it.
#[tokio::test]
async fn late_raw_block_outdates_aggregates_until_rebuilt() {
    let (store, clock) = downsampled_store(late_enough(), CompactorConfig::default()).await;
    let manifest = Manifest::new(store.clone(), "late");
    let t = T0 + DAY_MS / 2 + 7;
    commit(
        &manifest,
        vec![series(
            &[("__name__", "g"), ("instance", "g0")],
            vec![t],
            vec![1e6],
            vec![],
        )],
    )
    .await;
    let span = (T0 + RES_1H, T0 + DAYS * DAY_MS, RES_1H);
    let q = "max_over_time(g{instance=\"g0\"}[1h])";
    let check = || async {
        let (raw, _) = range(&store, &clock, SourceResolution::Raw, q, span).await;
        let (got, _) = range(&store, &clock, SourceResolution::Auto, q, span).await;
        same(q, true, &raw, &got);
        assert!(
            got[0].1.iter().any(|(_, v)| *v == 1e6),
            "the late sample counts"
        );
    };
    check().await;
    let c = compactor(&store, clock.clone(), CompactorConfig::default());
    for _ in 0..4 {
        c.run_once(None).await.unwrap();
    }
    let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
    let day = (T0 + 1, T0 + DAY_MS);
    for res in [RES_5M, RES_1H] {
        assert_eq!(
            snapshot.current_aggregates(res, day.0, day.1).len(),
            1,
            "rebuilt at {res}"
        );
        assert_eq!(
            snapshot.blocks_at(res, day.0, day.1).count(),
            1,
            "old one replaced"
        );
    }
    check().await;
}

/// A deletion request over a downsampled day: at once, queries hide the whole windows it
/// touches in aggregates (and the deleted samples in raw); once the request is due for
/// rewriting, the day's aggregates are rebuilt from raw without the deleted samples, and
/// downsampled answers equal raw answers again.
#[tokio::test]
async fn deletion_hides_windows_then_aggregates_are_rebuilt_without_it() {
    use strata_query::{MatchOp, Matcher};
    use strata_storage::{DeleteRequest, Transaction};
    let now = late_enough();
    let (store, clock) = downsampled_store(now, CompactorConfig::default()).await;
    let manifest = Manifest::new(store.clone(), "admin");
    // Delete 20 minutes of one gauge in the middle of the first day.
    let (start, end) = (
        T0 + 10 * RES_1H + 7 * 60_000,
        T0 + 10 * RES_1H + 27 * 60_000,
    );
    manifest
        .commit(Transaction::empty().deleting(DeleteRequest {
            selectors: vec![vec![
                Matcher::new(MatchOp::Equal, "__name__", "g").unwrap(),
                Matcher::new(MatchOp::Equal, "instance", "g1").unwrap(),
            ]],
            start,
            end,
            requested_at_ms: now,
        }))
        .await
        .unwrap();
    let span = (T0 + RES_1H, T0 + DAY_MS, RES_1H);
    let q = "count_over_time(g{instance=\"g1\"}[1h])";
    let (raw, _) = range(&store, &clock, SourceResolution::Raw, q, span).await;
    let hour_of = |pts: &[(i64, f64)], t: i64| pts.iter().find(|p| p.0 == t).map(|p| p.1);
    let deleted_hour = T0 + 11 * RES_1H;
    // 20 of the hour's 60 minutes (samples jitter by ±2 s around a 15 s grid).
    assert!(
        hour_of(&raw[0].1, deleted_hour).is_some_and(|n| (155.0..=165.0).contains(&n)),
        "raw drops about 80 samples: {:?}",
        hour_of(&raw[0].1, deleted_hour)
    );
    let (hidden, _) = range(&store, &clock, SourceResolution::Auto, q, span).await;
    assert_eq!(
        hour_of(&hidden[0].1, deleted_hour),
        None,
        "the touched window is hidden"
    );
    assert_eq!(
        hour_of(&hidden[0].1, deleted_hour + RES_1H),
        hour_of(&raw[0].1, deleted_hour + RES_1H)
    );
    // Not due yet (--delete.rewrite-after 24h): nothing is rebuilt.
    let c = compactor(&store, clock.clone(), CompactorConfig::default());
    c.run_once(None).await.unwrap();
    let (still, _) = range(&store, &clock, SourceResolution::Auto, q, span).await;
    assert_eq!(hour_of(&still[0].1, deleted_hour), None);
    // Due: raw is rewritten and the day's aggregates are rebuilt from it.
    clock.set(now + 2 * DAY_MS);
    for _ in 0..4 {
        c.run_once(None).await.unwrap();
    }
    let (raw_after, _) = range(&store, &clock, SourceResolution::Raw, q, span).await;
    let (agg_after, stats) = range(&store, &clock, SourceResolution::Auto, q, span).await;
    assert_eq!(raw_after, raw);
    same(q, true, &raw_after, &agg_after);
    assert_eq!(stats.raw_samples_aggregated, 0, "rebuilt aggregates answer");
}
