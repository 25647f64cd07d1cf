//! The rule-related parts of a Prometheus configuration file, read as Prometheus reads them:
//! `global.evaluation_interval`, `global.rule_query_offset`, `global.external_labels`,
//! `rule_files` (globs, relative to the file), and `alerting` (`alertmanagers` with
//! `static_configs`, `file_sd_configs`, `http_sd_configs`, `scheme`, `path_prefix`, `timeout`,
//! `api_version` and the HTTP client settings; `alert_relabel_configs`). Other sections (`scrape_configs`, …) are the scrape
//! workers' and are ignored here. Invalid fields are refused with the field named.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use strata_ingest::scrape::config::{FileSdConfig, HttpClientConfig, HttpSdConfig, StaticConfig};
use strata_ingest::scrape::relabel::RelabelConfig;

use crate::rulefmt::{Duration, RuleGroups, expand_rule_files};

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The rule-related configuration.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RulesConfig {
    #[serde(default)]
    pub global: Global,
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(default)]
    pub alerting: Alerting,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Global {
    /// Default group interval (1m).
    #[serde(default)]
    pub evaluation_interval: Option<Duration>,
    /// Default query offset of groups (0).
    #[serde(default)]
    pub rule_query_offset: Option<Duration>,
    /// Added to alerts sent to Alertmanager (and readable in templates).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    #[serde(default)]
    pub alertmanagers: Vec<AlertmanagerConfig>,
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
}

/// One `alertmanagers` entry: where to send, and the HTTP client settings Prometheus shares
/// with scrapes (`basic_auth`, `authorization`, `tls_config`, `proxy_url`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct AlertmanagerConfig {
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Alertmanagers listed in files (re-read when they change), as scrape targets are.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Alertmanagers listed by an HTTP endpoint, polled every `refresh_interval`.
    #[serde(default)]
    pub http_sd_configs: Vec<HttpSdConfig>,
    #[serde(default = "default_scheme")]
    pub scheme: String,
    #[serde(default)]
    pub path_prefix: String,
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    #[serde(default = "default_api_version")]
    pub api_version: String,
    #[serde(flatten)]
    pub http: HttpClientConfig,
    /// Fields neither has: refused by name.
    #[serde(flatten)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

fn default_scheme() -> String {
    "http".into()
}

fn default_timeout() -> Duration {
    Duration(10_000)
}

fn default_api_version() -> String {
    "v2".into()
}

impl RulesConfig {
    /// Reads the rule sections of a Prometheus configuration's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let config: RulesConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            ConfigError(format!(
                "parsing YAML: {}: {}",
                e.path(),
                e.inner()
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or("")
            ))
        })?;
        for (i, am) in config.alerting.alertmanagers.iter().enumerate() {
            if let Some(field) = am.other.keys().next() {
                return Err(ConfigError(format!(
                    "alerting.alertmanagers[{i}]: field {field} not found in type config.AlertmanagerConfig"
                )));
            }
            if am.api_version != "v2" {
                return Err(ConfigError(format!(
                    "alerting.alertmanagers[{i}].api_version: unsupported {:?} (Alertmanager API v2 only, as Prometheus 3)",
                    am.api_version
                )));
            }
            if am.scheme != "http" && am.scheme != "https" {
                return Err(ConfigError(format!(
                    "alerting.alertmanagers[{i}].scheme: {:?} is neither http nor https",
                    am.scheme
                )));
            }
        }
        for (i, r) in config.alerting.alert_relabel_configs.iter().enumerate() {
            r.validate()
                .map_err(|e| ConfigError(format!("alerting.alert_relabel_configs[{i}]: {e}")))?;
        }
        Ok(config)
    }

    /// Reads a configuration file; relative `file_sd_configs` paths are the file's
    /// directory's, as in Prometheus.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("reading {}: {e}", path.display())))?;
        let mut config =
            Self::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for am in &mut config.alerting.alertmanagers {
            for sd in &mut am.file_sd_configs {
                for f in &mut sd.files {
                    if Path::new(f.as_str()).is_relative() {
                        *f = base.join(f.as_str()).display().to_string();
                    }
                }
            }
        }
        Ok(config)
    }

    /// The group interval default, ms.
    pub fn evaluation_interval(&self) -> i64 {
        self.global.evaluation_interval.map_or(60_000, |d| d.0)
    }

    /// The rule files `rule_files` names, relative to `base` (the configuration's directory),
    /// loaded and validated; any invalid file refuses the whole configuration, as Prometheus
    /// refuses a reload.
    pub fn load_rule_files(&self, base: &Path) -> Result<Vec<(PathBuf, RuleGroups)>, ConfigError> {
        let files = expand_rule_files(base, &self.rule_files).map_err(ConfigError)?;
        files
            .into_iter()
            .map(|f| {
                RuleGroups::load(&f)
                    .map(|g| (f, g))
                    .map_err(|e| ConfigError(e.errors.join("; ")))
            })
            .collect()
    }

    /// Every Alertmanager URL to post alerts to.
    pub fn alertmanager_urls(&self) -> Vec<String> {
        self.alerting
            .alertmanagers
            .iter()
            .flat_map(AlertmanagerConfig::urls)
            .collect()
    }
}

