//! The values a template computes with: Go's dynamic values as `text/template` sees them
//! through reflection, reduced to the types Prometheus' templates meet — basic kinds, the
//! label maps, query results and samples, `*time.Time` and `*time.Duration` — each knowing
//! its Go type name (`%T`, error texts) and Go's truth.

use std::collections::BTreeMap;

/// One sample of a query result, as Prometheus hands it to templates (`template.sample`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuerySample {
    /// The series' labels, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

/// A Go struct value: its type as `%T` prints it and its fields in declaration order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GoStruct {
    /// Go's type name, e.g. `struct { Labels map[string]string; Value interface {} }`.
    pub type_name: String,
    /// The fields, in order.
    pub fields: Vec<(String, Value)>,
}

/// A value in a template: the data given to `execute`, variables, function results.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Go's nil (an unset `interface{}`): prints as `<no value>` in an action.
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int` (64-bit, as Go's on the platforms Prometheus runs on).
    Int(i64),
    /// `uint8`, the byte `index` takes from a string.
    Byte(u8),
    /// `float64`.
    Float(f64),
    /// `string`.
    String(String),
    /// `html/template.HTML`, what `safeHtml` returns: a string of another Go type.
    Html(String),
    /// `map[string]string` (label sets): a missing key reads as `""`.
    Labels(BTreeMap<String, String>),
    /// `map[string]interface{}` (what `args` makes): a missing key reads as nil.
    Map(BTreeMap<String, Value>),
    /// `[]interface{}`.
    List(Vec<Value>),
    /// A query result (`template.queryResult`, a slice of `*template.sample`).
    Samples(Vec<QuerySample>),
    /// One sample (`*template.sample`), with fields `Labels` and `Value`.
    Sample(QuerySample),
    /// `*time.Time` in UTC, as Unix nanoseconds (what `toTime` returns).
    Time(i64),
    /// `*time.Duration` in nanoseconds (what `toDuration` returns).
    Duration(i64),
    /// A struct, such as the data of alert templates.
    Struct(GoStruct),
}

impl Value {
    /// Go's type name of the value, as `%T` prints it.
    pub fn go_type(&self) -> String {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Byte(_) => "uint8",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Html(_) => "template.HTML",
            Value::Labels(_) => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::List(_) => "[]interface {}",
            Value::Samples(_) => "template.queryResult",
            Value::Sample(_) => "*template.sample",
            Value::Time(_) => "*time.Time",
            Value::Duration(_) => "*time.Duration",
            Value::Struct(s) => return s.type_name.clone(),
        }
        .to_string()
    }

    /// Go's truth (`if`, `with`, `and`, `or`, `not`): false, 0, nil and empty strings, maps
    /// and slices are false; pointers and structs are true.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Byte(b) => *b != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) | Value::Html(s) => !s.is_empty(),
            Value::Labels(m) => !m.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Samples(s) => !s.is_empty(),
            Value::Sample(_) | Value::Time(_) | Value::Duration(_) | Value::Struct(_) => true,
        }
    }

    /// A `string` value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<BTreeMap<String, String>> for Value {
    fn from(m: BTreeMap<String, String>) -> Value {
        Value::Labels(m)
    }
}

/// The struct Prometheus' alert templates get as data (`template.AlertTemplateData`).
pub fn alert_template_data(
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    Value::Struct(GoStruct {
        type_name: "struct { Labels map[string]string; ExternalLabels map[string]string; \
                    ExternalURL string; Value interface {} }"
            .to_string(),
        fields: vec![
            ("Labels".to_string(), Value::Labels(labels.clone())),
            (
                "ExternalLabels".to_string(),
                Value::Labels(external_labels.clone()),
            ),
            ("ExternalURL".to_string(), Value::string(external_url)),
            ("Value".to_string(), Value::Float(value)),
        ],
    })
}
