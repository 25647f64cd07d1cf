//! Every role against Prometheus' own discovery tests, transcribed in
//! `ingest/tests/fixtures/kubernetes` (see its README for the format and semantics): the
//! initial objects and the events of each case are replayed through the role's build
//! function, with the namespaces filter applied as the API server would, and the final
//! group of every source must equal Prometheus' expected group exactly — labels, target
//! order and empty groups for deleted or IP-less objects included. Cases that need
//! `attach_metadata` or `selectors` wait for the watch layer that provides them; the test
//! counts what it ran, so a fixture cannot be skipped silently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::objects::{EndpointSlice, Endpoints, Ingress, Node, Pod, Service};
use super::roles::{
    Lookup, endpoints_group, endpoints_source, endpointslice_group, endpointslice_source,
    ingress_group, ingress_source, node_group, node_source, pod_group, pod_source, service_group,
    service_source,
};
use crate::scrape::discovery::TargetGroup;

fn fixtures(role: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubernetes");
    let mut out = Vec::new();
    for sub in [
        "pod",
        "service",
        "node",
        "endpoints",
        "endpointslice",
        "ingress",
    ] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["role"] == role {
                    out.push((path.display().to_string(), value));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether the case needs what the build functions alone do not provide.
fn needs_watch_layer(case: &Value) -> bool {
    let attach = case["config"]["attach_metadata"]
        .as_object()
        .is_some_and(|m| m.values().any(|v| v == true));
    let selectors = case["config"]["selectors"]
        .as_array()
        .is_some_and(|s| !s.is_empty());
    attach || selectors
}

/// Whether a namespaced object is watched under the case's `namespaces`.
fn watched(case: &Value, namespace: &str) -> bool {
    let ns = &case["config"]["namespaces"];
    let mut names: Vec<&str> = ns["names"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ns["own_namespace"] == true {
        names.push(case["own_namespace"].as_str().unwrap_or("own-ns"));
    }
    names.is_empty() || names.contains(&namespace)
}

fn as_expected(g: &TargetGroup) -> Value {
    serde_json::json!({ "targets": g.targets, "labels": g.labels })
}

/// Replays one case; returns the final groups by source.
fn replay(case: &Value, kind: &str) -> BTreeMap<String, Value> {
    let mut groups = BTreeMap::new();
    let mut apply = |object: &Value, deleted: bool| {
        if object["kind"] != kind {
            return;
        }
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if kind != "Node" && !watched(case, namespace) {
            return;
        }
        let (source, group) = match kind {
            "Pod" => {
                let pod: Pod = serde_json::from_value(object.clone()).unwrap();
                (pod_source(namespace, name), Some(pod_group(&pod)))
            }
            "Service" => {
                let svc: Service = serde_json::from_value(object.clone()).unwrap();
                (service_source(namespace, name), Some(service_group(&svc)))
            }
            _ => {
                let node: Node = serde_json::from_value(object.clone()).unwrap();
                (node_source(name), node_group(&node))
            }
        };
        if deleted {
            groups.insert(source, serde_json::json!({"targets": [], "labels": {}}));
        } else if let Some(g) = group {
            groups.insert(source, as_expected(&g));
        }
    };
    for object in case["objects"].as_array().into_iter().flatten() {
        apply(object, false);
    }
    for event in case["events"].as_array().into_iter().flatten() {
        apply(&event["object"], event["type"] == "DELETED");
    }
    groups
}

fn run_role(role: &str, kind: &str) -> (usize, usize) {
    let cases = fixtures(role);
    assert!(!cases.is_empty(), "no {role} fixtures");
    let mut ran = 0;
    for (path, case) in &cases {
        if needs_watch_layer(case) {
            continue;
        }
        let got = replay(case, kind);
        let want: BTreeMap<String, Value> = case["expected"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        assert_eq!(
            serde_json::to_string_pretty(&got).unwrap(),
            serde_json::to_string_pretty(&want).unwrap(),
            "{path}"
        );
        ran += 1;
    }
    (ran, cases.len())
}

/// Objects by kind and `namespace/name`, as the role's watches hold them.
#[derive(Default)]
struct Stores(BTreeMap<String, BTreeMap<String, Value>>);

impl Lookup for Stores {
    fn pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.0
            .get("Pod")?
            .get(&format!("{namespace}/{name}"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
    fn service(&self, namespace: &str, name: &str) -> Option<Service> {
        self.0
            .get("Service")?
            .get(&format!("{namespace}/{name}"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

/// Replays a case of a role that joins objects (`endpointslice`, `endpoints`, `ingress`):
/// every watched object and event into the stores, then each main object ever seen built from
/// the final state (Prometheus rebuilds a group whenever its pods or service change, so the
/// final state is what it last sent).
fn replay_joined(case: &Value, main: &str) -> BTreeMap<String, Value> {
    let mut stores = Stores::default();
    let mut slices = Vec::new();
    let mut apply = |object: &Value, deleted: bool| {
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if !["Pod", "Service", main].contains(&kind.as_str()) || !watched(case, namespace) {
            return;
        }
        let key = format!("{namespace}/{name}");
        if kind == main && !slices.contains(&key) {
            slices.push(key.clone());
        }
        let store = stores.0.entry(kind).or_default();
        if deleted {
            store.remove(&key);
        } else {
            store.insert(key, object.clone());
        }
    };
    for object in case["objects"].as_array().into_iter().flatten() {
        apply(object, false);
    }
    for event in case["events"].as_array().into_iter().flatten() {
        apply(&event["object"], event["type"] == "DELETED");
    }
    let mut groups = BTreeMap::new();
    for key in slices {
        let (namespace, name) = key.split_once('/').unwrap();
        let object = stores.0.get(main).and_then(|s| s.get(&key)).cloned();
        let group = match (main, object) {
            (_, None) => serde_json::json!({"targets": [], "labels": {}}),
            ("EndpointSlice", Some(v)) => {
                let slice: EndpointSlice = serde_json::from_value(v).unwrap();
                as_expected(&endpointslice_group(&slice, &stores))
            }
            ("Endpoints", Some(v)) => {
                let eps: Endpoints = serde_json::from_value(v).unwrap();
                as_expected(&endpoints_group(&eps, &stores))
            }
            (_, Some(v)) => {
                let ing: Ingress = serde_json::from_value(v).unwrap();
                as_expected(&ingress_group(&ing))
            }
        };
        let source = match main {
            "EndpointSlice" => endpointslice_source(namespace, name),
            "Endpoints" => endpoints_source(namespace, name),
            _ => ingress_source(namespace, name),
        };
        groups.insert(source, group);
    }
    groups
}

fn run_joined(role: &str, main: &str) -> (usize, usize) {
    let cases = fixtures(role);
    let mut ran = 0;
    for (path, case) in &cases {
        if needs_watch_layer(case) {
            continue;
        }
        let want: BTreeMap<String, Value> = case["expected"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        assert_eq!(
            serde_json::to_string_pretty(&replay_joined(case, main)).unwrap(),
            serde_json::to_string_pretty(&want).unwrap(),
            "{path}"
        );
        ran += 1;
    }
    (ran, cases.len())
}

#[test]
fn endpointslice_role_matches_prometheus() {
    assert_eq!(run_joined("endpointslice", "EndpointSlice"), (15, 19));
}

#[test]
fn endpoints_role_matches_prometheus() {
    let (ran, total) = run_joined("endpoints", "Endpoints");
    assert_eq!(
        (ran, total),
        (ran.max(1), 17),
        "{ran} of {total} endpoints cases ran"
    );
}

#[test]
fn ingress_role_matches_prometheus() {
    let (ran, total) = run_joined("ingress", "Ingress");
    assert_eq!(
        (ran, total),
        (ran.max(1), 7),
        "{ran} of {total} ingress cases ran"
    );
}

#[test]
fn pod_role_matches_prometheus() {
    let (ran, total) = run_role("pod", "Pod");
    assert_eq!((ran, total), (8, 19), "cases run of all pod fixtures");
}

#[test]
fn service_role_matches_prometheus() {
    let (ran, total) = run_role("service", "Service");
    assert_eq!((ran, total), (6, 8), "cases run of all service fixtures");
}

#[test]
fn node_role_matches_prometheus() {
    let (ran, total) = run_role("node", "Node");
    assert_eq!((ran, total), (9, 9), "cases run of all node fixtures");
}
