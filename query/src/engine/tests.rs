//! Engine tests through the real storage path (memory store, encoded blocks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_storage::{
    Labels, Manifest, SeriesSamples, Snapshot, Store, Transaction, encode_block, upload_block,
};

use super::*;

type Input<'a> = (&'a [(&'a str, &'a str)], Vec<f64>);

async fn store_with(series: &[Input<'_>], step: i64) -> (Store, Arc<Snapshot>) {
    let store = Store::open("memory://").unwrap();
    let input = series
        .iter()
        .map(|(labels, values)| SeriesSamples {
            labels: Labels::from_pairs(labels.iter().copied()).unwrap(),
            timestamps: (0..values.len() as i64).map(|i| i * step).collect(),
            values: values.clone(),
            start_timestamps: Vec::new(),
        })
        .collect();
    let block = encode_block(input).unwrap();
    upload_block(&store, &block).await.unwrap();
    let manifest = Manifest::new(store.clone(), "t");
    manifest
        .commit(Transaction::add(vec![block.meta], Instant::now()))
        .await
        .unwrap();
    let snapshot = manifest.snapshot().await.unwrap();
    (store, snapshot)
}

const A: &[(&str, &str)] = &[("__name__", "req_total"), ("job", "a")];
const B: &[(&str, &str)] = &[("__name__", "req_total"), ("job", "b")];

#[tokio::test]
async fn rate_sum_and_range_query() {
    let (store, snap) = store_with(
        &[
            (A, (0..=10).map(|i| i as f64 * 60.0).collect()),
            (B, vec![0.0; 11]),
        ],
        60_000,
    )
    .await;
    let engine = Engine::new(store, EngineOptions::default());
    let out = engine
        .instant(snap.clone(), "sum(rate(req_total[5m]))", 600_000)
        .await
        .unwrap();
    let QueryValue::Vector(v) = out.value else {
        panic!("{out:?}")
    };
    assert_eq!(v.len(), 1);
    assert!((v[0].v - 1.0).abs() < 1e-9, "{v:?}");
    let out = engine
        .range(snap, "req_total{job=\"a\"} * 2", 0, 120_000, 60_000)
        .await
        .unwrap();
    let QueryValue::Matrix(m) = out.value else {
        panic!()
    };
    assert_eq!(
        m[0].points,
        vec![(0, 0.0), (60_000, 120.0), (120_000, 240.0)]
    );
    assert!(
        m[0].labels.metric_name().is_none(),
        "arithmetic drops the name"
    );
}

#[tokio::test]
async fn sample_limit_is_a_clear_error() {
    let (store, snap) = store_with(&[(A, vec![1.0; 100]), (B, vec![1.0; 100])], 15_000).await;
    let options = EngineOptions {
        max_samples: 50,
        ..Default::default()
    };
    let err = Engine::new(store, options)
        .instant(snap, "count_over_time(req_total[30m])", 1_500_000)
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueryError::TooManySamples { limit: 50 }),
        "{err}"
    );
}

#[tokio::test]
async fn timeout_is_a_clear_error() {
    let (store, snap) = store_with(&[(A, vec![1.0; 10])], 15_000).await;
    let options = EngineOptions {
        timeout: Duration::ZERO,
        ..Default::default()
    };
    let err = Engine::new(store, options)
        .instant(snap, "req_total", 60_000)
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Timeout), "{err}");
}

#[test]
fn explain_shows_one_node_per_operator() {
    let engine = Engine::new(Store::open("memory://").unwrap(), EngineOptions::default());
    let plan = engine
        .explain("sum by (job) (rate(req_total[5m])) > 1", 0, 600_000, 60_000)
        .unwrap();
    for node in [
        "Binary: Gt",
        "Aggregate: Sum by (job)",
        "RangeFunction: Rate range=300000ms",
        "MatrixSelect:",
    ] {
        assert!(plan.contains(node), "{node} missing from\n{plan}");
    }
}

#[tokio::test]
async fn bad_queries_are_parse_errors() {
    let engine = Engine::new(Store::open("memory://").unwrap(), EngineOptions::default());
    let snap = Arc::new(Snapshot::default());
    for q in ["sum(", "rate(req_total)", "foo{"] {
        assert!(engine.instant(snap.clone(), q, 0).await.is_err(), "{q}");
    }
}

