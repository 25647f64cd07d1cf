//! The Lambda bootstrap as Lambda runs it: the built `strata` binary started with no
//! arguments and a clean environment (no `HOME`, Lambda's own variables, `STRATA_LAMBDA_ROLE`,
//! `STRATA_STORE`) against a fake of Lambda's Runtime API (below) and the real S3-compatible
//! server. Each role gets real event payloads (`tests/fixtures/lambda`): HTTP API 2.0 GET and
//! form POST, a base64 snappy remote write, a Function URL request, Scheduler inputs and an
//! EventBridge rule's event; a malformed event gets an error and the process keeps serving.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::api::{self, T0};
use crate::s3;

/// What the bootstrap answered for one invocation.
#[derive(Debug, Clone)]
enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct Shared {
    results: Mutex<HashMap<String, Outcome>>,
    init_error: Mutex<Option<String>>,
    first_next: Mutex<Option<Instant>>,
    done: Notify,
}

/// A fake of the Lambda Runtime API (2018-06-01): `GET /runtime/invocation/next` hands out
/// queued events with Lambda's headers (request id, deadline, function ARN, trace id), and
/// `POST /runtime/invocation/{id}/response|error` and `/runtime/init/error` collect answers.
struct FakeRuntime {
    addr: String,
    events: mpsc::UnboundedSender<(String, Value, u64)>,
    shared: Arc<Shared>,
    next_id: Mutex<u64>,
}

type Queue = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value, u64)>>>;

async fn next(State((queue, shared)): State<(Queue, Arc<Shared>)>) -> impl IntoResponse {
    shared
        .first_next
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let Some((id, event, deadline)) = queue.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:strata-test"
            .parse()
            .unwrap(),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c".parse().unwrap(),
    );
    (StatusCode::OK, headers, event.to_string())
}

async fn respond(
    State((_, shared)): State<(Queue, Arc<Shared>)>,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let value: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let outcome = if kind == "response" {
        Outcome::Response(value)
    } else {
        Outcome::Error(value)
    };
    shared.results.lock().unwrap().insert(id, outcome);
    shared.done.notify_waiters();
    StatusCode::ACCEPTED
}

async fn init_error(State((_, shared)): State<(Queue, Arc<Shared>)>, body: Bytes) -> StatusCode {
    *shared.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    shared.done.notify_waiters();
    StatusCode::ACCEPTED
}

impl FakeRuntime {
    async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(rx));
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(respond))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state((queue, shared.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            events: tx,
            shared,
            next_id: Mutex::new(0),
        }
    }

    /// Sends one event with `budget` before its deadline and waits for the answer.
    async fn invoke_with(&self, event: Value, budget: Duration) -> Outcome {
        let id = {
            let mut n = self.next_id.lock().unwrap();
            *n += 1;
            format!("req-{n}")
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + budget.as_millis() as u64;
        self.events.send((id.clone(), event, deadline)).unwrap();
        let give_up = Instant::now() + budget + Duration::from_secs(30);
        loop {
            let notified = self.shared.done.notified();
            if let Some(o) = self.shared.results.lock().unwrap().remove(&id) {
                return o;
            }
            if let Some(e) = self.shared.init_error.lock().unwrap().clone() {
                panic!("init error: {e}");
            }
            assert!(Instant::now() < give_up, "no answer to {id}");
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }

    async fn invoke(&self, event: Value) -> Outcome {
        self.invoke_with(event, Duration::from_secs(30)).await
    }
}

/// A running bootstrap; killed on drop.
struct Bootstrap(Child);

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary as Lambda starts `bootstrap`: no arguments, a clean environment.
fn bootstrap(runtime: &FakeRuntime, role: &str, store: &str, extra: &[(&str, &str)]) -> Bootstrap {
    let cache = tempfile::tempdir().unwrap().keep();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", format!("strata-{role}"))
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/30/[$LATEST]0123456789abcdef",
        )
        .env("STRATA_LAMBDA_ROLE", role)
        .env("STRATA_STORE", store)
        .env("STRATA_ARGS", format!("--cache-dir {}", cache.display()))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in s3::env() {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Bootstrap(cmd.spawn().expect("start the bootstrap"))
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/lambda/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// An HTTP API 2.0 event for `method path?query` with `body`.
fn http_event(
    base: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<(String, bool)>,
) -> Value {
    let mut e = fixture(base);
    e["rawPath"] = json!(path);
    e["rawQueryString"] = json!(query);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    for (k, v) in headers {
        e["headers"][*k] = json!(v);
    }
    if let Some((body, base64)) = body {
        e["body"] = json!(body);
        e["isBase64Encoded"] = json!(base64);
    }
    e
}

fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(v) => v,
        Outcome::Error(e) => panic!("error instead of a response: {e}"),
    }
}

/// The JSON body of an HTTP answer.
fn body(r: &Value) -> Value {
    let text = r["body"].as_str().unwrap_or_default();
    assert_eq!(r["isBase64Encoded"], json!(false), "{r}");
    serde_json::from_str(text).unwrap_or_else(|_| json!(text))
}

