//! PromQL operators, one per file: each holds its evaluation logic and its tests.

pub(crate) mod aggregate;
pub(crate) mod binary;
pub(crate) mod counter;
pub(crate) mod function;
pub(crate) mod histogram;
pub(crate) mod info;
pub(crate) mod literal;
pub(crate) mod param;
pub(crate) mod range_fn;
pub(crate) mod selector;

pub use strata_promql::{format_float, write_float};
use strata_storage::STALE_NAN_BITS;

/// True for Prometheus' staleness marker.
pub(crate) fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Neumaier-compensated summation step, as Prometheus' `kahanSumInc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}
