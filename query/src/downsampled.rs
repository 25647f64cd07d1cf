//! Selecting downsampled rows ([`AggRow`]) of one resolution for the windows a query needs.
//!
//! Data flow: the wanted windows `(first_end − res, last_end]` are cut into spans by the
//! aggregate blocks that answer for them ([`Snapshot::current_aggregates`]): spans covered at
//! the resolution itself read its rows; what is left is covered, where possible, by 5m blocks
//! whose rows are folded into the resolution ([`fold`]); the rest is read as raw samples
//! ([`select_series`], with its retention, deletions and precedence) and aggregated on the
//! fly with the compactor's own function ([`aggregate`]). Rows of one series from all sources
//! are disjoint in time and concatenated, so the answer is the same whatever the compactor
//! has downsampled so far.
//!
//! Deletion requests newer than an aggregate block hide the whole windows they touch; the
//! retention floor of each resolution hides windows that start before it.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use strata_storage::aggregate::{AggRow, RES_5M, aggregate, fold, window_end};
use strata_storage::{BlockMeta, BlockReader, DeleteRequest, Labels, Snapshot, Store};

use crate::error::QueryError;
use crate::matcher::Matcher;
use crate::select::{
    BLOCK_CONCURRENCY, InstantReads, ReadOptions, Selection, candidates, on_worker, select_series,
};

/// What to select.
#[derive(Debug, Clone)]
pub struct AggSelection {
    pub matchers: Vec<Matcher>,
    /// Window width (ms): 5m or 1h.
    pub res: i64,
    /// End of the first wanted window (a multiple of `res`).
    pub first_end: i64,
    /// End of the last wanted window (inclusive, a multiple of `res`).
    pub last_end: i64,
    /// Most rows (plus raw samples read for gaps) the selection may load.
    pub max_samples: usize,
    pub read: ReadOptions,
    /// Set (the lookback) for an instant selector, which needs only the newest sample at each
    /// window end: raw gaps then keep just those samples, as raw instant reads do.
    pub instant_lookback: Option<i64>,
}

/// One series' rows, in time order.
#[derive(Debug, Clone)]
pub struct AggSeries {
    pub labels: Labels,
    pub rows: Vec<AggRow>,
}

/// How a selection was answered: rows decoded from aggregate blocks and raw samples read
/// for the gaps (for the sample limit, statistics and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggStats {
    pub rows_read: usize,
    pub raw_samples_read: usize,
}

/// Sample-time spans `[lo, hi]` (inclusive) not covered yet.
type Gaps = Vec<(i64, i64)>;

