//! The compactor's settings (`strata compact` flags, documented in `docs/compaction.md`).

use strata_storage::RetentionPolicy;

/// Two hours in ms: the windows writers cut blocks at.
pub const HOUR_2_MS: i64 = 2 * 3600 * 1000;
/// One day in ms.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// Default downsampling, as Thanos': 5m windows for days older than 40h, 1h windows for
/// days older than 10 days.
pub const DEFAULT_DOWNSAMPLE: [(i64, i64); 2] = [
    (strata_storage::aggregate::RES_5M, 40 * 3600 * 1000),
    (strata_storage::aggregate::RES_1H, 10 * DAY_MS),
];

/// Parses `--downsample.after`: `5m=40h,1h=10d` (resolutions 5m and 1h), or `none`.
pub fn parse_downsample(s: &str) -> Result<Vec<(i64, i64)>, String> {
    let s = s.trim();
    if s == "none" || s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let (res, after) = part
            .split_once('=')
            .ok_or_else(|| format!("expected <resolution>=<age> in {part:?}, e.g. 5m=40h"))?;
        let res = strata_storage::duration::parse_duration(res.trim())
            .map_err(|e| format!("bad resolution {res:?}: {e}"))?;
        if !strata_storage::aggregate::RESOLUTIONS.contains(&res) {
            return Err(format!(
                "unsupported resolution {:?}: only 5m and 1h",
                part.split_once('=').map_or(part, |p| p.0)
            ));
        }
        let after = strata_storage::duration::parse_duration(after.trim())
            .map_err(|e| format!("bad age {after:?}: {e}"))?;
        if after < 0 {
            return Err(format!("negative age in {part:?}"));
        }
        if out.iter().any(|(r, _)| *r == res) {
            return Err(format!("resolution given twice in {s:?}"));
        }
        out.push((res, after));
    }
    Ok(out)
}

/// Compaction levels recorded in `BlockMeta::level`.
pub mod level {
    /// Written by ingest or import.
    pub const INGEST: u32 = 1;
    /// A rollup of an open window's blocks.
    pub const ROLLUP: u32 = 2;
    /// The final merge of a closed 2h window.
    pub const WINDOW: u32 = 3;
    /// The merge of a closed day.
    pub const DAY: u32 = 4;
}

/// How the compactor plans and merges.
#[derive(Debug, Clone)]
pub struct CompactorConfig {
    /// Merge closed days into 24h blocks (else closed 2h windows stay 2h blocks).
    pub day_blocks: bool,
    /// How long after its end a window still expects late samples (final merges wait).
    pub late_grace_ms: i64,
    /// An open window is rolled up once it has this many ingest blocks…
    pub rollup_blocks: usize,
    /// …or once they hold this many bytes.
    pub rollup_bytes: u64,
    /// An open window's rollups are merged together once there are this many.
    pub rollup_merges: usize,
    /// Late blocks in a closed window are merged once there are this many…
    pub late_blocks: usize,
    /// …or once they hold this share of the window's bytes…
    pub late_ratio: f64,
    /// …or once the oldest is this old (ms).
    pub late_max_age_ms: i64,
    /// Most blocks one job reads (larger backlogs merge in several rounds).
    pub max_inputs: usize,
    /// Most series rows (summed over its inputs) one job holds in memory.
    pub max_input_series: u64,
    /// Outputs larger than this many series are sharded by series hash…
    pub max_block_series: u64,
    /// …as are outputs estimated larger than this many bytes.
    pub max_block_bytes: u64,
    /// Samples read per merge step: bounds the memory of a job.
    pub chunk_samples: usize,
    /// Retention per resolution (0 = forever).
    pub retention: RetentionPolicy,
    /// Downsampling: `(resolution_ms, after_ms)` — a day is aggregated into windows of the
    /// resolution once its end is `after_ms` old (empty: no downsampling). Raw blocks then
    /// expire only once every resolution covers their days.
    pub downsample: Vec<(i64, i64)>,
    /// Labels that tell HA replicas apart (deduplicated in compaction, as at query time).
    pub replica_labels: Vec<String>,
    /// Replicas are deduplicated in blocks whose window ended this long ago (ms), so that a
    /// misconfigured replica label is noticed before the merge makes it permanent.
    pub dedup_after_ms: i64,
    /// Deleted samples are removed physically once the request is this old (ms);
    /// `clean_tombstones` does it at once.
    pub delete_rewrite_after_ms: i64,
    /// Re-read every output and compare its samples with what was written before committing.
    pub verify: bool,
    /// Attempts at one job before its inputs are quarantined.
    pub max_attempts: u32,
    /// How long a job's claim keeps other compactors off it (ms).
    pub claim_ttl_ms: i64,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        Self {
            day_blocks: true,
            late_grace_ms: 15 * 60 * 1000,
            rollup_blocks: 8,
            rollup_bytes: 64 << 20,
            rollup_merges: 6,
            late_blocks: 4,
            late_ratio: 0.1,
            late_max_age_ms: DAY_MS,
            max_inputs: 64,
            max_input_series: 4_000_000,
            max_block_series: 4_000_000,
            max_block_bytes: 2 << 30,
            chunk_samples: 1 << 20,
            retention: RetentionPolicy::default(),
            downsample: DEFAULT_DOWNSAMPLE.to_vec(),
            replica_labels: Vec::new(),
            dedup_after_ms: DAY_MS,
            delete_rewrite_after_ms: DAY_MS,
            verify: true,
            max_attempts: 3,
            claim_ttl_ms: 15 * 60 * 1000,
        }
    }
}
