//! Every role, through the provider's own build step, against Prometheus' own discovery
//! tests, transcribed in
//! `ingest/tests/fixtures/kubernetes` (see its README for the format and semantics). Each
//! case's objects and events are applied to per-kind stores (with the namespaces and
//! selectors filters applied as the API server would), then every object of the role's kind
//! that was ever seen is built from the final state — Prometheus rebuilds a group whenever an
//! object it joins changes, so the final state is what it last sent — and the groups must
//! equal Prometheus' expected groups exactly: labels, target order, and empty groups for
//! deleted objects. The test counts the cases it ran, so none is skipped silently.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};

use super::provider::{Current, build};
use super::roles::{self, Attach, Context};
use super::watch::Objects;
use crate::scrape::discovery::TargetGroup;

/// Cases whose expectation this implementation does not reproduce, on purpose: Prometheus
/// re-sends an endpoints group for a node change only through an index of `targetRef`s, so
/// an address naming its node only by `nodeName` keeps the node's old labels. Strata builds
/// from the current objects and gives the new ones.
const DEVIATIONS: [&str; 2] = [
    "TestEndpointsDiscoveryWithUpdatedNodeMetadata",
    "TestEndpointsSlicesDiscoveryWithUpdatedNodeMetadata",
];

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

/// Whether `object` passes the case's label selector for its kind (`k=v[,k=v]`, what the
/// fixtures use), as the API server would filter it.
fn selected(case: &Value, role: &str, object: &Value) -> bool {
    let Some(selector) = case["config"]["selectors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["role"] == role)
        .and_then(|s| s["label"].as_str())
    else {
        return true;
    };
    selector.split(',').all(|term| {
        let (k, v) = term.split_once('=').unwrap();
        object["metadata"]["labels"][k.trim()] == v.trim()
    })
}

fn attach(case: &Value) -> Attach {
    let on = |k: &str| case["config"]["attach_metadata"][k] == true;
    Attach {
        node: on("node"),
        namespace: on("namespace"),
        deployment: on("deployment"),
        job: on("job"),
        cronjob: on("cronjob"),
    }
}

/// The store kind (as the provider names its watches) of an API kind; `None` for kinds no
/// role watches.
fn store_kind(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "pod",
        "Service" => "service",
        "Node" => "node",
        "Namespace" => "namespace",
        "ReplicaSet" => "replicaset",
        "Job" => "job",
        "Endpoints" => "endpoints",
        "EndpointSlice" => "endpointslice",
        "Ingress" => "ingress",
        _ => return None,
    })
}

fn as_expected(g: &TargetGroup) -> Value {
    json!({ "targets": g.targets, "labels": g.labels })
}

/// Replays one case of `role` through the provider's own build step: the final group of
/// every source ever sent.
fn replay(case: &Value, role: &str) -> BTreeMap<String, Value> {
    let mut stores: BTreeMap<&'static str, Objects> = BTreeMap::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut apply = |object: &Value, deleted: bool| {
        let Some(kind) = store_kind(object["kind"].as_str().unwrap_or_default()) else {
            return;
        };
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let cluster_scoped = kind == "node" || kind == "namespace";
        if (!cluster_scoped && !watched(case, namespace)) || !selected(case, kind, object) {
            return;
        }
        if kind == role && !seen.contains(&(namespace.to_string(), name.to_string())) {
            seen.push((namespace.to_string(), name.to_string()));
        }
        let store = stores.entry(kind).or_default();
        let key = format!("{namespace}/{name}");
        if deleted {
            store.remove(&key);
        } else {
            store.insert(key, Arc::new(object.clone()));
        }
    };
    for object in case["objects"].as_array().into_iter().flatten() {
        apply(object, false);
    }
    for event in case["events"].as_array().into_iter().flatten() {
        apply(&event["object"], event["type"] == "DELETED");
    }
    let current = Current(
        stores
            .into_iter()
            .map(|(kind, objects)| (kind, vec![Arc::new(objects)]))
            .collect(),
    );
    let cx = Context {
        attach: attach(case),
        objects: &current,
    };
    let own = current.0.get(role).and_then(|sets| sets.first()).cloned();
    let mut groups = BTreeMap::new();
    for (ns, name) in seen {
        let source = match role {
            "pod" => roles::pod_source(&ns, &name),
            "service" => roles::service_source(&ns, &name),
            "node" => roles::node_source(&name),
            "endpoints" => roles::endpoints_source(&ns, &name),
            "endpointslice" => roles::endpointslice_source(&ns, &name),
            _ => roles::ingress_source(&ns, &name),
        };
        let object = own.as_ref().and_then(|o| o.get(&format!("{ns}/{name}")));
        let value = match object {
            Some(o) => match build(role, o, &cx) {
                Some(g) => as_expected(&g),
                // A node without an address sends no group.
                None => continue,
            },
            None => json!({"targets": [], "labels": {}}),
        };
        groups.insert(source, value);
    }
    groups
}

/// Runs every case of `role`; returns how many ran and how many there are.
fn run(role: &str) -> (usize, usize) {
    let cases = fixtures(role);
    assert!(!cases.is_empty(), "no {role} fixtures");
    let mut ran = 0;
    for (path, case) in &cases {
        if DEVIATIONS
            .iter()
            .any(|d| path.ends_with(&format!("/{d}.json")))
        {
            continue;
        }
        let want: BTreeMap<String, Value> = case["expected"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        assert_eq!(
            serde_json::to_string_pretty(&replay(case, role)).unwrap(),
            serde_json::to_string_pretty(&want).unwrap(),
            "{path}"
        );
        ran += 1;
    }
    (ran, cases.len())
}

#[test]
fn pod_role_matches_prometheus() {
    assert_eq!(run("pod"), (19, 19));
}

#[test]
fn service_role_matches_prometheus() {
    assert_eq!(run("service"), (8, 8));
}

#[test]
fn node_role_matches_prometheus() {
    assert_eq!(run("node"), (9, 9));
}

#[test]
fn endpoints_role_matches_prometheus() {
    assert_eq!(run("endpoints"), (16, 17));
}

#[test]
fn endpointslice_role_matches_prometheus() {
    assert_eq!(run("endpointslice"), (18, 19));
}

#[test]
fn ingress_role_matches_prometheus() {
    assert_eq!(run("ingress"), (7, 7));
}
