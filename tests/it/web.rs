//! `--web.config.file` end to end: `strata serve` behind TLS and basic authentication (the
//! exporter-toolkit file Prometheus reads), with a certificate made by the real `openssl`, a
//! client that trusts it, and the real Prometheus remote-writing to Strata over HTTPS with
//! `basic_auth` and `tls_config` — the setup of a Strata reachable beyond loopback.

use std::process::Command;
use std::time::Duration;

use crate::api::{start_prometheus_writing_to, start_strata};
use crate::scrape::{value, wait_for_with};

/// A CA and a server certificate for 127.0.0.1, made with openssl in `dir`.
fn certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=strata-test-ca",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_basic_auth_with_the_real_prometheus_writing() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let hash = bcrypt::hash("s3cret", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    std::fs::write(
        dir.path().join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  alice: {hash}\n"
        ),
    )
    .unwrap();
    let store = dir.path().join("store").display().to_string();
    let web = dir.path().join("web.yml").display().to_string();
    let strata = start_strata(
        &store,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--web.config.file",
            &web,
        ],
    );
    assert!(strata.url.starts_with("https://"), "{}", strata.url);
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(dir.path().join("ca.crt")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let url = format!("{}/api/v1/query?query=vector(1)", strata.url);
    // No credentials, a wrong password, an unknown user: 401 with a Basic challenge.
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic");
    assert_eq!(r.headers()["x-frame-options"], "deny");
    for (user, password) in [("alice", "guess"), ("mallory", "s3cret")] {
        let r = client
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}");
    }
    let r = client
        .get(&url)
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "deny");
    // Plain HTTP to the TLS listener gets no answer.
    let plain = strata.url.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/-/healthy")).await.is_err());
    // A client that does not trust the CA is refused at the handshake.
    assert!(
        reqwest::get(format!("{}/-/healthy", strata.url))
            .await
            .is_err()
    );

    // The real Prometheus remote-writes its own series over HTTPS with basic_auth.
    let _prometheus = start_prometheus_writing_to(
        &strata.url,
        dir.path(),
        &format!(
            "    basic_auth: {{username: alice, password: s3cret}}\n    tls_config: {{ca_file: {}}}\n",
            dir.path().join("ca.crt").display()
        ),
    );
    let result = wait_for_with(
        &client,
        Some(("alice", "s3cret")),
        &strata.url,
        "count(up{job=\"self\"})",
        Duration::from_secs(90),
        |r| r.len() == 1,
    )
    .await;
    assert_eq!(value(&result[0]), 1.0);
}
