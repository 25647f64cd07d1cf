//! Planning: a pure function of a manifest snapshot, the time and the settings, returning the
//! jobs that are due (no store access; tested without one).
//!
//! - **Retention** removes blocks whose newest sample is older than their resolution's
//!   retention; **retire** drops deletion requests no live block still needs.
//! - **Split**: a block that crosses the window it belongs in (an import cut at other
//!   widths) is rewritten as one block per window, keeping its precedence.
//! - **Rollup**: an open 2h window is merged once it holds `rollup_blocks` ingest blocks (or
//!   `rollup_bytes` of them), and its rollups once there are `rollup_merges`: a fresh query
//!   opens a bounded number of files.
//! - **Window** / **Day**: a window closed for `late_grace` is merged into one block (2h, or
//!   24h for closed days with `day_blocks`), sharded by series hash when large.
//! - **Late**: blocks arriving in a merged window are merged in once there are enough of them.
//!
//! Precedence: a merge output carries the largest `order` of its inputs, so the inputs of a
//! job must be a contiguous run in `order` among the blocks overlapping its window. Every
//! job here takes all of a window's blocks, or the run with the lowest orders (fan-in caps),
//! or the run with the highest (the ingest blocks of a rollup) — never a run with a gap.

use std::collections::BTreeMap;

use strata_storage::{BlockMeta, RAW_RESOLUTION, Snapshot};

use crate::config::{CompactorConfig, DAY_MS, HOUR_2_MS, level};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    /// Remove expired blocks.
    Retention,
    /// Drop deletion requests that no block needs.
    Retire,
    /// Cut a block at window boundaries.
    Split,
    /// Merge an open window's blocks.
    Rollup,
    /// Merge a closed 2h window.
    Window,
    /// Merge a closed day.
    Day,
    /// Merge late blocks into a merged window.
    Late,
    /// Rewrite blocks to remove deleted samples.
    Rewrite,
    /// Aggregate a day of raw blocks into windows of a resolution.
    Downsample,
}

impl JobKind {
    /// Name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retention => "retention",
            Self::Retire => "retire",
            Self::Split => "split",
            Self::Rollup => "rollup",
            Self::Window => "window",
            Self::Day => "day",
            Self::Late => "late",
            Self::Rewrite => "rewrite",
            Self::Downsample => "downsample",
        }
    }

    /// True for jobs that read and write blocks.
    pub fn merges(self) -> bool {
        !matches!(self, Self::Retention | Self::Retire)
    }
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub kind: JobKind,
    /// Inputs in precedence order (later wins); for retention, the blocks to remove.
    pub inputs: Vec<BlockMeta>,
    /// Outputs are cut at epoch-aligned windows of this width (one per window touched).
    pub window_ms: i64,
    /// Level of the outputs.
    pub level: u32,
    /// Outputs per window (series-hash shards).
    pub shards: u32,
    /// Deduplicate HA replicas while merging.
    pub dedup: bool,
    /// For `Retire`: the deletion requests to drop.
    pub retire: Vec<u64>,
    /// For `Downsample`: the resolution of the output (0 for raw merges)…
    pub resolution_ms: i64,
    /// …the sample times `(start, end]` it aggregates, as an inclusive `[start + 1, end]`…
    pub span: (i64, i64),
    /// …and the outdated aggregate blocks of that span it replaces (its raw inputs stay).
    pub replaces: Vec<BlockMeta>,
}

impl Job {
    fn new(kind: JobKind, mut inputs: Vec<BlockMeta>, window_ms: i64, level: u32) -> Self {
        inputs.sort_by_key(BlockMeta::precedence);
        Self {
            kind,
            inputs,
            window_ms,
            level,
            shards: 1,
            dedup: false,
            retire: Vec::new(),
            resolution_ms: 0,
            span: (0, 0),
            replaces: Vec::new(),
        }
    }

    /// A stable key for the job (its kind and inputs): names its claim.
    pub fn key(&self) -> String {
        let mut ids: Vec<String> = self.inputs.iter().map(|b| b.id.to_string()).collect();
        ids.sort();
        let text = format!(
            "{}:{}:{}",
            self.kind.as_str(),
            self.resolution_ms,
            ids.join(",")
        );
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }

