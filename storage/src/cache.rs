//! The read cache of a query process: Parquet footers with their page indexes, decoded series
//! tables, decoded samples (or aggregate rows) of single series, and data byte ranges, under one memory budget
//! (moka, TinyLFU admission + LRU eviction), with an optional local-disk tier for byte ranges.
//! Warm queries of hot series skip Parquet decoding altogether; colder ones decode pages kept
//! in memory or on disk; the coldest fetch them with coalesced GETs.
//!
//! Everything cached is immutable: block files never change once written (the compactor
//! writes new blocks and removes old ones through the manifest), so entries need no
//! invalidation and the disk tier stays valid across restarts.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parquet::file::metadata::ParquetMetaData;

use crate::aggregate::AggRow;
use crate::block::{SeriesEntry, SeriesSamplesRead};
use crate::paths::BlockId;

/// Cache sizes of a query process.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Memory budget in bytes for all in-memory entries.
    pub memory_bytes: u64,
    /// Directory of the disk tier (byte ranges only); none to disable it.
    pub disk_dir: Option<PathBuf>,
    /// Budget of the disk tier in bytes.
    pub disk_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            disk_dir: None,
            disk_bytes: 10 << 30,
        }
    }
}

/// What a cache entry holds (a metric label value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// Parquet footer and page index of a block file.
    Footer,
    /// The decoded series table of a block.
    Series,
    /// A byte range of a block file (data pages), in memory.
    Range,
    /// A byte range found on the disk tier.
    Disk,
    /// The decoded samples of one series in one block.
    Samples,
    /// The decoded aggregate rows of one series in one aggregate block.
    Rows,
}

