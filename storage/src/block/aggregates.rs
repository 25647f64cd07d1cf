//! The samples file of an aggregate block (block format 3, `strata.kind = aggregates`): one
//! row per series and window instead of one per sample ([`crate::aggregate::AggRow`]).
//! Values reuse the raw layout's trick: each value column is a pair `<col>_int` (a decimal
//! mantissa at the series' `value_scale`) + `<col>_float` (exact bits otherwise). Written by
//! [`super::BlockWriter`] in aggregate mode, read by [`super::BlockReader::aggregates`].

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use object_store::path::Path;

use super::reader::column as col;
use super::schema::{COL_SERIES_REF, COL_TIMESTAMP};
use super::values;
use crate::aggregate::AggRow;
use crate::error::{Result, StorageError};

/// Version of aggregate blocks (raw blocks stay at [`super::BLOCK_FORMAT_VERSION`]).
pub const AGGREGATE_FORMAT_VERSION: u32 = 3;
/// `strata.kind` of an aggregate samples file.
pub const KIND_AGGREGATES: &str = "aggregates";
/// Key-value metadata of both files of an aggregate block: the window width in ms.
pub const META_RESOLUTION: &str = "strata.resolution_ms";

/// Aggregate column: samples in the window (stale markers excluded).
pub const COL_COUNT: &str = "count";
/// Aggregate value columns, each stored as `<name>_int` + `<name>_float`.
pub const VALUE_COLUMNS: [&str; 6] = ["sum", "min", "max", "first", "last", "reset_sum"];
/// Aggregate column: ms from the first sample to the window end.
pub const COL_FIRST_OFF: &str = "first_off";
/// Aggregate column: ms from the last sample to the window end.
pub const COL_LAST_OFF: &str = "last_off";
/// Aggregate column: start timestamp of the first sample (null = unknown).
pub const COL_FIRST_START: &str = "first_start";
/// Aggregate column: start timestamp of the last sample (null = unknown).
pub const COL_LAST_START: &str = "last_start";
/// Aggregate column: counter resets inside the window.
pub const COL_RESETS: &str = "resets";
/// Aggregate column: value changes inside the window.
pub const COL_CHANGES: &str = "changes";
/// Aggregate column: ms from a trailing stale marker to the window end (null = none).
pub const COL_STALE_OFF: &str = "stale_off";

/// Names of the int/float pair of a value column.
pub fn value_column_names(name: &str) -> (String, String) {
    (format!("{name}_int"), format!("{name}_float"))
}

/// Arrow schema of an aggregate samples file.
pub fn aggregates_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new(COL_SERIES_REF, DataType::UInt32, false),
        Field::new(COL_TIMESTAMP, DataType::Int64, false),
        Field::new(COL_COUNT, DataType::UInt32, false),
    ];
    for name in VALUE_COLUMNS {
        let (i, f) = value_column_names(name);
        fields.push(Field::new(i, DataType::Int64, true));
        fields.push(Field::new(f, DataType::Float64, true));
    }
    fields.extend([
        Field::new(COL_FIRST_OFF, DataType::UInt32, false),
        Field::new(COL_LAST_OFF, DataType::UInt32, false),
        Field::new(COL_FIRST_START, DataType::Int64, true),
        Field::new(COL_LAST_START, DataType::Int64, true),
        Field::new(COL_RESETS, DataType::UInt32, false),
        Field::new(COL_CHANGES, DataType::UInt32, false),
        Field::new(COL_STALE_OFF, DataType::UInt32, true),
    ]);
    Arc::new(Schema::new(fields))
}

/// Columns delta-encoded in an aggregate samples file (the rest: floats byte-stream-split).
pub fn aggregate_delta_columns() -> Vec<String> {
    let mut cols: Vec<String> = [
        COL_SERIES_REF,
        COL_TIMESTAMP,
        COL_COUNT,
        COL_FIRST_OFF,
        COL_LAST_OFF,
        COL_FIRST_START,
        COL_LAST_START,
        COL_RESETS,
        COL_CHANGES,
        COL_STALE_OFF,
    ]
    .map(String::from)
    .to_vec();
    cols.extend(VALUE_COLUMNS.map(|n| value_column_names(n).0));
    cols
}

/// The float columns of an aggregate samples file.
pub fn aggregate_float_columns() -> Vec<String> {
    VALUE_COLUMNS.map(|n| value_column_names(n).1).to_vec()
}

