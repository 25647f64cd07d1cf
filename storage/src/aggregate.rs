//! Downsampled aggregates: one row per series and window `(t − res, t]` (Prometheus'
//! left-open ranges), holding exactly what PromQL's range functions need to answer a range
//! made of whole windows as they would from the raw samples.
//!
//! Data flow: the compactor turns merged raw samples into rows ([`aggregate`]) and writes them
//! as aggregate blocks (block format 3, `docs/format.md`); a query reads rows of the coarsest
//! usable resolution, folds finer rows or aggregates raw samples into the same rows where
//! coarser ones are missing ([`fold`], [`aggregate`] again), and evaluates a range function
//! over the rows of each step's range with a [`Span`]. The same [`Span`] folds 5m rows into
//! 1h rows, so `fold(aggregate(raw, 5m), 1h) == aggregate(raw, 1h)`.
//!
//! Stale markers count in nothing but [`AggRow::stale_t`]: range functions drop them, and an
//! instant selector needs only to know whether the newest sample it sees is one.

use crate::STALE_NAN_BITS;

/// Five minutes in ms: the first downsampling resolution.
pub const RES_5M: i64 = 5 * 60 * 1000;
/// One hour in ms: the second downsampling resolution.
pub const RES_1H: i64 = 60 * 60 * 1000;
/// The downsampling resolutions, finest first.
pub const RESOLUTIONS: [i64; 2] = [RES_5M, RES_1H];

/// Whether `v` is Prometheus' stale marker.
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Kahan-Babuška compensated addition, as Prometheus' `kahanSumInc`: returns the new sum and
/// compensation.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
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

/// Whether the sample `(cur_st, cur_t)` starts a new counter run after `(prev_st, prev_t)`,
/// as Prometheus 3 reads start timestamps (0 = unknown):
///
/// * an unknown start, a start after the sample (invalid), or a start equal to the sample
///   (OTel's "unknown start") is never a reset;
/// * a start before the previous sample means the same run continues;
/// * a start after the previous sample is a reset;
/// * a start exactly at the previous sample is a delta sample (a reset) when the previous
///   sample's own start was known and valid, and a cumulative series of unknown start
///   otherwise.
pub fn is_start_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    prev_st != 0 && prev_st < prev_t
}

/// `min_over_time`'s fold step: a NaN loses to any number, ties keep the earlier value.
pub fn min_step(m: f64, v: f64) -> f64 {
    if v < m || m.is_nan() { v } else { m }
}

/// `max_over_time`'s fold step.
pub fn max_step(m: f64, v: f64) -> f64 {
    if v > m || m.is_nan() { v } else { m }
}

/// Whether two consecutive values differ for `changes()` (two NaNs are equal).
fn changed(a: f64, b: f64) -> bool {
    !(a == b || (a.is_nan() && b.is_nan()))
}

/// The end of the window `(end − res, end]` that holds timestamp `t`.
pub fn window_end(t: i64, res: i64) -> i64 {
    let w = t.div_euclid(res) * res;
    if w == t { t } else { w.saturating_add(res) }
}

/// One series' window `(t − res, t]`. Fields other than `t`, `count` and `stale_t` are
/// meaningless when `count` is 0 (a window holding only stale markers).
#[derive(Debug, Clone, Copy)]
pub struct AggRow {
    /// Window end (inclusive), a multiple of the resolution.
    pub t: i64,
    /// Samples in the window, stale markers excluded.
    pub count: u32,
    /// Compensated sum of the values (`sum_over_time`).
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first: f64,
    pub first_t: i64,
    /// Start timestamp of the first sample (0 = unknown).
    pub first_start: i64,
    pub last: f64,
    pub last_t: i64,
    /// Start timestamp of the last sample (0 = unknown).
    pub last_start: i64,
    /// Sum of the values before each counter reset inside the window, in order, so that the
    /// window's reset-corrected increase is `last − first + reset_sum`, as Prometheus computes
    /// it.
    pub reset_sum: f64,
    /// Counter resets between consecutive samples of the window (`resets()`).
    pub resets: u32,
    /// Value changes between consecutive samples of the window (`changes()`).
    pub changes: u32,
    /// The timestamp of a stale marker that is the window's newest raw sample.
    pub stale_t: Option<i64>,
}

