//! `promtool test rules` files run by Strata's own rule evaluation (`strata rules test`).
//!
//! The format is promtool's: `rule_files` (relative to the test file, globs allowed),
//! `evaluation_interval` (default 1m), `group_eval_order`, and `tests[]` with `interval`,
//! `input_series[{series, values}]` in the series notation (`1+2x3 _ stale`),
//! `alert_rule_test[{eval_time, alertname, exp_alerts[{exp_labels, exp_annotations}]}]`,
//! `promql_expr_test[{expr, eval_time, exp_samples[{labels, value}]}]`, `external_labels`,
//! `external_url`, `name`, and `fuzzy_compare`.
//!
//! Each test loads its input series into an in-memory store, evaluates every group at every
//! `evaluation_interval` from 0 to the last `eval_time` — through the same [`GroupState::eval`]
//! as the evaluator, with the PromQL engine and the template expander — and compares the
//! firing alerts and query results as promtool does, failures worded as promtool words them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use strata_promql::series::{Point, parse_series};
use strata_query::{EngineOptions, Overlay, SelectedSeries};
use strata_storage::{Labels, Manifest, SeriesSamples, Store, Transaction};

use crate::alerting::{AlertState, LabelMap, OutputSample, ResultSample};
use crate::eval::{GroupState, Rule, RuleBackend, TemplateExpander, query_samples};
use crate::rulefmt::{Duration, RuleGroups, expand_rule_files};

/// A unit-test file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTestFile {
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(default)]
    pub evaluation_interval: Option<Duration>,
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    #[serde(default)]
    pub tests: Vec<TestGroup>,
    /// Compare values with a relative tolerance of 1e-6 (newer promtool).
    #[serde(default)]
    pub fuzzy_compare: bool,
}

/// One test: its input series and expectations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    #[serde(default)]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    pub promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub external_url: String,
    #[serde(default)]
    pub name: String,
}

/// `{series: 'up{job="a"}', values: '1+1x10'}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    pub series: String,
    #[serde(default)]
    pub values: String,
}

/// The firing alerts of one alert name expected at one time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    pub eval_time: Duration,
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// An expression's expected samples at one time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    pub expr: String,
    pub eval_time: Duration,
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    #[serde(default)]
    pub labels: String,
    #[serde(default)]
    pub value: f64,
}