/// Splits `gaps` by the spans of `blocks` (sorted by time): returns the covered pieces per
/// block and the gaps left.
fn cut<'a>(gaps: &Gaps, blocks: &[&'a BlockMeta]) -> (Vec<(&'a BlockMeta, i64, i64)>, Gaps) {
    let mut covered = Vec::new();
    let mut left = Vec::new();
    for &(lo, hi) in gaps {
        let mut at = lo;
        for b in blocks.iter().filter(|b| b.overlaps(lo, hi)) {
            if b.min_time > at {
                left.push((at, b.min_time - 1));
            }
            let (from, to) = (b.min_time.max(at), b.max_time.min(hi));
            if from <= to {
                covered.push((*b, from, to));
            }
            at = at.max(to.saturating_add(1));
        }
        if at <= hi {
            left.push((at, hi));
        }
    }
    (covered, left)
}

/// Reads the rows of windows ending in `[from_end, to_end]` from one aggregate block.
async fn read_block(
    store: &Store,
    meta: &BlockMeta,
    deletes: &[DeleteRequest],
    matchers: &[Matcher],
    (from_end, to_end): (i64, i64),
) -> Result<Vec<AggSeries>, QueryError> {
    let reader = BlockReader::new(store.clone(), meta.clone());
    let series = reader.series().await?;
    let res = meta.resolution_ms;
    let (lo, hi) = (from_end - res + 1, to_end);
    let refs: Vec<u32> = candidates(&series, matchers)
        .iter()
        .filter(|s| s.min_time <= hi && s.max_time >= lo)
        .filter(|s| matchers.iter().all(|m| m.matches_labels(&s.labels)))
        .map(|s| s.series_ref)
        .collect();
    let mut out = Vec::with_capacity(refs.len());
    for (r, rows) in reader.aggregates(&series, &refs).await? {
        let labels = series[r as usize].labels.clone();
        let lo = rows.partition_point(|row| row.t < from_end);
        let hi = rows.partition_point(|row| row.t <= to_end);
        let mut rows = rows[lo..hi].to_vec();
        let mine: Vec<&DeleteRequest> = deletes.iter().filter(|d| d.matches(&labels)).collect();
        if !mine.is_empty() {
            rows.retain(|row| !mine.iter().any(|d| d.overlaps(row.t - res + 1, row.t)));
        }
        if !rows.is_empty() {
            out.push(AggSeries { labels, rows });
        }
    }
    Ok(out)
}

/// Reads covered pieces of aggregate blocks of resolution `from_res` and returns their rows
/// at `res` (folded when finer).
async fn read_covered(
    store: &Store,
    snapshot: &Snapshot,
    pieces: Vec<(&BlockMeta, i64, i64)>,
    matchers: &[Matcher],
    from_res: i64,
    res: i64,
) -> Result<Vec<AggSeries>, QueryError> {
    let owned: Vec<(BlockMeta, Vec<DeleteRequest>, i64, i64)> = pieces
        .into_iter()
        .map(|(meta, lo, hi)| {
            let deletes = snapshot.deletes_for(meta).into_iter().cloned().collect();
            (meta.clone(), deletes, lo, hi)
        })
        .collect();
    let matchers: std::sync::Arc<[Matcher]> = matchers.into();
    let per_block: Vec<Vec<AggSeries>> = futures::stream::iter(owned)
        .map(|(meta, deletes, lo, hi)| {
            let (store, matchers) = (store.clone(), matchers.clone());
            on_worker(async move {
                // Windows of `from_res` inside the piece (its edges are multiples of `res`).
                let ends = (window_end(lo, from_res), hi.div_euclid(from_res) * from_res);
                read_block(&store, &meta, &deletes, &matchers, ends).await
            })
        })
        .buffered(BLOCK_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(per_block
        .into_iter()
        .flatten()
        .map(|mut s| {
            if from_res != res {
                s.rows = fold(&s.rows, res);
            }
            s
        })
        .collect())
}

/// Selects the rows of `sel`'s windows for every matching series, sorted by labels.
pub async fn select_aggregates(
    store: &Store,
    snapshot: &Snapshot,
    sel: &AggSelection,
) -> Result<(Vec<AggSeries>, AggStats), QueryError> {
    let res = sel.res;
    let floor = snapshot.retention().floor(res, sel.read.now_ms);
    // Windows that start before the retention floor are not visible at this resolution.
    let first_end = sel
        .first_end
        .max(window_end(floor.saturating_add(res), res));
    let mut stats = AggStats::default();
    if first_end > sel.last_end {
        return Ok((Vec::new(), stats));
    }
    let mut gaps: Gaps = vec![(first_end - res + 1, sel.last_end)];
    let mut parts: Vec<AggSeries> = Vec::new();
    // The resolution itself, then 5m folded into it, then raw.
    let mut sources = vec![res];
    if res > RES_5M && res % RES_5M == 0 {
        sources.push(RES_5M);
    }
    for from_res in sources {
        let (lo, hi) = match (gaps.first(), gaps.last()) {
            (Some(a), Some(b)) => (a.0, b.1),
            _ => break,
        };
        let blocks = snapshot.current_aggregates(from_res, lo, hi);
        let (covered, left) = cut(&gaps, &blocks);
        gaps = left;
        let got = read_covered(store, snapshot, covered, &sel.matchers, from_res, res).await?;
        stats.rows_read += got.iter().map(|s| s.rows.len()).sum::<usize>();
        parts.extend(got);
        if stats.rows_read > sel.max_samples {
            return Err(QueryError::TooManySamples {
                limit: sel.max_samples,
            });
        }
    }
    for (lo, hi) in gaps {
        let raw = select_series(
            store,
            snapshot,
            &Selection {
                matchers: sel.matchers.clone(),
                start: lo,
                end: hi,
                max_samples: sel.max_samples.saturating_sub(stats.rows_read),
                read: sel.read.clone(),
                instant: sel.instant_lookback.map(|lookback| InstantReads {
                    first: window_end(lo, res),
                    last: hi,
                    step: res,
                    lookback,
                }),
            },
        )
        .await?;
        for s in raw {
            stats.raw_samples_read += s.timestamps.len();
            let rows = aggregate(&s.timestamps, &s.values, &s.start_timestamps, res);
            parts.push(AggSeries {
                labels: s.labels,
                rows,
            });
        }
    }
    let mut by_labels: BTreeMap<Labels, Vec<AggRow>> = BTreeMap::new();
    for p in parts {
        by_labels.entry(p.labels).or_default().extend(p.rows);
    }
    let out = by_labels
        .into_iter()
        .map(|(labels, mut rows)| {
            rows.sort_by_key(|r| r.t);
            AggSeries { labels, rows }
        })
        .filter(|s| !s.rows.is_empty())
        .collect();
    Ok((out, stats))
}

/// Which resolutions a query may read: Thanos' `max_source_resolution` (`0s`/`raw`, `5m`,
/// `1h`, any duration, or `auto`).
///
/// Strata's aggregates answer exactly whenever a range function's range, the step and the
/// evaluation times are whole windows, so there is no precision to trade: `auto` reads the
/// coarsest resolution (up to 1h) for which a selector is aligned, and raw data where none is.
/// An explicit ceiling caps the resolution the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceResolution {
    /// Raw samples only.
    Raw,
    /// Resolutions up to this many ms, chosen by alignment.
    UpTo(i64),
    /// The coarsest aligned resolution.
    #[default]
    Auto,
}

impl SourceResolution {
    /// Parses `max_source_resolution`: `auto`, `raw`, or a Prometheus duration (`0s`, `5m`,
    /// `1h`, `300`).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "auto" => Ok(Self::Auto),
            "raw" => Ok(Self::Raw),
            d => {
                let ms = match d.parse::<f64>() {
                    Ok(secs) if secs.is_finite() && secs.abs() < 9e15 => (secs * 1000.0) as i64,
                    Ok(_) => return Err(format!("cannot parse {s:?} to a valid duration")),
                    Err(_) => strata_storage::duration::parse_duration(d)
                        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))?,
                };
                match ms {
                    ms if ms < 0 => Err(format!("negative max_source_resolution {s:?}")),
                    0 => Ok(Self::Raw),
                    ms => Ok(Self::UpTo(ms)),
                }
            }
        }
    }

    /// The resolutions to try, coarsest first.
    pub fn candidates(self) -> Vec<i64> {
        let cap = match self {
            Self::Raw => return Vec::new(),
            Self::UpTo(ms) => ms,
            Self::Auto => i64::MAX,
        };
        let mut r: Vec<i64> = strata_storage::aggregate::RESOLUTIONS
            .into_iter()
            .filter(|&r| r <= cap)
            .collect();
        r.reverse();
        r
    }

    /// Whether the user asked for a resolution (an unaligned query then says it read raw).
    pub fn explicit(self) -> bool {
        matches!(self, Self::UpTo(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_source_resolution_parses_as_thanos_accepts_it() {
        assert_eq!(SourceResolution::parse("auto"), Ok(SourceResolution::Auto));
        assert_eq!(SourceResolution::parse("0s"), Ok(SourceResolution::Raw));
        assert_eq!(SourceResolution::parse("raw"), Ok(SourceResolution::Raw));
        assert_eq!(
            SourceResolution::parse("5m"),
            Ok(SourceResolution::UpTo(RES_5M))
        );
        assert_eq!(
            SourceResolution::parse("3600"),
            Ok(SourceResolution::UpTo(3_600_000))
        );
        assert!(SourceResolution::parse("-5m").is_err());
        assert!(SourceResolution::parse("soon").is_err());
        assert_eq!(SourceResolution::Auto.candidates(), vec![3_600_000, RES_5M]);
        assert_eq!(
            SourceResolution::UpTo(20 * 60_000).candidates(),
            vec![RES_5M]
        );
        assert!(SourceResolution::Raw.candidates().is_empty());
    }
}
