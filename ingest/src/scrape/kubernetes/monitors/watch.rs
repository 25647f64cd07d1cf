//! The running side of `kubernetes_monitors`: list and watch ServiceMonitors and
//! PodMonitors cluster-wide (and Namespaces when `namespace_selector` is set) with the
//! process's shared list/watch ([`super::super::watch`]: paged LIST, WATCH with bookmarks,
//! relist on 410 Gone), keep the selected ones, and publish what each became
//! ([`MonitorOutcome`]) on a channel the scrape manager follows.
//!
//! A monitor is translated again only when its object changes (or every
//! [`REFRESH`], so that rotated Secrets are picked up); its Secrets and ConfigMaps are read
//! with a GET each in its own namespace at that moment and held in memory only. A failure
//! (unreadable object, bad selector, missing key, …) is that monitor's alone, and logged
//! once per change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::config::MonitorsConfig;
use super::jobs::{self, MonitorOutcome};
use super::model::{Monitor, MonitorKind};
use super::store::{MapStore, ObjectRef, Recording, object_data};
use super::translate::translate;
use crate::scrape::http::HttpClient;
use crate::scrape::kubernetes::provider::{credentials_key, resolve};
use crate::scrape::kubernetes::watch::{ObjectWatch, WatchKey, shared};

/// How often every selected monitor is translated again, re-reading its Secrets.
pub const REFRESH: Duration = Duration::from_secs(300);

/// The watches and the task translating monitors; dropping it stops both.
#[derive(Debug)]
pub struct MonitorWatcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MonitorWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Outcomes of every selected monitor, sorted by kind, namespace and name.
pub type Outcomes = Arc<Vec<MonitorOutcome>>;

/// Starts watching for `config`; the receiver sees each new set of outcomes.
pub fn start(
    config: MonitorsConfig,
) -> Result<(MonitorWatcher, watch::Receiver<Outcomes>), String> {
    let (server, http) = resolve(
        config.api_server.as_deref(),
        config.kubeconfig_file.as_deref(),
        &config.http,
    )
    .map_err(|e| format!("kubernetes_monitors: {e}"))?;
    let client =
        Arc::new(HttpClient::new(&http, true).map_err(|e| format!("kubernetes_monitors: {e}"))?);
    let credentials = credentials_key(&http);
    let key = |path: &str| WatchKey {
        server: server.clone(),
        path: path.to_string(),
        label_selector: String::new(),
        field_selector: String::new(),
        credentials: credentials.clone(),
    };
    let mut watches: Vec<(Option<MonitorKind>, Arc<ObjectWatch>)> = Vec::new();
    for kind in [MonitorKind::ServiceMonitor, MonitorKind::PodMonitor] {
        let path = format!("/apis/monitoring.coreos.com/v1/{}", kind.plural());
        watches.push((Some(kind), shared(key(&path), client.clone())));
    }
    if config.namespace_selector.is_some() {
        watches.push((None, shared(key("/api/v1/namespaces"), client.clone())));
    }
    let (tx, rx) = watch::channel(Outcomes::default());
    let task = tokio::spawn(run(config, server, client, watches, tx));
    Ok((MonitorWatcher { task }, rx))
}

/// `kind/namespace/name`.
type MonitorKey = (MonitorKind, String, String);

