//! Scrape-path benchmark on one core: parsing, and the whole ingest of a scraped body.
//!
//! Builds an exposition shaped like node_exporter's (metric families with HELP/TYPE, 2–4
//! labels per series, counters with fractional values) and measures:
//! - parse only: [`Parser`] over the document, samples/s;
//! - scrape ingest: [`ScrapeLoop::ingest`] (series cache, target labels, batch to the write
//!   buffer, stale tracking, report series), cold (first scrape: every series new) and warm;
//! - resident memory per active series of a worker holding that many series, after several
//!   scrape + flush cycles (flushes go to a local-disk store, so blocks are not counted).
//!
//!   cargo run --release -p strata-ingest --example scrape_bench -- [SERIES] [TARGETS]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_ingest::exposition::{Entry, Format, Parser};
use strata_ingest::scrape::Config;
use strata_ingest::scrape::scrape_loop::{JobContext, ScrapeLoop};
use strata_ingest::scrape::target::Target;
use strata_ingest::{BufferOptions, WriteBuffer};
use strata_storage::{Labels, Manifest, Store};

/// The allocator of the `strata` binary, so that resident memory is measured as it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A node_exporter-like document of about `series` series.
fn document(series: usize, format: Format) -> String {
    let mut doc = String::new();
    let per_family = 100;
    let families = series.div_ceil(per_family);
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    let mut v: f64 = 1234.56;
    for f in 0..families {
        let name = format!("node_subsystem_{f}_seconds_total");
        let _ = writeln!(
            doc,
            "# HELP {name} Seconds the subsystem spent in each mode."
        );
        let _ = writeln!(doc, "# TYPE {name} counter");
        for i in 0..per_family {
            v += 17.25;
            let _ = writeln!(
                doc,
                "{name}{{cpu=\"{}\",device=\"nvme{}n1\",mode=\"{}\"}} {v}",
                i / 8,
                f % 4,
                modes[i % 8]
            );
        }
    }
    if format == Format::OpenMetrics {
        doc = doc.replace("_total{", "{").replace("_total ", " ");
        doc.push_str("# EOF\n");
    }
    doc
}

fn parse_all(doc: &[u8], format: Format) -> usize {
    let mut n = 0;
    for e in Parser::new(doc, format) {
        if let Ok(Entry::Sample(s)) = e {
            n += 1;
            std::hint::black_box(s.value);
        }
    }
    n
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().map_or(Ok(100_000), |s| s.parse())?;
    let targets: usize = args.next().map_or(Ok(10), |s| s.parse())?;

    for format in [Format::Prometheus, Format::OpenMetrics] {
        let doc = document(series, format);
        let rounds = 10;
        let started = Instant::now();
        let mut samples = 0;
        for _ in 0..rounds {
            samples += parse_all(doc.as_bytes(), format);
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "parse {format:?}: {samples} samples in {secs:.3} s = {:.2} M samples/s ({:.0} MB/s)",
            samples as f64 / secs / 1e6,
            (doc.len() * rounds) as f64 / secs / 1e6
        );
    }

    // The ingest path: `targets` targets of `series / targets` series each.
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().display().to_string())?;
    let buffer = WriteBuffer::new(
        Manifest::new(store, "bench"),
        BufferOptions {
            flush_samples: usize::MAX,
            max_samples: usize::MAX,
            ..Default::default()
        },
    );
    let config = Config::parse("scrape_configs: [{job_name: node}]")?;
    let sc = &config.scrape_configs[0];
    let context = Arc::new(JobContext::new(sc, &sc.settings(&config.global), &[])?);
    let per_target = series / targets.max(1);
    let doc = document(per_target, Format::Prometheus);
    let baseline = rss_kib();
    let mut loops: Vec<ScrapeLoop> = (0..targets)
        .map(|i| {
            let target = Target {
                labels: Labels::from_pairs([
                    ("job", "node".to_string()),
                    ("instance", format!("host-{i}.example.com:9100")),
                ])
                .unwrap_or_default(),
                discovered: Labels::default(),
                url: format!("http://host-{i}.example.com:9100/metrics"),
                interval: Duration::from_secs(15),
                timeout: Duration::from_secs(10),
            };
            ScrapeLoop::new(
                target,
                context.clone(),
                buffer.clone(),
                Arc::new(Mutex::new(Default::default())),
            )
        })
        .collect();
    let mut t = 1_700_000_000_000i64;
    let scrape_all = |loops: &mut Vec<ScrapeLoop>, t: i64| -> Result<(usize, f64), String> {
        let started = Instant::now();
        let mut n = 0;
        for l in loops.iter_mut() {
            n += l.ingest(Ok((doc.as_bytes(), Format::Prometheus)), t, Instant::now())?;
        }
        Ok((n, started.elapsed().as_secs_f64()))
    };
    let (n, secs) = scrape_all(&mut loops, t)?;
    println!(
        "ingest cold (first scrape, {targets} targets): {n} samples in {secs:.3} s = {:.2} M samples/s",
        n as f64 / secs / 1e6
    );
    let cold_resident = rss_kib().saturating_sub(baseline);
    let mut warm = Vec::new();
    for _ in 0..6 {
        buffer.flush().await?;
        t += 15_000;
        let (n, secs) = scrape_all(&mut loops, t)?;
        warm.push(n as f64 / secs / 1e6);
    }
    buffer.flush().await?;
    warm.sort_by(f64::total_cmp);
    println!(
        "ingest warm (steady scrapes): median {:.2} M samples/s",
        warm[warm.len() / 2]
    );
    // Steady state: one scrape buffered, caches full; the flush's transient memory returned.
    tokio::time::sleep(Duration::from_secs(2)).await;
    t += 15_000;
    scrape_all(&mut loops, t)?;
    let resident = rss_kib().saturating_sub(baseline);
    let active = per_target * targets;
    println!(
        "worker memory after the first scrape, before any flush: {:.0} B per series",
        cold_resident as f64 * 1024.0 / (per_target * targets) as f64
    );
    println!(
        "worker memory: {resident} KiB over the baseline for {active} active series = {:.0} B per series (caches + one buffered scrape)",
        resident as f64 * 1024.0 / active as f64
    );
    Ok(())
}
