//! Objects to target groups, role by role, as Prometheus' `discovery/kubernetes` builds them
//! (`pod.go`, `service.go`, `node.go`, `endpoints.go`, `endpointslice.go`, `ingress.go`, as of
//! Prometheus 3.14). Each function is pure: the same object gives the same
//! group, with the `Source` Prometheus uses, so that a watch event replaces exactly the group
//! of its object (a deleted object publishes an empty group under the same source).

use std::collections::BTreeMap;

use super::labels::{
    LabelSet, NAMESPACE, PREFIX, add_meta, add_object_meta, join_host_port, sanitize,
};
use super::objects::{
    Container, ContainerPort, EndpointSlice, Endpoints, Ingress, Node, ObjectMeta, ObjectReference,
    Pod, Service,
};
use crate::scrape::discovery::{ADDRESS_LABEL, TargetGroup};

/// `attach_metadata`: which related objects' metadata targets get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attach {
    pub node: bool,
    pub namespace: bool,
    pub deployment: bool,
    pub job: bool,
    pub cronjob: bool,
}

/// Looks up the objects a group is joined with, by namespace and name.
pub trait Lookup {
    fn pod(&self, namespace: &str, name: &str) -> Option<Pod>;
    fn service(&self, namespace: &str, name: &str) -> Option<Service>;
    fn node(&self, name: &str) -> Option<Node>;
    /// A Namespace, ReplicaSet or Job's metadata (`kind` as the API names it).
    fn meta(&self, kind: &str, namespace: &str, name: &str) -> Option<ObjectMeta>;
}

/// What building a group may consult: the `attach_metadata` switches and the other objects.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub attach: Attach,
    pub objects: &'a dyn Lookup,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("attach", &self.attach)
            .finish()
    }
}

impl Context<'_> {
    /// The namespace's labels and annotations (`attach_metadata.namespace`).
    fn add_namespace(&self, labels: &mut LabelSet, namespace: &str) {
        if !self.attach.namespace {
            return;
        }
        if let Some(meta) = self.objects.meta("Namespace", "", namespace) {
            add_meta(labels, &meta, "namespace");
        }
    }

    /// The node's name, labels and annotations (`attach_metadata.node`).
    fn add_node(&self, labels: &mut LabelSet, node: Option<&str>) {
        if !self.attach.node {
            return;
        }
        if let Some(n) = node.and_then(|name| self.objects.node(name)) {
            add_object_meta(labels, &n.metadata, "node");
        }
    }
}

fn label(suffix: &str) -> String {
    format!("{PREFIX}{suffix}")
}

/// `pod/<namespace>/<name>`.
pub fn pod_source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

/// The labels every target of a pod shares (and, with `attach_metadata`, its Deployment's,
/// Job's and CronJob's names).
pub fn pod_labels(pod: &Pod, cx: &Context<'_>) -> LabelSet {
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
        let ns = &pod.metadata.namespace;
        if owner.kind == "ReplicaSet" && cx.attach.deployment {
            let deployment = cx
                .objects
                .meta("ReplicaSet", ns, &owner.name)
                .and_then(|rs| rs.controller().cloned())
                .filter(|o| o.kind == "Deployment");
            if let Some(d) = deployment {
                l.insert(label("pod_deployment_name"), d.name);
            }
        }
        if owner.kind == "Job" {
            if cx.attach.job {
                l.insert(label("pod_job_name"), owner.name.clone());
            }
            if cx.attach.cronjob {
                let cronjob = cx
                    .objects
                    .meta("Job", ns, &owner.name)
                    .and_then(|job| job.controller().cloned())
                    .filter(|o| o.kind == "CronJob");
                if let Some(c) = cronjob {
                    l.insert(label("pod_cronjob_name"), c.name);
                }
            }
        }
    }
    l
}

