//! Running statements against an open [`Db`].
//!
//! `SELECT` goes through [`select`]: resolve series through the index, pull the time range
//! out of `WHERE`, partially evaluate the rest against each series' tags, then scan each
//! needed column as pieces (block statistics where a block lies inside one bucket and the
//! functions allow it) into mergeable per-bucket states, in parallel across series.
//! Meta statements (`SHOW …`, `DELETE`, `DROP …`) are in [`meta`].

mod agg;
mod cond;
mod meta;
pub(crate) mod scan;
mod select;
mod time;
mod transform;
pub(crate) mod window;

use crate::ast::Statement;
use crate::error::QueryError;
use crate::result::{QueryResponse, StatementResult};
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
    /// Longest a statement may run; checked between series and batches.
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
}

/// What every part of a running statement needs.
pub(crate) struct Ctx<'a> {
    pub db: &'a Db,
    pub database: Option<&'a str>,
    pub now: i64,
    pub limits: Limits,
    pub deadline: Option<Instant>,
}

impl Ctx<'_> {
    /// Fails once the statement has run past its timeout.
    pub fn check_deadline(&self) -> Result<(), QueryError> {
        match self.deadline {
            Some(d) if Instant::now() > d => Err(QueryError::Limit(format!(
                "query timeout: the statement ran longer than {:?} (limit query.timeout)",
                self.limits.timeout.unwrap_or_default()
            ))),
            _ => Ok(()),
        }
    }
}

/// Parses `text` and runs each of its statements in order. A text that does not parse
/// gives a response with only `error` set (InfluxDB answers it with HTTP 400); a statement
/// that fails gets its own `error` and the following statements still run.
pub fn execute(db: &Db, text: &str, options: &QueryOptions) -> QueryResponse {
    let statements = match crate::parse(text) {
        Ok(s) => s,
        Err(e) => return QueryResponse::failed(QueryError::Parse(e).to_string()),
    };
    let results = statements
        .iter()
        .enumerate()
        .map(|(i, st)| match execute_statement(db, st, options) {
            Ok(mut r) => {
                r.statement_id = i;
                r
            }
            Err(e) => StatementResult {
                statement_id: i,
                series: Vec::new(),
                error: Some(e.to_string()),
            },
        })
        .collect();
    QueryResponse {
        results,
        error: None,
    }
}

/// Runs one parsed statement.
pub fn execute_statement(
    db: &Db,
    statement: &Statement,
    options: &QueryOptions,
) -> Result<StatementResult, QueryError> {
    let ctx = Ctx {
        db,
        database: options.database.as_deref(),
        now: options
            .now
            .unwrap_or_else(|| db.options().clock.now_nanos()),
        limits: options.limits,
        deadline: options.limits.timeout.map(|t| Instant::now() + t),
    };
    let series = match statement {
        Statement::Select(s) => select::run(&ctx, s)?,
        other => meta::run(&ctx, other)?,
    };
    Ok(StatementResult {
        statement_id: 0,
        series,
        error: None,
    })
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
    let statements = crate::parse(text)?;
    let options = QueryOptions::default();
    let mut results = Vec::with_capacity(statements.len());
    for (i, st) in statements.iter().enumerate() {
        let mut r = execute_statement(db, st, &options)?;
        r.statement_id = i;
        results.push(r);
    }
    Ok(QueryResponse {
        results,
        error: None,
    })
}
