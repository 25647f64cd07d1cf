//! Aggregates against a naive reference computed from the raw samples of each window, over
//! random series with counter resets, stale markers, gaps, single-sample windows and start
//! timestamps; and the associativity `fold(aggregate(raw, 5m), 1h) == aggregate(raw, 1h)`.

use super::*;

/// xorshift64*: deterministic random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Raw {
    ts: Vec<i64>,
    vs: Vec<f64>,
    sts: Vec<i64>,
}

/// A random series: a counter with resets (integers or decimals), stale markers, gaps of
/// several windows, jittered intervals, and start timestamps on some samples.
fn random_series(rng: &mut Rng, decimals: bool) -> Raw {
    let (mut ts, mut vs, mut sts) = (Vec::new(), Vec::new(), Vec::new());
    let mut t = -(rng.below(3) as i64) * RES_1H + rng.below(RES_5M as u64) as i64;
    let mut v = 0.0;
    let mut start = t - 1000;
    let with_starts = rng.below(3) == 0;
    let n = 1 + rng.below(600);
    for _ in 0..n {
        t += match rng.below(20) {
            0 => RES_5M * (1 + rng.below(30) as i64), // a gap
            1 => RES_5M,                              // exactly one window on
            _ => 1 + rng.below(40_000) as i64,
        };
        match rng.below(25) {
            0 => {
                ts.push(t);
                vs.push(f64::from_bits(STALE_NAN_BITS));
                sts.push(0);
                continue;
            }
            1 => {
                v = 0.0; // a reset
                start = t - 1 - rng.below(1000) as i64;
            }
            2 => {} // unchanged
            _ => {
                v += if decimals {
                    rng.below(1000) as f64 * 0.01
                } else {
                    rng.below(100) as f64
                }
            }
        }
        ts.push(t);
        vs.push(v);
        sts.push(if with_starts && rng.below(2) == 0 {
            start
        } else {
            0
        });
    }
    if !with_starts {
        sts.clear();
    }
    Raw { ts, vs, sts }
}

/// The row of window `(end − res, end]` computed directly from the raw samples, the way
/// PromQL computes each function over a range.
fn reference(raw: &Raw, res: i64, end: i64) -> Option<AggRow> {
    let idx: Vec<usize> = (0..raw.ts.len())
        .filter(|&i| raw.ts[i] > end - res && raw.ts[i] <= end)
        .collect();
    let last_raw = *idx.last()?;
    let stale_t = is_stale(raw.vs[last_raw]).then_some(raw.ts[last_raw]);
    let live: Vec<usize> = idx.into_iter().filter(|&i| !is_stale(raw.vs[i])).collect();
    let st = |i: usize| raw.sts.get(i).copied().unwrap_or(0);
    let mut row = AggRow {
        t: end,
        count: live.len() as u32,
        sum: 0.0,
        min: 0.0,
        max: 0.0,
        first: 0.0,
        first_t: 0,
        first_start: 0,
        last: 0.0,
        last_t: 0,
        last_start: 0,
        reset_sum: 0.0,
        resets: 0,
        changes: 0,
        stale_t,
    };
    let (Some(&a), Some(&z)) = (live.first(), live.last()) else {
        return Some(row);
    };
    let vs: Vec<f64> = live.iter().map(|&i| raw.vs[i]).collect();
    let (s, c) = vs[1..]
        .iter()
        .fold((vs[0], 0.0), |(s, c), v| kahan_inc(*v, s, c));
    row.sum = s + c;
    row.min = vs.iter().fold(vs[0], |m, &v| min_step(m, v));
    row.max = vs.iter().fold(vs[0], |m, &v| max_step(m, v));
    (row.first, row.first_t, row.first_start) = (raw.vs[a], raw.ts[a], st(a));
    (row.last, row.last_t, row.last_start) = (raw.vs[z], raw.ts[z], st(z));
    for w in live.windows(2) {
        let (p, i) = (w[0], w[1]);
        if raw.vs[i] < raw.vs[p] || is_start_reset(st(p), raw.ts[p], st(i), raw.ts[i]) {
            row.resets += 1;
            row.reset_sum += raw.vs[p];
        }
        if changed(raw.vs[p], raw.vs[i]) {
            row.changes += 1;
        }
    }
    Some(row)
}

