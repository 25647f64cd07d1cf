//! The write buffer of a receiving process: samples accepted over the network wait in memory
//! and are committed as blocks every flush interval (or sooner once enough have piled up).
//!
//! Accepting means buffering: a sample acknowledged to a client is lost only if the process
//! dies before the next flush commits it (at most one flush interval plus the flush itself).
//! When the store is slow and the buffer reaches its hard limit, appends are refused — the
//! receiver answers 503 and remote-write clients retry — so memory stays bounded. A failed
//! flush puts its samples back, to be retried by the next one.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use rustc_hash::FxHashMap;
use strata_storage::publish::{self, encode_and_upload};
use strata_storage::{
    BlockMeta, EncodeOptions, Manifest, MetricMetadataMap, SeriesSamples, Transaction,
};

use crate::error::IngestError;
use crate::import::{DEFAULT_BLOCK_DURATION, SeriesBuf, cut_windows};
use crate::remote_write::DecodedWrite;
use crate::series_key::SeriesKey;

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

/// Samples waiting for a flush, in arrival order; series interned per flush.
#[derive(Default)]
struct Pending {
    index: FxHashMap<SeriesKey, u32>,
    keys: Vec<SeriesKey>,
    refs: Vec<u32>,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    /// Start timestamps, one per sample once any is known (none until then: scrapes have
    /// none, and pay nothing for them).
    starts: Option<Vec<i64>>,
}

impl Pending {
    /// Sized for the load of the previous flush (at most `cap` samples), so that a steady
    /// load never regrows (and over-allocates) the vectors.
    fn sized_like(previous: &Pending, cap: usize) -> Self {
        let samples = previous.samples().min(cap);
        let series = previous.keys.len().min(samples);
        Self {
            index: FxHashMap::with_capacity_and_hasher(series, Default::default()),
            keys: Vec::with_capacity(series),
            refs: Vec::with_capacity(samples),
            timestamps: Vec::with_capacity(samples),
            values: Vec::with_capacity(samples),
            starts: None,
        }
    }

    fn samples(&self) -> usize {
        self.refs.len()
    }

    fn push_with_start(&mut self, key: &SeriesKey, t: i64, v: f64, start: i64) {
        if start != 0 && self.starts.is_none() {
            self.starts = Some(vec![0; self.refs.len()]);
        }
        self.push(key, t, v);
        if let Some(last) = self.starts.as_mut().and_then(|s| s.last_mut()) {
            *last = start;
        }
    }

    fn push(&mut self, key: &SeriesKey, t: i64, v: f64) {
        let id = match self.index.get(key) {
            Some(&id) => id,
            None => {
                let id = self.keys.len() as u32;
                self.keys.push(key.clone());
                self.index.insert(key.clone(), id);
                id
            }
        };
        self.refs.push(id);
        self.timestamps.push(t);
        self.values.push(v);
        if let Some(starts) = &mut self.starts {
            starts.push(0);
        }
    }

    fn push_series(&mut self, series: &SeriesSamples) {
        let key = SeriesKey::from_labels(&series.labels);
        for (i, (t, v)) in series.timestamps.iter().zip(&series.values).enumerate() {
            let start = series.start_timestamps.get(i).copied().unwrap_or(0);
            self.push_with_start(&key, *t, *v, start);
        }
    }

    /// Moves everything of `other` in after what is here.
    fn absorb(&mut self, other: &Pending) {
        for (i, ((r, t), v)) in other
            .refs
            .iter()
            .zip(&other.timestamps)
            .zip(&other.values)
            .enumerate()
        {
            let start = other
                .starts
                .as_ref()
                .and_then(|s| s.get(i).copied())
                .unwrap_or(0);
            self.push_with_start(&other.keys[*r as usize], *t, *v, start);
        }
    }