fn off(t: i64, at: i64) -> u32 {
    u32::try_from(t - at).unwrap_or(u32::MAX)
}

/// Builders of an aggregate samples batch.
pub(crate) struct AggColumns {
    refs: UInt32Builder,
    ts: Int64Builder,
    counts: UInt32Builder,
    values: Vec<(Int64Builder, Float64Builder)>,
    first_off: UInt32Builder,
    last_off: UInt32Builder,
    first_start: Int64Builder,
    last_start: Int64Builder,
    resets: UInt32Builder,
    changes: UInt32Builder,
    stale_off: UInt32Builder,
    pub(crate) rows: usize,
}

impl AggColumns {
    pub(crate) fn new() -> Self {
        Self {
            refs: UInt32Builder::new(),
            ts: Int64Builder::new(),
            counts: UInt32Builder::new(),
            values: VALUE_COLUMNS
                .iter()
                .map(|_| (Int64Builder::new(), Float64Builder::new()))
                .collect(),
            first_off: UInt32Builder::new(),
            last_off: UInt32Builder::new(),
            first_start: Int64Builder::new(),
            last_start: Int64Builder::new(),
            resets: UInt32Builder::new(),
            changes: UInt32Builder::new(),
            stale_off: UInt32Builder::new(),
            rows: 0,
        }
    }

    /// The decimal scale of a series' rows: the one that covers its sample values.
    pub(crate) fn scale(rows: &[AggRow]) -> Option<u8> {
        let vals: Vec<f64> = rows
            .iter()
            .filter(|r| r.count > 0)
            .flat_map(|r| [r.first, r.last, r.min, r.max])
            .collect();
        if vals.is_empty() {
            return None;
        }
        values::choose_scale(&vals)
    }

    pub(crate) fn push(&mut self, series_ref: u32, r: &AggRow, scale: Option<u8>) {
        self.refs.append_value(series_ref);
        self.ts.append_value(r.t);
        self.counts.append_value(r.count);
        // `min` and `max` are stored relative to `first` and `last` (`first − min`,
        // `max − last`) when all are mantissas: 0 for a counter without reset, so two of the
        // four value columns of counters cost nothing.
        let m = |v: f64| scale.and_then(|k| values::encode(v, k));
        let (first, last) = (m(r.first), m(r.last));
        let mantissas = [
            m(r.sum),
            first.zip(m(r.min)).map(|(f, v)| f - v),
            last.zip(m(r.max)).map(|(l, v)| v - l),
            first,
            last,
            m(r.reset_sum),
        ];
        let vals = [r.sum, r.min, r.max, r.first, r.last, r.reset_sum];
        for (((ints, floats), v), mantissa) in self.values.iter_mut().zip(vals).zip(mantissas) {
            if r.count == 0 {
                ints.append_null();
                floats.append_null();
                continue;
            }
            match mantissa {
                Some(m) => {
                    ints.append_value(m);
                    floats.append_null();
                }
                None => {
                    ints.append_null();
                    floats.append_value(v);
                }
            }
        }
        let live = r.count > 0;
        self.first_off
            .append_value(if live { off(r.t, r.first_t) } else { 0 });
        self.last_off
            .append_value(if live { off(r.t, r.last_t) } else { 0 });
        let start = |st: i64| (live && st != 0).then_some(st);
        self.first_start.append_option(start(r.first_start));
        self.last_start.append_option(start(r.last_start));
        self.resets.append_value(r.resets);
        self.changes.append_value(r.changes);
        self.stale_off.append_option(r.stale_t.map(|s| off(r.t, s)));
        self.rows += 1;
    }

    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.refs.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.counts.finish()),
        ];
        for (ints, floats) in &mut self.values {
            columns.push(Arc::new(ints.finish()));
            columns.push(Arc::new(floats.finish()));
        }
        columns.extend([
            Arc::new(self.first_off.finish()) as ArrayRef,
            Arc::new(self.last_off.finish()),
            Arc::new(self.first_start.finish()),
            Arc::new(self.last_start.finish()),
            Arc::new(self.resets.finish()),
            Arc::new(self.changes.finish()),
            Arc::new(self.stale_off.finish()),
        ]);
        RecordBatch::try_new(aggregates_schema(), columns)
            .map_err(|e| StorageError::arrow("aggregates batch", e))
    }
}

