//! Prometheus relabeling (`relabel_configs` and `metric_relabel_configs`), as Prometheus 3
//! implements it in `model/relabel/relabel.go`.
//!
//! A [`RelabelConfig`] deserializes from the Prometheus YAML form (action names in any case,
//! omitted fields take Prometheus' defaults, an explicit `null` takes Go's zero value) and is
//! checked by [`RelabelConfig::validate`] with Prometheus' rules and messages. Label names
//! follow the Prometheus 3 UTF-8 scheme: any non-empty name is valid.
//!
//! [`relabel`] applies rules in order to a label list sorted by name; setting a label to the
//! empty string deletes it, and `keep`/`drop`/`keepequal`/`dropequal` stop at the first rule
//! that drops the series or target.
//!
//! Regexes are fully anchored (`^(?s:<expr>)$`), and Go's RE2 dialect is mapped onto the
//! `regex` crate where the two differ: `\d`, `\w`, `\s` and `\b` are ASCII-only, `\Q…\E`
//! quotes, a `{` that does not start a repetition is literal, and `[`, `&&`, `~~`, `--`
//! inside a class are literal.

use std::fmt;
use std::sync::LazyLock;
use strata_storage::goregex::expand;

use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer, de};
use strata_storage::Label;

use super::labelset;

const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

static DEFAULT_COMPILED: LazyLock<Regex> = LazyLock::new(|| match Regex::new(DEFAULT_REGEX) {
    Ok(re) => re,
    Err(e) => unreachable!("the default relabel regex compiles: {e}"),
});

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_owned()
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_owned()
}

/// Go's YAML decoder sets a field given as `null` to its zero value; do the same.
fn null_as_zero<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One relabeling rule, deserialized from Prometheus YAML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub source_labels: Vec<String>,
    /// Put between source label values; `;` by default.
    #[serde(default = "default_separator", deserialize_with = "null_as_zero")]
    pub separator: String,
    /// Matched against the input (or label names, for the label* actions).
    #[serde(default)]
    pub regex: Regex,
    /// Modulus of the `hashmod` action.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub modulus: u64,
    /// Label written by the rule; may hold `$1`/`${name}` templates for `replace`.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub target_label: String,
    /// Template of the written value (`replace`) or name (`labelmap`); `$1` by default.
    #[serde(default = "default_replacement", deserialize_with = "null_as_zero")]
    pub replacement: String,
    /// What the rule does; `replace` by default.
    #[serde(default)]
    pub action: Action,
}

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The action's name as Prometheus spells it (`keepequal`, `hashmod`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Err(de::Error::custom("relabel action cannot be empty"));
        };
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| de::Error::custom(format!("unknown relabel action {s:?}")))
    }
}

/// A fully anchored regex: `expr` is compiled as `^(?s:<expr>)$`, like Prometheus does.
/// Displays as, and compares by, the original text.
#[derive(Clone)]
pub struct Regex {
    expr: String,
    re: regex::Regex,
}

impl Regex {
    /// Compiles `expr` (Go RE2 syntax) anchored at both ends.
    pub fn new(expr: &str) -> Result<Self, regex::Error> {
        let re = strata_storage::goregex::anchored(expr)?;
        Ok(Self {
            expr: expr.to_owned(),
            re,
        })
    }

    /// The original expression, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// True when the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

impl Default for Regex {
    fn default() -> Self {
        DEFAULT_COMPILED.clone()
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Eq for Regex {}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regex").field(&self.expr).finish()
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `regex: null` compiles the empty expression, and a number or boolean its text
        // (`regex: 9100`, as the operator writes port filters), as in Prometheus.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Text(String),
            Int(i64),
            Bool(bool),
        }
        let expr = match Option::<Scalar>::deserialize(d)? {
            None => String::new(),
            Some(Scalar::Text(t)) => t,
            Some(Scalar::Int(n)) => n.to_string(),
            Some(Scalar::Bool(b)) => b.to_string(),
        };
        Regex::new(&expr).map_err(de::Error::custom)
    }
}

/// Prometheus 3 (UTF-8 scheme): any non-empty name is a valid label name.
fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

