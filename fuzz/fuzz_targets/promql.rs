//! PromQL end to end on arbitrary text: parse, type-check, plan and evaluate over a small
//! store, as an instant query and as a range query (`common/promql.rs`). Every input must end
//! in an answer or in an error a client gets as 400/422/499/503 (bad query, unsupported, too
//! many samples, timeout); a panic, a storage or internal error, or a query running past
//! libFuzzer's `-timeout` is a finding. Needs the engine: `cargo fuzz run --features engine
//! promql`.
#![no_main]

#[path = "../common/promql.rs"]
mod world;

libfuzzer_sys::fuzz_target!(|data: &[u8]| world::run(data));