    /// Groups the samples by series (arrival order kept within a series).
    fn series(&self) -> Vec<SeriesBuf> {
        let mut counts = vec![0usize; self.keys.len()];
        for r in &self.refs {
            counts[*r as usize] += 1;
        }
        let mut out: Vec<SeriesBuf> = self
            .keys
            .iter()
            .zip(&counts)
            .map(|(key, &n)| SeriesBuf {
                labels: key.to_labels(),
                timestamps: Vec::with_capacity(n),
                values: Vec::with_capacity(n),
                starts: Vec::new(),
            })
            .collect();
        for (i, ((r, t), v)) in self
            .refs
            .iter()
            .zip(&self.timestamps)
            .zip(&self.values)
            .enumerate()
        {
            let s = &mut out[*r as usize];
            s.timestamps.push(*t);
            s.values.push(*v);
            if let Some(starts) = &self.starts {
                s.starts.push(starts.get(i).copied().unwrap_or(0));
            }
        }
        // A series none of whose samples has a start stores none.
        for s in &mut out {
            if s.starts.iter().all(|st| *st == 0) {
                s.starts = Vec::new();
            }
        }
        out
    }
}

/// Samples of one scrape, ready for [`WriteBuffer::append_samples`].
#[derive(Debug, Default)]
pub struct SampleBatch {
    pub keys: Vec<SeriesKey>,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
}

impl SampleBatch {
    pub fn push(&mut self, key: SeriesKey, t: i64, v: f64) {
        self.keys.push(key);
        self.timestamps.push(t);
        self.values.push(v);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
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
    /// HELP/TYPE/UNIT of every family seen; each block records those of its own series.
    metadata: Mutex<MetricMetadataMap>,
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
            metadata: Mutex::new(MetricMetadataMap::new()),
            wake: tokio::sync::Notify::new(),
            flushing: tokio::sync::Mutex::new(()),
        })
    }

    /// Samples waiting for a flush.
    pub fn buffered(&self) -> usize {
        self.pending.lock().map(|p| p.samples()).unwrap_or(0)
    }

    fn lock_for(&self, incoming: usize) -> Result<std::sync::MutexGuard<'_, Pending>, BufferFull> {
        let pending = self.pending.lock().map_err(|_| BufferFull {
            buffered: 0,
            limit: self.options.max_samples,
        })?;
        let buffered = pending.samples();
        if buffered > 0 && buffered + incoming > self.options.max_samples {
            return Err(BufferFull {
                buffered,
                limit: self.options.max_samples,
            });
        }
        Ok(pending)
    }

    fn appended(&self, buffered: usize) {
        if buffered >= self.options.flush_samples {
            self.wake.notify_one();
        }
    }

    /// Accepts a decoded request whole, or refuses it whole when the buffer is full.
    pub fn append(&self, write: DecodedWrite) -> Result<(), BufferFull> {
        let mut pending = self.lock_for(write.samples)?;
        for s in &write.series {
            pending.push_series(s);
        }
        let buffered = pending.samples();
        drop(pending);
        self.add_metadata(write.metadata);
        self.appended(buffered);
        Ok(())
    }

    /// Accepts a batch of samples whole, or refuses it whole when the buffer is full.
    pub fn append_samples(&self, batch: &SampleBatch) -> Result<(), BufferFull> {
        let mut pending = self.lock_for(batch.len())?;
        for ((k, t), v) in batch.keys.iter().zip(&batch.timestamps).zip(&batch.values) {
            pending.push(k, *t, *v);
        }
        let buffered = pending.samples();
        drop(pending);
        self.appended(buffered);
        Ok(())
    }

    /// Metric metadata of every family seen so far.
    pub fn metadata(&self) -> MetricMetadataMap {
        self.metadata.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Records metric metadata (kept for every later block holding the family).
    pub fn add_metadata(&self, metadata: MetricMetadataMap) {
        if metadata.is_empty() {
            return;
        }
        if let Ok(mut m) = self.metadata.lock() {
            m.extend(metadata);
        }
    }

    /// Commits everything buffered as one transaction (one block per aligned window).
    pub async fn flush(&self) -> Result<FlushSummary, IngestError> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = match self.pending.lock() {
            Ok(mut p) => {
                let next = Pending::sized_like(&p, self.options.flush_samples);
                std::mem::replace(&mut *p, next)
            }
            Err(_) => return Err(IngestError::Internal("write buffer poisoned".into())),
        };
        if taken.samples() == 0 {
            return Ok(FlushSummary::default());
        }
        let samples = taken.samples();
        let metadata = self.metadata.lock().map(|m| m.clone()).unwrap_or_default();
        match self.commit(taken.series(), metadata).await {
            Ok((blocks, seq)) => Ok(FlushSummary {
                samples,
                blocks,
                seq,
            }),
            Err(e) => {
                // Nothing accepted is dropped: the next flush retries these samples, ahead of
                // those that arrived meanwhile.
                if let Ok(mut p) = self.pending.lock() {
                    let newer = std::mem::replace(&mut *p, taken);
                    p.absorb(&newer);
                }
                Err(e)
            }
        }
    }

    async fn commit(
        &self,
        series: Vec<SeriesBuf>,
        metadata: MetricMetadataMap,
    ) -> Result<(usize, u64), IngestError> {
        let width = i64::try_from(self.options.block_duration.as_millis())
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| IngestError::Internal("block duration must be positive".into()))?;
        let started = Instant::now();
        let store = self.manifest.store().clone();
        let metadata = Arc::new(metadata);
        let windows = tokio::task::spawn_blocking(move || cut_windows(series, width))
            .await
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        let mut uploads = futures::stream::iter(windows.into_values())
            .map(|window| {
                let own = Arc::new(metadata_of(&window, &metadata));
                encode_and_upload(&store, window, own, EncodeOptions::fresh())
            })
            .buffer_unordered(4);
        let mut metas: Vec<BlockMeta> = Vec::new();
        let uploaded: Result<(), IngestError> = async {
            while let Some(up) = uploads.try_next().await? {
                metas.push(up.meta);
            }
            Ok(())
        }
        .await;
        drop(uploads);
        if let Err(e) = uploaded {
            publish::discard(&store, &metas).await;
            return Err(e);
        }
        let blocks = metas.len();
        let seq = publish::commit(&self.manifest, Transaction::add(metas, started)).await?;
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

