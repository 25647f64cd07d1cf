//! Executing a merge job: read the inputs' series files, order every series the job writes
//! (labels without replica labels when deduplicating) in block order, then per output window
//! and shard read the inputs' samples a chunk of series at a time (one row selection per
//! input and chunk), merge each series by commit precedence, deduplicate HA replicas, drop
//! deleted and expired samples, and stream the result into a [`StreamingUpload`]. Memory is
//! bounded by the inputs' series rows plus one chunk (`chunk_samples`), whatever the window's
//! size. Before returning, every output is read back and its sample-set hash compared with
//! what was written, so that a faulty encoder can never hide an input.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use strata_storage::aggregate::{AggRow, aggregate};
use strata_storage::dedup::{dedup_replicas, split_replica};
use strata_storage::points::{Points, merge_by_precedence};
use strata_storage::publish::StreamingUpload;
use strata_storage::{
    BlockMeta, BlockReader, DeleteRequest, EncodeOptions, Labels, MetricMetadataMap, SeriesEntry,
    SeriesSamples, Shard, Snapshot, StorageError, Store, series_order,
};

use crate::config::CompactorConfig;
use crate::error::JobError;
use crate::planner::Job;

/// What a merge produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Merged {
    pub(crate) outputs: Vec<BlockMeta>,
    pub(crate) samples_in: u64,
    pub(crate) samples_out: u64,
    pub(crate) bytes_out: u64,
}

struct Input {
    reader: BlockReader,
    series: Arc<Vec<SeriesEntry>>,
    deletes: Vec<DeleteRequest>,
}

/// One input series of one output series.
struct Entry {
    out: Arc<Labels>,
    /// Rank of `out` in block order among the job's output series.
    rank: u32,
    hash: u64,
    replica: String,
    input: usize,
    series_ref: u32,
    samples: u32,
    min_time: i64,
    max_time: i64,
}

/// Order-independent hash of a set of samples.
fn sample_hash(series_hash: u64, t: i64, v: f64) -> u64 {
    let mut buf = [0u8; 24];
    buf[..8].copy_from_slice(&series_hash.to_le_bytes());
    buf[8..16].copy_from_slice(&t.to_le_bytes());
    buf[16..].copy_from_slice(&v.to_bits().to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&buf)
}

fn input_error(meta: &BlockMeta, e: StorageError) -> JobError {
    JobError::Input {
        block: meta.id,
        source: e,
    }
}

