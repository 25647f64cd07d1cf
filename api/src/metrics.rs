//! Strata's own metrics, served at `/metrics`: HTTP requests and latencies by handler, and, read
//! at scrape time, object-store requests, cache hits and sizes, and the manifest's state.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use strata_storage::{CacheKind, Operation, Store};

type LabelSet = Vec<(String, String)>;

fn new_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The registry and the metrics handlers update.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<LabelSet, Counter>,
    latency: Family<LabelSet, Histogram, fn() -> Histogram>,
}

impl Metrics {
    /// Metrics of a server reading `store`; `snapshot_info` reports (blocks, seq) of the
    /// current manifest snapshot.
    pub fn new(store: Store, snapshot_info: Arc<dyn Fn() -> (u64, u64) + Send + Sync>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<LabelSet, Counter>::default();
        let latency = Family::<LabelSet, Histogram, fn() -> Histogram>::new_with_constructor(
            new_latency_histogram,
        );
        registry.register(
            "strata_http_requests",
            "HTTP requests by handler and status code",
            requests.clone(),
        );
        registry.register(
            "strata_http_request_duration_seconds",
            "HTTP request latency by handler",
            latency.clone(),
        );
        registry.register_collector(Box::new(StoreCollector {
            store,
            snapshot_info,
        }));
        Self {
            registry,
            requests,
            latency,
        }
    }

    /// Records one request.
    pub fn observe(&self, handler: &str, code: u16, took: Duration) {
        self.requests
            .get_or_create(&vec![
                ("handler".into(), handler.into()),
                ("code".into(), code.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![("handler".into(), handler.into())])
            .observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

struct StoreCollector {
    store: Store,
    snapshot_info: Arc<dyn Fn() -> (u64, u64) + Send + Sync>,
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollector").finish_non_exhaustive()
    }
}

fn labels(name: &str, value: &str) -> LabelSet {
    vec![(name.to_string(), value.to_string())]
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let counts = self.store.request_counts();
        let mut e = encoder.encode_descriptor(
            "strata_object_store_requests",
            "Requests sent to the object store, by operation",
            None,
            MetricType::Counter,
        )?;
        for op in Operation::ALL {
            ConstCounter::new(counts.get(op))
                .encode(e.encode_family(&labels("operation", op.as_str()))?)?;
        }
        let e = encoder.encode_descriptor(
            "strata_object_store_get_bytes",
            "Bytes requested by ranged GETs",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(counts.get_bytes()).encode(e)?;
        if let Some(cache) = self.store.cache() {
            for (name, help, hits) in [
                (
                    "strata_cache_hits",
                    "Cache lookups answered, by cache",
                    true,
                ),
                (
                    "strata_cache_misses",
                    "Cache lookups missed, by cache",
                    false,
                ),
            ] {
                let mut e = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                for kind in CacheKind::ALL {
                    let n = if hits {
                        cache.stats().hits(kind)
                    } else {
                        cache.stats().misses(kind)
                    };
                    ConstCounter::new(n)
                        .encode(e.encode_family(&labels("cache", kind.as_str()))?)?;
                }
            }
            let mut e = encoder.encode_descriptor(
                "strata_cache_bytes",
                "Bytes held by the read cache, by tier",
                None,
                MetricType::Gauge,
            )?;
            for (tier, bytes) in [
                ("memory", cache.memory_bytes()),
                ("disk", cache.disk_bytes()),
            ] {
                ConstGauge::new(bytes as i64).encode(e.encode_family(&labels("tier", tier))?)?;
            }
        }
        let (blocks, seq) = (self.snapshot_info)();
        let e = encoder.encode_descriptor(
            "strata_manifest_blocks",
            "Blocks in the current manifest snapshot",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(blocks as i64).encode(e)?;
        let e = encoder.encode_descriptor(
            "strata_manifest_seq",
            "Sequence number of the current manifest snapshot",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(seq as i64).encode(e)?;
        Ok(())
    }
}
