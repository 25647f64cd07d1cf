//! Values flowing between plan nodes, and their Arrow encoding.
//!
//! Between DataFusion nodes a value travels as record batches with one row per series:
//! `labels` (the label set, length-prefixed name/value pairs), `drop_name` (Prometheus 3's
//! delayed `__name__` removal), `timestamps`/`values` lists of the series' points, and
//! `start_timestamps` (null unless raw samples carry start timestamps). A scalar is one series
//! with no labels; inside a node, values are plain Rust structs.

use std::sync::{Arc, LazyLock};

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use strata_storage::Labels;

/// Column names of the series encoding.
pub(crate) const COL_LABELS: &str = "labels";
pub(crate) const COL_DROP_NAME: &str = "drop_name";
pub(crate) const COL_TIMESTAMPS: &str = "timestamps";
pub(crate) const COL_VALUES: &str = "values";
pub(crate) const COL_START_TIMESTAMPS: &str = "start_timestamps";

/// One series with points (step-aligned for instant vectors, raw samples for range vectors).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) labels: Labels,
    /// The metric name is to be dropped before output (set by functions and operators).
    pub(crate) drop_name: bool,
    pub(crate) timestamps: Vec<i64>,
    pub(crate) values: Vec<f64>,
    /// Start timestamps of raw samples (0 = unknown), only as read by a range selector;
    /// empty otherwise. Expressions (subqueries, operators) never propagate them.
    pub(crate) start_timestamps: Vec<i64>,
}

impl Series {
    pub(crate) fn new(labels: Labels) -> Self {
        Self {
            labels,
            drop_name: false,
            timestamps: Vec::new(),
            values: Vec::new(),
            start_timestamps: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, t: i64, v: f64) {
        self.timestamps.push(t);
        self.values.push(v);
    }

    /// Index of the newest point in `(at − lookback, at]`, if any: the sample an instant
    /// selector sees at `at`.
    pub(crate) fn newest_within(&self, at: i64, lookback: i64) -> Option<usize> {
        let i = self.timestamps.partition_point(|&ts| ts <= at);
        (i > 0 && self.timestamps[i - 1] > at - lookback).then(|| i - 1)
    }

    /// The value at exactly `t`, walking `cursor` forward: for visiting ascending steps in
    /// one pass instead of a binary search per step.
    pub(crate) fn at_cursor(&self, cursor: &mut usize, t: i64) -> Option<f64> {
        while *cursor < self.timestamps.len() && self.timestamps[*cursor] < t {
            *cursor += 1;
        }
        (*cursor < self.timestamps.len() && self.timestamps[*cursor] == t)
            .then(|| self.values[*cursor])
    }

    /// The value at exactly `t`, if any (points are sorted).
    pub(crate) fn at(&self, t: i64) -> Option<f64> {
        self.timestamps
            .binary_search(&t)
            .ok()
            .map(|i| self.values[i])
    }
}

/// The Arrow schema of the series encoding.
pub(crate) fn series_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new(COL_LABELS, DataType::Binary, false),
            Field::new(COL_DROP_NAME, DataType::Boolean, false),
            Field::new(
                COL_TIMESTAMPS,
                DataType::new_list(DataType::Int64, true),
                false,
            ),
            Field::new(
                COL_VALUES,
                DataType::new_list(DataType::Float64, true),
                false,
            ),
            Field::new(
                COL_START_TIMESTAMPS,
                DataType::new_list(DataType::Int64, true),
                true,
            ),
        ]))
    });
    SCHEMA.clone()
}

/// The same schema for logical plans.
pub(crate) fn series_df_schema() -> DFSchemaRef {
    static SCHEMA: LazyLock<DFSchemaRef> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        let schema =
            DFSchema::try_from(series_schema().as_ref().clone()).expect("static schema is valid");
        Arc::new(schema)
    });
    SCHEMA.clone()
}

