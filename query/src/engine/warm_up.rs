//! Warming a fresh process up before it serves: a few representative queries over a small
//! synthetic block in a private in-memory store. The first evaluation in a process pays for
//! code paths, allocator growth and lazily built state (a few ms); paying it at start-up keeps
//! it out of the first user query. No cache of the served store is touched.

use std::sync::Arc;
use std::time::Instant;

use strata_storage::{
    BlockCache, CacheConfig, Labels, Manifest, SeriesSamples, Store, Transaction, encode_block,
    upload_block,
};

use super::{Engine, EngineOptions};
use crate::error::QueryError;

/// Queries that exercise selectors, range functions, aggregations, binary operators and
/// classic histograms.
const QUERIES: [&str; 4] = [
    "sum by (job) (rate(warm_up_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(warm_up_bucket[5m])))",
    "warm_up_total / on (job) group_left sum by (job) (warm_up_total)",
    "max_over_time(warm_up_total[10m])",
];

/// Runs the warm-up; returns how long it took.
pub async fn warm_up(options: &EngineOptions) -> Result<std::time::Duration, QueryError> {
    let started = Instant::now();
    let cache = BlockCache::new(&CacheConfig {
        memory_bytes: 16 << 20,
        ..Default::default()
    })
    .map_err(|e| QueryError::Execution(format!("warm-up cache: {e}")))?;
    let store = Store::open("memory://")?.with_cache(Arc::new(cache));
    let step = 15_000i64;
    let points = 240i64;
    let mut series = Vec::new();
    for job in ["a", "b", "c", "d"] {
        for i in 0..8 {
            let instance = i.to_string();
            series.push(SeriesSamples {
                labels: Labels::from_pairs([
                    ("__name__", "warm_up_total"),
                    ("job", job),
                    ("instance", &instance),
                ])?,
                timestamps: (0..points).map(|t| t * step).collect(),
                values: (0..points).map(|t| (t * (i + 1)) as f64).collect(),
                start_timestamps: Vec::new(),
            });
        }
        for (k, le) in ["0.1", "1", "+Inf"].into_iter().enumerate() {
            series.push(SeriesSamples {
                labels: Labels::from_pairs([
                    ("__name__", "warm_up_bucket"),
                    ("job", job),
                    ("le", le),
                ])?,
                timestamps: (0..points).map(|t| t * step).collect(),
                values: (0..points).map(|t| (t * (k as i64 + 1)) as f64).collect(),
                start_timestamps: Vec::new(),
            });
        }
    }
    let block = tokio::task::spawn_blocking(move || encode_block(series))
        .await
        .map_err(|e| QueryError::Execution(format!("warm-up: {e}")))??;
    upload_block(&store, &block).await?;
    let manifest = Manifest::new(store.clone(), "warm-up");
    manifest
        .commit(Transaction::add(vec![block.meta], Instant::now()))
        .await?;
    let snapshot = manifest.snapshot().await?;
    let engine = Engine::new(store, options.clone());
    let end = (points - 1) * step;
    for q in QUERIES {
        engine.instant(snapshot.clone(), q, end).await?;
        engine
            .range(snapshot.clone(), q, end - 1_800_000, end, 60_000)
            .await?;
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn warm_up_runs_every_query() {
        warm_up(&EngineOptions::default()).await.unwrap();
    }
}
