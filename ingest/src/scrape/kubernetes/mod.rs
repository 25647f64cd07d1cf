//! Kubernetes service discovery (`kubernetes_sd_configs`), being built: the object model
//! ([`objects`]), the meta labels common to every role ([`labels`]) and the translation of
//! objects to target groups per role ([`roles`]), pinned by Prometheus' own discovery test
//! cases (`ingest/tests/fixtures/kubernetes`). The API client (list, then watch from the
//! resource version, relist on 410 Gone, bookmarks) and the provider that plugs these into
//! the scrape manager come next; until then the configuration loader refuses
//! `kubernetes_sd_configs` as before.

pub mod labels;
pub mod objects;
pub mod roles;

#[cfg(test)]
mod fixture_tests;
