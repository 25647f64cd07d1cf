//! Prometheus' configuration file, the parts a scrape worker uses: `global` and
//! `scrape_configs` (with `static_configs`, `file_sd_configs`, `http_sd_configs` and
//! `kubernetes_sd_configs`).
//!
//! Loading is strict like Prometheus': an unknown field, a bad duration, an invalid regex or
//! an inconsistent setting refuses the whole file, and the error names the field
//! (`scrape_configs[2].relabel_configs[0].action: …`). `rule_files` and `alerting` are left to
//! the rule evaluator (`strata-rules`); sections only a Prometheus server has (`remote_write`,
//! `storage`, …) are accepted and ignored with a warning, so an existing `prometheus.yml` loads
//! unchanged. Service discoveries Strata
//! does not have are refused by name rather than silently scraping nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::Error as _;

use super::relabel::RelabelConfig;

/// An invalid configuration: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The file, and the field within it.
    pub path: String,
    pub message: String,
}

/// A Prometheus duration (`15s`, `1m30s`, `1d`), deserialized from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct PromDuration(pub Duration);

impl std::str::FromStr for PromDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let ms = strata_storage::duration::parse_duration(text)?;
        Ok(Self(Duration::from_millis(ms as u64)))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

impl std::fmt::Display for PromDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX);
        f.write_str(&strata_storage::duration::format_duration(ms))
    }
}

/// A byte size in Prometheus' base-2 notation (`0`, `512KB`, `10MB`, `1GiB`); 0 = no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(t) => parse_byte_size(&t).map(Self).map_err(D::Error::custom),
        }
    }
}

pub(crate) fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("invalid size {text:?} (use e.g. 0, 512KB, 10MB)");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" | "KIB" => 10,
        "MB" | "MIB" => 20,
        "GB" | "GIB" => 30,
        "TB" | "TIB" => 40,
        "PB" | "PIB" => 50,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// A secret: shown as `<secret>` in debug output.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// Exposition formats a scrape may ask for, in `scrape_protocols` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ScrapeProtocol {
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetrics1,
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetrics0,
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1,
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0,
    /// Native histograms over protobuf: accepted in the list, never asked for (Strata does
    /// not store native histograms yet).
    PrometheusProto,
}

impl ScrapeProtocol {
    /// The media range this protocol stands for in an `Accept` header.
    pub fn media_range(self) -> Option<&'static str> {
        Some(match self {
            Self::OpenMetrics1 => "application/openmetrics-text;version=1.0.0",
            Self::OpenMetrics0 => "application/openmetrics-text;version=0.0.1",
            Self::PrometheusText1 => "text/plain;version=1.0.0",
            Self::PrometheusText0 => "text/plain;version=0.0.4",
            Self::PrometheusProto => return None,
        })
    }
}

/// Prometheus 3's default `scrape_protocols` (without native histograms).
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetrics1,
    ScrapeProtocol::OpenMetrics0,
    ScrapeProtocol::PrometheusText1,
    ScrapeProtocol::PrometheusText0,
];

/// Prometheus' default scrape interval.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
/// Prometheus' default scrape timeout (capped by the interval).
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole file. Sections a scrape worker has no use for are kept only to be reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// ServiceMonitors and PodMonitors watched in the cluster, translated into jobs.
    #[serde(default)]
    pub kubernetes_monitors: Option<super::kubernetes::monitors::MonitorsConfig>,
    #[serde(default)]
    scrape_config_files: Option<serde_yaml_ng::Value>,
    /// Read by the rule evaluator (`strata-rules`), accepted here.
    #[serde(default, rename = "rule_files")]
    _rule_files: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "alerting")]
    _alerting: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    remote_write: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    remote_read: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    storage: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    tracing: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    otlp: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    runtime: Option<serde_yaml_ng::Value>,
}

