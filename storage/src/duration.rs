//! Prometheus' duration text (`model.Duration`): `1h30m`, `10s53ms`, units from years to
//! milliseconds, largest first.

use std::fmt::Write;

/// Duration units and their length in ms, largest first.
pub const DURATION_UNITS: [(&str, i64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Prometheus' `model.ParseDuration`: `0`, or `<n><unit>` pairs from the largest unit to the
/// smallest, no sign; ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {s:?} to a valid duration");
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total: i64 = 0;
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let value: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let idx = DURATION_UNITS
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(bad)?;
        if last.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last = Some(idx);
        total = value
            .checked_mul(DURATION_UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats ms as Prometheus prints durations: `1h30m`, `5m`, `1s500ms`, `0s`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    for (unit, size) in DURATION_UNITS {
        let size = size as u64;
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("10s53ms"), Ok(10_053));
        assert_eq!(parse_duration("1y"), Ok(365 * 86_400_000));
        assert!(parse_duration("30m1h").is_err());
        assert!(parse_duration("-1m").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        for s in ["1h30m", "5m", "1s500ms", "0s", "2w3d", "-5m"] {
            let ms = parse_duration(s.trim_start_matches('-')).unwrap_or(0);
            let ms = if s.starts_with('-') { -ms } else { ms };
            assert_eq!(format_duration(ms), s);
        }
    }
}
