use super::*;
use crate::STALE_NAN_BITS;
use crate::labels::{Labels, METRIC_NAME};
use crate::store::Store;

fn series(name: &str, job: &str, ts: Vec<i64>, values: Vec<f64>) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::from_pairs([(METRIC_NAME, name), ("job", job), ("zone", "eu-1")]).unwrap(),
        timestamps: ts,
        values,
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
    (block.meta, entries, samples)
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
