//! PromQL operators, one per file: each holds its evaluation logic and its tests.

pub(crate) mod aggregate;
pub(crate) mod binary;
pub(crate) mod counter;
pub(crate) mod downsampled;
pub(crate) mod function;
pub(crate) mod histogram;
pub(crate) mod info;
pub(crate) mod literal;
pub(crate) mod param;
pub(crate) mod range_fn;
pub(crate) mod selector;

pub use strata_promql::{format_float, write_float};
pub(crate) use strata_storage::aggregate::{is_stale, kahan_inc};
