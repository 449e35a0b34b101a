//! PromQL (Prometheus 2.42's query language) over Strata's storage.
//!
//! ```text
//! text --parse--> ast::Expr --eval (plan::selection, exec::scan, windows, operators)--> QueryValue --json--> API answer
//! ```
//!
//! [`parse_expr`] gives a type-checked [`ast::Expr`]; [`instant`] and [`range`] evaluate it
//! at one time or over a range of steps; [`json`] renders results and errors exactly as
//! Prometheus' HTTP API does. Line-protocol data is visible as metric
//! `measurement_field` (see [`crate::plan::selection`]).

pub mod ast;
pub mod delete;
pub mod eval;
pub mod explain;
pub mod functions;
pub mod json;
pub mod meta;
pub mod parse;

pub use eval::labels::Labels;
pub use eval::{
    EvalOptions, EvalStats, PromError, QueryValue, Remote, STALE_NAN_BITS, Series, Steps, instant,
    instant_with_stats, is_stale, range, range_with_stats,
};
pub use parse::{MAX_DEPTH, PromParseError, parse_duration, parse_expr, parse_selector};
