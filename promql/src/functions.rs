//! The PromQL function table: one entry per function of Prometheus 3.x, mirroring Prometheus'
//! `promql/parser/functions.go` (`Functions`: name, `ArgTypes`, `Variadic`, `ReturnType`,
//! `Experimental`). It is the single table read by the parser (is a name a function at all),
//! the type checker (argument counts and types, with the messages of `checkAST` in
//! `promql/parser/parse.go`) and the planner (a call's result type).
//!
//! `Variadic` works as upstream: `0` means exactly `args.len()` arguments; otherwise the last
//! declared argument is optional, and `n > 0` allows up to `n` arguments beyond the
//! non-optional ones (`hour(v)`: 0 or 1; `round(v, to)`: 1 or 2; `histogram_quantiles`: 3 to
//! 12), while `-1` allows any number (`label_join`: 3 or more; `sort_by_label`: 1 or more).
//! Arguments past the declared ones have the last declared argument's type.
//!
//! `start()`, `end()`, `range()`, `step()`, `min_of()` and `max_of()` are upstream functions
//! too (experimental, scalar-valued); Strata's parser also reads them inside duration
//! expressions (`foo[step() * 2]`, `offset min_of(range(), 1h)`, `@ start()`), where they are
//! [`DurationExpr`](super::ast::DurationExpr) nodes rather than calls.
//!
//! Names the planner accepts that are not here, so that the parser rejects them as Prometheus 3
//! does (`unknown function with name "…"`):
//! - `holt_winters`: the Prometheus 2 name of `double_exponential_smoothing`, removed in 3.0.
//!
//! `limitk` and `limit_ratio` are aggregations, not functions.

use super::ast::ValueType;

use self::ArgType::{InstantVector, RangeVector, Scalar, String as Str};

/// The type of a function argument or result (Prometheus' `ValueType`, without `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgType {
    Scalar,
    InstantVector,
    RangeVector,
    String,
}

impl ArgType {
    /// Prometheus' name for the type in messages (`DocumentedType`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::InstantVector => "instant vector",
            Self::RangeVector => "range vector",
            Self::String => "string",
        }
    }
}

impl From<ValueType> for ArgType {
    fn from(t: ValueType) -> Self {
        match t {
            ValueType::Scalar => Self::Scalar,
            ValueType::Vector => Self::InstantVector,
            ValueType::Matrix => Self::RangeVector,
            ValueType::String => Self::String,
        }
    }
}

impl From<ArgType> for ValueType {
    fn from(t: ArgType) -> Self {
        match t {
            Scalar => Self::Scalar,
            InstantVector => Self::Vector,
            RangeVector => Self::Matrix,
            Str => Self::String,
        }
    }
}

/// A PromQL function (Prometheus' `parser.Function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Function {
    pub(crate) name: &'static str,
    /// The declared argument types (`ArgTypes`).
    pub(crate) args: &'static [ArgType],
    /// `0`: exactly `args.len()` arguments; `n > 0`: `args.len() - 1` to `args.len() - 1 + n`;
    /// `-1`: at least `args.len() - 1`.
    pub(crate) variadic: i32,
    pub(crate) returns: ArgType,
    /// Upstream needs `--enable-feature=promql-experimental-functions` for it.
    #[allow(dead_code)]
    pub(crate) experimental: bool,
}

const fn f(
    name: &'static str,
    args: &'static [ArgType],
    variadic: i32,
    returns: ArgType,
    experimental: bool,
) -> Function {
    Function {
        name,
        args,
        variadic,
        returns,
        experimental,
    }
}