/// `global:` — defaults for every scrape config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    pub scrape_protocols: Vec<ScrapeProtocol>,
    pub external_labels: BTreeMap<String, String>,
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub target_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub keep_dropped_targets: u64,
    // Accepted for compatibility; they concern rule evaluation, logs or name validation.
    evaluation_interval: Option<PromDuration>,
    rule_query_offset: Option<PromDuration>,
    query_log_file: Option<String>,
    scrape_failure_log_file: Option<String>,
    metric_name_validation_scheme: Option<String>,
    metric_name_escaping_scheme: Option<String>,
    always_scrape_classic_histograms: Option<bool>,
    convert_classic_histograms_to_nhcb: Option<bool>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            // Zero means unset: [`Config::parse`] fills in Prometheus' defaults.
            scrape_interval: PromDuration(Duration::ZERO),
            scrape_timeout: PromDuration(Duration::ZERO),
            scrape_protocols: DEFAULT_SCRAPE_PROTOCOLS.to_vec(),
            external_labels: BTreeMap::new(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            evaluation_interval: None,
            rule_query_offset: None,
            query_log_file: None,
            scrape_failure_log_file: None,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
        }
    }
}

/// `basic_auth:`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub username_file: Option<PathBuf>,
    #[serde(default)]
    pub password: Secret,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// `authorization:` — a header `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default = "default_auth_type", rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub credentials: Secret,
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
}

fn default_auth_type() -> String {
    "Bearer".into()
}

/// `tls_config:`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub ca: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub cert: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key: Option<Secret>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

/// The HTTP client settings shared by scrapes and HTTP service discovery (flattened into
/// both).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HttpClientConfig {
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub authorization: Option<Authorization>,
    #[serde(default)]
    pub tls_config: TlsConfig,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    #[serde(default = "yes")]
    pub enable_http2: bool,
    #[serde(default)]
    pub http_headers: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub oauth2: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub proxy_url: Option<String>,
    #[serde(default)]
    pub no_proxy: Option<String>,
    #[serde(default)]
    pub proxy_from_environment: Option<bool>,
    #[serde(default)]
    pub proxy_connect_header: Option<serde_yaml_ng::Value>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            basic_auth: None,
            authorization: None,
            tls_config: TlsConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: None,
            oauth2: None,
            proxy_url: None,
            no_proxy: None,
            proxy_from_environment: None,
            proxy_connect_header: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// `static_configs:` entry (also the shape of file and HTTP discovery documents).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    #[serde(default = "five_minutes")]
    pub refresh_interval: PromDuration,
}

fn five_minutes() -> PromDuration {
    PromDuration(Duration::from_secs(300))
}

/// `http_sd_configs:` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSdConfig {
    pub url: String,
    #[serde(default = "one_minute")]
    pub refresh_interval: PromDuration,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

fn one_minute() -> PromDuration {
    PromDuration(Duration::from_secs(60))
}

/// `kubernetes_sd_configs:` entry, as Prometheus 3 reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KubernetesSdConfig {
    /// `node`, `service`, `pod`, `endpoints`, `endpointslice` or `ingress`.
    pub role: String,
    /// The API server's URL; absent: in-cluster (the pod's service account).
    #[serde(default)]
    pub api_server: Option<String>,
    #[serde(default)]
    pub kubeconfig_file: Option<PathBuf>,
    #[serde(default)]
    pub namespaces: KubernetesNamespaces,
    #[serde(default)]
    pub selectors: Vec<KubernetesSelector>,
    #[serde(default)]
    pub attach_metadata: BTreeMap<String, bool>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

/// `namespaces:` of a Kubernetes SD config (none: every namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesNamespaces {
    #[serde(default)]
    pub own_namespace: bool,
    #[serde(default)]
    pub names: Vec<String>,
}

/// `selectors:` entry: label and field selectors the API server applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSelector {
    pub role: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub field: String,
}

/// Kubernetes SD roles.
pub const KUBERNETES_ROLES: [&str; 6] = [
    "node",
    "service",
    "pod",
    "endpoints",
    "endpointslice",
    "ingress",
];

