//! HA replica deduplication: merges the copies of one series written by the replicas of a
//! Prometheus HA pair (series equal but for a replica label such as `replica="a"`) into one.
//!
//! Data flow: the caller groups series by their labels without the replica labels
//! ([`split_replica`] returns those labels and the replica identity), then hands each group's
//! points to [`dedup_replicas`]. The query engine runs it on its selection widened to whole
//! [`DEDUP_WINDOW_MS`] windows, then trims; the compactor runs it on whole windows of a block.
//! Both get the same answer because the function is *window-local*: time is cut into
//! epoch-aligned windows `[k*W, (k+1)*W)` and the output inside a window depends only on the
//! replicas' samples inside it. It is also independent of the order of the replicas.
//!
//! In each window the primary is the replica with the most samples there (ties: the smallest
//! identity), and all its samples are kept. Its median scrape interval `iv` defines gaps:
//! stretches longer than `2*iv` between consecutive primary samples, plus the stretches between
//! the window borders and its first and last samples. The other replicas, in the same order of
//! preference, fill the gaps with their samples that lie at least `iv` away from every sample
//! already chosen (window borders need no margin); the samples one replica adds count as chosen
//! for the next one. So the output keeps one replica's sample rate — `irate`, `resets` and
//! `count_over_time` see one scrape per interval, not a doubled and jittered one — and a
//! replica sampling at the primary's own timestamps adds nothing.
//!
//! Why counters stay correct: both replicas scrape the same counter, so its value depends only
//! on when it was read. A sample taken from another replica lies at least one interval after
//! the chosen sample before it and at least one interval before the chosen sample after it;
//! the replicas' timestamp skew (scrape offset, read delay) is far below one interval, so the
//! later sample read the counter later and is `>=` the earlier one unless the counter really
//! reset. Hence the merged series shows exactly the real resets, and `rate`/`increase` over it
//! equal those of one replica that never had the outage (within one scrape's worth at the
//! edges of a gap). Unlike a penalty algorithm that switches replicas on the fly and depends
//! on where the selection starts, the choice here is fixed per window. Only at a window border
//! where the primary changes may two samples be closer than `iv`; they still come in time
//! order, so a decrease there needs the replicas' skew to exceed their distance.
//!
//! Stale markers (NaN with bits [`crate::STALE_NAN_BITS`]) are ordinary samples and keep their
//! bits; start timestamps travel with their samples.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::labels::Labels;

/// Width of the epoch-aligned windows in which one replica is chosen as primary.
pub const DEDUP_WINDOW_MS: i64 = 2 * 3600 * 1000;

pub use crate::points::Points;

/// Splits `labels` into the labels without any of `replica_labels` and the replica identity:
/// the removed labels' `name=value` pairs joined by "," in name order ("" when none of them is present).
pub fn split_replica(labels: &Labels, replica_labels: &[String]) -> (Labels, String) {
    let mut kept = Vec::with_capacity(labels.len());
    let mut identity = String::new();
    for l in labels.iter() {
        if replica_labels.contains(&l.name) {
            if !identity.is_empty() {
                identity.push(',');
            }
            identity.push_str(&l.name);
            identity.push('=');
            identity.push_str(&l.value);
        } else {
            kept.push((l.name.as_str(), l.value.as_str()));
        }
    }
    if identity.is_empty() {
        return (labels.clone(), identity);
    }
    // A subset of a valid label set is valid, so this cannot fail; were it to, keeping the
    // replica label merely leaves the series undeduplicated.
    let kept = Labels::from_pairs(kept).unwrap_or_else(|_| labels.clone());
    (kept, identity)
}

/// One sample: timestamp, value, start timestamp (0 = unknown).
type Sample = (i64, f64, i64);