/// Every PromQL function, sorted by name (byte order) for [`lookup`]: name, argument types,
/// variadic, return type, experimental.
#[rustfmt::skip]
pub(crate) static FUNCTIONS: &[Function] = &[
    f("abs", &[InstantVector], 0, InstantVector, false),
    f("absent", &[InstantVector], 0, InstantVector, false),
    f("absent_over_time", &[RangeVector], 0, InstantVector, false),
    f("acos", &[InstantVector], 0, InstantVector, false),
    f("acosh", &[InstantVector], 0, InstantVector, false),
    f("asin", &[InstantVector], 0, InstantVector, false),
    f("asinh", &[InstantVector], 0, InstantVector, false),
    f("atan", &[InstantVector], 0, InstantVector, false),
    f("atanh", &[InstantVector], 0, InstantVector, false),
    f("avg_over_time", &[RangeVector], 0, InstantVector, false),
    f("ceil", &[InstantVector], 0, InstantVector, false),
    f("changes", &[RangeVector], 0, InstantVector, false),
    f("clamp", &[InstantVector, Scalar, Scalar], 0, InstantVector, false),
    f("clamp_max", &[InstantVector, Scalar], 0, InstantVector, false),
    f("clamp_min", &[InstantVector, Scalar], 0, InstantVector, false),
    f("cos", &[InstantVector], 0, InstantVector, false),
    f("cosh", &[InstantVector], 0, InstantVector, false),
    f("count_over_time", &[RangeVector], 0, InstantVector, false),
    f("day_of_month", &[InstantVector], 1, InstantVector, false),
    f("day_of_week", &[InstantVector], 1, InstantVector, false),
    f("day_of_year", &[InstantVector], 1, InstantVector, false),
    f("days_in_month", &[InstantVector], 1, InstantVector, false),
    f("deg", &[InstantVector], 0, InstantVector, false),
    f("delta", &[RangeVector], 0, InstantVector, false),
    f("deriv", &[RangeVector], 0, InstantVector, false),
    f("double_exponential_smoothing", &[RangeVector, Scalar, Scalar], 0, InstantVector, true),
    f("end", &[], 0, Scalar, true),
    f("exp", &[InstantVector], 0, InstantVector, false),
    f("first_over_time", &[RangeVector], 0, InstantVector, false),
    f("floor", &[InstantVector], 0, InstantVector, false),
    f("histogram_avg", &[InstantVector], 0, InstantVector, false),
    f("histogram_count", &[InstantVector], 0, InstantVector, false),
    f("histogram_fraction", &[Scalar, Scalar, InstantVector], 0, InstantVector, false),
    f("histogram_quantile", &[Scalar, InstantVector], 0, InstantVector, false),
    f("histogram_quantiles", &[InstantVector, Str, Scalar, Scalar], 9, InstantVector, true),
    f("histogram_stddev", &[InstantVector], 0, InstantVector, false),
    f("histogram_stdvar", &[InstantVector], 0, InstantVector, false),
    f("histogram_sum", &[InstantVector], 0, InstantVector, false),
    f("hour", &[InstantVector], 1, InstantVector, false),
    f("idelta", &[RangeVector], 0, InstantVector, false),
    f("increase", &[RangeVector], 0, InstantVector, false),
    f("info", &[InstantVector, InstantVector], 1, InstantVector, true),
    f("irate", &[RangeVector], 0, InstantVector, false),
    f("label_join", &[InstantVector, Str, Str, Str], -1, InstantVector, false),
    f("label_replace", &[InstantVector, Str, Str, Str, Str], 0, InstantVector, false),
    f("last_over_time", &[RangeVector], 0, InstantVector, false),
    f("ln", &[InstantVector], 0, InstantVector, false),
    f("log10", &[InstantVector], 0, InstantVector, false),
    f("log2", &[InstantVector], 0, InstantVector, false),
    f("mad_over_time", &[RangeVector], 0, InstantVector, true),
    f("max_of", &[Scalar, Scalar], 0, Scalar, true),
    f("max_over_time", &[RangeVector], 0, InstantVector, false),
    f("min_of", &[Scalar, Scalar], 0, Scalar, true),
    f("min_over_time", &[RangeVector], 0, InstantVector, false),
    f("minute", &[InstantVector], 1, InstantVector, false),
    f("month", &[InstantVector], 1, InstantVector, false),
    f("pi", &[], 0, Scalar, false),
    f("predict_linear", &[RangeVector, Scalar], 0, InstantVector, false),
    f("present_over_time", &[RangeVector], 0, InstantVector, false),
    f("quantile_over_time", &[Scalar, RangeVector], 0, InstantVector, false),
    f("rad", &[InstantVector], 0, InstantVector, false),
    f("range", &[], 0, Scalar, true),
    f("rate", &[RangeVector], 0, InstantVector, false),
    f("resets", &[RangeVector], 0, InstantVector, false),
    f("round", &[InstantVector, Scalar], 1, InstantVector, false),
    f("scalar", &[InstantVector], 0, Scalar, false),
    f("sgn", &[InstantVector], 0, InstantVector, false),
    f("sin", &[InstantVector], 0, InstantVector, false),
    f("sinh", &[InstantVector], 0, InstantVector, false),
    f("sort", &[InstantVector], 0, InstantVector, false),
    f("sort_by_label", &[InstantVector, Str], -1, InstantVector, true),
    f("sort_by_label_desc", &[InstantVector, Str], -1, InstantVector, true),
    f("sort_desc", &[InstantVector], 0, InstantVector, false),
    f("sqrt", &[InstantVector], 0, InstantVector, false),
    f("start", &[], 0, Scalar, true),
    f("start_timestamp", &[InstantVector], 0, InstantVector, true),
    f("stddev_over_time", &[RangeVector], 0, InstantVector, false),
    f("stdvar_over_time", &[RangeVector], 0, InstantVector, false),
    f("step", &[], 0, Scalar, true),
    f("sum_over_time", &[RangeVector], 0, InstantVector, false),
    f("tan", &[InstantVector], 0, InstantVector, false),
    f("tanh", &[InstantVector], 0, InstantVector, false),
    f("time", &[], 0, Scalar, false),
    f("timestamp", &[InstantVector], 0, InstantVector, false),
    f("ts_of_first_over_time", &[RangeVector], 0, InstantVector, true),
    f("ts_of_last_over_time", &[RangeVector], 0, InstantVector, true),
    f("ts_of_max_over_time", &[RangeVector], 0, InstantVector, true),
    f("ts_of_min_over_time", &[RangeVector], 0, InstantVector, true),
    f("vector", &[Scalar], 0, InstantVector, false),
    f("year", &[InstantVector], 1, InstantVector, false),
];

