//! The discovery provider of one `kubernetes_sd_configs` entry: it resolves the API server
//! and credentials (`api_server` with the HTTP client settings, or in-cluster: the pod's
//! service-account token and CA, re-read as they rotate), takes the process's shared watch of
//! the role's objects in each configured namespace (all namespaces when none are named), and
//! turns the current objects into target groups with [`super::roles`] whenever they change.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Notify, watch};

use std::collections::BTreeMap;

use super::objects::{EndpointSlice, Endpoints, Ingress, Metadata, Node, ObjectMeta, Pod, Service};
use super::roles::{self, Attach, Context};
use super::watch::{ObjectWatch, Objects, WatchKey, shared};
use crate::scrape::config::{Authorization, HttpClientConfig, KubernetesSdConfig};
use crate::scrape::discovery::{Provider, TargetGroup};
use crate::scrape::http::HttpClient;

/// Where a pod finds its service account.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The API server URL and client settings of `config`.
fn connection(config: &KubernetesSdConfig) -> Result<(String, HttpClientConfig), String> {
    resolve(
        config.api_server.as_deref(),
        config.kubeconfig_file.as_deref(),
        &config.http,
    )
    .map_err(|e| format!("kubernetes_sd_configs: {e}"))
}

/// The API server URL and client settings: a kubeconfig file's current context, an
/// `api_server` with `http`, or the pod's service account (in-cluster).
pub(crate) fn resolve(
    api_server: Option<&str>,
    kubeconfig: Option<&std::path::Path>,
    http: &HttpClientConfig,
) -> Result<(String, HttpClientConfig), String> {
    if let Some(path) = kubeconfig {
        return super::kubeconfig::load(path);
    }
    if let Some(server) = api_server {
        return Ok((server.trim_end_matches('/').to_string(), http.clone()));
    }
    let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| {
        "no api_server, and not running in a cluster \
         (KUBERNETES_SERVICE_HOST is not set)"
            .to_string()
    })?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let mut http = http.clone();
    if http.authorization.is_none() && http.basic_auth.is_none() {
        http.authorization = Some(Authorization {
            kind: "Bearer".into(),
            credentials: Default::default(),
            credentials_file: Some(PathBuf::from(SERVICE_ACCOUNT).join("token")),
        });
    }
    if http.tls_config.ca_file.is_none() && http.tls_config.ca.is_none() {
        http.tls_config.ca_file = Some(PathBuf::from(SERVICE_ACCOUNT).join("ca.crt"));
    }
    Ok((format!("https://{host}:{port}"), http))
}

/// A key telling credentials apart (watches are shared only between identical ones: another
/// token may see other objects). `Debug` hides secrets, so they are hashed in explicitly.
pub(crate) fn credentials_key(http: &HttpClientConfig) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{http:?}").hash(&mut h);
    if let Some(a) = &http.authorization {
        a.credentials.0.hash(&mut h);
    }
    if let Some(b) = &http.basic_auth {
        b.password.0.hash(&mut h);
    }
    if let Some(k) = &http.tls_config.key {
        k.0.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// The namespaces to watch (`None`: all of them, one cluster-wide watch).
fn namespaces(config: &KubernetesSdConfig) -> Result<Option<Vec<String>>, String> {
    if config.role == "node" {
        return Ok(None);
    }
    let mut names = config.namespaces.names.clone();
    if config.namespaces.own_namespace {
        let own = std::fs::read_to_string(PathBuf::from(SERVICE_ACCOUNT).join("namespace"))
            .map_err(|e| format!("kubernetes_sd_configs: own_namespace: {e}"))?;
        names.push(own.trim().to_string());
    }
    Ok((!names.is_empty()).then_some(names))
}

/// The collection path of `kind` (a role's name) in
/// `namespace`, or cluster-wide.
fn path(kind: &str, namespace: Option<&str>) -> String {
    let (prefix, plural) = match kind {
        "pod" => ("/api/v1", "pods"),
        "service" => ("/api/v1", "services"),
        "endpointslice" => ("/apis/discovery.k8s.io/v1", "endpointslices"),
        "endpoints" => ("/api/v1", "endpoints"),
        "ingress" => ("/apis/networking.k8s.io/v1", "ingresses"),
        "namespace" => return "/api/v1/namespaces".into(),
        "replicaset" => ("/apis/apps/v1", "replicasets"),
        "job" => ("/apis/batch/v1", "jobs"),
        _ => return "/api/v1/nodes".into(),
    };
    match namespace {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}"),
        None => format!("{prefix}/{plural}"),
    }
}

/// Whether `kind`'s objects live in namespaces.
fn namespaced(kind: &str) -> bool {
    !matches!(kind, "node" | "namespace")
}

