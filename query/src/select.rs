//! Selecting series and their samples from the blocks of a snapshot.
//!
//! What a reader sees of a snapshot ([`ReadOptions`]): raw blocks only (aggregates never mix
//! in); nothing older than the retention policy committed to the manifest allows (so answers
//! never depend on whether the compactor removed expired blocks yet); nothing that a deletion
//! request committed after a block's `as_of` covers; and of two samples at one timestamp, the
//! one of the block with the higher commit precedence (`order`). With HA replica labels, series
//! that differ only in them are read as one, deduplicated exactly as the compactor does.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use strata_storage::dedup::{DEDUP_WINDOW_MS, dedup_replicas, split_replica};
use strata_storage::points::{Points, merge_by_precedence};
use strata_storage::{
    BlockMeta, BlockReader, DeleteRequest, Labels, METRIC_NAME, RAW_RESOLUTION, SeriesEntry,
    Snapshot, Store,
};

use crate::error::QueryError;
use crate::matcher::Matcher;

/// Blocks read concurrently.
pub(crate) const BLOCK_CONCURRENCY: usize = 8;

/// Runs one block's read as its own task, so that the blocks a query reads at once are
/// decoded on every core instead of in turn on the query's; dropping the returned future (a
/// query cancelled or past its timeout) aborts the task.
pub(crate) async fn on_worker<T: Send + 'static>(
    read: impl Future<Output = Result<T, QueryError>> + Send + 'static,
) -> Result<T, QueryError> {
    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);
    impl<T> Drop for AbortOnDrop<T> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(tokio::spawn(read));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(QueryError::Cancelled),
    }
}

/// What to select.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Every matcher must match.
    pub matchers: Vec<Matcher>,
    /// First timestamp wanted (ms, inclusive).
    pub start: i64,
    /// Last timestamp wanted (ms, inclusive).
    pub end: i64,
    /// Most samples the selection may load; exceeding it is [`QueryError::TooManySamples`].
    pub max_samples: usize,
    /// How the store is read.
    pub read: ReadOptions,
    /// Set for an instant-vector selector: only the samples it can pick are kept.
    pub instant: Option<InstantReads>,
}

/// The read times of an instant-vector selector: `first, first + step, …, last`, each
/// seeing the newest sample in `(at − lookback, at]`.
///
/// Only those samples are kept from each block, so an instant selector holds (and counts
/// against the sample limit, as Prometheus does) about one sample per series per step, not
/// the lookback window it looks through: `metric @ 1.234` over millisecond samples reads
/// one sample per series. Decoding stays bounded by the blocks read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstantReads {
    pub first: i64,
    pub last: i64,
    pub step: i64,
    pub lookback: i64,
}

impl InstantReads {
    /// Keeps the samples of `points` some read time picks. Blocks are thinned one by one:
    /// the newest sample of the merged series at a read time is the newest of some block's.
    fn thin(&self, points: &mut Points) {
        let ts = &points.timestamps;
        let mut keep = vec![false; ts.len()];
        let step = self.step.max(1);
        // The last read time on the grid.
        let last = self.first + (self.last - self.first).max(0) / step * step;
        let mut at = self.first;
        loop {
            let i = ts.partition_point(|&t| t <= at);
            if i > 0 && ts[i - 1] > at.saturating_sub(self.lookback) {
                keep[i - 1] = true;
            }
            // Read times with no sample in their window skip ahead to the next sample.
            let next = match ts.get(i) {
                Some(&t) if t > at.saturating_add(step) => {
                    let behind = (t - self.first) / step;
                    self.first.saturating_add(behind.saturating_mul(step))
                }
                _ => at.saturating_add(step),
            };
            if at >= last || next <= at {
                break;
            }
            at = next.min(last);
        }
        let mut i = 0;
        points.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

/// How a reader sees the store.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The current time (ms): samples older than `now − retention` are invisible.
    pub now_ms: i64,
    /// Labels that tell HA replicas apart (Thanos' `replicaLabels[]`): series that differ only
    /// in them are read as one, deduplicated as the compactor does; empty reads every replica.
    pub replica_labels: Vec<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            now_ms: strata_storage::manifest::now_ms(),
            replica_labels: Vec::new(),
        }
    }
}

