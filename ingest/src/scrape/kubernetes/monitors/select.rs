//! Kubernetes label selectors (`matchLabels`, `matchExpressions` with `In`, `NotIn`,
//! `Exists`, `DoesNotExist`): checked as the API machinery checks them
//! (`metav1.LabelSelectorAsSelector`), evaluated in memory against an object's labels
//! (which monitors and namespaces `kubernetes_monitors` selects), and rendered in the
//! API's text form for a `labelSelector` (a monitor's `selectorMechanism: RoleSelector`).

use std::collections::BTreeMap;

use super::model::LabelSelector;

impl LabelSelector {
    /// Checks the operators and their values.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in &self.match_labels {
            check_key(key)?;
            check_value(value)?;
        }
        for r in &self.match_expressions {
            check_key(&r.key)?;
            match r.operator.as_str() {
                "In" | "NotIn" => {
                    if r.values.is_empty() {
                        return Err(format!(
                            "{:?} {}: values must be non-empty",
                            r.key, r.operator
                        ));
                    }
                    for v in &r.values {
                        check_value(v)?;
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !r.values.is_empty() {
                        return Err(format!("{:?} {}: values must be empty", r.key, r.operator));
                    }
                }
                other => {
                    return Err(format!(
                        "{:?}: {other:?} is not a valid label selector operator",
                        r.key
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether `labels` match (an empty selector matches everything).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// The API's text form (`labels.Selector.String()`): requirements sorted by key,
    /// `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by commas.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<(&str, String)> = self
            .match_labels
            .iter()
            .map(|(k, v)| (k.as_str(), format!("{k}={v}")))
            .collect();
        for r in &self.match_expressions {
            let mut values = r.values.clone();
            values.sort();
            values.dedup();
            let text = match r.operator.as_str() {
                "In" => format!("{} in ({})", r.key, values.join(",")),
                "NotIn" => format!("{} notin ({})", r.key, values.join(",")),
                "Exists" => r.key.clone(),
                _ => format!("!{}", r.key),
            };
            parts.push((r.key.as_str(), text));
        }
        parts.sort_by(|a, b| a.0.cmp(b.0));
        parts
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A qualified name with an optional DNS-subdomain prefix (`app.kubernetes.io/name`).
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(format!("{key:?} is not a valid label key"))
    }
}

fn check_value(value: &str) -> Result<(), String> {
    let ok = value.is_empty()
        || (value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
    if ok {
        Ok(())
    } else {
        Err(format!("{value:?} is not a valid label value"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Requirement;
    use super::*;

    fn req(key: &str, op: &str, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_matches_as_kubernetes_does() {
        let s = LabelSelector {
            match_labels: labels(&[("team", "a")]),
            match_expressions: vec![
                req("tier", "In", &["web", "api"]),
                req("canary", "DoesNotExist", &[]),
                req("release", "Exists", &[]),
                req("zone", "NotIn", &["x"]),
            ],
        };
        assert!(s.validate().is_ok());
        let base = [("team", "a"), ("tier", "web"), ("release", "1")];
        assert!(s.matches(&labels(&base)));
        assert!(s.matches(&labels(&[
            ("team", "a"),
            ("tier", "api"),
            ("release", ""),
            ("zone", "y")
        ])));
        assert!(!s.matches(&labels(&[("team", "b"), ("tier", "web"), ("release", "1")])));
        assert!(!s.matches(&labels(&[("team", "a"), ("tier", "db"), ("release", "1")])));
        assert!(!s.matches(&labels(&[("team", "a"), ("tier", "web")])));
        let mut canary = labels(&base);
        canary.insert("canary".into(), "true".into());
        assert!(!s.matches(&canary));
        let mut zoned = labels(&base);
        zoned.insert("zone".into(), "x".into());
        assert!(!s.matches(&zoned));
        assert!(LabelSelector::default().matches(&BTreeMap::new()));
    }

    #[test]
    fn invalid_selectors_are_refused_with_their_reason() {
        let bad = |r: Requirement| {
            LabelSelector {
                match_labels: BTreeMap::new(),
                match_expressions: vec![r],
            }
            .validate()
            .unwrap_err()
        };
        assert!(bad(req("a", "Equals", &["x"])).contains("not a valid label selector operator"));
        assert!(bad(req("a", "In", &[])).contains("values must be non-empty"));
        assert!(bad(req("a", "Exists", &["x"])).contains("values must be empty"));
        assert!(bad(req("-a", "Exists", &[])).contains("not a valid label key"));
        let value = LabelSelector {
            match_labels: labels(&[("a", "not valid!")]),
            match_expressions: vec![],
        };
        assert!(
            value
                .validate()
                .unwrap_err()
                .contains("not a valid label value")
        );
    }

    #[test]
    fn text_form_sorts_by_key_as_the_api_machinery() {
        let s = LabelSelector {
            match_labels: labels(&[("group", "group1")]),
            match_expressions: vec![
                req("groupb", "DoesNotExist", &[]),
                req("group", "In", &["group3", "group2"]),
                req("app", "Exists", &[]),
                req("b", "NotIn", &["y", "x"]),
            ],
        };
        assert_eq!(
            s.to_query(),
            "app,b notin (x,y),group=group1,group in (group2,group3),!groupb"
        );
    }
}
