//! ServiceMonitors and PodMonitors end to end, on the fake API server of `kubernetes.rs`:
//! this module adds what the real `kubectl` needs to `apply` and `delete` them (discovery
//! documents `/version`, `/api`, `/api/v1`, `/apis`, `/apis/monitoring.coreos.com/v1`; GET,
//! POST, merge PATCH and DELETE of objects; GET of Secrets), then runs `strata scrape`
//! workers with a `kubernetes_monitors` section: a monitor applied with kubectl is scraped
//! within seconds (the time is printed), each target by exactly one of two workers, with its
//! Secret read through the API; an invalid monitor is listed with its reason and blocks
//! nothing; a deleted monitor's targets go. A second test restarts 2 workers as 3 and checks
//! the split before and after.

use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{FakeApi, exporter, pod, service, slice, until};
use crate::api::{Server, get as http_get, start_strata};

const GROUP: &str = "monitoring.coreos.com";

/// The routes kubectl and the monitor watcher use, on top of the discovery routes.
pub(super) fn routes() -> Router<FakeApi> {
    Router::new()
        .route("/version", get(version))
        .route("/api", get(core_versions))
        .route("/api/v1", get(core_resources))
        .route("/apis", get(groups))
        .route("/apis/monitoring.coreos.com/v1", get(monitor_resources))
        .route(
            "/apis/monitoring.coreos.com/v1/{plural}",
            get(super::collection),
        )
        .route(
            "/apis/monitoring.coreos.com/v1/namespaces/{ns}/{plural}",
            get(super::namespaced).post(create),
        )
        .route(
            "/apis/monitoring.coreos.com/v1/namespaces/{ns}/{plural}/{name}",
            get(read).patch(patch).put(replace).delete(delete),
        )
        .route("/api/v1/namespaces/{ns}/{plural}/{name}", get(read))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("Content-Type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn version() -> Response {
    json_response(
        StatusCode::OK,
        json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"}),
    )
}

async fn core_versions(State(api): State<FakeApi>) -> Response {
    let address = api.url.trim_start_matches("http://").to_string();
    json_response(
        StatusCode::OK,
        json!({"kind": "APIVersions", "versions": ["v1"],
               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}),
    )
}

fn resource(name: &str, kind: &str, namespaced: bool) -> Value {
    json!({"name": name, "singularName": kind.to_ascii_lowercase(), "namespaced": namespaced,
           "kind": kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
}

async fn core_resources() -> Response {
    json_response(
        StatusCode::OK,
        json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            resource("pods", "Pod", true), resource("services", "Service", true),
            resource("secrets", "Secret", true), resource("namespaces", "Namespace", false)]}),
    )
}

async fn groups() -> Response {
    let version = json!({"groupVersion": format!("{GROUP}/v1"), "version": "v1"});
    json_response(
        StatusCode::OK,
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": GROUP, "versions": [version], "preferredVersion": version}]}),
    )
}

async fn monitor_resources() -> Response {
    json_response(
        StatusCode::OK,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/v1"),
               "resources": [resource("servicemonitors", "ServiceMonitor", true),
                             resource("podmonitors", "PodMonitor", true)]}),
    )
}

fn not_found(plural: &str, name: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("{plural} \"{name}\" not found"), "reason": "NotFound",
               "details": {"name": name, "kind": plural}, "code": 404}),
    )
}

impl FakeApi {
    fn object(&self, plural: &str, name: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .objects
            .get(&(plural.to_string(), name.to_string()))
            .cloned()
    }

    /// Stores `object` at a new version (`kind`: ADDED or MODIFIED) and returns it.
    fn store(&self, kind: &'static str, plural: &str, mut object: Value) -> Value {
        let mut out = Value::Null;
        self.put(kind, plural, |v| {
            let meta = &mut object["metadata"];
            meta["resourceVersion"] = json!(v.to_string());
            if meta["uid"].is_null() {
                meta["uid"] = json!(format!("uid-{v}"));
                meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
                meta["generation"] = json!(1);
            }
            out = object.clone();
            object
        });
        out
    }

