//! PromQL parsing: a lexer and a recursive-descent parser producing [`ast::Expr`]. Strata has
//! its own parser because Prometheus 3's duration expressions (`[26m+4m]`, `offset step()`)
//! and `anchored`/`smoothed` range selectors are not in promql-parser.

pub mod ast;
mod functions;
mod lexer;
mod parse;
mod printer;
#[cfg(test)]
mod tests;

pub use lexer::{go_quote, string as string_literal};
pub use parse::parse;
pub use printer::pretty;
pub use strata_storage::duration::{DURATION_UNITS, format_duration, parse_duration};
