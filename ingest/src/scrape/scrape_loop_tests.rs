use std::collections::BTreeMap;

use strata_storage::{Labels, Manifest, Store};

use super::*;
use crate::buffer::BufferOptions;
use crate::scrape::config::{Config, DEFAULT_SCRAPE_PROTOCOLS};

/// A one-route HTTP server answering every request with `body` as `content_type` (gzipped
/// when the request accepts it); the body can be swapped between scrapes, and the last
/// request's head is kept.
struct Exporter {
    url: String,
    body: Arc<Mutex<(String, Vec<u8>)>>,
    last_request: Arc<Mutex<String>>,
}

impl Exporter {
    async fn start(content_type: &str, body: &str) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new((
            content_type.to_string(),
            body.as_bytes().to_vec(),
        )));
        let served = state.clone();
        let last_request = Arc::new(Mutex::new(String::new()));
        let seen = last_request.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let served = served.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut read = 0;
                    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                    }
                    let request = String::from_utf8_lossy(&buf[..read]).to_ascii_lowercase();
                    let (ct, mut body) = served.lock().unwrap().clone();
                    let mut encoding = "";
                    if request.contains("accept-encoding: gzip") {
                        use std::io::Write as _;
                        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Default::default());
                        gz.write_all(&body).unwrap();
                        body = gz.finish().unwrap();
                        encoding = "Content-Encoding: gzip\r\n";
                    }
                    *seen.lock().unwrap() = request;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\n{encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                });
            }
        });
        Self {
            url: format!("http://{addr}/metrics"),
            body: state,
            last_request,
        }
    }

    fn set(&self, body: &str) {
        self.body.lock().unwrap().1 = body.as_bytes().to_vec();
    }
}

fn job(yaml: &str) -> Arc<JobContext> {
    let config = Config::parse(&format!("scrape_configs:\n- job_name: test\n{yaml}")).unwrap();
    let sc = &config.scrape_configs[0];
    let external = labelset::from_pairs([("replica", "a")]);
    Arc::new(JobContext::new(sc, &sc.settings(&config.global), &external).unwrap())
}

fn target(url: &str) -> Target {
    Target {
        labels: Labels::from_pairs([("job", "test"), ("instance", "host:1")]).unwrap(),
        discovered: Labels::default(),
        url: url.to_string(),
        interval: Duration::from_secs(15),
        timeout: Duration::from_secs(5),
    }
}

/// Flushes `buffer` and returns what it committed: series text → samples.
async fn committed(store: &Store, buffer: &WriteBuffer) -> BTreeMap<String, Vec<(i64, f64)>> {
    buffer.flush().await.unwrap();
    let snapshot = Manifest::new(store.clone(), "t").snapshot().await.unwrap();
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for block in snapshot.blocks() {
        let reader = strata_storage::BlockReader::new(store.clone(), block.clone());
        let series = reader.series().await.unwrap();
        let refs: Vec<u32> = (0..series.len() as u32).collect();
        for s in reader.samples(&series, &refs).await.unwrap() {
            let labels = series[s.series_ref as usize].labels.to_string();
            let entry = out.entry(labels).or_default();
            entry.extend(s.timestamps.iter().copied().zip(s.values.iter().copied()));
        }
    }
    for v in out.values_mut() {
        v.sort_by_key(|p| p.0);
    }
    out
}

/// Lets the clock move on: samples of two scrapes in one millisecond would collide.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

fn setup() -> (Store, Arc<WriteBuffer>) {
    let store = Store::open("memory://").unwrap();
    let buffer = WriteBuffer::new(Manifest::new(store.clone(), "w"), BufferOptions::default());
    (store, buffer)
}