/// Runs merge `job` against `snapshot` (whose deletion requests apply to inputs older than
/// them); stops with [`JobError::Deadline`] between chunks once `deadline` passes.
pub(crate) async fn run(
    store: &Store,
    snapshot: &Snapshot,
    job: &Job,
    cfg: &CompactorConfig,
    now_ms: i64,
    deadline: Option<Instant>,
) -> Result<Merged, JobError> {
    // Inputs are few (the planner caps the fan-in): their series files are read at once.
    let inputs: Vec<Input> = futures::future::try_join_all(job.inputs.iter().map(|meta| {
        let reader = BlockReader::new(store.clone(), meta.clone());
        let deletes = snapshot.deletes_for(meta).into_iter().cloned().collect();
        let meta = meta.clone();
        async move {
            let series = reader.series().await.map_err(|e| input_error(&meta, e))?;
            Ok::<_, JobError>(Input {
                reader,
                series,
                deletes,
            })
        }
    }))
    .await?;
    let mut metadata = MetricMetadataMap::new();
    for input in &inputs {
        let m = input
            .reader
            .metric_metadata()
            .await
            .map_err(|e| input_error(input.reader.meta(), e))?;
        metadata.extend(m);
    }
    // Expired raw samples are dropped by merges; downsampling reads them (raw blocks outlive
    // their retention until aggregated), and the aggregates' own retention applies to them.
    let floor = match job.resolution_ms {
        0 => cfg.retention.floor(strata_storage::RAW_RESOLUTION, now_ms),
        res => cfg.retention.floor(res, now_ms),
    };

    // Every output series, in block order; each with its inputs in precedence order.
    let mut entries: Vec<Entry> = Vec::new();
    // Each output label set once (an index into `outputs`, with its hash): entries are many
    // (one per series per input), label sets few, so they are compared once each.
    let mut interned: HashMap<Labels, u32> = HashMap::new();
    let mut outputs: Vec<(Arc<Labels>, u64)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        for s in input.series.iter() {
            let (out, replica) = if job.dedup {
                split_replica(&s.labels, &cfg.replica_labels)
            } else {
                (s.labels.clone(), String::new())
            };
            if input
                .deletes
                .iter()
                .any(|d| d.covers(s.min_time, s.max_time) && d.matches(&s.labels))
                || s.max_time < floor
            {
                continue;
            }
            let index = *interned.entry(out).or_insert_with_key(|l| {
                outputs.push((Arc::new(l.clone()), l.stable_hash()));
                u32::try_from(outputs.len() - 1).unwrap_or(u32::MAX)
            });
            let (out, hash) = outputs.get(index as usize).cloned().ok_or_else(|| {
                JobError::Storage(StorageError::InvalidArgument(
                    "more than 2^32 output series in one job".into(),
                ))
            })?;
            entries.push(Entry {
                rank: index,
                hash,
                out,
                replica,
                input: i,
                series_ref: s.series_ref,
                samples: s.sample_count,
                min_time: s.min_time,
                max_time: s.max_time,
            });
        }
    }
    drop(interned);
    let mut order: Vec<u32> = (0..outputs.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| series_order(&outputs[a as usize].0, &outputs[b as usize].0));
    let mut rank = vec![0u32; outputs.len()];
    for (r, &o) in order.iter().enumerate() {
        rank[o as usize] = r as u32;
    }
    drop(outputs);
    for e in &mut entries {
        e.rank = rank[e.rank as usize];
    }
    entries.sort_unstable_by_key(|e| (e.rank, e.input));
    // Group boundaries: runs of one output series.
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].rank != entries[start].rank {
            groups.push(start..i);
            start = i;
        }
    }

    let mut merged = Merged {
        samples_in: job.input_samples(),
        ..Default::default()
    };
    let min = job.inputs.iter().map(|b| b.min_time).min().unwrap_or(0);
    let max = job.inputs.iter().map(|b| b.max_time).max().unwrap_or(0);
    let width = if job.window_ms > 0 {
        job.window_ms
    } else {
        i64::MAX
    };
    let first_window = if job.window_ms > 0 {
        min.div_euclid(width) * width
    } else {
        min
    };
    let mut window = first_window;
    // A downsampling job aggregates exactly its span into one output.
    let res = job.resolution_ms;
    if res > 0 {
        window = job.span.0;
    }
    let order = job.inputs.iter().map(|b| b.order).max().unwrap_or(0);
    // Final merges are compressed hard (they stay); rollups and capped merges of an unfinished
    // window are rewritten soon, so they get the writers' fast level.
    let options = if job.level >= crate::config::level::WINDOW {
        EncodeOptions::default()
    } else {
        EncodeOptions::fresh()
    };
    loop {
        let window_end = if res > 0 {
            job.span.1
        } else {
            window.saturating_add(width).saturating_sub(1).min(max)
        };
        for shard in 0..job.shards.max(1) {
            let shard = Shard {
                index: shard,
                count: job.shards.max(1),
            };
            let mut upload = if res > 0 {
                StreamingUpload::new_aggregates(store, &options, res, job.span)?
            } else {
                StreamingUpload::new(store, &options)?
            };
            upload.set_metric_metadata(metadata.clone())?;
            let mut hash = 0u64;
            let mut samples = 0u64;
            let wanted: Vec<&std::ops::Range<usize>> = groups
                .iter()
                .filter(|g| {
                    let e = &entries[g.start];
                    shard.holds(e.hash)
                        && entries[(*g).clone()]
                            .iter()
                            .any(|e| e.min_time <= window_end && e.max_time >= window)
                })
                .collect();
            let mut at = 0;
            while at < wanted.len() {
                if deadline.is_some_and(|d| Instant::now() > d) {
                    upload.abort().await;
                    return Err(JobError::Deadline);
                }
                // One chunk: groups worth about `chunk_samples` input samples.
                let mut end = at;
                let mut budget = 0usize;
                while end < wanted.len() && (end == at || budget < cfg.chunk_samples) {
                    budget += entries[wanted[end].clone()]
                        .iter()
                        .map(|e| e.samples as usize)
                        .sum::<usize>();
                    end += 1;
                }
                let chunk = &wanted[at..end];
                at = end;
                let read = read_chunk(&inputs, &entries, chunk, window, window_end).await?;
                let mut out: Vec<SeriesSamples> = Vec::with_capacity(chunk.len());
                let mut rows_out: Vec<(Labels, Vec<AggRow>)> = Vec::new();
                for g in chunk {
                    let group = &entries[(*g).clone()];
                    let points = merge_group(
                        &inputs,
                        group,
                        &read,
                        job.dedup,
                        (window, window_end),
                        floor,
                    );
                    if points.is_empty() {
                        continue;
                    }
                    let series_hash = group[0].hash;
                    if res > 0 {
                        let rows = aggregate(
                            &points.timestamps,
                            &points.values,
                            &points.start_timestamps,
                            res,
                        );
                        for r in &rows {
                            hash = hash.wrapping_add(r.hash(series_hash));
                        }
                        samples += rows.len() as u64;
                        rows_out.push(((*group[0].out).clone(), rows));
                        continue;
                    }
                    for (&t, &v) in points.timestamps.iter().zip(&points.values) {
                        hash = hash.wrapping_add(sample_hash(series_hash, t, v));
                    }
                    samples += points.len() as u64;
                    out.push(SeriesSamples {
                        labels: (*group[0].out).clone(),
                        timestamps: points.timestamps,
                        values: points.values,
                        start_timestamps: points.start_timestamps,
                    });
                }
                let pushed = if res > 0 {
                    upload.push_rows(rows_out).await
                } else {
                    upload.push(out).await
                };
                if let Err(e) = pushed {
                    upload.abort().await;
                    return Err(e.into());
                }
            }
            let Some(mut meta) = upload.finish().await? else {
                continue;
            };
            meta.level = job.level;
            meta.order = order;
            meta.as_of = snapshot.seq().0;
            meta.shard = (shard.count > 1).then_some(shard);
            meta.parents = job.inputs.iter().map(|b| b.id).collect();
            if cfg.verify {
                verify(store, &meta, hash, samples).await?;
            }
            if res > 0 {
                // Aggregate outputs take no part in raw precedence; `order` records what
                // they were built from (a later raw block makes them outdated).
                meta.level = job.level;
            }
            merged.samples_out += meta.samples;
            merged.bytes_out += meta.bytes();
            merged.outputs.push(meta);
        }
        if res > 0 || job.window_ms <= 0 || window_end >= max {
            break;
        }
        window = window.saturating_add(width);
    }
    Ok(merged)
}

