//! Running statements against an open [`Db`].
//!
//! `SELECT` goes through [`select`]: resolve series through the index, pull the time range
//! out of `WHERE`, partially evaluate the rest against each series' tags, then scan each
//! needed column as pieces (block statistics where a block lies inside one bucket and the
//! functions allow it) into mergeable per-bucket states, in parallel across series when the
//! plan touches enough data to pay for it ([`parallel`]; small queries run on the calling
//! thread).
//! Meta statements (`SHOW …`, `DELETE`, `DROP …`) are in [`meta`].

mod agg;
mod cond;
mod delete;
pub(crate) mod explain;
pub mod memory;
mod meta;
mod parallel;
pub(crate) mod scan;
pub(crate) mod select;
mod time;
mod transform;
pub(crate) mod window;

use crate::ast::Statement;
use crate::error::QueryError;
use crate::result::{QueryResponse, StatementResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use strata_engine::Db;

/// Bounds on what one statement may cost. Defaults suit dashboards: thousands of series,
/// a million rows, a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most series one statement may return.
    pub max_series: usize,
    /// Most rows (points) one statement may return, across its series.
    pub max_rows: usize,
    /// Longest a statement may run; checked in every loop of the executor (per series,
    /// per batch of points, per bucket run), so a statement past it stops within about
    /// one batch of work and fails with a timeout error.
    pub timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_series: 100_000,
            max_rows: 1_000_000,
            timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// A flag that stops running statements: the executor checks it wherever it checks the
/// deadline, and a statement that sees it set fails with [`QueryError::Cancelled`].
///
/// A server holds one for its whole life and cancels it at shutdown; each request takes a
/// [`Cancel::child`], which is cancelled by its own flag (say, when the client went away)
/// or by the parent's. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    own: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A new flag that also reads as set once `self` is.
    pub fn child(&self) -> Cancel {
        Cancel {
            own: Arc::new(AtomicBool::new(false)),
            parent: Some(self.own.clone()),
        }
    }

    /// Sets the flag: statements using it (or a child of it) stop at their next check.
    pub fn cancel(&self) {
        self.own.store(true, Ordering::Relaxed);
    }

    /// Whether this flag or its parent is set.
    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::Relaxed)
            || self
                .parent
                .as_ref()
                .is_some_and(|p| p.load(Ordering::Relaxed))
    }
}

/// How statements run.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// `now()` in nanoseconds since the epoch; `None` takes the database's clock.
    pub now: Option<i64>,
    /// Limits per statement.
    pub limits: Limits,
    /// The database the request named (InfluxDB's `db=`); `SHOW DATABASES` lists it beside
    /// `strata`. One data directory is one database whatever the name.
    pub database: Option<String>,
    /// Stops the statements when set (server shutdown, a client that went away).
    pub cancel: Cancel,
    /// The request's share of the server's query memory budget (`None`: not counted).
    pub memory: Option<Arc<memory::MemoryAccount>>,
}

/// What every part of a running statement needs.
pub(crate) struct Ctx<'a> {
    pub db: &'a Db,
    pub database: Option<&'a str>,
    pub now: i64,
    pub limits: Limits,
    pub deadline: Option<Instant>,
    pub cancel: &'a Cancel,
    /// The tag (key, value) a cluster node adds to each of its series at query time.
    pub node_tag: Option<(String, String)>,
    /// The request's memory account, charged before rows are materialised.
    pub memory: Option<&'a memory::MemoryAccount>,
    /// Where each column's answer came from, for `EXPLAIN`.
    pub explain: explain::Recorder,
}

impl Ctx<'_> {
    /// Reserves `bytes` of the request's memory account before materialising rows,
    /// waiting for room while the budget is full (see [`memory`]).
    pub fn admit(&self, bytes: u64) -> Result<(), QueryError> {
        match self.memory {
            None => Ok(()),
            Some(m) => m.admit(bytes, self.deadline, &|| self.check_deadline()),
        }
    }

    /// Fails once the statement has run past its timeout or was cancelled. Cheap (an
    /// atomic load and a clock read): every loop of the executor calls it per series,
    /// per batch of points or per run of buckets.
    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if self.cancel.is_cancelled() {
            return Err(QueryError::Cancelled);
        }
        match self.deadline {
            Some(d) if Instant::now() > d => Err(QueryError::Timeout {
                limit: self.limits.timeout.unwrap_or_default(),
            }),
            _ => Ok(()),
        }
    }
}

/// Turns a count from the query text (`LIMIT`, `OFFSET`, `SLIMIT`, `SOFFSET`: any `u64`)
/// into a `usize`, saturating instead of wrapping.
pub(crate) fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `LIMIT + OFFSET` of a statement as a row count, saturating: the rows a series or
/// group must produce before `OFFSET` and `LIMIT` cut them. `None` without `LIMIT`.
pub(crate) fn limit_plus_offset(limit: Option<u64>, offset: Option<u64>) -> Option<usize> {
    limit.map(|l| count(l.saturating_add(offset.unwrap_or(0))))
}

/// Parses `text` and runs each of its statements in order. A text that does not parse
/// gives a response with only `error` set (InfluxDB answers it with HTTP 400); a statement
/// that fails gets its own `error` and the following statements still run.
pub fn execute(db: &Db, text: &str, options: &QueryOptions) -> QueryResponse {
    let statements = match crate::influxql::parse::parse_spanned(text) {
        Ok(s) => s,
        Err(e) => return QueryResponse::failed(QueryError::Parse(e).to_string()),
    };
    let results = statements
        .iter()
        .enumerate()
        .map(|(i, (st, span))| whole(db, text, st, span, options, i))
        .collect();
    QueryResponse {
        results,
        error: None,
    }
}

