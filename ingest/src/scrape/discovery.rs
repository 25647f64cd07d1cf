//! Service discovery: where the targets of a job come from.
//!
//! Each `*_sd_configs` entry runs as one provider task that publishes its latest
//! [`TargetGroup`]s on a watch channel and pokes the manager's `changed` notifier; the manager
//! reads the latest groups of every provider when it syncs. Static configs publish once; file
//! discovery re-reads its files whenever one changes (checked every second, and every
//! `refresh_interval` regardless); HTTP discovery fetches its URL every `refresh_interval`. A
//! provider that fails keeps publishing its last good groups, as Prometheus does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};

use super::config::{FileSdConfig, HttpSdConfig, StaticConfig};
use super::http::HttpClient;

/// Label naming the file a target came from.
pub const META_FILEPATH: &str = "__meta_filepath";
/// Label naming the URL a target came from.
pub const META_URL: &str = "__meta_url";
/// Label holding a target's address.
pub const ADDRESS_LABEL: &str = "__address__";

/// Targets sharing labels, from one source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Where the group came from (`static/0`, a file path and index, a URL and index).
    pub source: String,
    /// One label set per target (`__address__` and any per-target labels).
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels of every target of the group.
    pub labels: BTreeMap<String, String>,
}

impl TargetGroup {
    fn from_static(source: String, sc: &StaticConfig, extra: &[(&str, &str)]) -> Self {
        let mut labels = sc.labels.clone();
        for (name, value) in extra {
            labels.insert((*name).to_string(), (*value).to_string());
        }
        Self {
            source,
            targets: sc
                .targets
                .iter()
                .map(|t| BTreeMap::from([(ADDRESS_LABEL.to_string(), t.clone())]))
                .collect(),
            labels,
        }
    }
}

/// The latest groups of one provider.
pub type Groups = watch::Receiver<Arc<Vec<TargetGroup>>>;

