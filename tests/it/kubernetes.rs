//! Kubernetes discovery end to end: a fake Kubernetes API server (below: LIST with paging,
//! WATCH as JSON lines from a resource version with bookmarks, `410 Gone` for compacted
//! versions, streams it can cut) serves pods whose IPs and container ports point at
//! exporters on loopback; `strata serve --config` with `kubernetes_sd_configs` scrapes them,
//! picks up a new pod within seconds, survives dropped watches and a relist, and forgets a
//! deleted pod; two `strata scrape` workers split the pods without overlap. The fake also
//! serves what the real `kubectl` needs to apply and delete ServiceMonitors and PodMonitors
//! (discovery documents, GET, POST, merge PATCH, DELETE): their tests are in
//! `kubernetes_monitors.rs`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[path = "kubernetes_monitors.rs"]
mod monitors;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::{get as http_get, start_strata};

#[derive(Default)]
struct Inner {
    version: u64,
    /// Objects by (collection, name): `pods`, `services`, `endpointslices`.
    objects: BTreeMap<(String, String), Value>,
    /// (version, collection, type, object) of every change.
    log: Vec<(u64, String, &'static str, Value)>,
    /// Watches from a version below this get `410 Gone`.
    compacted_below: u64,
}

/// A fake Kubernetes API server holding pods, services and endpoint slices.
#[derive(Clone)]
struct FakeApi {
    inner: Arc<Mutex<Inner>>,
    /// Bumped on every change; a new generation of `cut` ends every open watch.
    changes: watch::Sender<u64>,
    cut: watch::Sender<u64>,
    url: String,
    watches: Arc<Mutex<u64>>,
}

fn pod(name: &str, port: u16, version: u64) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                     "resourceVersion": version.to_string(), "labels": {"app": "exporter"}},
        "spec": {"nodeName": "node1", "containers": [{"name": "main", "image": "exporter:1",
                  "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "10.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "main", "containerID": format!("containerd://{name}")}]}
    })
}

impl FakeApi {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let api = FakeApi {
            inner: Arc::default(),
            changes: watch::channel(0).0,
            cut: watch::channel(0).0,
            url,
            watches: Arc::default(),
        };
        let app = Router::new()
            .route("/api/v1/{plural}", get(collection))
            .route("/api/v1/namespaces/{ns}/{plural}", get(namespaced))
            .route("/apis/discovery.k8s.io/v1/{plural}", get(collection))
            .route(
                "/apis/discovery.k8s.io/v1/namespaces/{ns}/{plural}",
                get(namespaced),
            )
            .merge(monitors::routes())
            .with_state(api.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        api
    }

    fn change(&self, kind: &'static str, name: &str, port: u16) {
        self.put(kind, "pods", |v| pod(name, port, v));
    }

    /// Applies one change to `plural`; `make` builds the object at its new version.
    fn put(&self, kind: &'static str, plural: &str, make: impl FnOnce(u64) -> Value) {
        let mut inner = self.inner.lock().unwrap();
        inner.version += 1;
        let v = inner.version;
        let object = make(v);
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = (plural.to_string(), name);
        if kind == "DELETED" {
            inner.objects.remove(&key);
        } else {
            inner.objects.insert(key, object.clone());
        }
        inner.log.push((v, plural.to_string(), kind, object));
        drop(inner);
        self.changes.send_modify(|g| *g += 1);
    }