    /// Samples the job reads.
    pub fn input_samples(&self) -> u64 {
        self.inputs.iter().map(|b| b.samples).sum()
    }

    /// Bytes the job reads.
    pub fn input_bytes(&self) -> u64 {
        self.inputs.iter().map(BlockMeta::bytes).sum()
    }
}

/// The plan of one pass, with backlog figures for the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub jobs: Vec<Job>,
    /// End (ms) of the oldest closed window that still waits for its merge.
    pub oldest_unmerged_window_end: Option<i64>,
}

fn window_of(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width
}

/// True when `blocks` are one merge output: all at least `min_level`, one shard set.
fn settled(blocks: &[&BlockMeta], min_level: u32) -> bool {
    if blocks.iter().any(|b| b.level < min_level) {
        return false;
    }
    match blocks {
        [] | [_] => true,
        [first, ..] => {
            let count = first.shard.map_or(1, |s| s.count) as usize;
            let mut seen: Vec<u32> = blocks
                .iter()
                .filter(|b| {
                    b.order == first.order
                        && b.shard.map(|s| s.count) == first.shard.map(|s| s.count)
                })
                .filter_map(|b| b.shard.map(|s| s.index))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            count == blocks.len() && seen.len() == count
        }
    }
}

/// Plans the jobs due in `snapshot` at `now_ms`.
pub fn plan(snapshot: &Snapshot, now_ms: i64, cfg: &CompactorConfig) -> Plan {
    let mut out = Plan::default();
    let retention = cfg.retention;

    // Retention first: cheap, and never blocked by merges. With downsampling on, a raw block
    // goes only once every resolution covers its days; outdated aggregates go too.
    let mut expired: Vec<BlockMeta> = snapshot
        .blocks()
        .filter(|b| {
            let floor = retention.floor(b.resolution_ms, now_ms);
            b.max_time < floor && (!b.is_raw() || downsampled(snapshot, b, cfg))
        })
        .cloned()
        .collect();
    for b in superseded_aggregates(snapshot) {
        if !expired.contains(&b) {
            expired.push(b);
        }
    }
    if !expired.is_empty() {
        out.jobs
            .push(Job::new(JobKind::Retention, expired.clone(), 0, 0));
    }

    // Deletion requests no live block needs any more.
    let retire: Vec<u64> = snapshot
        .deletes()
        .filter(|(seq, d)| {
            !snapshot.blocks().any(|b| {
                b.as_of < *seq && d.overlaps(b.min_time, b.max_time) && !expired.contains(b)
            })
        })
        .map(|(seq, _)| seq)
        .collect();
    if !retire.is_empty() {
        let mut job = Job::new(JobKind::Retire, Vec::new(), 0, 0);
        job.retire = retire;
        out.jobs.push(job);
    }

    let floor = retention.floor(RAW_RESOLUTION, now_ms);
    let live: Vec<&BlockMeta> = snapshot
        .blocks_at(RAW_RESOLUTION, i64::MIN, i64::MAX)
        .filter(|b| b.max_time >= floor && !snapshot.is_quarantined(&b.id))
        .collect();
    let closed = |end: i64| now_ms >= end + cfg.late_grace_ms;
    let dedup = |end: i64| !cfg.replica_labels.is_empty() && now_ms >= end + cfg.dedup_after_ms;
    let rewrite_due = |b: &BlockMeta| {
        snapshot
            .deletes_for(b)
            .iter()
            .any(|d| now_ms >= d.requested_at_ms + cfg.delete_rewrite_after_ms)
    };

    // Group blocks by day; cut those that do not fit where they belong.
    let mut days: BTreeMap<i64, Vec<&BlockMeta>> = BTreeMap::new();
    for b in live {
        let day = window_of(b.min_time, DAY_MS);
        let w2 = window_of(b.min_time, HOUR_2_MS);
        let fits_2h = b.max_time < w2 + HOUR_2_MS;
        let fits_day = b.max_time < day + DAY_MS;
        if fits_2h || (cfg.day_blocks && fits_day && closed(day + DAY_MS)) {
            days.entry(day).or_default().push(b);
        } else {
            let width = if cfg.day_blocks && !fits_day {
                DAY_MS
            } else {
                HOUR_2_MS
            };
            out.jobs
                .push(Job::new(JobKind::Split, vec![b.clone()], width, b.level));
        }
    }

    let mut merges: Vec<Job> = Vec::new();
    for (day, blocks) in days {
        let day_end = day + DAY_MS;
        if cfg.day_blocks && closed(day_end) {
            if let Some(mut job) = merge_closed(&blocks, level::DAY, now_ms, cfg, &rewrite_due) {
                job.kind = if job.kind == JobKind::Window {
                    JobKind::Day
                } else {
                    job.kind
                };
                job.window_ms = DAY_MS;
                job.dedup = dedup(day_end);
                note_backlog(&mut out, day_end);
                merges.push(job);
            }
            continue;
        }
        let mut windows: BTreeMap<i64, Vec<&BlockMeta>> = BTreeMap::new();
        for b in blocks {
            windows
                .entry(window_of(b.min_time, HOUR_2_MS))
                .or_default()
                .push(b);
        }
        for (w, blocks) in windows {
            let end = w + HOUR_2_MS;
            let job = if closed(end) {
                let job = merge_closed(&blocks, level::WINDOW, now_ms, cfg, &rewrite_due);
                if job.is_some() {
                    note_backlog(&mut out, end);
                }
                job
            } else {
                rollup(&blocks, cfg).or_else(|| {
                    // Deleted samples due to go from an open window: roll it all up.
                    blocks.iter().any(|b| rewrite_due(b)).then(|| {
                        let all = blocks.iter().map(|b| (*b).clone()).collect();
                        Job::new(JobKind::Rewrite, all, 0, level::ROLLUP)
                    })
                })
            };
            if let Some(mut job) = job {
                job.window_ms = HOUR_2_MS;
                job.dedup = dedup(end);
                merges.push(job);
            }
        }
    }
    for job in &mut merges {
        cap_fan_in(job, cfg);
        job.shards = shards_for(job, cfg);
    }
    // Rollups first (they bound what fresh queries open), then the oldest windows.
    merges.sort_by_key(|j| {
        (
            j.kind != JobKind::Rollup,
            j.inputs.iter().map(|b| b.min_time).min(),
        )
    });
    out.jobs.extend(merges);
    out.jobs.extend(downsampling(snapshot, now_ms, cfg));
    out
}

