//! Prometheus rule files (`rulefmt`): `groups[{name, interval, query_offset, limit, labels,
//! rules[{record | alert, expr, for, keep_firing_for, labels, annotations}]}]`, read strictly
//! (an unknown field is an error naming the field and its type, as Prometheus' YAML decoder
//! with `KnownFields` reports it) and validated as `rulefmt.RuleGroups.Validate` does, with
//! Prometheus' messages: every `expr` parsed as PromQL, names and label sets checked, and the
//! label and annotation templates of alerting rules parsed as Go templates.
//!
//! Prometheus prefixes validation errors with the YAML position of the offending node
//! (`5:15: group "g", rule 1, …`); Strata's YAML reader has no node positions, so they read as
//! Prometheus' errors without a node (`group "g", rule 1, …`). Parse errors carry a line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use strata_storage::METRIC_NAME;

/// A duration in rule files (`30s`, `1h30m`, `0`), as milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        strata_storage::duration::parse_duration(&s)
            .map(Duration)
            .map_err(|_| serde::de::Error::custom(format!("not a valid duration string: {s:?}")))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&strata_storage::duration::format_duration(self.0))
    }
}

/// A rule file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroups {
    #[serde(default)]
    pub groups: Vec<RuleGroup>,
}

/// A group of rules evaluated together, in order, at one interval.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    #[serde(default)]
    pub name: String,
    /// Evaluation interval; `None`: the global `evaluation_interval`.
    #[serde(default)]
    pub interval: Option<Duration>,
    /// How far behind the evaluation time queries run; `None`: the global `rule_query_offset`.
    #[serde(default)]
    pub query_offset: Option<Duration>,
    /// Most alerts or series one rule may produce (0: no limit).
    #[serde(default)]
    pub limit: usize,
    /// Labels added to every rule's output (Prometheus 3).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// A recording (`record`) or alerting (`alert`) rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub record: String,
    #[serde(default)]
    pub alert: String,
    #[serde(default)]
    pub expr: String,
    #[serde(default, rename = "for")]
    pub for_: Duration,
    #[serde(default)]
    pub keep_firing_for: Duration,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    /// The rule's name: the alert's or the recorded series'.
    pub fn name(&self) -> &str {
        if self.alert.is_empty() {
            &self.record
        } else {
            &self.alert
        }
    }

    /// True for an alerting rule.
    pub fn is_alert(&self) -> bool {
        !self.alert.is_empty()
    }
}

/// Why a rule file was refused: one message per problem, in Prometheus' words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct RuleFileError {
    pub errors: Vec<String>,
}

impl RuleGroups {
    /// Reads and validates a rule file's text.
    pub fn parse(text: &str) -> Result<Self, RuleFileError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let groups: RuleGroups = match serde_path_to_error::deserialize(de) {
            Ok(g) => g,
            Err(e) => {
                return Err(RuleFileError {
                    errors: vec![yaml_error(&e)],
                });
            }
        };
        let errors = groups.validate();
        if errors.is_empty() {
            Ok(groups)
        } else {
            Err(RuleFileError { errors })
        }
    }

    /// Reads and validates a rule file; errors are prefixed with its path, as promtool does.
    pub fn load(path: &Path) -> Result<Self, RuleFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| RuleFileError {
            errors: vec![format!("{}: {e}", path.display())],
        })?;
        Self::parse(&text).map_err(|e| RuleFileError {
            errors: e
                .errors
                .into_iter()
                .map(|m| format!("{}: {m}", path.display()))
                .collect(),
        })
    }

    /// Number of rules over all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }

    /// Rules with the same name and labels (promtool's `duplicate-rules` lint): the name and
    /// labels of each duplicate, sorted.
    pub fn duplicates(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let mut all: Vec<(String, BTreeMap<String, String>)> = self
            .groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .map(|r| (r.name().to_string(), r.labels.clone()))
            .collect();
        all.sort();
        all.windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0].clone())
            .collect()
    }

    /// Prometheus' `RuleGroups.Validate`: every problem, in file order.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        for g in &self.groups {
            if g.name.is_empty() {
                errors.push("Groupname must not be empty".to_string());
            }
            if !seen.insert(g.name.as_str()) {
                errors.push(format!(
                    "groupname: {:?} is repeated in the same file",
                    g.name
                ));
            }
            errors.extend(label_set_errors(&g.labels));
            for (i, rule) in g.rules.iter().enumerate() {
                for e in rule.validate() {
                    errors.push(format!(
                        "group {:?}, rule {}, {:?}: {e}",
                        g.name,
                        i + 1,
                        rule.name()
                    ));
                }
            }
        }
        errors
    }
}