/// The kinds a role watches: its own first, then those its groups are joined with.
fn kinds(role: &str, attach: Attach) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = match role {
        "endpointslice" => vec!["endpointslice", "pod", "service"],
        "endpoints" => vec!["endpoints", "pod", "service"],
        "ingress" => vec!["ingress"],
        "pod" => vec!["pod"],
        "service" => vec!["service"],
        _ => vec!["node"],
    };
    let pods = matches!(role, "pod" | "endpoints" | "endpointslice");
    if attach.node && pods {
        kinds.push("node");
    }
    if attach.namespace && role != "node" {
        kinds.push("namespace");
    }
    if attach.deployment && pods {
        kinds.push("replicaset");
    }
    if (attach.job || attach.cronjob) && pods {
        kinds.push("job");
    }
    kinds
}

/// The current objects of each watched kind (one set per namespace).
#[derive(Debug, Default)]
pub struct Current(pub BTreeMap<&'static str, Vec<Arc<Objects>>>);

impl Current {
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<T> {
        let key = format!("{namespace}/{name}");
        self.0
            .get(kind)?
            .iter()
            .find_map(|set| set.get(&key))
            .and_then(|v| serde_json::from_value(Value::clone(v)).ok())
    }
}

impl roles::Lookup for Current {
    fn pod(&self, namespace: &str, name: &str) -> Option<Pod> {
        self.get("pod", namespace, name)
    }
    fn service(&self, namespace: &str, name: &str) -> Option<Service> {
        self.get("service", namespace, name)
    }
    fn node(&self, name: &str) -> Option<Node> {
        self.get("node", "", name)
    }
    fn meta(&self, kind: &str, namespace: &str, name: &str) -> Option<ObjectMeta> {
        let kind = match kind {
            "Namespace" => "namespace",
            "ReplicaSet" => "replicaset",
            _ => "job",
        };
        self.get::<Metadata>(kind, namespace, name)
            .map(|m| m.metadata)
    }
}

/// Builds the group of one object of `role`'s own kind.
pub(super) fn build(role: &str, object: &Value, cx: &Context<'_>) -> Option<TargetGroup> {
    match role {
        "pod" => serde_json::from_value::<Pod>(object.clone())
            .ok()
            .map(|p| roles::pod_group(&p, cx)),
        "service" => serde_json::from_value::<Service>(object.clone())
            .ok()
            .map(|s| roles::service_group(&s, cx)),
        "endpointslice" => serde_json::from_value::<EndpointSlice>(object.clone())
            .ok()
            .map(|e| roles::endpointslice_group(&e, cx)),
        "endpoints" => serde_json::from_value::<Endpoints>(object.clone())
            .ok()
            .map(|e| roles::endpoints_group(&e, cx)),
        "ingress" => serde_json::from_value::<Ingress>(object.clone())
            .ok()
            .map(|i| roles::ingress_group(&i, cx)),
        _ => serde_json::from_value::<Node>(object.clone())
            .ok()
            .and_then(|n| roles::node_group(&n)),
    }
}

/// Groups built from objects, kept while the objects stay the same: a change of one pod
/// among thousands rebuilds one group. Roles whose groups join other objects (or attach
/// their metadata) rebuild every group whenever anything they watch changes.
#[derive(Debug, Default)]
pub struct GroupCache(std::collections::HashMap<String, (Arc<Value>, Option<TargetGroup>)>);

/// Whether `role`'s groups depend only on their own object.
fn self_contained(role: &str, attach: Attach) -> bool {
    matches!(role, "pod" | "service" | "node" | "ingress") && attach == Attach::default()
}

/// The target groups of `role` for the current objects, sorted by source.
pub fn groups(
    role: &str,
    attach: Attach,
    current: &Current,
    cache: &mut GroupCache,
) -> Vec<TargetGroup> {
    let cx = Context {
        attach,
        objects: current,
    };
    let reuse = self_contained(role, attach);
    let mut fresh = std::collections::HashMap::new();
    let mut out = Vec::new();
    for set in current.0.get(kinds(role, attach)[0]).into_iter().flatten() {
        for (key, object) in set.iter() {
            let group = match cache.0.remove(key) {
                Some((old, group)) if reuse && Arc::ptr_eq(&old, object) => group,
                _ => build(role, object, &cx),
            };
            // An object without targets (a pod without an IP yet) has no group to keep.
            if let Some(g) = group.as_ref().filter(|g| !g.targets.is_empty()) {
                out.push(g.clone());
            }
            fresh.insert(key.clone(), (object.clone(), group));
        }
    }
    cache.0 = fresh;
    out.sort_by(|a, b| a.source.cmp(&b.source));
    out
}

/// One discovery (API server, credentials, role, namespaces, selectors, attach_metadata),
/// shared by every job of the process that configures the same: its groups are built once,
/// and each job's scrape manager is told when they change.
struct SharedDiscovery {
    groups: watch::Receiver<Arc<Vec<TargetGroup>>>,
    /// The managers to poke on a change.
    listeners: Arc<std::sync::Mutex<Vec<std::sync::Weak<Notify>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SharedDiscovery {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Discoveries =
    std::sync::Mutex<std::collections::HashMap<String, std::sync::Weak<SharedDiscovery>>>;

fn discoveries() -> &'static Discoveries {
    static REGISTRY: std::sync::OnceLock<Discoveries> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Discoveries::default)
}

/// Starts discovery for `config` (or joins the process's identical one); `changed` is poked
/// when the groups change.
pub fn kubernetes_provider(
    config: &KubernetesSdConfig,
    changed: Arc<Notify>,
) -> Result<Provider, String> {
    let (server, http) = connection(config)?;
    let credentials = credentials_key(&http);
    let namespaces = namespaces(config)?;
    let identity = format!(
        "{server}|{credentials}|{}|{namespaces:?}|{:?}|{:?}",
        config.role,
        config.selectors,
        config.attach()
    );
    let Ok(mut registry) = discoveries().lock() else {
        return Err("kubernetes discovery registry poisoned".into());
    };
    registry.retain(|_, d| d.strong_count() > 0);
    let shared = match registry.get(&identity).and_then(std::sync::Weak::upgrade) {
        Some(d) => d,
        None => {
            let d = Arc::new(start(config, &server, &http, &credentials, namespaces)?);
            registry.insert(identity, Arc::downgrade(&d));
            d
        }
    };
    drop(registry);
    if let Ok(mut l) = shared.listeners.lock() {
        l.retain(|w| w.strong_count() > 0);
        l.push(Arc::downgrade(&changed));
    }
    changed.notify_one();
    let groups = shared.groups.clone();
    Ok(Provider::sharing(groups, shared))
}

/// Starts the watches and the task that turns their objects into groups.
fn start(
    config: &KubernetesSdConfig,
    server: &str,
    http: &HttpClientConfig,
    credentials: &str,
    namespaces: Option<Vec<String>>,
) -> Result<SharedDiscovery, String> {
    let client = Arc::new(HttpClient::new(http, true)?);
    let namespaces = match namespaces {
        None => vec![None],
        Some(names) => names.into_iter().map(Some).collect(),
    };
    // One shared watch per kind and namespace, with the selectors of that kind.
    let mut watches: Vec<(&'static str, Arc<ObjectWatch>)> = Vec::new();
    let attach = config.attach();
    for kind in kinds(&config.role, attach) {
        let (label_selector, field_selector) = config.selector_for(kind);
        let scopes: Vec<Option<String>> = if namespaced(kind) {
            namespaces.clone()
        } else {
            vec![None]
        };
        for ns in &scopes {
            let key = WatchKey {
                server: server.to_string(),
                path: path(kind, ns.as_deref()),
                label_selector: label_selector.clone(),
                field_selector: field_selector.clone(),
                credentials: credentials.to_string(),
            };
            watches.push((kind, shared(key, client.clone())));
        }
    }
    let (tx, rx) = watch::channel(Arc::new(Vec::new()));
    let listeners: Arc<std::sync::Mutex<Vec<std::sync::Weak<Notify>>>> = Arc::default();
    let notify = listeners.clone();
    let role = config.role.clone();
    // The task holds `watches`: the shared watches run as long as it does.
    let task = tokio::spawn(async move {
        let mut cache = GroupCache::default();
        let mut receivers: Vec<_> = watches
            .iter()
            .map(|(kind, w)| (*kind, w.objects.clone()))
            .collect();
        loop {
            let mut current = Current::default();
            for (kind, r) in receivers.iter_mut() {
                current
                    .0
                    .entry(kind)
                    .or_default()
                    .push(r.borrow_and_update().clone());
            }
            let _ = tx.send(Arc::new(groups(&role, attach, &current, &mut cache)));
            if let Ok(l) = notify.lock() {
                for n in l.iter().filter_map(std::sync::Weak::upgrade) {
                    n.notify_one();
                }
            }
            let any = futures::future::select_all(
                receivers.iter_mut().map(|(_, r)| Box::pin(r.changed())),
            );
            if any.await.0.is_err() {
                return;
            }
            // Let a burst of events settle into one update (Prometheus waits 5 s).
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    Ok(SharedDiscovery {
        groups: rx,
        listeners,
        task,
    })
}
