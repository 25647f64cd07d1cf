//! The `kubernetes_monitors` section of Strata's scrape configuration: where the API server
//! is (`api_server` with the HTTP client settings, `kubeconfig_file`, or the pod's service
//! account), which monitors to translate (`service_monitor_selector`,
//! `pod_monitor_selector`, `namespace_selector`: label selectors as in the Prometheus
//! resource; absent = all), and the Prometheus-resource settings the operator applies to
//! every monitor ([`Settings`]: scrape classes, enforced limits and namespace label,
//! overrides). Checked when the file loads, with one-line errors naming the field.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::model::{LabelSelector, Settings};
use crate::scrape::config::{ConfigError, HttpClientConfig, KubernetesSdConfig};

/// `kubernetes_monitors:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MonitorsConfig {
    /// The API server's URL; absent: in-cluster (the pod's service account).
    #[serde(default)]
    pub api_server: Option<String>,
    #[serde(default)]
    pub kubeconfig_file: Option<PathBuf>,
    /// Which ServiceMonitors (by their labels); absent: all.
    #[serde(default)]
    pub service_monitor_selector: Option<LabelSelector>,
    /// Which PodMonitors; absent: all.
    #[serde(default)]
    pub pod_monitor_selector: Option<LabelSelector>,
    /// Monitors of which namespaces (by the namespace's labels); absent: all.
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(flatten)]
    pub settings: Settings,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

impl MonitorsConfig {
    /// The discovery connection every monitor job uses: a `kubernetes_sd_configs` entry
    /// with this section's server and credentials (role and namespaces come from the
    /// monitor).
    pub fn apply_connection(&self, sd: &mut KubernetesSdConfig) {
        sd.api_server = self.api_server.clone();
        sd.kubeconfig_file = self.kubeconfig_file.clone();
        sd.http = self.http.clone();
    }

    /// Checks the section; `at` names a field for errors.
    pub fn validate(&self, at: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let err = |field: &str, message: String| {
            Err(ConfigError {
                path: at(field),
                message,
            })
        };
        if let Some(field) = self.other.keys().next() {
            return err(field, format!("unknown field `{field}`"));
        }
        crate::scrape::config::validate_connection(
            self.api_server.as_deref(),
            self.kubeconfig_file.is_some(),
            &self.http,
            at,
        )?;
        for (field, selector) in [
            ("service_monitor_selector", &self.service_monitor_selector),
            ("pod_monitor_selector", &self.pod_monitor_selector),
            ("namespace_selector", &self.namespace_selector),
        ] {
            if let Some(Err(e)) = selector.as_ref().map(LabelSelector::validate) {
                return err(field, e);
            }
        }
        let s = &self.settings;
        let mut default = None;
        for (i, class) in s.scrape_classes.iter().enumerate() {
            if class.name.is_empty() {
                return err(&format!("scrape_classes[{i}].name"), "name is empty".into());
            }
            if s.scrape_classes[..i].iter().any(|c| c.name == class.name) {
                return err(
                    &format!("scrape_classes[{i}].name"),
                    format!("duplicate scrape class {:?}", class.name),
                );
            }
            if class.default == Some(true) {
                if let Some(first) = default {
                    return err(
                        &format!("scrape_classes[{i}].default"),
                        format!(
                            "multiple default scrape classes ({first:?} and {:?})",
                            class.name
                        ),
                    );
                }
                default = Some(class.name.as_str());
            }
        }
        if let Some(role) = &s.service_discovery_role
            && role != "Endpoints"
            && role != "EndpointSlice"
        {
            return err(
                "service_discovery_role",
                format!("{role:?}: must be Endpoints or EndpointSlice"),
            );
        }
        if let Some(size) = &s.enforced_body_size_limit
            && let Err(e) = crate::scrape::config::parse_byte_size(size)
        {
            return err("enforced_body_size_limit", e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::scrape::Config;

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_section_loads_with_selectors_and_settings() {
        let c = Config::parse(
            "kubernetes_monitors:\n  api_server: http://127.0.0.1:6443\n  service_monitor_selector:\n    matchLabels: {release: prod}\n  namespace_selector:\n    matchExpressions: [{key: team, operator: Exists}]\n  enforced_sample_limit: 1000\n  scrape_classes:\n  - name: tls\n    default: true\n    tlsConfig: {caFile: /ca.pem}\n",
        )
        .unwrap();
        let m = c.kubernetes_monitors.unwrap();
        assert_eq!(m.api_server.as_deref(), Some("http://127.0.0.1:6443"));
        assert_eq!(
            m.service_monitor_selector.unwrap().match_labels["release"],
            "prod"
        );
        assert!(m.pod_monitor_selector.is_none());
        assert_eq!(m.settings.enforced_sample_limit, Some(1000));
        assert_eq!(m.settings.scrape_classes[0].name, "tls");
    }

    #[test]
    fn mistakes_are_one_line_errors_naming_the_field() {
        let cases = [
            (
                "kubernetes_monitors:\n  api_server: ftp://x\n",
                "kubernetes_monitors.api_server: \"ftp://x\" is not an http(s) URL",
            ),
            (
                "kubernetes_monitors:\n  pod_monitor_selector:\n    matchExpressions: [{key: a, operator: Is}]\n",
                "kubernetes_monitors.pod_monitor_selector: \"a\": \"Is\" is not a valid label selector operator",
            ),
            (
                "kubernetes_monitors:\n  api_serve: http://x\n",
                "kubernetes_monitors.api_serve: unknown field `api_serve`",
            ),
            (
                "kubernetes_monitors:\n  scrape_classes: [{name: a, default: true}, {name: b, default: true}]\n",
                "kubernetes_monitors.scrape_classes[1].default: multiple default scrape classes (\"a\" and \"b\")",
            ),
            (
                "kubernetes_monitors:\n  kubeconfig_file: /k\n  api_server: http://x\n",
                "kubernetes_monitors.kubeconfig_file: cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ),
            (
                "kubernetes_monitors:\n  service_discovery_role: Pods\n",
                "kubernetes_monitors.service_discovery_role: \"Pods\": must be Endpoints or EndpointSlice",
            ),
        ];
        for (text, expected) in cases {
            let e = error(text);
            assert_eq!(e, expected);
            assert!(!e.contains('\n'));
        }
    }
}