/// The samples of a chunk's series: per input, `series_ref → points`, trimmed to the window.
type ChunkRead = Vec<HashMap<u32, Points>>;

async fn read_chunk(
    inputs: &[Input],
    entries: &[Entry],
    chunk: &[&std::ops::Range<usize>],
    window: i64,
    window_end: i64,
) -> Result<ChunkRead, JobError> {
    let mut wanted: Vec<Vec<u32>> = vec![Vec::new(); inputs.len()];
    for g in chunk {
        for e in &entries[(*g).clone()] {
            if e.min_time <= window_end && e.max_time >= window {
                wanted[e.input].push(e.series_ref);
            }
        }
    }
    futures::future::try_join_all(inputs.iter().zip(wanted).map(|(input, refs)| {
        let reader = input.reader.clone();
        let series = input.series.clone();
        async move {
            if refs.is_empty() {
                return Ok(HashMap::new());
            }
            let read = reader
                .samples(&series, &refs)
                .await
                .map_err(|e| input_error(reader.meta(), e))?;
            Ok::<_, JobError>(
                read.into_iter()
                    .map(|s| {
                        let mut p = Points {
                            timestamps: s.timestamps,
                            values: s.values,
                            start_timestamps: s.start_timestamps,
                        };
                        p.trim(window, window_end);
                        (s.series_ref, p)
                    })
                    .collect(),
            )
        }
    }))
    .await
}

