//! Remote-write 2.0 (`io.prometheus.write.v2.Request`): series refer to their label names and
//! values, HELP and UNIT by index into one symbol table per request, and carry start
//! (created) timestamps, which Strata stores.

use strata_storage::{MetricMetadata, MetricMetadataMap, SeriesSamples};

use super::{
    DecodedWrite, RemoteWriteError, SkippedMessage, decompress, metric_type, series_labels,
};

/// `io.prometheus.write.v2.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestV2 {
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeriesV2>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeriesV2 {
    /// Pairs of (name, value) indexes into the symbols.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<SampleV2>,
    /// Native histograms: counted, not stored yet.
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<SkippedMessage>,
    /// Exemplars: not stored.
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<SkippedMessage>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<MetadataV2>,
    /// The series' start time (ms) in the 2.0 specification; 0 when unknown.
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// `io.prometheus.write.v2.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SampleV2 {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// Per-sample start time (ms) of later revisions of the protocol; 0 when unknown.
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetadataV2 {
    #[prost(int32, tag = "1")]
    pub kind: i32,
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

fn symbol(symbols: &[String], index: usize, r: u32) -> Result<&str, RemoteWriteError> {
    symbols
        .get(r as usize)
        .map(String::as_str)
        .ok_or_else(|| RemoteWriteError::InvalidSeries {
            index,
            reason: format!(
                "symbol reference {r} out of range ({} symbols)",
                symbols.len()
            ),
        })
}

/// Decodes a remote-write 2.0 body (snappy-compressed protobuf).
pub fn decode_write_request_v2(body: &[u8]) -> Result<DecodedWrite, RemoteWriteError> {
    let raw = decompress(body)?;
    let request = <RequestV2 as prost::Message>::decode(raw.as_slice())
        .map_err(|e| RemoteWriteError::Protobuf(e.to_string()))?;
    let symbols = &request.symbols;
    if symbols.first().is_some_and(|s| !s.is_empty()) {
        return Err(RemoteWriteError::Protobuf(
            "the first symbol must be the empty string".into(),
        ));
    }
    let mut out = DecodedWrite::default();
    let mut metadata = MetricMetadataMap::new();
    for (index, ts) in request.timeseries.iter().enumerate() {
        out.skipped_histograms += ts.histograms.len();
        if ts.labels_refs.len() % 2 != 0 {
            return Err(RemoteWriteError::InvalidSeries {
                index,
                reason: "odd number of label references".into(),
            });
        }
        let mut pairs = Vec::with_capacity(ts.labels_refs.len() / 2);
        for pair in ts.labels_refs.chunks_exact(2) {
            pairs.push((
                symbol(symbols, index, pair[0])?,
                symbol(symbols, index, pair[1])?,
            ));
        }
        let labels = series_labels(index, pairs)?;
        let name = labels.metric_name().unwrap_or_default();
        if let Some(m) = &ts.metadata
            && (m.kind != 0 || m.help_ref != 0 || m.unit_ref != 0)
        {
            metadata.insert(
                name.to_string(),
                MetricMetadata {
                    kind: metric_type(m.kind).to_string(),
                    help: symbol(symbols, index, m.help_ref)?.to_string(),
                    unit: symbol(symbols, index, m.unit_ref)?.to_string(),
                },
            );
        }
        if ts.samples.is_empty() {
            continue;
        }
        let starts: Vec<i64> = ts
            .samples
            .iter()
            .map(|s| match s.start_timestamp {
                0 => ts.created_timestamp,
                st => st,
            })
            .collect();
        out.samples += ts.samples.len();
        out.series.push(SeriesSamples {
            labels,
            timestamps: ts.samples.iter().map(|s| s.timestamp).collect(),
            values: ts.samples.iter().map(|s| s.value).collect(),
            start_timestamps: if starts.iter().all(|s| *s == 0) {
                Vec::new()
            } else {
                starts
            },
        });
    }
    out.metadata = metadata;
    Ok(out)
}

/// Encodes a 2.0 request as a sender does (tests, load generators).
pub fn encode_write_request_v2(request: &RequestV2) -> Vec<u8> {
    let raw = prost::Message::encode_to_vec(request);
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestV2 {
        let symbols = [
            "",
            "__name__",
            "http_requests_total",
            "job",
            "api",
            "Requests.",
            "seconds",
        ];
        RequestV2 {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            timeseries: vec![TimeSeriesV2 {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![
                    SampleV2 {
                        value: 5.0,
                        timestamp: 2000,
                        start_timestamp: 0,
                    },
                    SampleV2 {
                        value: 1.0,
                        timestamp: 3000,
                        start_timestamp: 2500,
                    },
                ],
                histograms: vec![SkippedMessage {}],
                exemplars: vec![],
                metadata: Some(MetadataV2 {
                    kind: 1,
                    help_ref: 5,
                    unit_ref: 0,
                }),
                created_timestamp: 1000,
            }],
        }
    }

    #[test]
    fn symbols_start_timestamps_and_metadata() {
        let d = decode_write_request_v2(&encode_write_request_v2(&request())).unwrap();
        assert_eq!(d.samples, 2);
        assert_eq!(d.skipped_histograms, 1);
        let s = &d.series[0];
        assert_eq!(s.labels.to_string(), r#"http_requests_total{job="api"}"#);
        assert_eq!(s.timestamps, [2000, 3000]);
        assert_eq!(s.start_timestamps, [1000, 2500]);
        let m = &d.metadata["http_requests_total"];
        assert_eq!(
            (m.kind.as_str(), m.help.as_str(), m.unit.as_str()),
            ("counter", "Requests.", "")
        );
    }

    #[test]
    fn bad_references_are_refused() {
        let mut r = request();
        r.timeseries[0].labels_refs.push(1);
        assert!(decode_write_request_v2(&encode_write_request_v2(&r)).is_err());
        let mut r = request();
        r.timeseries[0].labels_refs[1] = 99;
        let e = decode_write_request_v2(&encode_write_request_v2(&r)).unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let mut r = request();
        r.symbols[0] = "x".into();
        assert!(decode_write_request_v2(&encode_write_request_v2(&r)).is_err());
        let mut r = request();
        r.timeseries[0].labels_refs = vec![3, 4];
        assert!(
            decode_write_request_v2(&encode_write_request_v2(&r)).is_err(),
            "no name"
        );
    }
}
