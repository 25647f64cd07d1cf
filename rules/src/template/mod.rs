//! Go's `text/template` with Prometheus' template functions, as alerting rules use it for
//! their labels and annotations.
//!
//! A template is parsed ([`Template::parse`]: lexer, parser, Go's checks and error texts) into
//! trees — the named one and those `{{define}}` and `{{block}}` add — and executed
//! ([`Template::execute`]) over a [`Value`] with Go's semantics: pipelines, variables and
//! their scopes, `if`/`range`/`with`/`else if`/`else with`, `break`/`continue`, `template`
//! calls, Go's builtins (`printf` and `print` with Go's `fmt`, `eq`/`lt`…, `index`, `len`,
//! `and`/`or` short-circuiting…) and Prometheus' functions (`query`, `humanize*`,
//! `reReplaceAll`, `toTime`…), with the option Prometheus sets, `missingkey=zero`.
//! Everything the functions need from outside — PromQL queries, the evaluation time, the
//! external URL — comes through an [`Env`].
//!
//! [`expand_alert_template`] is Prometheus' alert expansion: the variables `$labels`,
//! `$externalLabels`, `$externalURL` and `$value` defined before the text, and any error in
//! the output as `<error expanding template: …>`; [`check_alert_template`] is what `promtool
//! check rules` checks.
//!
//! Unlike Go, whose stacks grow, execution runs on the caller's stack: nesting (100 control
//! structures, 50 parentheses), `{{template}}` recursion (100 deep), execution steps and
//! output size are bounded, and exceeding a bound is an error, never a crash.
//!
//! Module map: `lexer` → `parse` (trees of `node`s) → `exec` (calling `builtins` and
//! `funcs`), printing through `format` (Go's `fmt`, with `float` for `strconv`'s float
//! formats and `gotime` for `time`'s), `strconv` for Go's literals and quoting, `value` for
//! the values.

mod builtins;
mod exec;
mod float;
mod format;
mod funcs;
mod gotime;
mod lexer;
mod node;
mod parse;
mod strconv;
mod value;

#[cfg(test)]
mod tests_exec;
#[cfg(test)]
mod tests_fmt;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_parse;
#[cfg(test)]
mod tests_prometheus;

use std::collections::BTreeMap;

pub use value::{GoStruct, QuerySample, Value, alert_template_data};

/// A template's failure, worded as Go's: a parse error (`template: NAME:LINE: message`) or an
/// execution error (`template: NAME:LINE:COL: executing "NAME" at <node>: message`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text does not parse.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        /// The template's name.
        name: String,
        /// The line Go reports.
        line: usize,
        /// What is wrong, as Go says it.
        message: String,
    },
    /// Execution failed; the whole message as Go words it.
    #[error("{0}")]
    Exec(String),
}

/// What Prometheus' template functions need from the outside world.
pub trait Env {
    /// Runs a PromQL instant query at the evaluation time (`query`); an error's text is
    /// reported as `error calling query: <text>`.
    fn query(&self, query: &str) -> Result<Vec<QuerySample>, String>;
    /// The evaluation time in Unix seconds (`now`).
    fn now(&self) -> f64;
    /// The external URL (`externalURL`; `pathPrefix` is its path).
    fn external_url(&self) -> &str;
}

/// A parsed template: the named tree and the ones it defines.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: String,
    trees: BTreeMap<String, node::List>,
}

impl Template {
    /// Parses `text` as the template `name` — Go's
    /// `template.New(name).Funcs(prometheusFuncs).Parse(text)`; calling a function that is
    /// neither Go's nor Prometheus' is a parse error, as in Go.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let trees = parse::parse(name, text, &|f| exec::lookup(f).is_some())?;
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            trees,
        })
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes the template with `data` as dot (and `$`); the output, or Go's error.
    pub fn execute(&self, data: &Value, env: &dyn Env) -> Result<String, TemplateError> {
        exec::Exec::run(&self.text, &self.name, &self.trees, data, env)
    }
}

/// The definitions Prometheus puts before every alert label and annotation template.
pub const ALERT_TEMPLATE_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// Expands an alert's label or annotation template as Prometheus does (`rules.AlertingRule`
/// with `template.Expander.Expand`): `name` is the template's name (Prometheus uses
/// `__alert_<alertname>`), [`ALERT_TEMPLATE_DEFS`] come before `text`, the data is
/// [`alert_template_data`]; a failure expands to `<error expanding template: error parsing
/// template NAME: …>` or `<error expanding template: error executing template NAME: …>`.
pub fn expand_alert_template(
    name: &str,
    text: &str,
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
    env: &dyn Env,
) -> String {
    let full = format!("{ALERT_TEMPLATE_DEFS}{text}");
    let data = alert_template_data(labels, external_labels, external_url, value);
    match Template::parse(name, &full) {
        Err(e) => format!("<error expanding template: error parsing template {name}: {e}>"),
        Ok(t) => match t.execute(&data, env) {
            Ok(out) => out,
            Err(e) => format!("<error expanding template: error executing template {name}: {e}>"),
        },
    }
}

/// Checks that an alert's label or annotation template parses, as `promtool check rules`
/// does (Prometheus' `ParseTest` with [`ALERT_TEMPLATE_DEFS`] before `text`); the error is
/// Go's, e.g. `template: __alert_X:1: function "foo" not defined`.
pub fn check_alert_template(name: &str, text: &str) -> Result<(), TemplateError> {
    Template::parse(name, &format!("{ALERT_TEMPLATE_DEFS}{text}")).map(|_| ())
}
