//! `DELETE FROM … [WHERE …]`, `DELETE WHERE …`, `DROP MEASUREMENT`, `DROP SERIES`.

use nom::branch::alt;
use nom::combinator::value;

use super::combinators::{PResult, clause, expect, failure, kw, skip_ws};
use super::expr::expr;
use super::literal::ident;
use super::meta::from;
use super::select::source;
use crate::ast::Statement;

/// After the `DELETE` keyword.
pub(crate) fn delete(i: &str) -> PResult<'_, Statement> {
    let (i, from) = clause("from", "measurement", source)(i)?;
    let (i, condition) = clause("where", "condition", expr)(i)?;
    if from.is_none() && condition.is_none() {
        return failure(skip_ws(i), "FROM or WHERE after DELETE");
    }
    Ok((i, Statement::Delete { from, condition }))
}

/// After the `DROP` keyword.
pub(crate) fn drop(i: &str) -> PResult<'_, Statement> {
    let (i, series) = expect(
        "MEASUREMENT or SERIES after DROP",
        alt((value(false, kw("measurement")), value(true, kw("series")))),
    )(i)?;
    if !series {
        let (i, name) = expect("measurement", ident)(i)?;
        return Ok((i, Statement::DropMeasurement { name }));
    }
    let (i, from) = from(i)?;
    let (i, condition) = clause("where", "condition", expr)(i)?;
    if from.is_empty() && condition.is_none() {
        return failure(skip_ws(i), "FROM or WHERE after DROP SERIES");
    }
    Ok((i, Statement::DropSeries { from, condition }))
}