/// Invalid label names (empty, or `__name__`) and values of a label set.
fn label_set_errors(labels: &BTreeMap<String, String>) -> Vec<String> {
    labels
        .keys()
        .filter(|k| k.is_empty() || *k == METRIC_NAME)
        .map(|k| format!("invalid label name: {k}"))
        .collect()
}

impl Rule {
    /// Prometheus' `RuleNode.Validate` plus its template checks.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !self.record.is_empty() && !self.alert.is_empty() {
            errors.push("only one of 'record' and 'alert' must be set".to_string());
        }
        if self.record.is_empty() && self.alert.is_empty() {
            errors.push("one of 'record' or 'alert' must be set".to_string());
        }
        if self.expr.is_empty() {
            errors.push("field 'expr' must be set in rule".to_string());
        } else if let Err(e) = strata_promql::parse(&self.expr) {
            errors.push(format!("could not parse expression: {e}"));
        }
        if !self.record.is_empty() {
            if !self.annotations.is_empty() {
                errors.push("invalid field 'annotations' in recording rule".to_string());
            }
            if self.for_.0 != 0 {
                errors.push("invalid field 'for' in recording rule".to_string());
            }
            if self.keep_firing_for.0 != 0 {
                errors.push("invalid field 'keep_firing_for' in recording rule".to_string());
            }
        }
        errors.extend(label_set_errors(&self.labels));
        for k in self.annotations.keys().filter(|k| k.is_empty()) {
            errors.push(format!("invalid annotation name: {k}"));
        }
        if self.is_alert() {
            let name = format!("__alert_{}", self.alert);
            for (k, v) in &self.labels {
                if let Err(e) = crate::template::check_alert_template(&name, v) {
                    errors.push(format!("label {k:?}: {e}"));
                }
            }
            for (k, v) in &self.annotations {
                if let Err(e) = crate::template::check_alert_template(&name, v) {
                    errors.push(format!("annotation {k:?}: {e}"));
                }
            }
        }
        errors
    }
}

/// A YAML decoding error as Prometheus' decoder words it: `yaml: unmarshal errors:` and the
/// line with `field X not found in type rulefmt.T` for unknown fields.
fn yaml_error(e: &serde_path_to_error::Error<serde_yaml_ng::Error>) -> String {
    let inner = e.inner();
    let line = inner.location().map(|l| l.line()).unwrap_or(0);
    let message = inner.to_string();
    // serde's wording: "unknown field `foo`, expected one of …".
    if let Some(at) = message.find("unknown field `")
        && let Some((field, _)) = message[at + "unknown field `".len()..].split_once('`')
    {
        let path = e.path().to_string();
        let ty = if path.contains(".rules[") {
            "Rule"
        } else if path.starts_with("groups[") {
            "RuleGroup"
        } else {
            "RuleGroups"
        };
        return format!(
            "yaml: unmarshal errors:\n  line {line}: field {field} not found in type rulefmt.{ty}"
        );
    }
    let detail = message.split(" at line ").next().unwrap_or(&message);
    if line > 0 {
        format!("yaml: unmarshal errors:\n  line {line}: {detail}")
    } else {
        format!("yaml: {detail}")
    }
}

/// Expands `rule_files` globs relative to `base` (the configuration file's directory), as
/// Prometheus does; a pattern that matches nothing is no error.
pub fn expand_rule_files(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = BTreeSet::new();
    for pattern in patterns {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        for path in glob(&full)? {
            out.insert(path);
        }
    }
    Ok(out.into_iter().collect())
}

