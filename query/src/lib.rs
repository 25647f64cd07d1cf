//! Strata's query layer.
//!
//! Data flow: label [`Matcher`]s and a time range select series from the blocks of a manifest
//! [`Snapshot`](strata_storage::Snapshot): only blocks whose time range overlaps are opened,
//! each block's series file is matched, and only the matching series' rows of its samples file
//! are read ([`select_series`]). Samples of one series from several blocks are merged in time
//! order; [`find_series`] answers label questions from series files alone. The PromQL
//! [`Engine`] parses a query with Strata's own parser ([`parser`], the `strata-promql` crate), plans it as a DataFusion
//! logical plan with one extension node per PromQL operator (selectors, range functions,
//! aggregations, binary operators, functions), and executes it with DataFusion: every node
//! collects its children's record batches (one row per series), evaluates over its steps and
//! emits its own. The root's series become a Prometheus-typed [`QueryValue`].

pub mod downsampled;
mod engine;
mod error;
mod matcher {
    //! Label matchers live in the storage crate (deletion requests store them).
    pub(crate) use strata_storage::matcher::{MatchOp, Matcher};
}
/// The PromQL parser (its own crate, `strata-promql`).
pub use strata_promql as parser;
mod select;

pub use downsampled::SourceResolution;
pub use engine::{
    Annotations, Cancel, Engine, EngineOptions, InstantSample, QueryOutput, QueryStats, QueryValue,
    RangeSeries, parse, parse_series_selector, warm_up,
};
pub use engine::{format_float, write_float};
pub use error::QueryError;
pub use select::{
    InstantReads, Overlay, ReadOptions, SelectedSeries, Selection, find_series, select_series,
};
pub use strata_storage::matcher::{MatchOp, Matcher};
