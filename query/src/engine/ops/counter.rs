//! Counter arithmetic shared by `rate`, `increase`, `delta`, `irate` and `resets`: Prometheus'
//! extrapolation, and the use of per-sample start timestamps (OpenMetrics `_created`,
//! remote-write 2.0 / OTLP start time) to detect resets and to replace extrapolation.
//!
//! Start timestamps arrive as a slice parallel to the samples, 0 meaning unknown; an empty
//! slice means the series carries none (then everything behaves as without them).

pub(crate) use strata_storage::aggregate::is_start_reset;

/// A sample whose start lies before the previous sample without continuing its run: the two
/// samples claim overlapping intervals (a data quality problem, warned about).
pub(crate) fn start_overlaps(prev_st: i64, prev_t: i64, cur_st: i64) -> bool {
    cur_st != 0 && cur_st < prev_t && cur_st != prev_st
}

/// True when sample `i` (≥ 1) resets the counter, by value or by start timestamp.
fn resets_at(ts: &[i64], vs: &[f64], sts: &[i64], i: usize) -> bool {
    vs[i] < vs[i - 1] || (i < sts.len() && is_start_reset(sts[i - 1], ts[i - 1], sts[i], ts[i]))
}

/// Number of counter resets among the window's samples (`resets()`).
pub(crate) fn count_resets(ts: &[i64], vs: &[f64], sts: &[i64]) -> usize {
    (1..vs.len()).filter(|&i| resets_at(ts, vs, sts, i)).count()
}

/// True when some sample's start overlaps its predecessor (see [`start_overlaps`]).
pub(crate) fn any_start_overlap(ts: &[i64], sts: &[i64]) -> bool {
    (1..sts.len().min(ts.len())).any(|i| start_overlaps(sts[i - 1], ts[i - 1], sts[i]))
}

/// `irate` / `idelta`: the last two samples' difference (per second for `irate`); after a
/// reset `irate` takes the last value itself as the increase.
pub(crate) fn instant_rate(ts: &[i64], vs: &[f64], sts: &[i64], is_rate: bool) -> Option<f64> {
    let n = vs.len();
    if n < 2 {
        return None;
    }
    let interval = ts[n - 1] - ts[n - 2];
    if interval == 0 {
        return None;
    }
    let mut result = vs[n - 1] - vs[n - 2];
    if is_rate && resets_at(ts, vs, sts, n - 1) {
        result = vs[n - 1];
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// The window of one `rate`/`increase`/`delta` evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateWindow {
    /// Exclusive window start (ms).
    pub(crate) start: i64,
    /// Inclusive window end (ms).
    pub(crate) end: i64,
    /// Counter semantics (`rate`, `increase`) rather than gauge (`delta`).
    pub(crate) is_counter: bool,
    /// Per second (`rate`) rather than over the whole window.
    pub(crate) is_rate: bool,
}

/// Prometheus' `extrapolatedRate` for `rate`, `increase` and `delta` over the window's samples.
///
/// Counter resets add the value before the reset. The result is extrapolated towards the
/// window edges (all the way when the edge sample is within 1.1 average intervals, else half
/// an interval; for counters never below zero). When the first sample's start timestamp lies
/// inside the window, the counter is known to have been zero then: its value counts fully and
/// there is no extrapolation to the left, which also makes a single sample enough.
pub(crate) fn extrapolated_rate(ts: &[i64], vs: &[f64], sts: &[i64], w: RateWindow) -> Option<f64> {
    let n = vs.len();
    if n == 0 {
        return None;
    }
    let mut result = vs[n - 1] - vs[0];
    if w.is_counter {
        if sts.is_empty() {
            for pair in vs.windows(2) {
                if pair[1] < pair[0] {
                    result += pair[0];
                }
            }
        } else {
            for i in 1..n {
                if resets_at(ts, vs, sts, i) {
                    result += vs[i - 1];
                }
            }
        }
    }
    let edges = Edges {
        n: n as u64,
        first_t: ts[0],
        last_t: ts[n - 1],
        first_v: vs[0],
        first_st: sts.first().copied().unwrap_or(0),
    };
    extrapolate(edges, result, w)
}

/// What extrapolation needs of a window's samples besides their (reset-corrected) increase:
/// the same from raw samples and from downsampled rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edges {
    /// Samples in the window.
    pub(crate) n: u64,
    pub(crate) first_t: i64,
    pub(crate) last_t: i64,
    pub(crate) first_v: f64,
    /// Start timestamp of the first sample (0 = unknown).
    pub(crate) first_st: i64,
}

