//! Every Prometheus Operator fixture of `ingest/tests/fixtures/operator` (see its README)
//! through the translator: the case's `prometheus:` block becomes a `kubernetes_monitors`
//! section loaded with Strata's own configuration loader, its monitors are translated with
//! its Secrets and ConfigMaps (sorted as the operator sorts them: ServiceMonitors, then
//! PodMonitors, by namespace and name), and the jobs must equal the golden's
//! `expected_scrape_configs` as parsed YAML once exactly the README's intended differences
//! are applied to the expectation. Each job must then load as the crate's `ScrapeConfig`
//! and pass a file job's validation — except where Strata lacks the feature, listed in
//! [`UNSUPPORTED`]. The golden and the derived cases run as separate tests, and each counts
//! its cases so that none is skipped silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::model::Monitor;
use super::store::MapStore;
use super::translate::translate;
use crate::scrape::Config;

/// Cases whose jobs Strata translates as the operator does but cannot run: the reason the
/// scrape configuration's validation gives.
const UNSUPPORTED: [(&str, &str); 2] = [
    (
        "service_monitor_with_oauth2",
        "oauth2: not supported by Strata yet",
    ),
    (
        "pod_monitor_with_oauth2",
        "oauth2: not supported by Strata yet",
    ),
];

/// Where the operator writes Secret and ConfigMap material as files.
const CERTS: &str = "/etc/prometheus/certs/";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/operator")
}

