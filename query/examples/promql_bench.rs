//! PromQL engine benchmark over blocks in a local store (run by `bench/promql.sh`).
//!
//! Writes N counter series (15 s samples) and classic histograms into 2h blocks through the
//! real storage path, then times instant and range queries, printing median latency and
//! samples read per second. Usage: `promql_bench [SERIES] [HOURS]`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use strata_query::{Engine, EngineOptions};
use strata_storage::{
    Labels, Manifest, SeriesSamples, Store, Transaction, encode_block, upload_block,
};

const STEP_MS: i64 = 15_000;
const BLOCK_MS: i64 = 2 * 3600 * 1000;
const LE: [&str; 8] = ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"];

fn series(n: usize, hours: i64) -> Vec<(Labels, Vec<f64>)> {
    let samples = (hours * 3600 * 1000 / STEP_MS) as usize;
    let mut out = Vec::with_capacity(n + n / 10 * LE.len());
    let mut seed = 42u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % 100
    };
    for i in 0..n {
        let labels = Labels::from_pairs([
            ("__name__", "http_requests_total".to_string()),
            ("job", format!("job{}", i % 20)),
            ("instance", format!("host{}:9100", i / 10)),
            (
                "code",
                ["200", "404", "500", "503", "201"][i % 5].to_string(),
            ),
            ("method", ["GET", "POST"][i / 5 % 2].to_string()),
        ])
        .unwrap();
        let mut v = 0.0;
        let values = (0..samples).map(|_| {
            v += rnd() as f64;
            v
        });
        out.push((labels, values.collect()));
    }
    for h in 0..n / 10 / LE.len() {
        let mut counts = [0.0f64; LE.len()];
        let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); LE.len()];
        for _ in 0..samples {
            let mut cum = 0.0;
            for (b, c) in counts.iter_mut().enumerate() {
                cum += rnd() as f64 / (b + 1) as f64;
                *c += cum;
                columns[b].push(c.round());
            }
        }
        for (b, values) in columns.into_iter().enumerate() {
            let labels = Labels::from_pairs([
                ("__name__", "request_duration_seconds_bucket".to_string()),
                ("job", format!("job{}", h % 20)),
                ("instance", format!("host{h}:9100")),
                ("le", LE[b].to_string()),
            ])
            .unwrap();
            out.push((labels, values));
        }
    }
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let hours: i64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().to_str().unwrap()).unwrap();
    let data = series(n, hours);
    let total: usize = data.iter().map(|(_, v)| v.len()).sum();
    let end = hours * 3600 * 1000 - STEP_MS;
    let t0 = Instant::now();
    let manifest = Manifest::new(store.clone(), "bench");
    for w in 0..(hours * 3600 * 1000 + BLOCK_MS - 1) / BLOCK_MS {
        let input: Vec<SeriesSamples> = data
            .iter()
            .map(|(labels, values)| {
                let (ts, vs): (Vec<i64>, Vec<f64>) = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i as i64 * STEP_MS, *v))
                    .filter(|(t, _)| t / BLOCK_MS == w)
                    .unzip();
                SeriesSamples {
                    labels: labels.clone(),
                    timestamps: ts,
                    values: vs,
                    start_timestamps: Vec::new(),
                }
            })
            .collect();
        let block = encode_block(input).unwrap();
        upload_block(&store, &block).await.unwrap();
        manifest
            .commit(Transaction::add(vec![block.meta], Instant::now()))
            .await
            .unwrap();
    }
    println!(
        "data: {} series, {total} samples, {hours}h at 15s; written in {:.1}s",
        data.len(),
        t0.elapsed().as_secs_f64()
    );
    let snapshot = manifest.snapshot().await.unwrap();
    let engine = Engine::new(
        store,
        EngineOptions {
            max_samples: usize::MAX,
            ..Default::default()
        },
    );
    let range_start = end - 3600 * 1000;
    let counters = n;
    let buckets = n / 10 / LE.len() * LE.len();
    // (query, series read, samples read per instant query, range query?)
    let cases: Vec<(&str, usize, bool)> = vec![
        ("rate(http_requests_total[5m])", counters, false),
        (
            "sum by (job) (rate(http_requests_total[5m]))",
            counters,
            false,
        ),
        (
            "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
            buckets,
            false,
        ),
        (
            "max_over_time(sum by (job) (rate(http_requests_total[5m]))[30m:1m])",
            counters,
            false,
        ),
        (
            "sum by (job) (rate(http_requests_total[5m]))",
            counters,
            true,
        ),
        (
            "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
            buckets,
            true,
        ),
    ];
    println!("{:<90} {:>10} {:>14}", "query", "median ms", "samples/s");
    for (query, nseries, range) in cases {
        let window_ms: i64 = if query.contains("[30m:1m]") {
            35 * 60_000
        } else {
            5 * 60_000
        };
        let span = if range {
            end - range_start + window_ms
        } else {
            window_ms
        };
        let samples_read = nseries as f64 * (span / STEP_MS) as f64;
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let out = if range {
                engine
                    .range(snapshot.clone(), query, range_start, end, 60_000)
                    .await
            } else {
                engine.instant(snapshot.clone(), query, end).await
            };
            out.unwrap();
            times.push(t.elapsed());
        }
        times.sort();
        let median: Duration = times[times.len() / 2];
        let label = format!(
            "{}{query}",
            if range {
                "[range 1h/1m] "
            } else {
                "[instant] "
            }
        );
        println!(
            "{label:<90} {:>10.1} {:>14.0}",
            median.as_secs_f64() * 1000.0,
            samples_read / median.as_secs_f64()
        );
    }
}
