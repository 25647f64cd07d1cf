//! The start-up check of conditional writes, against the real S3 server.

use strata_storage::{StorageError, Store};

use crate::faulty::{Fault, Faulty};
use crate::s3;

#[tokio::test]
async fn s3_server_with_atomic_conditional_writes_is_accepted() {
    s3::fresh_store().check_conditional_writes().await.unwrap();
}

async fn refusal(fault: Fault) -> String {
    let inner = s3::fresh_store().object_store().clone();
    let store = Store::from_object_store(Faulty::wrap(inner, fault), "faulty-s3");
    match store.check_conditional_writes().await {
        Err(e @ StorageError::UnsafeStore { .. }) => e.to_string(),
        other => panic!("{fault:?}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn store_ignoring_if_none_match_is_refused() {
    let msg = refusal(Fault::IgnoreConditions).await;
    assert!(msg.contains("ignores conditional writes"), "{msg}");
}

#[tokio::test]
async fn store_with_racy_conditional_writes_is_refused() {
    let msg = refusal(Fault::CheckThenPut).await;
    assert!(msg.contains("not atomic"), "{msg}");
}

#[test]
fn cli_reports_a_bad_store_in_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["--store", "gcs://bucket", "gc"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: invalid store URL"), "{stderr}");
}
