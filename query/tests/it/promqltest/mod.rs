//! Prometheus' PromQL test language (`../shared/promqltest/FORMAT.md`): parsing `.test` files.
//! The conformance runner drives the engine with the commands parsed here.

pub(crate) mod parse;
pub(crate) use strata_promql::series;

use std::path::PathBuf;

/// The `.test` directory: `PROMQLTEST_DIR`, else the shared corpus beside the repository.
pub(crate) fn corpus_dir() -> PathBuf {
    match std::env::var_os("PROMQLTEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/promqltest"),
    }
}

pub(crate) mod runner;

use std::io::Write;

/// Float evals of the shared corpus that must keep passing; raise it as the engine improves.
const BASELINE: &str = include_str!("baseline.txt");

/// The conformance run: every `.test` file through storage and the engine. Prints per-file
/// counts (on stderr, uncaptured) and fails when the float pass count drops below the baseline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_conformance() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let mut total = runner::Counts::default();
    let mut report = String::new();
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let counts = match parse::parse_file(&text) {
            Ok(commands) => {
                let mut file_failures = Vec::new();
                let c = runner::run_file(&commands, &mut file_failures).await;
                failures.extend(file_failures.into_iter().map(|f| format!("{name} {f}")));
                c
            }
            Err(e) => {
                failures.push(format!("{name}: does not parse: {e}"));
                runner::Counts::default()
            }
        };
        report.push_str(&format!(
            "promqltest {name:<28} {:>4} passed, {:>4} failed   (native histograms: {} passed, {} failed)\n",
            counts.passed, counts.failed, counts.nh_passed, counts.nh_failed
        ));
        total += counts;
    }
    report.push_str(&format!(
        "promqltest total (float evals)  {:>4} passed, {:>4} failed   (native histograms: {} passed, {} failed)\n",
        total.passed, total.failed, total.nh_passed, total.nh_failed
    ));
    if let Ok(path) = std::env::var("PROMQLTEST_FAILURES") {
        std::fs::write(path, failures.join("\n")).unwrap();
    }
    // Written straight to stderr so that it shows even when the test passes.
    let _ = std::io::stderr().write_all(report.as_bytes());
    if std::env::var_os("PROMQLTEST_DIR").is_none() {
        let baseline: usize = BASELINE.trim().parse().unwrap();
        assert!(
            total.passed >= baseline,
            "float evals passing dropped to {} (baseline {baseline})",
            total.passed
        );
    }
}
