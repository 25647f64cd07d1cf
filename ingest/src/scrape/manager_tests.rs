use std::collections::BTreeSet;

use strata_storage::{Manifest, Store};

use super::*;
use crate::buffer::BufferOptions;
use crate::scrape::kubernetes::monitors::model::MonitorKind;

fn manager() -> Arc<ScrapeManager> {
    let store = Store::open("memory://").unwrap();
    let buffer = WriteBuffer::new(Manifest::new(store, "w"), BufferOptions::default());
    ScrapeManager::new(None, buffer, Shard::default())
}

fn job(name: &str, extra: &str) -> ScrapeConfig {
    serde_yaml_ng::from_str(&format!(
        "job_name: {name}\nstatic_configs: [{{targets: ['127.0.0.1:9']}}]\n{extra}"
    ))
    .unwrap()
}

fn outcome(name: &str, jobs: Result<Vec<ScrapeConfig>, String>) -> MonitorOutcome {
    MonitorOutcome {
        kind: MonitorKind::ServiceMonitor,
        namespace: "ns".into(),
        name: name.into(),
        jobs,
    }
}

async fn active_jobs(m: &ScrapeManager) -> BTreeSet<String> {
    m.targets()
        .await
        .active
        .into_iter()
        .map(|t| t.job)
        .collect()
}

#[tokio::test]
async fn monitor_jobs_merge_with_the_file_and_invalid_monitors_are_skipped_alone() {
    let m = manager();
    // The section points at nothing: its watcher never publishes, the test does.
    let file = Config::parse(
        "global: {scrape_interval: 1h}\nscrape_configs:\n- job_name: file\n  static_configs: [{targets: ['127.0.0.1:9']}]\nkubernetes_monitors: {api_server: 'http://127.0.0.1:1'}\n",
    )
    .unwrap();
    m.apply(file.clone()).await.unwrap();
    m.set_monitors(Arc::new(vec![
        outcome("good", Ok(vec![job("serviceMonitor/ns/good/0", "")])),
        outcome("clash", Ok(vec![job("file", "")])),
        outcome("broken", Err("selector: \"a\": bad".into())),
        outcome(
            "slow",
            Ok(vec![
                job("serviceMonitor/ns/slow/0", ""),
                job(
                    "serviceMonitor/ns/slow/1",
                    "scrape_interval: 1s\nscrape_timeout: 5s",
                ),
            ]),
        ),
    ]))
    .await;
    let want: BTreeSet<String> = ["file", "serviceMonitor/ns/good/0"]
        .map(String::from)
        .into();
    assert_eq!(active_jobs(&m).await, want);
    let view = m.targets().await;
    let reasons: Vec<(&str, &str)> = view
        .invalid_monitors
        .iter()
        .map(|i| (i.name.as_str(), i.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(
        reasons[0],
        (
            "clash",
            "job name \"file\" is also a job of the configuration file"
        )
    );
    assert_eq!(reasons[1], ("broken", "selector: \"a\": bad"));
    assert_eq!(reasons[2].0, "slow");
    assert!(
        reasons[2]
            .1
            .contains("scrape timeout greater than scrape interval"),
        "{}",
        reasons[2].1
    );
    let metrics = m.monitor_metrics();
    assert!(metrics.contains("strata_kubernetes_monitors{state=\"valid\"} 1\n"));
    assert!(metrics.contains("strata_kubernetes_monitors{state=\"invalid\"} 3\n"));
    assert!(metrics.contains(
        "strata_kubernetes_monitor_invalid{kind=\"ServiceMonitor\",namespace=\"ns\",name=\"broken\"} 1\n"
    ));

    // A reload of the file keeps the monitors' jobs, and their loops.
    let before: Vec<u64> = {
        let jobs = m.jobs.lock().await;
        jobs["serviceMonitor/ns/good/0"]
            .loops
            .keys()
            .copied()
            .collect()
    };
    m.apply(file.clone()).await.unwrap();
    assert_eq!(active_jobs(&m).await, want);
    {
        let jobs = m.jobs.lock().await;
        let good = &jobs["serviceMonitor/ns/good/0"];
        assert_eq!(good.loops.keys().copied().collect::<Vec<_>>(), before);
        assert!(good.loops.values().all(|l| !l.task.is_finished()));
    }

    // A deleted monitor's jobs stop; without the section, only the file's jobs remain and
    // the metric disappears.
    m.set_monitors(Arc::new(vec![])).await;
    assert_eq!(active_jobs(&m).await, ["file".to_string()].into());
    assert!(m.targets().await.invalid_monitors.is_empty());
    m.set_monitors(Arc::new(vec![outcome(
        "good",
        Ok(vec![job("serviceMonitor/ns/good/0", "")]),
    )]))
    .await;
    let plain = Config::parse(
        "global: {scrape_interval: 1h}\nscrape_configs:\n- job_name: file\n  static_configs: [{targets: ['127.0.0.1:9']}]\n",
    )
    .unwrap();
    m.apply(plain).await.unwrap();
    assert_eq!(active_jobs(&m).await, ["file".to_string()].into());
    assert_eq!(m.monitor_metrics(), "");
}

#[test]
fn a_monitor_selector_filters_whole_groups_as_its_relabel_rules_would() {
    use crate::scrape::kubernetes::monitors::{model::Monitor, translate::selector_rules};
    let monitor: Monitor = serde_yaml_ng::from_str(
        "kind: PodMonitor\nmetadata: {name: m, namespace: ns}\nspec:\n  selector:\n    matchLabels: {app: web}\n    matchExpressions: [{key: canary, operator: DoesNotExist}]\n",
    )
    .unwrap();
    let filter: Vec<super::super::relabel::RelabelConfig> = selector_rules(&monitor)
        .into_iter()
        .map(|r| serde_yaml_ng::from_value(r).unwrap())
        .collect();
    let group = |pairs: &[(&str, &str)]| discovery::TargetGroup {
        source: "pod/ns/p".into(),
        targets: vec![],
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let web = [
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_labelpresent_app", "true"),
    ];
    assert!(group_selected(&group(&web), &filter));
    let mut canary = web.to_vec();
    canary.push(("__meta_kubernetes_pod_labelpresent_canary", "true"));
    assert!(!group_selected(&group(&canary), &filter));
    assert!(!group_selected(
        &group(&[
            ("__meta_kubernetes_pod_label_app", "db"),
            ("__meta_kubernetes_pod_labelpresent_app", "true")
        ]),
        &filter
    ));
    assert!(!group_selected(&group(&[]), &filter));
}