    /// Creates or replaces a monitor as `kubectl apply` would (for tests that need no
    /// kubectl).
    fn apply(&self, object: Value) {
        let plural = format!("{}s", object["kind"].as_str().unwrap().to_ascii_lowercase());
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let kind = if self.object(&plural, &name).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.store(kind, &plural, object);
    }
}

async fn read(
    State(api): State<FakeApi>,
    Path((_ns, plural, name)): Path<(String, String, String)>,
) -> Response {
    match api.object(&plural, &name) {
        Some(o) => json_response(StatusCode::OK, o),
        None => not_found(&plural, &name),
    }
}

async fn create(
    State(api): State<FakeApi>,
    Path((ns, plural)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"message": "not JSON"}));
    };
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if api.object(&plural, &name).is_some() {
        return json_response(
            StatusCode::CONFLICT,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "reason": "AlreadyExists", "code": 409}),
        );
    }
    object["metadata"]["namespace"] = json!(ns);
    json_response(StatusCode::CREATED, api.store("ADDED", &plural, object))
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in fields {
        if v.is_null() {
            if let Some(t) = target.as_object_mut() {
                t.remove(k);
            }
        } else {
            merge(&mut target[k], v);
        }
    }
}

async fn patch(
    State(api): State<FakeApi>,
    Path((_ns, plural, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/merge-patch+json") {
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({"kind": "Status", "code": 415, "message": content_type}),
        );
    }
    let (Some(mut object), Ok(change)) = (
        api.object(&plural, &name),
        serde_json::from_slice::<Value>(&body),
    ) else {
        return not_found(&plural, &name);
    };
    merge(&mut object, &change);
    json_response(StatusCode::OK, api.store("MODIFIED", &plural, object))
}

