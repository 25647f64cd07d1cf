//! The `promql_parse` fuzz target's check, shared with `promql/tests/it` (which replays the
//! target's seeds and the crashes CI found): every input parses or is refused with an error,
//! and what parses prints (`Display`, Prometheus' `String()`) as a query that parses again and
//! prints the same; the multi-line form (`pretty`, `/api/v1/format_query`) never panics.

use strata_promql::{parse, pretty};

pub(crate) fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(text) else {
        return;
    };
    let printed = expr.to_string();
    let again = parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(again.to_string(), printed, "{text:?}");
    let _ = pretty(&expr);
}
