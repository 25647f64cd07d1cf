//! Go's `time` printing for the values Prometheus' `toTime`, `toDuration` and
//! `humanizeTimestamp` make: `time.Time.String()` (`2006-01-02 15:04:05.999999999 -0700 MST`,
//! always UTC here), `Time.Format` with Go's reference-time layouts, and
//! `time.Duration.String()` (`1h2m5s`, `1.5s`, `500ms`).

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A UTC instant broken into Go's calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    /// 1..=12.
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    /// 1..=366.
    pub(crate) yday: u32,
    /// 0 = Sunday.
    pub(crate) weekday: u32,
}

/// Splits Unix nanoseconds into UTC calendar fields (proleptic Gregorian).
pub(crate) fn civil(unix_nanos: i64) -> Civil {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = strata_storage::calendar::civil_from_days(days);
    let leap = strata_storage::calendar::is_leap(year);
    const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = BEFORE[(month - 1) as usize] + day + u32::from(leap && month > 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
        nanos,
        yday,
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Go's `appendInt(b, x, width)`: zero-padded to `width`, sign first.
fn push_int(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    let digits = x.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    /// A numeric zone; the text is what UTC prints as.
    Zone(&'static str),
    /// Fractional seconds: separator, digits, whether trailing zeros go (`.999`).
    Frac(char, usize, bool),
}

/// Go's `nextStdChunk`: the literal prefix, the element and the rest of `layout`.
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let lower_after = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") && !lower_after(i + 3) => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !lower_after(i + 3) => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' if at(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'0' => match b.get(i + 1) {
                Some(b'1') => Some((Std::ZeroMonth, 2)),
                Some(b'2') => Some((Std::ZeroDay, 2)),
                Some(b'3') => Some((Std::ZeroHour12, 2)),
                Some(b'4') => Some((Std::ZeroMinute, 2)),
                Some(b'5') => Some((Std::ZeroSecond, 2)),
                Some(b'6') => Some((Std::Year, 2)),
                _ => None,
            },
            b'1' if at(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if at(i, "_2006") => {
                return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => Some((Std::UnderDay, 2)),
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::PM, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm, 2)),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                [
                    ("070000", "000000"),
                    ("07:00:00", "00:00:00"),
                    ("0700", "0000"),
                    ("07:00", "00:00"),
                    ("07", "00"),
                ]
                .into_iter()
                .find(|(p, _)| at(i + 1, p))
                .map(|(p, utc)| {
                    let text: &'static str = if z {
                        "Z"
                    } else {
                        match utc.len() {
                            6 => "+000000",
                            8 => "+00:00:00",
                            4 => "+0000",
                            5 => "+00:00",
                            _ => "+00",
                        }
                    };
                    (Std::Zone(text), p.len() + 1)
                })
            }
            b'.' | b',' if matches!(b.get(i + 1), Some(b'0' | b'9')) => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while b.get(j) == Some(&ch) {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((Std::Frac(b[i] as char, j - i - 1, ch == b'9'), j - i))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Go's `Time.Format(layout)` of a UTC instant given in Unix nanoseconds.
pub(crate) fn format(unix_nanos: i64, layout: &str) -> String {
    let t = civil(unix_nanos);
    let mut out = String::new();
    let mut rest = layout;
    while !rest.is_empty() {
        let (prefix, std, tail) = next_chunk(rest);
        out.push_str(prefix);
        rest = tail;
        let Some(std) = std else { break };
        let hour12 = match t.hour % 12 {
            0 => 12,
            h => h,
        };
        match std {
            Std::LongYear => push_int(&mut out, t.year, 4),
            Std::Year => push_int(&mut out, t.year.rem_euclid(100), 2),
            Std::LongMonth => out.push_str(MONTHS[(t.month - 1) as usize]),
            Std::Month => out.push_str(&MONTHS[(t.month - 1) as usize][..3]),
            Std::NumMonth => push_int(&mut out, i64::from(t.month), 0),
            Std::ZeroMonth => push_int(&mut out, i64::from(t.month), 2),
            Std::LongWeekDay => out.push_str(DAYS[t.weekday as usize]),
            Std::WeekDay => out.push_str(&DAYS[t.weekday as usize][..3]),
            Std::Day => push_int(&mut out, i64::from(t.day), 0),
            Std::UnderDay => {
                if t.day < 10 {
                    out.push(' ');
                }
                push_int(&mut out, i64::from(t.day), 0);
            }
            Std::ZeroDay => push_int(&mut out, i64::from(t.day), 2),
            Std::UnderYearDay => {
                out.push_str(if t.yday < 10 {
                    "  "
                } else if t.yday < 100 {
                    " "
                } else {
                    ""
                });
                push_int(&mut out, i64::from(t.yday), 0);
            }
            Std::ZeroYearDay => push_int(&mut out, i64::from(t.yday), 3),
            Std::Hour => push_int(&mut out, i64::from(t.hour), 2),
            Std::Hour12 => push_int(&mut out, i64::from(hour12), 0),
            Std::ZeroHour12 => push_int(&mut out, i64::from(hour12), 2),
            Std::Minute => push_int(&mut out, i64::from(t.minute), 0),
            Std::ZeroMinute => push_int(&mut out, i64::from(t.minute), 2),
            Std::Second => push_int(&mut out, i64::from(t.second), 0),
            Std::ZeroSecond => push_int(&mut out, i64::from(t.second), 2),
            Std::PM => out.push_str(if t.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if t.hour >= 12 { "pm" } else { "am" }),
            Std::Tz => out.push_str("UTC"),
            Std::Zone(text) => out.push_str(text),
            Std::Frac(sep, n, trim) => {
                let all = format!("{:09}", t.nanos);
                let mut digits = &all[..n.min(9)];
                if trim {
                    digits = digits.trim_end_matches('0');
                    if digits.is_empty() {
                        continue;
                    }
                }
                out.push(sep);
                out.push_str(digits);
            }
        }
    }
    out
}

/// Go's `time.Time.String()` of a UTC instant: `1970-01-01 00:00:01.5 +0000 UTC`.
pub(crate) fn time_string(unix_nanos: i64) -> String {
    format(unix_nanos, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `fmtFrac`: `v / 10^prec` as `.ddd` without trailing zeros (nothing when whole).
fn frac(v: u64, prec: u32) -> (String, u64) {
    let mut digits = String::new();
    let mut v = v;
    let mut printed = false;
    for _ in 0..prec {
        let d = v % 10;
        printed = printed || d != 0;
        if printed {
            digits.insert(0, char::from(b'0' + d as u8));
        }
        v /= 10;
    }
    if printed {
        digits.insert(0, '.');
    }
    (digits, v)
}

/// Go's `time.Duration.String()` of nanoseconds: `1h2m5s`, `1.5s`, `500ms`, `0s`.
pub(crate) fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".to_string(),
            u if u < 1_000 => (0, "ns"),
            u if u < 1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (f, whole) = frac(u, prec);
        out.push_str(&whole.to_string());
        out.push_str(&f);
        out.push_str(unit);
    } else {
        let (f, secs) = frac(u, 9);
        let (mins, s) = (secs / 60, secs % 60);
        let (hours, m) = (mins / 60, mins % 60);
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if mins > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{f}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_strings_as_go() {
        assert_eq!(
            time_string(1_500_000_000),
            "1970-01-01 00:00:01.5 +0000 UTC"
        );
        assert_eq!(time_string(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            time_string(1_700_000_000_123_000_000),
            "2023-11-14 22:13:20.123 +0000 UTC"
        );
        assert_eq!(time_string(-1_000_000_000), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            time_string(951_782_400_000_000_000),
            "2000-02-29 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn layouts_as_go() {
        let t = 1_700_000_000_123_456_789; // Tuesday 2023-11-14 22:13:20.123456789 UTC
        assert_eq!(
            format(t, "2006-01-02T15:04:05Z07:00"),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(format(t, "Mon Jan _2 3:04PM"), "Tue Nov 14 10:13PM");
        assert_eq!(
            format(t, "Monday, January 2, 06"),
            "Tuesday, November 14, 23"
        );
        assert_eq!(
            format(t, "15:04:05.000 -0700 MST"),
            "22:13:20.123 +0000 UTC"
        );
        assert_eq!(format(t, ".999999"), ".123456");
        assert_eq!(format(t, "002 __2 pm"), "318 318 pm");
        assert_eq!(format(t, "_2006"), "_2023");
        assert_eq!(format(0, "2006-01-02 .999"), "1970-01-01 ");
        assert_eq!(format(0, "Janet"), "Janet");
    }

    #[test]
    fn durations_as_go() {
        assert_eq!(duration_string(3_725_000_000_000), "1h2m5s");
        assert_eq!(duration_string(1_500_000_000), "1.5s");
        assert_eq!(duration_string(500_000_000), "500ms");
        assert_eq!(duration_string(60_000_000_000), "1m0s");
        assert_eq!(duration_string(0), "0s");
        assert_eq!(duration_string(1_500), "1.5µs");
        assert_eq!(duration_string(12), "12ns");
        assert_eq!(duration_string(-90_000_000_000), "-1m30s");
        assert_eq!(duration_string(i64::MIN), "-2562047h47m16.854775808s");
    }
}