#[tokio::test]
async fn scrapes_label_report_and_mark_stale() {
    let exporter = Exporter::start(
        "text/plain; version=0.0.4",
        "# HELP a_total A.\n# TYPE a_total counter\na_total{job=\"x\"} 1\nb 2\ngo_gc 3\n",
    )
    .await;
    let (store, buffer) = setup();
    let ctx = job(concat!(
        "  metric_relabel_configs:\n",
        "  - source_labels: [__name__]\n",
        "    regex: go_.*\n",
        "    action: drop\n",
    ));
    let health = Arc::new(Mutex::new(TargetHealth::default()));
    let mut sl = ScrapeLoop::new(target(&exporter.url), ctx, buffer.clone(), health.clone());
    sl.scrape_once().await;
    assert_eq!(
        health.lock().unwrap().health,
        "up",
        "{:?}",
        health.lock().unwrap()
    );
    // Content negotiation as Prometheus asks: formats in order, gzip, the timeout.
    let request = exporter.last_request.lock().unwrap().clone();
    assert!(request.contains("accept-encoding: gzip"), "{request}");
    assert!(
        request.contains("accept: application/openmetrics-text;version=1.0.0;q=0.5,"),
        "{request}"
    );
    assert!(
        request.contains("x-prometheus-scrape-timeout-seconds: 5"),
        "{request}"
    );
    exporter.set("b 5\n");
    tick().await;
    sl.scrape_once().await;
    let data = committed(&store, &buffer).await;
    let series: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(
        series,
        [
            r#"a_total{exported_job="x", instance="host:1", job="test", replica="a"}"#,
            r#"b{instance="host:1", job="test", replica="a"}"#,
            r#"scrape_duration_seconds{instance="host:1", job="test", replica="a"}"#,
            r#"scrape_samples_post_metric_relabeling{instance="host:1", job="test", replica="a"}"#,
            r#"scrape_samples_scraped{instance="host:1", job="test", replica="a"}"#,
            r#"scrape_series_added{instance="host:1", job="test", replica="a"}"#,
            r#"up{instance="host:1", job="test", replica="a"}"#,
        ]
    );
    let a = &data[series[0]];
    assert_eq!(a.len(), 2, "a sample, then a stale marker");
    assert_eq!(a[1].1.to_bits(), STALE_NAN_BITS);
    assert_eq!(
        data[series[1]].iter().map(|p| p.1).collect::<Vec<_>>(),
        [2.0, 5.0]
    );
    let values = |i: usize| data[series[i]].iter().map(|p| p.1).collect::<Vec<_>>();
    assert_eq!(values(4), [3.0, 1.0], "scraped");
    assert_eq!(values(3), [2.0, 1.0], "post relabeling");
    assert_eq!(values(5), [2.0, 0.0], "added");
    assert_eq!(values(6), [1.0, 1.0], "up");
    let metadata = buffer.metadata();
    assert_eq!(metadata["a_total"].kind, "counter");
}

#[tokio::test]
async fn failures_report_down_and_mark_everything_stale() {
    let exporter = Exporter::start("text/plain", "a 1\nb 2\n").await;
    let (store, buffer) = setup();
    let ctx = job("  sample_limit: 2\n");
    let health = Arc::new(Mutex::new(TargetHealth::default()));
    let mut sl = ScrapeLoop::new(target(&exporter.url), ctx, buffer.clone(), health.clone());
    sl.scrape_once().await;
    tick().await;
    exporter.set("a 1\nb 2\nc 3\n");
    sl.scrape_once().await;
    assert!(health.lock().unwrap().last_error.contains("sample_limit"));
    exporter.set("a 1\nb{ 2\n");
    tick().await;
    sl.scrape_once().await;
    assert!(health.lock().unwrap().last_error.contains("line 2"));
    let data = committed(&store, &buffer).await;
    let a = &data[r#"a{instance="host:1", job="test", replica="a"}"#];
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(a[1].1.to_bits(), STALE_NAN_BITS);
    assert!(
        !data.keys().any(|k| k.starts_with("c{")),
        "nothing of a failed scrape"
    );
    let up = &data[r#"up{instance="host:1", job="test", replica="a"}"#];
    assert_eq!(up.iter().map(|p| p.1).collect::<Vec<_>>(), [1.0, 0.0, 0.0]);
}

#[tokio::test]
async fn content_types_timestamps_and_honor_labels() {
    let om = "# TYPE a gauge\na{job=\"mine\"} 1 1700000000.5\n# EOF\n";
    let exporter = Exporter::start("application/openmetrics-text; version=1.0.0", om).await;
    let (store, buffer) = setup();
    let health = Arc::new(Mutex::new(TargetHealth::default()));
    let mut sl = ScrapeLoop::new(
        target(&exporter.url),
        job("  honor_labels: true\n"),
        buffer.clone(),
        health.clone(),
    );
    sl.scrape_once().await;
    assert_eq!(
        health.lock().unwrap().health,
        "up",
        "{:?}",
        health.lock().unwrap()
    );
    let data = committed(&store, &buffer).await;
    let a = &data[r#"a{instance="host:1", job="mine", replica="a"}"#];
    assert_eq!(a, &[(1_700_000_000_500, 1.0)]);

    let other = Exporter::start("application/json", "{}").await;
    let mut sl = ScrapeLoop::new(target(&other.url), job(""), buffer.clone(), health.clone());
    sl.scrape_once().await;
    assert!(
        health
            .lock()
            .unwrap()
            .last_error
            .contains("unsupported Content-Type")
    );
    assert!(format_of("", Some(Format::Prometheus)).is_ok());
    assert!(format_of("", None).unwrap_err().contains("blank"));
    let _ = store;
}

#[test]
fn accept_header_weights_protocols() {
    assert_eq!(
        accept_header(&DEFAULT_SCRAPE_PROTOCOLS),
        "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
}