/// Merges the points of one series as written by several replicas (`(replica identity, points)`,
/// in any order) into one series.
///
/// See the module documentation for the algorithm. Malformed input is tolerated: extra
/// timestamps or values are dropped, and unsorted points are sorted (of equal timestamps the
/// last one wins).
pub fn dedup_replicas(replicas: Vec<(String, Points)>) -> Points {
    let mut reps: Vec<(String, Vec<Sample>)> = replicas
        .into_iter()
        .map(|(id, p)| (id, samples_of(p)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if reps.len() <= 1 {
        return into_points(reps.pop().map(|(_, s)| s).unwrap_or_default());
    }
    // Each replica's run of samples per window, keyed by window index.
    let mut windows: BTreeMap<i64, Vec<(usize, Range<usize>)>> = BTreeMap::new();
    for (r, (_, samples)) in reps.iter().enumerate() {
        let mut start = 0;
        while let Some(first) = samples.get(start) {
            let k = first.0.div_euclid(DEDUP_WINDOW_MS);
            let end =
                start + samples[start..].partition_point(|s| s.0.div_euclid(DEDUP_WINDOW_MS) == k);
            windows.entry(k).or_default().push((r, start..end));
            start = end;
        }
    }
    let mut out = Vec::new();
    for runs in windows.into_values() {
        let mut slices: Vec<(&str, &[Sample])> = runs
            .into_iter()
            .map(|(r, range)| (reps[r].0.as_str(), &reps[r].1[range]))
            .collect();
        slices.sort_by(|a, b| preference(*a, *b));
        dedup_window(&slices, &mut out);
    }
    into_points(out)
}

/// Order of preference in a window: most samples, then smallest identity; replicas with equal
/// identities (malformed input) by their samples, so that the input order never matters.
fn preference(a: (&str, &[Sample]), b: (&str, &[Sample])) -> Ordering {
    let key = |s: &Sample| (s.0, s.1.to_bits(), s.2);
    b.1.len()
        .cmp(&a.1.len())
        .then_with(|| a.0.cmp(b.0))
        .then_with(|| a.1.iter().map(key).cmp(b.1.iter().map(key)))
}

/// Deduplicates one window; `slices` holds each replica's samples in it, most preferred first.
/// Appends the window's output, sorted, to `out`.
fn dedup_window(slices: &[(&str, &[Sample])], out: &mut Vec<Sample>) {
    let Some(((_, primary), others)) = slices.split_first() else {
        return;
    };
    let mut chosen: Vec<Sample> = primary.to_vec();
    // With fewer than 2 primary samples, every replica has at most one here (the primary has
    // the most), so the fallback is undefined too and the window is the primary alone.
    let iv = median_interval(&[primary])
        .or_else(|| median_interval(&slices.iter().map(|(_, s)| *s).collect::<Vec<_>>()));
    if let Some(iv) = iv {
        for (_, other) in others {
            let fill: Vec<Sample> = other
                .iter()
                .filter(|s| admissible(&chosen, s.0, iv))
                .copied()
                .collect();
            if !fill.is_empty() {
                chosen.extend(fill);
                chosen.sort_by_key(|s| s.0);
            }
        }
    }
    out.extend(chosen);
}

/// Median of the intervals between consecutive samples of each slice (pooled); `None` when no
/// slice has two samples. An even count takes the mean of the middle two, rounded down.
fn median_interval(slices: &[&[Sample]]) -> Option<i64> {
    let mut diffs: Vec<i64> = slices
        .iter()
        .flat_map(|s| s.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)))
        .collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let hi = diffs[diffs.len() / 2];
    if diffs.len() % 2 == 1 {
        return Some(hi);
    }
    let lo = diffs[diffs.len() / 2 - 1];
    Some(lo + (hi - lo) / 2)
}

/// True when a sample at `t` fills a gap of `chosen` (sorted timestamps of the window's chosen
/// samples): its neighbours are more than `2*iv` apart (or a window border, which needs no
/// margin) and both are at least `iv` away. An equal timestamp is never admissible.
fn admissible(chosen: &[Sample], t: i64, iv: i64) -> bool {
    let i = chosen.partition_point(|s| s.0 < t);
    let left = i.checked_sub(1).and_then(|j| chosen.get(j)).map(|s| s.0);
    let right = chosen.get(i).map(|s| s.0);
    let is_gap = match (left, right) {
        (Some(l), Some(r)) => r.saturating_sub(l) > iv.saturating_mul(2),
        _ => true,
    };
    is_gap
        && left.is_none_or(|l| t.saturating_sub(l) >= iv)
        && right.is_none_or(|r| r.saturating_sub(t) >= iv)
}

/// A replica's points as samples, sorted by timestamp with unique timestamps.
fn samples_of(p: Points) -> Vec<Sample> {
    let st = |i: usize| p.start_timestamps.get(i).copied().unwrap_or(0);
    let mut samples: Vec<Sample> = p
        .timestamps
        .iter()
        .zip(&p.values)
        .enumerate()
        .map(|(i, (&t, &v))| (t, v, st(i)))
        .collect();
    if !samples.is_sorted_by(|a, b| a.0 < b.0) {
        samples.sort_by_key(|s| s.0);
        let mut unique: Vec<Sample> = Vec::with_capacity(samples.len());
        for s in samples {
            if unique.last().is_some_and(|l| l.0 == s.0) {
                unique.pop();
            }
            unique.push(s);
        }
        samples = unique;
    }
    samples
}

