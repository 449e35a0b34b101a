//! The Strata query language: an InfluxQL-compatible parser, planner and executor over
//! [`strata_engine`].
//!
//! ```text
//! text --parse--> Vec<Statement> --plan--> Plan --exec--> QueryResponse --render--> JSON/CSV/table
//! ```
//!
//! [`parse`] turns text into [`ast::Statement`]s (every AST node prints back as canonical
//! InfluxQL through `Display`); [`execute`] runs a request's statements against an open
//! [`engine::Db`] and returns a [`QueryResponse`], which renders as InfluxDB 1.x JSON, CSV
//! or an aligned table.

pub use strata_engine as engine;

pub mod ast;
pub mod error;
mod exec;
pub mod fuzzing;
mod parse;
pub mod plan;
pub mod promql;
pub mod result;

pub use error::{ParseError, Position, QueryError, Token};
pub use exec::scan::Samples;
pub use exec::{Cancel, Limits, QueryOptions, execute, execute_statement, query};
pub use parse::{MAX_HEIGHT, MAX_NESTING, parse};
pub use result::{Epoch, QueryResponse, Series, StatementResult, Value};

/// The README's examples (which use the engine and the query language), compiled and run
/// as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
