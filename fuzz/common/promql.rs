//! The world of the `promql` fuzz target, shared with the query crate's test that replays
//! its seeds (`query/tests/it/fuzz_seeds.rs`, through `#[path]`): a small store (counters
//! with a reset, a gauge with NaN and a stale marker, classic histogram buckets, an info
//! metric) and [`run`], which evaluates one input and panics on anything but an answer or
//! an error a client gets as 400/422/499/503.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use strata_query::{Engine, EngineOptions, QueryError};
use strata_storage::{
    Labels, Manifest, STALE_NAN_BITS, SeriesSamples, Snapshot, Store, Transaction, encode_block,
    upload_block,
};

struct World {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    snapshot: Arc<Snapshot>,
}

const STEP_MS: i64 = 15_000;
const POINTS: i64 = 240;

fn series(labels: &[(&str, &str)], value: impl Fn(i64) -> f64) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::from_pairs(labels.iter().copied()).expect("static labels"),
        timestamps: (0..POINTS).map(|i| i * STEP_MS).collect(),
        values: (0..POINTS).map(value).collect(),
        start_timestamps: Vec::new(),
    }
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Store::open("memory://").expect("memory store");
    let mut input = vec![
        series(&[("__name__", "c_total"), ("job", "a")], |i| {
            (i % 100) as f64
        }),
        series(&[("__name__", "c_total"), ("job", "b")], |i| (i * 3) as f64),
        series(&[("__name__", "g"), ("job", "a")], |i| match i {
            17 => f64::NAN,
            100 => f64::from_bits(STALE_NAN_BITS),
            _ => (i as f64 * 0.7).sin(),
        }),
        series(
            &[("__name__", "target_info"), ("job", "a"), ("env", "p")],
            |_| 1.0,
        ),
    ];
    for (le, share) in [("0.1", 1), ("1", 4), ("10", 9), ("+Inf", 10)] {
        input.push(series(&[("__name__", "h_bucket"), ("le", le)], move |i| {
            (i * share) as f64
        }));
    }
    let snapshot = runtime.block_on(async {
        let block = encode_block(input).expect("block");
        upload_block(&store, &block).await.expect("upload");
        let manifest = Manifest::new(store.clone(), "fuzz");
        manifest
            .commit(Transaction::add(vec![block.meta], Instant::now()))
            .await
            .expect("commit");
        manifest.snapshot().await.expect("snapshot")
    });
    let options = EngineOptions {
        max_samples: 200_000,
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    World {
        runtime,
        engine: Engine::new(store, options),
        snapshot,
    }
});

/// Errors a client gets as 4xx/503: anything else is a finding.
fn check(query: &str, result: Result<strata_query::QueryOutput, QueryError>) {
    match result {
        Ok(_)
        | Err(QueryError::Parse(_))
        | Err(QueryError::InvalidRegex { .. })
        | Err(QueryError::Unsupported(_))
        | Err(QueryError::TooManySamples { .. })
        | Err(QueryError::Timeout)
        | Err(QueryError::Cancelled)
        | Err(QueryError::Execution(_)) => {}
        Err(e) => panic!("{query:?}: {e}"),
    }
}

/// Evaluates one fuzz input: the first byte picks an instant query (even: at `byte × 20 s`)
/// or a range query over the whole store (odd: step `(byte / 2 + 1) × 7 s`, so at most 514
/// steps, a few per raw sample: enough to cross every sample boundary), the rest is the
/// query text.
pub(crate) fn run(data: &[u8]) {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(text) else {
        return;
    };
    let world = &*WORLD;
    let end = POINTS * STEP_MS;
    let result = world.runtime.block_on(async {
        if mode & 1 == 0 {
            let t = i64::from(mode) * 20_000;
            world.engine.instant(world.snapshot.clone(), query, t).await
        } else {
            let step = 7_000 * (1 + i64::from(mode >> 1));
            world
                .engine
                .range(world.snapshot.clone(), query, 0, end, step)
                .await
        }
    });
    check(query, result);
}
