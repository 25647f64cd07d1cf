//! One series' points — the type shared by readers, the compactor's merge and HA
//! deduplication — and the merge of a series' parts from several blocks by commit precedence.

/// One series' points: sorted, unique timestamps; `start_timestamps` empty or one per sample
/// (0 = unknown).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    /// Sample timestamps (ms), strictly increasing.
    pub timestamps: Vec<i64>,
    /// Sample values, one per timestamp.
    pub values: Vec<f64>,
    /// Start timestamps (ms), one per sample, 0 where unknown; empty when none is known.
    pub start_timestamps: Vec<i64>,
}

impl Points {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Keeps the samples whose timestamp satisfies `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(i64) -> bool) {
        let flags: Vec<bool> = self.timestamps.iter().map(|&t| keep(t)).collect();
        if flags.iter().all(|&k| k) {
            return;
        }
        let filter = |v: &mut Vec<_>| {
            let mut i = 0;
            v.retain(|_| {
                i += 1;
                flags[i - 1]
            });
        };
        filter(&mut self.timestamps);
        let mut i = 0;
        self.values.retain(|_| {
            i += 1;
            flags[i - 1]
        });
        if !self.start_timestamps.is_empty() {
            filter(&mut self.start_timestamps);
        }
    }

    /// Keeps the samples in `[start, end]`.
    pub fn trim(&mut self, start: i64, end: i64) {
        let lo = self.timestamps.partition_point(|&t| t < start);
        let hi = self.timestamps.partition_point(|&t| t <= end);
        if lo == 0 && hi == self.timestamps.len() {
            return;
        }
        self.timestamps = self.timestamps[lo..hi].to_vec();
        self.values = self.values[lo..hi].to_vec();
        if !self.start_timestamps.is_empty() {
            self.start_timestamps = self.start_timestamps[lo..hi].to_vec();
        }
    }
}

/// Joins one series' parts from several blocks, given in commit precedence (later wins on
/// equal timestamps).
pub fn merge_by_precedence(mut parts: Vec<Points>) -> Points {
    parts.retain(|p| !p.is_empty());
    let has_st = parts.iter().any(|p| !p.start_timestamps.is_empty());
    let fill_st = |p: &mut Points| {
        if has_st && p.start_timestamps.is_empty() {
            p.start_timestamps = vec![0; p.timestamps.len()];
        }
    };
    if parts.len() <= 1 {
        let mut p = parts.pop().unwrap_or_default();
        fill_st(&mut p);
        return p;
    }
    let mut by_time: Vec<usize> = (0..parts.len()).collect();
    by_time.sort_by_key(|&i| parts[i].timestamps[0]);
    let disjoint = by_time.windows(2).all(|w| {
        let (a, b) = (&parts[w[0]], &parts[w[1]]);
        a.timestamps.last() < b.timestamps.first()
    });
    let total: usize = parts.iter().map(Points::len).sum();
    let mut out = Points {
        timestamps: Vec::with_capacity(total),
        values: Vec::with_capacity(total),
        start_timestamps: Vec::with_capacity(if has_st { total } else { 0 }),
    };
    if disjoint {
        // The common case: consecutive blocks.
        for i in by_time {
            let p = &mut parts[i];
            fill_st(p);
            out.timestamps.extend_from_slice(&p.timestamps);
            out.values.extend_from_slice(&p.values);
            out.start_timestamps.extend_from_slice(&p.start_timestamps);
        }
        return out;
    }
    // Overlapping blocks: a stable sort keeps precedence among equal timestamps, and the last
    // of them (the later block's sample) wins.
    let mut points: Vec<(i64, f64, i64)> = Vec::with_capacity(total);
    for p in &parts {
        points.extend(
            p.timestamps
                .iter()
                .zip(&p.values)
                .enumerate()
                .map(|(i, (&t, &v))| (t, v, p.start_timestamps.get(i).copied().unwrap_or(0))),
        );
    }
    points.sort_by_key(|p| p.0);
    for (i, p) in points.iter().enumerate() {
        if points.get(i + 1).is_some_and(|next| next.0 == p.0) {
            continue;
        }
        out.timestamps.push(p.0);
        out.values.push(p.1);
        if has_st {
            out.start_timestamps.push(p.2);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(ts: &[i64], vs: &[f64]) -> Points {
        Points {
            timestamps: ts.to_vec(),
            values: vs.to_vec(),
            start_timestamps: Vec::new(),
        }
    }

    #[test]
    fn later_part_wins_on_equal_timestamps() {
        let got = merge_by_precedence(vec![
            pts(&[1, 2, 3], &[1.0, 2.0, 3.0]),
            pts(&[2, 4], &[20.0, 4.0]),
        ]);
        assert_eq!(got.timestamps, vec![1, 2, 3, 4]);
        assert_eq!(got.values, vec![1.0, 20.0, 3.0, 4.0]);
        let got = merge_by_precedence(vec![pts(&[5, 6], &[5.0, 6.0]), pts(&[1, 2], &[1.0, 2.0])]);
        assert_eq!(got.timestamps, vec![1, 2, 5, 6]);
    }

    #[test]
    fn start_timestamps_are_filled_when_any_part_has_them() {
        let mut b = pts(&[3], &[3.0]);
        b.start_timestamps = vec![2];
        let got = merge_by_precedence(vec![pts(&[1], &[1.0]), b]);
        assert_eq!(got.start_timestamps, vec![0, 2]);
    }

    #[test]
    fn retain_and_trim() {
        let mut p = pts(&[1, 2, 3, 4], &[1.0, 2.0, 3.0, 4.0]);
        p.retain(|t| t != 2);
        assert_eq!(p.values, vec![1.0, 3.0, 4.0]);
        p.trim(3, 3);
        assert_eq!(p.timestamps, vec![3]);
    }
}
