//! Decoding Prometheus remote-write requests: a snappy-compressed (block format) protobuf
//! `prometheus.WriteRequest` (1.0, here) or `io.prometheus.write.v2.Request` (2.0, [`v2`]),
//! turned into per-series samples and metric metadata.
//!
//! Everything here is a pure function of the request body, so that the HTTP receiver can
//! answer 400 for a bad payload before accepting anything, and so that it can be fuzzed.

mod v2;

use strata_storage::{Labels, MetricMetadata, MetricMetadataMap, SeriesSamples};

pub use v2::{
    MetadataV2, RequestV2, SampleV2, TimeSeriesV2, decode_write_request_v2, encode_write_request_v2,
};

/// Largest decompressed request accepted (Prometheus sends ≤ a few MB per request).
pub const MAX_DECOMPRESSED_BYTES: usize = 64 << 20;

/// `prometheus.WriteRequest` (remote-write 1.0).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<WireMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<WireLabel>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<WireSample>,
    /// Native histograms (tag 4) are only counted: Strata does not store them yet.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<SkippedMessage>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireLabel {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireSample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// A message whose content is not used (it is still checked to be well-formed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SkippedMessage {}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WireMetadata {
    #[prost(int32, tag = "1")]
    pub kind: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Why a request was refused (all are the client's fault: HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteWriteError {
    #[error("snappy decode error: {0}")]
    Snappy(String),
    #[error("decompressed request is {size} bytes, more than the {limit} allowed")]
    TooLarge { size: usize, limit: usize },
    #[error("protobuf decode error: {0}")]
    Protobuf(String),
    #[error("series {index}: {reason}")]
    InvalidSeries { index: usize, reason: String },
}

/// A decoded request.
#[derive(Debug, Default, Clone)]
pub struct DecodedWrite {
    /// Float samples by series (timestamps as sent: out-of-order and old samples included).
    pub series: Vec<SeriesSamples>,
    /// HELP/TYPE/UNIT by metric family.
    pub metadata: MetricMetadataMap,
    /// Samples in the request.
    pub samples: usize,
    /// Native-histogram samples, which were not stored.
    pub skipped_histograms: usize,
}

/// Prometheus' `MetricMetadata.MetricType` numbers.
fn metric_type(kind: i32) -> &'static str {
    match kind {
        1 => "counter",
        2 => "gauge",
        3 => "histogram",
        4 => "gaugehistogram",
        5 => "summary",
        6 => "info",
        7 => "stateset",
        _ => "unknown",
    }
}

/// Snappy-decompresses a body, refusing one that would exceed the size limit.
fn decompress(body: &[u8]) -> Result<Vec<u8>, RemoteWriteError> {
    let size =
        snap::raw::decompress_len(body).map_err(|e| RemoteWriteError::Snappy(e.to_string()))?;
    if size > MAX_DECOMPRESSED_BYTES {
        return Err(RemoteWriteError::TooLarge {
            size,
            limit: MAX_DECOMPRESSED_BYTES,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| RemoteWriteError::Snappy(e.to_string()))
}

/// The labels of series `index` of a request: valid, and with a metric name.
fn series_labels<N: Into<String>, V: Into<String>>(
    index: usize,
    pairs: impl IntoIterator<Item = (N, V)>,
) -> Result<Labels, RemoteWriteError> {
    let invalid = |reason: String| RemoteWriteError::InvalidSeries { index, reason };
    let labels = Labels::from_pairs(pairs).map_err(|e| invalid(e.to_string()))?;
    if labels.metric_name().is_none_or(str::is_empty) {
        return Err(invalid(format!("no metric name in {labels}")));
    }
    Ok(labels)
}

/// Which protocol a request's `Content-Type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V1,
    V2,
}

/// The protocol of a request from its `Content-Type` (absent or bare
/// `application/x-protobuf` is 1.0, as the specification says), or why it is unsupported.
pub fn protocol_of(content_type: Option<&str>) -> Result<Protocol, String> {
    let Some(ct) = content_type else {
        return Ok(Protocol::V1);
    };
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(format!(
            "unsupported Content-Type {ct:?} (expected application/x-protobuf)"
        ));
    }
    let proto = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("proto"))
        .map(|(_, v)| v.trim().trim_matches('"'));
    match proto {
        None | Some("prometheus.WriteRequest") => Ok(Protocol::V1),
        Some("io.prometheus.write.v2.Request") => Ok(Protocol::V2),
        Some(other) => Err(format!(
            "unsupported remote-write protobuf message {other:?} (prometheus.WriteRequest or io.prometheus.write.v2.Request)"
        )),
    }
}

