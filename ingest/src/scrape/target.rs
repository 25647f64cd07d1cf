//! From discovered target groups to scrape targets, as Prometheus' `PopulateLabels` does:
//! group and target labels, job defaults (`job`, `__scheme__`, `__metrics_path__`,
//! `__scrape_interval__`, `__scrape_timeout__`, `__param_*`), `relabel_configs`, then every
//! `__`-prefixed label removed and `instance` defaulted to the address. Sharding picks the
//! targets of one worker among the result.

use std::time::Duration;

use strata_storage::{Label, Labels};

use super::config::{PromDuration, ScrapeConfig};
use super::discovery::{ADDRESS_LABEL, TargetGroup};
use super::labelset;
use super::relabel::relabel;

pub const SCHEME_LABEL: &str = "__scheme__";
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
pub const PARAM_PREFIX: &str = "__param_";
pub const JOB_LABEL: &str = "job";
pub const INSTANCE_LABEL: &str = "instance";

/// A target to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Labels every sample of the target gets (`job`, `instance`, …).
    pub labels: Labels,
    /// Labels as discovered, before relabeling (for `/api/v1/targets`).
    pub discovered: Labels,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Target {
    /// The target's identity: its labels and URL (and timing, so that a changed interval
    /// restarts its loop).
    pub fn hash(&self) -> u64 {
        let mut h = self.labels.stable_hash();
        h ^= xxhash_rust::xxh3::xxh3_64(self.url.as_bytes()).rotate_left(1);
        h ^= (self.interval.as_millis() as u64).rotate_left(17);
        h ^= (self.timeout.as_millis() as u64).rotate_left(41);
        h
    }
}

/// A target relabeling dropped, or one whose labels are unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    pub discovered: Labels,
    /// Why, when it is an error rather than a relabeling decision.
    pub error: Option<String>,
}

/// The targets of one job from its discovered groups.
pub fn targets_of(
    config: &ScrapeConfig,
    interval: Duration,
    timeout: Duration,
    groups: &[TargetGroup],
) -> (Vec<Target>, Vec<DroppedTarget>) {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    for group in groups {
        for target in &group.targets {
            let mut lset: Vec<Label> = labelset::from_pairs(
                group
                    .labels
                    .iter()
                    .chain(target.iter())
                    .map(|(n, v)| (n.as_str(), v.as_str())),
            );
            match populate(config, interval, timeout, &mut lset) {
                Ok(Some(t)) => active.push(t),
                Ok(None) => dropped.push(DroppedTarget {
                    discovered: to_labels(&lset),
                    error: None,
                }),
                Err(e) => dropped.push(DroppedTarget {
                    discovered: to_labels(&lset),
                    error: Some(e),
                }),
            }
        }
    }
    (active, dropped)
}

fn to_labels(l: &[Label]) -> Labels {
    Labels::from_pairs(l.iter().map(|l| (l.name.as_str(), l.value.as_str()))).unwrap_or_default()
}

/// One target: `lset` holds the discovered labels on entry (and keeps them).
fn populate(
    config: &ScrapeConfig,
    interval: Duration,
    timeout: Duration,
    lset: &mut Vec<Label>,
) -> Result<Option<Target>, String> {
    let defaults = [
        (JOB_LABEL, config.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, PromDuration(interval).to_string()),
        (SCRAPE_TIMEOUT_LABEL, PromDuration(timeout).to_string()),
        (METRICS_PATH_LABEL, config.metrics_path.clone()),
        (SCHEME_LABEL, config.scheme.clone()),
    ];
    for (name, value) in defaults {
        if labelset::get(lset, name).is_empty() {
            labelset::set(lset, name, &value);
        }
    }
    for (name, values) in &config.params {
        let label = format!("{PARAM_PREFIX}{name}");
        if let Some(first) = values.first()
            && labelset::get(lset, &label).is_empty()
        {
            labelset::set(lset, &label, first);
        }
    }
    let discovered = to_labels(lset);
    let mut labels = lset.clone();
    if !relabel(&mut labels, &config.relabel_configs) {
        return Ok(None);
    }
    let address = labelset::get(&labels, ADDRESS_LABEL).to_string();
    if address.is_empty() {
        return Err("no address".into());
    }
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    let parse = |name: &str| -> Result<Duration, String> {
        labelset::get(&labels, name)
            .parse::<PromDuration>()
            .map(|d| d.0)
            .map_err(|e| format!("error parsing {name} label: {e}"))
    };
    let interval = parse(SCRAPE_INTERVAL_LABEL)?;
    let timeout = parse(SCRAPE_TIMEOUT_LABEL)?;
    if interval.is_zero() {
        return Err("scrape interval cannot be 0".into());
    }
    if timeout.is_zero() {
        return Err("scrape timeout cannot be 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({} > {})",
            PromDuration(timeout),
            PromDuration(interval)
        ));
    }
    let scheme = labelset::get(&labels, SCHEME_LABEL);
    let path = labelset::get(&labels, METRICS_PATH_LABEL);
    let mut url = url::Url::parse(&format!("{scheme}://{address}{path}"))
        .map_err(|e| format!("invalid target URL {scheme}://{address}{path}: {e}"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?}"));
    }
    // Query parameters: the configured ones, the first value of each overridden by its
    // `__param_<name>` label.
    let mut params: Vec<(String, Vec<String>)> = config
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for l in labels.iter().filter(|l| l.name.starts_with(PARAM_PREFIX)) {
        let key = &l.name[PARAM_PREFIX.len()..];
        match params.iter_mut().find(|(k, _)| k == key) {
            Some((_, values)) if !values.is_empty() => values[0] = l.value.clone(),
            Some((_, values)) => values.push(l.value.clone()),
            None => params.push((key.to_string(), vec![l.value.clone()])),
        }
    }
    if !params.is_empty() {
        let mut query = url.query_pairs_mut();
        for (k, values) in &params {
            for v in values {
                query.append_pair(k, v);
            }
        }
    }
    labels.retain(|l| !l.name.starts_with("__"));
    if labelset::get(&labels, INSTANCE_LABEL).is_empty() {
        labelset::set(&mut labels, INSTANCE_LABEL, &address);
    }
    Ok(Some(Target {
        labels: to_labels(&labels),
        discovered,
        url: url.to_string(),
        interval,
        timeout,
    }))
}