impl AggRow {
    /// Bitwise equality (NaNs and signed zeros included), for tests and verification.
    pub fn bits_eq(&self, o: &AggRow) -> bool {
        let f = |a: f64, b: f64| a.to_bits() == b.to_bits();
        self.t == o.t
            && self.count == o.count
            && self.stale_t == o.stale_t
            && (self.count == 0
                || (f(self.sum, o.sum)
                    && f(self.min, o.min)
                    && f(self.max, o.max)
                    && f(self.first, o.first)
                    && f(self.last, o.last)
                    && f(self.reset_sum, o.reset_sum)
                    && self.first_t == o.first_t
                    && self.last_t == o.last_t
                    && self.first_start == o.first_start
                    && self.last_start == o.last_start
                    && self.resets == o.resets
                    && self.changes == o.changes))
    }

    /// An order-independent-friendly hash of the row's content (for verifying outputs).
    pub fn hash(&self, series_hash: u64) -> u64 {
        let mut buf = Vec::with_capacity(128);
        for v in [
            series_hash,
            self.t as u64,
            u64::from(self.count),
            self.stale_t.map_or(u64::MAX, |t| t as u64),
        ] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        if self.count > 0 {
            for v in [
                self.sum.to_bits(),
                self.min.to_bits(),
                self.max.to_bits(),
                self.first.to_bits(),
                self.last.to_bits(),
                self.reset_sum.to_bits(),
                self.first_t as u64,
                self.last_t as u64,
                self.first_start as u64,
                self.last_start as u64,
                u64::from(self.resets),
                u64::from(self.changes),
            ] {
                buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        xxhash_rust::xxh3::xxh3_64(&buf)
    }
}

/// Folds consecutive windows (or samples) of one series, in time order, into one summary:
/// the building block of [`aggregate`], [`fold`] and of range functions over rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    pub count: u64,
    sum: f64,
    sum_c: f64,
    pub min: f64,
    pub max: f64,
    pub first: f64,
    pub first_t: i64,
    pub first_start: i64,
    pub last: f64,
    pub last_t: i64,
    pub last_start: i64,
    pub reset_sum: f64,
    pub resets: u64,
    pub changes: u64,
    pub stale_t: Option<i64>,
}

impl Span {
    /// The compensated sum of the values.
    pub fn sum(&self) -> f64 {
        self.sum + self.sum_c
    }

    /// The reset-corrected increase, as Prometheus' `extrapolatedRate` computes it
    /// (`last − first + values before resets`).
    pub fn increase(&self) -> f64 {
        (self.last - self.first) + self.reset_sum
    }

    /// The boundary between the span so far and a following run starting with `(v, t, st)`.
    fn join(&mut self, v: f64, t: i64, st: i64) {
        if v < self.last || is_start_reset(self.last_start, self.last_t, st, t) {
            self.resets += 1;
            self.reset_sum += self.last;
        }
        if changed(self.last, v) {
            self.changes += 1;
        }
    }

    /// Adds one raw sample (timestamps strictly increasing).
    pub fn push_sample(&mut self, t: i64, v: f64, st: i64) {
        if is_stale(v) {
            self.stale_t = Some(t);
            return;
        }
        self.stale_t = None;
        if self.count == 0 {
            (self.min, self.max) = (v, v);
            (self.first, self.first_t, self.first_start) = (v, t, st);
            (self.sum, self.sum_c) = (v, 0.0);
        } else {
            self.join(v, t, st);
            (self.sum, self.sum_c) = kahan_inc(v, self.sum, self.sum_c);
            self.min = min_step(self.min, v);
            self.max = max_step(self.max, v);
        }
        (self.last, self.last_t, self.last_start) = (v, t, st);
        self.count += 1;
    }

