//! The PromQL parser and type checker on arbitrary text (`strata-promql` alone, so it builds
//! in CI in a minute where the full `promql` target needs the query engine): every input
//! parses or is refused with an error, and what parses prints as a query that parses again
//! and prints the same; `pretty` never panics (`common/promql_parse.rs`).
#![no_main]

#[path = "../common/promql_parse.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
