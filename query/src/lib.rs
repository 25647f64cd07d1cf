//! Strata's query layer.
//!
//! Data flow: label [`Matcher`]s and a time range select series from the blocks of a manifest
//! [`Snapshot`](strata_storage::Snapshot): only blocks whose time range overlaps are opened,
//! each block's series file is matched, and only the matching series' rows of its samples file
//! are read ([`select_series`]). Samples of one series from several blocks are merged in time
//! order. The PromQL engine (plan nodes on DataFusion) consumes these series.

mod error;
mod matcher;
mod select;

pub use error::QueryError;
pub use matcher::{MatchOp, Matcher};
pub use select::{SelectedSeries, Selection, select_series};