fn windows(raw: &Raw, res: i64) -> Vec<i64> {
    let mut ends: Vec<i64> = raw.ts.iter().map(|&t| window_end(t, res)).collect();
    ends.dedup();
    ends
}

#[test]
fn rows_equal_the_reference_bit_for_bit() {
    let mut rng = Rng(0x5eed_0001);
    for case in 0..300 {
        let raw = random_series(&mut rng, case % 2 == 0);
        for res in RESOLUTIONS {
            let rows = aggregate(&raw.ts, &raw.vs, &raw.sts, res);
            let ends = windows(&raw, res);
            assert_eq!(rows.len(), ends.len(), "case {case} res {res}");
            for (row, &end) in rows.iter().zip(&ends) {
                let want = reference(&raw, res, end).expect("window has samples");
                assert!(
                    row.bits_eq(&want),
                    "case {case} res {res} window {end}:\n got {row:?}\nwant {want:?}"
                );
            }
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn an_hour_folded_from_5m_rows_equals_an_hour_from_raw() {
    let mut rng = Rng(0x5eed_0002);
    for case in 0..300 {
        let decimals = case % 2 == 0;
        let raw = random_series(&mut rng, decimals);
        let direct = aggregate(&raw.ts, &raw.vs, &raw.sts, RES_1H);
        let folded = fold(&aggregate(&raw.ts, &raw.vs, &raw.sts, RES_5M), RES_1H);
        assert_eq!(direct.len(), folded.len(), "case {case}");
        for (d, f) in direct.iter().zip(&folded) {
            if decimals {
                // Sums add window sums instead of samples: equal to rounding.
                let mut f2 = *f;
                assert!(
                    close(d.sum, f.sum) && close(d.reset_sum, f.reset_sum),
                    "case {case}"
                );
                (f2.sum, f2.reset_sum) = (d.sum, d.reset_sum);
                assert!(d.bits_eq(&f2), "case {case}:\n{d:?}\n{f:?}");
            } else {
                // Integer values add exactly: bit-equal.
                assert!(d.bits_eq(f), "case {case}:\n{d:?}\n{f:?}");
            }
        }
    }
}

#[test]
fn stale_markers_single_samples_and_window_edges() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    // A sample exactly at a window end belongs to that window; one just after to the next.
    let ts = [RES_5M, RES_5M + 1, 2 * RES_5M, 3 * RES_5M + 10];
    let vs = [5.0, 1.0, stale, stale];
    let rows = aggregate(&ts, &vs, &[], RES_5M);
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[0].t, rows[0].count, rows[0].last), (RES_5M, 1, 5.0));
    // The second window has a value, then a stale marker as its newest sample.
    assert_eq!((rows[1].t, rows[1].count), (2 * RES_5M, 1));
    assert_eq!(rows[1].stale_t, Some(2 * RES_5M));
    // A window of stale markers only is kept: an instant selector must see it.
    assert_eq!((rows[2].count, rows[2].stale_t), (0, Some(3 * RES_5M + 10)));
    assert_eq!(
        newest(&rows).map(|(t, v)| (t, is_stale(v))),
        Some((3 * RES_5M + 10, true))
    );
    assert_eq!(newest(&rows[..1]), Some((RES_5M, 5.0)));
    // Across the edge the counter went 5 → 1: one reset, counted when folding.
    let hour = fold(&rows, RES_1H);
    assert_eq!(hour.len(), 1);
    assert_eq!(
        (hour[0].resets, hour[0].reset_sum, hour[0].count),
        (1, 5.0, 2)
    );
    assert_eq!(hour[0].stale_t, Some(3 * RES_5M + 10));
    assert_eq!(hour[0].increase_for_tests(), 1.0 - 5.0 + 5.0);
}

impl AggRow {
    fn increase_for_tests(&self) -> f64 {
        (self.last - self.first) + self.reset_sum
    }
}