/// Go's `filepath.Glob` on the last path element (`*`, `?`, `[…]`): the directory part is
/// taken literally, as in nearly every `rule_files` entry (`rules/*.yml`).
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Ok(vec![pattern.to_path_buf()]);
    };
    if !name.contains(['*', '?', '[']) {
        return Ok(if pattern.exists() {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let re = glob_regex(name).ok_or_else(|| format!("invalid rule file pattern {name:?}"))?;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| re.is_match(n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// A glob element as an anchored regex (`*` and `?` never match `/`).
fn glob_regex(name: &str) -> Option<regex::Regex> {
    let mut re = String::from("^");
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    re.push('^');
                }
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                if !closed {
                    return None;
                }
                re.push(']');
            }
            '\\' => re.push_str(&regex::escape(&chars.next()?.to_string())),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 10
    labels:
      team: a
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} down ({{ $value }})"
"#;

    #[test]
    fn reads_every_field() {
        let g = RuleGroups::parse(GOOD).unwrap();
        assert_eq!(g.rule_count(), 2);
        let group = &g.groups[0];
        assert_eq!(group.interval, Some(Duration(30_000)));
        assert_eq!(group.query_offset, Some(Duration(60_000)));
        assert_eq!(group.limit, 10);
        assert_eq!(group.labels["team"], "a");
        let alert = &group.rules[1];
        assert!(alert.is_alert());
        assert_eq!(alert.name(), "Down");
        assert_eq!(alert.for_, Duration(300_000));
        assert_eq!(alert.keep_firing_for, Duration(60_000));
        assert_eq!(group.rules[0].name(), "job:up:sum");
    }

    /// The messages of `promtool check rules` (2.42) on the same file, without the YAML
    /// positions Prometheus' node-aware decoder adds.
    #[test]
    fn validation_errors_read_like_prometheus() {
        let bad = r#"
groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up
        annotations:
          a: b
      - alert: X
        record: y
        expr: up
      - alert: T
        expr: up
        annotations:
          s: "{{ .Foo | nosuch }}"
  - name: g
    rules: []
"#;
        let err = RuleGroups::parse(bad).unwrap_err();
        assert_eq!(
            err.errors,
            vec![
                r#"group "g", rule 1, "job:up:sum": could not parse expression: 1:17: parse error: unclosed left parenthesis"#,
                r#"group "g", rule 1, "job:up:sum": invalid field 'annotations' in recording rule"#,
                r#"group "g", rule 2, "X": only one of 'record' and 'alert' must be set"#,
                r#"group "g", rule 3, "T": annotation "s": template: __alert_T:1: function "nosuch" not defined"#,
                r#"groupname: "g" is repeated in the same file"#,
            ]
        );
    }

    #[test]
    fn unknown_fields_and_bad_yaml_are_named() {
        let err =
            RuleGroups::parse("groups:\n  - name: g\n    foo: 1\n    rules: []\n").unwrap_err();
        assert_eq!(
            err.errors,
            vec![
                "yaml: unmarshal errors:\n  line 3: field foo not found in type rulefmt.RuleGroup"
            ]
        );
        let err = RuleGroups::parse("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        bar: 2\n").unwrap_err();
        assert_eq!(
            err.errors,
            vec!["yaml: unmarshal errors:\n  line 6: field bar not found in type rulefmt.Rule"]
        );
        let err = RuleGroups::parse("groups: [").unwrap_err();
        assert!(err.errors[0].starts_with("yaml: "), "{err}");
        let err = RuleGroups::parse("groups:\n  - name: g\n    interval: 5x\n").unwrap_err();
        assert!(
            err.errors[0].contains(r#"not a valid duration string: "5x""#),
            "{err}"
        );
    }

    #[test]
    fn rule_shape_checks() {
        let rule = |yaml: &str| {
            RuleGroups::parse(&format!("groups:\n  - name: g\n    rules:\n{yaml}"))
                .err()
                .map(|e| e.errors)
                .unwrap_or_default()
        };
        assert_eq!(
            rule("      - expr: up\n"),
            vec![r#"group "g", rule 1, "": one of 'record' or 'alert' must be set"#]
        );
        assert_eq!(
            rule("      - record: r\n"),
            vec![r#"group "g", rule 1, "r": field 'expr' must be set in rule"#]
        );
        assert_eq!(
            rule(
                "      - record: r\n        expr: up\n        for: 1m\n        labels:\n          __name__: x\n"
            ),
            vec![
                r#"group "g", rule 1, "r": invalid field 'for' in recording rule"#,
                r#"group "g", rule 1, "r": invalid label name: __name__"#,
            ]
        );
        assert!(rule("      - alert: A\n        expr: up\n        labels:\n          s: '{{ $labels.job }}'\n").is_empty());
        assert_eq!(
            RuleGroups::parse("groups:\n  - rules: []\n")
                .unwrap_err()
                .errors,
            vec!["Groupname must not be empty"]
        );
    }

    #[test]
    fn rule_file_globs() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.yml", "b.yml", "c.yaml", "d.txt"] {
            std::fs::write(dir.path().join(name), "groups: []\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/e.yml"), "groups: []\n").unwrap();
        let names = |patterns: &[&str]| -> Vec<String> {
            let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
            expand_rule_files(dir.path(), &patterns)
                .unwrap()
                .iter()
                .map(|p| {
                    p.strip_prefix(dir.path())
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        };
        assert_eq!(names(&["*.yml"]), ["a.yml", "b.yml"]);
        assert_eq!(names(&["*.y?ml", "sub/*.yml"]), ["c.yaml", "sub/e.yml"]);
        assert_eq!(
            names(&["[ab].yml", "a.yml", "missing.yml"]),
            ["a.yml", "b.yml"]
        );
        assert!(expand_rule_files(dir.path(), &["[a.yml".to_string()]).is_err());
    }
}