/// A running provider; dropping it stops the task.
#[derive(Debug)]
pub struct Provider {
    pub groups: Groups,
    task: Option<tokio::task::JoinHandle<()>>,
    /// A discovery shared with other providers, kept running while this one exists.
    _shared: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Provider {
    /// A provider publishing on `groups` from `task` (stopped when the provider is dropped).
    pub fn with_task(groups: Groups, task: tokio::task::JoinHandle<()>) -> Self {
        Self {
            groups,
            task: Some(task),
            _shared: None,
        }
    }

    /// A provider reading the groups of a discovery shared between jobs (`shared` keeps it
    /// running while this provider exists).
    pub fn sharing(groups: Groups, shared: Arc<dyn std::any::Any + Send + Sync>) -> Self {
        Self {
            groups,
            task: None,
            _shared: Some(shared),
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Static targets: published once.
pub fn static_provider(configs: &[StaticConfig]) -> Provider {
    let groups = configs
        .iter()
        .enumerate()
        .map(|(i, sc)| TargetGroup::from_static(format!("static/{i}"), sc, &[]))
        .collect();
    let (_tx, rx) = watch::channel(Arc::new(groups));
    Provider {
        groups: rx,
        task: None,
        _shared: None,
    }
}

/// Parses a discovery document (JSON or YAML list of `{targets, labels}`).
pub fn parse_groups(
    text: &str,
    json: bool,
    source: &str,
    meta: (&str, &str),
) -> Result<Vec<TargetGroup>, String> {
    let configs: Vec<StaticConfig> = if json {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
    };
    for (i, c) in configs.iter().enumerate() {
        if let Some(t) = c.targets.iter().find(|t| t.is_empty()) {
            return Err(format!("group {i}: empty target {t:?}"));
        }
    }
    Ok(configs
        .iter()
        .enumerate()
        .map(|(i, sc)| TargetGroup::from_static(format!("{source}:{i}"), sc, &[meta]))
        .collect())
}

/// File discovery: the files matching the patterns, re-read when any changes.
pub fn file_provider(config: &FileSdConfig, changed: Arc<Notify>) -> Provider {
    let (tx, rx) = watch::channel(Arc::new(Vec::new()));
    let config = config.clone();
    let task = tokio::spawn(async move {
        // path → (mtime, len, groups of its last good read)
        let mut files: BTreeMap<PathBuf, (Option<SystemTime>, u64, Vec<TargetGroup>)> =
            BTreeMap::new();
        let mut last_full = tokio::time::Instant::now();
        let mut first = true;
        loop {
            let full = first || last_full.elapsed() >= config.refresh_interval.0;
            if full {
                last_full = tokio::time::Instant::now();
            }
            let mut paths = Vec::new();
            for pattern in &config.files {
                match glob::glob(pattern) {
                    Ok(found) => paths.extend(found.filter_map(Result::ok)),
                    Err(e) => tracing::warn!(pattern, error = %e, "bad file_sd pattern"),
                }
            }
            let mut dirty = first;
            files.retain(|p, _| {
                let keep = paths.contains(p);
                dirty |= !keep;
                keep
            });
            for path in paths {
                let stat = tokio::fs::metadata(&path).await.ok();
                let mtime = stat.as_ref().and_then(|m| m.modified().ok());
                let len = stat.as_ref().map_or(0, |m| m.len());
                let unchanged = files
                    .get(&path)
                    .is_some_and(|(t, l, _)| *t == mtime && *l == len);
                if unchanged && !full {
                    continue;
                }
                let shown = path.display().to_string();
                let json = shown.ends_with(".json");
                let read = tokio::fs::read_to_string(&path)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|t| parse_groups(&t, json, &shown, (META_FILEPATH, &shown)));
                match read {
                    Ok(groups) => {
                        let entry = files.entry(path).or_default();
                        dirty |= entry.2 != groups;
                        *entry = (mtime, len, groups);
                    }
                    Err(e) => {
                        tracing::error!(file = %shown, error = %e, "file_sd: cannot read targets; keeping the last good ones");
                        // Remember the stat so that a broken file is not re-read every second.
                        let entry = files.entry(path).or_default();
                        (entry.0, entry.1) = (mtime, len);
                    }
                }
            }
            if dirty {
                let all: Vec<TargetGroup> = files
                    .values()
                    .flat_map(|(_, _, g)| g.iter().cloned())
                    .collect();
                if tx.send(Arc::new(all)).is_err() {
                    return;
                }
                changed.notify_one();
            }
            first = false;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Provider::with_task(rx, task)
}

/// HTTP discovery: GET the URL every refresh interval.
pub fn http_provider(config: &HttpSdConfig, client: HttpClient, changed: Arc<Notify>) -> Provider {
    let (tx, rx) = watch::channel(Arc::new(Vec::new()));
    let config = config.clone();
    let task = tokio::spawn(async move {
        let mut last: Option<Vec<TargetGroup>> = None;
        loop {
            match fetch_groups(&config, &client).await {
                Ok(groups) => {
                    if last.as_ref() != Some(&groups) {
                        if tx.send(Arc::new(groups.clone())).is_err() {
                            return;
                        }
                        changed.notify_one();
                        last = Some(groups);
                    }
                }
                Err(e) => {
                    tracing::error!(url = %config.url, error = %e, "http_sd: cannot refresh targets; keeping the last good ones");
                }
            }
            tokio::time::sleep(config.refresh_interval.0).await;
        }
    });
    Provider::with_task(rx, task)
}

async fn fetch_groups(
    config: &HttpSdConfig,
    client: &HttpClient,
) -> Result<Vec<TargetGroup>, String> {
    let refresh = config.refresh_interval.0.as_secs_f64().to_string();
    let response = client
        .get(&config.url)?
        .header("X-Prometheus-Refresh-Interval-Seconds", refresh)
        .timeout(config.refresh_interval.0.max(Duration::from_secs(1)))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("server returned HTTP status {status}"));
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if !content_type.starts_with("application/json") {
        return Err(format!("unsupported content type {content_type:?}"));
    }
    let body = response.text().await.map_err(|e| e.to_string())?;
    parse_groups(&body, true, &config.url, (META_URL, &config.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_in_both_formats() {
        let json = r#"[{"targets": ["a:9100", "b:9100"], "labels": {"env": "prod"}}]"#;
        let groups = parse_groups(json, true, "f.json", (META_FILEPATH, "f.json")).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].targets.len(), 2);
        assert_eq!(groups[0].targets[1][ADDRESS_LABEL], "b:9100");
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[0].labels[META_FILEPATH], "f.json");
        let yaml = "- targets: ['c:1']\n";
        let groups = parse_groups(yaml, false, "f.yml", (META_FILEPATH, "f.yml")).unwrap();
        assert_eq!(groups[0].targets[0][ADDRESS_LABEL], "c:1");
        assert!(parse_groups("[{\"targets\": 3}]", true, "x", (META_URL, "x")).is_err());
        assert!(parse_groups("- bogus: 1\n", false, "x", (META_URL, "x")).is_err());
    }

    #[tokio::test]
    async fn file_discovery_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("targets.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#).unwrap();
        let changed = Arc::new(Notify::new());
        let config = FileSdConfig {
            files: vec![dir.path().join("*.json").display().to_string()],
            refresh_interval: super::super::config::PromDuration(Duration::from_secs(300)),
        };
        let mut provider = file_provider(&config, changed.clone());
        changed.notified().await;
        let groups = provider.groups.borrow_and_update().clone();
        assert_eq!(groups[0].targets[0][ADDRESS_LABEL], "a:1");
        // A broken edit keeps the last good targets; a good one replaces them.
        std::fs::write(&path, "[{").unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(provider.groups.borrow()[0].targets[0][ADDRESS_LABEL], "a:1");
        std::fs::write(&path, r#"[{"targets": ["b:2", "c:3"]}]"#).unwrap();
        tokio::time::timeout(Duration::from_secs(5), changed.notified())
            .await
            .unwrap();
        assert_eq!(provider.groups.borrow()[0].targets.len(), 2);
        std::fs::remove_file(&path).unwrap();
        tokio::time::timeout(Duration::from_secs(5), changed.notified())
            .await
            .unwrap();
        assert!(provider.groups.borrow().is_empty());
    }
}
