//! Objects to target groups, role by role, as Prometheus' `discovery/kubernetes` builds them
//! (`pod.go`, `service.go`, `node.go`, as of Prometheus 3.14). Each function is pure: the same object gives the same
//! group, with the `Source` Prometheus uses, so that a watch event replaces exactly the group
//! of its object (a deleted object publishes an empty group under the same source).

use std::collections::BTreeMap;

use super::labels::{LabelSet, NAMESPACE, PREFIX, add_object_meta, join_host_port, sanitize};
use super::objects::{Node, Pod, Service};
use crate::scrape::discovery::{ADDRESS_LABEL, TargetGroup};

fn label(suffix: &str) -> String {
    format!("{PREFIX}{suffix}")
}

/// `pod/<namespace>/<name>`.
pub fn pod_source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// The labels every target of a pod shares.
pub fn pod_labels(pod: &Pod) -> LabelSet {
    let mut l = LabelSet::new();
    l.insert(label("pod_ip"), pod.status.pod_ip.clone());
    let ready = pod
        .status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map_or("unknown".to_string(), |c| c.status.to_ascii_lowercase());
    l.insert(label("pod_ready"), ready);
    l.insert(label("pod_phase"), pod.status.phase.clone());
    l.insert(label("pod_node_name"), pod.spec.node_name.clone());
    l.insert(label("pod_host_ip"), pod.status.host_ip.clone());
    l.insert(label("pod_uid"), pod.metadata.uid.clone());
    add_object_meta(&mut l, &pod.metadata, "pod");
    if let Some(owner) = pod.metadata.controller() {
        if !owner.kind.is_empty() {
            l.insert(label("pod_controller_kind"), owner.kind.clone());
        }
        if !owner.name.is_empty() {
            l.insert(label("pod_controller_name"), owner.name.clone());
        }
    }
    l
}

/// A pod's group: one target per container port, one without a port for a container that
/// declares none (init containers included); nothing while the pod has no IP.
pub fn pod_group(pod: &Pod) -> TargetGroup {
    let mut group = TargetGroup {
        source: pod_source(&pod.metadata.namespace, &pod.metadata.name),
        ..Default::default()
    };
    if pod.status.pod_ip.is_empty() {
        return group;
    }
    group.labels = pod_labels(pod);
    group
        .labels
        .insert(NAMESPACE.into(), pod.metadata.namespace.clone());
    let all = pod
        .spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)));
    for (c, init) in all {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let id = statuses
            .iter()
            .find(|s| s.name == c.name)
            .map(|s| s.container_id.clone())
            .unwrap_or_default();
        let base = BTreeMap::from([
            (label("pod_container_name"), c.name.clone()),
            (label("pod_container_id"), id),
            (label("pod_container_image"), c.image.clone()),
            (label("pod_container_init"), init.to_string()),
        ]);
        if c.ports.is_empty() {
            let mut t = base;
            t.insert(ADDRESS_LABEL.into(), pod.status.pod_ip.clone());
            group.targets.push(t);
            continue;
        }
        for p in &c.ports {
            let mut t = base.clone();
            t.insert(
                ADDRESS_LABEL.into(),
                join_host_port(&pod.status.pod_ip, p.container_port),
            );
            t.insert(
                label("pod_container_port_number"),
                p.container_port.to_string(),
            );
            t.insert(label("pod_container_port_name"), p.name.clone());
            t.insert(label("pod_container_port_protocol"), p.protocol.clone());
            group.targets.push(t);
        }
    }
    group
}

/// `svc/<namespace>/<name>`.
pub fn service_source(namespace: &str, name: &str) -> String {
    format!("svc/{namespace}/{name}")
}

/// The labels every target of a service shares.
pub fn service_labels(svc: &Service) -> LabelSet {
    let mut l = LabelSet::new();
    l.insert(NAMESPACE.into(), svc.metadata.namespace.clone());
    add_object_meta(&mut l, &svc.metadata, "service");
    l
}

/// A service's group: one target per port, addressed `<name>.<namespace>.svc:<port>`.
pub fn service_group(svc: &Service) -> TargetGroup {
    let mut group = TargetGroup {
        source: service_source(&svc.metadata.namespace, &svc.metadata.name),
        labels: service_labels(svc),
        ..Default::default()
    };
    let host = format!("{}.{}.svc", svc.metadata.name, svc.metadata.namespace);
    for p in &svc.spec.ports {
        let mut t = BTreeMap::from([
            (ADDRESS_LABEL.to_string(), join_host_port(&host, p.port)),
            (label("service_port_name"), p.name.clone()),
            (label("service_port_number"), p.port.to_string()),
            (label("service_port_protocol"), p.protocol.clone()),
            (label("service_type"), svc.spec.kind.clone()),
        ]);
        if svc.spec.kind == "ExternalName" {
            t.insert(
                label("service_external_name"),
                svc.spec.external_name.clone(),
            );
        } else {
            t.insert(label("service_cluster_ip"), svc.spec.cluster_ip.clone());
        }
        if svc.spec.kind == "LoadBalancer" {
            // The status' IPs (comma-joined), else the requested `spec.loadBalancerIP`.
            let ips: Vec<&str> = svc
                .status
                .load_balancer
                .ingress
                .iter()
                .map(|i| i.ip.as_str())
                .filter(|ip| !ip.is_empty())
                .collect();
            let ip = if ips.is_empty() {
                svc.spec.load_balancer_ip.clone()
            } else {
                ips.join(",")
            };
            t.insert(label("service_loadbalancer_ip"), ip);
        }
        group.targets.push(t);
    }
    group
}

/// `node/<name>`.
pub fn node_source(name: &str) -> String {
    format!("node/{name}")
}

/// Node address types in the order Prometheus prefers them for `__address__`.
const NODE_ADDRESS_ORDER: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// A node's group: its kubelet, at the first address of the preferred type, with
/// `instance` set to the node's name; `None` when the node has no address.
pub fn node_group(node: &Node) -> Option<TargetGroup> {
    let mut labels = LabelSet::new();
    add_object_meta(&mut labels, &node.metadata, "node");
    labels.insert(label("node_provider_id"), node.spec.provider_id.clone());
    for c in &node.status.conditions {
        labels.insert(
            label(&format!(
                "node_condition_{}",
                sanitize(&c.kind.to_ascii_lowercase())
            )),
            c.status.to_ascii_lowercase(),
        );
    }
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for a in &node.status.addresses {
        first.entry(a.kind.as_str()).or_insert(a.address.as_str());
    }
    let host = NODE_ADDRESS_ORDER.iter().find_map(|k| first.get(k))?;
    let mut t = BTreeMap::from([
        (
            ADDRESS_LABEL.to_string(),
            join_host_port(host, node.status.daemon_endpoints.kubelet_endpoint.port),
        ),
        ("instance".to_string(), node.metadata.name.clone()),
    ]);
    for (kind, address) in &first {
        t.insert(
            sanitize(&format!("{PREFIX}node_address_{kind}")),
            (*address).to_string(),
        );
    }
    Some(TargetGroup {
        source: node_source(&node.metadata.name),
        targets: vec![t],
        labels,
    })
}