/// Decodes a remote-write 1.0 body (`Content-Encoding: snappy`,
/// `Content-Type: application/x-protobuf`).
pub fn decode_write_request(body: &[u8]) -> Result<DecodedWrite, RemoteWriteError> {
    let raw = decompress(body)?;
    let request = <WriteRequest as prost::Message>::decode(raw.as_slice())
        .map_err(|e| RemoteWriteError::Protobuf(e.to_string()))?;
    let mut out = DecodedWrite::default();
    for (index, ts) in request.timeseries.into_iter().enumerate() {
        out.skipped_histograms += ts.histograms.len();
        if ts.samples.is_empty() {
            continue;
        }
        let labels = series_labels(index, ts.labels.into_iter().map(|l| (l.name, l.value)))?;
        out.samples += ts.samples.len();
        out.series.push(SeriesSamples {
            labels,
            timestamps: ts.samples.iter().map(|s| s.timestamp).collect(),
            values: ts.samples.iter().map(|s| s.value).collect(),
            start_timestamps: Vec::new(),
        });
    }
    for m in request.metadata {
        if m.metric_family_name.is_empty() {
            continue;
        }
        out.metadata.insert(
            m.metric_family_name,
            MetricMetadata {
                kind: metric_type(m.kind).to_string(),
                help: m.help,
                unit: m.unit,
            },
        );
    }
    Ok(out)
}

/// Encodes a request as Prometheus sends it (for tests, benchmarks and load generators).
pub fn encode_write_request(request: &WriteRequest) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(request);
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, value: &str) -> WireLabel {
        WireLabel {
            name: name.into(),
            value: value.into(),
        }
    }

    fn request() -> WriteRequest {
        WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![label("__name__", "up"), label("job", "node")],
                    samples: vec![
                        WireSample {
                            value: 1.0,
                            timestamp: 2000,
                        },
                        WireSample {
                            value: 0.0,
                            timestamp: 1000,
                        },
                    ],
                    histograms: vec![],
                },
                TimeSeries {
                    labels: vec![label("__name__", "h"), label("empty", "")],
                    samples: vec![],
                    histograms: vec![SkippedMessage {}],
                },
            ],
            metadata: vec![WireMetadata {
                kind: 2,
                metric_family_name: "up".into(),
                help: "Target is up.".into(),
                unit: String::new(),
            }],
        }
    }

    #[test]
    fn round_trips_samples_out_of_order_and_metadata() {
        let decoded = decode_write_request(&encode_write_request(&request())).unwrap();
        assert_eq!(decoded.series.len(), 1);
        assert_eq!(decoded.series[0].labels.to_string(), r#"up{job="node"}"#);
        assert_eq!(decoded.series[0].timestamps, vec![2000, 1000]);
        assert_eq!(decoded.samples, 2);
        assert_eq!(decoded.skipped_histograms, 1);
        assert_eq!(decoded.metadata["up"].kind, "gauge");
    }

    #[test]
    fn bad_payloads_are_clear_errors() {
        assert!(matches!(
            decode_write_request(b"not snappy at all"),
            Err(RemoteWriteError::Snappy(_)) | Err(RemoteWriteError::Protobuf(_))
        ));
        let garbage = snap::raw::Encoder::new().compress_vec(&[0xff; 32]).unwrap();
        assert!(matches!(
            decode_write_request(&garbage),
            Err(RemoteWriteError::Protobuf(_))
        ));
        let mut dup = request();
        dup.timeseries[0].labels.push(label("job", "again"));
        let err = decode_write_request(&encode_write_request(&dup)).unwrap_err();
        assert!(
            matches!(err, RemoteWriteError::InvalidSeries { index: 0, .. }),
            "{err}"
        );
        let mut nameless = request();
        nameless.timeseries[0].labels.remove(0);
        assert!(decode_write_request(&encode_write_request(&nameless)).is_err());
        assert!(matches!(
            decode_write_request(&[]),
            Err(RemoteWriteError::Snappy(_))
        ));
        let empty = encode_write_request(&WriteRequest::default());
        assert_eq!(decode_write_request(&empty).map(|d| d.samples), Ok(0));
    }
}
