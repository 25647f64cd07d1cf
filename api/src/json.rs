//! Writing Prometheus' JSON: values as strings, timestamps as float seconds, `warnings` and
//! `infos` beside `data`. Results are written straight into a string: a range query's matrix
//! can hold millions of points.

use std::fmt::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strata_query::{Annotations, QueryValue, write_float};
use strata_storage::Labels;

/// A JSON response with `status`.
pub fn response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `{"status":"success","data":<data>[,"warnings":[…]][,"infos":[…]]}`.
pub fn success(data: &str, annotations: Option<&Annotations>) -> Response {
    let mut out = String::with_capacity(data.len() + 64);
    out.push_str(r#"{"status":"success","data":"#);
    out.push_str(data);
    if let Some(a) = annotations {
        for (key, list) in [("warnings", &a.warnings), ("infos", &a.infos)] {
            if !list.is_empty() {
                let _ = write!(out, r#","{key}":"#);
                push_json(&mut out, list);
            }
        }
    }
    out.push('}');
    response(StatusCode::OK, out)
}

/// Appends any serialisable value.
pub fn push_json<T: serde::Serialize + ?Sized>(out: &mut String, v: &T) {
    out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
}

/// Appends a JSON string.
pub fn push_str(out: &mut String, s: &str) {
    push_json(out, s);
}

/// Appends a timestamp (ms) as float seconds: `1700000000`, `1700000000.5`.
pub fn push_time(out: &mut String, ms: i64) {
    let (secs, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        let _ = write!(out, "{secs}");
    } else {
        let _ = write!(out, "{}", ms as f64 / 1000.0);
    }
}

/// Appends a label set as an object.
pub fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, &l.name);
        out.push(':');
        push_str(out, &l.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    push_time(out, t);
    out.push_str(",\"");
    write_float(out, v);
    out.push_str("\"]");
}

/// `{"resultType":…,"result":…}` of a query.
pub fn query_data(value: &QueryValue) -> String {
    let mut out = String::new();
    match value {
        QueryValue::Scalar { t, v } => {
            out.push_str(r#"{"resultType":"scalar","result":"#);
            push_point(&mut out, *t, *v);
        }
        QueryValue::String { t, s } => {
            out.push_str(r#"{"resultType":"string","result":["#);
            push_time(&mut out, *t);
            out.push(',');
            push_str(&mut out, s);
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            out.push_str(r#"{"resultType":"vector","result":["#);
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_labels(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                push_point(&mut out, s.t, s.v);
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.reserve(series.iter().map(|s| 64 + s.points.len() * 24).sum());
            out.push_str(r#"{"resultType":"matrix","result":["#);
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_labels(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, (t, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(&mut out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use strata_query::{InstantSample, RangeSeries};

    use super::*;

    #[test]
    fn shapes_match_prometheus() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]).unwrap();
        let v = QueryValue::Vector(vec![InstantSample {
            labels: labels.clone(),
            t: 1_700_000_000_500,
            v: f64::INFINITY,
        }]);
        assert_eq!(
            query_data(&v),
            r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1700000000.5,"+Inf"]}]}"#
        );
        let m = QueryValue::Matrix(vec![RangeSeries {
            labels,
            points: vec![(0, 1.0), (15_000, 0.25)],
        }]);
        assert_eq!(
            query_data(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\"b"},"values":[[0,"1"],[15,"0.25"]]}]}"#
        );
        assert_eq!(
            query_data(&QueryValue::Scalar {
                t: -1500,
                v: f64::NAN
            }),
            r#"{"resultType":"scalar","result":[-1.5,"NaN"]}"#
        );
    }
}
