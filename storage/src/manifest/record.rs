//! The JSON objects of the manifest: commit records and checkpoints (format version 2; version
//! 1 objects are read unchanged).

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::block::BlockMeta;
use crate::error::{Result, StorageError};
use crate::matcher::Matcher;
use crate::paths::{BlockId, Seq};

/// Version of the manifest's JSON objects. Version 2 added deletion requests, quarantine,
/// the retention policy and the block fields `order`, `as_of`, `shard` and `parents`; a
/// reader of version 1 must not read a version-2 store (it would serve deleted data), so it
/// refuses it.
pub const MANIFEST_FORMAT_VERSION: u32 = 2;

/// A deletion request (Prometheus' `delete_series`): the samples in `[start, end]` (ms,
/// inclusive) of every series matched by any of `selectors` (each a list of matchers that
/// must all match) are deleted. Its id is the seq of the record that committed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub selectors: Vec<Vec<Matcher>>,
    pub start: i64,
    pub end: i64,
    /// When it was requested (ms): the compactor removes the data physically once the
    /// request is `delete_rewrite_after` old.
    #[serde(default)]
    pub requested_at_ms: i64,
}

impl DeleteRequest {
    /// Whether the request covers series `labels` at all.
    pub fn matches(&self, labels: &crate::labels::Labels) -> bool {
        self.selectors
            .iter()
            .any(|ms| ms.iter().all(|m| m.matches_labels(labels)))
    }

    /// Whether the request covers the whole of `[min, max]`.
    pub fn covers(&self, min: i64, max: i64) -> bool {
        self.start <= min && self.end >= max
    }

    /// Whether the request covers any of `[min, max]`.
    pub fn overlaps(&self, min: i64, max: i64) -> bool {
        self.start <= max && self.end >= min
    }
}

/// Retention per resolution: how long blocks are kept after their last sample, in ms
/// (0 = forever). Committed by the compactor, read by every reader so that answers never
/// depend on whether the compactor has removed expired blocks yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Raw samples.
    #[serde(default)]
    pub raw_ms: i64,
    /// 5-minute aggregates.
    #[serde(default)]
    pub res_5m_ms: i64,
    /// 1-hour aggregates.
    #[serde(default)]
    pub res_1h_ms: i64,
}

impl RetentionPolicy {
    /// Retention of blocks of `resolution_ms` (0 = forever).
    pub fn for_resolution(&self, resolution_ms: i64) -> i64 {
        match resolution_ms {
            0 => self.raw_ms,
            r if r <= 300_000 => self.res_5m_ms,
            _ => self.res_1h_ms,
        }
    }

    /// The oldest timestamp still visible at `now_ms` for `resolution_ms` (`i64::MIN`: no
    /// limit).
    pub fn floor(&self, resolution_ms: i64, now_ms: i64) -> i64 {
        match self.for_resolution(resolution_ms) {
            r if r > 0 => now_ms.saturating_sub(r),
            _ => i64::MIN,
        }
    }
}

/// A block the compactor could not read or merge: skipped by planning (queries still read
/// it) until released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    pub block: BlockId,
    pub reason: String,
}

/// One commit: `manifest/log/<seq>.json`, written create-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub format_version: u32,
    /// Must equal the seq in the object's name.
    pub seq: Seq,
    /// Identifies the transaction across retries: a writer that finds its own `txn_id` at the
    /// seq it tried knows its earlier PUT landed.
    pub txn_id: Ulid,
    /// Free-form writer identity (host, worker, `import`, `compactor`), for operators.
    pub writer: String,
    /// Writer's clock at commit, ms since the epoch; starts the grace period of removals.
    pub committed_at_ms: i64,
    /// Blocks made visible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<BlockMeta>,
    /// Blocks made invisible (their files stay until purged after the grace period).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<BlockId>,
    /// Removed blocks whose files have been deleted: their tombstones are dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purge: Vec<BlockId>,
    /// (v2) A deletion request, in force from this seq on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<DeleteRequest>,
    /// (v2) Deletion requests (by seq) applied to every block they concern: dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retire_deletes: Vec<u64>,
    /// (v2) Blocks quarantined by the compactor, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine: Vec<Quarantine>,
    /// (v2) Quarantined blocks released for another try.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release: Vec<BlockId>,
    /// (v2) The retention policy from this seq on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionPolicy>,
}

/// A removed block waiting for its files to be deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub block: BlockMeta,
    /// `committed_at_ms` of the record that removed it.
    pub removed_at_ms: i64,
}

/// The folded state as of `seq`: `manifest/checkpoints/<seq>.json`, written create-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format_version: u32,
    pub seq: Seq,
    pub created_at_ms: i64,
    pub blocks: Vec<BlockMeta>,
    #[serde(default)]
    pub tombstones: Vec<Tombstone>,
    /// (v2) Deletion requests in force, by the seq that committed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deletes: Vec<(u64, DeleteRequest)>,
    /// (v2) Quarantined blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<Quarantine>,
    /// (v2) The retention policy.
    #[serde(default)]
    pub retention: RetentionPolicy,
}

/// Parses a versioned manifest object, checking its version.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    path: &object_store::path::Path,
    bytes: &[u8],
) -> Result<T> {
    #[derive(Deserialize)]
    struct Version {
        format_version: u32,
    }
    let version: Version = serde_json::from_slice(bytes).map_err(|source| StorageError::Json {
        path: path.to_string(),
        source,
    })?;
    if version.format_version > MANIFEST_FORMAT_VERSION {
        return Err(StorageError::UnsupportedVersion {
            path: path.to_string(),
            found: version.format_version,
            supported: MANIFEST_FORMAT_VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(|source| StorageError::Json {
        path: path.to_string(),
        source,
    })
}

/// Milliseconds since the epoch, by this machine's clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
