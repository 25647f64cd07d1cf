use super::*;

const FULL: &str = r#"
global:
  scrape_interval: 15s
  evaluation_interval: 30s
  external_labels:
    cluster: eu-1
    replica: a
rule_files: [rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ['am:9093']}]}]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['localhost:9100']
        labels: {env: prod}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
  - job_name: blackbox
    scrape_interval: 1m
    scrape_timeout: 30s
    metrics_path: /probe
    scheme: https
    params: {module: [http_2xx]}
    honor_labels: true
    honor_timestamps: false
    basic_auth: {username: u, password: p}
    tls_config: {insecure_skip_verify: true}
    sample_limit: 1000
    label_limit: 30
    body_size_limit: 10MB
    file_sd_configs:
      - files: ['targets/*.json']
        refresh_interval: 1m
    http_sd_configs:
      - url: http://sd.example/targets
        authorization: {credentials: t}
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
"#;

#[test]
fn a_prometheus_config_loads_with_defaults() {
    let c = Config::parse(FULL).unwrap();
    assert!(
        c.ignored_sections().is_empty(),
        "rule_files and alerting are the rule evaluator's"
    );
    assert_eq!(c.global.external_labels["replica"], "a");
    let node = &c.scrape_configs[0];
    let s = node.settings(&c.global);
    assert_eq!(s.interval, Duration::from_secs(15));
    assert_eq!(s.timeout, Duration::from_secs(10));
    assert_eq!(s.protocols, DEFAULT_SCRAPE_PROTOCOLS);
    assert_eq!(
        (node.metrics_path.as_str(), node.scheme.as_str()),
        ("/metrics", "http")
    );
    assert!(node.honor_timestamps && !node.honor_labels && node.enable_compression);
    let bb = &c.scrape_configs[1];
    let s = bb.settings(&c.global);
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(60), Duration::from_secs(30))
    );
    assert_eq!(
        (s.sample_limit, s.label_limit, s.body_size_limit),
        (1000, 30, 10 << 20)
    );
    assert_eq!(bb.params["module"], ["http_2xx"]);
    assert_eq!(
        bb.http.basic_auth.as_ref().map(|b| b.username.as_str()),
        Some("u")
    );
    assert!(bb.http.tls_config.insecure_skip_verify);
    assert_eq!(
        bb.file_sd_configs[0].refresh_interval.0,
        Duration::from_secs(60)
    );
    assert_eq!(
        bb.http_sd_configs[0].refresh_interval.0,
        Duration::from_secs(60)
    );
    assert!(bb.http_sd_configs[0].http.authorization.is_some());
    // A short interval caps the default timeout.
    let c = Config::parse("scrape_configs: [{job_name: x, scrape_interval: 5s}]").unwrap();
    assert_eq!(
        c.scrape_configs[0].settings(&c.global).timeout,
        Duration::from_secs(5)
    );
    assert_eq!(Config::parse("").unwrap().scrape_configs.len(), 0);
    let c = Config::parse("global: {scrape_interval: 2s}").unwrap();
    assert_eq!(c.global.scrape_timeout.0, Duration::from_secs(2));
    let c = Config::parse("").unwrap();
    assert_eq!(c.global.scrape_interval.0, Duration::from_secs(60));
    assert_eq!(c.global.scrape_timeout.0, Duration::from_secs(10));
}