/// The raw blocks of `snapshot` a read of `[start, end]` uses, in commit precedence (later
/// wins), with the first visible timestamp (the retention floor) and the deletion requests
/// that apply to each.
fn blocks_to_read(
    snapshot: &Snapshot,
    start: i64,
    end: i64,
    read: &ReadOptions,
) -> (i64, Vec<(BlockMeta, Vec<DeleteRequest>)>) {
    let floor = snapshot.retention().floor(RAW_RESOLUTION, read.now_ms);
    let start = start.max(floor);
    if start > end {
        return (start, Vec::new());
    }
    let mut blocks: Vec<(BlockMeta, Vec<DeleteRequest>)> = snapshot
        .blocks_at(RAW_RESOLUTION, start, end)
        .map(|b| {
            let deletes = snapshot.deletes_for(b).into_iter().cloned().collect();
            (b.clone(), deletes)
        })
        .collect();
    blocks.sort_by_key(|(b, _)| b.precedence());
    (start, blocks)
}

/// The deletion requests that concern series `s` within `[start, end]`; `None` when they
/// delete all of it there.
fn deletions_of<'a>(
    s: &SeriesEntry,
    deletes: &'a [DeleteRequest],
    start: i64,
    end: i64,
) -> Option<Vec<&'a DeleteRequest>> {
    let (lo, hi) = (s.min_time.max(start), s.max_time.min(end));
    let mine: Vec<&DeleteRequest> = deletes
        .iter()
        .filter(|d| d.overlaps(lo, hi) && d.matches(&s.labels))
        .collect();
    if mine.iter().any(|d| d.covers(lo, hi)) {
        return None;
    }
    Some(mine)
}

/// Samples not in the store yet, read as if they were (a rule evaluation's own outputs, seen
/// by the later rules of its group): merged into every selection, winning over stored
/// samples at the same timestamp.
#[derive(Debug, Clone, Default)]
pub struct Overlay(pub std::sync::Arc<Vec<SelectedSeries>>);

impl Overlay {
    /// Merges the overlay's series that match `matchers` within `[start, end]` into `found`
    /// (sorted by labels, as selections are).
    pub fn merge_into(
        &self,
        found: Vec<SelectedSeries>,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Vec<SelectedSeries> {
        if self.0.is_empty() {
            return found;
        }
        let mut by_labels: BTreeMap<Labels, Vec<Points>> = BTreeMap::new();
        for s in found {
            by_labels.entry(s.labels).or_default().push(Points {
                timestamps: s.timestamps,
                values: s.values,
                start_timestamps: s.start_timestamps,
            });
        }
        for s in self.0.iter() {
            if !matchers.iter().all(|m| m.matches_labels(&s.labels)) {
                continue;
            }
            let mut points = Points {
                timestamps: s.timestamps.clone(),
                values: s.values.clone(),
                start_timestamps: s.start_timestamps.clone(),
            };
            points.trim(start, end);
            if !points.is_empty() {
                by_labels.entry(s.labels.clone()).or_default().push(points);
            }
        }
        by_labels
            .into_iter()
            .map(|(labels, parts)| {
                let p = merge_by_precedence(parts);
                SelectedSeries {
                    labels,
                    timestamps: p.timestamps,
                    values: p.values,
                    start_timestamps: p.start_timestamps,
                }
            })
            .collect()
    }
}

/// One selected series with its samples in time order (unique timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedSeries {
    pub labels: Labels,
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// Start timestamps, one per sample (0 = unknown); empty when none is known.
    pub start_timestamps: Vec<i64>,
}

struct Found {
    labels: Labels,
    points: Points,
}

/// The series a metric-name equality matcher can match: series files are sorted by name, so
/// they are one contiguous run found by binary search; without such a matcher, all.
pub(crate) fn candidates<'a>(series: &'a [SeriesEntry], matchers: &[Matcher]) -> &'a [SeriesEntry] {
    let name = matchers
        .iter()
        .find(|m| m.op() == crate::matcher::MatchOp::Equal && m.name() == METRIC_NAME)
        .map(|m| m.value());
    match name {
        Some(name) => {
            let lo = series.partition_point(|s| s.labels.metric_name() < Some(name));
            let hi = lo + series[lo..].partition_point(|s| s.labels.metric_name() == Some(name));
            &series[lo..hi]
        }
        None => series,
    }
}