/// The function of that name; names are case-sensitive, as upstream.
pub(crate) fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .and_then(|i| FUNCTIONS.get(i))
}

/// Checks a call's argument count, with `checkAST`'s messages:
/// `expected 1 argument(s) in call to "abs", got 2`,
/// `expected at least 3 argument(s) in call to "label_join", got 2`,
/// `expected at most 1 argument(s) in call to "hour", got 3`.
pub(crate) fn check_arity(f: &Function, got: usize) -> Result<(), String> {
    let nargs = f.args.len();
    if f.variadic == 0 {
        if nargs != got {
            return Err(format!(
                "expected {nargs} argument(s) in call to \"{}\", got {got}",
                f.name
            ));
        }
        return Ok(());
    }
    // Upstream computes in Go ints: the last declared argument is optional.
    let (got_i, min) = (got as i64, nargs as i64 - 1);
    if min > got_i {
        return Err(format!(
            "expected at least {min} argument(s) in call to \"{}\", got {got}",
            f.name
        ));
    }
    let max = min + i64::from(f.variadic);
    if f.variadic > 0 && max < got_i {
        return Err(format!(
            "expected at most {max} argument(s) in call to \"{}\", got {got}",
            f.name
        ));
    }
    Ok(())
}

/// The type the argument at `index` must have: the declared one, or for variadic functions the
/// last declared one past the end. `None` past the end of a fixed-arity function (upstream
/// leaves those to the arity error).
pub(crate) fn expected_arg_type(f: &Function, index: usize) -> Option<ArgType> {
    match f.args.get(index) {
        Some(t) => Some(*t),
        None if f.variadic != 0 => f.args.last().copied(),
        None => None,
    }
}

