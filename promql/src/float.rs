//! Prometheus' float formatting (Go's `strconv.FormatFloat(v, 'f', -1, 64)`), shared by
//! the printer, the engine's labels (`count_values`, `histogram_quantiles`) and the API's JSON.

/// Prometheus' float formatting (`strconv.FormatFloat(v, 'f', -1, 64)`, `NaN`, `±Inf`).
pub fn format_float(v: f64) -> String {
    let mut out = String::new();
    write_float(&mut out, v);
    out
}

/// [`format_float`] appended to `out`, without allocating: the shortest digits that
/// round-trip (ryu), written out without an exponent as Go's `'f'` format does.
pub fn write_float(out: &mut String, v: f64) {
    use std::fmt::Write;
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if v == v.trunc() && v.abs() < 1e15 {
        // Integral values (most counters) without the float formatter.
        if v == 0.0 && v.is_sign_negative() {
            out.push('-');
        }
        let _ = write!(out, "{}", v as i64);
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    let Some(e) = s.find('e') else {
        out.push_str(s.strip_suffix(".0").unwrap_or(s));
        return;
    };
    let exp: i64 = s[e + 1..].parse().unwrap_or(0);
    let mantissa = &s[..e];
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int_part}{frac_part}");
    let point = int_part.len() as i64 + exp;
    out.push_str(sign);
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_f_format() {
        // Rust's Display is also the shortest round-trip form without an exponent; it only
        // differs on exact ties between two shortest candidates, where Go (like ryu and
        // Python) rounds half to even.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut values = vec![
            0.1, -0.0, 1e15, 1e16, 1.5e300, 5e-324, 123.456, -7.25e-9, 1e21,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
            values.push((x % 1_000_000) as f64 / 1000.0);
        }
        for v in values {
            let mut got = String::new();
            write_float(&mut got, v);
            let want = format!("{v}");
            if got != want {
                assert_eq!(
                    got.parse::<f64>().ok(),
                    Some(v),
                    "{v:e}: {got} does not round-trip"
                );
                assert_eq!(got.len(), want.len(), "{v:e}: {got} is not shortest");
            }
        }
        assert_eq!(format_float(1_658_206_780_088_562.2), "1658206780088562.2");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
    }
}
