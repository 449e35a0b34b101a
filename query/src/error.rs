//! Errors of the query crate.

/// A syntax error: where (1-based line and column, the column counted in chars), what the
/// parser expected there, and the text it found instead (empty at the end of input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: expected {expected}, found {found:?}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in chars.
    pub column: usize,
    /// What would have been accepted at this point.
    pub expected: String,
    /// The token found instead; empty at the end of input.
    pub found: String,
}