/// A pod's group: one target per container port, one without a port for a container that
/// declares none (init containers included); nothing while the pod has no IP (or, with
/// `attach_metadata.node`, while its node is unknown).
pub fn pod_group(pod: &Pod, cx: &Context<'_>) -> TargetGroup {
    let mut group = TargetGroup {
        source: pod_source(&pod.metadata.namespace, &pod.metadata.name),
        ..Default::default()
    };
    if pod.status.pod_ip.is_empty() {
        return group;
    }
    if cx.attach.node && cx.objects.node(&pod.spec.node_name).is_none() {
        return group;
    }
    group.labels = pod_labels(pod, cx);
    group
        .labels
        .insert(NAMESPACE.into(), pod.metadata.namespace.clone());
    cx.add_node(&mut group.labels, Some(&pod.spec.node_name));
    cx.add_namespace(&mut group.labels, &pod.metadata.namespace);
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
pub fn service_group(svc: &Service, cx: &Context<'_>) -> TargetGroup {
    let mut group = TargetGroup {
        source: service_source(&svc.metadata.namespace, &svc.metadata.name),
        labels: service_labels(svc),
        ..Default::default()
    };
    cx.add_namespace(&mut group.labels, &svc.metadata.namespace);
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

/// `endpointslice/<namespace>/<name>`.
pub fn endpointslice_source(namespace: &str, name: &str) -> String {
    format!("endpointslice/{namespace}/{name}")
}

/// The pod container port matching `port`: (container, port, is init container).
fn container_port(pod: &Pod, port: i32) -> Option<(&Container, &ContainerPort, bool)> {
    let regular = pod.spec.containers.len();
    pod.spec
        .containers
        .iter()
        .chain(&pod.spec.init_containers)
        .enumerate()
        .find_map(|(i, c)| {
            c.ports
                .iter()
                .find(|p| p.container_port == port)
                .map(|p| (c, p, i >= regular))
        })
}

fn container_labels(t: &mut LabelSet, c: &Container, p: &ContainerPort, init: bool) {
    t.insert(label("pod_container_name"), c.name.clone());
    t.insert(label("pod_container_image"), c.image.clone());
    t.insert(label("pod_container_port_name"), p.name.clone());
    t.insert(
        label("pod_container_port_number"),
        p.container_port.to_string(),
    );
    t.insert(label("pod_container_port_protocol"), p.protocol.clone());
    t.insert(label("pod_container_init"), init.to_string());
}

/// An EndpointSlice's group, as `endpointslice.go` builds it: one target per endpoint
/// address and port; a pod-backed endpoint carries its pod's labels and the matching
/// container port's, and every container port of such a pod that no slice port covers
/// gets its own target at the pod's IP. The owning service's labels (from the
/// `kubernetes.io/service-name` label) go on the group; of a dual-stack service, only the
/// slices of its primary IP family have targets.
pub fn endpointslice_group(slice: &EndpointSlice, cx: &Context<'_>) -> TargetGroup {
    let objects = cx.objects;
    let ns = &slice.metadata.namespace;
    let mut labels = LabelSet::from([
        (NAMESPACE.to_string(), ns.clone()),
        (
            label("endpointslice_address_type"),
            slice.address_type.clone(),
        ),
    ]);
    add_object_meta(&mut labels, &slice.metadata, "endpointslice");
    let service = slice
        .metadata
        .labels
        .get("kubernetes.io/service-name")
        .and_then(|name| objects.service(ns, name));
    let mut group = TargetGroup {
        source: endpointslice_source(ns, &slice.metadata.name),
        ..Default::default()
    };
    if let Some(svc) = &service {
        labels.extend(service_labels(svc));
    }
    cx.add_namespace(&mut labels, ns);
    if let Some(svc) = &service {
        let dual = matches!(
            svc.spec.ip_family_policy.as_str(),
            "PreferDualStack" | "RequireDualStack"
        );
        if dual
            && svc
                .spec
                .ip_families
                .first()
                .is_some_and(|primary| *primary != slice.address_type)
        {
            group.labels = labels;
            return group;
        }
    }
    group.labels = labels;
    // Pods seen behind the slice, with the slice ports that reached them.
    let mut seen: Vec<(Pod, Vec<Option<i32>>)> = Vec::new();
    for ep in &slice.endpoints {
        for port in &slice.ports {
            for addr in &ep.addresses {
                let mut t = LabelSet::new();
                let address = match port.port {
                    Some(p) => join_host_port(addr, p),
                    None => addr.clone(),
                };
                t.insert(ADDRESS_LABEL.into(), address);
                if let Some(n) = &port.name {
                    t.insert(label("endpointslice_port_name"), n.clone());
                }
                if let Some(p) = &port.protocol {
                    t.insert(label("endpointslice_port_protocol"), p.clone());
                }
                if let Some(p) = port.port {
                    t.insert(label("endpointslice_port"), p.to_string());
                }
                if let Some(a) = &port.app_protocol {
                    t.insert(label("endpointslice_port_app_protocol"), a.clone());
                }
                for (name, value) in [
                    ("ready", ep.conditions.ready),
                    ("serving", ep.conditions.serving),
                    ("terminating", ep.conditions.terminating),
                ] {
                    if let Some(v) = value {
                        t.insert(
                            label(&format!("endpointslice_endpoint_conditions_{name}")),
                            v.to_string(),
                        );
                    }
                }
                if let Some(h) = &ep.hostname {
                    t.insert(label("endpointslice_endpoint_hostname"), h.clone());
                }
                if let Some(r) = &ep.target_ref {
                    t.insert(label("endpointslice_address_target_kind"), r.kind.clone());
                    t.insert(label("endpointslice_address_target_name"), r.name.clone());
                }
                if let Some(n) = &ep.node_name {
                    t.insert(label("endpointslice_endpoint_node_name"), n.clone());
                }
                if let Some(z) = &ep.zone {
                    t.insert(label("endpointslice_endpoint_zone"), z.clone());
                }
                for (k, v) in &ep.deprecated_topology {
                    let n = sanitize(k);
                    t.insert(
                        label(&format!("endpointslice_endpoint_topology_{n}")),
                        v.clone(),
                    );
                    t.insert(
                        label(&format!("endpointslice_endpoint_topology_present_{n}")),
                        "true".into(),
                    );
                }
                let node = match &ep.target_ref {
                    Some(r) if r.kind == "Node" => Some(r.name.as_str()),
                    _ => ep.node_name.as_deref(),
                };
                cx.add_node(&mut t, node);
                join_pod(
                    &mut t,
                    ep.target_ref.as_ref(),
                    port.port,
                    None,
                    &mut seen,
                    cx,
                );
                group.targets.push(t);
            }
        }
    }
    uncovered_container_ports(&mut group, &seen, cx);
    group
}

/// `endpoints/<namespace>/<name>`.
pub fn endpoints_source(namespace: &str, name: &str) -> String {
    format!("endpoints/{namespace}/{name}")
}

/// An Endpoints object's group, as `endpoints.go` builds it: one target per address (ready
/// and not ready) and port, with the same pod and container-port joins as the
/// `endpointslice` role; the service of the same name labels the group.
pub fn endpoints_group(eps: &Endpoints, cx: &Context<'_>) -> TargetGroup {
    let objects = cx.objects;
    let ns = &eps.metadata.namespace;
    let mut labels = LabelSet::from([(NAMESPACE.to_string(), ns.clone())]);
    if let Some(svc) = objects.service(ns, &eps.metadata.name) {
        labels.extend(service_labels(&svc));
    }
    add_object_meta(&mut labels, &eps.metadata, "endpoints");
    cx.add_namespace(&mut labels, ns);
    let mut group = TargetGroup {
        source: endpoints_source(ns, &eps.metadata.name),
        labels,
        ..Default::default()
    };
    let mut seen: Vec<(Pod, Vec<Option<i32>>)> = Vec::new();
    for subset in &eps.subsets {
        for port in &subset.ports {
            let all = subset
                .addresses
                .iter()
                .map(|a| (a, true))
                .chain(subset.not_ready_addresses.iter().map(|a| (a, false)));
            for (addr, ready) in all {
                let mut t = LabelSet::from([
                    (
                        ADDRESS_LABEL.to_string(),
                        join_host_port(&addr.ip, port.port),
                    ),
                    (label("endpoint_port_name"), port.name.clone()),
                    (label("endpoint_port_protocol"), port.protocol.clone()),
                    (label("endpoint_ready"), ready.to_string()),
                ]);
                if let Some(r) = &addr.target_ref {
                    t.insert(label("endpoint_address_target_kind"), r.kind.clone());
                    t.insert(label("endpoint_address_target_name"), r.name.clone());
                }
                if let Some(n) = &addr.node_name {
                    t.insert(label("endpoint_node_name"), n.clone());
                }
                if !addr.hostname.is_empty() {
                    t.insert(label("endpoint_hostname"), addr.hostname.clone());
                }
                let node = match (&addr.node_name, &addr.target_ref) {
                    (Some(n), _) => Some(n.as_str()),
                    (None, Some(r)) if r.kind == "Node" => Some(r.name.as_str()),
                    _ => None,
                };
                cx.add_node(&mut t, node);
                // The endpoint's protocol, as `endpoints.go` sets it.
                let protocol = Some(port.protocol.as_str());
                join_pod(
                    &mut t,
                    addr.target_ref.as_ref(),
                    Some(port.port),
                    protocol,
                    &mut seen,
                    cx,
                );
                group.targets.push(t);
            }
        }
    }
    uncovered_container_ports(&mut group, &seen, cx);
    group
}

/// Joins a pod-backed endpoint with its pod: the pod's labels and, when `port` is one of its
/// container ports, that container's (with `protocol` instead of the container port's when
/// given). Notes the pod and port for [`uncovered_container_ports`].
fn join_pod(
    t: &mut LabelSet,
    target: Option<&ObjectReference>,
    port: Option<i32>,
    protocol: Option<&str>,
    seen: &mut Vec<(Pod, Vec<Option<i32>>)>,
    cx: &Context<'_>,
) {
    let pod = target
        .filter(|r| r.kind == "Pod")
        .and_then(|r| cx.objects.pod(&r.namespace, &r.name));
    let Some(pod) = pod else {
        return;
    };
    t.extend(pod_labels(&pod, cx));
    if let Some((c, p, init)) = port.and_then(|n| container_port(&pod, n)) {
        container_labels(t, c, p, init);
        if let Some(protocol) = protocol {
            t.insert(label("pod_container_port_protocol"), protocol.to_string());
        }
    }
    remember(seen, pod, port);
}

/// Notes that `port` reached `pod`.
fn remember(seen: &mut Vec<(Pod, Vec<Option<i32>>)>, pod: Pod, port: Option<i32>) {
    match seen.iter_mut().find(|(s, _)| {
        s.metadata.namespace == pod.metadata.namespace && s.metadata.name == pod.metadata.name
    }) {
        Some((_, ports)) => ports.push(port),
        None => seen.push((pod, vec![port])),
    }
}

/// A target at the pod's IP for each container port of the pods seen that no endpoint port
/// covered.
fn uncovered_container_ports(
    group: &mut TargetGroup,
    seen: &[(Pod, Vec<Option<i32>>)],
    cx: &Context<'_>,
) {
    for (pod, ports) in seen {
        if pod.status.pod_ip.is_empty() {
            continue;
        }
        let regular = pod.spec.containers.len();
        for (i, c) in pod
            .spec
            .containers
            .iter()
            .chain(&pod.spec.init_containers)
            .enumerate()
        {
            for p in &c.ports {
                if ports.contains(&Some(p.container_port)) {
                    continue;
                }
                let mut t = LabelSet::from([(
                    ADDRESS_LABEL.to_string(),
                    join_host_port(&pod.status.pod_ip, p.container_port),
                )]);
                container_labels(&mut t, c, p, i >= regular);
                t.extend(pod_labels(pod, cx));
                group.targets.push(t);
            }
        }
    }
}

/// `ingress/<namespace>/<name>`.
pub fn ingress_source(namespace: &str, name: &str) -> String {
    format!("ingress/{namespace}/{name}")
}

/// Whether TLS host pattern `pattern` (possibly `*.example.com`) covers `host`.
fn tls_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let (p, h): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), host.split('.').collect());
    p.first() == Some(&"*") && p.len() == h.len() && p[1..] == h[1..]
}