    /// Ends every open watch (a dropped connection).
    fn cut_watches(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// Forgets history: resuming from an older version gets `410 Gone`.
    fn compact(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.compacted_below = inner.version + 1;
    }
}

async fn collection(
    State(api): State<FakeApi>,
    Path(plural): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    list_or_watch(api, plural, q).await
}

async fn namespaced(
    State(api): State<FakeApi>,
    Path((_ns, plural)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    // Every object of this fake lives in `default`.
    list_or_watch(api, plural, q).await
}

async fn list_or_watch(api: FakeApi, plural: String, q: BTreeMap<String, String>) -> Response {
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return watch_objects(api, plural, q).await;
    }
    // LIST, paged by name.
    let inner = api.inner.lock().unwrap();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let after = q.get("continue").cloned().unwrap_or_default();
    let all: Vec<&Value> = inner
        .objects
        .iter()
        .filter(|((p, name), _)| {
            *p == plural && (after.is_empty() || name.as_str() > after.as_str())
        })
        .map(|(_, o)| o)
        .collect();
    let items: Vec<Value> = all.iter().take(limit).map(|o| (*o).clone()).collect();
    let more = all.len() > items.len();
    let token = if more {
        items
            .last()
            .and_then(|p| p["metadata"]["name"].as_str())
            .unwrap_or_default()
            .to_string()
    } else {
        String::new()
    };
    let list = json!({"kind": "List", "apiVersion": "v1",
        "metadata": {"resourceVersion": inner.version.to_string(), "continue": token},
        "items": items});
    ([("Content-Type", "application/json")], list.to_string()).into_response()
}

async fn watch_objects(api: FakeApi, plural: String, q: BTreeMap<String, String>) -> Response {
    *api.watches.lock().unwrap() += 1;
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if from < api.inner.lock().unwrap().compacted_below {
        let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "status": "Failure", "reason": "Expired", "code": 410,
            "message": format!("too old resource version: {from}")}});
        return (StatusCode::OK, format!("{gone}\n")).into_response();
    }
    let mut changes = api.changes.subscribe();
    let mut cut = api.cut.subscribe();
    cut.borrow_and_update();
    let stream = futures::stream::unfold(
        (api, from, changes.clone(), cut, false),
        move |(api, mut seen, mut changes, mut cut, done)| {
            let plural = plural.clone();
            async move {
                if done {
                    return None;
                }
                loop {
                    let pending: Vec<(u64, String, &'static str, Value)> = api
                        .inner
                        .lock()
                        .unwrap()
                        .log
                        .iter()
                        .filter(|(v, p, ..)| *v > seen && *p == plural)
                        .cloned()
                        .collect();
                    if !pending.is_empty() {
                        let mut text = String::new();
                        for (v, _, kind, object) in pending {
                            seen = v;
                            text.push_str(&json!({"type": kind, "object": object}).to_string());
                            text.push('\n');
                        }
                        return Some((
                            Ok::<_, std::io::Error>(text),
                            (api, seen, changes, cut, false),
                        ));
                    }
                    tokio::select! {
                        _ = changes.changed() => continue,
                        _ = cut.changed() => return None,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {
                            let v = api.inner.lock().unwrap().version;
                            let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Pod",
                                "apiVersion": "v1", "metadata": {"resourceVersion": v.to_string()}}});
                            return Some((Ok(format!("{bookmark}\n")), (api, seen, changes, cut, false)));
                        }
                    }
                }
            }
        },
    );
    changes.borrow_and_update();
    Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// An exporter on loopback whose metric names it.
