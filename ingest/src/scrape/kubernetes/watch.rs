//! List-then-watch of one kind of Kubernetes object, as client-go's reflector does it: a
//! paged LIST (`limit=500`, `continue`) gives the objects and a resource version; a WATCH
//! from that version (`allowWatchBookmarks`, `timeoutSeconds`) streams `ADDED`, `MODIFIED`,
//! `DELETED` and `BOOKMARK` events as JSON lines. A watch that ends or drops restarts from
//! the last version seen; `410 Gone` (as an HTTP status or an `ERROR` event) means that
//! version is too old and starts over with a LIST; other failures retry with a growing
//! delay. The current objects are published on a watch channel after each change, so a
//! reader always sees a whole, consistent set.
//!
//! Watches are shared: every provider of a process asking for the same objects (same API
//! server, credentials, path and selectors) reads one [`ObjectWatch`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::scrape::http::HttpClient;

/// Objects by `namespace/name`. Each is shared, so publishing a new set after an event
/// copies pointers, and readers can tell a changed object from an unchanged one
/// (`Arc::ptr_eq`).
pub type Objects = BTreeMap<String, Arc<Value>>;

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchKey {
    /// API server base URL, without a trailing slash.
    pub server: String,
    /// Collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/ns/pods`.
    pub path: String,
    pub label_selector: String,
    pub field_selector: String,
    /// Distinguishes credentials (the client settings, serialized).
    pub credentials: String,
}

/// A running list/watch; the task stops when the last holder drops it.
#[derive(Debug)]
pub struct ObjectWatch {
    pub objects: watch::Receiver<Arc<Objects>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ObjectWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Registry = Mutex<HashMap<WatchKey, Weak<ObjectWatch>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// The process's watch of `key`, started if none runs.
pub fn shared(key: WatchKey, client: Arc<HttpClient>) -> Arc<ObjectWatch> {
    let Ok(mut map) = registry().lock() else {
        return start(key, client);
    };
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(w) = map.get(&key).and_then(Weak::upgrade) {
        return w;
    }
    let w = start(key.clone(), client);
    map.insert(key, Arc::downgrade(&w));
    w
}

fn start(key: WatchKey, client: Arc<HttpClient>) -> Arc<ObjectWatch> {
    let (tx, rx) = watch::channel(Arc::new(Objects::new()));
    let task = tokio::spawn(run(key, client, tx));
    Arc::new(ObjectWatch { objects: rx, task })
}

/// `namespace/name` of an object.
fn object_key(object: &Value) -> String {
    let meta = &object["metadata"];
    format!(
        "{}/{}",
        meta["namespace"].as_str().unwrap_or_default(),
        meta["name"].as_str().unwrap_or_default()
    )
}

/// Why a watch stopped.
enum Ended {
    /// The stream ended or dropped: watch again from the last version.
    Resume,
    /// The version is gone (410): list again.
    Relist,
}

async fn run(key: WatchKey, client: Arc<HttpClient>, tx: watch::Sender<Arc<Objects>>) {
    let mut delay = Duration::from_millis(500);
    loop {
        let (mut objects, mut version) = match list(&key, &client).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(path = %key.path, error = %e, "kubernetes list failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        delay = Duration::from_millis(500);
        let _ = tx.send(Arc::new(objects.clone()));
        loop {
            match watch_from(&key, &client, &mut version, &mut objects, &tx).await {
                Ok(Ended::Resume) => continue,
                Ok(Ended::Relist) => break,
                Err(e) => {
                    tracing::warn!(path = %key.path, error = %e, "kubernetes watch failed; relisting");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                    break;
                }
            }
        }
    }
}

fn url(key: &WatchKey, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str)> = Vec::new();
    if !key.label_selector.is_empty() {
        params.push(("labelSelector", &key.label_selector));
    }
    if !key.field_selector.is_empty() {
        params.push(("fieldSelector", &key.field_selector));
    }
    params.extend_from_slice(extra);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{}{}?{query}", key.server, key.path)
}

/// A paged LIST: the objects and the list's resource version.
async fn list(key: &WatchKey, client: &HttpClient) -> Result<(Objects, String), String> {
    let mut objects = Objects::new();
    let mut token = String::new();
    loop {
        let mut extra = vec![("limit", "500")];
        if !token.is_empty() {
            extra.push(("continue", &token));
        }
        let response = client
            .get(&url(key, &extra))?
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("LIST {}: HTTP {status}: {}", key.path, body.trim()));
        }
        let page: Value =
            serde_json::from_str(&body).map_err(|e| format!("LIST {}: {e}", key.path))?;
        for item in page["items"].as_array().into_iter().flatten() {
            objects.insert(object_key(item), Arc::new(item.clone()));
        }
        let next = page["metadata"]["continue"].as_str().unwrap_or_default();
        if next.is_empty() {
            let version = page["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            return Ok((objects, version));
        }
        token = next.to_string();
    }
}

/// One WATCH request, applying its events until it ends.
async fn watch_from(
    key: &WatchKey,
    client: &HttpClient,
    version: &mut String,
    objects: &mut Objects,
    tx: &watch::Sender<Arc<Objects>>,
) -> Result<Ended, String> {
    let request = url(
        key,
        &[
            ("watch", "true"),
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", "300"),
        ],
    );
    let mut response = client
        .get(&request)?
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if status == reqwest::StatusCode::GONE {
        return Ok(Ended::Relist);
    }
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!(
            "WATCH {}: HTTP {status}: {}",
            key.path,
            body.trim()
        ));
    }
    let mut pending: Vec<u8> = Vec::new();
    loop {
        // Servers send bookmarks about every minute: a silent connection is a dead one.
        let chunk = match tokio::time::timeout(Duration::from_secs(330), response.chunk()).await {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) | Err(_) => return Ok(Ended::Resume),
            Ok(Err(e)) => {
                tracing::debug!(path = %key.path, error = %e, "watch stream dropped");
                return Ok(Ended::Resume);
            }
        };
        pending.extend_from_slice(&chunk);
        let mut changed = false;
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let event: Value = serde_json::from_slice(&line)
                .map_err(|e| format!("WATCH {}: bad event: {e}", key.path))?;
            let object = &event["object"];
            match event["type"].as_str().unwrap_or_default() {
                "ADDED" | "MODIFIED" => {
                    objects.insert(object_key(object), Arc::new(object.clone()));
                    changed = true;
                }
                "DELETED" => {
                    objects.remove(&object_key(object));
                    changed = true;
                }
                "BOOKMARK" => {}
                "ERROR" => {
                    if object["code"] == 410 {
                        return Ok(Ended::Relist);
                    }
                    return Err(format!(
                        "WATCH {}: {}",
                        key.path,
                        object["message"].as_str().unwrap_or("error event")
                    ));
                }
                other => tracing::debug!(kind = other, "unknown watch event"),
            }
            if let Some(v) = object["metadata"]["resourceVersion"].as_str() {
                *version = v.to_string();
            }
        }
        if changed {
            let _ = tx.send(Arc::new(objects.clone()));
        }
    }
}
