//! ServiceMonitors and PodMonitors (`monitoring.coreos.com/v1`, the Prometheus Operator's
//! CRDs, unchanged) watched directly by the scrape workers, with no operator, no generated
//! file and no reload.
//!
//! Data flow: the `kubernetes_monitors` section ([`config`]) → [`watch`] lists and watches
//! the monitors (and namespaces, when selected by label) with the shared list/watch of
//! [`super::watch`], keeps those its selectors ([`select`]) match, reads the Secrets and
//! ConfigMaps they reference through the API into memory → [`translate`] turns each monitor
//! ([`model`]) into the jobs the operator would generate → [`jobs`] makes them the crate's
//! `ScrapeConfig`s → the scrape manager merges them with the file's jobs and applies them
//! (unchanged jobs keep their loops). A monitor that fails anywhere on the way is skipped
//! alone, with its reason in the log, the metrics and `/api/v1/targets`.

pub mod config;
pub mod jobs;
pub mod model;
pub mod select;
pub mod store;
pub mod translate;
pub mod watch;

pub use config::MonitorsConfig;
pub use jobs::{InvalidMonitor, MonitorOutcome};

#[cfg(test)]
mod fixture_tests;