async fn select_in_block(
    store: &Store,
    meta: BlockMeta,
    deletes: &[DeleteRequest],
    sel: &Selection,
) -> Result<Vec<Found>, QueryError> {
    let reader = BlockReader::new(store.clone(), meta);
    // The series file carries the samples file's footer: a cold block costs two round trips.
    let series = reader.series().await?;
    let mut deleted: BTreeMap<u32, Vec<&DeleteRequest>> = BTreeMap::new();
    let refs: Vec<u32> = candidates(&series, &sel.matchers)
        .iter()
        .filter(|s| s.min_time <= sel.end && s.max_time >= sel.start)
        .filter(|s| sel.matchers.iter().all(|m| m.matches_labels(&s.labels)))
        .filter(|s| match deletions_of(s, deletes, sel.start, sel.end) {
            None => false,
            Some(d) if d.is_empty() => true,
            Some(d) => {
                deleted.insert(s.series_ref, d);
                true
            }
        })
        .map(|s| s.series_ref)
        .collect();
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: usize = refs
        .iter()
        .map(|&r| series[r as usize].sample_count as usize)
        .sum();
    // What is decoded for a range read is what it keeps; an instant read keeps a few samples
    // of what it decodes, and is bounded by what it keeps.
    if wanted > sel.max_samples && sel.instant.is_none() {
        return Err(QueryError::TooManySamples {
            limit: sel.max_samples,
        });
    }
    // Deduplication picks replicas from all samples: thin after it (in `select_series`).
    let thin = sel.instant.filter(|_| sel.read.replica_labels.is_empty());
    let samples = reader.samples_shared(&series, &refs).await?;
    Ok(samples
        .into_iter()
        .map(|s| {
            let lo = s.timestamps.partition_point(|&t| t < sel.start);
            let hi = s.timestamps.partition_point(|&t| t <= sel.end);
            let start_timestamps = s.start_timestamps.get(lo..hi).unwrap_or_default().to_vec();
            let mut points = Points {
                timestamps: s.timestamps[lo..hi].to_vec(),
                values: s.values[lo..hi].to_vec(),
                start_timestamps,
            };
            if let Some(d) = deleted.get(&s.series_ref) {
                points.retain(|t| !d.iter().any(|d| d.start <= t && t <= d.end));
            }
            if let Some(reads) = &thin {
                reads.thin(&mut points);
            }
            Found {
                labels: series[s.series_ref as usize].labels.clone(),
                points,
            }
        })
        .filter(|f| !f.points.is_empty())
        .collect())
}

/// The label sets of the series matching `matchers` with samples in `[start, end]`, sorted and
/// deduplicated, read from the blocks' series files only (no samples). Several matcher lists
/// are a union, as `match[]` in Prometheus' API.
pub async fn find_series(
    store: &Store,
    snapshot: &Snapshot,
    matchers: &[Vec<Matcher>],
    start: i64,
    end: i64,
    read: &ReadOptions,
) -> Result<Vec<Labels>, QueryError> {
    let (start, blocks) = blocks_to_read(snapshot, start, end, read);
    let per_block: Vec<Vec<Labels>> = futures::stream::iter(blocks)
        .map(|(meta, deletes)| async move {
            let reader = BlockReader::new(store.clone(), meta);
            let series = reader.series().await?;
            Ok::<_, QueryError>(
                series
                    .iter()
                    .filter(|s| s.min_time <= end && s.max_time >= start)
                    .filter(|s| {
                        matchers.is_empty()
                            || matchers
                                .iter()
                                .any(|ms| ms.iter().all(|m| m.matches_labels(&s.labels)))
                    })
                    .filter(|s| deletions_of(s, &deletes, start, end).is_some())
                    .map(|s| {
                        if read.replica_labels.is_empty() {
                            s.labels.clone()
                        } else {
                            split_replica(&s.labels, &read.replica_labels).0
                        }
                    })
                    .collect(),
            )
        })
        .buffered(BLOCK_CONCURRENCY)
        .try_collect()
        .await?;
    let mut all: Vec<Labels> = per_block.into_iter().flatten().collect();
    all.sort();
    all.dedup();
    Ok(all)
}

