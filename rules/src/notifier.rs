//! Sends alerts to Alertmanager (API v2), as Prometheus' notifier does: external labels are
//! added where an alert does not set them, `alert_relabel_configs` applied (an alert they
//! drop is not sent), alerts wait in a bounded queue (the oldest dropped when full) and go in
//! batches to every configured Alertmanager as `POST …/api/v2/alerts` with
//! `[{labels, annotations, startsAt, endsAt, generatorURL}]`. Counters are exported as
//! `strata_notifications_*`. A reload swaps the settings (Alertmanagers, external labels,
//! relabeling) and keeps the queue: nothing waiting is lost.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use strata_ingest::scrape::discovery::{self, Provider};
use strata_ingest::scrape::http::HttpClient;
use strata_ingest::scrape::relabel::{RelabelConfig, relabel};
use strata_storage::Label;

use crate::alerting::Notification;
use crate::config::{AlertmanagerConfig, ConfigError, RulesConfig};

/// Alerts queued at most (Prometheus' `--alertmanager.notification-queue-capacity`).
pub const QUEUE_CAPACITY: usize = 10_000;
/// Alerts per request (Prometheus' `maxBatchSize`).
const MAX_BATCH: usize = 256;

/// One Alertmanager endpoint and the client of its `alertmanagers` entry.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    timeout: Duration,
    client: Arc<HttpClient>,
}

/// One `alertmanagers` entry: its client, and its static and discovered addresses.
#[derive(Debug)]
struct Entry {
    config: AlertmanagerConfig,
    client: Arc<HttpClient>,
    /// File and HTTP discovery, running; their latest groups are read at each send.
    providers: Vec<Provider>,
}

/// What the `alerting` and `global.external_labels` sections configure; replaced whole on
/// reload.
#[derive(Debug, Default)]
struct Settings {
    entries: Vec<Entry>,
    external_labels: BTreeMap<String, String>,
    relabel: Vec<RelabelConfig>,
}

impl Settings {
    fn new(config: &RulesConfig) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for am in &config.alerting.alertmanagers {
            // One client per `alertmanagers` entry: its auth and TLS settings.
            let client = Arc::new(HttpClient::new(&am.http, false).map_err(ConfigError)?);
            let changed = Arc::new(tokio::sync::Notify::new());
            let mut providers = Vec::new();
            for sd in &am.file_sd_configs {
                providers.push(discovery::file_provider(sd, changed.clone()));
            }
            for sd in &am.http_sd_configs {
                let sd_client = HttpClient::new(&sd.http, false).map_err(ConfigError)?;
                providers.push(discovery::http_provider(sd, sd_client, changed.clone()));
            }
            entries.push(Entry {
                config: am.clone(),
                client,
                providers,
            });
        }
        Ok(Self {
            entries,
            external_labels: config.global.external_labels.clone(),
            relabel: config.alerting.alert_relabel_configs.clone(),
        })
    }
}

/// The notifier of one evaluator.
#[derive(Debug)]
pub struct Notifier {
    settings: RwLock<Arc<Settings>>,
    queue: Mutex<VecDeque<Notification>>,
    wake: tokio::sync::Notify,
    sent: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
}

impl Notifier {
    /// A notifier for the configuration's Alertmanagers (none: alerts are dropped, counted).
    pub fn new(config: &RulesConfig) -> Result<Arc<Self>, ConfigError> {
        Ok(Arc::new(Self {
            settings: RwLock::new(Arc::new(Settings::new(config)?)),
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            sent: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }))
    }

    /// Applies a reloaded configuration: its Alertmanagers (discovery restarts), external
    /// labels and `alert_relabel_configs`. An invalid one changes nothing. Alerts already
    /// queued keep the labels they were queued with.
    pub fn apply(&self, config: &RulesConfig) -> Result<(), ConfigError> {
        let settings = Arc::new(Settings::new(config)?);
        if let Ok(mut s) = self.settings.write() {
            *s = settings;
        }
        Ok(())
    }

