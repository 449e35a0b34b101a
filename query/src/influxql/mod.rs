//! InfluxQL 1.x: text → [`ast::Statement`]s (the nom parser, `parse`), which the
//! executor (`crate::exec`) plans and runs. Every AST node prints back as canonical InfluxQL.

pub mod ast;
pub(crate) mod parse;