/// Discovery mechanisms Prometheus has and Strata does not (yet): refused by name.
const UNSUPPORTED_SD: [&str; 27] = [
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "dns_sd_configs",
    "ec2_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "ionos_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
    "outscale_sd_configs",
];

/// One `scrape_configs:` entry. Unset fields take the global defaults ([`Self::settings`]);
/// unknown fields are caught by the flattened remainder and refused in validation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    #[serde(default)]
    pub scrape_interval: Option<PromDuration>,
    #[serde(default)]
    pub scrape_timeout: Option<PromDuration>,
    #[serde(default)]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    #[serde(default)]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub honor_labels: bool,
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
    #[serde(default)]
    pub track_timestamps_staleness: bool,
    #[serde(default = "yes")]
    pub enable_compression: bool,
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    #[serde(default)]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(default)]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    pub body_size_limit: Option<ByteSize>,
    #[serde(default)]
    pub sample_limit: Option<u64>,
    #[serde(default)]
    pub target_limit: Option<u64>,
    #[serde(default)]
    pub label_limit: Option<u64>,
    #[serde(default)]
    pub label_name_length_limit: Option<u64>,
    #[serde(default)]
    pub label_value_length_limit: Option<u64>,
    #[serde(default)]
    pub keep_dropped_targets: Option<u64>,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    // Accepted and ignored: native histograms and name validation are not Strata's yet.
    #[serde(default)]
    scrape_native_histograms: Option<bool>,
    #[serde(default)]
    always_scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default)]
    native_histogram_bucket_limit: Option<u64>,
    #[serde(default)]
    native_histogram_min_bucket_factor: Option<f64>,
    #[serde(default)]
    metric_name_validation_scheme: Option<String>,
    #[serde(default)]
    metric_name_escaping_scheme: Option<String>,
    #[serde(default)]
    scrape_failure_log_file: Option<String>,
    /// Every other `*_sd_configs`: present only to be refused with a clear message.
    #[serde(flatten)]
    other_sd: BTreeMap<String, serde_yaml_ng::Value>,
    /// Not in the file: rules that read only a discovered group's own labels, applied to
    /// each group before its targets are built, which skips the groups they drop (not kept
    /// as dropped targets). A ServiceMonitor's or PodMonitor's label selector, whose same
    /// rules also lead its `relabel_configs`: every monitor of a namespace reads all its
    /// pods, and keeps a few.
    #[serde(skip)]
    pub group_filter: Vec<RelabelConfig>,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}

fn default_scheme() -> String {
    "http".into()
}

/// The settings of one job after defaults: what a scrape loop needs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    pub interval: Duration,
    pub timeout: Duration,
    pub protocols: Vec<ScrapeProtocol>,
    pub body_size_limit: u64,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub target_limit: u64,
}

impl ScrapeConfig {
    /// The job's effective interval, timeout and limits.
    pub fn settings(&self, global: &GlobalConfig) -> JobSettings {
        let interval = self.scrape_interval.unwrap_or(global.scrape_interval).0;
        let timeout = self
            .scrape_timeout
            .map(|t| t.0)
            .unwrap_or_else(|| global.scrape_timeout.0.min(interval));
        JobSettings {
            interval,
            timeout,
            protocols: self
                .scrape_protocols
                .clone()
                .unwrap_or_else(|| global.scrape_protocols.clone()),
            body_size_limit: self.body_size_limit.unwrap_or(global.body_size_limit).0,
            sample_limit: self.sample_limit.unwrap_or(global.sample_limit),
            label_limit: self.label_limit.unwrap_or(global.label_limit),
            label_name_length_limit: self
                .label_name_length_limit
                .unwrap_or(global.label_name_length_limit),
            label_value_length_limit: self
                .label_value_length_limit
                .unwrap_or(global.label_value_length_limit),
            target_limit: self.target_limit.unwrap_or(global.target_limit),
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text).map_err(|e| ConfigError {
            path: format!("{}: {}", path.display(), e.path),
            message: e.message,
        })
    }

