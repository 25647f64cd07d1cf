//! Lossless "scaled integer" encoding of sample values (the VictoriaMetrics trick).
//!
//! Most metric values are short decimals (`12`, `0.25`, `1534.5`). Such a value `v` is stored as
//! an integer mantissa `m` with a per-series decimal scale `k` so that `v == m / 10^k` exactly
//! (IEEE division is correctly rounded, so decoding is deterministic). Integer mantissas then
//! compress far better under delta encoding than raw IEEE bits. Every value that does not
//! round-trip bit for bit — NaN (including Prometheus' stale marker), ±Inf, `-0.0`, values with
//! too many significant digits — is stored as a raw f64 instead.

/// Largest decimal scale tried.
pub const MAX_SCALE: u8 = 15;
/// Mantissas are kept within ±2^53 so that they convert to f64 exactly.
const MAX_MANTISSA: f64 = 9_007_199_254_740_992.0;
/// Share of a series' representable samples that the chosen scale must cover; samples that
/// need a finer scale fall back to raw floats rather than inflating every other mantissa.
const SCALE_COVERAGE: f64 = 0.99;

const POW10: [f64; MAX_SCALE as usize + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Decodes a mantissa at scale `k`.
#[inline]
pub fn decode(mantissa: i64, scale: u8) -> f64 {
    mantissa as f64 / POW10[usize::from(scale.min(MAX_SCALE))]
}

/// The mantissa of `v` at scale `k`, if `v` round-trips exactly through it.
#[inline]
pub fn encode(v: f64, scale: u8) -> Option<i64> {
    if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) || scale > MAX_SCALE {
        return None;
    }
    let m = (v * POW10[usize::from(scale)]).round();
    if m.abs() > MAX_MANTISSA {
        return None;
    }
    let m = m as i64;
    (decode(m, scale).to_bits() == v.to_bits()).then_some(m)
}

/// The smallest scale at which `v` round-trips, if any.
pub fn min_scale(v: f64) -> Option<u8> {
    (0..=MAX_SCALE).find(|&k| encode(v, k).is_some())
}

/// Picks the scale for one series: the smallest scale covering [`SCALE_COVERAGE`] of the values
/// that can be represented at all. `None` when no value is representable.
pub fn choose_scale(values: &[f64]) -> Option<u8> {
    let mut histogram = [0usize; MAX_SCALE as usize + 1];
    let mut representable = 0usize;
    for &v in values {
        if let Some(k) = min_scale(v) {
            histogram[usize::from(k)] += 1;
            representable += 1;
        }
    }
    if representable == 0 {
        return None;
    }
    let needed = (representable as f64 * SCALE_COVERAGE).ceil() as usize;
    let mut covered = 0;
    for (k, n) in histogram.iter().enumerate() {
        covered += n;
        if covered >= needed {
            return Some(k as u8);
        }
    }
    Some(MAX_SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus' stale marker.
    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    #[test]
    fn short_decimals_round_trip() {
        for (v, k) in [
            (0.0, 0),
            (12.0, 0),
            (0.25, 2),
            (1534.5, 1),
            (-3.75, 2),
            (1e15, 0),
            (0.001, 3),
        ] {
            assert_eq!(min_scale(v), Some(k), "{v}");
            let m = encode(v, k).unwrap();
            assert_eq!(decode(m, k).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn coarser_values_encode_at_finer_scales() {
        // A value of scale 1 must still round-trip at the series' scale 3.
        for v in [0.5, 1.1, 2.7, 1e10 + 0.1, -123.4] {
            let m = encode(v, 3).unwrap();
            assert_eq!(decode(m, 3).to_bits(), v.to_bits(), "{v}");
        }
    }

    #[test]
    fn specials_fall_back() {
        for v in [
            f64::NAN,
            f64::from_bits(STALE_NAN),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.1 + 0.2,
            1e300,
            5e-324,
        ] {
            assert_eq!(min_scale(v), None, "{v:?}");
        }
    }

    #[test]
    fn scale_choice_ignores_rare_outliers() {
        let mut values: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
        values.push(0.123456789);
        assert_eq!(choose_scale(&values), Some(1));
        assert_eq!(choose_scale(&[f64::NAN, 0.1 + 0.2]), None);
        assert_eq!(choose_scale(&[]), None);
    }
}
