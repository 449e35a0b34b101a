//! The Strata query language: an InfluxQL-compatible parser, planner and executor over
//! [`strata_engine`].
//!
//! ```text
//! text --parse--> Vec<Statement> --analyze--> IR --plan--> Plan --exec--> output
//! ```
//!
//! Only the parser exists so far: [`parse`] turns text into [`ast::Statement`]s, and every
//! AST node prints back as canonical InfluxQL through `Display`.

pub use strata_engine as engine;

pub mod ast;
pub mod error;
mod parse;

pub use error::ParseError;
pub use parse::{MAX_HEIGHT, MAX_NESTING, parse};
