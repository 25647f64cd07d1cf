//! Scraping: Strata's own Prometheus-compatible scrape workers.
//!
//! Data flow: [`Config`] (Prometheus' `prometheus.yml`: `global` and `scrape_configs`) →
//! per job, discovery providers ([`discovery`]: static, file, HTTP) publish target groups →
//! [`target`] turns groups into targets (job defaults, `relabel_configs`, `instance`) and
//! keeps this worker's [`Shard`] of them → the [`ScrapeManager`] runs one [`scrape_loop`]
//! per target → each scrape's samples, stale markers and report series go to the
//! [`WriteBuffer`](crate::WriteBuffer), which commits them as blocks every flush interval.
//!
//! Workers are stateless: a worker that restarts starts with empty caches, and N workers
//! given `--shard i --shards N` split the targets by a consistent hash of their labels, so
//! that each target is scraped by exactly one of them.

pub mod config;
pub mod discovery;
pub mod http;
pub mod kubernetes;
pub mod labelset;
pub mod manager;
pub mod relabel;
pub mod scrape_loop;
pub mod target;

pub use config::{Config, ConfigError};
pub use manager::{ActiveTarget, ScrapeManager, Shard, TargetsView};
pub use relabel::{Action, RelabelConfig};
pub use scrape_loop::TargetHealth;