/// [`execute`], handing the results to `sink` as they are made: large raw `SELECT`s are
/// streamed a time slice at a time ([`select::stream`]), every other statement arrives
/// whole. A text that does not parse is `Err` with the parser's message, before anything
/// reaches the sink. A sink error (the client went away) stops the request.
pub fn execute_streamed(
    db: &Db,
    text: &str,
    options: &QueryOptions,
    settings: select::stream::StreamSettings,
    sink: &mut dyn crate::stream::ResponseSink,
) -> Result<(), String> {
    let statements = match crate::influxql::parse::parse_spanned(text) {
        Ok(s) => s,
        Err(e) => return Err(QueryError::Parse(e).to_string()),
    };
    let locate = |e: QueryError, span: &std::ops::Range<usize>| {
        e.locate(text, span.start, text.get(span.clone()).unwrap_or(""))
            .to_string()
    };
    for (i, (st, span)) in statements.iter().enumerate() {
        let sent = match st {
            Statement::Select(sel) => {
                let ctx = Ctx::new(db, options, None);
                match select::stream::prepare(&ctx, sel, settings) {
                    Ok(Some(streamed)) if streamed.streams => {
                        sink.begin_statement(i).and_then(|()| {
                            let error = select::stream::run(&ctx, streamed, settings, sink)
                                .err()
                                .map(|e| locate(e, span));
                            sink.end_statement(error)
                        })
                    }
                    // Planned and chosen already: run whole from that choice.
                    Ok(Some(planned)) => sink.statement(StatementResult::of(
                        i,
                        planned.run_whole(&ctx).map_err(|e| locate(e, span)),
                    )),
                    Ok(None) => sink.statement(whole(db, text, st, span, options, i)),
                    Err(e) => sink.statement(StatementResult {
                        statement_id: i,
                        series: Vec::new(),
                        error: Some(locate(e, span)),
                    }),
                }
            }
            _ => sink.statement(whole(db, text, st, span, options, i)),
        };
        if sent.is_err() {
            break;
        }
    }
    Ok(())
}

/// One statement run whole, as [`execute`] runs it.
fn whole(
    db: &Db,
    text: &str,
    st: &Statement,
    span: &std::ops::Range<usize>,
    options: &QueryOptions,
    i: usize,
) -> StatementResult {
    match run_located(db, text, st, span, options) {
        Ok(mut r) => {
            r.statement_id = i;
            r
        }
        Err(e) => StatementResult {
            statement_id: i,
            series: Vec::new(),
            error: Some(e.to_string()),
        },
    }
}

/// [`execute_statement`], with semantic errors located in `text` (the statement spans
/// `span` of it).
fn run_located(
    db: &Db,
    text: &str,
    statement: &Statement,
    span: &std::ops::Range<usize>,
    options: &QueryOptions,
) -> Result<StatementResult, QueryError> {
    execute_statement(db, statement, options)
        .map_err(|e| e.locate(text, span.start, text.get(span.clone()).unwrap_or("")))
}

/// Runs one parsed statement. Its semantic errors carry no position (there is no text
/// here); [`execute`] and [`query`] add them.
pub fn execute_statement(
    db: &Db,
    statement: &Statement,
    options: &QueryOptions,
) -> Result<StatementResult, QueryError> {
    let ctx = Ctx::new(db, options, None);
    let series = match statement {
        Statement::Select(s) => select::run(&ctx, s)?,
        Statement::Explain(s) => {
            let rows = select::run(&ctx, s)?;
            let columns = rows.iter().map(|r| r.columns.len().saturating_sub(1)).sum();
            vec![ctx.explain.series(rows.len(), columns)]
        }
        other => meta::run(&ctx, other)?,
    };
    Ok(StatementResult {
        statement_id: 0,
        series,
        error: None,
    })
}

impl<'a> Ctx<'a> {
    /// The context of one statement run with `options`.
    pub(crate) fn new(
        db: &'a Db,
        options: &'a QueryOptions,
        node_tag: Option<(String, String)>,
    ) -> Ctx<'a> {
        Ctx {
            db,
            database: options.database.as_deref(),
            now: options
                .now
                .unwrap_or_else(|| db.options().clock.now_nanos()),
            limits: options.limits,
            deadline: options
                .limits
                .timeout
                .and_then(|t| Instant::now().checked_add(t)),
            cancel: &options.cancel,
            node_tag,
            memory: options.memory.as_deref(),
            explain: explain::Recorder::default(),
        }
    }
}

/// One call for embedded use: runs `text` with default options and returns the response,
/// or the first error (parse or statement) as an `Err`.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = strata_query::engine::Db::open("strata-data", Default::default())?;
/// let response = strata_query::query(&db, "SELECT mean(usage_user) FROM cpu GROUP BY time(1h)")?;
/// println!("{}", response.to_json(strata_query::Epoch::Rfc3339));
/// # Ok(()) }
/// ```
pub fn query(db: &Db, text: &str) -> Result<QueryResponse, QueryError> {
    let statements = crate::influxql::parse::parse_spanned(text)?;
    let options = QueryOptions::default();
    let mut results = Vec::with_capacity(statements.len());
    for (i, (st, span)) in statements.iter().enumerate() {
        let mut r = run_located(db, text, st, span, &options)?;
        r.statement_id = i;
        results.push(r);
    }
    Ok(QueryResponse {
        results,
        error: None,
    })
}