/// One output series from its inputs' parts: merged by precedence (per replica when
/// deduplicating), deleted and expired samples dropped.
fn merge_group(
    inputs: &[Input],
    group: &[Entry],
    read: &ChunkRead,
    dedup: bool,
    (window, window_end): (i64, i64),
    floor: i64,
) -> Points {
    let part = |e: &Entry| -> Option<Points> {
        let mut p = read[e.input].get(&e.series_ref)?.clone();
        let input = &inputs[e.input];
        let labels = &input.series.get(e.series_ref as usize)?.labels;
        let deletes: Vec<&DeleteRequest> =
            input.deletes.iter().filter(|d| d.matches(labels)).collect();
        if !deletes.is_empty() {
            p.retain(|t| !deletes.iter().any(|d| d.start <= t && t <= d.end));
        }
        if floor > window {
            p.retain(|t| t >= floor);
        }
        debug_assert!(p.timestamps.iter().all(|&t| t >= window && t <= window_end));
        Some(p)
    };
    let mut replicas: Vec<&str> = group.iter().map(|e| e.replica.as_str()).collect();
    replicas.sort_unstable();
    replicas.dedup();
    if !dedup || replicas.len() <= 1 {
        return merge_by_precedence(group.iter().filter_map(part).collect());
    }
    let per_replica: Vec<(String, Points)> = replicas
        .iter()
        .map(|r| {
            let parts = group
                .iter()
                .filter(|e| e.replica == *r)
                .filter_map(part)
                .collect();
            (r.to_string(), merge_by_precedence(parts))
        })
        .collect();
    dedup_replicas(per_replica)
}

/// Reads an output back and checks that it holds exactly the samples (or aggregate rows)
/// written.
async fn verify(store: &Store, meta: &BlockMeta, hash: u64, samples: u64) -> Result<(), JobError> {
    let reader = BlockReader::new(store.clone(), meta.clone());
    let series = reader.series().await?;
    let mut got_hash = 0u64;
    let mut got = 0u64;
    let refs: Vec<u32> = series.iter().map(|s| s.series_ref).collect();
    let mut at = 0;
    while at < refs.len() {
        let mut end = at;
        let mut n = 0usize;
        while end < refs.len() && (end == at || n < 1 << 20) {
            n += series[end].sample_count as usize;
            end += 1;
        }
        if meta.is_raw() {
            for s in reader.samples(&series, &refs[at..end]).await? {
                let h = series[s.series_ref as usize].series_hash;
                for (&t, &v) in s.timestamps.iter().zip(&s.values) {
                    got_hash = got_hash.wrapping_add(sample_hash(h, t, v));
                }
                got += s.timestamps.len() as u64;
            }
        } else {
            for (r, rows) in reader.aggregates(&series, &refs[at..end]).await? {
                let h = series[r as usize].series_hash;
                for row in rows.iter() {
                    got_hash = got_hash.wrapping_add(row.hash(h));
                }
                got += rows.len() as u64;
            }
        }
        at = end;
    }
    if got != samples || got_hash != hash {
        return Err(JobError::Verify {
            block: meta.id,
            reason: format!(
                "wrote {samples} samples, read back {got} (hash match: {})",
                got_hash == hash
            ),
        });
    }
    Ok(())
}