fn no_first(path: &Path, r: u32) -> StorageError {
    StorageError::corrupt(
        path,
        format!("relative min/max mantissa without first/last (ref {r})"),
    )
}

/// Decodes the rows of one batch, calling `emit(series_ref, row)` for each. `scale_of` gives a
/// series' value scale.
pub(crate) fn decode_batch(
    batch: &RecordBatch,
    path: &Path,
    scale_of: impl Fn(u32) -> Result<Option<u8>>,
    mut emit: impl FnMut(u32, AggRow),
) -> Result<()> {
    let refs = col(batch, COL_SERIES_REF, path)?.as_primitive::<UInt32Type>();
    let ts = col(batch, COL_TIMESTAMP, path)?.as_primitive::<Int64Type>();
    let counts = col(batch, COL_COUNT, path)?.as_primitive::<UInt32Type>();
    let mut vals = Vec::with_capacity(VALUE_COLUMNS.len());
    for name in VALUE_COLUMNS {
        let (i, f) = value_column_names(name);
        vals.push((
            col(batch, &i, path)?.as_primitive::<Int64Type>(),
            col(batch, &f, path)?.as_primitive::<Float64Type>(),
        ));
    }
    let u32col = |name| -> Result<_> { Ok(col(batch, name, path)?.as_primitive::<UInt32Type>()) };
    let i64col = |name| -> Result<_> { Ok(col(batch, name, path)?.as_primitive::<Int64Type>()) };
    let (first_off, last_off) = (u32col(COL_FIRST_OFF)?, u32col(COL_LAST_OFF)?);
    let (first_start, last_start) = (i64col(COL_FIRST_START)?, i64col(COL_LAST_START)?);
    let (resets, changes) = (u32col(COL_RESETS)?, u32col(COL_CHANGES)?);
    let stale_off = u32col(COL_STALE_OFF)?;
    let mut scale: Option<(u32, Option<u8>)> = None;
    for row in 0..batch.num_rows() {
        let r = refs.value(row);
        let k = match scale {
            Some((sr, k)) if sr == r => k,
            _ => {
                let k = scale_of(r)?;
                scale = Some((r, k));
                k
            }
        };
        let t = ts.value(row);
        let count = counts.value(row);
        let mut v = [0.0f64; 6];
        if count > 0 {
            let mant = |i: usize| vals[i].0.is_valid(row).then(|| vals[i].0.value(row));
            let no_scale =
                || StorageError::corrupt(path, format!("mantissa without a scale (ref {r})"));
            // `min` and `max` mantissas are relative to `first` and `last` (see `push`).
            let (first, last) = (mant(3), mant(4));
            let absolute = [
                Ok(mant(0)),
                mant(1)
                    .map(|d| first.map(|f| f - d).ok_or_else(|| no_first(path, r)))
                    .transpose(),
                mant(2)
                    .map(|d| last.map(|l| l + d).ok_or_else(|| no_first(path, r)))
                    .transpose(),
                Ok(first),
                Ok(last),
                Ok(mant(5)),
            ];
            for (i, (slot, abs)) in v.iter_mut().zip(absolute).enumerate() {
                *slot = match abs? {
                    Some(m) => values::decode(m, k.ok_or_else(no_scale)?),
                    None if vals[i].1.is_valid(row) => vals[i].1.value(row),
                    None => {
                        return Err(StorageError::corrupt(
                            path,
                            format!("aggregate without value (ref {r})"),
                        ));
                    }
                };
            }
        }
        let opt = |c: &arrow_array::PrimitiveArray<Int64Type>| {
            if c.is_valid(row) { c.value(row) } else { 0 }
        };
        emit(
            r,
            AggRow {
                t,
                count,
                sum: v[0],
                min: v[1],
                max: v[2],
                first: v[3],
                last: v[4],
                reset_sum: v[5],
                first_t: t - i64::from(first_off.value(row)),
                last_t: t - i64::from(last_off.value(row)),
                first_start: opt(first_start),
                last_start: opt(last_start),
                resets: resets.value(row),
                changes: changes.value(row),
                stale_t: stale_off
                    .is_valid(row)
                    .then(|| t - i64::from(stale_off.value(row))),
            },
        );
    }
    Ok(())
}