/// The span of one aggregate block of `res`: a day of 5m windows (288 rows per series), two
/// weeks of 1h windows (336 rows per series, the span of Thanos' largest blocks, which its
/// 1h downsampling reads), so that a month read at 1h opens 3 blocks, not 30: a cold read
/// costs two round trips per block. Epoch-aligned and left-open, `(end − width, end]`, as
/// the windows inside.
pub(crate) fn aggregate_window(res: i64) -> i64 {
    if res >= strata_storage::aggregate::RES_1H {
        14 * DAY_MS
    } else {
        DAY_MS
    }
}

/// The end of the day `(end − 1d, end]` holding `t` (aggregate windows are left-open).
fn day_end(t: i64) -> i64 {
    strata_storage::aggregate::window_end(t, DAY_MS)
}

/// True when every downsampling resolution has a current aggregate block for every day raw
/// block `b` touches (so that it may expire).
fn downsampled(snapshot: &Snapshot, b: &BlockMeta, cfg: &CompactorConfig) -> bool {
    cfg.downsample.iter().all(|&(res, _)| {
        let mut end = day_end(b.min_time);
        while end <= day_end(b.max_time) {
            let (lo, hi) = (end - DAY_MS + 1, end);
            let covered = snapshot
                .current_aggregates(res, lo, hi)
                .iter()
                .any(|a| a.min_time <= lo && a.max_time >= hi);
            if !covered {
                return false;
            }
            end += DAY_MS;
        }
        true
    })
}

