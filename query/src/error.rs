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

/// Why a statement could not run. Each becomes the `error` of its statement's result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The text does not parse.
    #[error("error parsing query: {0}")]
    Parse(#[from] ParseError),
    /// The statement parses but asks for something the language does not allow
    /// (mixing aggregates with raw fields, a function with wrong arguments, …).
    #[error("{0}")]
    Invalid(String),
    /// The statement is valid InfluxQL that Strata does not run.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A limit of [`crate::Limits`] was reached.
    #[error("{0}")]
    Limit(String),
    /// The statement ran longer than [`crate::Limits::timeout`].
    #[error(
        "query timeout: the statement ran longer than {limit:?} (limit query.timeout, server.query_timeout)"
    )]
    Timeout {
        /// The timeout in force.
        limit: std::time::Duration,
    },
    /// The statement was stopped through its [`crate::Cancel`] flag (the server is
    /// shutting down, or the client went away).
    #[error("query cancelled: the server is shutting down or the client went away")]
    Cancelled,
    /// The storage engine failed.
    #[error("storage: {0}")]
    Engine(String),
}

impl From<strata_engine::Error> for QueryError {
    fn from(e: strata_engine::Error) -> Self {
        QueryError::Engine(e.to_string())
    }
}
