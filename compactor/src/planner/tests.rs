//! Planning as a pure function of a snapshot: built from log records, no store.

use strata_storage::manifest::{LogRecord, MANIFEST_FORMAT_VERSION};
use strata_storage::paths::Seq;
use strata_storage::{BlockId, BlockMeta, Snapshot};

use super::*;

fn block(min: i64, max: i64, level: u32) -> BlockMeta {
    BlockMeta {
        id: BlockId::new(),
        min_time: min,
        max_time: max,
        series: 10,
        samples: 100,
        series_bytes: 1000,
        samples_bytes: 1000,
        format_version: 2,
        resolution_ms: 0,
        level,
        order: 0,
        as_of: 0,
        shard: None,
        parents: Vec::new(),
    }
}

fn snapshot(blocks: Vec<BlockMeta>) -> Snapshot {
    Snapshot::from_records(&records_of(blocks))
}

/// A log record per block, in order.
fn records_of(blocks: Vec<BlockMeta>) -> Vec<LogRecord> {
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| LogRecord {
            format_version: MANIFEST_FORMAT_VERSION,
            seq: Seq(i as u64 + 1),
            txn_id: ulid::Ulid::new(),
            writer: "t".into(),
            committed_at_ms: 0,
            add: vec![b],
            remove: Vec::new(),
            purge: Vec::new(),
            delete: None,
            retire_deletes: Vec::new(),
            quarantine: Vec::new(),
            release: Vec::new(),
            retention: None,
        })
        .collect()
}

const H2: i64 = HOUR_2_MS;

/// The merge tests' settings: no downsampling (tested on its own below).
fn merging() -> CompactorConfig {
    CompactorConfig {
        downsample: Vec::new(),
        ..Default::default()
    }
}

#[test]
fn nothing_to_do_for_an_empty_store_or_a_settled_window() {
    let cfg = merging();
    assert!(plan(&Snapshot::default(), 0, &cfg).jobs.is_empty());
    let s = snapshot(vec![block(0, H2 - 1, level::DAY)]);
    assert!(plan(&s, 10 * DAY_MS, &cfg).jobs.is_empty());
}

#[test]
fn open_window_rolls_up_only_past_the_threshold() {
    let cfg = merging();
    let now = 100 * H2 + 60_000;
    let few = snapshot(
        (0..7)
            .map(|i| block(100 * H2 + i, 100 * H2 + i, 1))
            .collect(),
    );
    assert!(plan(&few, now, &cfg).jobs.is_empty());
    let many = snapshot(
        (0..8)
            .map(|i| block(100 * H2 + i, 100 * H2 + i, 1))
            .collect(),
    );
    let jobs = plan(&many, now, &cfg).jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, JobKind::Rollup);
    assert_eq!(jobs[0].inputs.len(), 8);
}

#[test]
fn rollup_takes_only_the_ingest_blocks_after_the_last_merge() {
    let cfg = merging();
    let now = 100 * H2 + 60_000;
    let mut blocks = vec![block(100 * H2, 100 * H2 + 5, level::ROLLUP)];
    blocks.extend((0..8).map(|i| block(100 * H2 + i, 100 * H2 + i, 1)));
    let jobs = plan(&snapshot(blocks), now, &cfg).jobs;
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].inputs.iter().all(|b| b.level == 1), "{:?}", jobs[0]);
    // Inputs are in precedence order.
    assert!(jobs[0].inputs.windows(2).all(|w| w[0].order < w[1].order));
}

#[test]
fn closed_windows_merge_after_the_grace_and_closed_days_into_one() {
    let cfg = merging();
    let blocks: Vec<BlockMeta> = (0..12).map(|w| block(w * H2, w * H2 + 10, 1)).collect();
    // The day is open: each 2h window merges on its own once closed.
    let now = 6 * H2 + cfg.late_grace_ms;
    let jobs = plan(&snapshot(blocks.clone()), now, &cfg).jobs;
    assert_eq!(jobs.len(), 6, "{jobs:?}");
    assert!(
        jobs.iter()
            .all(|j| j.kind == JobKind::Window && j.window_ms == H2)
    );
    // The day closed: one job for all of it.
    let jobs = plan(&snapshot(blocks), DAY_MS + cfg.late_grace_ms, &cfg).jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].kind, jobs[0].inputs.len(), jobs[0].window_ms),
        (JobKind::Day, 12, DAY_MS)
    );
}