async fn replace(
    State(api): State<FakeApi>,
    Path((_ns, plural, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    match (
        api.object(&plural, &name),
        serde_json::from_slice::<Value>(&body),
    ) {
        (Some(_), Ok(object)) => {
            json_response(StatusCode::OK, api.store("MODIFIED", &plural, object))
        }
        _ => not_found(&plural, &name),
    }
}

async fn delete(
    State(api): State<FakeApi>,
    Path((_ns, plural, name)): Path<(String, String, String)>,
    Query(_q): Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let Some(object) = api.object(&plural, &name) else {
        return not_found(&plural, &name);
    };
    let gone = object.clone();
    api.put("DELETED", &plural, move |_| gone);
    json_response(StatusCode::OK, object)
}

/// An exporter that answers only requests with `Authorization: Bearer <token>`.
async fn guarded_exporter(token: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| async move {
            let expected = format!("Bearer {token}");
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
                return (StatusCode::UNAUTHORIZED, String::new());
            }
            (
                StatusCode::OK,
                "# TYPE k8s_exporter gauge\nk8s_exporter{exporter=\"guarded\"} 1\n".to_string(),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A pod with `labels` instead of `app: exporter`.
fn labelled_pod(name: &str, port: u16, labels: Value) -> impl FnOnce(u64) -> Value {
    move |v| {
        let mut p = pod(name, port, v);
        p["metadata"]["labels"] = labels;
        p
    }
}

/// (scrape pool, pod, health) of a worker's active targets.
async fn targets(url: &str) -> Vec<(String, String, String)> {
    let (_, t) = http_get(&format!("{url}/api/v1/targets?state=active")).await;
    let mut out: Vec<(String, String, String)> = t["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (s(&t["scrapePool"]), s(&t["labels"]["pod"]), s(&t["health"]))
        })
        .collect();
    out.sort();
    out
}

/// The targets of all workers, with the number of workers holding each.
async fn split(workers: &[Server]) -> Vec<((String, String), usize, bool)> {
    let mut all: std::collections::BTreeMap<(String, String), (usize, bool)> = Default::default();
    for w in workers {
        for (pool, pod, health) in targets(&w.url).await {
            let e = all.entry((pool, pod)).or_default();
            e.0 += 1;
            e.1 = health == "up";
        }
    }
    all.into_iter().map(|(k, (n, up))| (k, n, up)).collect()
}

/// The workers' configuration (monitors only, from `api`) and bucket in `dir`.
fn worker_files(dir: &std::path::Path, api: &str) -> (String, String) {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nkubernetes_monitors:\n  api_server: {api}\n"),
    )
    .unwrap();
    (
        dir.join("store").display().to_string(),
        cfg.display().to_string(),
    )
}

fn workers(store: &str, config: &str, n: u32) -> Vec<Server> {
    (0..n)
        .map(|i| {
            start_strata(
                store,
                &[
                    "scrape",
                    "--config",
                    config,
                    "--listen",
                    "127.0.0.1:0",
                    "--flush-interval",
                    "2s",
                    "--shard",
                    &i.to_string(),
                    "--shards",
                    &n.to_string(),
                ],
            )
        })
        .collect()
}

fn kubectl(kubeconfig: &std::path::Path, cache: &std::path::Path, args: &[&str]) {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn has_kubectl() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

const MONITORS: &str = "apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: pm, namespace: default}
spec:
  selector: {matchLabels: {app: exporter}}
  podMetricsEndpoints: [{port: metrics, interval: 1s}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: sm, namespace: default}
spec:
  serviceDiscoveryRole: EndpointSlice
  selector: {matchLabels: {team: a}}
  endpoints:
  - port: metrics
    interval: 1s
    authorization: {credentials: {name: token, key: t}}
";

#[tokio::test(flavor = "multi_thread")]
async fn monitors_applied_with_kubectl_are_scraped_by_one_of_two_workers() {
    if !has_kubectl() {
        eprintln!("kubernetes monitors: kubectl is not installed; skipping the kubectl test");
        return;
    }
    let api = FakeApi::start().await;
    for i in 0..4 {
        let port = exporter("pm").await;
        api.change("ADDED", &format!("pm-{i}"), port);
    }
    let guarded = guarded_exporter("s3cret").await;
    for name in ["svc-0", "svc-1"] {
        api.put(
            "ADDED",
            "pods",
            labelled_pod(name, guarded, json!({"app": "web"})),
        );
    }
    api.put("ADDED", "services", service);
    api.put("ADDED", "endpointslices", |v| {
        slice(v, &[("svc-0", guarded), ("svc-1", guarded)])
    });
    // base64("s3cret")
    api.store(
        "ADDED",
        "secrets",
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "token", "namespace": "default"}, "data": {"t": "czNjcmV0"}}),
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: fake, cluster: {{server: '{}'}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: c, context: {{cluster: fake, user: u, namespace: default}}}}]\ncurrent-context: c\n",
            api.url
        ),
    )
    .unwrap();
    let cache = dir.path().join("kube-cache");
    let (store, cfg) = worker_files(dir.path(), &api.url);
    let ws = workers(&store, &cfg, 2);
    // The workers are up and have listed the (no) monitors.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let manifest = dir.path().join("monitors.yaml");
    std::fs::write(&manifest, MONITORS).unwrap();
    let applied = Instant::now();
    let m = manifest.display().to_string();
    kubectl(
        &kubeconfig,
        &cache,
        &["apply", "--validate=false", "-f", &m],
    );
    let expected: Vec<(String, String)> = (0..4)
        .map(|i| ("podMonitor/default/pm/0".to_string(), format!("pm-{i}")))
        .chain(["svc-0", "svc-1"].map(|p| ("serviceMonitor/default/sm/0".to_string(), p.into())))
        .collect();
    let mut seen = Vec::new();
    until(
        "every target scraped once",
        Duration::from_secs(20),
        async || {
            seen = split(&ws).await;
            seen.iter().map(|(k, ..)| k.clone()).collect::<Vec<_>>() == expected
                && seen.iter().all(|(_, n, up)| *n == 1 && *up)
        },
    )
    .await;
    let took = applied.elapsed();
    eprintln!(
        "kubernetes monitors: kubectl apply to the first scrape of all {} new targets: {took:?}",
        expected.len()
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The split follows the targets' hashes (their ports are random): print it.
    let per_worker: Vec<usize> = futures::future::join_all(ws.iter().map(|w| targets(&w.url)))
        .await
        .iter()
        .map(Vec::len)
        .collect();
    eprintln!("kubernetes monitors: targets per worker: {per_worker:?}");

    // The samples, queried back through a reader of the same bucket: the jobs are the
    // operator's (`<ns>/<name>` for a PodMonitor, the service for a ServiceMonitor).
    let reader = start_strata(
        &store,
        &["serve", "--listen", "127.0.0.1:0", "--no-compact"],
    );
    crate::scrape::wait_for(
        &reader.url,
        "count by (job, namespace) (k8s_exporter)",
        Duration::from_secs(30),
        |r| {
            let count = |job: &str| {
                r.iter()
                    .find(|s| s["metric"]["job"] == job && s["metric"]["namespace"] == "default")
                    .map(|s| s["value"][1].clone())
            };
            count("default/pm") == Some(json!("4")) && count("web") == Some(json!("2"))
        },
    )
    .await;

    // An invalid monitor is listed with its reason on every worker; the others run on.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: bad, namespace: default}\nspec:\n  selector: {}\n  endpoints: [{port: web, basicAuth: {username: {name: missing, key: u}, password: {name: missing, key: p}}}]\n",
    )
    .unwrap();
    kubectl(
        &kubeconfig,
        &cache,
        &[
            "apply",
            "--validate=false",
            "-f",
            &bad.display().to_string(),
        ],
    );
    for w in &ws {
        until(
            "the invalid monitor listed",
            Duration::from_secs(10),
            async || {
                let (_, t) = http_get(&format!("{}/api/v1/targets", w.url)).await;
                t["data"]["invalidMonitors"]
                    == json!([{"kind": "ServiceMonitor", "namespace": "default", "name": "bad",
                           "reason": "endpoints[0]: secret default/missing not found"}])
            },
        )
        .await;
        let metrics = reqwest::get(format!("{}/metrics", w.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("strata_kubernetes_monitors{state=\"valid\"} 2"),
            "{metrics}"
        );
        assert!(
            metrics.contains("strata_kubernetes_monitors{state=\"invalid\"} 1"),
            "{metrics}"
        );
    }
    assert_eq!(split(&ws).await.len(), expected.len());

    // A changed monitor (kubectl's merge PATCH) applies without a reload.
    let changed = MONITORS.replace(
        "podMetricsEndpoints: [{port: metrics, interval: 1s}]",
        "podTargetLabels: [app]\n  podMetricsEndpoints: [{port: metrics, interval: 1s}]",
    );
    std::fs::write(&manifest, changed).unwrap();
    kubectl(
        &kubeconfig,
        &cache,
        &["apply", "--validate=false", "-f", &m],
    );
    for w in &ws {
        until(
            "the pod label on the PodMonitor's targets",
            Duration::from_secs(10),
            async || {
                let (_, t) = http_get(&format!("{}/api/v1/targets?state=active", w.url)).await;
                t["data"]["activeTargets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t["scrapePool"] == "podMonitor/default/pm/0")
                    .all(|t| t["labels"]["app"] == "exporter")
            },
        )
        .await;
    }
    // Deleting the monitors removes their targets from both workers.
    kubectl(&kubeconfig, &cache, &["delete", "--wait=false", "-f", &m]);
    until("no targets left", Duration::from_secs(10), async || {
        split(&ws).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn monitor_targets_stay_split_exactly_when_the_number_of_workers_changes() {
    let api = FakeApi::start().await;
    for i in 0..12 {
        let port = exporter("n").await;
        api.change("ADDED", &format!("pod-{i:02}"), port);
    }
    api.apply(
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": {"name": "pods", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "exporter"}},
                 "podMetricsEndpoints": [{"port": "metrics", "interval": "1s"}]}}),
    );
    let dir = tempfile::tempdir().unwrap();
    let (store, cfg) = worker_files(dir.path(), &api.url);
    for n in [2, 3] {
        let ws = workers(&store, &cfg, n);
        let mut seen = Vec::new();
        until(
            &format!("12 targets over {n} workers"),
            Duration::from_secs(20),
            async || {
                seen = split(&ws).await;
                seen.len() == 12
            },
        )
        .await;
        assert!(
            seen.iter().all(|(_, holders, _)| *holders == 1),
            "every target on exactly one of {n} workers: {seen:?}"
        );
        let shares: Vec<usize> = futures::future::join_all(ws.iter().map(|w| targets(&w.url)))
            .await
            .iter()
            .map(Vec::len)
            .collect();
        eprintln!("kubernetes monitors: 12 targets over {n} workers: {shares:?}");
        drop(ws);
    }
}