#[tokio::test(flavor = "multi_thread")]
async fn query_role_answers_http_api_and_function_url_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    api::import(&store, &dir);
    let runtime = FakeRuntime::start().await;
    let spawned = Instant::now();
    let _fn = bootstrap(&runtime, "query", &store, &[]);
    let server = api::start_server_with(&store, &[]);
    let at = (T0 + 3600).to_string();
    // GET /api/v1/query through the HTTP API: the same answer as `strata serve`.
    let q = format!("query=sum%20by%20(job)%20(rate(req_total%5B5m%5D))&time={at}");
    let r = response(
        runtime
            .invoke(http_event(
                "apigw-v2-request.json",
                "GET",
                "/api/v1/query",
                &q,
                &[],
                None,
            ))
            .await,
    );
    assert_eq!(r["statusCode"], 200, "{r}");
    assert!(
        r["headers"]["content-type"]
            .as_str()
            .is_some_and(|c| c.starts_with("application/json")),
        "{r}"
    );
    let init = runtime.shared.first_next.lock().unwrap().unwrap() - spawned;
    eprintln!("lambda query role: first /next {init:?} after spawn");
    let (_, direct) = api::get(&format!("{}/api/v1/query?{q}", server.url)).await;
    assert_eq!(body(&r), direct);
    assert_eq!(direct["data"]["result"].as_array().map(Vec::len), Some(2));
    // A form POST of /api/v1/query_range, as Grafana sends it.
    let form = format!(
        "query=req_total&start={}&end={}&step=60",
        T0 + 600,
        T0 + 1200
    );
    let r = response(
        runtime
            .invoke(http_event(
                "apigw-v2-request.json",
                "POST",
                "/api/v1/query_range",
                "",
                &[("content-type", "application/x-www-form-urlencoded")],
                Some((form.clone(), false)),
            ))
            .await,
    );
    assert_eq!(r["statusCode"], 200, "{r}");
    let (_, direct) = api::post_form(
        &format!("{}/api/v1/query_range", server.url),
        &[
            ("query", "req_total"),
            ("start", &(T0 + 600).to_string()),
            ("end", &(T0 + 1200).to_string()),
            ("step", "60"),
        ],
    )
    .await;
    assert_eq!(body(&r), direct);
    // A Function URL request (payload 2.0 as well).
    let r = response(
        runtime
            .invoke(http_event(
                "function-url-request.json",
                "GET",
                "/api/v1/label/job/values",
                "",
                &[],
                None,
            ))
            .await,
    );
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(body(&r)["data"], json!(["api", "db"]));
    // Bad PromQL: Prometheus' JSON error, 400.
    let r = response(
        runtime
            .invoke(http_event(
                "apigw-v2-request.json",
                "GET",
                "/api/v1/query",
                "query=sum(",
                &[],
                None,
            ))
            .await,
    );
    assert_eq!(r["statusCode"], 400, "{r}");
    assert_eq!(body(&r)["errorType"], "bad_data");
    // An event that is no HTTP request: an error to the Runtime API, and the process
    // answers the next event.
    match runtime.invoke(json!({"not": "an http event"})).await {
        Outcome::Error(e) => assert!(e.to_string().contains("error"), "{e}"),
        Outcome::Response(r) => panic!("answered a malformed event: {r}"),
    }
    let r = response(
        runtime
            .invoke(http_event(
                "apigw-v2-request.json",
                "GET",
                "/api/v1/status/buildinfo",
                "",
                &[],
                None,
            ))
            .await,
    );
    assert_eq!(r["statusCode"], 200, "{r}");
}

/// Remote write through the gateway commits before it answers: the samples are in the
/// store the moment the 204 comes back.
#[tokio::test(flavor = "multi_thread")]
async fn write_role_commits_inside_the_request() {
    use strata_ingest::remote_write::{
        TimeSeries, WireLabel, WireSample, WriteRequest, encode_write_request,
    };
    let store = s3::fresh_url();
    let runtime = FakeRuntime::start().await;
    let _fn = bootstrap(&runtime, "write", &store, &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let request = WriteRequest {
        timeseries: (0..10)
            .map(|i| TimeSeries {
                labels: vec![
                    WireLabel {
                        name: "__name__".into(),
                        value: "lambda_written_total".into(),
                    },
                    WireLabel {
                        name: "instance".into(),
                        value: format!("host{i}"),
                    },
                ],
                samples: (0..6)
                    .map(|k| WireSample {
                        value: k as f64,
                        timestamp: now - 50_000 + k * 10_000,
                    })
                    .collect(),
                histograms: vec![],
            })
            .collect(),
        metadata: vec![],
    };
    let body = base64::engine::general_purpose::STANDARD.encode(encode_write_request(&request));
    let event = http_event(
        "apigw-v2-request.json",
        "POST",
        "/api/v1/write",
        "",
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "snappy"),
            ("x-prometheus-remote-write-version", "0.1.0"),
        ],
        Some((body, true)),
    );
    let r = response(runtime.invoke(event).await);
    assert_eq!(r["statusCode"], 204, "{r}");
    // Committed already: a fresh reader sees every sample.
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .envs(s3::env())
        .args([
            "--store",
            &store,
            "query",
            "count_over_time(lambda_written_total[2m])",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("=> 6")).count(),
        10,
        "{text}"
    );
    // A body that is not snappy: 400, and nothing else changes.
    let bad = http_event(
        "apigw-v2-request.json",
        "POST",
        "/api/v1/write",
        "",
        &[("content-encoding", "snappy")],
        Some((
            base64::engine::general_purpose::STANDARD.encode("nope"),
            true,
        )),
    );
    let r = response(runtime.invoke(bad).await);
    assert_eq!(r["statusCode"], 400, "{r}");
}

