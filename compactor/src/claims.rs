//! Advisory claims, so that several compactors on one store do not repeat each other's work
//! (correctness never depends on them: the manifest refuses a second replacement of a
//! block). A job's claims live under `compactor/claims/<job key>/<attempt>.json`, created
//! create-only and holding `{"owner", "expires_at_ms"}`. A compactor takes a job by creating
//! the next attempt once the newest claim has expired; the attempt number counts tries across
//! processes and restarts, so a job that keeps failing is quarantined after `max_attempts`.
//! Claims of a committed job are deleted; stale ones are collected after a day.

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use strata_storage::Store;
use strata_storage::store::Created;

use crate::error::CompactorError;

/// Prefix of the claims.
pub const CLAIMS_DIR: &str = "compactor/claims";
/// Claims older than this are deleted by [`collect`].
const STALE_MS: i64 = 24 * 3600 * 1000;

/// Version of the claim objects.
pub const CLAIM_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    format_version: u32,
    owner: String,
    expires_at_ms: i64,
}

/// The outcome of trying to claim a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// This compactor holds the job; this is try number `attempt`.
    Yes { attempt: u32 },
    /// Another compactor holds an unexpired claim.
    Busy,
    /// The job was tried `attempts` times already.
    Exhausted { attempts: u32 },
}

fn dir(key: &str) -> Path {
    Path::from(format!("{CLAIMS_DIR}/{key}"))
}

async fn attempts(store: &Store, key: &str) -> Result<Vec<(u32, Path)>, CompactorError> {
    let mut found: Vec<(u32, Path)> = store
        .list_after(&dir(key), None)
        .try_filter_map(|m| async move {
            let n = m
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|n| n.parse::<u32>().ok());
            Ok(n.map(|n| (n, m.location)))
        })
        .try_collect()
        .await?;
    found.sort_unstable_by_key(|(n, _)| *n);
    Ok(found)
}

/// Tries to claim job `key` for `owner` until `now_ms + ttl_ms`.
pub(crate) async fn claim(
    store: &Store,
    key: &str,
    owner: &str,
    now_ms: i64,
    ttl_ms: i64,
    max_attempts: u32,
) -> Result<Claimed, CompactorError> {
    let existing = attempts(store, key).await?;
    let last = existing.last().map_or(0, |(n, _)| *n);
    if let Some((_, path)) = existing.last()
        && let Some(bytes) = store.get_opt(path).await?
        && let Ok(c) = serde_json::from_slice::<Claim>(&bytes)
        && c.expires_at_ms > now_ms
        && c.owner != owner
    {
        return Ok(Claimed::Busy);
    }
    if last >= max_attempts {
        return Ok(Claimed::Exhausted { attempts: last });
    }
    let next = last + 1;
    let body = serde_json::to_vec(&Claim {
        format_version: CLAIM_FORMAT_VERSION,
        owner: owner.to_string(),
        expires_at_ms: now_ms + ttl_ms,
    })
    .map_err(|e| CompactorError::InvalidOptions(e.to_string()))?;
    let path = dir(key).join(format!("{next}.json"));
    Ok(match store.put_create(&path, Bytes::from(body)).await? {
        Created::Yes => Claimed::Yes { attempt: next },
        Created::AlreadyExists => Claimed::Busy,
    })
}

/// Deletes the claims of a job that committed.
pub(crate) async fn release(store: &Store, key: &str) -> Result<(), CompactorError> {
    for (_, path) in attempts(store, key).await? {
        store.delete(&path).await?;
    }
    Ok(())
}

/// Deletes claims older than a day (jobs whose inputs changed, or were quarantined).
pub(crate) async fn collect(store: &Store, now_ms: i64) -> Result<usize, CompactorError> {
    let old: Vec<Path> = store
        .list_after(&Path::from(CLAIMS_DIR), None)
        .try_filter_map(|m| async move {
            Ok((m.last_modified.timestamp_millis() < now_ms - STALE_MS).then_some(m.location))
        })
        .try_collect()
        .await?;
    for p in &old {
        store.delete(p).await?;
    }
    Ok(old.len())
}