    /// Parses and validates a configuration document.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let config: Config = match serde_path_to_error::deserialize(de) {
            Ok(c) => c,
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let location = inner
                    .location()
                    .map(|l| format!(" (line {})", l.line()))
                    .unwrap_or_default();
                // serde_yaml_ng prefixes its own path; keep the message only.
                let message = inner.to_string();
                let message = message
                    .split_once(": ")
                    .filter(|(head, _)| path != "." && head.contains(path.as_str()))
                    .map(|(_, m)| m.to_string())
                    .unwrap_or(message);
                return Err(ConfigError {
                    path: if path == "." { "config".into() } else { path },
                    message: format!("{message}{location}"),
                });
            }
        };
        let mut config = config;
        let g = &mut config.global;
        if g.scrape_interval.0.is_zero() {
            g.scrape_interval = PromDuration(DEFAULT_SCRAPE_INTERVAL);
        }
        if g.scrape_timeout.0.is_zero() {
            g.scrape_timeout = PromDuration(DEFAULT_SCRAPE_TIMEOUT.min(g.scrape_interval.0));
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let err = |path: String, message: String| Err(ConfigError { path, message });
        let g = &self.global;
        if g.scrape_timeout > g.scrape_interval {
            return err(
                "global.scrape_timeout".into(),
                "global scrape timeout greater than scrape interval".into(),
            );
        }
        for name in g.external_labels.keys() {
            if name.is_empty() || name.starts_with("__") {
                return err(
                    format!("global.external_labels.{name}"),
                    format!("{name:?} is not a valid label name"),
                );
            }
        }
        let mut jobs = std::collections::BTreeSet::new();
        for (i, sc) in self.scrape_configs.iter().enumerate() {
            let at = |field: &str| format!("scrape_configs[{i}].{field}");
            if sc.job_name.is_empty() {
                return err(at("job_name"), "job_name is empty".into());
            }
            if !jobs.insert(sc.job_name.as_str()) {
                return err(
                    at("job_name"),
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                );
            }
            sc.validate(g, &at)?;
        }
        if let Some(m) = &self.kubernetes_monitors {
            m.validate(&|f: &str| format!("kubernetes_monitors.{f}"))?;
        }
        Ok(())
    }

    /// Top-level sections present in the file that no Strata process reads (`rule_files` and
    /// `alerting` are the rule evaluator's: `strata serve --config`, `strata rules --config`).
    pub fn ignored_sections(&self) -> Vec<&'static str> {
        [
            ("scrape_config_files", self.scrape_config_files.is_some()),
            ("remote_write", self.remote_write.is_some()),
            ("remote_read", self.remote_read.is_some()),
            ("storage", self.storage.is_some()),
            ("tracing", self.tracing.is_some()),
            ("otlp", self.otlp.is_some()),
            ("runtime", self.runtime.is_some()),
        ]
        .into_iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| name)
        .collect()
    }
}

impl KubernetesSdConfig {
    /// The label and field selectors the API server applies to this role's objects.
    pub fn own_selector(&self) -> (String, String) {
        self.selector_for(&self.role)
    }

    /// The `attach_metadata` switches.
    pub fn attach(&self) -> crate::scrape::kubernetes::roles::Attach {
        let on = |k: &str| self.attach_metadata.get(k).copied().unwrap_or(false);
        crate::scrape::kubernetes::roles::Attach {
            node: on("node"),
            namespace: on("namespace"),
            deployment: on("deployment"),
            job: on("job"),
            cronjob: on("cronjob"),
        }
    }

    /// The label and field selectors for the watch of `kind`'s objects.
    pub fn selector_for(&self, kind: &str) -> (String, String) {
        self.selectors
            .iter()
            .find(|s| s.role == kind)
            .map(|s| (s.label.clone(), s.field.clone()))
            .unwrap_or_default()
    }
}

#[path = "config_validate.rs"]
mod validate;
pub(crate) use validate::validate_connection;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
