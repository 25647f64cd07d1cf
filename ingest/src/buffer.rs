//! The write buffer of a receiving process: samples accepted over the network wait in memory
//! and are committed as blocks every flush interval (or sooner once enough have piled up).
//!
//! Accepting means buffering: a sample acknowledged to a client is lost only if the process
//! dies before the next flush commits it (at most one flush interval plus the flush itself).
//! When the store is slow and the buffer reaches its hard limit, appends are refused — the
//! receiver answers 503 and remote-write clients retry — so memory stays bounded. A failed
//! flush puts its samples back, to be retried by the next one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use rustc_hash::FxHashMap;
use strata_storage::{
    BlockMeta, Labels, Manifest, MetricMetadataMap, SeriesSamples, Transaction,
    encode_block_with_metadata, upload_block,
};

use crate::error::IngestError;
use crate::import::{DEFAULT_BLOCK_DURATION, SeriesBuf, cut_windows};
use crate::remote_write::DecodedWrite;

/// Settings of a [`WriteBuffer`].
#[derive(Debug, Clone)]
pub struct BufferOptions {
    /// Longest a sample waits before its commit starts.
    pub flush_interval: Duration,
    /// Samples that trigger a flush before the interval is up.
    pub flush_samples: usize,
    /// Samples buffered at most; appends beyond are refused (backpressure).
    pub max_samples: usize,
    /// Width of the aligned windows blocks are cut at.
    pub block_duration: Duration,
}

impl Default for BufferOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(10),
            flush_samples: 2_000_000,
            max_samples: 8_000_000,
            block_duration: DEFAULT_BLOCK_DURATION,
        }
    }
}

/// The buffer is at its limit: the client should retry later.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "write buffer full ({buffered} samples buffered, limit {limit}): the store is not keeping up"
)]
pub struct BufferFull {
    pub buffered: usize,
    pub limit: usize,
}

#[derive(Default)]
struct Pending {
    series: FxHashMap<Labels, SeriesBuf>,
    samples: usize,
    metadata: MetricMetadataMap,
}

/// What one flush committed.
#[derive(Debug, Clone, Default)]
pub struct FlushSummary {
    pub samples: usize,
    pub blocks: usize,
    /// Manifest seq of the commit (0 when there was nothing to flush).
    pub seq: u64,
}

/// Buffers accepted samples and commits them as blocks.
pub struct WriteBuffer {
    manifest: Manifest,
    options: BufferOptions,
    pending: Mutex<Pending>,
    wake: tokio::sync::Notify,
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for WriteBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBuffer")
            .field("buffered", &self.buffered())
            .field("options", &self.options)
            .finish()
    }
}

