//! `strata import` and `strata inspect` as a user runs them, against the real S3 server.

use std::io::Write;
use std::process::{Command, Output};

use crate::s3;

fn strata(store: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
    cmd.arg("--store").arg(store).args(args);
    for (k, v) in s3::env() {
        cmd.env(k, v);
    }
    cmd.output().expect("run strata")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write_file(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(body.as_bytes()).unwrap();
    path.display().to_string()
}

#[test]
fn import_then_inspect_round_trips_values_and_ages() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        &dir,
        "backfill.om",
        "# TYPE temp gauge\n\
         temp{site=\"a\",empty=\"\"} 21.5 0\n\
         temp{site=\"a\"} -0 86400\n\
         temp{site=\"a\"} NaN 946684800.5\n\
         temp{site=\"a\"} +Inf 1700000000.123\n\
         temp{site=\"a\"} -Inf 4102444800\n\
         temp{site=\"b\"} 1e-3 1700000000\n\
         # EOF\n",
    );
    let store = s3::fresh_url();
    let out = strata(&store, &["import", "--quiet", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout(&out);
    assert!(summary.contains("series        2"), "{summary}");
    assert!(summary.contains("samples       6"), "{summary}");
    assert!(
        summary.contains("1970-01-01T00:00:00.000Z .. 2100-01-01T00:00:00.000Z"),
        "{summary}"
    );

    let out = strata(&store, &["inspect", "--series", "temp{site=\"a\"}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = stdout(&out);
    let samples: Vec<&str> = dump
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        samples,
        vec![
            "0 21.5",
            "86400000 -0",
            "946684800500 NaN",
            "1700000000123 inf",
            "4102444800000 -inf"
        ]
    );
    assert!(
        dump.contains("# temp{site=\"a\"}"),
        "empty label dropped: {dump}"
    );

    let out = strata(&store, &["inspect"]);
    let listing = stdout(&out);
    assert!(listing.contains("total: 6 samples"), "{listing}");
}

#[test]
fn malformed_line_is_named_and_nothing_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_file(&dir, "good.prom", "up{job=\"a\"} 1 1000\n");
    let bad = write_file(
        &dir,
        "bad.prom",
        "up{job=\"a\"} 1 2000\nup{job=\"a\"} 2 3000\nup{job=\"a\" 3 4000\n",
    );
    let store = s3::fresh_url();
    assert!(
        strata(&store, &["import", "--quiet", &good])
            .status
            .success()
    );
    let out = strata(&store, &["import", "--quiet", &bad]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let listing = stdout(&strata(&store, &["inspect"]));
    assert!(
        listing.contains("total: 1 samples"),
        "only the good import is visible: {listing}"
    );
}

#[test]
fn import_cuts_blocks_by_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..(6 * 240) {
        // 6 hours at 15 s.
        body.push_str(&format!(
            "load{{host=\"h\"}} {} {}\n",
            i % 7,
            1_600_000_000_000i64 + i * 15_000
        ));
    }
    let file = write_file(&dir, "six-hours.prom", &body);
    let store = s3::fresh_url();
    let out = strata(
        &store,
        &["import", "--quiet", "--block-duration", "2h", &file],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout(&out);
    // 1600000000000 is 16:26:40 UTC: the data spans four 2h windows.
    assert!(summary.contains("blocks        4"), "{summary}");
    assert!(summary.contains("samples       1440"), "{summary}");
}

#[test]
fn query_evaluates_promql_over_imported_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..=20 {
        // Two counters scraped every 15s for 5 minutes, from t = 1000s.
        let t = 1_000_000 + i * 15_000;
        body.push_str(&format!("req_total{{job=\"a\"}} {} {t}\n", i * 30));
        body.push_str(&format!("req_total{{job=\"b\"}} {} {t}\n", i * 15));
    }
    let file = write_file(&dir, "counters.prom", &body);
    let store = s3::fresh_url();
    assert!(
        strata(&store, &["import", "--quiet", &file])
            .status
            .success()
    );

    let out = strata(
        &store,
        &["query", "--time", "1300", "sum(rate(req_total[5m]))"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    // 2/s + 1/s: the samples span the whole window, so extrapolation adds nothing.
    let value: f64 = text
        .strip_prefix("{} => ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {text}"));
    assert!((value - 3.0).abs() < 1e-9, "{text}");

    let out = strata(
        &store,
        &[
            "query",
            "--start",
            "1100",
            "--end",
            "1300",
            "--step",
            "100s",
            "req_total{job=\"b\"}",
        ],
    );
    let text = stdout(&out);
    assert!(text.contains("req_total{job=\"b\"} =>"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("  ")).count(),
        3,
        "{text}"
    );

    let out = strata(
        &store,
        &["query", "--explain", "sum by (job) (rate(req_total[5m]))"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("Aggregate")
            && text.contains("RangeFunction")
            && text.contains("MatrixSelect"),
        "{text}"
    );

    let out = strata(&store, &["query", "sum(rate(req_total[5m])"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("parse error"), "{stderr}");
}

/// `strata inspect … | head`: the reader goes away, strata ends quietly as a Go program on
/// SIGPIPE would (status 141), with nothing on stderr.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store").display().to_string();
    let mut body = String::from("# TYPE m gauge\n");
    for i in 0..50_000 {
        body.push_str(&format!("m{{k=\"v\"}} {i} {}\n", 1_700_000_000 + i));
    }
    body.push_str("# EOF\n");
    let file = write_file(&dir, "m.om", &body);
    let out = strata(&store, &["import", "--quiet", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["--store", &store, "inspect", "--series", "m"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = BufReader::new(stdout).lines().next();
    assert!(first.is_some_and(|l| l.is_ok()));
    // The reader is dropped here: strata's next writes hit a closed pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(out.status.code(), Some(141));
}
