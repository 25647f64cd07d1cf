//! Strata's rules: Prometheus rule files and what checks and expands them.
//!
//! Data flow: a rule file (YAML, Prometheus' `rulefmt`) is read into [`rulefmt::RuleGroups`]
//! and validated as `promtool check rules` validates it — every `expr` through the PromQL
//! parser (`strata-promql`), every label and annotation template through [`template`] (Go's
//! `text/template` with Prometheus' functions), which also expands them when an alert fires.
//! Evaluation follows Prometheus' `rules` package: [`group`] fixes each group's evaluation
//! times, [`alerting`] runs each alerting rule's state machine over a query result and says
//! which `ALERTS`/`ALERTS_FOR_STATE` samples to write and which alerts to send.

pub mod alerting;
pub mod api;
pub mod config;
pub mod eval;
pub mod evaluator;
pub mod group;
pub mod notifier;
pub mod rulefmt;
pub mod state;
pub mod template;
pub mod unittest;