/// The compaction role runs due jobs within the invocation's deadline; the scrape role
/// scrapes its shard for one interval and commits before answering; a task meant for
/// another role is refused; the authorizer accepts only the configured bearer token.
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_roles_and_the_authorizer() {
    // An exporter with one target, and the configuration as an object in the bucket.
    let exporter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = exporter.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let app = Router::new().route(
            "/metrics",
            get(|| async { "# TYPE lambda_scraped gauge\nlambda_scraped{kind=\"a\"} 1\nlambda_scraped{kind=\"b\"} 2\n" }),
        );
        axum::serve(exporter, app).await
    });
    let store = s3::fresh_url();
    let config = format!(
        "global:\n  scrape_interval: 2s\nscrape_configs:\n  - job_name: lambda\n    static_configs: [{{targets: ['{target}']}}]\n"
    );
    s3::open(&store)
        .put(
            &object_store::path::Path::from("config/prometheus.yml"),
            config.into(),
        )
        .await
        .unwrap();
    let runtime = FakeRuntime::start().await;
    let config_url = format!("{store}/config/prometheus.yml");
    let _scrape = bootstrap(
        &runtime,
        "scrape",
        &store,
        &[("STRATA_CONFIG", &config_url)],
    );
    let started = Instant::now();
    let r = response(
        runtime
            .invoke(json!({"task": "scrape", "shard": 0, "shards": 1,
                "scheduled_time": "<aws.scheduler.scheduled-time>"}))
            .await,
    );
    assert!(started.elapsed() >= Duration::from_secs(2), "one interval");
    assert_eq!(
        (r["targets"].clone(), r["up"].clone()),
        (json!(1), json!(1)),
        "{r}"
    );
    assert!(r["samples"].as_u64().unwrap() >= 2, "{r}");
    assert!(r["requests"]["put"].as_u64().unwrap() >= 2, "{r}");
    // The other shard of two has no target here (one target, owned by one shard).
    let r1 = response(
        runtime
            .invoke(json!({"task": "scrape", "shard": 1, "shards": 2}))
            .await,
    );
    let r0 = response(
        runtime
            .invoke(json!({"task": "scrape", "shard": 0, "shards": 2}))
            .await,
    );
    assert_eq!(
        r0["targets"].as_u64().unwrap() + r1["targets"].as_u64().unwrap(),
        1,
        "{r0} {r1}"
    );
    match runtime.invoke(json!({"task": "compact"})).await {
        Outcome::Error(e) => assert!(e.to_string().contains("scrape"), "{e}"),
        Outcome::Response(r) => panic!("a scrape function compacted: {r}"),
    }
    // Compaction: an EventBridge rule's event, then a Scheduler input.
    let runtime2 = FakeRuntime::start().await;
    let _compact = bootstrap(&runtime2, "compact", &store, &[]);
    let r = response(runtime2.invoke(fixture("eventbridge-schedule.json")).await);
    assert!(
        r["jobs"].is_u64() && r["requests"]["list"].as_u64().unwrap() >= 1,
        "{r}"
    );
    let r = response(
        runtime2
            .invoke_with(
                json!({"task": "compact", "scheduled_time": "2026-11-30T12:00:00Z"}),
                Duration::from_secs(20),
            )
            .await,
    );
    assert_eq!(r["failed"], 0, "{r}");
    match runtime2
        .invoke(json!({"task": "compact", "shard": 3, "shards": 2}))
        .await
    {
        Outcome::Error(e) => assert!(e.to_string().contains("below"), "{e}"),
        Outcome::Response(r) => panic!("accepted a bad shard: {r}"),
    }
    // The authorizer.
    let runtime3 = FakeRuntime::start().await;
    let hash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"; // sha256("password")
    let _auth = bootstrap(
        &runtime3,
        "authorizer",
        &store,
        &[("STRATA_BEARER_TOKEN_SHA256", hash)],
    );
    let mut event = fixture("apigw-v2-authorizer-request.json");
    event["headers"]["authorization"] = json!("Bearer password");
    let r = response(runtime3.invoke(event.clone()).await);
    assert_eq!(r, json!({"isAuthorized": true}));
    event["headers"]["authorization"] = json!("Bearer guess");
    let r = response(runtime3.invoke(event).await);
    assert_eq!(r, json!({"isAuthorized": false}));
}