/// Selects the series matching `sel` from `snapshot`'s blocks, sorted by labels. Samples of a
/// series found in several blocks are merged; where blocks overlap on a timestamp, the block
/// with the higher commit precedence (`order`, then id) wins. With replica labels, series
/// that differ only in them are deduplicated as the compactor does (see [`dedup`]), so
/// answers are the same before and after compaction deduplicates them in storage.
pub async fn select_series(
    store: &Store,
    snapshot: &Snapshot,
    sel: &Selection,
) -> Result<Vec<SelectedSeries>, QueryError> {
    if sel.read.replica_labels.is_empty() {
        return select_undeduplicated(store, snapshot, sel).await;
    }
    // Deduplication chooses a primary replica per epoch-aligned window from all the window's
    // samples: read whole windows, then keep what was asked for.
    let (start, end) = (sel.start, sel.end);
    let widened = Selection {
        start: start.div_euclid(DEDUP_WINDOW_MS) * DEDUP_WINDOW_MS,
        end: end
            .div_euclid(DEDUP_WINDOW_MS)
            .saturating_mul(DEDUP_WINDOW_MS)
            .saturating_add(DEDUP_WINDOW_MS - 1),
        ..sel.clone()
    };
    let replicas = select_undeduplicated(store, snapshot, &widened).await?;
    let mut out = dedup(replicas, &sel.read.replica_labels, start, end);
    if let Some(reads) = &sel.instant {
        for s in &mut out {
            let mut points = Points {
                timestamps: std::mem::take(&mut s.timestamps),
                values: std::mem::take(&mut s.values),
                start_timestamps: std::mem::take(&mut s.start_timestamps),
            };
            reads.thin(&mut points);
            (s.timestamps, s.values, s.start_timestamps) =
                (points.timestamps, points.values, points.start_timestamps);
        }
    }
    Ok(out)
}

/// Merges the series that differ only in `replica_labels` ([`dedup_replicas`], window by
/// window), drops those labels, and keeps the samples in `[start, end]`.
fn dedup(
    series: Vec<SelectedSeries>,
    replica_labels: &[String],
    start: i64,
    end: i64,
) -> Vec<SelectedSeries> {
    let mut groups: BTreeMap<Labels, Vec<(String, Points)>> = BTreeMap::new();
    for s in series {
        let (labels, replica) = split_replica(&s.labels, replica_labels);
        let points = Points {
            timestamps: s.timestamps,
            values: s.values,
            start_timestamps: s.start_timestamps,
        };
        groups.entry(labels).or_default().push((replica, points));
    }
    groups
        .into_iter()
        .filter_map(|(labels, replicas)| {
            let mut points = dedup_replicas(replicas);
            points.trim(start, end);
            (!points.is_empty()).then_some(SelectedSeries {
                labels,
                timestamps: points.timestamps,
                values: points.values,
                start_timestamps: points.start_timestamps,
            })
        })
        .collect()
}

async fn select_undeduplicated(
    store: &Store,
    snapshot: &Snapshot,
    sel: &Selection,
) -> Result<Vec<SelectedSeries>, QueryError> {
    let (start, blocks) = blocks_to_read(snapshot, sel.start, sel.end, &sel.read);
    let sel = std::sync::Arc::new(Selection {
        start,
        ..sel.clone()
    });
    let per_block: Vec<Vec<Found>> = futures::stream::iter(blocks)
        .map(|(meta, deletes)| {
            let (store, sel) = (store.clone(), sel.clone());
            on_worker(async move { select_in_block(&store, meta, &deletes, &sel).await })
        })
        .buffered(BLOCK_CONCURRENCY)
        .try_collect()
        .await?;
    let mut merged: BTreeMap<Labels, Vec<Found>> = BTreeMap::new();
    let mut loaded = 0usize;
    // Blocks in commit order: for a timestamp in several blocks, the last part wins.
    for mut found in per_block.into_iter().flatten() {
        loaded += found.points.len();
        if loaded > sel.max_samples {
            return Err(QueryError::TooManySamples {
                limit: sel.max_samples,
            });
        }
        // The map keeps the labels; the parts need only their samples.
        let labels = std::mem::take(&mut found.labels);
        merged.entry(labels).or_default().push(found);
    }
    Ok(merged
        .into_iter()
        .map(|(labels, parts)| merge_parts(labels, parts))
        .collect())
}

