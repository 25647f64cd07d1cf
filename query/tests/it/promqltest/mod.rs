//! Prometheus' PromQL test language (`../shared/promqltest/FORMAT.md`): parsing `.test` files.
//! The conformance runner drives the engine with the commands parsed here.

pub(crate) mod parse;
pub(crate) mod series;

use std::path::PathBuf;

/// The `.test` directory: `PROMQLTEST_DIR`, else the shared corpus beside the repository.
pub(crate) fn corpus_dir() -> PathBuf {
    match std::env::var_os("PROMQLTEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/promqltest"),
    }
}