impl CacheKind {
    /// Every kind, in a fixed order.
    pub const ALL: [CacheKind; 6] = [
        CacheKind::Footer,
        CacheKind::Series,
        CacheKind::Range,
        CacheKind::Disk,
        CacheKind::Samples,
        CacheKind::Rows,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Footer => "footer",
            CacheKind::Series => "series",
            CacheKind::Range => "range",
            CacheKind::Disk => "disk",
            CacheKind::Samples => "samples",
            CacheKind::Rows => "rows",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CacheKey {
    Footer(Arc<str>),
    Series(BlockId),
    Range(Arc<str>, u64, u64),
    Samples(BlockId, u32),
    Rows(BlockId, u32),
}

#[derive(Clone)]
pub(crate) enum CacheValue {
    Footer(Arc<ParquetMetaData>),
    Series(Arc<Vec<SeriesEntry>>),
    Bytes(Bytes),
    Samples(Arc<SeriesSamplesRead>),
    Rows(Arc<Vec<AggRow>>),
}

impl CacheValue {
    /// Approximate memory held, in bytes.
    fn weight(&self) -> u32 {
        let bytes = match self {
            CacheValue::Footer(m) => m.memory_size(),
            CacheValue::Series(entries) => entries
                .iter()
                .map(|e| {
                    96 + e
                        .labels
                        .iter()
                        .map(|l| 48 + l.name.len() + l.value.len())
                        .sum::<usize>()
                })
                .sum(),
            CacheValue::Bytes(b) => 64 + b.len(),
            CacheValue::Samples(s) => 96 + 16 * s.timestamps.len() + 8 * s.start_timestamps.len(),
            CacheValue::Rows(r) => 96 + size_of::<AggRow>() * r.len(),
        };
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// Hit and miss counters per [`CacheKind`].
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: [AtomicU64; CacheKind::ALL.len()],
    misses: [AtomicU64; CacheKind::ALL.len()],
}

impl CacheStats {
    pub(crate) fn hit(&self, kind: CacheKind) {
        self.hits[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn miss(&self, kind: CacheKind) {
        self.misses[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Lookups of `kind` answered from the cache.
    pub fn hits(&self, kind: CacheKind) -> u64 {
        self.hits[kind as usize].load(Ordering::Relaxed)
    }

    /// Lookups of `kind` that had to go further.
    pub fn misses(&self, kind: CacheKind) -> u64 {
        self.misses[kind as usize].load(Ordering::Relaxed)
    }
}

/// The read cache; shared by all clones of a [`Store`](crate::Store) opened with it.
pub struct BlockCache {
    memory: moka::future::Cache<CacheKey, CacheValue>,
    disk: Option<DiskTier>,
    stats: CacheStats,
}

impl fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCache")
            .field("entries", &self.memory.entry_count())
            .field("bytes", &self.memory.weighted_size())
            .field("disk", &self.disk.as_ref().map(|d| &d.dir))
            .finish()
    }
}

impl BlockCache {
    /// A cache with `config`'s budgets; scans an existing disk tier directory.
    pub fn new(config: &CacheConfig) -> std::io::Result<Self> {
        let memory = moka::future::Cache::builder()
            .max_capacity(config.memory_bytes)
            .weigher(|_k: &CacheKey, v: &CacheValue| v.weight())
            .build();
        let disk = match &config.disk_dir {
            Some(dir) => Some(DiskTier::open(dir.clone(), config.disk_bytes)?),
            None => None,
        };
        Ok(Self {
            memory,
            disk,
            stats: CacheStats::default(),
        })
    }

    /// Hit and miss counters.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Bytes held in memory (approximate; moka applies pending updates lazily).
    pub fn memory_bytes(&self) -> u64 {
        self.memory.weighted_size()
    }

    /// Bytes held on the disk tier.
    pub fn disk_bytes(&self) -> u64 {
        self.disk.as_ref().map_or(0, |d| d.index.weighted_size())
    }

    /// Drops every in-memory entry (the disk tier stays).
    pub fn clear_memory(&self) {
        self.memory.invalidate_all();
    }

    /// The footer of `path`, loading it with `load` on a miss (concurrent misses share one
    /// load).
    pub(crate) async fn footer<F, E>(&self, path: &str, load: F) -> Result<Arc<ParquetMetaData>, E>
    where
        F: Future<Output = Result<Arc<ParquetMetaData>, E>>,
        E: SharedError,
    {
        let key = CacheKey::Footer(path.into());
        let value = self
            .get_or_load(key, CacheKind::Footer, async {
                load.await.map(CacheValue::Footer)
            })
            .await?;
        match value {
            CacheValue::Footer(m) => Ok(m),
            _ => Err(E::mismatch()),
        }
    }

    /// The decoded series table of `block`, loading it with `load` on a miss.
    pub(crate) async fn series<F, E>(
        &self,
        block: BlockId,
        load: F,
    ) -> Result<Arc<Vec<SeriesEntry>>, E>
    where
        F: Future<Output = Result<Vec<SeriesEntry>, E>>,
        E: SharedError,
    {
        let value = self
            .get_or_load(CacheKey::Series(block), CacheKind::Series, async {
                load.await.map(|s| CacheValue::Series(Arc::new(s)))
            })
            .await?;
        match value {
            CacheValue::Series(s) => Ok(s),
            _ => Err(E::mismatch()),
        }
    }

    async fn get_or_load<F, E>(
        &self,
        key: CacheKey,
        kind: CacheKind,
        load: F,
    ) -> Result<CacheValue, E>
    where
        F: Future<Output = Result<CacheValue, E>>,
        E: SharedError,
    {
        if let Some(v) = self.memory.get(&key).await {
            self.stats.hit(kind);
            return Ok(v);
        }
        self.stats.miss(kind);
        self.memory
            .try_get_with(key, load)
            .await
            .map_err(|e: Arc<E>| Arc::try_unwrap(e).unwrap_or_else(E::from_shared))
    }

    /// The cached decoded samples of series `series_ref` of `block`.
    pub(crate) async fn samples(
        &self,
        block: BlockId,
        series_ref: u32,
    ) -> Option<Arc<SeriesSamplesRead>> {
        match self.memory.get(&CacheKey::Samples(block, series_ref)).await {
            Some(CacheValue::Samples(s)) => {
                self.stats.hit(CacheKind::Samples);
                Some(s)
            }
            _ => {
                self.stats.miss(CacheKind::Samples);
                None
            }
        }
    }

    /// Remembers the decoded samples of one series of `block`.
    pub(crate) async fn put_samples(&self, block: BlockId, samples: Arc<SeriesSamplesRead>) {
        let key = CacheKey::Samples(block, samples.series_ref);
        self.memory.insert(key, CacheValue::Samples(samples)).await;
    }

    /// The cached decoded aggregate rows of series `series_ref` of aggregate block `block`.
    pub(crate) async fn rows(&self, block: BlockId, series_ref: u32) -> Option<Arc<Vec<AggRow>>> {
        match self.memory.get(&CacheKey::Rows(block, series_ref)).await {
            Some(CacheValue::Rows(r)) => {
                self.stats.hit(CacheKind::Rows);
                Some(r)
            }
            _ => {
                self.stats.miss(CacheKind::Rows);
                None
            }
        }
    }

    /// Remembers the decoded aggregate rows of one series of `block`.
    pub(crate) async fn put_rows(&self, block: BlockId, series_ref: u32, rows: Arc<Vec<AggRow>>) {
        let key = CacheKey::Rows(block, series_ref);
        self.memory.insert(key, CacheValue::Rows(rows)).await;
    }

    /// A cached byte range of `path`, from memory or the disk tier.
    pub(crate) async fn range(&self, path: &str, start: u64, end: u64) -> Option<Bytes> {
        let key = CacheKey::Range(path.into(), start, end);
        if let Some(CacheValue::Bytes(b)) = self.memory.get(&key).await {
            self.stats.hit(CacheKind::Range);
            return Some(b);
        }
        self.stats.miss(CacheKind::Range);
        let disk = self.disk.as_ref()?;
        match disk.get(&key).await {
            Some(b) => {
                self.stats.hit(CacheKind::Disk);
                self.memory.insert(key, CacheValue::Bytes(b.clone())).await;
                Some(b)
            }
            None => {
                self.stats.miss(CacheKind::Disk);
                None
            }
        }
    }

    /// Remembers a fetched byte range in memory and on the disk tier.
    pub(crate) async fn put_range(&self, path: &str, start: u64, end: u64, bytes: Bytes) {
        let key = CacheKey::Range(path.into(), start, end);
        if let Some(disk) = &self.disk {
            disk.put(&key, bytes.clone());
        }
        self.memory.insert(key, CacheValue::Bytes(bytes)).await;
    }
}

/// Errors of cache loads: `try_get_with` hands every caller waiting on one load the same
/// `Arc`'d error; the first unwraps it, the others get this wrapper.
pub(crate) trait SharedError: Sized + Send + Sync + 'static {
    fn from_shared(shared: Arc<Self>) -> Self;
    /// A key's entry held another kind of value (cannot happen: keys determine kinds).
    fn mismatch() -> Self;
}

impl SharedError for crate::StorageError {
    fn from_shared(shared: Arc<Self>) -> Self {
        crate::StorageError::Shared(shared)
    }
    fn mismatch() -> Self {
        crate::StorageError::InvalidArgument("cache entry of the wrong kind".into())
    }
}

impl SharedError for parquet::errors::ParquetError {
    fn from_shared(shared: Arc<Self>) -> Self {
        parquet::errors::ParquetError::General(shared.to_string())
    }
    fn mismatch() -> Self {
        parquet::errors::ParquetError::General("cache entry of the wrong kind".into())
    }
}

/// Byte ranges on local disk: one file per range, named by a 128-bit hash of its key, indexed
/// by a size-weighted moka cache whose evictions delete the files.
struct DiskTier {
    dir: PathBuf,
    index: moka::sync::Cache<u128, u32>,
}

impl DiskTier {
    fn open(dir: PathBuf, budget: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let evict_dir = dir.clone();
        let index = moka::sync::Cache::builder()
            .max_capacity(budget)
            .weigher(|_k: &u128, size: &u32| *size)
            .eviction_listener(move |k: Arc<u128>, _size, cause| {
                if cause.was_evicted() {
                    let _ = std::fs::remove_file(evict_dir.join(file_name(*k)));
                }
            })
            .build();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let parsed = name
                .to_str()
                .and_then(|n| n.strip_suffix(".range"))
                .and_then(|h| u128::from_str_radix(h, 16).ok());
            match parsed {
                Some(hash) => {
                    let size = entry.metadata()?.len();
                    index.insert(hash, u32::try_from(size).unwrap_or(u32::MAX));
                }
                None => {
                    // Partial writes (`*.tmp`) of a crashed process.
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Self { dir, index })
    }

    async fn get(&self, key: &CacheKey) -> Option<Bytes> {
        let hash = key_hash(key);
        self.index.get(&hash)?;
        match tokio::fs::read(self.dir.join(file_name(hash))).await {
            Ok(b) => Some(Bytes::from(b)),
            Err(_) => {
                self.index.invalidate(&hash);
                None
            }
        }
    }

    fn put(&self, key: &CacheKey, bytes: Bytes) {
        let hash = key_hash(key);
        if self.index.contains_key(&hash) {
            return;
        }
        let (dir, index) = (self.dir.clone(), self.index.clone());
        tokio::spawn(async move {
            let tmp = dir.join(format!("{}.tmp", file_name(hash)));
            let done = tokio::fs::write(&tmp, &bytes).await.is_ok()
                && tokio::fs::rename(&tmp, dir.join(file_name(hash)))
                    .await
                    .is_ok();
            if done {
                index.insert(hash, u32::try_from(bytes.len()).unwrap_or(u32::MAX));
            } else {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
        });
    }
}

fn file_name(hash: u128) -> String {
    format!("{hash:032x}.range")
}

fn key_hash(key: &CacheKey) -> u128 {
    struct H(xxhash_rust::xxh3::Xxh3);
    impl Hasher for H {
        fn finish(&self) -> u64 {
            self.0.digest()
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = H(xxhash_rust::xxh3::Xxh3::new());
    key.hash(&mut h);
    h.0.digest128()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{BlockReader, SeriesSamples, encode_block, upload_block};
    use crate::counting::Operation;
    use crate::labels::Labels;
    use crate::store::Store;

    async fn block_in(store: &Store) -> crate::BlockMeta {
        let series = (0..50)
            .map(|i| SeriesSamples {
                labels: Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]).unwrap(),
                timestamps: (0..200).map(|t| t * 15_000).collect(),
                values: (0..200).map(|v| (v * i) as f64).collect(),
                start_timestamps: Vec::new(),
            })
            .collect();
        let block = encode_block(series).unwrap();
        upload_block(store, &block).await.unwrap();
        block.meta
    }

    async fn read_all(store: &Store, meta: &crate::BlockMeta) -> Vec<f64> {
        let reader = BlockReader::new(store.clone(), meta.clone());
        let series = reader.series().await.unwrap();
        let samples = reader.samples(&series, &[3, 40]).await.unwrap();
        samples.into_iter().flat_map(|s| s.values).collect()
    }

    #[tokio::test]
    async fn second_read_needs_no_request_and_disk_tier_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let config = CacheConfig {
            memory_bytes: 64 << 20,
            disk_dir: Some(dir.path().join("cache")),
            disk_bytes: 64 << 20,
        };
        let backend = Store::open("memory://").unwrap();
        let meta = block_in(&backend).await;
        let cache = Arc::new(BlockCache::new(&config).unwrap());
        let store = Store::from_object_store(backend.object_store().clone(), "cached")
            .with_cache(cache.clone());
        let first = read_all(&store, &meta).await;
        let gets = store.request_counts().get(Operation::Get);
        assert_eq!(gets, 2, "a cold read of two small files takes one GET each");
        assert_eq!(read_all(&store, &meta).await, first);
        assert_eq!(
            store.request_counts().get(Operation::Get),
            gets,
            "a warm read sends no request"
        );
        assert!(cache.stats().hits(CacheKind::Series) >= 1);

        // Let the disk writes land (both small files, whole), then start over with an empty
        // memory cache.
        for _ in 0..200 {
            cache.disk.as_ref().unwrap().index.run_pending_tasks();
            if cache.disk_bytes() >= meta.bytes() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let restarted = Arc::new(BlockCache::new(&config).unwrap());
        let store = Store::from_object_store(backend.object_store().clone(), "restarted")
            .with_cache(restarted.clone());
        assert_eq!(read_all(&store, &meta).await, first);
        assert!(restarted.stats().hits(CacheKind::Disk) >= 1);
        // Small files are cached whole, so nothing is fetched again.
        assert_eq!(store.request_counts().get(Operation::Get), 0);
    }

    #[tokio::test]
    async fn a_cold_series_of_a_large_block_costs_two_gets() {
        // Random values do not compress: a samples file well above the whole-file limit.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let series = (0..40)
            .map(|i| SeriesSamples {
                labels: Labels::from_pairs([("__name__", "big"), ("i", &i.to_string())]).unwrap(),
                timestamps: (0..6000).map(|t| t * 1000).collect(),
                values: (0..6000)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 11) as f64 / 3.0
                    })
                    .collect(),
                start_timestamps: Vec::new(),
            })
            .collect();
        let backend = Store::open("memory://").unwrap();
        let block = encode_block(series).unwrap();
        assert!(
            block.meta.samples_bytes > 1 << 20,
            "{}",
            block.meta.samples_bytes
        );
        upload_block(&backend, &block).await.unwrap();
        let cache = Arc::new(BlockCache::new(&CacheConfig::default()).unwrap());
        let store = Store::from_object_store(backend.object_store().clone(), "cached")
            .with_cache(cache.clone());
        let reader = BlockReader::new(store.clone(), block.meta.clone());
        let entries = reader.series().await.unwrap();
        assert_eq!(
            store.request_counts().get(Operation::Get),
            1,
            "the series file, whole"
        );
        let got = reader.samples(&entries, &[17]).await.unwrap();
        assert_eq!(got[0].timestamps.len(), 6000);
        assert_eq!(
            store.request_counts().get(Operation::Get),
            2,
            "the samples footer came with the series file: one GET for the pages"
        );
        assert!(cache.stats().hits(CacheKind::Footer) >= 1);
    }
}
