//! Query integration tests, one binary: the PromQL test-language parser over the shared corpus,
//! and the PromQL fuzz target's seeds and regressions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // failed set-up fails the test

mod fuzz_seeds;
mod promqltest;