#[test]
fn blocks_crossing_windows_are_split_and_fan_in_is_capped() {
    let cfg = CompactorConfig {
        downsample: Vec::new(),
        max_inputs: 4,
        ..Default::default()
    };
    let now = 10 * DAY_MS;
    let jobs = plan(&snapshot(vec![block(0, 3 * DAY_MS, 1)]), now, &cfg).jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].kind, jobs[0].window_ms), (JobKind::Split, DAY_MS));
    let blocks: Vec<BlockMeta> = (0..10).map(|i| block(i, i, 1)).collect();
    let jobs = plan(&snapshot(blocks), now, &cfg).jobs;
    assert_eq!(jobs[0].inputs.len(), 4);
    // The lowest orders, so that the output never outranks a block it did not read.
    assert_eq!(
        jobs[0].inputs.iter().map(|b| b.order).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert!(jobs[0].level < level::DAY);
}

#[test]
fn retention_expires_whole_blocks_and_large_windows_are_sharded() {
    let cfg = CompactorConfig {
        downsample: Vec::new(),
        retention: strata_storage::RetentionPolicy {
            raw_ms: 2 * DAY_MS,
            ..Default::default()
        },
        max_block_series: 4,
        ..Default::default()
    };
    let now = 5 * DAY_MS + 3_600_000;
    let s = snapshot(vec![
        block(0, 10, 1),
        block(4 * DAY_MS, 4 * DAY_MS + 1, 1),
        block(4 * DAY_MS + 5, 4 * DAY_MS + 6, 1),
    ]);
    let jobs = plan(&s, now, &cfg).jobs;
    assert_eq!(jobs[0].kind, JobKind::Retention);
    assert_eq!(jobs[0].inputs.len(), 1);
    assert_eq!(jobs[1].kind, JobKind::Day);
    assert_eq!(jobs[1].shards, 4, "10 series over at most 4 per block");
}

