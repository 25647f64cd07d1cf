//! Kubernetes service discovery (`kubernetes_sd_configs`). Data flow: [`provider`] resolves
//! the API server and credentials and takes the process's shared [`watch`] of the role's
//! objects (LIST, then WATCH from the resource version; relist on 410 Gone; bookmarks) in
//! each namespace → the objects, parsed into the slim model of [`objects`], become target
//! groups with Prometheus' meta labels ([`roles`], [`labels`]) → the scrape manager syncs its
//! targets from them like any other provider's.
//!
//! Every role and `attach_metadata` is discovered as Prometheus 3 does, pinned by
//! Prometheus' own discovery test cases (`ingest/tests/fixtures/kubernetes`); the API server
//! comes from `api_server`, a [`kubeconfig`] file, or the pod's service account.

pub mod kubeconfig;
pub mod labels;
pub mod monitors;
pub mod objects;
pub mod provider;
pub mod roles;
pub mod watch;

#[cfg(test)]
mod fixture_tests;
