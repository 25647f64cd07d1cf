//! Parquet's async reader interface over an object store: footer and page index in one
//! suffix-sized GET when they fit the prefetch hint; data ranges looked up in the store's
//! [`BlockCache`] first, the missing ones coalesced into as few GETs as gaps allow. A reader
//! can be handed spans to fetch ahead ([`ObjectFileReader::prefetch`]): the ranges Parquet asks
//! for later inside them are sliced out without another lookup or GET.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use crate::cache::BlockCache;
use crate::store::Store;

/// Bytes fetched from the end of a file on open: footer and page index in one request.
const FOOTER_PREFETCH: usize = 64 * 1024;
/// Missing ranges closer than this are fetched by one GET (the bytes between are cheaper than
/// another request's latency).
const COALESCE_GAP: u64 = 1 << 20;
/// GETs of one read in flight at once.
const FETCH_CONCURRENCY: usize = 8;
/// Files up to this size are fetched whole by one GET and cached as one piece (footer, page
/// index and data of a block's series file, typically): one round trip instead of two.
const WHOLE_FILE_LIMIT: u64 = 1 << 20;

/// Reads one Parquet object whose size is known (from the manifest: no HEAD request).
#[derive(Debug, Clone)]
pub struct ObjectFileReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    cache: Option<Arc<BlockCache>>,
    /// Spans fetched ahead by [`Self::prefetch`], sorted by start.
    prefetched: Arc<Vec<(Range<u64>, Bytes)>>,
}