/// Suffixes a family's samples may carry after the family name.
const FAMILY_SUFFIXES: [&str; 8] = [
    "_bucket", "_sum", "_count", "_total", "_created", "_info", "_gcount", "_gsum",
];

/// The metadata of the families that have series in `window`.
fn metadata_of(window: &[SeriesSamples], all: &MetricMetadataMap) -> MetricMetadataMap {
    if all.is_empty() {
        return MetricMetadataMap::new();
    }
    let names: BTreeSet<&str> = window
        .iter()
        .filter_map(|s| s.labels.metric_name())
        .collect();
    let mut out = MetricMetadataMap::new();
    for name in names {
        let family = FAMILY_SUFFIXES
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|f| all.contains_key(*f))
            .unwrap_or(name);
        if let Some(m) = all.get(family) {
            out.entry(family.to_string()).or_insert_with(|| m.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use strata_storage::{Labels, Store};

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

    #[tokio::test]
    async fn start_timestamps_survive_buffering_next_to_samples_without() {
        for plain_first in [true, false] {
            start_timestamps_case(plain_first).await;
        }
    }

    async fn start_timestamps_case(plain_first: bool) {
        let store = Store::open("memory://").unwrap();
        let buffer = WriteBuffer::new(Manifest::new(store.clone(), "rw"), BufferOptions::default());
        let key = SeriesKey::from_labels(&Labels::from_pairs([("__name__", "plain")]).unwrap());
        let mut batch = SampleBatch::default();
        batch.push(key.clone(), 1000, 1.0);
        if plain_first {
            buffer.append_samples(&batch).unwrap();
        }
        let mut with_start = write("c", &[3000, 2000]);
        with_start.series[0].start_timestamps = vec![2500, 1500];
        buffer.append(with_start).unwrap();
        buffer.append_samples(&batch).unwrap();
        buffer.flush().await.unwrap();
        let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
        let block = snapshot.blocks().next().unwrap().clone();
        let reader = strata_storage::BlockReader::new(store, block);
        let series = reader.series().await.unwrap();
        let refs: Vec<u32> = (0..series.len() as u32).collect();
        for s in reader.samples(&series, &refs).await.unwrap() {
            match series[s.series_ref as usize].labels.metric_name() {
                Some("c") => {
                    assert_eq!(s.timestamps, [2000, 3000], "sorted with their starts");
                    assert_eq!(s.start_timestamps, [1500, 2500]);
                }
                _ => assert!(s.start_timestamps.iter().all(|t| *t == 0), "{s:?}"),
            }
        }
    }
}
