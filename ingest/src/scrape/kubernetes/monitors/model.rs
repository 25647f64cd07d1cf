//! The Prometheus Operator's `monitoring.coreos.com/v1` ServiceMonitor and PodMonitor, as the
//! API serves them, and the Prometheus-resource settings that shape their translation
//! (scrape classes, enforced limits, overrides). Data flow: a watched object (JSON) or a
//! fixture (YAML) deserializes into [`Monitor`]; [`super::translate`] reads it. Only the
//! fields the operator's generator reads are modelled; unknown fields are ignored, as the
//! CRDs grow (the API server has already checked them against the CRD schema).

use std::collections::BTreeMap;

use serde::Deserialize;

/// ServiceMonitor or PodMonitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum MonitorKind {
    ServiceMonitor,
    PodMonitor,
}

impl MonitorKind {
    /// The prefix of its job names (`serviceMonitor/<ns>/<name>/<i>`).
    pub fn job_prefix(self) -> &'static str {
        match self {
            Self::ServiceMonitor => "serviceMonitor",
            Self::PodMonitor => "podMonitor",
        }
    }

    /// The resource's plural, in API paths.
    pub fn plural(self) -> &'static str {
        match self {
            Self::ServiceMonitor => "servicemonitors",
            Self::PodMonitor => "podmonitors",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServiceMonitor => "ServiceMonitor",
            Self::PodMonitor => "PodMonitor",
        }
    }
}

/// `metadata` of a monitor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

/// A ServiceMonitor or a PodMonitor object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Monitor {
    pub kind: MonitorKind,
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: MonitorSpec,
}

/// A Kubernetes label selector (`matchLabels`, `matchExpressions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// `namespaceSelector` of a monitor: `any`, or `matchNames` (default: its own namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NamespaceSelector {
    pub any: bool,
    pub match_names: Vec<String>,
}

/// `attachMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AttachMetadata {
    pub node: Option<bool>,
}

/// The spec of both kinds (ServiceMonitor `endpoints`, PodMonitor `podMetricsEndpoints`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MonitorSpec {
    pub selector: LabelSelector,
    pub selector_mechanism: Option<String>,
    pub namespace_selector: NamespaceSelector,
    pub endpoints: Vec<Endpoint>,
    pub pod_metrics_endpoints: Vec<Endpoint>,
    pub job_label: String,
    pub target_labels: Vec<String>,
    pub pod_target_labels: Vec<String>,
    pub sample_limit: Option<u64>,
    pub target_limit: Option<u64>,
    pub label_limit: Option<u64>,
    pub label_name_length_limit: Option<u64>,
    pub label_value_length_limit: Option<u64>,
    pub keep_dropped_targets: Option<u64>,
    pub body_size_limit: Option<String>,
    pub scrape_protocols: Vec<String>,
    pub fallback_scrape_protocol: Option<String>,
    pub attach_metadata: Option<AttachMetadata>,
    pub scrape_class: Option<String>,
    pub service_discovery_role: Option<String>,
}

/// A port given by name or number (`targetPort`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl IntOrString {
    /// Go's `intstr.String()`.
    pub fn text(&self) -> String {
        match self {
            Self::Int(n) => n.to_string(),
            Self::String(s) => s.clone(),
        }
    }
}

/// A key of a Secret (or ConfigMap) in the monitor's namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct KeySelector {
    pub name: String,
    pub key: String,
    pub optional: Option<bool>,
}

/// A key of either a Secret or a ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretOrConfigMap {
    pub secret: Option<KeySelector>,
    pub config_map: Option<KeySelector>,
}

impl SecretOrConfigMap {
    pub fn is_set(&self) -> bool {
        self.secret.is_some() || self.config_map.is_some()
    }
}

/// `tlsConfig` (the file fields only in ServiceMonitors and scrape classes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TlsConfig {
    pub ca: SecretOrConfigMap,
    pub cert: SecretOrConfigMap,
    pub key_secret: Option<KeySelector>,
    pub ca_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub insecure_skip_verify: Option<bool>,
    pub server_name: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

/// `basicAuth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BasicAuth {
    pub username: KeySelector,
    pub password: KeySelector,
}

/// `authorization` (scrape classes may also give `credentialsFile`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: String,
    pub credentials: Option<KeySelector>,
    pub credentials_file: String,
}

/// Proxy settings (of an endpoint or its `oauth2`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProxyConfig {
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<BTreeMap<String, Vec<KeySelector>>>,
}

impl ProxyConfig {
    pub fn is_set(&self) -> bool {
        *self != Self::default()
    }
}

/// `oauth2`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OAuth2 {
    pub client_id: SecretOrConfigMap,
    pub client_secret: KeySelector,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub endpoint_params: BTreeMap<String, String>,
    pub tls_config: Option<TlsConfig>,
    #[serde(flatten)]
    pub proxy: ProxyConfig,
}

/// A relabeling rule in the CRD's form (`sourceLabels`, `targetLabel`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Relabel {
    pub source_labels: Vec<String>,
    pub separator: Option<String>,
    pub target_label: String,
    pub regex: String,
    pub modulus: u64,
    pub replacement: Option<String>,
    pub action: String,
}

/// A ServiceMonitor `endpoints[]` or PodMonitor `podMetricsEndpoints[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Endpoint {
    pub port: Option<String>,
    pub port_number: Option<i64>,
    pub target_port: Option<IntOrString>,
    pub path: String,
    pub scheme: Option<String>,
    pub params: Option<BTreeMap<String, Vec<String>>>,
    pub interval: String,
    pub scrape_timeout: String,
    pub honor_labels: bool,
    pub honor_timestamps: Option<bool>,
    pub track_timestamps_staleness: Option<bool>,
    pub metric_relabelings: Vec<Relabel>,
    pub relabelings: Vec<Relabel>,
    pub filter_running: Option<bool>,
    pub bearer_token_file: String,
    pub bearer_token_secret: Option<KeySelector>,
    pub authorization: Option<Authorization>,
    pub basic_auth: Option<BasicAuth>,
    pub oauth2: Option<OAuth2>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub tls_config: Option<TlsConfig>,
    #[serde(flatten)]
    pub proxy: ProxyConfig,
}

/// A scrape class of the Prometheus resource (`scrapeClasses[]`, in its own camelCase form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ScrapeClass {
    pub name: String,
    pub default: Option<bool>,
    pub tls_config: Option<TlsConfig>,
    pub authorization: Option<Authorization>,
    pub relabelings: Vec<Relabel>,
    pub metric_relabelings: Vec<Relabel>,
    pub attach_metadata: Option<AttachMetadata>,
    pub fallback_scrape_protocol: Option<String>,
}

/// The settings of the Prometheus resource that the operator applies to every monitor, in
/// Strata's configuration (`kubernetes_monitors`, snake_case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub scrape_classes: Vec<ScrapeClass>,
    pub enforced_namespace_label: String,
    pub enforced_sample_limit: Option<u64>,
    pub enforced_target_limit: Option<u64>,
    pub enforced_label_limit: Option<u64>,
    pub enforced_label_name_length_limit: Option<u64>,
    pub enforced_label_value_length_limit: Option<u64>,
    pub enforced_keep_dropped_targets: Option<u64>,
    pub enforced_body_size_limit: Option<String>,
    pub override_honor_labels: bool,
    pub override_honor_timestamps: bool,
    pub ignore_namespace_selectors: bool,
    pub pod_target_labels: Vec<String>,
    /// `Endpoints` (default) or `EndpointSlice`.
    pub service_discovery_role: Option<String>,
}