/// The extrapolation half of Prometheus' `extrapolatedRate`, given the window's increase
/// `result` (counter resets already added for counters).
pub(crate) fn extrapolate(e: Edges, mut result: f64, w: RateWindow) -> Option<f64> {
    let (n, first_t, last_t) = (e.n, e.first_t, e.last_t);
    if n == 0 {
        return None;
    }
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let mut sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_between = if n > 1 { sampled / (n - 1) as f64 } else { 0.0 };
    let threshold = avg_between * 1.1;
    let first_st = e.first_st;
    if w.is_counter && first_st != 0 && first_st > w.start && first_st < first_t {
        // A zero-valued sample at the start timestamp replaces extrapolation to the left.
        to_start = 0.0;
        sampled = (last_t - first_st) as f64 / 1000.0;
        result += e.first_v;
    } else if n == 1 {
        return None;
    } else {
        if to_start >= threshold {
            to_start = avg_between / 2.0;
        }
        if w.is_counter && result > 0.0 && e.first_v >= 0.0 {
            // Counters cannot go below zero: stop where the slope reaches it.
            let to_zero = sampled * (e.first_v / result);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
    }
    if to_end >= threshold {
        to_end = avg_between / 2.0;
    }
    let mut factor = if sampled != 0.0 {
        (sampled + to_start + to_end) / sampled
    } else {
        1.0
    };
    if w.is_rate {
        factor /= (w.end - w.start) as f64 / 1000.0;
    }
    Some(result * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn increase(ts: &[i64], vs: &[f64], sts: &[i64], start: i64, end: i64) -> Option<f64> {
        let w = RateWindow {
            start,
            end,
            is_counter: true,
            is_rate: false,
        };
        extrapolated_rate(ts, vs, sts, w)
    }

    #[test]
    fn rate_extrapolates_like_prometheus() {
        // 0, 10, …, 100 every 30s over a 5m window ending at 300s: increase of 100 over 300s.
        let ts: Vec<i64> = (0..=10).map(|i| i * 30_000).collect();
        let vs: Vec<f64> = (0..=10).map(|i| i as f64 * 10.0).collect();
        // The first sample at 30s is within 1.1 intervals of the start, so extrapolation
        // reaches the counter's zero point at 0s: increase 100.
        let r = increase(&ts[1..], &vs[1..], &[], 0, 300_000).unwrap();
        assert!((r - 100.0).abs() < 1e-9, "{r}");
        assert!(increase(&ts[..1], &vs[..1], &[], 0, 300_000).is_none());
    }

    #[test]
    fn start_timestamp_resets() {
        // Unknown, invalid (after the sample) and OTel's "unknown start" (equal) never reset.
        assert!(!is_start_reset(0, MIN, 0, 2 * MIN));
        assert!(!is_start_reset(0, MIN, 3 * MIN, 2 * MIN));
        assert!(!is_start_reset(0, MIN, 2 * MIN, 2 * MIN));
        // Continuing run vs. restart after the previous sample.
        assert!(!is_start_reset(10, MIN, 10, 2 * MIN));
        assert!(is_start_reset(10, MIN, MIN + 1, 2 * MIN));
        // Start at the previous sample: delta (previous start known) vs. cumulative with
        // unknown start, or an invalid previous start.
        assert!(is_start_reset(1, MIN, MIN, 2 * MIN));
        assert!(!is_start_reset(0, MIN, MIN, 2 * MIN));
        assert!(!is_start_reset(MIN, MIN, MIN, 2 * MIN));
        assert!(!is_start_reset(2 * MIN, MIN, MIN, 2 * MIN));
    }

    #[test]
    fn start_inside_the_window_replaces_left_extrapolation() {
        // Values 1..4 at 2m..5m, all started at 1m30s; window (1m, 6m].
        let ts = [2 * MIN, 3 * MIN, 4 * MIN, 5 * MIN];
        let vs = [1.0, 2.0, 3.0, 4.0];
        let sts = [90_000; 4];
        let r = increase(&ts, &vs, &sts, MIN, 6 * MIN).unwrap();
        // 4 since the start (the first value counts), extrapolated right by one interval.
        assert!((r - 4.0 * 270.0 / 210.0).abs() < 1e-9, "{r}");
        // A single sample suffices when its start is inside the window.
        let one = increase(&ts[2..3], &vs[2..3], &[90_000], MIN, 6 * MIN).unwrap();
        assert_eq!(one, 3.0);
        // A start at the (exclusive) window start is outside it.
        assert!(increase(&ts[2..3], &vs[2..3], &[MIN], MIN, 6 * MIN).is_none());
    }

    #[test]
    fn resets_overlaps_and_irate_use_starts() {
        let ts = [MIN, 2 * MIN, 3 * MIN];
        let vs = [10.0, 20.0, 30.0];
        // Delta samples: each starts at its predecessor.
        let sts = [1, MIN, 2 * MIN];
        assert_eq!(count_resets(&ts, &vs, &sts), 2);
        assert_eq!(count_resets(&ts, &vs, &[]), 0);
        assert_eq!(instant_rate(&ts, &vs, &sts, true), Some(0.5));
        assert_eq!(instant_rate(&ts, &vs, &[], true), Some(10.0 / 60.0));
        assert!(!any_start_overlap(&ts, &sts));
        assert!(any_start_overlap(&ts, &[1, 30_000, 30_000 + 1]));
    }
}
