//! Integration tests of the PromQL parser: the `promql_parse` fuzz target's seeds and the
//! crashes its CI runs found (`fuzz/seeds/promql_parse`), replayed with the target's own
//! check (`fuzz/common/promql_parse.rs`) on every test run.

#[path = "../../../fuzz/common/promql_parse.rs"]
mod check;

#[test]
fn fuzz_seeds_print_as_queries_that_parse_the_same() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/promql_parse");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "{} seeds in {dir:?}", inputs.len());
    for path in inputs {
        check::run(&std::fs::read(&path).unwrap());
    }
}
