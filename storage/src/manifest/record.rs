//! The JSON objects of the manifest: commit records and checkpoints (format version 1).

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use crate::block::BlockMeta;
use crate::error::{Result, StorageError};
use crate::paths::{BlockId, Seq};

/// Version of the manifest's JSON objects.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;

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