/// Joins one series' parts from several blocks (given in commit precedence).
fn merge_parts(labels: Labels, parts: Vec<Found>) -> SelectedSeries {
    let merged = merge_by_precedence(parts.into_iter().map(|p| p.points).collect());
    SelectedSeries {
        labels,
        timestamps: merged.timestamps,
        values: merged.values,
        start_timestamps: merged.start_timestamps,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use strata_storage::{Manifest, SeriesSamples, Transaction, encode_block, upload_block};

    use super::*;
    use crate::matcher::MatchOp;

    /// Thinning keeps exactly the samples some read time picks, against a naive scan.
    #[test]
    fn instant_reads_keep_the_samples_steps_pick() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m) as i64
        };
        for _ in 0..500 {
            let mut t = next(50) - 25;
            let mut ts = Vec::new();
            for _ in 0..next(40) {
                t += 1 + next(30);
                ts.push(t);
            }
            let reads = InstantReads {
                first: next(100) - 50,
                last: 0,
                step: 1 + next(20),
                lookback: 1 + next(40),
            };
            let reads = InstantReads {
                last: reads.first + next(200),
                ..reads
            };
            let mut want: Vec<i64> = Vec::new();
            let mut at = reads.first;
            while at <= reads.last {
                if let Some(&p) = ts.iter().rev().find(|&&p| p <= at)
                    && p > at - reads.lookback
                    && !want.contains(&p)
                {
                    want.push(p);
                }
                at += reads.step;
            }
            let mut points = Points {
                values: ts.iter().map(|&t| t as f64).collect(),
                timestamps: ts.clone(),
                start_timestamps: Vec::new(),
            };
            reads.thin(&mut points);
            assert_eq!(points.timestamps, want, "{ts:?} {reads:?}");
        }
    }

    type Input<'a> = (&'a [(&'a str, &'a str)], Vec<i64>, Vec<f64>);

    async fn commit(store: &Store, series: Vec<Input<'_>>) {
        let input = series
            .into_iter()
            .map(|(labels, timestamps, values)| SeriesSamples {
                labels: Labels::from_pairs(labels.iter().copied()).unwrap(),
                timestamps,
                values,
                start_timestamps: Vec::new(),
            })
            .collect();
        let block = encode_block(input).unwrap();
        upload_block(store, &block).await.unwrap();
        Manifest::new(store.clone(), "t")
            .commit(Transaction::add(vec![block.meta], Instant::now()))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn selects_across_blocks_by_matchers_and_time() {
        let store = Store::open("memory://").unwrap();
        let a: &[(&str, &str)] = &[("__name__", "up"), ("job", "api")];
        let b: &[(&str, &str)] = &[("__name__", "up"), ("job", "db")];
        commit(
            &store,
            vec![
                (a, vec![0, 10, 20], vec![1.0, 2.0, 3.0]),
                (b, vec![0], vec![9.0]),
            ],
        )
        .await;
        commit(&store, vec![(a, vec![20, 30, 40], vec![30.0, 4.0, 5.0])]).await;
        let snapshot = Manifest::new(store.clone(), "r").snapshot().await.unwrap();
        let sel = Selection {
            matchers: vec![
                Matcher::new(MatchOp::Equal, "__name__", "up").unwrap(),
                Matcher::new(MatchOp::Regex, "job", "a.*").unwrap(),
            ],
            start: 10,
            end: 30,
            max_samples: 100,
            read: ReadOptions::default(),
            instant: None,
        };
        let got = select_series(&store, &snapshot, &sel).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].timestamps, vec![10, 20, 30]);
        assert_eq!(
            got[0].values,
            vec![2.0, 30.0, 4.0],
            "the later block wins at t=20"
        );

        let limited = Selection {
            max_samples: 2,
            ..sel
        };
        let err = select_series(&store, &snapshot, &limited)
            .await
            .unwrap_err();
        assert!(matches!(err, QueryError::TooManySamples { limit: 2 }));
    }
}