async fn run(
    config: MonitorsConfig,
    server: String,
    client: Arc<HttpClient>,
    watches: Vec<(Option<MonitorKind>, Arc<ObjectWatch>)>,
    tx: watch::Sender<Outcomes>,
) {
    let mut receivers: Vec<_> = watches
        .iter()
        .map(|(kind, w)| (*kind, w.objects.clone()))
        .collect();
    // Publish nothing before every kind has been listed once: an empty set too early would
    // stop the jobs of monitors that exist.
    for (_, r) in receivers.iter_mut() {
        if r.changed().await.is_err() {
            return;
        }
    }
    let mut previous: HashMap<MonitorKey, (Arc<Value>, MonitorOutcome)> = HashMap::new();
    let mut refreshed = tokio::time::Instant::now();
    loop {
        let refresh = refreshed.elapsed() >= REFRESH;
        if refresh {
            refreshed = tokio::time::Instant::now();
        }
        let mut namespaces = None;
        let mut monitors = Vec::new();
        for (kind, r) in receivers.iter_mut() {
            let objects = r.borrow_and_update().clone();
            match kind {
                Some(k) => monitors.push((*k, objects)),
                None => namespaces = Some(objects),
            }
        }
        let mut next = HashMap::new();
        let mut fetched = MapStore::default();
        for (kind, objects) in monitors {
            for object in objects.values() {
                let meta = &object["metadata"];
                let (ns, name) = (
                    meta["namespace"].as_str().unwrap_or_default().to_string(),
                    meta["name"].as_str().unwrap_or_default().to_string(),
                );
                let ns_labels = namespaces
                    .as_ref()
                    .and_then(|n| n.get(&format!("/{ns}")))
                    .map(|n| labels(&n["metadata"]));
                if !selected(&config, kind, &labels(meta), ns_labels.as_ref()) {
                    continue;
                }
                let key = (kind, ns.clone(), name.clone());
                let outcome = match previous.remove(&key) {
                    Some((old, outcome)) if !refresh && Arc::ptr_eq(&old, object) => outcome,
                    old => {
                        let outcome = outcome_of(
                            &config,
                            &server,
                            &client,
                            kind,
                            &ns,
                            &name,
                            object,
                            &mut fetched,
                        )
                        .await;
                        let before = old.and_then(|(_, o)| o.jobs.err());
                        if let Err(reason) = &outcome.jobs
                            && before.as_ref() != Some(reason)
                        {
                            tracing::warn!(kind = kind.as_str(), namespace = %ns, name = %name, %reason, "invalid monitor skipped");
                        }
                        outcome
                    }
                };
                next.insert(key, (object.clone(), outcome));
            }
        }
        previous = next;
        let mut outcomes: Vec<MonitorOutcome> = previous.values().map(|(_, o)| o.clone()).collect();
        outcomes
            .sort_by(|a, b| (a.kind, &a.namespace, &a.name).cmp(&(b.kind, &b.namespace, &b.name)));
        let _ = tx.send(Arc::new(outcomes));
        let any =
            futures::future::select_all(receivers.iter_mut().map(|(_, r)| Box::pin(r.changed())));
        tokio::select! {
            result = any => if result.0.is_err() { return },
            _ = tokio::time::sleep_until(refreshed + REFRESH) => {}
        }
        // Let a burst of events (`kubectl apply` of several objects) settle.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn labels(meta: &Value) -> BTreeMap<String, String> {
    meta["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Whether the section's selectors pick a monitor with `labels` in a namespace with
/// `namespace_labels` (unknown namespace: not selected while a namespace selector is set).
pub fn selected(
    config: &MonitorsConfig,
    kind: MonitorKind,
    labels: &BTreeMap<String, String>,
    namespace_labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let own = match kind {
        MonitorKind::ServiceMonitor => &config.service_monitor_selector,
        MonitorKind::PodMonitor => &config.pod_monitor_selector,
    };
    let namespace_ok = match (&config.namespace_selector, namespace_labels) {
        (None, _) => true,
        (Some(s), Some(l)) => s.matches(l),
        (Some(_), None) => false,
    };
    namespace_ok && own.as_ref().is_none_or(|s| s.matches(labels))
}

/// Translates one monitor object, reading what it references.
#[allow(clippy::too_many_arguments)]
async fn outcome_of(
    config: &MonitorsConfig,
    server: &str,
    client: &HttpClient,
    kind: MonitorKind,
    namespace: &str,
    name: &str,
    object: &Value,
    fetched: &mut MapStore,
) -> MonitorOutcome {
    let jobs = async {
        let mut object = object.clone();
        // List items of a custom resource carry their kind; set it in case they do not.
        object["kind"] = Value::String(kind.as_str().to_string());
        let monitor: Monitor =
            serde_json::from_value(object).map_err(|e| format!("cannot read the object: {e}"))?;
        let recording = Recording::default();
        translate(&monitor, &config.settings, &recording)?;
        let refs: Vec<ObjectRef> = recording
            .0
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        for r in refs {
            if let std::collections::hash_map::Entry::Vacant(slot) = fetched.0.entry(r) {
                let data = read(server, client, slot.key()).await;
                slot.insert(data);
            }
        }
        let translated = translate(&monitor, &config.settings, fetched)?;
        jobs::scrape_configs(translated, &monitor, config)
    };
    MonitorOutcome {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        jobs: jobs.await,
    }
}

/// GETs a Secret or ConfigMap (`Err` when it does not exist or cannot be read).
async fn read(
    server: &str,
    client: &HttpClient,
    (config_map, ns, name): &ObjectRef,
) -> Result<BTreeMap<String, String>, String> {
    let (plural, what) = if *config_map {
        ("configmaps", "configmap")
    } else {
        ("secrets", "secret")
    };
    let url = format!("{server}/api/v1/namespaces/{ns}/{plural}/{name}");
    let response = client
        .get(&url)?
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("cannot read {what} {ns}/{name}: {e}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(format!("{what} {ns}/{name} not found"));
    }
    if !status.is_success() {
        return Err(format!("cannot read {what} {ns}/{name}: HTTP {status}"));
    }
    let text = response
        .text()
        .await
        .map_err(|e| format!("cannot read {what} {ns}/{name}: {e}"))?;
    let body: Value =
        serde_json::from_str(&text).map_err(|e| format!("cannot read {what} {ns}/{name}: {e}"))?;
    object_data(*config_map, &body).map_err(|e| format!("{what} {ns}/{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_follows_the_kind_and_namespace_selectors() {
        let config: MonitorsConfig = serde_yaml_ng::from_str(
            "service_monitor_selector: {matchLabels: {release: prod}}\nnamespace_selector: {matchExpressions: [{key: team, operator: Exists}]}\n",
        )
        .unwrap();
        let l = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let team = l(&[("team", "a")]);
        let prod = l(&[("release", "prod")]);
        let sm = MonitorKind::ServiceMonitor;
        assert!(selected(&config, sm, &prod, Some(&team)));
        assert!(!selected(&config, sm, &l(&[]), Some(&team)));
        assert!(!selected(&config, sm, &prod, Some(&l(&[]))));
        assert!(!selected(&config, sm, &prod, None));
        // No pod_monitor_selector: every PodMonitor of a selected namespace.
        assert!(selected(
            &config,
            MonitorKind::PodMonitor,
            &l(&[]),
            Some(&team)
        ));
        let all: MonitorsConfig = serde_yaml_ng::from_str("{}").unwrap();
        assert!(selected(&all, sm, &l(&[]), None));
    }
}
