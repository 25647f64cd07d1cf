//! Translated monitor jobs → the crate's own [`ScrapeConfig`]: each job's YAML is
//! deserialized exactly as a file's `scrape_configs` entry, its discovery gets the
//! `kubernetes_monitors` section's API server and credentials, and the scrape manager then
//! validates it against the file's `global` like any other job ([`ScrapeConfig::validate`]).
//! A monitor whose jobs do not all pass is reported as invalid, with the reason.

use serde_yaml_ng::Value;

use super::config::MonitorsConfig;
use super::model::{Monitor, MonitorKind};
use super::translate::selector_rules;
use crate::scrape::config::ScrapeConfig;
use crate::scrape::relabel::RelabelConfig;

/// One selected monitor and what it became: its jobs, or why it is skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorOutcome {
    pub kind: MonitorKind,
    pub namespace: String,
    pub name: String,
    pub jobs: Result<Vec<ScrapeConfig>, String>,
}

/// A monitor that is skipped, for `/api/v1/targets` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidMonitor {
    pub kind: MonitorKind,
    pub namespace: String,
    pub name: String,
    pub reason: String,
}

/// The scrape configs of a monitor's translated jobs, with the section's connection and the
/// monitor's selector as their group filter.
pub fn scrape_configs(
    jobs: Vec<Value>,
    monitor: &Monitor,
    connection: &MonitorsConfig,
) -> Result<Vec<ScrapeConfig>, String> {
    let filter: Vec<RelabelConfig> = selector_rules(monitor)
        .into_iter()
        .map(serde_yaml_ng::from_value)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("selector: {e}"))?;
    jobs.into_iter()
        .map(|job| {
            let name = job["job_name"].as_str().unwrap_or_default().to_string();
            let mut sc: ScrapeConfig =
                serde_yaml_ng::from_value(job).map_err(|e| format!("job {name:?}: {e}"))?;
            for sd in &mut sc.kubernetes_sd_configs {
                connection.apply_connection(sd);
            }
            sc.group_filter = filter.clone();
            Ok(sc)
        })
        .collect()
}