/// Samples back to [`Points`]; `start_timestamps` stays empty when none is known.
fn into_points(samples: Vec<Sample>) -> Points {
    let known = samples.iter().any(|s| s.2 != 0);
    Points {
        timestamps: samples.iter().map(|s| s.0).collect(),
        values: samples.iter().map(|s| s.1).collect(),
        start_timestamps: if known {
            samples.iter().map(|s| s.2).collect()
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::STALE_NAN_BITS;

    const W: i64 = DEDUP_WINDOW_MS;
    const MIN: i64 = 60_000;

    /// xorshift64: deterministic test data without extra crates.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Uniform in `[lo, hi)`.
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % (hi - lo) as u64) as i64
        }
    }

    fn points(samples: &[Sample]) -> Points {
        into_points(samples.to_vec())
    }

    /// Comparable form: NaN compared by bits, unknown start timestamps as 0.
    fn triples(p: &Points) -> Vec<(i64, u64, i64)> {
        (0..p.timestamps.len())
            .map(|i| {
                let st = p.start_timestamps.get(i).copied().unwrap_or(0);
                (p.timestamps[i], p.values[i].to_bits(), st)
            })
            .collect()
    }

    fn restrict(p: &Points, lo: i64, hi: i64) -> Points {
        let mut s = samples_of(p.clone());
        s.retain(|s| (lo..hi).contains(&s.0));
        into_points(s)
    }

    /// Samples with value `v` and no start timestamp at `ts`.
    fn at(ts: &[i64], v: f64) -> Points {
        points(&ts.iter().map(|&t| (t, v, 0)).collect::<Vec<_>>())
    }

    /// Jittered scrapes every 15 s in `[from, to)` starting at `from + offset`, skipping
    /// `down`; values from `value(t)`.
    fn scrape(
        rng: &mut Rng,
        (from, to): (i64, i64),
        offset: i64,
        down: Range<i64>,
        value: impl Fn(i64) -> f64,
    ) -> Points {
        let mut samples = Vec::new();
        let mut slot = from + offset;
        while slot < to {
            let t = slot + rng.range(-1000, 1000);
            if !down.contains(&t) && t >= from && t < to {
                samples.push((t, value(t), 0));
            }
            slot += 15_000;
        }
        points(&samples)
    }

    /// Random replicas over windows -3..3 with random intervals, outages and start timestamps.
    fn random_replicas(rng: &mut Rng, ids: &[&str]) -> Vec<(String, Points)> {
        ids.iter()
            .map(|id| {
                let mut samples = Vec::new();
                let mut t = -3 * W + rng.range(0, 30_000);
                let mut up = true;
                while t < 3 * W {
                    if rng.range(0, 60) == 0 {
                        up = !up;
                    }
                    if up {
                        let st = if id.ends_with('s') { t - 1000 } else { 0 };
                        samples.push((t, rng.range(0, 1000) as f64, st));
                    }
                    t += rng.range(10_000, 30_000);
                }
                (id.to_string(), points(&samples))
            })
            .collect()
    }

    #[test]
    fn identical_replicas_collapse_to_one() {
        let mut rng = Rng(7);
        let a = scrape(&mut rng, (0, 2 * W), 3000, 0..0, |t| t as f64);
        let out = dedup_replicas(vec![("b".into(), a.clone()), ("a".into(), a.clone())]);
        assert_eq!(triples(&out), triples(&a));
        // Same timestamps, other values: the primary's (smallest identity) values win.
        let mut c = a.clone();
        c.values.iter_mut().for_each(|v| *v += 0.5);
        let out = dedup_replicas(vec![("c".into(), c), ("a".into(), a.clone())]);
        assert_eq!(triples(&out), triples(&a));
    }

    #[test]
    fn single_replica_is_returned_unchanged() {
        let p = Points {
            timestamps: vec![-5, 10, W + 3],
            values: vec![1.0, f64::from_bits(STALE_NAN_BITS), 2.0],
            start_timestamps: vec![-100, 0, 7],
        };
        let out = dedup_replicas(vec![("replica=x".into(), p.clone())]);
        assert_eq!(triples(&out), triples(&p));
        assert_eq!(out.start_timestamps, p.start_timestamps);
        assert_eq!(dedup_replicas(Vec::new()), Points::default());
    }

    #[test]
    fn input_order_does_not_matter() {
        let mut rng = Rng(42);
        let mut reps = random_replicas(&mut rng, &["a", "bs", "c"]);
        // A duplicate identity with the same timestamps: ties are broken by content.
        let mut dup = reps[0].1.clone();
        dup.values.iter_mut().for_each(|v| *v += 1.0);
        reps.push(("a".into(), dup));
        let expected = triples(&dedup_replicas(reps.clone()));
        assert!(expected.len() > 1000);
        let perms = [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1], [3, 0, 1, 2]];
        for perm in perms {
            let permuted = perm.iter().map(|&i| reps[i].clone()).collect();
            assert_eq!(triples(&dedup_replicas(permuted)), expected, "{perm:?}");
        }
    }

    #[test]
    fn output_in_a_window_depends_only_on_that_window() {
        for seed in [1, 2, 3, 99] {
            let mut rng = Rng(seed);
            let reps = random_replicas(&mut rng, &["r0", "r1s", "r2"]);
            let full = dedup_replicas(reps.clone());
            assert!(full.timestamps.is_sorted_by(|a, b| a < b));
            // Gaps were filled: more than any one replica, fewer than their union.
            let lens: Vec<usize> = reps.iter().map(|(_, p)| p.timestamps.len()).collect();
            let n = full.timestamps.len();
            assert!(
                lens.iter().all(|&l| n > l) && n < lens.iter().sum(),
                "{n} {lens:?}"
            );
            for k in -4..4 {
                let (lo, hi) = (k * W, (k + 1) * W);
                let local: Vec<_> = reps
                    .iter()
                    .map(|(id, p)| (id.clone(), restrict(p, lo, hi)))
                    .collect();
                let expected = triples(&dedup_replicas(local));
                assert_eq!(
                    triples(&restrict(&full, lo, hi)),
                    expected,
                    "seed {seed} k {k}"
                );
            }
        }
    }

    #[test]
    fn outage_of_the_primary_is_filled_from_the_other_replica() {
        let mut rng = Rng(5);
        let win = (3 * W, 4 * W);
        let outage = 3 * W + 40 * MIN..3 * W + 50 * MIN;
        let a = scrape(&mut rng, win, 2000, outage.clone(), |_| 1.0);
        // "b" has a longer outage of its own, so "a" has more samples and is the primary.
        let b = scrape(
            &mut rng,
            win,
            9000,
            3 * W + 80 * MIN..3 * W + 100 * MIN,
            |_| 2.0,
        );
        let out = dedup_replicas(vec![
            ("replica=b".into(), b.clone()),
            ("replica=a".into(), a.clone()),
        ]);
        // All of a's samples are kept, and only b's fill its outage.
        let has = |p: &Points, t: &i64| p.timestamps.binary_search(t).is_ok();
        assert!(a.timestamps.iter().all(|t| has(&out, t)));
        let filled: Vec<&i64> = out
            .timestamps
            .iter()
            .filter(|t| outage.contains(t))
            .collect();
        assert!(filled.len() >= 37, "{}", filled.len());
        assert!(filled.iter().all(|t| has(&b, t)));
        // About one replica's worth of samples (480 per 2 h), never doubled, no hole left.
        let n = out.timestamps.len();
        assert!((477..=483).contains(&n), "{n}");
        let spacing = out.timestamps.windows(2).map(|w| w[1] - w[0]);
        let (min, max) = (spacing.clone().min(), spacing.max());
        assert!(
            min >= Some(7500) && max <= Some(2 * 15_000 + 2000),
            "{min:?} {max:?}"
        );
    }

    #[test]
    fn counter_reset_during_the_outage_stays_one_reset() {
        let mut rng = Rng(11);
        let win = (-W, 0);
        let reset = -W + 45 * MIN;
        // 0.01 per ms; the scrape reads the counter up to 500 ms after its timestamp.
        let counter = |t: i64| {
            if t < reset {
                (t + W) as f64 * 0.01
            } else {
                (t - reset) as f64 * 0.01
            }
        };
        let mut skew = Rng(3);
        let mut read = move |t: i64| {
            let r = t + skew.range(0, 500);
            counter(if t < reset { r.min(reset - 1) } else { r })
        };
        let mut a = scrape(&mut rng, win, 2000, -W + 40 * MIN..-W + 50 * MIN, |_| 0.0);
        // "b" scrapes ~200 ms after "a": their jittered samples interleave.
        let mut b = scrape(&mut rng, win, 2200, -W + 80 * MIN..-W + 100 * MIN, |_| 0.0);
        for p in [&mut a, &mut b] {
            p.values = p.timestamps.iter().map(|&t| read(t)).collect();
        }
        let resets = |v: &[f64]| v.windows(2).filter(|w| w[1] < w[0]).count();
        // A plain union sees the read skew as many false resets.
        let mut union: Vec<Sample> = [&a, &b]
            .iter()
            .flat_map(|p| samples_of((*p).clone()))
            .collect();
        union.sort_by_key(|s| s.0);
        assert!(resets(&into_points(union).values) > 10);
        let out = dedup_replicas(vec![("replica=a".into(), a), ("replica=b".into(), b)]);
        let v = &out.values;
        assert_eq!(resets(v), 1);
        let naive: f64 = v
            .windows(2)
            .map(|w| if w[1] >= w[0] { w[1] - w[0] } else { w[1] })
            .sum();
        let (first, last) = (v[0], v[v.len() - 1]);
        let truth = (counter(reset - 1) - first) + last;
        let one_scrape = 0.01 * 17_000.0;
        assert!((naive - truth).abs() <= one_scrape, "{naive} {truth}");
    }

    #[test]
    fn stale_markers_keep_their_bits() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        // Primary "a": stale marker at 30 s, then an outage; "b" fills it, ending stale too.
        let mut a = at(&[0, 15_000, 30_000, 300_000], 1.0);
        a.values[2] = stale;
        let b = points(&[(60_000, 2.0, 0), (75_000, stale, 0)]);
        let out = dedup_replicas(vec![("b".into(), b), ("a".into(), a)]);
        let bits: Vec<(i64, u64)> = triples(&out).into_iter().map(|(t, v, _)| (t, v)).collect();
        let (one, two) = (1.0f64.to_bits(), 2.0f64.to_bits());
        let expected = [
            (0, one),
            (15_000, one),
            (30_000, STALE_NAN_BITS),
            (60_000, two),
        ];
        assert_eq!(bits[..4], expected);
        assert_eq!(bits[4..], [(75_000, STALE_NAN_BITS), (300_000, one)]);
    }

    #[test]
    fn start_timestamps_travel_with_their_samples() {
        let a = at(&[0, 15_000, 30_000, 300_000], 1.0);
        let b = points(&[(20_000, 2.0, 5), (60_000, 2.0, 6)]);
        let out = dedup_replicas(vec![("a".into(), a.clone()), ("b".into(), b)]);
        assert_eq!(out.timestamps, vec![0, 15_000, 30_000, 60_000, 300_000]);
        assert_eq!(out.start_timestamps, vec![0, 0, 0, 6, 0]);
        // None of b's samples is chosen: no start timestamps at all.
        let c = points(&[(20_000, 2.0, 5)]);
        let out = dedup_replicas(vec![("a".into(), a), ("c".into(), c)]);
        assert!(out.start_timestamps.is_empty());
        assert_eq!(out.timestamps, vec![0, 15_000, 30_000, 300_000]);
    }

    #[test]
    fn split_replica_removes_replica_labels() {
        let labels = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied()).unwrap();
        let series = labels(&[
            ("__name__", "up"),
            ("job", "node"),
            ("prometheus", "p1"),
            ("replica", "a"),
        ]);
        let (rest, id) = split_replica(&series, &["replica".to_string()]);
        assert_eq!(
            rest,
            labels(&[("__name__", "up"), ("job", "node"), ("prometheus", "p1")])
        );
        assert_eq!(id, "replica=a");
        // Two replica labels: identity in name order, whatever the order asked for.
        let names = ["replica".to_string(), "prometheus".to_string()];
        let (rest, id) = split_replica(&series, &names);
        assert_eq!(rest, labels(&[("__name__", "up"), ("job", "node")]));
        assert_eq!(id, "prometheus=p1,replica=a");
        // Absent: unchanged, empty identity; one of two present.
        let plain = labels(&[("__name__", "up"), ("job", "node")]);
        assert_eq!(
            split_replica(&plain, &names),
            (plain.clone(), String::new())
        );
        let one = labels(&[("__name__", "up"), ("prometheus_replica", "b")]);
        let (rest, id) = split_replica(&one, &["replica".into(), "prometheus_replica".into()]);
        assert_eq!(rest, labels(&[("__name__", "up")]));
        assert_eq!(id, "prometheus_replica=b");
    }
}