impl ObjectFileReader {
    /// A reader of `path`, `size` bytes long, without a cache.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64) -> Self {
        Self {
            store,
            path,
            size,
            cache: None,
            prefetched: Arc::default(),
        }
    }

    /// A reader of `path` in `store`, through the store's cache if it has one.
    pub fn for_store(store: &Store, path: Path, size: u64) -> Self {
        Self {
            store: store.object_store().clone(),
            path,
            size,
            cache: store.cache().cloned(),
            prefetched: Arc::default(),
        }
    }

    /// Fetches `spans` now, as [`Self::fetch`] does (cache, then concurrent coalesced GETs),
    /// and keeps them for this reader: later reads inside them are slices of them.
    pub async fn prefetch(&mut self, spans: Vec<Range<u64>>) -> parquet::errors::Result<()> {
        let got = self.fetch(spans.clone()).await?;
        let mut kept: Vec<(Range<u64>, Bytes)> = spans.into_iter().zip(got).collect();
        kept.sort_by_key(|(r, _)| r.start);
        self.prefetched = Arc::new(kept);
        Ok(())
    }

    /// `range` sliced out of a prefetched span that holds it.
    fn prefetched(&self, range: &Range<u64>) -> Option<Bytes> {
        let i = self
            .prefetched
            .partition_point(|(span, _)| span.start <= range.start);
        let (span, bytes) = self.prefetched.get(i.checked_sub(1)?)?;
        if range.end > span.end {
            return None;
        }
        let lo = usize::try_from(range.start - span.start).ok()?;
        let hi = usize::try_from(range.end - span.start).ok()?;
        bytes.get(lo..hi).map(|_| bytes.slice(lo..hi))
    }

    /// Fetches `ranges`: slices of prefetched spans, the rest from the cache where possible
    /// and by coalesced GETs whose pieces are then cached.
    async fn fetch(&self, ranges: Vec<Range<u64>>) -> parquet::errors::Result<Vec<Bytes>> {
        if self.prefetched.is_empty() {
            return self.fetch_uncovered(ranges).await;
        }
        let mut out: Vec<Option<Bytes>> = ranges.iter().map(|r| self.prefetched(r)).collect();
        let rest: Vec<usize> = (0..ranges.len()).filter(|&i| out[i].is_none()).collect();
        if !rest.is_empty() {
            let got = self
                .fetch_uncovered(rest.iter().map(|&i| ranges[i].clone()).collect())
                .await?;
            for (i, b) in rest.into_iter().zip(got) {
                out[i] = Some(b);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// [`Self::fetch`] without the prefetched spans.
    async fn fetch_uncovered(
        &self,
        ranges: Vec<Range<u64>>,
    ) -> parquet::errors::Result<Vec<Bytes>> {
        let Some(cache) = &self.cache else {
            return self
                .store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external);
        };
        let key = self.path.as_ref();
        if self.size <= WHOLE_FILE_LIMIT {
            let whole = match cache.range(key, 0, self.size).await {
                Some(b) => b,
                None => {
                    let b = self
                        .store
                        .get_range(&self.path, 0..self.size)
                        .await
                        .map_err(external)?;
                    cache.put_range(key, 0, self.size, b.clone()).await;
                    b
                }
            };
            return ranges
                .iter()
                .map(|r| {
                    let (lo, hi) = (r.start as usize, r.end as usize);
                    whole
                        .get(lo..hi)
                        .map(|_| whole.slice(lo..hi))
                        .ok_or_else(|| {
                            ParquetError::General(format!(
                                "{}: range {r:?} outside the file ({} bytes)",
                                self.path,
                                whole.len()
                            ))
                        })
                })
                .collect();
        }
        let mut out: Vec<Option<Bytes>> = Vec::with_capacity(ranges.len());
        for r in &ranges {
            out.push(cache.range(key, r.start, r.end).await);
        }
        let mut missing: Vec<usize> = (0..ranges.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        missing.sort_by_key(|&i| ranges[i].start);
        // Groups of missing ranges, each fetched by one GET spanning the group.
        let mut groups: Vec<(Range<u64>, Vec<usize>)> = Vec::new();
        for i in missing {
            let r = &ranges[i];
            match groups.last_mut() {
                Some((span, members)) if r.start <= span.end.saturating_add(COALESCE_GAP) => {
                    span.end = span.end.max(r.end);
                    members.push(i);
                }
                _ => groups.push((r.clone(), vec![i])),
            }
        }
        let fetched: Vec<(Range<u64>, Vec<usize>, Bytes)> = futures::stream::iter(groups)
            .map(|(span, members)| async move {
                let bytes = self
                    .store
                    .get_range(&self.path, span.clone())
                    .await
                    .map_err(external)?;
                Ok::<_, ParquetError>((span, members, bytes))
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        for (span, members, bytes) in fetched {
            for i in members {
                let r = &ranges[i];
                let lo = usize::try_from(r.start - span.start).unwrap_or(usize::MAX);
                let hi = usize::try_from(r.end - span.start).unwrap_or(usize::MAX);
                let piece = bytes
                    .get(lo..hi)
                    .map(|_| bytes.slice(lo..hi))
                    .ok_or_else(|| {
                        ParquetError::General(format!(
                            "{}: short read of {span:?} ({} bytes)",
                            self.path,
                            bytes.len()
                        ))
                    })?;
                // A slice would keep the whole span (gaps included) alive behind an entry
                // weighed by the piece alone: cache a copy when they differ.
                let cached = if piece.len() == bytes.len() {
                    piece.clone()
                } else {
                    Bytes::copy_from_slice(&piece)
                };
                cache.put_range(key, r.start, r.end, cached).await;
                out[i] = Some(piece);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectFileReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let mut got = self.fetch(vec![range]).await?;
            got.pop()
                .ok_or_else(|| ParquetError::General("empty range read".into()))
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move { self.fetch(ranges).await }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            // The footer's own bytes bypass the range cache (the parsed footer is cached),
            // except for small files, which are fetched and cached whole.
            let mut uncached = if self.size <= WHOLE_FILE_LIMIT {
                self.clone()
            } else {
                ObjectFileReader::new(self.store.clone(), self.path.clone(), self.size)
            };
            let size = self.size;
            let load = async move {
                let metadata = ParquetMetaDataReader::new()
                    .with_arrow_reader_options(options)
                    .with_page_index_policy(PageIndexPolicy::Optional)
                    .with_prefetch_hint(Some(FOOTER_PREFETCH))
                    .load_and_finish(&mut uncached, size)
                    .await?;
                Ok(Arc::new(metadata))
            };
            match &self.cache {
                Some(cache) => cache.footer(self.path.as_ref(), load).await,
                None => load.await,
            }
        }
        .boxed()
    }
}
