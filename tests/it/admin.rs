//! Deletion end to end: Prometheus' admin API on `strata serve` and `strata delete`, against
//! the real S3 server. Deleted data disappears from queries and the series API at the commit,
//! `clean_tombstones` removes it from the blocks, and the answers stay the same after.

use serde_json::Value;

use crate::api::{T0, get, import, post_form, start_server_with};
use crate::s3;

async fn count(api: &str, selector: &str) -> f64 {
    // Every sample of the 2h dataset: the range (T0 - 1s, T0 + 2h] holds all 480.
    let q = format!("count_over_time({selector}[7201s])");
    let at = (T0 + 7200).to_string();
    let (code, body) = post_form(&format!("{api}/query"), &[("query", &q), ("time", &at)]).await;
    assert_eq!(code, 200, "{body}");
    body["data"]["result"]
        .as_array()
        .and_then(|r| r.first())
        .map_or(0.0, crate::scrape::value)
}

async fn instances(api: &str) -> Vec<String> {
    let (code, body) = get(&format!(
        "{api}/series?match[]=req_total&start={T0}&end={}",
        T0 + 7200
    ))
    .await;
    assert_eq!(code, 200, "{body}");
    let mut out: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instance"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

fn error_type(body: &Value) -> &str {
    body["errorType"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_series_hides_at_once_and_clean_tombstones_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    import(&store, &dir);

    // Off by default, as in Prometheus.
    let server = start_server_with(&store, &["--no-compact"]);
    let api = format!("{}/api/v1", server.url);
    let (code, body) = post_form(
        &format!("{api}/admin/tsdb/delete_series"),
        &[("match[]", "req_total")],
    )
    .await;
    assert_eq!((code, error_type(&body)), (503, "unavailable"), "{body}");
    drop(server);

    let server = start_server_with(&store, &["--no-compact", "--web.enable-admin-api"]);
    let api = format!("{}/api/v1", server.url);
    let delete = format!("{api}/admin/tsdb/delete_series");
    // Bad requests are refused in Prometheus' shape and commit nothing.
    for form in [
        vec![],
        vec![("match[]", "req_total{")],
        vec![("match[]", "req_total"), ("start", "20"), ("end", "10")],
    ] {
        let (code, body) = post_form(&delete, &form).await;
        assert_eq!(
            (code, error_type(&body)),
            (400, "bad_data"),
            "{form:?}: {body}"
        );
    }
    assert_eq!(count(&api, r#"req_total{instance="a:1"}"#).await, 480.0);

    // Half an hour of one series, inclusive at both ends: samples 120..=240 of 480.
    let (s, e) = ((T0 + 1800).to_string(), (T0 + 3600).to_string());
    let (code, body) = post_form(
        &delete,
        &[
            ("match[]", r#"req_total{instance="a:1"}"#),
            ("start", &s),
            ("end", &e),
        ],
    )
    .await;
    assert_eq!(code, 204, "{body}");
    // A whole series, no range: all of time.
    let (code, body) = post_form(&delete, &[("match[]", r#"{job="db"}"#)]).await;
    assert_eq!(code, 204, "{body}");

    assert_eq!(count(&api, r#"req_total{instance="a:1"}"#).await, 359.0);
    assert_eq!(count(&api, r#"req_total{instance="b:1"}"#).await, 480.0);
    assert_eq!(count(&api, r#"req_total{instance="c:1"}"#).await, 0.0);
    assert_eq!(instances(&api).await, ["a:1", "b:1"]);

    // Now physically: the blocks are rewritten and the requests retired; answers unchanged.
    let manifest = strata_storage::Manifest::new(s3::open(&store), "test");
    let before = manifest.snapshot().await.unwrap();
    assert_eq!(before.deletes().count(), 2);
    let (code, body) = post_form(&format!("{api}/admin/tsdb/clean_tombstones"), &[]).await;
    assert_eq!(code, 204, "{body}");
    let after = manifest.snapshot().await.unwrap();
    assert_eq!(after.deletes().count(), 0, "requests retired");
    assert!(
        after.blocks().all(|b| before.block(&b.id).is_none()),
        "every block was rewritten"
    );
    assert!(after.blocks().all(|b| after.deletes_for(b).is_empty()));
    assert_eq!(count(&api, r#"req_total{instance="a:1"}"#).await, 359.0);
    assert_eq!(count(&api, r#"req_total{instance="b:1"}"#).await, 480.0);
    assert_eq!(count(&api, r#"req_total{instance="c:1"}"#).await, 0.0);
    assert_eq!(instances(&api).await, ["a:1", "b:1"]);
    let samples: u64 = after.blocks().map(|b| b.samples).sum();
    let was: u64 = before.blocks().map(|b| b.samples).sum();
    // 121 samples of a:1, 480 of each of c:1's series (req_total only: the db job).
    assert_eq!(
        was - samples,
        121 + 480,
        "deleted samples are gone from the blocks"
    );
}

#[test]
fn strata_delete_commits_a_request_and_cleans_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let store = s3::fresh_url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    import(&store, &dir);
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.arg("--store").arg(&store).args(args);
        for (k, v) in s3::env() {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let bad = run(&["delete", "--match", "up{"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: invalid --match"), "{err}");

    let out = run(&[
        "delete",
        "--match",
        r#"temp_celsius{site="x"}"#,
        "--start",
        &T0.to_string(),
        "--end",
        &(T0 + 3600 - 1).to_string(),
        "--clean-tombstones",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("deletion request committed"), "{stdout}");
    assert!(stdout.contains("cleaned: rewrites=1 failed=0"), "{stdout}");
    let snapshot = rt
        .block_on(strata_storage::Manifest::new(s3::open(&store), "t").snapshot())
        .unwrap();
    assert_eq!(snapshot.deletes().count(), 0);
    let q = run(&[
        "query",
        "--time",
        &(T0 + 7200).to_string(),
        "count_over_time(temp_celsius[7201s])",
    ]);
    let q = String::from_utf8_lossy(&q.stdout);
    assert!(q.contains("240"), "the second hour is left: {q}");
}
