//! Scraping end to end: the real node_exporter (Debian's `prometheus-node-exporter`) scraped by
//! `strata serve --config` into the real S3 server and queried back over the API; reloads that
//! keep unchanged targets running and mark removed ones stale; and two `strata scrape` workers
//! sharing targets without scraping any twice.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::{Server, free_port, get, start_server_with, start_strata};
use crate::s3;

fn start_node_exporter() -> Server {
    let port = free_port();
    let child = Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "prometheus-node-exporter not found: install Debian's `prometheus-node-exporter` \
             package (.ci/run does)",
        );
    Server {
        child,
        url: format!("127.0.0.1:{port}"),
    }
}

fn query_url(server: &str, query: &str) -> String {
    let q: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!("{server}/api/v1/query?query={q}")
}

/// Polls `query` until `done` accepts its result array, or fails after `within`.
pub(crate) async fn wait_for(
    server: &str,
    query: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    wait_for_with(&reqwest::Client::new(), None, server, query, within, done).await
}

/// [`wait_for`] through `client`, with basic-auth credentials when given.
pub(crate) async fn wait_for_with(
    client: &reqwest::Client,
    auth: Option<(&str, &str)>,
    server: &str,
    query: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let mut request = client.get(query_url(server, query));
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let body: Value = match request.send().await {
            Ok(r) => {
                serde_json::from_str(&r.text().await.unwrap_or_default()).unwrap_or(Value::Null)
            }
            Err(_) => Value::Null,
        };
        let result = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if done(&result) {
            return result;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: gave up waiting, last answer {body}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub(crate) fn value(v: &Value) -> f64 {
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

async fn reload(server: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{server}/-/reload"))
        .send()
        .await
        .expect("POST /-/reload");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn node_exporter_scraped_queried_reloaded_and_marked_stale() {
    let exporter = start_node_exporter();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    let node_job = format!(
        "  - job_name: node\n    static_configs:\n      - targets: ['{}']\n        labels: {{env: test}}\n",
        exporter.url
    );
    let head = "global:\n  scrape_interval: 1s\n  external_labels: {replica: a}\nrule_files: []\nscrape_configs:\n";
    std::fs::write(&config, format!("{head}{node_job}")).unwrap();
    let config_arg = config.display().to_string();
    let strata = start_server_with(
        &s3::fresh_url(),
        &["--config", &config_arg, "--flush-interval", "1s"],
    );
    let server = strata.url.as_str();

    // Scraped samples become queryable within a flush interval or two.
    let started = Instant::now();
    wait_for(server, "up{job=\"node\"}", Duration::from_secs(30), |r| {
        r.len() == 1 && value(&r[0]) == 1.0
    })
    .await;
    let first = started.elapsed();
    assert!(
        first < Duration::from_secs(15),
        "first sample queryable after {first:?}"
    );
    let up = wait_for(server, "up", Duration::from_secs(10), |r| !r.is_empty()).await;
    let labels = &up[0]["metric"];
    assert_eq!(labels["instance"], exporter.url.as_str());
    assert_eq!(
        (labels["env"].as_str(), labels["replica"].as_str()),
        (Some("test"), Some("a"))
    );
    let cpus = wait_for(
        server,
        "count(node_cpu_seconds_total)",
        Duration::from_secs(10),
        |r| !r.is_empty(),
    )
    .await;
    assert!(value(&cpus[0]) >= 1.0);
    // Counters rate over a few scrapes; report series are there.
    wait_for(
        server,
        "sum(rate(node_cpu_seconds_total[10s])) > 0",
        Duration::from_secs(20),
        |r| r.len() == 1,
    )
    .await;
    let scraped = wait_for(
        server,
        "scrape_samples_scraped{job=\"node\"}",
        Duration::from_secs(5),
        |r| r.len() == 1,
    )
    .await;
    assert!(
        value(&scraped[0]) > 100.0,
        "node_exporter exposes hundreds of samples"
    );
    let (_, meta) = get(&format!("{server}/api/v1/metadata?metric=node_load1")).await;
    assert_eq!(meta["data"]["node_load1"][0]["type"], "gauge", "{meta}");
    let (_, targets) = get(&format!("{server}/api/v1/targets")).await;
    let active = &targets["data"]["activeTargets"];
    assert_eq!(active.as_array().map(Vec::len), Some(1), "{targets}");
    assert_eq!(active[0]["health"], "up");
    assert_eq!(active[0]["labels"]["job"], "node");

    // A reload adding a job leaves the node target's loop alone: it adds no series again.
    let self_job = format!(
        "  - job_name: strata\n    static_configs:\n      - targets: ['{}']\n",
        server.trim_start_matches("http://")
    );
    std::fs::write(&config, format!("{head}{node_job}{self_job}")).unwrap();
    let reloaded_at = Instant::now();
    assert_eq!(reload(server).await.0, 200);
    wait_for(server, "up{job=\"strata\"}", Duration::from_secs(20), |r| {
        r.len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let window = reloaded_at.elapsed().as_secs() + 1;
    let added = wait_for(
        server,
        &format!("max_over_time(scrape_series_added{{job=\"node\"}}[{window}s])"),
        Duration::from_secs(5),
        |r| r.len() == 1,
    )
    .await;
    assert_eq!(
        value(&added[0]),
        0.0,
        "the node loop kept its cache across the reload"
    );

    // An invalid configuration is refused and changes nothing.
    std::fs::write(
        &config,
        "scrape_configs: [{job_name: x, scrape_intervl: 1s}]",
    )
    .unwrap();
    let (status, text) = reload(server).await;
    assert_eq!(status, 500);
    assert!(text.contains("scrape_configs[0].scrape_intervl"), "{text}");

    // Removing the job stops its target and marks its series stale at once.
    std::fs::write(&config, format!("{head}{self_job}")).unwrap();
    assert_eq!(reload(server).await.0, 200);
    wait_for(server, "up{job=\"node\"}", Duration::from_secs(20), |r| {
        r.is_empty()
    })
    .await;
    wait_for(server, "node_load1", Duration::from_secs(5), |r| {
        r.is_empty()
    })
    .await;
    drop(exporter);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_targets_without_duplicates() {
    let exporter = start_node_exporter();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    // Twelve targets (one exporter, told apart by a label) for two shards.
    let mut yaml = String::from(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n",
    );
    for i in 0..12 {
        yaml.push_str(&format!(
            "      - targets: ['{}']\n        labels: {{n: '{i}'}}\n",
            exporter.url
        ));
    }
    yaml.push_str("    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: node_load1\n        action: keep\n");
    std::fs::write(&config, yaml).unwrap();
    let store = s3::fresh_url();
    let config_arg = config.display().to_string();
    let workers: Vec<Server> = (0..2)
        .map(|i| {
            let shard = i.to_string();
            start_strata(
                &store,
                &[
                    "scrape",
                    "--config",
                    &config_arg,
                    "--shard",
                    &shard,
                    "--shards",
                    "2",
                    "--listen",
                    "127.0.0.1:0",
                    "--flush-interval",
                    "1s",
                ],
            )
        })
        .collect();
    let mut owned = 0;
    for w in &workers {
        let (_, targets) = get(&format!("{}/api/v1/targets?state=active", w.url)).await;
        let n = targets["data"]["activeTargets"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(
            n > 0,
            "each shard owns some of the twelve targets: {targets}"
        );
        owned += n;
    }
    assert_eq!(owned, 12, "every target has exactly one owner");
    let query = start_strata(&store, &["query-server", "--listen", "127.0.0.1:0"]);
    let counts = wait_for(
        &query.url,
        "count by (n) (up)",
        Duration::from_secs(30),
        |r| r.len() == 12,
    )
    .await;
    assert!(
        counts.iter().all(|c| value(c) == 1.0),
        "one series per target: {counts:?}"
    );
    // Over several scrapes each target was scraped by one worker only: one sample per
    // scrape, never two per interval.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let per_target = wait_for(
        &query.url,
        "count_over_time(node_load1[3s])",
        Duration::from_secs(10),
        |r| r.len() == 12,
    )
    .await;
    assert!(
        per_target.iter().all(|c| value(c) <= 4.0),
        "at most one sample per second per target: {per_target:?}"
    );
    drop(workers);
}