impl WriteBuffer {
    /// A buffer committing through `manifest`.
    pub fn new(manifest: Manifest, options: BufferOptions) -> Arc<Self> {
        Arc::new(Self {
            manifest,
            options,
            pending: Mutex::new(Pending::default()),
            wake: tokio::sync::Notify::new(),
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    /// Samples waiting for a flush.
    pub fn buffered(&self) -> usize {
        self.pending.lock().map(|p| p.samples).unwrap_or(0)
    }

    /// Accepts a decoded request whole, or refuses it whole when the buffer is full.
    pub fn append(&self, write: DecodedWrite) -> Result<(), BufferFull> {
        let mut pending = self.pending.lock().map_err(|_| BufferFull {
            buffered: 0,
            limit: self.options.max_samples,
        })?;
        if pending.samples > 0 && pending.samples + write.samples > self.options.max_samples {
            return Err(BufferFull {
                buffered: pending.samples,
                limit: self.options.max_samples,
            });
        }
        merge(&mut pending, write.series, write.metadata);
        pending.samples += write.samples;
        if pending.samples >= self.options.flush_samples {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Commits everything buffered as one transaction (one block per aligned window).
    pub async fn flush(&self) -> Result<FlushSummary, IngestError> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Err(IngestError::Internal("write buffer poisoned".into())),
        };
        if taken.samples == 0 {
            return Ok(FlushSummary::default());
        }
        let samples = taken.samples;
        let series: Vec<SeriesBuf> = taken.series.into_values().collect();
        let result = self.commit(&series, &taken.metadata).await;
        match result {
            Ok((blocks, seq)) => Ok(FlushSummary {
                samples,
                blocks,
                seq,
            }),
            Err(e) => {
                // Nothing accepted is dropped: the next flush retries these samples.
                if let Ok(mut p) = self.pending.lock() {
                    let back = series
                        .into_iter()
                        .map(|s| SeriesSamples {
                            labels: s.labels,
                            timestamps: s.timestamps,
                            values: s.values,
                            start_timestamps: Vec::new(),
                        })
                        .collect();
                    merge(&mut p, back, taken.metadata);
                    p.samples += samples;
                }
                Err(e)
            }
        }
    }

    async fn commit(
        &self,
        series: &[SeriesBuf],
        metadata: &MetricMetadataMap,
    ) -> Result<(usize, u64), IngestError> {
        let width = i64::try_from(self.options.block_duration.as_millis())
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| IngestError::Internal("block duration must be positive".into()))?;
        let windows: BTreeMap<i64, Vec<SeriesSamples>> = cut_windows(series.to_vec(), width);
        let started = Instant::now();
        let store = self.manifest.store().clone();
        let metadata = Arc::new(metadata.clone());
        let metas: Vec<BlockMeta> = futures::stream::iter(windows.into_values())
            .map(|window| {
                let (store, metadata) = (store.clone(), metadata.clone());
                async move {
                    let block = tokio::task::spawn_blocking(move || {
                        encode_block_with_metadata(window, &metadata)
                    })
                    .await
                    .map_err(|e| IngestError::Internal(e.to_string()))??;
                    upload_block(&store, &block).await?;
                    Ok::<_, IngestError>(block.meta)
                }
            })
            .buffer_unordered(4)
            .try_collect()
            .await?;
        let blocks = metas.len();
        let seq = self
            .manifest
            .commit(Transaction::add(metas, started))
            .await?;
        Ok((blocks, seq.0))
    }

    /// Flushes every interval, or sooner when enough samples wait, until `shutdown`
    /// resolves; then flushes one last time. `on_flush` hears of every commit.
    pub async fn run(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()>,
        on_flush: impl Fn(&Result<FlushSummary, IngestError>),
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.options.flush_interval) => {}
                _ = self.wake.notified() => {}
                _ = &mut shutdown => break,
            }
            let result = self.flush().await;
            on_flush(&result);
        }
        let result = self.flush().await;
        on_flush(&result);
    }
}

fn merge(pending: &mut Pending, series: Vec<SeriesSamples>, metadata: MetricMetadataMap) {
    for s in series {
        let buf = pending
            .series
            .entry(s.labels.clone())
            .or_insert_with(|| SeriesBuf {
                labels: s.labels,
                ..Default::default()
            });
        buf.timestamps.extend_from_slice(&s.timestamps);
        buf.values.extend_from_slice(&s.values);
    }
    pending.metadata.extend(metadata);
}

#[cfg(test)]
mod tests {
    use strata_storage::Store;

    use super::*;

    fn write(name: &str, ts: &[i64]) -> DecodedWrite {
        DecodedWrite {
            series: vec![SeriesSamples {
                labels: Labels::from_pairs([("__name__", name)]).unwrap(),
                timestamps: ts.to_vec(),
                values: ts.iter().map(|t| *t as f64).collect(),
                start_timestamps: Vec::new(),
            }],
            samples: ts.len(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn flush_commits_windows_and_the_limit_pushes_back() {
        let store = Store::open("memory://").unwrap();
        let options = BufferOptions {
            max_samples: 4,
            ..Default::default()
        };
        let buffer = WriteBuffer::new(Manifest::new(store.clone(), "rw"), options);
        buffer.append(write("a", &[1000, 2000])).unwrap();
        // Old and out-of-order samples are accepted, in another window.
        buffer.append(write("a", &[-7_200_000, 500])).unwrap();
        assert!(
            buffer.append(write("b", &[3000])).is_err(),
            "over the limit"
        );
        let summary = buffer.flush().await.unwrap();
        assert_eq!((summary.samples, summary.blocks), (4, 2));
        assert_eq!(buffer.buffered(), 0);
        let snapshot = Manifest::new(store, "r").snapshot().await.unwrap();
        assert_eq!(snapshot.len(), 2);
        assert_eq!(snapshot.blocks().map(|b| b.samples).sum::<u64>(), 4);
        assert_eq!(buffer.flush().await.unwrap().samples, 0, "nothing left");
    }
}