impl RelabelConfig {
    /// Checks the rule as Prometheus does when loading its configuration (the label names of
    /// `source_labels` first, then `Config.Validate`), with Prometheus' messages.
    pub fn validate(&self) -> Result<(), String> {
        let action = self.action;
        if let Some(bad) = self.source_labels.iter().find(|n| !is_valid_label_name(n)) {
            return Err(format!("{bad:?} is not a valid label name"));
        }
        if action == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".to_owned());
        }
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Err(format!(
                "relabel configuration for {action} action requires 'target_label' value"
            ));
        }
        // Prometheus then checks that the target is a valid label name (a `$1`/`${name}`
        // template for replace). Under the UTF-8 scheme every non-empty name is valid, `$`
        // included, so once the target is non-empty that check (and the one for hashmod
        // below in Prometheus) cannot fail.
        let equal_or_case = matches!(
            action,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if equal_or_case && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == Action::LabelMap && !is_valid_label_name(&self.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {action} action",
                self.replacement
            ));
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex.as_str() != DEFAULT_REGEX
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{action} action requires only 'regex', and no other fields"
            ));
        }
        Ok(())
    }
}

/// Go's `strings.ToLower`: per-character simple case mapping (no context, no expansion).
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut m = c.to_lowercase();
            // Only U+0130 lowercases to two characters; its simple mapping is 'i'.
            m.next().unwrap_or(c)
        })
        .collect()
}

/// Go's `strings.ToUpper`: per-character simple case mapping (`ß` stays `ß`).
fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut m = c.to_uppercase();
            match (m.next(), m.next()) {
                (Some(u), None) => u,
                // Full mappings that expand have no simple mapping, except Greek letters with
                // ypogegrammeni, whose simple uppercase is the prosgegrammeni form.
                _ => match u32::from(c) {
                    0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                        char::from_u32(u32::from(c) + 8).unwrap_or(c)
                    }
                    0x1FB3 | 0x1FC3 | 0x1FF3 => char::from_u32(u32::from(c) + 9).unwrap_or(c),
                    _ => c,
                },
            }
        })
        .collect()
}

/// Applies `configs` in order to `labels` (sorted by name, names unique; setting a label to ""
/// deletes it). Returns false when the series or target is dropped, true otherwise.
pub fn relabel(labels: &mut Vec<Label>, configs: &[RelabelConfig]) -> bool {
    configs.iter().all(|cfg| apply(labels, cfg))
}

fn apply(labels: &mut Vec<Label>, cfg: &RelabelConfig) -> bool {
    let val = match cfg.source_labels.as_slice() {
        [one] => labelset::get(labels, one).to_owned(),
        many => many
            .iter()
            .map(|n| labelset::get(labels, n))
            .collect::<Vec<_>>()
            .join(&cfg.separator),
    };
    let re = &cfg.regex;
    match cfg.action {
        Action::Drop => return !re.is_match(&val),
        Action::Keep => return re.is_match(&val),
        Action::DropEqual => return labelset::get(labels, &cfg.target_label) != val,
        Action::KeepEqual => return labelset::get(labels, &cfg.target_label) == val,
        Action::Replace => {
            // No match: no replacement takes place.
            if let Some(caps) = re.re.captures(&val) {
                let target = expand(&caps, &cfg.target_label);
                if is_valid_label_name(&target) {
                    labelset::set(labels, &target, expand(&caps, &cfg.replacement));
                }
            }
        }
        Action::Lowercase => labelset::set(labels, &cfg.target_label, go_to_lower(&val)),
        Action::Uppercase => labelset::set(labels, &cfg.target_label, go_to_upper(&val)),
        Action::HashMod => {
            let digest = Md5::digest(val.as_bytes());
            // The last 8 bytes, big-endian, as Prometheus has always done.
            let tail = digest
                .iter()
                .skip(8)
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            let modulus = cfg.modulus.max(1);
            labelset::set(labels, &cfg.target_label, (tail % modulus).to_string());
        }
        Action::LabelMap => {
            // Decided on the labels as they were before the rule, then applied in order.
            let mapped: Vec<(String, String)> = labels
                .iter()
                .filter_map(|l| {
                    let caps = re.re.captures(&l.name)?;
                    Some((expand(&caps, &cfg.replacement), l.value.clone()))
                })
                .collect();
            for (name, value) in mapped {
                if is_valid_label_name(&name) {
                    labelset::set(labels, &name, value);
                }
            }
        }
        Action::LabelDrop => labels.retain(|l| !re.is_match(&l.name)),
        Action::LabelKeep => labels.retain(|l| re.is_match(&l.name)),
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "relabel_tests.rs"]
mod tests;
