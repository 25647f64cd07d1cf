//! `strata rules check` against the real `promtool check rules` (Debian's Prometheus 2.42) on
//! the files of `tests/rules/check`: the same exit status for every file, the same standard
//! output, and the same messages once promtool's YAML positions (`5:15: `) are taken out —
//! Strata's YAML reader has no node positions (YAML syntax errors are worded by each YAML
//! library and only compared by status).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn check_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/check");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// promtool's stderr lines without the file name and YAML positions.
fn messages(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|line| {
            let mut rest = line;
            if let Some((file, after)) = rest.split_once(".yml: ")
                && !file.contains(' ')
            {
                rest = after;
            }
            // `5:15: ` and `9:17: 8:16: ` prefixes.
            while let Some((pos, after)) = rest.split_once(": ") {
                let is_pos = pos.split(':').count() == 2
                    && pos
                        .split(':')
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if !is_pos {
                    break;
                }
                rest = after;
            }
            rest.to_string()
        })
        .collect()
}

#[test]
fn rules_check_answers_as_promtool() {
    let files = check_files();
    assert!(files.len() >= 8, "{files:?}");
    let dir = files[0].parent().unwrap().to_path_buf();
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let theirs = run("promtool", &["check", "rules", name], &dir);
        let ours = run(
            env!("CARGO_BIN_EXE_strata"),
            &["rules", "check", name],
            &dir,
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{name}: exit status\nours: {}\ntheirs: {}",
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{name}: stdout"
        );
        if name != "bad_yaml.yml" {
            assert_eq!(
                messages(&ours.stderr),
                messages(&theirs.stderr),
                "{name}: messages"
            );
        }
    }
    // Several files at once: each checked and reported, status 1 if any fails.
    let ours = run(
        env!("CARGO_BIN_EXE_strata"),
        &["rules", "check", "good.yml", "bad.yml"],
        &dir,
    );
    assert_eq!(ours.status.code(), Some(1));
    let out = String::from_utf8_lossy(&ours.stdout);
    assert!(
        out.contains("Checking good.yml\n  SUCCESS: 2 rules found"),
        "{out}"
    );
    assert!(out.contains("Checking bad.yml"), "{out}");
}

/// `strata rules test` against `promtool test rules` on the unit-test files of
/// `tests/rules/test` (`*_test.yml`): the same exit status, standard output and messages.
#[test]
fn rules_test_answers_as_promtool() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/test");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_test.yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for name in &files {
        let theirs = run("promtool", &["test", "rules", name], &dir);
        let ours = run(env!("CARGO_BIN_EXE_strata"), &["rules", "test", name], &dir);
        let text = |o: &Output| {
            (
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        };
        assert_eq!(
            (ours.status.code(), text(&ours)),
            (theirs.status.code(), text(&theirs)),
            "{name}: strata (left) and promtool (right) differ"
        );
    }
}

/// A minimal HTTP receiver for Alertmanager's webhook: every POSTed JSON body, in order.
async fn webhook_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() < head_end + 4 + length {
                        continue;
                    }
                    let body = &buf[head_end + 4..head_end + 4 + length];
                    if let Ok(v) = serde_json::from_slice(body) {
                        sink.lock().unwrap().push(v);
                    }
                    let _ = conn
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    buf.clear();
                }
            });
        }
    });
    (url, got)
}

/// A JSON answer of the API (status 200 required).
async fn get_ok(url: String) -> serde_json::Value {
    let (code, body) = crate::api::get(&url).await;
    assert_eq!(code, 200, "{url}: {body}");
    body
}