fn error_of(text: &str) -> ConfigError {
    match Config::parse(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            "scrape_configs: [{job_name: a, scrape_interval: 15x}]",
            "scrape_configs[0].scrape_interval",
            "valid duration",
        ),
        (
            "global: {scrape_intervl: 15s}",
            "global",
            "unknown field `scrape_intervl`",
        ),
        (
            "scrape_configs: [{job_name: a}, {job_name: a}]",
            "scrape_configs[1].job_name",
            "multiple scrape configs with job name \"a\"",
        ),
        (
            "scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s}]",
            "scrape_configs[0].scrape_timeout",
            "greater than scrape interval",
        ),
        (
            "scrape_configs: [{job_name: a, relabel_configs: [{action: hashmod, target_label: x}]}]",
            "scrape_configs[0].relabel_configs[0]",
            "modulus",
        ),
        (
            "scrape_configs: [{job_name: a, consul_sd_configs: [{server: x}]}]",
            "scrape_configs[0].consul_sd_configs",
            "not supported",
        ),
        (
            "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: ingress, selectors: [{role: pod}]}]}]",
            "scrape_configs[0].kubernetes_sd_configs[0].selectors[0].role",
            "ingress role supports only ingress selectors",
        ),
        (
            "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pods}]}]",
            "scrape_configs[0].kubernetes_sd_configs[0].role",
            "invalid role",
        ),
        (
            "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pod, attach_metadata: {nodes: true}}]}]",
            "scrape_configs[0].kubernetes_sd_configs[0].attach_metadata.nodes",
            "unknown field",
        ),
        (
            "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pod, selectors: [{role: service, label: a=b}]}]}]",
            "scrape_configs[0].kubernetes_sd_configs[0].selectors[0].role",
            "pod role supports only pod, node selectors",
        ),
        (
            "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pod, api_server: 'https://k', kubeconfig_file: k}]}]",
            "scrape_configs[0].kubernetes_sd_configs[0].kubeconfig_file",
            "simultaneously",
        ),
        (
            "scrape_configs: [{job_name: a, kubernetes_sd_configs: [{role: pod, namespace: [a]}]}]",
            "scrape_configs[0].kubernetes_sd_configs[0].namespace",
            "unknown field",
        ),
        (
            "scrape_configs: [{job_name: a, scrape_intervall: 1m}]",
            "scrape_configs[0].scrape_intervall",
            "unknown field",
        ),
        (
            "scrape_configs: [{job_name: a, scheme: ftp}]",
            "scrape_configs[0].scheme",
            "unknown scheme",
        ),
        (
            "scrape_configs: [{job_name: a, body_size_limit: 10XB}]",
            "scrape_configs[0].body_size_limit",
            "invalid size",
        ),
        (
            "scrape_configs: [{job_name: a, file_sd_configs: [{files: [t.txt]}]}]",
            "scrape_configs[0].file_sd_configs[0].files[0]",
            ".json",
        ),
        (
            "scrape_configs: [{job_name: a, basic_auth: {username: u}, authorization: {credentials: c}}]",
            "scrape_configs[0].authorization",
            "at most one",
        ),
        (
            "scrape_configs: [{job_name: a, relabel_configs: [{regex: '(', source_labels: [x], target_label: y}]}]",
            "scrape_configs[0].relabel_configs[0].regex",
            "",
        ),
    ];
    for (text, path, message) in cases {
        let e = error_of(text);
        assert!(
            e.path.starts_with(path),
            "{text}: path {:?}, want {path:?} ({})",
            e.path,
            e.message
        );
        assert!(
            e.message.contains(message),
            "{text}: message {:?}",
            e.message
        );
    }
}

#[test]
fn sizes_and_durations() {
    assert_eq!(parse_byte_size("0"), Ok(0));
    assert_eq!(parse_byte_size("512KB"), Ok(512 << 10));
    assert_eq!(parse_byte_size("1GiB"), Ok(1 << 30));
    assert!(parse_byte_size("1.5MB").is_err());
    assert_eq!(PromDuration(Duration::from_secs(90)).to_string(), "1m30s");
}

#[test]
fn kubernetes_sd_configs_as_prometheus_reads_them() {
    let c = Config::parse(
        "scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: https://k8s.example:6443\n        namespaces: {names: [a, b], own_namespace: false}\n        selectors: [{role: pod, label: app=web, field: spec.nodeName=n1}]\n        authorization: {credentials: t}\n        tls_config: {insecure_skip_verify: true}\n",
    )
    .unwrap();
    let k = &c.scrape_configs[0].kubernetes_sd_configs[0];
    assert_eq!(k.role, "pod");
    assert_eq!(k.namespaces.names, ["a", "b"]);
    assert_eq!(
        k.own_selector(),
        ("app=web".to_string(), "spec.nodeName=n1".to_string())
    );
    assert!(k.http.tls_config.insecure_skip_verify);
}