async fn exporter(name: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route(
        "/metrics",
        get(move || async move {
            format!("# TYPE k8s_exporter gauge\nk8s_exporter{{exporter=\"{name}\"}} 1\n")
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn config(api: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: kube\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: {api}\n        namespaces: {{names: [default]}}\n        selectors: [{{role: pod, label: app=exporter}}]\n    relabel_configs:\n      - source_labels: [__meta_kubernetes_pod_name]\n        target_label: pod\n      - source_labels: [__meta_kubernetes_pod_container_port_name]\n        regex: metrics\n        action: keep\n"
    )
}

/// The `pod` labels of the active targets of a server.
async fn active_pods(url: &str) -> Vec<String> {
    let (_, targets) = http_get(&format!("{url}/api/v1/targets?state=active")).await;
    let mut pods: Vec<String> = targets["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["labels"]["pod"].as_str().map(String::from))
        .collect();
    pods.sort();
    pods
}

async fn until(what: &str, within: Duration, mut f: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !f().await {
        assert!(started.elapsed() < within, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_discovered_watched_and_scraped() {
    let api = FakeApi::start().await;
    let (a, b, c) = (
        exporter("a").await,
        exporter("b").await,
        exporter("c").await,
    );
    api.change("ADDED", "pod-a", a);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), config(&api.url)).unwrap();
    let store = dir.path().join("store").display().to_string();
    let cfg = dir.path().join("prometheus.yml").display().to_string();
    let server = start_strata(
        &store,
        &["serve", "--listen", "127.0.0.1:0", "--config", &cfg],
    );
    until("pod-a", Duration::from_secs(20), async || {
        active_pods(&server.url).await == ["pod-a"]
    })
    .await;
    // A new pod: discovered through the watch, no reload.
    api.change("ADDED", "pod-b", b);
    let took = until("pod-b", Duration::from_secs(10), async || {
        active_pods(&server.url).await == ["pod-a", "pod-b"]
    })
    .await;
    eprintln!("kubernetes: a new pod became a target {took:?} after it was created");
    // Dropped watches resume from their version; a compacted version means a relist.
    api.cut_watches();
    api.change("ADDED", "pod-c", c);
    until(
        "pod-c after a dropped watch",
        Duration::from_secs(10),
        async || active_pods(&server.url).await == ["pod-a", "pod-b", "pod-c"],
    )
    .await;
    api.compact();
    api.cut_watches();
    api.change("DELETED", "pod-a", a);
    until(
        "pod-a gone after a relist",
        Duration::from_secs(15),
        async || active_pods(&server.url).await == ["pod-b", "pod-c"],
    )
    .await;
    assert!(*api.watches.lock().unwrap() >= 3, "the watch was resumed");
    // The scraped samples carry the pod labels (committed at the next flush).
    crate::scrape::wait_for(
        &server.url,
        "count by (pod) (k8s_exporter)",
        Duration::from_secs(30),
        |r| r.len() >= 2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_split_the_pods() {
    let api = FakeApi::start().await;
    for i in 0..6 {
        let port = exporter("w").await;
        api.change("ADDED", &format!("pod-{i}"), port);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), config(&api.url)).unwrap();
    let store = dir.path().join("store").display().to_string();
    let cfg = dir.path().join("prometheus.yml").display().to_string();
    let workers: Vec<_> = (0..2)
        .map(|i| {
            start_strata(
                &store,
                &[
                    "scrape",
                    "--config",
                    &cfg,
                    "--listen",
                    "127.0.0.1:0",
                    "--shard",
                    &i.to_string(),
                    "--shards",
                    "2",
                ],
            )
        })
        .collect();
    let mut seen = Vec::new();
    until(
        "both workers' targets",
        Duration::from_secs(20),
        async || {
            seen.clear();
            for w in &workers {
                seen.push(active_pods(&w.url).await);
            }
            seen.iter().map(Vec::len).sum::<usize>() == 6
        },
    )
    .await;
    let mut all: Vec<String> = seen.concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "every pod on exactly one worker: {seen:?}");
}

fn service(version: u64) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": version.to_string(),
                     "labels": {"team": "a"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.0.0.9",
                 "ports": [{"name": "metrics", "port": 80, "protocol": "TCP"}]}})
}

fn slice(version: u64, endpoints: &[(&str, u16)]) -> Value {
    // One slice per port in this fake: its endpoints all listen on the same port.
    let port = endpoints.first().map_or(0, |e| e.1);
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "default", "resourceVersion": version.to_string(),
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": endpoints.iter().map(|(pod, _)| json!({
            "addresses": ["127.0.0.1"], "conditions": {"ready": true},
            "targetRef": {"kind": "Pod", "name": pod, "namespace": "default"}, "nodeName": "node1"})).collect::<Vec<_>>(),
        "ports": [{"name": "metrics", "port": port, "protocol": "TCP"}]})
}

/// The `endpointslice` role joins slices with their service and pods, as a ServiceMonitor
/// needs: the target carries the service's and the pod's labels, and follows the slice.
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_slices_joined_with_services_and_pods() {
    let api = FakeApi::start().await;
    let port = exporter("slice").await;
    api.change("ADDED", "pod-e", port);
    api.change("ADDED", "pod-f", port);
    api.put("ADDED", "services", service);
    api.put("ADDED", "endpointslices", |v| slice(v, &[("pod-e", port)]));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: slices\n    kubernetes_sd_configs:\n      - role: endpointslice\n        api_server: {}\n        namespaces: {{names: [default]}}\n    relabel_configs:\n      - source_labels: [__meta_kubernetes_endpointslice_port_name]\n        regex: metrics\n        action: keep\n      - source_labels: [__meta_kubernetes_pod_name]\n        target_label: pod\n      - source_labels: [__meta_kubernetes_service_label_team]\n        target_label: team\n",
        api.url
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let store = dir.path().join("store").display().to_string();
    let cfg = dir.path().join("prometheus.yml").display().to_string();
    let server = start_strata(
        &store,
        &["serve", "--listen", "127.0.0.1:0", "--config", &cfg],
    );
    until("the slice's target", Duration::from_secs(20), async || {
        active_pods(&server.url).await == ["pod-e"]
    })
    .await;
    let (_, targets) = http_get(&format!("{}/api/v1/targets?state=active", server.url)).await;
    let t = &targets["data"]["activeTargets"][0];
    assert_eq!(t["labels"]["team"], "a", "{t}");
    assert_eq!(
        t["discoveredLabels"]["__meta_kubernetes_service_name"], "web",
        "{t}"
    );
    assert_eq!(
        t["discoveredLabels"]["__meta_kubernetes_pod_container_port_name"], "metrics",
        "{t}"
    );
    // The slice gains an endpoint: a second target, without a reload.
    api.put("MODIFIED", "endpointslices", |v| {
        slice(v, &[("pod-e", port), ("pod-f", port)])
    });
    until("both endpoints", Duration::from_secs(10), async || {
        active_pods(&server.url).await == ["pod-e", "pod-f"]
    })
    .await;
}
