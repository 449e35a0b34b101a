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
    /// The statement parses but asks for something the language does not allow, with no
    /// single token at fault (mixing aggregates with raw fields, …); the message is
    /// InfluxDB's where it has one.
    #[error("{0}")]
    Invalid(String),
    /// Like `Invalid`, with where: `at` is the line and column of the offending token
    /// (`undefined function foo()` points at `foo`, a time string that is not a time at
    /// the string; the statement's start if the token cannot be found again). Set by
    /// [`crate::execute`] and [`crate::query`], which have the text; the message then
    /// starts with them, as a parse error's does.
    #[error("{}{message}", prefix(.at))]
    InvalidAt {
        /// What is wrong.
        message: String,
        /// The token at fault, if one is.
        token: Option<Token>,
        /// Where, once known.
        at: Option<Position>,
    },
    /// The statement is valid InfluxQL that Strata does not run.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A limit of [`crate::Limits`] was reached.
    #[error("{0}")]
    Limit(String),
    /// The server's query memory budget cannot take what the statement needs now.
    #[error(
        "query memory budget exceeded: the statement needs {need} bytes more (it holds {held}), running queries hold {used} of the {limit}-byte budget (query.max_memory); retry later, narrow the query, or raise query.max_memory"
    )]
    Memory {
        /// Bytes asked for.
        need: u64,
        /// Bytes this request already held.
        held: u64,
        /// Bytes all running requests held.
        used: u64,
        /// The budget.
        limit: u64,
    },
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
    /// A cluster member's error for the statement, as the member worded it.
    #[error("{0}")]
    Remote(String),
    /// A broken invariant (a bug), e.g. a cluster member's answer that does not fit the
    /// statement's plan.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A place in the query text: 1-based line and column (in chars), as parse errors give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in chars.
    pub column: usize,
}

/// The token a semantic error is about, as it appears in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A call of this function (the name followed by `(`; any case).
    Call(String),
    /// A string literal with this value (`'…'`).
    String(String),
    /// A regex literal with this pattern (`/…/`).
    Regex(String),
    /// This identifier (bare, any case, or double-quoted).
    Word(String),
}

fn prefix(at: &Option<Position>) -> String {
    at.map(|p| format!("line {}, column {}: ", p.line, p.column))
        .unwrap_or_default()
}

impl QueryError {
    /// A semantic error about `token`, to be located in the text.
    pub fn invalid_at(token: Token, message: impl Into<String>) -> QueryError {
        QueryError::InvalidAt {
            message: message.into(),
            token: Some(token),
            at: None,
        }
    }

    /// Gives a semantic error about a token its position: the token's in `statement`
    /// (the statement's text, starting at byte `start` of `text`), or else the
    /// statement's start.
    pub(crate) fn locate(self, text: &str, start: usize, statement: &str) -> QueryError {
        match self {
            QueryError::InvalidAt {
                message,
                token,
                at: None,
            } => {
                let offset = token
                    .as_ref()
                    .and_then(|t| crate::influxql::parse::find_token(statement, t))
                    .unwrap_or(0);
                QueryError::InvalidAt {
                    message,
                    token,
                    at: Some(crate::influxql::parse::position(text, start + offset)),
                }
            }
            other => other,
        }
    }
}

impl From<strata_engine::Error> for QueryError {
    fn from(e: strata_engine::Error) -> Self {
        QueryError::Engine(e.to_string())
    }
}
