//! Go's `strconv.FormatFloat(v, fmt, prec, 64)` for the formats `fmt` uses: `e E f F g G b x
//! X`, shortest (`prec < 0`) or with a precision. Decimal digits come from Rust's formatter,
//! which, like Go, rounds the exact binary value half to even and finds the shortest digits
//! that round-trip; the layout (`1.234567e+06`, when `%g` switches to an exponent) is Go's.

/// A decimal digit string `0.d₁d₂…×10^dp` with trailing zeros trimmed (Go's `decimalSlice`).
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    /// Parses Rust's `{:e}` output of a non-negative finite number (`1.2345e-7`).
    fn from_exp(s: &str) -> Digits {
        let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        if d.is_empty() {
            return Digits { d, dp: 0 };
        }
        Digits { d, dp: exp + 1 }
    }

    /// The shortest digits that read back as `v`.
    fn shortest(v: f64) -> Digits {
        Digits::from_exp(&format!("{:e}", v.abs()))
    }

    /// `v` rounded to `n` (≥ 1) significant digits.
    fn significant(v: f64, n: usize) -> Digits {
        Digits::from_exp(&format!("{:.*e}", n.saturating_sub(1), v.abs()))
    }
}

/// Go's `fmtE`: `d.ddddde±dd`.
fn fmt_e(out: &mut String, neg: bool, d: &Digits, prec: usize, fmt: char) {
    if neg {
        out.push('-');
    }
    out.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.d.get(i).map_or('0', |&c| c as char));
        }
    }
    out.push(fmt);
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// Go's `fmtF`: `ddd.ddd`.
fn fmt_f(out: &mut String, neg: bool, d: &Digits, prec: usize) {
    if neg {
        out.push('-');
    }
    if d.dp > 0 {
        for i in 0..d.dp as usize {
            out.push(d.d.get(i).map_or('0', |&c| c as char));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i64 {
            let j = i64::from(d.dp) + i - 1;
            let c = usize::try_from(j).ok().and_then(|j| d.d.get(j));
            out.push(c.map_or('0', |&c| c as char));
        }
    }
}

/// Go's `%b` of a float: `-4503599627370496p-52`.
fn fmt_b(out: &mut String, v: f64) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    exp += -1023 - 52;
    if bits >> 63 != 0 {
        out.push('-');
    }
    out.push_str(&mant.to_string());
    out.push('p');
    if exp >= 0 {
        out.push('+');
    }
    out.push_str(&exp.to_string());
}

/// Go's `fmtX`: hexadecimal mantissa and binary exponent, `-0x1.8p+01`.
fn fmt_x(out: &mut String, v: f64, prec: i32, upper: bool) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1 << 52;
    }
    exp -= 1023;
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    if bits >> 63 != 0 {
        out.push('-');
    }
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`; `prec < 0` asks for the shortest digits.
pub(crate) fn format_float(v: f64, fmt: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let mut out = String::new();
    let neg = v.is_sign_negative();
    match fmt {
        'b' => {
            fmt_b(&mut out, v);
            return out;
        }
        'x' | 'X' => {
            fmt_x(&mut out, v, prec, fmt == 'X');
            return out;
        }
        _ => {}
    }
    let shortest = prec < 0;
    match fmt {
        'f' | 'F' if shortest => {
            let d = Digits::shortest(v);
            fmt_f(&mut out, neg, &d, (d.d.len() as i32 - d.dp).max(0) as usize);
        }
        'f' | 'F' => {
            let s = format!("{:.*}", prec as usize, v.abs());
            if neg {
                out.push('-');
            }
            out.push_str(&s);
        }
        'e' | 'E' => {
            let d = if shortest {
                Digits::shortest(v)
            } else {
                Digits::significant(v, prec as usize + 1)
            };
            let p = if shortest {
                d.d.len().saturating_sub(1)
            } else {
                prec as usize
            };
            fmt_e(&mut out, neg, &d, p, fmt);
        }
        _ => {
            // 'g' and 'G'.
            let e = if fmt == 'G' { 'E' } else { 'e' };
            let (d, mut prec) = if shortest {
                let d = Digits::shortest(v);
                let n = d.d.len() as i32;
                (d, n)
            } else {
                let prec = prec.max(1);
                (Digits::significant(v, prec as usize), prec)
            };
            let nd = d.d.len() as i32;
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(&mut out, neg, &d, (prec - 1).max(0) as usize, e);
            } else {
                if prec > d.dp {
                    prec = nd;
                }
                fmt_f(&mut out, neg, &d, (prec - d.dp).max(0) as usize);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_g_as_go() {
        for (v, want) in [
            (1234567.0, "1.234567e+06"),
            (0.00001234, "1.234e-05"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (1e21, "1e+21"),
            (1e20, "1e+20"),
            (100.0, "100"),
            (0.0, "0"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_float(v, 'g', -1), want, "{v}");
        }
    }

    #[test]
    fn precision_g_as_go() {
        for (v, want) in [
            (1.2345, "1.234"),
            (1234.5, "1234"),
            (12345.0, "1.234e+04"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1234567.0, "1.235e+06"),
            (1.235, "1.235"),
            (100.0, "100"),
            (1.5, "1.5"),
            (0.0, "0"),
            (999.95, "1000"),
            (9999.5, "1e+04"),
        ] {
            assert_eq!(format_float(v, 'g', 4), want, "{v}");
        }
    }

    #[test]
    fn e_f_b_x_as_go() {
        assert_eq!(format_float(1234.5678, 'e', 6), "1.234568e+03");
        assert_eq!(format_float(0.0, 'e', 2), "0.00e+00");
        assert_eq!(format_float(1e-100, 'E', 1), "1.0E-100");
        assert_eq!(format_float(1234.5678, 'e', -1), "1.2345678e+03");
        assert_eq!(format_float(3.14149, 'f', 2), "3.14");
        assert_eq!(format_float(-0.001, 'f', 1), "-0.0");
        assert_eq!(format_float(2.5, 'f', 0), "2");
        assert_eq!(format_float(1e6, 'f', -1), "1000000");
        assert_eq!(format_float(0.000123, 'f', -1), "0.000123");
        assert_eq!(format_float(1.0, 'b', -1), "4503599627370496p-52");
        assert_eq!(format_float(1.0, 'x', -1), "0x1p+00");
        assert_eq!(format_float(3.0, 'x', -1), "0x1.8p+01");
        assert_eq!(format_float(-0.5, 'X', 2), "-0X1.00P-01");
    }
}