fn cases(dir: &Path) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            (name, serde_yaml_ng::from_str(&text).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn key(k: &str) -> Value {
    Value::String(k.into())
}

/// `enforcedSampleLimit` → `enforced_sample_limit`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The case's Prometheus-resource fields as Strata's configuration file, loaded with the
/// crate's loader (so an unknown field fails the test).
fn config(case: &Value) -> Config {
    let mut section = Mapping::new();
    section.insert(key("api_server"), key("http://127.0.0.1:1"));
    let mut interval = key("30s");
    for (k, v) in case["prometheus"].as_mapping().unwrap() {
        match k.as_str().unwrap() {
            // Strata translates as for the newest Prometheus, and shards by itself.
            "version" | "shards" => {}
            "scrapeInterval" => interval = v.clone(),
            other => {
                section.insert(key(&snake(other)), v.clone());
            }
        }
    }
    let mut file = Mapping::new();
    let mut global = Mapping::new();
    global.insert(key("scrape_interval"), interval);
    file.insert(key("global"), Value::Mapping(global));
    file.insert(key("kubernetes_monitors"), Value::Mapping(section));
    let text = serde_yaml_ng::to_string(&file).unwrap();
    Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `/etc/prometheus/certs/<0=Secret|1=ConfigMap>_<ns>_<name>_<key>` → the reference.
fn cert_ref(path: &str) -> Option<(bool, String, String, String)> {
    let rest = path.strip_prefix(CERTS)?;
    let mut parts = rest.splitn(4, '_');
    let kind = parts.next()?;
    let (ns, name, k) = (parts.next()?, parts.next()?, parts.next()?);
    Some((kind == "1", ns.into(), name.into(), k.into()))
}

/// The case's Secrets and ConfigMaps, plus placeholder data for the TLS material the
/// operator only renders as file paths (README: the Go tests do not always provide it).
fn store(case: &Value) -> MapStore {
    let mut store = MapStore::default();
    for (field, config_map) in [("secrets", false), ("configmaps", true)] {
        for (object, data) in case[field].as_mapping().into_iter().flatten() {
            let (ns, name) = object.as_str().unwrap().split_once('/').unwrap();
            let data: BTreeMap<String, String> = serde_yaml_ng::from_value(data.clone()).unwrap();
            store
                .0
                .insert((config_map, ns.into(), name.into()), Ok(data));
        }
    }
    let mut paths = Vec::new();
    collect_cert_paths(&case["expected_scrape_configs"], &mut paths);
    for (config_map, ns, name, k) in paths.iter().filter_map(|p| cert_ref(p)) {
        let entry = store
            .0
            .entry((config_map, ns.clone(), name.clone()))
            .or_insert_with(|| Ok(BTreeMap::new()));
        if let Ok(data) = entry {
            data.entry(k.clone())
                .or_insert_with(|| format!("placeholder {ns}/{name}/{k}"));
        }
    }
    store
}

fn collect_cert_paths(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.starts_with(CERTS) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| collect_cert_paths(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| collect_cert_paths(i, out)),
        _ => {}
    }
}

/// The README's intended differences, applied to one expected job.
fn expected_by_strata(job: &Value, global: &Value, store: &MapStore) -> Value {
    let mut job = job.as_mapping().unwrap().clone();
    // 1. No sharding relabelings: the last three rules are the operator's, exactly.
    let rules = job
        .get_mut("relabel_configs")
        .and_then(Value::as_sequence_mut)
        .unwrap();
    let shard: Vec<Value> = rules.split_off(rules.len() - 3);
    assert_eq!(shard[0]["source_labels"][0], "__address__");
    assert_eq!(shard[0]["target_label"], "__tmp_hash");
    assert_eq!(shard[1]["action"], "hashmod");
    assert_eq!(shard[2]["regex"], "$(SHARD);|.+;.+");
    // 2. `bearer_token` is sent through `authorization`.
    if let Some(token) = job.remove("bearer_token") {
        let mut auth = Mapping::new();
        auth.insert(key("type"), key("Bearer"));
        auth.insert(key("credentials"), token);
        job.insert(key("authorization"), Value::Mapping(auth));
    }
    // 2. TLS material from Secrets and ConfigMaps inline, not as files.
    let inline = |tls: &mut Value| {
        let Some(tls) = tls.as_mapping_mut() else {
            return;
        };
        for (file, field) in [
            ("ca_file", "ca"),
            ("cert_file", "cert"),
            ("key_file", "key"),
        ] {
            let Some((config_map, ns, name, k)) =
                tls.get(file).and_then(Value::as_str).and_then(cert_ref)
            else {
                continue;
            };
            tls.remove(file);
            let selector = super::model::KeySelector {
                name,
                key: k,
                optional: None,
            };
            let value = super::translate::Store::get(store, config_map, &ns, &selector).unwrap();
            tls.insert(key(field), key(&value));
        }
    };
    if let Some(tls) = job.get_mut("tls_config") {
        inline(tls);
    }
    if let Some(tls) = job.get_mut("oauth2").and_then(|o| o.get_mut("tls_config")) {
        inline(tls);
    }
    // 4. Enforced limits land in the job (Strata has no generated `global`).
    for limit in [
        "sample_limit",
        "target_limit",
        "label_limit",
        "label_name_length_limit",
        "label_value_length_limit",
        "keep_dropped_targets",
    ] {
        if let Some(v) = global.get(limit)
            && !job.contains_key(limit)
        {
            job.insert(key(limit), v.clone());
        }
    }
    Value::Mapping(job)
}

/// Runs the cases of `dir`; returns how many ran.
fn run(dir: &Path, derived: bool) -> usize {
    let mut ran = 0;
    let mut failures = Vec::new();
    for (name, case) in cases(dir) {
        assert_eq!(
            case["derived_from_code"].as_bool().unwrap_or(false),
            derived,
            "{name}"
        );
        let config = config(&case);
        let section = config.kubernetes_monitors.clone().unwrap();
        let store = store(&case);
        let mut monitors: Vec<Monitor> = case["monitors"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| serde_yaml_ng::from_value(m.clone()).unwrap())
            .collect();
        monitors.sort_by(|a, b| {
            (a.kind, &a.metadata.namespace, &a.metadata.name).cmp(&(
                b.kind,
                &b.metadata.namespace,
                &b.metadata.name,
            ))
        });
        let mut got = Vec::new();
        let mut owners = Vec::new();
        for m in &monitors {
            match translate(m, &section.settings, &store) {
                Ok(jobs) => {
                    owners.extend(jobs.iter().map(|_| m));
                    got.extend(jobs);
                }
                Err(e) => failures.push(format!("{name}: {}: {e}", m.metadata.name)),
            }
        }
        let global = case["expected_global"].clone();
        let expected: Vec<Value> = case["expected_scrape_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|j| expected_by_strata(j, &global, &store))
            .collect();
        if got != expected {
            failures.push(format!(
                "{name}: translation differs\n--- expected\n{}\n--- got\n{}",
                serde_yaml_ng::to_string(&expected).unwrap(),
                serde_yaml_ng::to_string(&got).unwrap()
            ));
        }
        let unsupported = UNSUPPORTED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| *r);
        let loaded = got
            .into_iter()
            .zip(&owners)
            .map(|(job, m)| super::jobs::scrape_configs(vec![job], m, &section))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.concat())
            .and_then(|scs| {
                for sc in &scs {
                    assert_eq!(sc.kubernetes_sd_configs[0].api_server, section.api_server);
                    sc.validate(&config.global, &|f: &str| f.to_string())
                        .map_err(|e| e.to_string())?;
                }
                Ok(scs.len())
            });
        match (loaded, unsupported) {
            (Ok(n), None) => assert_eq!(n, expected.len()),
            (Err(e), Some(reason)) if e.contains(reason) => {}
            (other, reason) => failures.push(format!(
                "{name}: loading the jobs gave {other:?}, expected {}",
                reason.unwrap_or("success")
            )),
        }
        ran += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    ran
}

#[test]
fn operator_golden_files() {
    assert_eq!(run(&dir(), false), 50);
}

#[test]
fn operator_derived_cases() {
    assert_eq!(run(&dir().join("derived"), true), 2);
}