/// `atan2` with a scalar keeps the metric name (Prometheus' `shouldDropMetricName`), `+` and
/// `bool` comparisons drop it.
#[tokio::test]
async fn vector_scalar_name_dropping_follows_prometheus() {
    let (store, snap) = store_with(&[(A, vec![1.0; 3])], 60_000).await;
    let engine = Engine::new(store, EngineOptions::default());
    for (query, keeps) in [
        ("req_total atan2 1", true),
        ("req_total > 0", true),
        ("req_total + 1", false),
        ("req_total > bool 0", false),
    ] {
        let out = engine.instant(snap.clone(), query, 120_000).await.unwrap();
        let QueryValue::Vector(v) = out.value else {
            panic!("{query}: {out:?}")
        };
        assert_eq!(v[0].labels.metric_name().is_some(), keeps, "{query}");
    }
}

/// A subquery with more steps than the sample limit is refused before it is evaluated, at
/// once, instead of pinning a core (`count_over_time(up[9999d:1s])`).
#[tokio::test]
async fn huge_subquery_is_refused_at_once() {
    let (store, snap) = store_with(&[(A, vec![1.0; 3])], 60_000).await;
    let engine = Engine::new(store, EngineOptions::default());
    let started = Instant::now();
    let err = engine
        .instant(snap, "count_over_time(req_total[9999d:1s])", 120_000)
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::TooManySamples { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Matchers and `label_replace` read regexes in Go's dialect, as relabeling does
/// (`storage::goregex`): `\d` is ASCII, `\Q…\E` literal, `$01` an unknown group.
#[tokio::test]
async fn regexes_follow_go_like_relabeling() {
    let arabic: &[(&str, &str)] = &[("__name__", "m"), ("v", "١٢٣")];
    let ascii: &[(&str, &str)] = &[("__name__", "m"), ("v", "a.b")];
    let (store, snap) = store_with(&[(arabic, vec![1.0]), (ascii, vec![2.0])], 60_000).await;
    let engine = Engine::new(store, EngineOptions::default());
    let count = |q: &'static str| {
        let (engine, snap) = (&engine, snap.clone());
        async move {
            match engine.instant(snap, q, 0).await.unwrap().value {
                QueryValue::Vector(v) => v,
                other => panic!("{q}: {other:?}"),
            }
        }
    };
    assert!(count(r#"m{v=~"\\d+"}"#).await.is_empty(), "\\d is ASCII");
    assert_eq!(count(r#"m{v=~"\\Qa.b\\E"}"#).await.len(), 1);
    assert_eq!(count(r#"m{v=~"a\\.b|x"}"#).await.len(), 1);
    let v = count(r#"label_replace(m{v="a.b"}, "w", "$1-$01-${1}", "v", "(a)\\.b")"#).await;
    assert_eq!(v[0].labels.get("w"), Some("a--a"), "{v:?}");
}

/// Scalar arguments written as constant expressions are folded (a common dashboard form).
#[tokio::test]
async fn constant_scalar_arguments_are_folded() {
    let (store, snap) = store_with(&[(A, (0..=60).map(|i| i as f64).collect())], 60_000).await;
    let engine = Engine::new(store, EngineOptions::default());
    for (folded, literal) in [
        (
            "predict_linear(req_total[30m], 20 * 3600)",
            "predict_linear(req_total[30m], 72000)",
        ),
        (
            "quantile_over_time(1 - 0.5, req_total[30m])",
            "quantile_over_time(0.5, req_total[30m])",
        ),
        ("round(req_total, 2 ^ -1)", "round(req_total, 0.5)"),
        ("clamp(req_total, -(1), 10 / 2)", "clamp(req_total, -1, 5)"),
        ("topk(1 + 1, req_total)", "topk(2, req_total)"),
    ] {
        let a = engine
            .instant(snap.clone(), folded, 3_600_000)
            .await
            .unwrap();
        let b = engine
            .instant(snap.clone(), literal, 3_600_000)
            .await
            .unwrap();
        assert_eq!(a.value, b.value, "{folded}");
    }
}

/// Any scalar expression can stand as a numeric argument and is evaluated per step: each
/// point of a range query equals the instant query with that step's value written as a
/// literal (including the steps where `clamp`'s bounds cross and nothing is returned).
#[tokio::test]
async fn scalar_arguments_are_evaluated_per_step() {
    let q: &[(&str, &str)] = &[("__name__", "q")];
    let bucket = |le: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![("__name__", "h_bucket"), ("le", le)]
    };
    let (b1, b2, b3) = (bucket("0.5"), bucket("1"), bucket("+Inf"));
    let minutes = 61;
    let phis: Vec<f64> = (0..minutes).map(|i| [0.1, 0.5, 0.9, 0.25][i % 4]).collect();
    let counts = |scale: f64| (0..minutes).map(|i| i as f64 * scale).collect::<Vec<_>>();
    let (store, snap) = store_with(
        &[
            (A, (0..minutes).map(|i| (i * i % 17) as f64).collect()),
            (q, phis),
            (&b1, counts(1.0)),
            (&b2, counts(3.0)),
            (&b3, counts(4.0)),
        ],
        60_000,
    )
    .await;
    let engine = Engine::new(store, EngineOptions::default());
    let templates = [
        "histogram_quantile(P, h_bucket)",
        "histogram_fraction(0, P, h_bucket)",
        "quantile_over_time(P, req_total[10m])",
        "predict_linear(req_total[10m], P * 100)",
        "double_exponential_smoothing(req_total[10m], P, 0.5)",
        "round(req_total / 7, P)",
        "clamp(req_total, P * 20, 10)",
        "clamp_min(req_total, P * 10)",
        "clamp_max(req_total, P * 10)",
        "topk(P * 4, req_total or h_bucket)",
    ];
    for template in templates {
        let per_step = template.replace('P', "scalar(q)");
        let out = engine
            .range(snap.clone(), &per_step, 600_000, 3_600_000, 60_000)
            .await
            .unwrap_or_else(|e| panic!("{per_step}: {e}"));
        let QueryValue::Matrix(m) = out.value else {
            panic!("{per_step}: {out:?}")
        };
        let mut compared = 0;
        for t in (600_000..=3_600_000).step_by(60_000) {
            let phi = [0.1, 0.5, 0.9, 0.25][(t / 60_000) as usize % 4];
            let literal = template.replace('P', &format!("{phi}"));
            let want = engine.instant(snap.clone(), &literal, t).await.unwrap();
            let QueryValue::Vector(want) = want.value else {
                panic!("{literal}")
            };
            let mut got: Vec<(String, u64)> = m
                .iter()
                .filter_map(|s| {
                    let p = s.points.iter().find(|p| p.0 == t)?;
                    Some((s.labels.to_string(), p.1.to_bits()))
                })
                .collect();
            let mut want: Vec<(String, u64)> = want
                .iter()
                .map(|s| (s.labels.to_string(), s.v.to_bits()))
                .collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{per_step} at {t} against {literal}");
            compared += got.len();
        }
        assert!(compared > 20, "{per_step}: only {compared} points");
    }
}

/// An instant selector counts one sample per series per step against the limit, as
/// Prometheus does, not the samples of the lookback window it looks through.
#[tokio::test]
async fn instant_selectors_count_one_sample_per_step() {
    let (store, snap) = store_with(&[(A, (0..300_000).map(f64::from).collect())], 1).await;
    let options = EngineOptions {
        max_samples: 100,
        ..Default::default()
    };
    let engine = Engine::new(store, options);
    let out = engine
        .instant(snap.clone(), "req_total @ 1.234", 250_000)
        .await
        .unwrap();
    let QueryValue::Vector(v) = out.value else {
        panic!("{out:?}")
    };
    assert_eq!(v[0].v, 1234.0);
    let out = engine
        .range(snap.clone(), "timestamp(req_total)", 0, 99_000, 1_000)
        .await
        .unwrap();
    let QueryValue::Matrix(m) = out.value else {
        panic!("{out:?}")
    };
    assert_eq!(m[0].points.len(), 100);
    assert_eq!(m[0].points[5], (5_000, 5.0));
    // 101 steps of one series are 101 samples; a range selector counts what it reads.
    for query in ["req_total", "count_over_time(req_total[1s] @ 1.234)"] {
        let err = engine
            .range(snap.clone(), query, 0, 100_000, 1_000)
            .await
            .unwrap_err();
        assert!(
            matches!(err, QueryError::TooManySamples { limit: 100 }),
            "{query}: {err}"
        );
    }
}

/// A cancelled query (its client hung up) stops at the next check inside its loops.
#[tokio::test]
async fn cancelled_query_stops() {
    let (store, snap) = store_with(&[(A, vec![1.0; 100])], 15_000).await;
    let engine = Engine::new(store, EngineOptions::default());
    let other = Engine::new(engine.store.clone(), EngineOptions::default());
    engine.canceller().cancel();
    let err = engine
        .range(
            snap.clone(),
            "sum(rate(req_total[1m]))",
            0,
            1_500_000,
            15_000,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Cancelled), "{err:?}");
    assert!(
        other.instant(snap, "req_total", 60_000).await.is_ok(),
        "another engine's queries go on"
    );
}

/// Overlay samples read as if stored: new series appear, and an overlay sample wins over a
/// stored one at the same time.
#[tokio::test]
async fn overlay_samples_are_read_as_stored() {
    let (store, snap) = store_with(&[(A, vec![1.0, 2.0, 3.0])], 60_000).await;
    let series = |labels: &[(&str, &str)], points: &[(i64, f64)]| crate::SelectedSeries {
        labels: Labels::from_pairs(labels.iter().copied()).unwrap(),
        timestamps: points.iter().map(|p| p.0).collect(),
        values: points.iter().map(|p| p.1).collect(),
        start_timestamps: Vec::new(),
    };
    let options = EngineOptions {
        overlay: crate::Overlay(Arc::new(vec![
            series(A, &[(120_000, 30.0), (180_000, 4.0)]),
            series(B, &[(120_000, 7.0)]),
        ])),
        ..Default::default()
    };
    let engine = Engine::new(store, options);
    let values = |out: QueryOutput| match out.value {
        QueryValue::Vector(v) => v.into_iter().map(|s| s.v).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let out = engine
        .instant(snap.clone(), "req_total", 120_000)
        .await
        .unwrap();
    assert_eq!(values(out), vec![30.0, 7.0]);
    let out = engine
        .instant(snap, "sum_over_time(req_total{job=\"a\"}[10m])", 180_000)
        .await
        .unwrap();
    assert_eq!(values(out), vec![1.0 + 2.0 + 30.0 + 4.0]);
}

#[tokio::test]
async fn aligned_selectors_use_rows_and_unaligned_explicit_requests_say_they_read_raw() {
    let (store, snap) =
        store_with(&[(A, (0..=40).map(|i| i as f64 * 15.0).collect())], 15_000).await;
    let run = |res, q: &'static str, step| {
        let (store, snap) = (store.clone(), snap.clone());
        async move {
            let options = EngineOptions {
                max_source_resolution: res,
                ..Default::default()
            };
            Engine::new(store, options)
                .range(snap, q, 300_000, 600_000, step)
                .await
                .unwrap()
        }
    };
    // Aligned: rows aggregated from raw (no aggregate block yet), same answer as raw.
    let raw = run(crate::SourceResolution::Raw, "rate(req_total[5m])", 300_000).await;
    let rows = run(
        crate::SourceResolution::Auto,
        "rate(req_total[5m])",
        300_000,
    )
    .await;
    assert_eq!(raw.value, rows.value);
    assert!(rows.stats.raw_samples_aggregated > 0 && raw.stats.raw_samples_aggregated == 0);
    // Not aligned (a 1m step), an explicit resolution reads raw and says so.
    let unaligned = run(
        crate::SourceResolution::UpTo(300_000),
        "rate(req_total[5m])",
        60_000,
    )
    .await;
    assert_eq!(unaligned.stats.raw_samples_aggregated, 0);
    assert!(
        unaligned
            .annotations
            .infos
            .iter()
            .any(|i| i.contains("read raw samples")),
        "{:?}",
        unaligned.annotations
    );
    let auto = run(crate::SourceResolution::Auto, "rate(req_total[5m])", 60_000).await;
    assert!(
        auto.annotations.infos.is_empty(),
        "auto falls back silently"
    );
}