impl AlertmanagerConfig {
    /// The entry's URLs: `scheme://target/path_prefix/api/v2/alerts` per static target.
    pub fn urls(&self) -> Vec<String> {
        self.static_configs
            .iter()
            .flat_map(|sc| sc.targets.iter())
            .map(|target| self.url(target))
            .collect()
    }

    /// The alerts URL of one Alertmanager address (`host:port`).
    pub fn url(&self, address: &str) -> String {
        let prefix = self.path_prefix.trim_end_matches('/');
        format!("{}://{address}{prefix}/api/v2/alerts", self.scheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rule_sections_of_a_prometheus_config() {
        let c = RulesConfig::parse(
            r#"
global:
  scrape_interval: 15s
  evaluation_interval: 30s
  rule_query_offset: 10s
  external_labels: {cluster: eu1}
rule_files: ["rules/*.yml"]
scrape_configs: [{job_name: x, static_configs: [{targets: ["a:1"]}]}]
alerting:
  alert_relabel_configs:
    - {action: labeldrop, regex: replica}
  alertmanagers:
    - static_configs: [{targets: ["am1:9093", "am2:9093"]}]
      path_prefix: /am/
      timeout: 5s
"#,
        )
        .unwrap();
        assert_eq!(c.evaluation_interval(), 30_000);
        assert_eq!(c.global.rule_query_offset, Some(Duration(10_000)));
        assert_eq!(c.global.external_labels["cluster"], "eu1");
        assert_eq!(c.rule_files, ["rules/*.yml"]);
        let urls = c.alertmanager_urls();
        assert_eq!(
            urls,
            [
                "http://am1:9093/am/api/v2/alerts",
                "http://am2:9093/am/api/v2/alerts"
            ]
        );
        assert_eq!(c.alerting.alertmanagers[0].timeout, Duration(5_000));
        assert_eq!(c.alerting.alert_relabel_configs.len(), 1);
    }

    #[test]
    fn invalid_fields_are_named() {
        let err =
            RulesConfig::parse("alerting:\n  alertmanagers:\n    - api_version: v1\n").unwrap_err();
        assert!(err.0.contains("api_version"), "{err}");
        let err = RulesConfig::parse("alerting:\n  alertmanagers:\n    - nope: 1\n").unwrap_err();
        assert!(err.0.contains("nope"), "{err}");
        let err = RulesConfig::parse("global:\n  evaluation_interval: 5x\n").unwrap_err();
        assert!(err.0.contains("evaluation_interval"), "{err}");
    }
}
