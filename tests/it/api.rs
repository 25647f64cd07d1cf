//! `strata serve` end to end: data imported into the real S3 server, answered over HTTP to the
//! real `promtool` client and to requests shaped like Grafana's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::s3;
use crate::scrape::{value, wait_for};

/// Start of the test data (unix seconds) and its length.
pub(crate) const T0: i64 = 1_700_000_000;
const HOURS: i64 = 2;

/// A running `strata serve`; killed on drop.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(store: &str) -> Server {
    start_server_with(store, &[])
}

pub(crate) fn start_server_with(store: &str, extra: &[&str]) -> Server {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    start_strata(store, &args)
}

/// Starts `strata --store <store> <args>` and waits for the line naming its URL.
pub(crate) fn start_strata(store: &str, args: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("--store")
        .arg(store)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in s3::env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start strata serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("strata exited before listening")
            .expect("read stderr");
        if let Some(rest) = line.split(" http://").nth(1) {
            break format!("http://{}", rest.trim());
        }
        if let Some(rest) = line.split(" https://").nth(1) {
            break format!("https://{}", rest.trim());
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// Two hours at 15 s of: a counter rising 4/s per target, a gauge, and a classic histogram
/// whose buckets rise 1, 3 and 4 per second (so its 0.5 quantile is exactly 0.5 × 0.1 + …).
fn dataset() -> String {
    let mut out = String::new();
    out.push_str("# HELP req_total Requests served.\n# TYPE req_total counter\n");
    out.push_str("# HELP temp_celsius Temperature.\n# TYPE temp_celsius gauge\n");
    out.push_str("# TYPE lat_seconds histogram\n");
    for i in 0..(HOURS * 240) {
        let t = T0 + i * 15;
        let s = i * 15;
        for (job, inst) in [("api", "a:1"), ("api", "b:1"), ("db", "c:1")] {
            out.push_str(&format!(
                "req_total{{job=\"{job}\",instance=\"{inst}\"}} {} {t}\n",
                4 * s
            ));
        }
        out.push_str(&format!(
            "temp_celsius{{site=\"x\"}} {} {t}\n",
            20 + (i % 10)
        ));
        for (le, rate) in [("0.1", 1), ("1", 3), ("+Inf", 4)] {
            out.push_str(&format!(
                "lat_seconds_bucket{{le=\"{le}\"}} {} {t}\n",
                rate * s
            ));
        }
    }
    out.push_str("# EOF\n");
    out
}

pub(crate) fn import(store: &str, dir: &tempfile::TempDir) {
    let path = dir.path().join("data.om");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(dataset().as_bytes())
        .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("--store")
        .arg(store)
        .args(["import", "--quiet"])
        .arg(&path);
    for (k, v) in s3::env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run strata import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool not found: install Debian's `prometheus` package (.ci/run does)");
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

pub(crate) async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// The values promtool printed (`… => 7.999999999999999 @[…]` or `0.55 @[…]` lines).
fn promtool_values(out: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| l.split(" @[").next())
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|v| v.parse().ok())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn gets_so_far(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with("strata_object_store_requests_total{operation=\"get\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn promtool_queries_a_served_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    import(&store, &dir);
    let server = start_server(&store);
    let at = (T0 + 3600).to_string();

    let out = promtool(&[
        "query",
        "instant",
        "--time",
        &at,
        &server.url,
        "sum by (job) (rate(req_total[5m]))",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("{job=\"api\"} => "), "{out}");
    assert!(lines[1].starts_with("{job=\"db\"} => "), "{out}");
    let values = promtool_values(&out);
    assert!(close(values[0], 8.0) && close(values[1], 4.0), "{out}");

    let (start, end) = ((T0 + 1800).to_string(), (T0 + 2400).to_string());
    let out = promtool(&[
        "query",
        "range",
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "5m",
        &server.url,
        "histogram_quantile(0.5, rate(lat_seconds_bucket[5m]))",
    ]);
    // Rank 2 of 4 per second falls in (0.1, 1] after 1 below 0.1: 0.1 + 0.9 × 1/2.
    let values = promtool_values(&out);
    assert_eq!(values.len(), 3, "{out}");
    assert!(values.iter().all(|v| close(*v, 0.55)), "{out}");

    // promtool's default window is the year around now: ask for the data's.
    let (s, e) = (T0.to_string(), (T0 + HOURS * 3600).to_string());
    let out = promtool(&[
        "query",
        "series",
        "--start",
        &s,
        "--end",
        &e,
        "--match",
        "req_total{job=\"api\"}",
        &server.url,
    ]);
    assert_eq!(
        out.lines().filter(|l| l.contains("req_total")).count(),
        2,
        "{out}"
    );
    assert!(out.contains("instance=\"a:1\""), "{out}");

    let out = promtool(&[
        "query",
        "labels",
        "--start",
        &s,
        "--end",
        &e,
        &server.url,
        "job",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["api", "db"],
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn grafana_shaped_requests_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    import(&store, &dir);
    let server = start_server(&store);
    let api = format!("{}/api/v1", server.url);

    // Grafana's health check and version probe.
    let (code, body) = get(&format!("{api}/status/buildinfo")).await;
    assert_eq!(code, 200);
    assert!(body["data"]["version"].is_string(), "{body}");

    // Range queries are POSTed as forms with fractional times and a step in seconds.
    let (start, end) = (format!("{}.123", T0 + 600), format!("{}.5", T0 + 1200));
    let (code, body) = post_form(
        &format!("{api}/query_range"),
        &[
            ("query", "rate(req_total{job=\"db\"}[1m])"),
            ("start", &start),
            ("end", &end),
            ("step", "60"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix");
    let series = &body["data"]["result"][0];
    assert_eq!(series["metric"]["instance"], "c:1");
    let values = series["values"].as_array().unwrap();
    assert_eq!(values.len(), 11, "{body}");
    assert_eq!(values[0][0].as_f64(), Some((T0 + 600) as f64 + 0.123));
    let v: f64 = values[0][1].as_str().unwrap().parse().unwrap();
    assert!(close(v, 4.0), "{body}");

    // Label browser: names and values in a time range, values filtered by match[].
    let (s, e) = (T0.to_string(), (T0 + 7200).to_string());
    let (code, body) = get(&format!("{api}/labels?start={s}&end={e}")).await;
    assert_eq!(code, 200);
    assert_eq!(
        body["data"],
        serde_json::json!(["__name__", "instance", "job", "le", "site"])
    );
    let (_, body) = get(&format!(
        "{api}/label/__name__/values?match[]=%7Bjob%3D%22db%22%7D&start={s}&end={e}"
    ))
    .await;
    assert_eq!(body["data"], serde_json::json!(["req_total"]));
    let (_, body) = get(&format!("{api}/label/instance/values?limit=2")).await;
    assert_eq!(body["data"], serde_json::json!(["a:1", "b:1"]));
    assert_eq!(body["warnings"][0], "results truncated due to limit");
    let (code, body) = post_form(&format!("{api}/series"), &[("match[]", "temp_celsius")]).await;
    assert_eq!(code, 200);
    assert_eq!(
        body["data"],
        serde_json::json!([{"__name__": "temp_celsius", "site": "x"}])
    );
    let (_, body) = get(&format!("{api}/metadata?metric=req_total")).await;
    assert_eq!(
        body["data"]["req_total"][0],
        serde_json::json!({"type": "counter", "help": "Requests served.", "unit": ""})
    );

    // Instant queries: RFC 3339 time, scalar results, annotations.
    let (_, body) = get(&format!(
        "{api}/query?query=scalar(sum(temp_celsius))&time=2023-11-14T23:13:20Z"
    ))
    .await;
    assert_eq!(body["data"]["resultType"], "scalar");
    assert_eq!(body["data"]["result"][0].as_i64(), Some(T0 + 3600));
    let (_, body) = get(&format!(
        "{api}/query?query=rate(temp_celsius%5B5m%5D)&time={}",
        T0 + 3600
    ))
    .await;
    assert!(
        body["infos"][0]
            .as_str()
            .is_some_and(|i| i.contains("might not be a counter")),
        "{body}"
    );
    let (_, body) = get(&format!(
        "{api}/format_query?query=sum(rate(x%5B5m%5D))by(job)"
    ))
    .await;
    assert_eq!(body["data"], "sum by (job) (rate(x[5m]))");

    // Errors keep Prometheus' types and codes.
    for (url, code, kind) in [
        (format!("{api}/query?query=sum(("), 400, "bad_data"),
        (
            format!("{api}/query?query=up&time=yesterday"),
            400,
            "bad_data",
        ),
        (
            format!("{api}/query_range?query=up&start={s}&end={e}&step=0"),
            400,
            "bad_data",
        ),
        (
            format!("{api}/query_range?query=up&start={e}&end={s}&step=15"),
            400,
            "bad_data",
        ),
        (format!("{api}/series"), 400, "bad_data"),
        (
            format!("{api}/query?query=label_replace(up,%22%5Cxff%22,%22%22,%22a%22,%22b%22)"),
            422,
            "execution",
        ),
        (format!("{api}/nonsense"), 404, "not_found"),
    ] {
        let (got, body) = get(&url).await;
        assert_eq!(got, code, "{url}: {body}");
        assert_eq!(body["status"], "error", "{url}");
        assert_eq!(body["errorType"], kind, "{url}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_are_visible_at_once_and_warm_queries_need_no_get() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    let server = start_server(&store);
    let query = format!(
        "{}/api/v1/query?query=count(req_total)&time={}",
        server.url,
        T0 + 3600
    );
    let (_, body) = get(&query).await;
    assert_eq!(body["data"]["result"], serde_json::json!([]));

    // The contract: once `strata import` returns, the running server answers with its data.
    import(&store, &dir);
    let (_, body) = get(&query).await;
    assert_eq!(body["data"]["result"][0]["value"][1], "3", "{body}");

    let metrics = format!("{}/metrics", server.url);
    let range = format!(
        "{}/api/v1/query_range?query=sum(rate(req_total%5B5m%5D))&start={}&end={}&step=60",
        server.url,
        T0 + 600,
        T0 + 6600
    );
    let before = gets_so_far(&reqwest::get(&metrics).await.unwrap().text().await.unwrap());
    let (code, cold) = get(&range).await;
    assert_eq!(code, 200);
    let after_cold = gets_so_far(&reqwest::get(&metrics).await.unwrap().text().await.unwrap());
    let (_, warm) = get(&range).await;
    let after_warm = gets_so_far(&reqwest::get(&metrics).await.unwrap().text().await.unwrap());
    assert_eq!(cold, warm);
    // The import wrote one 2h-aligned block per window the data touches (two files each).
    let files = 2 * 2;
    assert!(
        after_cold - before <= 3 * files,
        "cold query took {} GETs for {files} files",
        after_cold - before
    );
    assert_eq!(after_warm, after_cold, "a warm query sends no GET");
}

/// A free loopback port.
/// The real Prometheus, scraping itself every second and remote-writing to `strata` with the
/// extra `remote_write` settings `write_settings` (YAML lines indented for the entry);
/// its configuration and TSDB live in `dir`.
pub(crate) fn start_prometheus_writing_to(
    strata: &str,
    dir: &std::path::Path,
    write_settings: &str,
) -> Server {
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\nremote_write:\n  - url: {strata}/api/v1/write\n{write_settings}    queue_config:\n      batch_send_deadline: 1s\n"
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus not found: install Debian's `prometheus` package (.ci/run does)");
    Server {
        child: prometheus,
        url: format!("http://127.0.0.1:{port}"),
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_remote_writes_into_strata_serve() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    let strata = start_server_with(&store, &["--flush-interval", "1s"]);

    // A bad payload is refused with 400 and nothing is kept.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/write", strata.url))
        .body("definitely not snappy")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Remote write 2.0: symbols, metadata and start timestamps; an unknown message is a 415.
    use strata_ingest::remote_write::{
        MetadataV2, RequestV2, SampleV2, TimeSeriesV2, encode_write_request_v2,
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let symbols = [
        "",
        "__name__",
        "rw2_requests_total",
        "job",
        "api",
        "Requests served.",
    ];
    let v2 = RequestV2 {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        timeseries: vec![TimeSeriesV2 {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![SampleV2 {
                value: 7.0,
                timestamp: now_ms,
                start_timestamp: 0,
            }],
            histograms: vec![],
            exemplars: vec![],
            metadata: Some(MetadataV2 {
                kind: 1,
                help_ref: 5,
                unit_ref: 0,
            }),
            created_timestamp: now_ms - 60_000,
        }],
    };
    let post_v2 = |content_type: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/api/v1/write", strata.url))
            .header("Content-Type", content_type)
            .header("Content-Encoding", "snappy")
            .body(encode_write_request_v2(&v2))
            .send()
    };
    let r = post_v2("application/x-protobuf;proto=io.prometheus.write.v2.Request")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        r.headers()["X-Prometheus-Remote-Write-Samples-Written"],
        "1"
    );
    let r = post_v2("application/x-protobuf;proto=io.prometheus.write.v3.Request")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let result = wait_for(
        &strata.url,
        "start_timestamp(rw2_requests_total)",
        std::time::Duration::from_secs(30),
        |r| !r.is_empty(),
    )
    .await;
    let start = value(&result[0]);
    assert!(
        (start * 1000.0 - (now_ms - 60_000) as f64).abs() < 1.0,
        "{result:?}"
    );
    let (_, meta) = get(&format!(
        "{}/api/v1/metadata?metric=rw2_requests_total",
        strata.url
    ))
    .await;
    assert_eq!(
        meta["data"]["rw2_requests_total"][0]["help"],
        "Requests served."
    );

    // The real Prometheus scrapes itself and remote-writes everything to Strata.
    let _prometheus = start_prometheus_writing_to(&strata.url, dir.path(), "");
    wait_for(
        &strata.url,
        "count(up{job=\"self\"}) and on() count(prometheus_build_info)",
        std::time::Duration::from_secs(90),
        |r| r.len() == 1 && value(&r[0]) == 1.0,
    )
    .await;
}

/// Queries that would pin a core answer within their timeout (or are refused at once), one
/// at a time with `--query.max-concurrency 1`, and the server keeps answering.
#[tokio::test(flavor = "multi_thread")]
async fn pathological_queries_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    import(&store, &dir);
    let server = start_server_with(&store, &["--query.max-concurrency", "1"]);
    let api = format!("{}/api/v1", server.url);
    let at = (T0 + 7200).to_string();
    let started = std::time::Instant::now();
    let (code, body) = post_form(
        &format!("{api}/query"),
        &[
            ("query", "count_over_time(req_total[9999d:1s])"),
            ("time", &at),
            ("timeout", "5s"),
        ],
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "refused at once"
    );
    // Millions of steps per series: it runs into its 2 s timeout.
    let slow = tokio::spawn({
        let api = api.clone();
        let at = at.clone();
        async move {
            let started = std::time::Instant::now();
            let r = post_form(
                &format!("{api}/query"),
                &[
                    ("query", "count_over_time(req_total[2h:1ms])"),
                    ("time", &at),
                    ("timeout", "2s"),
                ],
            )
            .await;
            (r, started.elapsed())
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Queued behind it (one slot), then answered.
    let (code, body) = post_form(
        &format!("{api}/query"),
        &[("query", "count(req_total)"), ("time", &at)],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let ((code, body), took) = slow.await.unwrap();
    assert!(
        took < std::time::Duration::from_secs(4),
        "answered in {took:?}"
    );
    assert!(
        (code == 503 && body["errorType"] == "timeout") || code == 422,
        "{code} {body}"
    );
    // A client that hangs up: its evaluation stops at once instead of running into its
    // 60 s timeout (the server's CPU time stays flat after the hang-up).
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("query", "count_over_time(req_total[2h:1ms])"),
            ("time", at.as_str()),
            ("timeout", "60s"),
        ])
        .finish();
    let hung = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap()
        .post(format!("{api}/query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    assert!(hung.is_err(), "the client gave up first");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let pid = server.child.id();
    let before = cpu_seconds(pid);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let used = cpu_seconds(pid) - before;
    assert!(
        used < 0.3,
        "the server kept {used} s of CPU busy in 1 s after the hang-up"
    );
    let (code, body) = post_form(
        &format!("{api}/query"),
        &[("query", "count(req_total)"), ("time", &at)],
    )
    .await;
    assert_eq!(code, 200, "{body}");
}

/// User and system CPU time of a process (Linux `/proc/<pid>/stat`, clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