    fn settings(&self) -> Arc<Settings> {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Queues alerts after adding external labels and relabeling them.
    pub fn send(&self, alerts: Vec<Notification>) {
        if alerts.is_empty() {
            return;
        }
        let settings = self.settings();
        let mut prepared = Vec::with_capacity(alerts.len());
        for mut a in alerts {
            for (k, v) in &settings.external_labels {
                if a.labels.get(k).is_none_or(|v| v.is_empty()) {
                    a.labels.insert(k.clone(), v.clone());
                }
            }
            if !settings.relabel.is_empty() {
                let mut labels: Vec<Label> = a
                    .labels
                    .iter()
                    .map(|(k, v)| Label {
                        name: k.clone(),
                        value: v.clone(),
                    })
                    .collect();
                if !relabel(&mut labels, &settings.relabel) || labels.is_empty() {
                    continue;
                }
                a.labels = labels.into_iter().map(|l| (l.name, l.value)).collect();
            }
            prepared.push(a);
        }
        let Ok(mut queue) = self.queue.lock() else {
            return;
        };
        queue.extend(prepared);
        let over = queue.len().saturating_sub(QUEUE_CAPACITY);
        if over > 0 {
            queue.drain(..over);
            self.dropped.fetch_add(over as u64, Ordering::Relaxed);
        }
        drop(queue);
        self.wake.notify_one();
    }

    /// Alerts waiting to be sent.
    pub fn queue_length(&self) -> usize {
        self.queue.lock().map(|q| q.len()).unwrap_or(0)
    }

    /// Sends queued alerts until `stop` resolves (then what is queued, once).
    pub async fn run(self: Arc<Self>, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => {
                    self.send_queued().await;
                    return;
                }
                _ = self.wake.notified() => self.send_queued().await,
            }
        }
    }

    /// Sends everything queued now, in batches, to every Alertmanager.
    pub async fn send_queued(&self) {
        loop {
            let batch: Vec<Notification> = match self.queue.lock() {
                Ok(mut q) => {
                    let n = q.len().min(MAX_BATCH);
                    q.drain(..n).collect()
                }
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            let targets = self.targets();
            if targets.is_empty() {
                self.dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                continue;
            }
            let body = payload(&batch);
            let posts = targets.iter().map(|t| self.post(t, body.clone()));
            let results = futures::future::join_all(posts).await;
            for ok in results {
                if ok {
                    self.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                } else {
                    self.errors.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            }
        }
    }

    /// Every Alertmanager now: static targets and the latest discovered ones.
    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for e in &self.settings().entries {
            let timeout =
                Duration::from_millis(u64::try_from(e.config.timeout.0).unwrap_or(10_000));
            let mut urls = e.config.urls();
            for p in &e.providers {
                for group in p.groups.borrow().iter() {
                    for t in &group.targets {
                        if let Some(address) = t.get(discovery::ADDRESS_LABEL) {
                            urls.push(e.config.url(address));
                        }
                    }
                }
            }
            urls.sort();
            urls.dedup();
            out.extend(urls.into_iter().map(|url| Target {
                url,
                timeout,
                client: e.client.clone(),
            }));
        }
        out
    }

    async fn post(&self, target: &Target, body: String) -> bool {
        let req = match target.client.post(&target.url) {
            Ok(r) => r
                .header("Content-Type", "application/json")
                .timeout(target.timeout)
                .body(body),
            Err(e) => {
                tracing::warn!(url = %target.url, error = %e, "cannot authenticate to Alertmanager");
                return false;
            }
        };
        match req.send().await {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                tracing::warn!(url = %target.url, status = %r.status(), "Alertmanager refused alerts");
                false
            }
            Err(e) => {
                tracing::warn!(url = %target.url, error = %e, "cannot send alerts to Alertmanager");
                false
            }
        }
    }

    /// `strata_notifications_*` in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "strata_notifications_sent_total",
                "Alerts sent to Alertmanager, per Alertmanager.",
                self.sent.load(Ordering::Relaxed),
            ),
            (
                "strata_notifications_errors_total",
                "Alerts that could not be sent to an Alertmanager.",
                self.errors.load(Ordering::Relaxed),
            ),
            (
                "strata_notifications_dropped_total",
                "Alerts dropped: queue full or no Alertmanager.",
                self.dropped.load(Ordering::Relaxed),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        }
        out.push_str(&format!(
            "# HELP strata_notifications_queue_length Alerts waiting to be sent.\n# TYPE strata_notifications_queue_length gauge\nstrata_notifications_queue_length {}\n",
            self.queue_length()
        ));
        out.push_str(&format!(
            "# HELP strata_notifications_alertmanagers Alertmanagers alerts are sent to.\n# TYPE strata_notifications_alertmanagers gauge\nstrata_notifications_alertmanagers {}\n",
            self.targets().len()
        ));
        out
    }
}

/// Alertmanager API v2's `postableAlerts`.
fn payload(alerts: &[Notification]) -> String {
    let items: Vec<serde_json::Value> = alerts
        .iter()
        .map(|a| {
            serde_json::json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at),
                "generatorURL": a.generator_url,
            })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// Unix milliseconds as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn external_labels_relabeling_and_a_bounded_queue() {
        let config = RulesConfig::parse(
            "global:\n  external_labels: {cluster: eu1, severity: none}\nalerting:\n  alert_relabel_configs:\n    - {source_labels: [drop], regex: yes, action: drop}\n",
        )
        .unwrap();
        let n = Notifier::new(&config).unwrap();
        let alert = |pairs: &[(&str, &str)]| Notification {
            labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            starts_at: 0,
            ends_at: 1,
            generator_url: String::new(),
        };
        n.send(vec![
            alert(&[("alertname", "A"), ("severity", "page")]),
            alert(&[("alertname", "B"), ("drop", "yes")]),
        ]);
        let queued: Vec<Notification> = n.queue.lock().unwrap().iter().cloned().collect();
        assert_eq!(queued.len(), 1, "the relabeling dropped B");
        assert_eq!(queued[0].labels["cluster"], "eu1");
        assert_eq!(
            queued[0].labels["severity"], "page",
            "the alert's own label wins"
        );
        let body: serde_json::Value = serde_json::from_str(&payload(&queued)).unwrap();
        assert_eq!(body[0]["startsAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(body[0]["labels"]["alertname"], "A");
        n.send(
            (0..QUEUE_CAPACITY + 5)
                .map(|_| alert(&[("alertname", "C")]))
                .collect(),
        );
        assert_eq!(n.queue_length(), QUEUE_CAPACITY);
        assert_eq!(n.dropped.load(Ordering::Relaxed), 6);
    }
}
