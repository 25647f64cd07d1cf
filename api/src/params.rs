//! Request parameters: the URL query and, for POST, a form-encoded body (Prometheus accepts
//! both, and Grafana posts forms); times as RFC 3339 or unix seconds, durations as Prometheus
//! durations or seconds.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

use crate::error::ApiError;

/// Largest body accepted for a form (queries and `match[]` lists).
const MAX_FORM_BYTES: usize = 4 << 20;

/// Smallest and largest times Prometheus' API accepts as "unbounded" (ms).
pub const MIN_TIME: i64 = -9_223_309_901_257_974;
pub const MAX_TIME: i64 = 9_223_309_901_257_974;

/// All parameters of a request, in order (repeated names such as `match[]` allowed).
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut pairs: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_data(format!("reading the request body: {e}")))?;
            if body.len() > MAX_FORM_BYTES {
                return Err(ApiError::bad_data("request body too large"));
            }
            pairs.extend(form_urlencoded::parse(&body).into_owned());
        }
        Ok(Params(pairs))
    }
}

impl Params {
    /// The first value of `name`; empty values count as absent, as in Prometheus.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter, or `default` when absent.
    pub fn time(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(s) => parse_time(s).map_err(|e| ApiError::param(name, e)),
        }
    }

    /// A duration parameter in ms, if present.
    pub fn duration(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|s| parse_duration(s).map_err(|e| ApiError::param(name, e)))
            .transpose()
    }

    /// A non-negative integer parameter (`limit`), 0 when absent.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(0),
            Some(s) => s.parse::<usize>().map_err(|_| {
                ApiError::param(
                    "limit",
                    format!("cannot parse {s:?} to a non-negative integer"),
                )
            }),
        }
    }
}

/// Prometheus' `parseTime`: unix seconds (fractions allowed) or RFC 3339; ms.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        let whole = secs.trunc();
        let frac = ((secs - whole) * 1000.0).round();
        let ms = whole * 1000.0 + frac;
        if ms.abs() < 9.2e18 {
            return Ok(ms as i64);
        }
    }
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => Ok(t.timestamp_millis()),
        Err(_) => Err(format!("cannot parse {s:?} to a valid timestamp")),
    }
}

/// Prometheus' `parseDuration`: seconds (fractions allowed) or a duration like `1h30m`; ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse {s:?} to a valid duration");
    if let Ok(secs) = s.parse::<f64>() {
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() >= 9.2e18 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms as i64);
    }
    strata_query::parser::parse_duration(s).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.123"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5+01:00"),
            Ok(1_699_996_400_500)
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("NaN").is_err());
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("30m1h").is_err());
    }
}
