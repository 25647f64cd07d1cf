//! `info(v, [selector])`: enriches series with the data labels of info metrics
//! (`target_info` by default) that share their identifying labels (`instance`, `job`).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use strata_storage::{Labels, METRIC_NAME};

use super::is_stale;
use super::selector::load;
use crate::engine::context::{EvalContext, Steps};
use crate::engine::node::PromOp;
use crate::engine::value::Series;
use crate::error::QueryError;
use crate::matcher::Matcher;
use crate::select::InstantReads;

/// Labels that join a series to its info series.
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The `info` function.
#[derive(Debug)]
pub(crate) struct InfoFunction {
    /// Matchers on `__name__` choosing the info metrics (`target_info` by default).
    pub(crate) name_matchers: Vec<Matcher>,
    /// Matchers on data labels: info series must match them, and only their labels are added.
    pub(crate) data_matchers: Vec<Matcher>,
    pub(crate) steps: Steps,
    pub(crate) lookback: i64,
}

fn identity(labels: &Labels) -> Vec<String> {
    IDENTIFYING
        .iter()
        .map(|l| labels.get(l).unwrap_or_default().to_string())
        .collect()
}

#[async_trait]
impl PromOp for InfoFunction {
    fn name(&self) -> &'static str {
        "Info"
    }

    fn describe(&self) -> String {
        let names: Vec<String> = self
            .name_matchers
            .iter()
            .map(|m| format!("{:?}", m.value()))
            .collect();
        let data: Vec<&str> = self.data_matchers.iter().map(Matcher::name).collect();
        format!(
            "info metrics {} data labels {:?} steps={:?}",
            names.join(" "),
            data,
            self.steps
        )
    }

    async fn evaluate(
        &self,
        ctx: &EvalContext,
        inputs: Vec<Vec<Series>>,
    ) -> Result<Vec<Series>, QueryError> {
        let base = inputs.into_iter().next().unwrap_or_default();
        let mut matchers = self.name_matchers.clone();
        matchers.extend(self.data_matchers.iter().cloned());
        // Info series are read as an instant selector reads: the sample current at each step.
        let reads = InstantReads {
            first: self.steps.start,
            last: self.steps.end,
            step: self.steps.step,
            lookback: self.lookback,
        };
        let infos = load(
            ctx,
            &matchers,
            self.steps.start - self.lookback + 1,
            self.steps.end,
            Some(reads),
        )
        .await?;
        ctx.account(infos.iter().map(|s| s.timestamps.len()).sum())?;
        let mut work = 0usize;
        let wanted: Vec<&str> = self.data_matchers.iter().map(Matcher::name).collect();
        let empty_ok = self.data_matchers.iter().all(Matcher::matches_empty);
        let mut out: BTreeMap<Labels, Series> = BTreeMap::new();
        for t in self.steps.iter() {
            // The current sample of each info series; per metric and identity, the newest wins.
            let mut current: HashMap<(String, Vec<String>), (i64, &Labels)> = HashMap::new();
            for s in &infos {
                work += 1;
                ctx.check_deadline_every(work)?;
                let Some(i) = s.newest_within(t, self.lookback) else {
                    continue;
                };
                if is_stale(s.values[i]) {
                    continue;
                }
                let key = (
                    s.labels.metric_name().unwrap_or_default().to_string(),
                    identity(&s.labels),
                );
                let ts = s.timestamps[i];
                if current.get(&key).is_none_or(|(seen, _)| *seen < ts) {
                    current.insert(key, (ts, &s.labels));
                }
            }
            for s in &base {
                let Some(v) = s.at(t) else { continue };
                let is_info = self
                    .name_matchers
                    .iter()
                    .all(|m| m.matches_labels(&s.labels));
                let id = identity(&s.labels);
                let matched: Vec<&Labels> = current
                    .iter()
                    .filter(|((_, ident), _)| *ident == id)
                    .map(|(_, (_, l))| *l)
                    .collect();
                let labels = if is_info {
                    s.labels.clone()
                } else if matched.is_empty() {
                    if !empty_ok {
                        continue;
                    }
                    s.labels.clone()
                } else {
                    let mut added: BTreeMap<&str, &str> = BTreeMap::new();
                    for info in matched {
                        for l in info.iter() {
                            let skip = l.name == METRIC_NAME
                                || IDENTIFYING.contains(&l.name.as_str())
                                || (!wanted.is_empty() && !wanted.contains(&l.name.as_str()))
                                || s.labels.get(&l.name).is_some();
                            if skip {
                                continue;
                            }
                            match added.insert(&l.name, &l.value) {
                                Some(other) if other != l.value => {
                                    return Err(QueryError::Execution(format!(
                                        "conflicting label: {} has values {other:?} and {:?} in different info metrics for {}",
                                        l.name, l.value, s.labels
                                    )));
                                }
                                _ => {}
                            }
                        }
                    }
                    let pairs = s
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .chain(
                            added
                                .into_iter()
                                .map(|(n, v)| (n.to_string(), v.to_string())),
                        );
                    Labels::from_pairs(pairs).unwrap_or_default()
                };
                let entry = out.entry(labels.clone()).or_insert_with(|| {
                    let mut r = Series::new(labels);
                    r.drop_name = s.drop_name;
                    r
                });
                entry.push(t, v);
            }
        }
        Ok(out.into_values().collect())
    }
}