/// An Ingress's group: one target per rule host and path (`/` for a rule without `http`),
/// `https` when a TLS host covers the rule's host.
pub fn ingress_group(ing: &Ingress, cx: &Context<'_>) -> TargetGroup {
    let ns = &ing.metadata.namespace;
    let mut labels = LabelSet::from([(NAMESPACE.to_string(), ns.clone())]);
    if let Some(class) = &ing.spec.ingress_class_name {
        labels.insert(label("ingress_class_name"), class.clone());
    }
    add_object_meta(&mut labels, &ing.metadata, "ingress");
    cx.add_namespace(&mut labels, ns);
    let mut group = TargetGroup {
        source: ingress_source(ns, &ing.metadata.name),
        labels,
        ..Default::default()
    };
    for rule in &ing.spec.rules {
        let paths: Vec<String> = match &rule.http {
            None => vec!["/".into()],
            Some(http) => http
                .paths
                .iter()
                .map(|p| {
                    if p.path.is_empty() {
                        "/".into()
                    } else {
                        p.path.clone()
                    }
                })
                .collect(),
        };
        let tls = ing
            .spec
            .tls
            .iter()
            .flat_map(|t| &t.hosts)
            .any(|pattern| tls_matches(pattern, &rule.host));
        let scheme = if tls { "https" } else { "http" };
        for path in paths {
            group.targets.push(LabelSet::from([
                (ADDRESS_LABEL.to_string(), rule.host.clone()),
                (label("ingress_scheme"), scheme.to_string()),
                (label("ingress_host"), rule.host.clone()),
                (label("ingress_path"), path),
            ]));
        }
    }
    group
}
