use super::*;
use crate::STALE_NAN_BITS;
use crate::labels::{Labels, METRIC_NAME};
use crate::store::Store;

fn series(name: &str, job: &str, ts: Vec<i64>, values: Vec<f64>) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::from_pairs([(METRIC_NAME, name), ("job", job), ("zone", "eu-1")]).unwrap(),
        timestamps: ts,
        values,
        start_timestamps: Vec::new(),
    }
}

async fn round_trip(
    input: Vec<SeriesSamples>,
) -> (BlockMeta, Vec<SeriesEntry>, Vec<SeriesSamplesRead>) {
    let store = Store::open("memory://").unwrap();
    let block = encode_block(input).unwrap();
    upload_block(&store, &block).await.unwrap();
    let reader = BlockReader::new(store, block.meta.clone());
    let entries = reader.series().await.unwrap();
    let refs: Vec<u32> = entries.iter().map(|e| e.series_ref).collect();
    let samples = reader.samples(&entries, &refs).await.unwrap();
    (block.meta, entries.to_vec(), samples)
}

#[tokio::test]
async fn special_values_round_trip_bit_exact() {
    let specials = vec![
        f64::NAN,
        f64::from_bits(STALE_NAN_BITS),
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1.5,
        0.1 + 0.2,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -123.456,
    ];
    let ts: Vec<i64> = (0..specials.len() as i64).map(|i| i * 15_000).collect();
    let (_, entries, samples) =
        round_trip(vec![series("m", "a", ts.clone(), specials.clone())]).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(samples[0].timestamps, ts);
    let got: Vec<u64> = samples[0].values.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u64> = specials.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn timestamps_from_1970_to_2100_and_before() {
    let y2100 = 4_102_444_800_000i64;
    let ts = vec![-86_400_000, 0, 1, 1_700_000_000_123, y2100];
    let vals = vec![1.0, 2.0, 3.0, 4.0, 5.0];
    let (meta, _, samples) = round_trip(vec![series("m", "a", ts.clone(), vals.clone())]).await;
    assert_eq!((meta.min_time, meta.max_time), (-86_400_000, y2100));
    assert_eq!(samples[0].timestamps, ts);
    assert_eq!(samples[0].values, vals);
}

#[tokio::test]
async fn series_sorted_and_row_selection_reads_only_wanted() {
    let input: Vec<SeriesSamples> = (0..50)
        .rev()
        .map(|i| {
            let ts: Vec<i64> = (0..300).map(|t| t * 15_000 + (t * 7 % 13)).collect();
            let vals: Vec<f64> = (0..300).map(|t| (t * i) as f64 * 0.25).collect();
            series(
                &format!("metric_{:02}", i % 5),
                &format!("job{i:02}"),
                ts,
                vals,
            )
        })
        .collect();
    let store = Store::open("memory://").unwrap();
    let block = encode_block(input.clone()).unwrap();
    assert_eq!((block.meta.series, block.meta.samples), (50, 15_000));
    upload_block(&store, &block).await.unwrap();
    let reader = BlockReader::new(store, block.meta.clone());
    let entries = reader.series().await.unwrap();
    let names: Vec<String> = entries.iter().map(|e| e.labels.to_string()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "series are stored in label order");
    assert!(
        entries
            .iter()
            .all(|e| e.value_scale.is_some_and(|k| k <= 2)),
        "quarters need at most 2 decimals"
    );
    let got = reader.samples(&entries, &[7, 3]).await.unwrap();
    assert_eq!(
        got.iter().map(|s| s.series_ref).collect::<Vec<_>>(),
        vec![3, 7]
    );
    for s in got {
        let labels = &entries[s.series_ref as usize].labels;
        let orig = input.iter().find(|i| &i.labels == labels).unwrap();
        assert_eq!(s.timestamps, orig.timestamps);
        assert_eq!(s.values, orig.values);
    }
}

#[tokio::test]
async fn unsorted_input_is_sorted_and_duplicates_keep_the_last() {
    let (meta, _, samples) = round_trip(vec![series(
        "m",
        "a",
        vec![30, 10, 20, 10],
        vec![3.0, 1.0, 2.0, 1.5],
    )])
    .await;
    assert_eq!(meta.samples, 3);
    assert_eq!(samples[0].timestamps, vec![10, 20, 30]);
    assert_eq!(samples[0].values, vec![1.5, 2.0, 3.0]);
}

#[test]
fn empty_blocks_are_refused() {
    assert!(encode_block(vec![]).is_err());
    assert!(encode_block(vec![series("m", "a", vec![], vec![])]).is_err());
}

#[tokio::test]
async fn start_timestamps_round_trip_and_follow_sorting() {
    let mut with_st = series("m", "a", vec![30, 10, 20], vec![3.0, 1.0, 2.0]);
    with_st.start_timestamps = vec![25, 0, 5];
    let without = series("n", "a", vec![10, 20], vec![1.0, 2.0]);
    let (_, entries, samples) = round_trip(vec![with_st, without]).await;
    let by_name = |name: &str| {
        let e = entries
            .iter()
            .find(|e| e.labels.metric_name() == Some(name))
            .unwrap();
        samples
            .iter()
            .find(|s| s.series_ref == e.series_ref)
            .unwrap()
    };
    assert_eq!(by_name("m").timestamps, vec![10, 20, 30]);
    assert_eq!(
        by_name("m").start_timestamps,
        vec![0, 5, 25],
        "unknown (0) stays unknown, the rest follow their samples"
    );
    assert!(by_name("n").start_timestamps.is_empty());
}

#[tokio::test]
async fn version_1_samples_files_without_start_timestamps_are_read() {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let store = Store::open("memory://").unwrap();
    let mut block = encode_block(vec![series("m", "a", vec![10, 20], vec![1.0, 2.0])]).unwrap();
    // Rewrite the samples file as version 1 wrote it: without the start_timestamp column.
    let reader = ParquetRecordBatchReaderBuilder::try_new(block.samples_file.clone())
        .unwrap()
        .build()
        .unwrap();
    let v1_fields: Vec<_> = samples_schema()
        .fields()
        .iter()
        .filter(|f| f.name() != COL_START_TIMESTAMP)
        .cloned()
        .collect();
    let v1_schema = std::sync::Arc::new(arrow_schema::Schema::new(v1_fields));
    let props = samples_properties(&block.meta.id.to_string(), ARCHIVE_ZSTD_LEVEL);
    let mut writer = ArrowWriter::try_new(Vec::new(), v1_schema.clone(), Some(props)).unwrap();
    for batch in reader {
        let batch = batch.unwrap();
        let idx = batch.schema().index_of(COL_START_TIMESTAMP).unwrap();
        let mut batch = batch;
        batch.remove_column(idx);
        writer.write(&batch).unwrap();
    }
    block.samples_file = bytes::Bytes::from(writer.into_inner().unwrap());
    block.meta.samples_bytes = block.samples_file.len() as u64;
    upload_block(&store, &block).await.unwrap();
    let reader = BlockReader::new(store, block.meta.clone());
    let entries = reader.series().await.unwrap();
    let got = reader.samples(&entries, &[0]).await.unwrap();
    assert_eq!(got[0].values, vec![1.0, 2.0]);
    assert!(got[0].start_timestamps.is_empty());
}

#[tokio::test]
async fn aggregate_blocks_round_trip_bit_exact_and_refuse_raw_reads() {
    use crate::aggregate::{RES_5M, aggregate};
    let stale = f64::from_bits(STALE_NAN_BITS);
    let ts: Vec<i64> = (1..200).map(|i| i * 15_000 + i % 7).collect();
    let mut vals: Vec<f64> = ts.iter().map(|t| (*t / 1000) as f64 * 0.25).collect();
    vals[50] = 3.0; // a reset
    vals[120] = stale;
    vals[121] = f64::NAN;
    vals[122] = 1e300 * 10.0; // a sum that is no exact mantissa
    let a = series("a_total", "j", ts.clone(), vals.clone());
    let b = series("b", "j", vec![RES_5M, 2 * RES_5M], vec![stale, stale]);
    let store = Store::open("memory://").unwrap();
    let span = (1, 12 * RES_5M);
    let mut w = BlockWriter::new_aggregates(&EncodeOptions::default(), RES_5M, span).unwrap();
    let rows_a = aggregate(&ts, &vals, &[], RES_5M);
    let rows_b = aggregate(&b.timestamps, &b.values, &[], RES_5M);
    w.push_rows(a.labels.clone(), &rows_a).unwrap();
    // Raw samples cannot go into an aggregate block, nor rows out of order.
    assert!(w.push(b.clone()).is_err());
    w.push_rows(b.labels.clone(), &rows_b).unwrap();
    let block = w.finish().unwrap();
    assert_eq!(block.meta.resolution_ms, RES_5M);
    assert_eq!(block.meta.format_version, 3);
    assert_eq!((block.meta.min_time, block.meta.max_time), span);
    assert_eq!(block.meta.samples as usize, rows_a.len() + rows_b.len());
    upload_block(&store, &block).await.unwrap();
    let reader = BlockReader::new(store, block.meta.clone());
    let entries = reader.series().await.unwrap();
    assert_eq!(entries[0].min_time, rows_a[0].t - RES_5M + 1);
    let got = reader.aggregates(&entries, &[1, 0]).await.unwrap();
    assert_eq!(got.len(), 2);
    for ((r, rows), want) in got.iter().zip([&rows_a, &rows_b]) {
        assert_eq!(rows.len(), want.len(), "ref {r}");
        for (g, w) in rows.iter().zip(want.iter()) {
            assert!(g.bits_eq(w), "{g:?}\n{w:?}");
        }
    }
    // A raw read of an aggregate file is refused, not misread.
    assert!(reader.samples(&entries, &[0]).await.is_err());
    // Through a cache: the second read is served decoded, equal to the first.
    let cache =
        std::sync::Arc::new(crate::BlockCache::new(&crate::CacheConfig::default()).unwrap());
    let cached = BlockReader::new(
        store_for_cache(&block).await.with_cache(cache.clone()),
        block.meta.clone(),
    );
    let entries = cached.series().await.unwrap();
    let first = cached.aggregates(&entries, &[0, 1]).await.unwrap();
    let second = cached.aggregates(&entries, &[0, 1]).await.unwrap();
    assert_eq!(cache.stats().hits(crate::CacheKind::Rows), 2);
    for ((_, a), (_, b)) in first.iter().zip(&second) {
        assert!(a.iter().zip(b.iter()).all(|(x, y)| x.bits_eq(y)));
    }
}

async fn store_for_cache(block: &EncodedBlock) -> Store {
    let store = Store::open("memory://").unwrap();
    upload_block(&store, block).await.unwrap();
    store
}

/// Aggregate files are cut into small row groups: a read of a few series fetches the row groups
/// holding them (up front, in one coalesced GET) and neither fetches nor decodes the others.
#[tokio::test]
async fn selective_aggregate_reads_fetch_only_their_row_groups() {
    use crate::aggregate::{RES_1H, aggregate};
    use crate::counting::Operation;
    let hours = 168;
    let ts: Vec<i64> = (1..=hours * 240).map(|i| i * 15_000).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut w = BlockWriter::new_aggregates(&EncodeOptions::default(), RES_1H, (1, hours * RES_1H))
        .unwrap();
    let mut want = Vec::new();
    for i in 0..400 {
        // Random values: rows that do not compress, so the file is far above its footer.
        let vals: Vec<f64> = ts
            .iter()
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / 7.0
            })
            .collect();
        let labels = Labels::from_pairs([(METRIC_NAME, "m"), ("i", &format!("{i:03}"))]).unwrap();
        let rows = aggregate(&ts, &vals, &[], RES_1H);
        w.push_rows(labels, &rows).unwrap();
        want.push(rows);
    }
    let block = w.finish().unwrap();
    let store = store_for_cache(&block).await;
    let cache =
        std::sync::Arc::new(crate::BlockCache::new(&crate::CacheConfig::default()).unwrap());
    let store =
        Store::from_object_store(store.object_store().clone(), "counted").with_cache(cache.clone());
    let reader = BlockReader::new(store.clone(), block.meta.clone());
    let entries = reader.series().await.unwrap();
    let (gets, bytes, hits) = (
        store.request_counts().get(Operation::Get),
        store.request_counts().get_bytes(),
        cache.stats().hits(crate::CacheKind::Range),
    );
    // Series 40 and 41 share the first row group (49 series of 168 rows each, ~340 KB), 390
    // is in the last: over 1 MiB apart, two GETs.
    let got = reader.aggregates(&entries, &[390, 40, 41]).await.unwrap();
    assert_eq!(
        got.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        [40, 41, 390]
    );
    for (r, rows) in &got {
        let w = &want[*r as usize];
        assert_eq!(rows.len(), w.len());
        assert!(rows.iter().zip(w).all(|(a, b)| a.bits_eq(b)), "series {r}");
    }
    let fetched = store.request_counts().get_bytes() - bytes;
    assert_eq!(
        store.request_counts().get(Operation::Get) - gets,
        2,
        "a GET per row group (the footer is embedded in the series file)"
    );
    // Parquet's page requests were served from the bytes fetched ahead, not looked up again.
    assert_eq!(cache.stats().hits(crate::CacheKind::Range), hits);
    assert!(
        fetched * 3 < block.meta.samples_bytes,
        "{fetched} of {} bytes in {} row groups",
        block.meta.samples_bytes,
        entries.len() / 49
    );
}