#[test]
fn days_are_downsampled_once_old_enough_and_raw_waits_for_them() {
    use strata_storage::aggregate::{RES_1H, RES_5M};
    let cfg = CompactorConfig {
        retention: strata_storage::RetentionPolicy {
            raw_ms: DAY_MS,
            ..Default::default()
        },
        ..Default::default()
    };
    // One settled day block: (0, 1d] holds samples 1..=1d.
    let day = block(1, DAY_MS, level::DAY);
    let kinds = |jobs: &[Job]| {
        jobs.iter()
            .map(|j| (j.kind, j.resolution_ms))
            .collect::<Vec<_>>()
    };
    // Before 40h: nothing (the day is merged, not old enough).
    assert!(
        plan(&snapshot(vec![day.clone()]), DAY_MS + 39 * 3_600_000, &cfg)
            .jobs
            .is_empty()
    );
    // After 40h: 5m, with the day's exact span; raw is expired but kept for the aggregates.
    let jobs = plan(&snapshot(vec![day.clone()]), 3 * DAY_MS, &cfg).jobs;
    assert_eq!(kinds(&jobs), vec![(JobKind::Downsample, RES_5M)]);
    assert_eq!(jobs[0].span, (1, DAY_MS));
    assert_eq!(jobs[0].inputs[0].id, day.id);
    // With a current 5m block, 10 days after its two weeks end: 1h only, over the two
    // weeks; raw still waits for it.
    let mut agg5 = block(1, DAY_MS, level::DAY);
    agg5.resolution_ms = RES_5M;
    agg5.order = 1;
    let s = snapshot(vec![day.clone(), agg5.clone()]);
    let jobs = plan(&s, 13 * DAY_MS, &cfg).jobs;
    assert!(jobs.is_empty(), "{:?}", kinds(&jobs));
    let jobs = plan(&s, 25 * DAY_MS, &cfg).jobs;
    assert_eq!(kinds(&jobs), vec![(JobKind::Downsample, RES_1H)]);
    assert_eq!(jobs[0].span, (1, 14 * DAY_MS));
    // Both current: the raw day expires.
    // 1h blocks span two weeks: (0, 14d].
    let mut agg1 = agg5.clone();
    agg1.id = BlockId::new();
    agg1.resolution_ms = RES_1H;
    agg1.max_time = 14 * DAY_MS;
    let s = snapshot(vec![day.clone(), agg5.clone(), agg1.clone()]);
    let jobs = plan(&s, 25 * DAY_MS, &cfg).jobs;
    assert_eq!(kinds(&jobs), vec![(JobKind::Retention, 0)]);
    assert_eq!(jobs[0].inputs[0].id, day.id);
    // A late raw block (committed after the aggregates) outdates them: both are rebuilt,
    // replacing the old ones, and nothing expires meanwhile.
    let late = block(DAY_MS / 2, DAY_MS / 2, 1);
    let s = snapshot(vec![day.clone(), agg5.clone(), agg1.clone(), late]);
    let jobs = plan(&s, 25 * DAY_MS, &cfg).jobs;
    let downsample: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.kind == JobKind::Downsample)
        .collect();
    assert_eq!(downsample.len(), 2);
    assert!(
        downsample
            .iter()
            .all(|j| j.inputs.len() == 2 && j.replaces.len() == 1)
    );
    assert!(!jobs.iter().any(|j| j.kind == JobKind::Retention));
    // A due deletion rebuilds the aggregates from raw, but not once raw of their span may
    // have expired (rebuilt from what is left, they would lose those days).
    let mut log = records_of(vec![day.clone(), agg5.clone(), agg1.clone()]);
    log.push(LogRecord {
        seq: Seq(log.len() as u64 + 1),
        add: Vec::new(),
        delete: Some(strata_storage::DeleteRequest {
            selectors: Vec::new(),
            start: 1,
            end: 10,
            requested_at_ms: 0,
        }),
        ..log[0].clone()
    });
    let s = Snapshot::from_records(&log);
    let rebuilds = |cfg: &CompactorConfig| {
        plan(&s, 25 * DAY_MS, cfg)
            .jobs
            .iter()
            .filter(|j| j.kind == JobKind::Downsample)
            .count()
    };
    assert_eq!(
        rebuilds(&CompactorConfig::default()),
        2,
        "5m and 1h rebuilt"
    );
    assert_eq!(rebuilds(&cfg), 0, "raw may be gone: the aggregates stay");
    // A store from when 1h blocks spanned a week: its weekly block is replaced by a two-week
    // one only while all raw of the two weeks is kept.
    let mut weekly = agg1.clone();
    weekly.id = BlockId::new();
    weekly.max_time = 7 * DAY_MS;
    let second_week = block(8 * DAY_MS + 1, 9 * DAY_MS, level::DAY);
    let mut agg5b = agg5.clone();
    agg5b.id = BlockId::new();
    (agg5b.min_time, agg5b.max_time) = (second_week.min_time, second_week.max_time);
    let s = snapshot(vec![second_week, agg5b, weekly]);
    let one_hour = |cfg: &CompactorConfig| {
        plan(&s, 25 * DAY_MS, cfg)
            .jobs
            .into_iter()
            .filter(|j| j.kind == JobKind::Downsample && j.resolution_ms == RES_1H)
            .map(|j| j.replaces.len())
            .collect::<Vec<_>>()
    };
    assert_eq!(one_hour(&CompactorConfig::default()), vec![1]);
    assert_eq!(one_hour(&cfg), Vec::<usize>::new());
}

#[test]
fn downsample_ages_parse_and_refuse_what_is_not_5m_or_1h() {
    use strata_storage::aggregate::{RES_1H, RES_5M};
    assert_eq!(
        crate::parse_downsample("5m=40h,1h=10d").unwrap(),
        vec![(RES_5M, 40 * 3_600_000), (RES_1H, 10 * DAY_MS)]
    );
    assert!(crate::parse_downsample("none").unwrap().is_empty());
    assert!(
        crate::parse_downsample("10m=1d")
            .unwrap_err()
            .contains("only 5m and 1h")
    );
    assert!(crate::parse_downsample("5m").is_err());
    assert!(crate::parse_downsample("5m=1d,5m=2d").is_err());
}