    /// Adds a row of later windows.
    pub fn push_row(&mut self, r: &AggRow) {
        if r.count == 0 {
            if r.stale_t.is_some() {
                self.stale_t = r.stale_t;
            }
            return;
        }
        if self.count == 0 {
            (self.min, self.max) = (r.min, r.max);
            (self.first, self.first_t, self.first_start) = (r.first, r.first_t, r.first_start);
            (self.sum, self.sum_c) = (r.sum, 0.0);
        } else {
            self.join(r.first, r.first_t, r.first_start);
            (self.sum, self.sum_c) = kahan_inc(r.sum, self.sum, self.sum_c);
            self.min = min_step(self.min, r.min);
            self.max = max_step(self.max, r.max);
        }
        self.reset_sum += r.reset_sum;
        self.resets += u64::from(r.resets);
        self.changes += u64::from(r.changes);
        (self.last, self.last_t, self.last_start) = (r.last, r.last_t, r.last_start);
        self.stale_t = r.stale_t;
        self.count += u64::from(r.count);
    }

    /// The row of window end `t`, or `None` when nothing was added.
    pub fn row(&self, t: i64) -> Option<AggRow> {
        if self.count == 0 && self.stale_t.is_none() {
            return None;
        }
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Some(AggRow {
            t,
            count: sat(self.count),
            sum: self.sum(),
            min: self.min,
            max: self.max,
            first: self.first,
            first_t: self.first_t,
            first_start: self.first_start,
            last: self.last,
            last_t: self.last_t,
            last_start: self.last_start,
            reset_sum: self.reset_sum,
            resets: sat(self.resets),
            changes: sat(self.changes),
            stale_t: self.stale_t,
        })
    }
}

/// Cuts `items` (in time order) into windows of `res` by `t_of`, folding each window's items
/// into a [`Span`] with `push`: the one loop of [`aggregate`] and [`fold`].
fn by_window<T>(
    items: impl IntoIterator<Item = T>,
    res: i64,
    t_of: impl Fn(&T) -> i64,
    mut push: impl FnMut(&mut Span, T),
) -> Vec<AggRow> {
    let mut out = Vec::new();
    let mut span = Span::default();
    let mut end = i64::MIN;
    for item in items {
        let w = window_end(t_of(&item), res);
        if w != end {
            out.extend(span.row(end));
            span = Span::default();
            end = w;
        }
        push(&mut span, item);
    }
    out.extend(span.row(end));
    out
}

/// Aggregates one series' raw samples (sorted, unique timestamps; `sts` parallel start
/// timestamps or empty) into rows of resolution `res`, in time order.
pub fn aggregate(ts: &[i64], vs: &[f64], sts: &[i64], res: i64) -> Vec<AggRow> {
    by_window(
        (0..ts.len().min(vs.len())).map(|i| (ts[i], vs[i], sts.get(i).copied().unwrap_or(0))),
        res,
        |&(t, _, _)| t,
        |span, (t, v, st)| span.push_sample(t, v, st),
    )
}

/// Folds rows of a finer resolution (in time order) into rows of `res`, a multiple of it.
pub fn fold(rows: &[AggRow], res: i64) -> Vec<AggRow> {
    by_window(rows, res, |r| r.t, |span, r| span.push_row(r))
}

/// The newest raw sample at or before `at` as rows of windows ending at or before `at` tell
/// it: `Some((t, value))` for a value, `Some((t, stale NaN))` for a stale marker, `None` when
/// the rows hold nothing. `rows` are in time order and end at or before `at`.
pub fn newest(rows: &[AggRow]) -> Option<(i64, f64)> {
    let r = rows.last()?;
    match r.stale_t {
        Some(t) => Some((t, f64::from_bits(STALE_NAN_BITS))),
        None if r.count > 0 => Some((r.last_t, r.last)),
        None => None,
    }
}

#[cfg(test)]
mod tests;
