//! Basic authentication and response headers: a request without valid credentials gets
//! `401 Unauthorized` with `WWW-Authenticate: Basic`, as exporter-toolkit answers; an unknown
//! user costs the same bcrypt check as a known one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::WebConfigFile;

/// A bcrypt hash no password matches, checked for unknown users so that their answer takes
/// as long as a wrong password's.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

pub(super) async fn check(
    State(web): State<Arc<WebConfigFile>>,
    request: Request,
    next: Next,
) -> Response {
    let config = web.current();
    let mut response = if config.basic_auth_users.is_empty()
        || authorized(&web, &config.basic_auth_users, request.headers()).await
    {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic")],
            "Unauthorized\n",
        )
            .into_response()
    };
    for (name, value) in &config.http_server_config.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

async fn authorized(
    web: &WebConfigFile,
    users: &std::collections::BTreeMap<String, String>,
    headers: &HeaderMap,
) -> bool {
    let Some((user, password)) = credentials(headers) else {
        return false;
    };
    let (hash, known) = match users.get(&user) {
        Some(h) => (h.clone(), true),
        None => (DUMMY_HASH.to_string(), false),
    };
    let key: [u8; 32] = Sha256::digest(format!("{user}\0{hash}\0{password}")).into();
    if known && web.verified.lock().is_ok_and(|v| v.contains(&key)) {
        return true;
    }
    let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
        && known;
    if ok && let Ok(mut v) = web.verified.lock() {
        if v.len() > 10_000 {
            v.clear();
        }
        v.insert(key);
    }
    ok
}

/// User and password of a `Basic` authorization header.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials() {
        let mut h = HeaderMap::new();
        assert_eq!(credentials(&h), None);
        h.insert(
            header::AUTHORIZATION,
            "Basic YWxpY2U6czNjcjp0".parse().unwrap(),
        );
        assert_eq!(credentials(&h), Some(("alice".into(), "s3cr:t".into())));
        h.insert(
            header::AUTHORIZATION,
            "Bearer YWxpY2U6czNjcjp0".parse().unwrap(),
        );
        assert_eq!(credentials(&h), None);
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(credentials(&h), None);
    }

    #[test]
    fn the_dummy_hash_is_a_valid_bcrypt_hash() {
        assert_eq!(bcrypt::verify("anything", DUMMY_HASH).ok(), Some(false));
    }
}
