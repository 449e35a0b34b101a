//! Strata's two query languages over [`strata_engine`]: InfluxQL 1.x and PromQL
//! (Prometheus 2.42), each parsed with nom into its own AST and run on the same plan
//! pieces and the same executor stages.
//!
//! ```text
//! InfluxQL text ─ influxql::parse ─► ast::Statement ─┐
//!                                                     ├─► plan: series selection (label matchers
//! PromQL text ─── promql::parse ───► promql::ast ────┘        through the index), windows
//!                                                         │
//!                  exec: column scans (exec::scan), window folding (exec::window),
//!                        per-bucket partial states (InfluxQL), per-step operators (PromQL)
//!                                                         │
//!        QueryResponse (InfluxDB JSON / CSV / table)  or  promql::QueryValue (Prometheus JSON)
//! ```
//!
//! | module | job |
//! | --- | --- |
//! | [`influxql`] | InfluxQL AST and parser ([`parse`], [`ast`]) |
//! | [`promql`] | PromQL AST, parser, evaluation, Prometheus JSON |
//! | [`plan`] | what both lower to: label matchers and series selection |
//! | `exec` | the executor: column scans, window folding, `SELECT` stages, meta statements |
//! | [`result`] | InfluxDB-shaped results and their renderings |
//! | [`stream`] | results handed out a piece at a time ([`execute_streamed`]) |
//!
//! [`execute`] runs a request's InfluxQL statements against an open [`engine::Db`];
//! [`promql::instant`] and [`promql::range`] evaluate a PromQL expression.

pub use strata_engine as engine;

pub mod error;
mod exec;
pub mod fuzzing;
pub mod influxql;
pub mod partial;
pub mod plan;
pub mod promql;
pub mod result;
pub mod stream;

pub use error::{ParseError, Position, QueryError, Token};
pub use exec::memory::{MemoryAccount, MemoryBudget};
pub use exec::scan::Samples;
pub use exec::select::stream::StreamSettings;
pub use exec::{Cancel, Limits, QueryOptions, execute, execute_statement, execute_streamed, query};
pub use influxql::ast;
pub use influxql::parse::{MAX_HEIGHT, MAX_NESTING, parse};
pub use result::{Epoch, QueryResponse, Series, StatementResult, Value};

/// The README's examples (which use the engine and the query language), compiled and run
/// as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