/// Runs one unit-test file: `Ok` when every test passes, else promtool's messages.
pub async fn run_file(path: &Path) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{e}")])?;
    let de = serde_yaml_ng::Deserializer::from_str(&text);
    let file: UnitTestFile =
        serde_path_to_error::deserialize(de).map_err(|e| vec![e.inner().to_string()])?;
    let base = path.parent().unwrap_or(Path::new("."));
    let rule_files = expand_rule_files(base, &file.rule_files).map_err(|e| vec![e])?;
    let mut groups: Vec<(PathBuf, crate::rulefmt::RuleGroup)> = Vec::new();
    for rule_file in &rule_files {
        let loaded = RuleGroups::load(rule_file).map_err(|e| e.errors)?;
        groups.extend(loaded.groups.into_iter().map(|g| (rule_file.clone(), g)));
    }
    // `group_eval_order` first, the other groups after them in file order.
    let order = |name: &str| {
        file.group_eval_order
            .iter()
            .position(|n| n == name)
            .unwrap_or(usize::MAX)
    };
    groups.sort_by_key(|(_, g)| order(&g.name));
    let interval = file.evaluation_interval.map_or(60_000, |d| d.0).max(1);
    let mut errors = Vec::new();
    for test in &file.tests {
        if let Err(e) = run_test(test, &groups, interval, file.fuzzy_compare).await {
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The in-memory store of one test: the input series in a block, the rules' outputs in an
/// overlay the engine reads as if stored.
struct MemoryBackend {
    store: Store,
    manifest: Manifest,
    outputs: Mutex<BTreeMap<Labels, TimesValues>>,
}

/// A series' timestamps and values.
type TimesValues = (Vec<i64>, Vec<f64>);

impl MemoryBackend {
    fn overlay(&self) -> Overlay {
        let outputs = self.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        Overlay(Arc::new(
            outputs
                .into_iter()
                .map(|(labels, (timestamps, values))| SelectedSeries {
                    labels,
                    timestamps,
                    values,
                    start_timestamps: Vec::new(),
                })
                .collect(),
        ))
    }
}

#[async_trait]
impl RuleBackend for MemoryBackend {
    async fn query(&self, expr: &str, t: i64) -> Result<Vec<ResultSample>, String> {
        let snapshot = self.manifest.snapshot().await.map_err(|e| e.to_string())?;
        let options = EngineOptions::default();
        query_samples(&self.store, &options, snapshot, self.overlay(), expr, t).await
    }

    async fn append(&self, samples: Vec<OutputSample>) -> Result<(), String> {
        let mut outputs = self
            .outputs
            .lock()
            .map_err(|_| "rule outputs lock poisoned".to_string())?;
        for s in samples {
            let labels = Labels::from_pairs(s.labels).map_err(|e| e.to_string())?;
            let (timestamps, values) = outputs.entry(labels).or_default();
            // Evaluations run in time order; a later write at the same time replaces.
            if timestamps.last() == Some(&s.t) {
                if let Some(v) = values.last_mut() {
                    *v = s.value;
                }
            } else {
                timestamps.push(s.t);
                values.push(s.value);
            }
        }
        Ok(())
    }
}

async fn commit(
    store: &Store,
    manifest: &Manifest,
    series: Vec<SeriesSamples>,
) -> Result<(), String> {
    if series.is_empty() {
        return Ok(());
    }
    let uploaded = strata_storage::publish::encode_and_upload(
        store,
        series,
        Arc::default(),
        strata_storage::EncodeOptions::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    strata_storage::publish::commit(
        manifest,
        Transaction::add(vec![uploaded.meta], std::time::Instant::now()),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}

async fn run_test(
    test: &TestGroup,
    groups: &[(PathBuf, crate::rulefmt::RuleGroup)],
    eval_interval: i64,
    fuzzy: bool,
) -> Result<(), Vec<String>> {
    let prefix = if test.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", test.name)
    };
    let store = Store::open("memory://").map_err(|e| vec![e.to_string()])?;
    let manifest = Manifest::new(store.clone(), "rules-test");
    let step = test.interval.map_or(eval_interval, |d| d.0).max(1);
    let mut input = Vec::new();
    for s in &test.input_series {
        let desc = parse_series(&format!("{} {}", s.series, s.values))
            .map_err(|e| vec![format!("{prefix}    parsing series {:?}: {e}", s.series)])?;
        let (mut timestamps, mut values) = (Vec::new(), Vec::new());
        for (i, p) in desc.points.iter().enumerate() {
            match p {
                Point::Omitted => {}
                Point::Float(v) => {
                    timestamps.push(i as i64 * step);
                    values.push(*v);
                }
                Point::Histogram(_) => {
                    return Err(vec![format!(
                        "{prefix}    series {:?}: native histograms are not supported",
                        s.series
                    )]);
                }
            }
        }
        if timestamps.is_empty() {
            continue;
        }
        input.push(SeriesSamples {
            labels: Labels::from_pairs(desc.labels).map_err(|e| vec![e.to_string()])?,
            timestamps,
            values,
            start_timestamps: Vec::new(),
        });
    }
    commit(&store, &manifest, input)
        .await
        .map_err(|e| vec![e])?;
    let backend = MemoryBackend {
        store,
        manifest,
        outputs: Mutex::default(),
    };
    let expander = TemplateExpander {
        backend: &backend,
        external_labels: &test.external_labels,
        external_url: &test.external_url,
    };
    let mut states: Vec<GroupState> = groups
        .iter()
        .map(|(file, g)| GroupState::new(g, &file.display().to_string(), eval_interval, 0))
        .collect();
    let mut alert_times: Vec<i64> = test.alert_rule_test.iter().map(|c| c.eval_time.0).collect();
    alert_times.sort_unstable();
    alert_times.dedup();
    let last = alert_times
        .iter()
        .copied()
        .chain(test.promql_expr_test.iter().map(|c| c.eval_time.0))
        .max()
        .unwrap_or(0);
    let mut errors = Vec::new();
    let mut next_alert = 0;
    let mut ts = 0;
    while ts <= last {
        for g in &mut states {
            g.eval(ts, &backend, &expander).await;
        }
        // Alert expectations at `ts ≤ eval_time < ts + interval` are checked against this
        // evaluation, as promtool does.
        while next_alert < alert_times.len() && alert_times[next_alert] < ts + eval_interval {
            let t = alert_times[next_alert];
            for case in test.alert_rule_test.iter().filter(|c| c.eval_time.0 == t) {
                check_alerts(case, &states, &prefix, &mut errors);
            }
            next_alert += 1;
        }
        ts += eval_interval;
    }
    for case in &test.promql_expr_test {
        check_expr(case, &backend, fuzzy, &prefix, &mut errors).await;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Labels and annotations of one alert, printed as promtool prints them.
type AlertView = (LabelMap, LabelMap);

fn check_alerts(
    case: &AlertTestCase,
    states: &[GroupState],
    prefix: &str,
    errors: &mut Vec<String>,
) {
    let mut got: Vec<AlertView> = states
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| match &r.rule {
            Rule::Alerting(a) if a.name == case.alertname => Some(a),
            _ => None,
        })
        .flat_map(|a| a.active.values())
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| (a.labels.clone(), a.annotations.clone()))
        .collect();
    let mut exp: Vec<AlertView> = case
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels = a.exp_labels.clone();
            labels.insert("alertname".to_string(), case.alertname.clone());
            (labels, a.exp_annotations.clone())
        })
        .collect();
    got.sort();
    exp.sort();
    if got != exp {
        errors.push(format!(
            "{prefix}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
            case.alertname,
            case.eval_time,
            alerts_text(&exp),
            alerts_text(&got)
        ));
    }
}

fn labels_text(labels: &LabelMap) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn alerts_text(alerts: &[AlertView]) -> String {
    let mut out = String::from("[\n");
    for (i, (labels, annotations)) in alerts.iter().enumerate() {
        out.push_str(&format!(
            "            {i}:\n              Labels:{}\n              Annotations:{}\n",
            labels_text(labels),
            labels_text(annotations)
        ));
    }
    out.push_str("            ]");
    out
}

async fn check_expr(
    case: &PromqlTestCase,
    backend: &MemoryBackend,
    fuzzy: bool,
    prefix: &str,
    errors: &mut Vec<String>,
) {
    let mut got = match backend.query(&case.expr, case.eval_time.0).await {
        Ok(samples) => samples,
        Err(e) => {
            errors.push(format!(
                "{prefix}    expr: {:?}, time: {}, err: {e}",
                case.expr, case.eval_time
            ));
            return;
        }
    };
    let mut exp = Vec::new();
    for s in &case.exp_samples {
        let labels = if s.labels.trim().is_empty() {
            LabelMap::new()
        } else {
            match parse_series(&s.labels) {
                Ok(desc) => desc.labels.into_iter().collect(),
                Err(e) => {
                    errors.push(format!(
                        "{prefix}    expr: {:?}, time: {}, err: parsing labels {:?}: {e}",
                        case.expr, case.eval_time, s.labels
                    ));
                    return;
                }
            }
        };
        exp.push(ResultSample {
            labels,
            value: s.value,
        });
    }
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    exp.sort_by(|a, b| a.labels.cmp(&b.labels));
    let same = got.len() == exp.len()
        && got.iter().zip(&exp).all(|(g, e)| {
            g.labels == e.labels
                && (g.value == e.value
                    || (fuzzy
                        && (g.value - e.value).abs() <= 1e-6 * g.value.abs().max(e.value.abs())))
        });
    if !same {
        let text = |samples: &[ResultSample]| -> String {
            samples
                .iter()
                .map(|s| format!("{} {}", labels_text(&s.labels), go_e(s.value)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        errors.push(format!(
            "{prefix}    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
            case.expr,
            case.eval_time,
            text(&exp),
            text(&got)
        ));
    }
}

/// Go's `%E` (`2E+00`, `1.5E-03`).
fn go_e(v: f64) -> String {
    let e = crate::api::go_e(v);
    if v.is_finite() { e.to_uppercase() } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_exponent_format() {
        assert_eq!(go_e(2.0), "2E+00");
        assert_eq!(go_e(0.0015), "1.5E-03");
        assert_eq!(go_e(123456.0), "1.23456E+05");
    }
}