fn encode_labels(labels: &Labels, out: &mut Vec<u8>) {
    for l in labels.iter() {
        for s in [&l.name, &l.value] {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn decode_labels(mut b: &[u8]) -> Result<Labels> {
    let bad = || DataFusionError::Internal("corrupt label encoding".into());
    let mut pairs = Vec::new();
    let read = |b: &mut &[u8]| -> Result<String> {
        let len =
            u32::from_le_bytes(b.get(..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
        let s = std::str::from_utf8(b.get(4..4 + len).ok_or_else(bad)?).map_err(|_| bad())?;
        *b = &b[4 + len..];
        Ok(s.to_string())
    };
    while !b.is_empty() {
        let name = read(&mut b)?;
        let value = read(&mut b)?;
        pairs.push((name, value));
    }
    Labels::from_pairs(pairs).map_err(|e| DataFusionError::Internal(e.to_string()))
}

/// Encodes series into one record batch.
pub(crate) fn encode(series: &[Series]) -> Result<RecordBatch> {
    let mut labels = BinaryBuilder::new();
    let mut drop = BooleanBuilder::new();
    let mut ts = ListBuilder::new(Int64Builder::new());
    let mut vs = ListBuilder::new(Float64Builder::new());
    let mut sts = ListBuilder::new(Int64Builder::new());
    let mut buf = Vec::new();
    for s in series {
        buf.clear();
        encode_labels(&s.labels, &mut buf);
        labels.append_value(&buf);
        drop.append_value(s.drop_name);
        ts.values().append_slice(&s.timestamps);
        ts.append(true);
        vs.values().append_slice(&s.values);
        vs.append(true);
        if s.start_timestamps.is_empty() {
            sts.append_null();
        } else {
            sts.values().append_slice(&s.start_timestamps);
            sts.append(true);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(labels.finish()),
        Arc::new(drop.finish()),
        Arc::new(ts.finish()),
        Arc::new(vs.finish()),
        Arc::new(sts.finish()),
    ];
    Ok(RecordBatch::try_new(series_schema(), columns)?)
}

/// Decodes record batches back into series.
pub(crate) fn decode(batches: &[RecordBatch]) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    for batch in batches {
        let missing = |c: &str| DataFusionError::Internal(format!("missing column {c}"));
        let labels = batch
            .column_by_name(COL_LABELS)
            .ok_or_else(|| missing(COL_LABELS))?
            .as_binary::<i32>();
        let drop = batch
            .column_by_name(COL_DROP_NAME)
            .ok_or_else(|| missing(COL_DROP_NAME))?
            .as_boolean();
        let ts = batch
            .column_by_name(COL_TIMESTAMPS)
            .ok_or_else(|| missing(COL_TIMESTAMPS))?
            .as_list::<i32>();
        let vs = batch
            .column_by_name(COL_VALUES)
            .ok_or_else(|| missing(COL_VALUES))?
            .as_list::<i32>();
        let sts = batch
            .column_by_name(COL_START_TIMESTAMPS)
            .ok_or_else(|| missing(COL_START_TIMESTAMPS))?
            .as_list::<i32>();
        for row in 0..batch.num_rows() {
            let t = ts.value(row);
            let v = vs.value(row);
            let start_timestamps = if sts.is_valid(row) {
                sts.value(row).as_primitive::<Int64Type>().values().to_vec()
            } else {
                Vec::new()
            };
            out.push(Series {
                labels: decode_labels(labels.value(row))?,
                drop_name: drop.value(row),
                timestamps: t.as_primitive::<Int64Type>().values().to_vec(),
                values: v.as_primitive::<Float64Type>().values().to_vec(),
                start_timestamps,
            });
            debug_assert_eq!(t.len(), v.len());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut a = Series::new(Labels::from_pairs([("__name__", "up"), ("job", "x\0y")]).unwrap());
        a.push(1, 1.5);
        a.push(2, f64::from_bits(0x7ff0_0000_0000_0002));
        a.drop_name = true;
        let b = Series::new(Labels::default());
        let decoded = decode(&[encode(&[a.clone(), b.clone()]).unwrap()]).unwrap();
        assert_eq!(decoded[0].labels, a.labels);
        assert!(decoded[0].drop_name);
        assert_eq!(decoded[0].values[1].to_bits(), 0x7ff0_0000_0000_0002);
        assert_eq!(decoded[1], b);
    }
}