/// Aggregate blocks hidden by a current one of higher precedence over their whole span
/// (racing compactors, or outputs replaced while their successor was committed).
fn superseded_aggregates(snapshot: &Snapshot) -> Vec<BlockMeta> {
    let mut out = Vec::new();
    for res in strata_storage::aggregate::RESOLUTIONS {
        let current = snapshot.current_aggregates(res, i64::MIN, i64::MAX);
        for b in snapshot.blocks_at(res, i64::MIN, i64::MAX) {
            let hidden = current.iter().any(|c| {
                c.id != b.id
                    && c.precedence() > b.precedence()
                    && c.min_time <= b.min_time
                    && c.max_time >= b.max_time
            });
            if hidden {
                out.push(b.clone());
            }
        }
    }
    out
}

/// Downsampling jobs: each aggregate window ([`aggregate_window`]: a day at 5m, two weeks at 1h)
/// whose end is old enough and that has no current aggregate block of the resolution is
/// aggregated from all its raw blocks (not before the merges bring them under the fan-in
/// limit).
///
/// Raw blocks past their own retention still count: they stay until aggregated (see
/// `downsampled`), and the job reads them whole.
fn downsampling(snapshot: &Snapshot, now_ms: i64, cfg: &CompactorConfig) -> Vec<Job> {
    let raw: Vec<&BlockMeta> = snapshot
        .blocks_at(RAW_RESOLUTION, i64::MIN, i64::MAX)
        .filter(|b| !snapshot.is_quarantined(&b.id))
        .collect();
    // Raw older than this may be gone (it expires once every resolution covers it).
    let raw_floor = cfg.retention.floor(RAW_RESOLUTION, now_ms);
    let mut jobs = Vec::new();
    for &(res, after) in &cfg.downsample {
        let width = aggregate_window(res);
        let mut ends: Vec<i64> = Vec::new();
        for b in &raw {
            let (first, last) = (
                strata_storage::aggregate::window_end(b.min_time, width),
                strata_storage::aggregate::window_end(b.max_time, width),
            );
            let mut end = first;
            while end <= last {
                ends.push(end);
                end += width;
            }
        }
        ends.sort_unstable();
        ends.dedup();
        let floor = cfg.retention.floor(res, now_ms);
        for &end in &ends {
            let (lo, hi) = (end - width + 1, end);
            if now_ms < end.saturating_add(after) || hi < floor {
                continue;
            }
            // A current aggregate answers, unless deletion requests newer than it are due
            // to be applied: then it is rebuilt from raw (which the merge applies them to),
            // instead of hiding whole windows for ever. Not once raw of the span may have
            // expired (it goes when every resolution covers it): a rebuild from the raw that
            // is left would lose the other series' windows of those days, so the deletion
            // stays applied by readers there.
            let current = snapshot.current_aggregates(res, lo, hi);
            let raw_complete = lo >= raw_floor;
            let deletes_due = |a: &BlockMeta| {
                raw_complete
                    && snapshot
                        .deletes_for(a)
                        .iter()
                        .any(|d| now_ms >= d.requested_at_ms + cfg.delete_rewrite_after_ms)
            };
            if current
                .iter()
                .any(|a| a.min_time <= lo && a.max_time >= hi && !deletes_due(a))
            {
                continue;
            }
            let inputs: Vec<BlockMeta> = raw
                .iter()
                .filter(|b| b.overlaps(lo, hi))
                .map(|b| (*b).clone())
                .collect();
            if inputs.is_empty() || inputs.len() > cfg.max_inputs.max(2) {
                continue;
            }
            let mut job = Job::new(JobKind::Downsample, inputs, width, level::DAY);
            job.resolution_ms = res;
            job.span = (lo, hi);
            job.replaces = snapshot
                .blocks_at(res, lo, hi)
                .filter(|b| b.min_time >= lo && b.max_time <= hi)
                .cloned()
                .collect();
            // Blocks of a narrower span (1h blocks spanned a week before) are replaced only
            // while all raw of the span is kept: otherwise raw of their days may be gone, and
            // they go on answering for their own spans.
            if !raw_complete
                && job
                    .replaces
                    .iter()
                    .any(|b| (b.min_time, b.max_time) != (lo, hi))
            {
                continue;
            }
            jobs.push(job);
        }
    }
    jobs
}

fn note_backlog(out: &mut Plan, end: i64) {
    out.oldest_unmerged_window_end =
        Some(out.oldest_unmerged_window_end.map_or(end, |e| e.min(end)));
}

