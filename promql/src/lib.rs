//! PromQL parsing: a lexer and a recursive-descent parser producing [`ast::Expr`]. Strata has
//! its own parser because Prometheus 3's duration expressions (`[26m+4m]`, `offset step()`)
//! and `anchored`/`smoothed` range selectors are not in promql-parser.
//!
//! Data flow: text → [`lexer`] tokens → [`parse`] (recursive descent with Prometheus'
//! precedence) → [`ast::Expr`], checked as Prometheus' `checkAST` checks it against the one
//! function table (`functions.rs`, Prometheus' `functions.go`) → the query engine's planner,
//! or back to text ([`pretty`], `Display`). The crate has no query-engine dependency, so
//! rule checks and the parse fuzz target link only this.

pub mod ast;
mod error;
mod float;
mod functions;
mod lexer;
mod parse;
mod printer;
pub mod series;
#[cfg(test)]
mod tests;

pub use error::ParseError;
pub use float::{format_float, write_float};
pub use lexer::{go_quote, string as string_literal};
pub use parse::parse;
pub use printer::pretty;
pub use strata_storage::duration::{DURATION_UNITS, format_duration, parse_duration};
