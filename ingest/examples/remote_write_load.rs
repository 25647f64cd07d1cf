//! A remote-write load generator: `ROUNDS` rounds of one sample for each of `SERIES` series,
//! sent as snappy-compressed protobuf requests of 2000 samples (Prometheus' default
//! `max_samples_per_send`) with 8 requests in flight (like Prometheus' shards); timestamps
//! advance 15 s per round so that any receiver accepts them in order. Prints samples/s.
//!
//!   cargo run --release -p strata-ingest --example remote_write_load -- URL [SERIES] [ROUNDS]

use std::time::Instant;

use futures::StreamExt;
use strata_ingest::remote_write::{
    TimeSeries, WireLabel, WireSample, WriteRequest, encode_write_request,
};

const PER_REQUEST: usize = 2000;
const IN_FLIGHT: usize = 8;

fn label(name: &str, value: String) -> WireLabel {
    WireLabel {
        name: name.into(),
        value,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: remote_write_load URL [SERIES] [ROUNDS]")?;
    let series: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30);
    let start_ms = chrono_now_ms() - (rounds as i64) * 15_000;
    // Encode everything first: the generator's own cost stays out of the measurement.
    let mut bodies = Vec::new();
    for round in 0..rounds {
        let t = start_ms + round as i64 * 15_000;
        for chunk in (0..series).collect::<Vec<_>>().chunks(PER_REQUEST) {
            let timeseries = chunk
                .iter()
                .map(|&i| TimeSeries {
                    labels: vec![
                        label("__name__", format!("load_metric_{}_total", i % 100)),
                        label("instance", format!("host-{}:9100", i / 100)),
                        label("job", "load".into()),
                    ],
                    samples: vec![WireSample {
                        value: (round * (i % 7 + 1)) as f64,
                        timestamp: t,
                    }],
                    histograms: vec![],
                })
                .collect();
            bodies.push(encode_write_request(&WriteRequest {
                timeseries,
                metadata: vec![],
            }));
        }
    }
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut failures = 0usize;
    let mut sent = futures::stream::iter(bodies)
        .map(|body| {
            let client = client.clone();
            let url = url.clone();
            async move {
                client
                    .post(&url)
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false)
            }
        })
        .buffered(IN_FLIGHT);
    while let Some(ok) = sent.next().await {
        if !ok {
            failures += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let samples = series * rounds;
    println!(
        "{samples} samples in {secs:.2}s: {:.0} samples/s ({failures} failed requests)",
        samples as f64 / secs
    );
    Ok(())
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