/// The merge a closed window needs, if any: everything when it has no merged block yet (or
/// deleted samples are due to go), the late blocks once they are enough.
fn merge_closed(
    blocks: &[&BlockMeta],
    target: u32,
    now_ms: i64,
    cfg: &CompactorConfig,
    rewrite_due: &dyn Fn(&BlockMeta) -> bool,
) -> Option<Job> {
    let all = || blocks.iter().map(|b| (*b).clone()).collect::<Vec<_>>();
    if settled(blocks, target) {
        if blocks.iter().any(|b| rewrite_due(b)) {
            return Some(Job::new(JobKind::Rewrite, all(), 0, target));
        }
        return None;
    }
    let (base, late): (Vec<&BlockMeta>, Vec<&BlockMeta>) =
        blocks.iter().partition(|b| b.level >= target);
    if !base.is_empty() && settled(&base, target) && !blocks.iter().any(|b| rewrite_due(b)) {
        let base_bytes: u64 = base.iter().map(|b| b.bytes()).sum();
        let late_bytes: u64 = late.iter().map(|b| b.bytes()).sum();
        let oldest = late.iter().map(|b| b.id.created_at_ms() as i64).min();
        let due = late.len() >= cfg.late_blocks
            || late_bytes as f64 >= cfg.late_ratio * base_bytes as f64
            || oldest.is_some_and(|t| now_ms - t >= cfg.late_max_age_ms);
        return due.then(|| Job::new(JobKind::Late, all(), 0, target));
    }
    Some(Job::new(JobKind::Window, all(), 0, target))
}

/// The rollup an open window needs, if any.
fn rollup(blocks: &[&BlockMeta], cfg: &CompactorConfig) -> Option<Job> {
    let mut sorted: Vec<&BlockMeta> = blocks.to_vec();
    sorted.sort_by_key(|b| b.precedence());
    // The ingest blocks committed after every merged one: a contiguous run at the end.
    let run_start = sorted
        .iter()
        .rposition(|b| b.level > level::INGEST)
        .map_or(0, |i| i + 1);
    let fresh = &sorted[run_start..];
    let fresh_bytes: u64 = fresh.iter().map(|b| b.bytes()).sum();
    let merged = sorted.len() - fresh.len();
    if merged >= cfg.rollup_merges {
        return Some(Job::new(
            JobKind::Rollup,
            sorted.iter().map(|b| (*b).clone()).collect(),
            0,
            level::ROLLUP,
        ));
    }
    if fresh.len() >= cfg.rollup_blocks.max(2)
        || (fresh.len() >= 2 && fresh_bytes >= cfg.rollup_bytes)
    {
        return Some(Job::new(
            JobKind::Rollup,
            fresh.iter().map(|b| (*b).clone()).collect(),
            0,
            level::ROLLUP,
        ));
    }
    None
}

/// Keeps the lowest-order run of inputs within the fan-in limits; a job cut short writes a
/// lower level, so that the window is planned again with its output.
fn cap_fan_in(job: &mut Job, cfg: &CompactorConfig) {
    let mut series = 0u64;
    let mut keep = 0;
    for b in &job.inputs {
        if keep >= cfg.max_inputs.max(2) || (keep >= 2 && series + b.series > cfg.max_input_series)
        {
            break;
        }
        series += b.series;
        keep += 1;
    }
    if keep < job.inputs.len() {
        job.inputs.truncate(keep);
        job.level = job.level.saturating_sub(1).max(level::ROLLUP);
        if job.kind != JobKind::Rollup {
            job.kind = JobKind::Rollup;
        }
    }
}

/// Output shards per window: enough that none exceeds the series or byte limits (a power
/// of two).
fn shards_for(job: &Job, cfg: &CompactorConfig) -> u32 {
    let series = job.inputs.iter().map(|b| b.series).max().unwrap_or(0);
    let bytes = job.input_bytes();
    let need = series
        .div_ceil(cfg.max_block_series.max(1))
        .max(bytes.div_ceil(cfg.max_block_bytes.max(1)))
        .max(1);
    u32::try_from(need.next_power_of_two())
        .unwrap_or(1 << 16)
        .min(1 << 16)
}

#[cfg(test)]
mod tests;