/// `strata serve --config` evaluates the configuration's rules and notifies the real
/// Alertmanager (Debian's 0.25, found through `file_sd_configs`): its webhook receiver gets the
/// alert firing, then resolved.
#[tokio::test(flavor = "multi_thread")]
async fn alerts_reach_the_real_alertmanager_firing_then_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, got) = webhook_receiver().await;
    let am_port = crate::api::free_port();
    std::fs::write(
        dir.path().join("am.yml"),
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let mut am = Command::new("prometheus-alertmanager")
        .arg(format!(
            "--config.file={}",
            dir.path().join("am.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("am-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start prometheus-alertmanager (Debian package prometheus-alertmanager)");
    // The alert is true for 4 s, starting 3 s from now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (from, to) = (now + 3, now + 7);
    std::fs::write(
        dir.path().join("rules.yml"),
        format!(
            "groups:\n  - name: e2e\n    rules:\n      - alert: Window\n        expr: vector(time()) > {from} and vector(time()) < {to}\n        labels:\n          severity: page\n        annotations:\n          summary: 'open at {{{{ $value }}}}'\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\n  external_labels: {cluster: test}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - file_sd_configs: [{files: [alertmanagers.yml]}]\n",
    )
    .unwrap();
    // The Alertmanager is discovered from a file next to the configuration.
    std::fs::write(
        dir.path().join("alertmanagers.yml"),
        format!("- targets: ['127.0.0.1:{am_port}']\n"),
    )
    .unwrap();
    let store = dir.path().join("store").display().to_string();
    let config = dir.path().join("prometheus.yml").display().to_string();
    let server = crate::api::start_strata(
        &store,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &config,
            "--flush-interval",
            "1s",
        ],
    );
    let started = std::time::Instant::now();
    let status_seen = |status: &str| {
        got.lock()
            .unwrap()
            .iter()
            .any(|v| v["status"] == status && v["alerts"][0]["labels"]["alertname"] == "Window")
    };
    let get = |path: &str| get_ok(format!("{}{path}", server.url));
    // The alert shows in the alerts API while it fires.
    let mut api_firing = false;
    while !status_seen("resolved") && started.elapsed() < std::time::Duration::from_secs(30) {
        let alerts = get("/api/v1/alerts").await;
        api_firing |= alerts["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["state"] == "firing"));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(api_firing, "/api/v1/alerts never showed the alert firing");
    let rules = get("/api/v1/rules").await;
    let rule = &rules["data"]["groups"][0]["rules"][0];
    assert_eq!(rule["name"], "Window", "{rules}");
    assert_eq!(rule["type"], "alerting");
    assert_eq!(rule["health"], "ok", "{rules}");
    assert_eq!(rules["data"]["groups"][0]["interval"], 1.0);
    let _ = am.kill();
    let _ = am.wait();
    let bodies = got.lock().unwrap().clone();
    assert!(status_seen("firing"), "no firing notification: {bodies:?}");
    assert!(status_seen("resolved"), "no resolution: {bodies:?}");
    let firing = bodies.iter().find(|v| v["status"] == "firing").unwrap();
    let alert = &firing["alerts"][0];
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(
        alert["labels"]["cluster"], "test",
        "external labels are added"
    );
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("open at 1"),
        "{alert}"
    );
    // The alert's series were written through the write path and are queryable.
    let (code, body) = crate::api::post_form(
        &format!("{}/api/v1/query", server.url),
        &[(
            "query",
            "count_over_time(ALERTS_FOR_STATE{alertname=\"Window\"}[1m])",
        )],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["result"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
}

/// `ALERTS_FOR_STATE{alertname="Pending"}` values in the store, oldest first.
fn for_state_values(store: &str) -> Vec<f64> {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "--store",
            store,
            "query",
            "ALERTS_FOR_STATE{alertname=\"Pending\"}[1m]",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .filter_map(|w| w.split('@').next()?.trim().parse::<f64>().ok())
        .filter(|v| *v > 1e9)
        .collect()
}

/// An evaluator killed while an alert is pending resumes its `for` where it stopped: the
/// restarted process restores the activation time from `ALERTS_FOR_STATE` (shifted by the
/// downtime, as Prometheus) instead of starting `for` again. A query tier of the same store
/// then serves the evaluator's rules and alerts from the state it left in the bucket.
#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_evaluator_keeps_the_pending_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: restart\n    rules:\n      - alert: Pending\n        expr: vector(1)\n        for: 1m\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let store = dir.path().join("store").display().to_string();
    let config = dir.path().join("prometheus.yml").display().to_string();
    let evaluator = || {
        Command::new(env!("CARGO_BIN_EXE_strata"))
            .args([
                "--store",
                &store,
                "rules",
                "--config",
                &config,
                "--flush-interval",
                "500ms",
                "--rules.alert.for-grace-period",
                "2s",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = evaluator();
    // Pending for a few evaluations, its state flushed; then killed without a goodbye.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while for_state_values(&store).len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before = for_state_values(&store);
    assert!(before.len() >= 3, "{before:?}");
    let active_at = before[0];
    std::thread::sleep(std::time::Duration::from_secs(2));
    let restarted_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut second = evaluator();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut after = Vec::new();
    while std::time::Instant::now() < deadline {
        after = for_state_values(&store);
        if after.len() > before.len() + 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // Stopped gracefully this time: it writes its state, which any API process serves.
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(second.wait().unwrap().success());
    let restored = *after.last().unwrap();
    assert!(
        restored < restarted_at - 1.0,
        "activation {restored} restarted with the process at {restarted_at} (first activation {active_at})"
    );
    assert!(
        restored >= active_at && restored <= active_at + 5.0,
        "activation {active_at} restored as {restored}: shifted by the downtime only"
    );
    let server = crate::api::start_strata(&store, &["query-server", "--listen", "127.0.0.1:0"]);
    let get = |path: &str| get_ok(format!("{}{path}", server.url));
    let rules = get("/api/v1/rules").await;
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "restart", "{rules}");
    assert_eq!(group["rules"][0]["state"], "pending", "{rules}");
    let alerts = get("/api/v1/alerts").await;
    let alert = &alerts["data"]["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "Pending", "{alerts}");
    assert_eq!(alert["state"], "pending");
}

/// SIGHUP and `POST /-/reload` re-read the configuration: a new rule appears, an unchanged
/// one keeps its alerts and their activation time, a new `alerting` section takes effect, and
/// an invalid file leaves everything as it was (a 500 from `/-/reload`).
#[tokio::test(flavor = "multi_thread")]
async fn reloads_rules_and_alerting_and_keeps_unchanged_state() {
    let dir = tempfile::tempdir().unwrap();
    let rule_a = "      - alert: A\n        expr: vector(1)\n        for: 1h\n";
    std::fs::write(
        dir.path().join("rules.yml"),
        format!("groups:\n  - name: g\n    rules:\n{rule_a}"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let store = dir.path().join("store").display().to_string();
    let config = dir.path().join("prometheus.yml").display().to_string();
    let server = crate::api::start_strata(
        &store,
        &["serve", "--listen", "127.0.0.1:0", "--config", &config],
    );
    let rules = || {
        let url = format!("{}/api/v1/rules", server.url);
        async move { get_ok(url).await["data"]["groups"][0]["rules"].clone() }
    };
    let wait_for = |pred: &'static (dyn Fn(&serde_json::Value) -> bool + Sync)| {
        let rules = &rules;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let r = rules().await;
                if pred(&r) || std::time::Instant::now() > deadline {
                    return r;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let before = wait_for(&|r| r[0]["alerts"][0]["state"] == "pending").await;
    let active_at = before[0]["alerts"][0]["activeAt"].clone();
    assert!(active_at.is_string(), "{before}");
    let hup = |pid: u32| {
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
    };
    // An invalid file: refused, the rules stay.
    std::fs::write(dir.path().join("rules.yml"), "groups: [").unwrap();
    hup(server.child.id());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(rules().await.as_array().map(Vec::len), Some(1));
    // A new rule next to the unchanged one.
    std::fs::write(
        dir.path().join("rules.yml"),
        format!(
            "groups:\n  - name: g\n    rules:\n{rule_a}      - record: b\n        expr: vector(2)\n"
        ),
    )
    .unwrap();
    hup(server.child.id());
    let after =
        wait_for(&|r| r.as_array().map(Vec::len) == Some(2) && r[1]["health"] == "ok").await;
    assert_eq!(after[1]["name"], "b", "{after}");
    assert_eq!(
        after[0]["alerts"][0]["activeAt"], active_at,
        "the unchanged rule kept its alert: {after}"
    );
    // `POST /-/reload`: an Alertmanager appears in the `alerting` section.
    let client = reqwest::Client::new();
    let reload = || async {
        client
            .post(format!("{}/-/reload", server.url))
            .send()
            .await
            .unwrap()
    };
    let alertmanagers = || async {
        let metrics = client
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("strata_notifications_alertmanagers "))
            .map(str::to_string)
    };
    assert_eq!(alertmanagers().await.as_deref(), Some("0"));
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:1']\n",
    )
    .unwrap();
    let r = reload().await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(alertmanagers().await.as_deref(), Some("1"));
    // An invalid rule file: 500 with the reason, nothing changes.
    std::fs::write(dir.path().join("rules.yml"), "groups: [").unwrap();
    let r = reload().await;
    assert_eq!(r.status(), 500);
    let body = r.text().await.unwrap();
    assert!(body.contains("rules.yml"), "{body}");
    assert_eq!(rules().await.as_array().map(Vec::len), Some(2));
    assert_eq!(alertmanagers().await.as_deref(), Some("1"));
    // Pagination parameters are checked as Prometheus checks them.
    for (query, status) in [
        ("group_limit=0", 400),
        ("group_limit=x", 400),
        ("group_next_token=abc", 400),
        ("group_limit=1&group_next_token=abc", 400),
        ("group_limit=1", 200),
    ] {
        let r = client
            .get(format!("{}/api/v1/rules?{query}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{query}");
        let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        if status == 200 {
            assert_eq!(body["data"]["groups"].as_array().map(Vec::len), Some(1));
            assert!(body["data"].get("groupNextToken").is_none(), "{body}");
        } else {
            assert_eq!(body["errorType"], "bad_data", "{body}");
        }
    }
}
