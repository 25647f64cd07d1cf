//! Rule groups' timing, as Prometheus' `rules/group.go` sets it: a group is evaluated every
//! `interval` at a fixed phase within the interval, derived from a hash of its name and file,
//! so that a restarted evaluator (or another one taking the group over) keeps the phase and
//! groups spread over the interval instead of all starting together.

/// Prometheus' `labels.Hash()` of `{file=<file>, name=<name>}`: xxHash64 of the sorted
/// labels, each as `name 0xff value 0xff`.
pub fn group_hash(name: &str, file: &str) -> u64 {
    let mut bytes = Vec::with_capacity(name.len() + file.len() + 12);
    for (k, v) in [("file", file), ("name", name)] {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&bytes, 0)
}

/// Prometheus' `Group.EvalTimestamp`: the latest evaluation time at or before `now_ms` of a
/// group with this hash and interval (ms), in unix milliseconds. The phase is the hash modulo
/// the interval in nanoseconds, as in Prometheus, truncated to whole milliseconds so that
/// evaluation times are exact millisecond timestamps.
pub fn eval_timestamp(hash: u64, interval_ms: i64, now_ms: i64) -> i64 {
    let interval = interval_ms.max(1);
    let interval_ns = u64::try_from(interval)
        .unwrap_or(1)
        .saturating_mul(1_000_000);
    let offset = i64::try_from((hash % interval_ns) / 1_000_000).unwrap_or(0);
    let adjusted = now_ms - offset;
    adjusted - adjusted.rem_euclid(interval) + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_xxh64_of_the_label_bytes() {
        // The same bytes hashed independently.
        let bytes = b"file\xffrules.yml\xffname\xffg\xff";
        assert_eq!(
            group_hash("g", "rules.yml"),
            xxhash_rust::xxh64::xxh64(bytes, 0)
        );
        assert_ne!(group_hash("g", "rules.yml"), group_hash("h", "rules.yml"));
    }

    #[test]
    fn evaluation_times_keep_their_phase() {
        let hash = group_hash("g", "rules.yml");
        let interval = 60_000;
        let t0 = eval_timestamp(hash, interval, 1_700_000_000_000);
        assert!(t0 <= 1_700_000_000_000 && t0 > 1_700_000_000_000 - interval);
        // Any time within the same slot gives the same evaluation time; the next slot is one
        // interval later.
        for later in [t0, t0 + 1, t0 + interval - 1] {
            assert_eq!(eval_timestamp(hash, interval, later), t0);
        }
        assert_eq!(eval_timestamp(hash, interval, t0 + interval), t0 + interval);
        // The phase is the hash modulo the interval (in ns, truncated to ms).
        let phase = ((u128::from(hash) % 60_000_000_000) / 1_000_000) as i64;
        assert_eq!(t0.rem_euclid(interval), phase);
    }
}
