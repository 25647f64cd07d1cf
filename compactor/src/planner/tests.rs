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
    let records: Vec<LogRecord> = blocks
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
        .collect();
    Snapshot::from_records(&records)
}

const H2: i64 = HOUR_2_MS;

#[test]
fn nothing_to_do_for_an_empty_store_or_a_settled_window() {
    let cfg = CompactorConfig::default();
    assert!(plan(&Snapshot::default(), 0, &cfg).jobs.is_empty());
    let s = snapshot(vec![block(0, H2 - 1, level::DAY)]);
    assert!(plan(&s, 10 * DAY_MS, &cfg).jobs.is_empty());
}

#[test]
fn open_window_rolls_up_only_past_the_threshold() {
    let cfg = CompactorConfig::default();
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
    let cfg = CompactorConfig::default();
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
    let cfg = CompactorConfig::default();
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
