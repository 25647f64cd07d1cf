//! Request handlers, grouped by what they answer.

pub(crate) mod admin;
pub(crate) mod labels;
pub(crate) mod query;
pub(crate) mod scrape;
pub(crate) mod status;
pub(crate) mod write;
