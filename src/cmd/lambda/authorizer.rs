//! The `authorizer` role: an API Gateway HTTP API REQUEST authorizer (payload 2.0, simple
//! responses). It answers `{"isAuthorized": true}` when the request's `Authorization`
//! header is `Bearer <token>` and the token's SHA-256 is the configured one, so that
//! Prometheus' `remote_write` (`authorization: {credentials: …}`), Grafana and promtool can
//! call the gateway; the token itself is never stored in the function's configuration.

use std::time::Instant;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Args, Role, log_init};
use crate::cmd::CliResult;

pub(super) async fn run(args: &Args, started: Instant) -> CliResult {
    let Some(expected) = args.token_sha256.as_deref() else {
        return Err("STRATA_BEARER_TOKEN_SHA256 is not set".into());
    };
    let expected = expected.trim().to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("STRATA_BEARER_TOKEN_SHA256 must be 64 hexadecimal digits".into());
    }
    log_init(Role::Authorizer, started);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let allowed = authorized(&event.payload, &expected);
        async move { Ok::<_, lambda_runtime::Error>(json!({ "isAuthorized": allowed })) }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(|e| e.to_string().into())
}

/// Whether the event's bearer token hashes to `expected` (lowercase hex).
fn authorized(event: &Value, expected: &str) -> bool {
    // HTTP APIs pass header names in lower case; the identity source is the same header.
    let header = event["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, v)| v.as_str())
        })
        .or_else(|| event["identitySource"][0].as_str());
    let Some(header) = header else {
        return false;
    };
    let Some((scheme, token)) = header.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return false;
    }
    let digest = Sha256::digest(token.trim().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    // Compared without an early exit.
    hex.len() == expected.len()
        && hex
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        // sha256("s3cret")
        let expected = "a4d6e7a4b5b4ae3c5b5b2b1e7c1f7e0d3d4b0c1e2e3f4a5b6c7d8e9f0a1b2c3d";
        let real: String = Sha256::digest(b"s3cret")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut event: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/lambda/apigw-v2-authorizer-request.json"
        ))
        .unwrap();
        assert!(!authorized(&event, &real), "no Authorization header");
        event["headers"]["authorization"] = json!("Bearer s3cret");
        assert!(authorized(&event, &real));
        assert!(!authorized(&event, expected), "another token's hash");
        event["headers"]["authorization"] = json!("bearer  s3cret ");
        assert!(authorized(&event, &real), "scheme case and spaces");
        for bad in [
            "Basic s3cret",
            "Bearer",
            "Bearer ",
            "s3cret",
            "Bearer s3cret2",
        ] {
            event["headers"]["authorization"] = json!(bad);
            assert!(!authorized(&event, &real), "{bad}");
        }
        // The identity source when no header is passed.
        let only_identity = json!({"identitySource": ["Bearer s3cret"]});
        assert!(authorized(&only_identity, &real));
    }
}