/// Which worker of `shards` owns a target: jump consistent hash (Lamping & Veach) of its
/// label hash. Every target lands on exactly one shard, and going from N to N+1 shards moves
/// only about 1/(N+1) of them.
pub fn shard_of(labels: &Labels, shards: u32) -> u32 {
    let mut key = labels.stable_hash();
    let (mut b, mut j): (i64, i64) = (-1, 0);
    let n = i64::from(shards.max(1));
    while j < n {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::scrape::config::Config;

    fn job(yaml: &str) -> ScrapeConfig {
        let text = format!("scrape_configs:\n- job_name: node\n{yaml}");
        Config::parse(&text).unwrap().scrape_configs.remove(0)
    }

    fn group(addresses: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "test".into(),
            targets: addresses
                .iter()
                .map(|a| BTreeMap::from([(ADDRESS_LABEL.to_string(), a.to_string())]))
                .collect(),
            labels: labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn labels_url_and_relabeling() {
        let config = job(concat!(
            "  params: {module: [http_2xx, other]}\n",
            "  relabel_configs:\n",
            "  - source_labels: [__address__]\n",
            "    target_label: __param_target\n",
            "  - source_labels: [__param_target]\n",
            "    target_label: instance\n",
            "  - target_label: __address__\n",
            "    replacement: blackbox:9115\n",
            "  - source_labels: [env]\n",
            "    regex: drop-me\n",
            "    action: drop\n",
        ));
        let s = Duration::from_secs;
        let groups = [
            group(&["example.com"], &[("env", "prod"), ("__meta_x", "y")]),
            group(&["gone.com"], &[("env", "drop-me")]),
        ];
        let (active, dropped) = targets_of(&config, s(15), s(10), &groups);
        assert_eq!(active.len(), 1);
        assert_eq!(dropped.len(), 1);
        let t = &active[0];
        assert_eq!(
            t.labels.to_string(),
            r#"{env="prod", instance="example.com", job="node"}"#
        );
        assert_eq!(
            t.url,
            "http://blackbox:9115/metrics?module=http_2xx&module=other&target=example.com"
        );
        assert_eq!(t.discovered.get("__meta_x"), Some("y"));
        assert_eq!(t.discovered.get("__scrape_interval__"), Some("15s"));
        assert_eq!((t.interval, t.timeout), (s(15), s(10)));
    }

    #[test]
    fn per_target_timing_and_errors() {
        let config = job(concat!(
            "  relabel_configs:\n",
            "  - target_label: __scrape_interval__\n",
            "    replacement: 30s\n",
        ));
        let s = Duration::from_secs;
        let (active, _) = targets_of(&config, s(15), s(10), &[group(&["a:1"], &[])]);
        assert_eq!(active[0].interval, s(30));
        assert_eq!(active[0].labels.get("instance"), Some("a:1"));
        let (active, dropped) = targets_of(&config, s(15), s(10), &[group(&["a:1/x"], &[])]);
        assert!(active.is_empty());
        assert!(
            dropped[0]
                .error
                .as_deref()
                .unwrap_or("")
                .contains("hostname")
        );
        let timeout = job(concat!(
            "  relabel_configs:\n",
            "  - target_label: __scrape_timeout__\n",
            "    replacement: 1m\n",
        ));
        let (_, dropped) = targets_of(&timeout, s(15), s(10), &[group(&["a:1"], &[])]);
        assert!(
            dropped[0]
                .error
                .as_deref()
                .unwrap_or("")
                .contains("greater")
        );
    }

    #[test]
    fn shards_partition_targets_and_move_few_on_growth() {
        let targets: Vec<Labels> = (0..3000)
            .map(|i| Labels::from_pairs([("instance", format!("host-{i}:9100"))]).unwrap())
            .collect();
        for n in [1u32, 2, 3, 7] {
            let mut counts = vec![0usize; n as usize];
            for t in &targets {
                let s = shard_of(t, n);
                assert!(s < n);
                counts[s as usize] += 1;
            }
            let expected = targets.len() / n as usize;
            assert!(
                counts
                    .iter()
                    .all(|c| c.abs_diff(expected) < expected / 5 + 10),
                "{n} shards: {counts:?}"
            );
        }
        let moved = targets
            .iter()
            .filter(|t| shard_of(t, 3) != shard_of(t, 4))
            .count();
        // About a quarter of the targets move from 3 to 4 shards, not three quarters.
        assert!((600..900).contains(&moved), "{moved} moved");
    }
}
