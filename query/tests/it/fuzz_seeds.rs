//! The `promql` fuzz target's inputs replayed through the engine on every test run: its seeds
//! and the regressions its long runs found (`fuzz/seeds/promql`), with the target's own
//! world and checks (`fuzz/common/promql.rs`). The coverage-guided run itself needs the
//! engine built with coverage instrumentation (over 20 minutes on two cores), so CI fuzzes
//! the parser alone (`promql_parse`) and replays these here.

#[path = "../../../fuzz/common/promql.rs"]
mod world;

#[test]
fn promql_fuzz_seeds_answer_or_fail_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/promql");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 20, "{} seeds in {dir:?}", inputs.len());
    for path in inputs {
        let data = std::fs::read(&path).unwrap();
        world::run(&data);
    }
}