/// Checks the type of the argument at `index`, with `checkAST`'s message:
/// `expected type range vector in call to function "rate", got instant vector`.
pub(crate) fn check_arg_type(f: &Function, index: usize, got: ArgType) -> Result<(), String> {
    match expected_arg_type(f, index) {
        Some(want) if want != got => Err(format!(
            "expected type {} in call to function \"{}\", got {}",
            want.name(),
            f.name,
            got.name()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, args, variadic, returns, experimental) as in upstream `functions.go`.
    #[rustfmt::skip]
    const UPSTREAM: &[(&str, &[ArgType], i32, ArgType, bool)] = &[
        ("abs", &[InstantVector], 0, InstantVector, false),
        ("absent", &[InstantVector], 0, InstantVector, false),
        ("absent_over_time", &[RangeVector], 0, InstantVector, false),
        ("clamp", &[InstantVector, Scalar, Scalar], 0, InstantVector, false),
        ("clamp_max", &[InstantVector, Scalar], 0, InstantVector, false),
        ("day_of_week", &[InstantVector], 1, InstantVector, false),
        ("days_in_month", &[InstantVector], 1, InstantVector, false),
        ("double_exponential_smoothing", &[RangeVector, Scalar, Scalar], 0, InstantVector, true),
        ("end", &[], 0, Scalar, true),
        ("first_over_time", &[RangeVector], 0, InstantVector, false),
        ("histogram_avg", &[InstantVector], 0, InstantVector, false),
        ("histogram_fraction", &[Scalar, Scalar, InstantVector], 0, InstantVector, false),
        ("histogram_quantile", &[Scalar, InstantVector], 0, InstantVector, false),
        ("histogram_quantiles", &[InstantVector, Str, Scalar, Scalar], 9, InstantVector, true),
        ("histogram_stddev", &[InstantVector], 0, InstantVector, false),
        ("hour", &[InstantVector], 1, InstantVector, false),
        ("info", &[InstantVector, InstantVector], 1, InstantVector, true),
        ("irate", &[RangeVector], 0, InstantVector, false),
        ("label_join", &[InstantVector, Str, Str, Str], -1, InstantVector, false),
        ("label_replace", &[InstantVector, Str, Str, Str, Str], 0, InstantVector, false),
        ("mad_over_time", &[RangeVector], 0, InstantVector, true),
        ("max_of", &[Scalar, Scalar], 0, Scalar, true),
        ("min_of", &[Scalar, Scalar], 0, Scalar, true),
        ("pi", &[], 0, Scalar, false),
        ("predict_linear", &[RangeVector, Scalar], 0, InstantVector, false),
        ("quantile_over_time", &[Scalar, RangeVector], 0, InstantVector, false),
        ("range", &[], 0, Scalar, true),
        ("rate", &[RangeVector], 0, InstantVector, false),
        ("round", &[InstantVector, Scalar], 1, InstantVector, false),
        ("scalar", &[InstantVector], 0, Scalar, false),
        ("sort_by_label", &[InstantVector, Str], -1, InstantVector, true),
        ("sort_by_label_desc", &[InstantVector, Str], -1, InstantVector, true),
        ("sort_desc", &[InstantVector], 0, InstantVector, false),
        ("start", &[], 0, Scalar, true),
        ("start_timestamp", &[InstantVector], 0, InstantVector, true),
        ("step", &[], 0, Scalar, true),
        ("time", &[], 0, Scalar, false),
        ("timestamp", &[InstantVector], 0, InstantVector, false),
        ("ts_of_first_over_time", &[RangeVector], 0, InstantVector, true),
        ("ts_of_last_over_time", &[RangeVector], 0, InstantVector, true),
        ("ts_of_max_over_time", &[RangeVector], 0, InstantVector, true),
        ("ts_of_min_over_time", &[RangeVector], 0, InstantVector, true),
        ("vector", &[Scalar], 0, InstantVector, false),
        ("year", &[InstantVector], 1, InstantVector, false),
    ];

    #[test]
    fn table_matches_upstream() {
        for &(name, args, variadic, returns, experimental) in UPSTREAM {
            let f = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(f.name, name);
            assert_eq!(f.args, args, "{name} args");
            assert_eq!(f.variadic, variadic, "{name} variadic");
            assert_eq!(f.returns, returns, "{name} returns");
            assert_eq!(f.experimental, experimental, "{name} experimental");
        }
    }

    #[test]
    fn table_is_sorted_complete_and_searchable() {
        // functions.go on Prometheus main has 90 entries.
        assert_eq!(FUNCTIONS.len(), 90);
        for w in FUNCTIONS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for f in FUNCTIONS {
            assert_eq!(lookup(f.name), Some(f));
            assert!(f.variadic >= -1);
            assert!(f.variadic == 0 || !f.args.is_empty(), "{}", f.name);
        }
        let one_instant_vector = "abs acos acosh asin asinh atan atanh ceil cos cosh deg exp floor \
            ln log10 log2 rad sgn sin sinh sqrt tan tanh histogram_count histogram_sum \
            histogram_stdvar sort";
        for name in one_instant_vector.split_whitespace() {
            let f = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((f.args, f.variadic), (&[InstantVector][..], 0), "{name}");
            assert_eq!(
                (f.returns, f.experimental),
                (InstantVector, false),
                "{name}"
            );
        }
        let over_time = "avg_over_time changes count_over_time delta deriv idelta increase \
            last_over_time max_over_time min_over_time present_over_time resets stddev_over_time \
            stdvar_over_time sum_over_time";
        for name in over_time.split_whitespace() {
            let f = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((f.args, f.variadic), (&[RangeVector][..], 0), "{name}");
            assert_eq!(
                (f.returns, f.experimental),
                (InstantVector, false),
                "{name}"
            );
        }
        for name in ["day_of_month", "day_of_year", "minute", "month"] {
            let f = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!((f.args, f.variadic), (&[InstantVector][..], 1), "{name}");
        }
    }

    #[test]
    fn non_functions_are_unknown() {
        assert_eq!(lookup(""), None);
        let names = "RATE Abs holt_winters limitk limit_ratio sum count_values rate_ zzz";
        for name in names.split_whitespace() {
            assert_eq!(lookup(name), None, "{name}");
        }
    }

    fn arity(name: &str, got: usize) -> Result<(), String> {
        check_arity(lookup(name).unwrap(), got)
    }

    #[test]
    fn arity_messages() {
        // Upstream parse_test.go.
        assert_eq!(
            arity("floor", 0).unwrap_err(),
            r#"expected 1 argument(s) in call to "floor", got 0"#
        );
        assert_eq!(
            arity("floor", 2).unwrap_err(),
            r#"expected 1 argument(s) in call to "floor", got 2"#
        );
        assert_eq!(
            arity("hour", 3).unwrap_err(),
            r#"expected at most 1 argument(s) in call to "hour", got 3"#
        );
        assert_eq!(
            arity("time", 1).unwrap_err(),
            r#"expected 0 argument(s) in call to "time", got 1"#
        );
        assert_eq!(
            arity("abs", 2).unwrap_err(),
            r#"expected 1 argument(s) in call to "abs", got 2"#
        );
        assert_eq!(
            arity("label_replace", 4).unwrap_err(),
            r#"expected 5 argument(s) in call to "label_replace", got 4"#
        );
        assert_eq!(
            arity("label_join", 2).unwrap_err(),
            r#"expected at least 3 argument(s) in call to "label_join", got 2"#
        );
        assert_eq!(
            arity("sort_by_label", 0).unwrap_err(),
            r#"expected at least 1 argument(s) in call to "sort_by_label", got 0"#
        );
        assert_eq!(
            arity("round", 0).unwrap_err(),
            r#"expected at least 1 argument(s) in call to "round", got 0"#
        );
        assert_eq!(
            arity("round", 3).unwrap_err(),
            r#"expected at most 2 argument(s) in call to "round", got 3"#
        );
        assert_eq!(
            arity("info", 3).unwrap_err(),
            r#"expected at most 2 argument(s) in call to "info", got 3"#
        );
        assert_eq!(
            arity("histogram_quantiles", 2).unwrap_err(),
            r#"expected at least 3 argument(s) in call to "histogram_quantiles", got 2"#
        );
        assert_eq!(
            arity("histogram_quantiles", 13).unwrap_err(),
            r#"expected at most 12 argument(s) in call to "histogram_quantiles", got 13"#
        );
    }

    #[test]
    fn arity_ranges() {
        // (name, fewest accepted, most accepted or None for unlimited)
        let cases: &[(&str, usize, Option<usize>)] = &[
            ("abs", 1, Some(1)),
            ("time", 0, Some(0)),
            ("pi", 0, Some(0)),
            ("step", 0, Some(0)),
            ("min_of", 2, Some(2)),
            ("clamp", 3, Some(3)),
            ("label_replace", 5, Some(5)),
            ("hour", 0, Some(1)),
            ("days_in_month", 0, Some(1)),
            ("round", 1, Some(2)),
            ("info", 1, Some(2)),
            ("histogram_quantiles", 3, Some(12)),
            ("label_join", 3, None),
            ("sort_by_label", 1, None),
            ("sort_by_label_desc", 1, None),
        ];
        for &(name, min, max) in cases {
            for got in 0..40 {
                let ok = got >= min && max.is_none_or(|m| got <= m);
                assert_eq!(arity(name, got).is_ok(), ok, "{name} with {got}");
            }
        }
    }

    #[test]
    fn arg_type_messages() {
        let check = |name: &str, i: usize, t: ArgType| check_arg_type(lookup(name).unwrap(), i, t);
        // Upstream parse_test.go.
        assert_eq!(
            check("rate", 0, InstantVector).unwrap_err(),
            r#"expected type range vector in call to function "rate", got instant vector"#
        );
        assert_eq!(
            check("floor", 0, Scalar).unwrap_err(),
            r#"expected type instant vector in call to function "floor", got scalar"#
        );
        assert_eq!(
            check("quantile_over_time", 0, Str).unwrap_err(),
            r#"expected type scalar in call to function "quantile_over_time", got string"#
        );
        assert_eq!(
            check("vector", 0, RangeVector).unwrap_err(),
            r#"expected type scalar in call to function "vector", got range vector"#
        );
        assert!(check("rate", 0, RangeVector).is_ok());
        assert!(check("histogram_quantile", 0, Scalar).is_ok());
        assert!(check("histogram_quantile", 1, InstantVector).is_ok());
        // Extra arguments of variadic functions take the last declared type.
        assert!(check("label_join", 7, Str).is_ok());
        assert_eq!(
            check("label_join", 7, Scalar).unwrap_err(),
            r#"expected type string in call to function "label_join", got scalar"#
        );
        assert!(check("sort_by_label", 3, Str).is_ok());
        assert!(check("histogram_quantiles", 11, Scalar).is_ok());
        assert_eq!(
            check("histogram_quantiles", 5, Str).unwrap_err(),
            r#"expected type scalar in call to function "histogram_quantiles", got string"#
        );
        assert_eq!(
            check("info", 1, Scalar).unwrap_err(),
            r#"expected type instant vector in call to function "info", got scalar"#
        );
        // Past the end of a fixed-arity function: left to the arity check.
        assert!(check("abs", 1, Str).is_ok());
        assert!(check("time", 0, Scalar).is_ok());
    }

    #[test]
    fn type_names_and_conversions() {
        assert_eq!(Scalar.name(), "scalar");
        assert_eq!(InstantVector.name(), "instant vector");
        assert_eq!(RangeVector.name(), "range vector");
        assert_eq!(Str.name(), "string");
        for t in [Scalar, InstantVector, RangeVector, Str] {
            assert_eq!(ArgType::from(ValueType::from(t)), t);
        }
    }
}
