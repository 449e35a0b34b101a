//! `DELETE [FROM m] [WHERE …]`, `DROP SERIES [FROM …] [WHERE …]` and `DROP MEASUREMENT`,
//! lowered to the engine's column predicate as InfluxDB 1.6 accepts them: tag conditions
//! with `=`, `!=`, `=~ /re/`, `!~ /re/` (unanchored, as every InfluxQL regex), joined by
//! `AND` and `OR` with parentheses; for `DELETE`, a time range at the top level.

use super::Ctx;
use super::time::split_time;
use crate::ast::{BinaryOp, Expr, MeasurementName, Source};
use crate::error::QueryError;
use crate::result::Series;
use std::collections::HashSet;
use strata_engine::model::TimeRange;
use strata_engine::model::predicate::{MatchOp, Matcher, Predicate, PredicateError, Subject};

/// InfluxDB's message for a field in a delete's condition.
const FIELDS_NOT_SUPPORTED: &str = "fields not supported in WHERE clause during deletion";

/// `DELETE`: the values of the matching series within the time range.
pub(crate) fn delete(
    ctx: &Ctx<'_>,
    from: Option<&Source>,
    cond: Option<&Expr>,
) -> Result<Vec<Series>, QueryError> {
    let (bounds, rest) = split_time(cond, ctx.now)?;
    let predicate = lower(
        ctx,
        from.map(std::slice::from_ref).unwrap_or_default(),
        rest.as_ref(),
    )?;
    ctx.db
        .delete_where(predicate, TimeRange::new(bounds.start, bounds.end))?;
    Ok(Vec::new())
}

/// `DROP SERIES`: every value of the matching series, which leave the listings.
pub(crate) fn drop_series(
    ctx: &Ctx<'_>,
    from: &[Source],
    cond: Option<&Expr>,
) -> Result<Vec<Series>, QueryError> {
    if cond.is_some_and(mentions_time) {
        return Err(QueryError::Invalid(
            "DROP SERIES doesn't support time in WHERE clause".into(),
        ));
    }
    let predicate = lower(ctx, from, cond)?;
    ctx.db.drop_series(predicate)?;
    Ok(Vec::new())
}

/// `DROP MEASUREMENT name`.
pub(crate) fn drop_measurement(ctx: &Ctx<'_>, name: &str) -> Result<Vec<Series>, QueryError> {
    ctx.db.drop_measurement(name)?;
    Ok(Vec::new())
}

fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Var { name, .. } => name.eq_ignore_ascii_case("time"),
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        _ => false,
    }
}

fn bad_regex(e: PredicateError) -> QueryError {
    QueryError::Invalid(e.to_string())
}

/// The predicate of `FROM` (any of the sources; every measurement when empty) and `cond`.
fn lower(ctx: &Ctx<'_>, from: &[Source], cond: Option<&Expr>) -> Result<Predicate, QueryError> {
    let mut parts = Vec::new();
    if !from.is_empty() {
        let mut any = Vec::new();
        for s in from {
            any.push(match &s.name {
                MeasurementName::Name(n) => Predicate::measurement(n),
                MeasurementName::Regex(p) => Predicate::Match(
                    Matcher::new(Subject::Measurement, MatchOp::Regex, p).map_err(bad_regex)?,
                ),
            });
        }
        parts.push(if any.len() == 1 {
            any.remove(0)
        } else {
            Predicate::Or(any)
        });
    }
    if let Some(c) = cond {
        let fields = field_names(ctx, from);
        parts.push(condition(c, &fields)?);
    }
    Ok(match parts.len() {
        0 => Predicate::True,
        1 => parts.remove(0),
        _ => Predicate::And(parts),
    })
}

/// Field names (not also tag keys) of the measurements `from` can name.
fn field_names(ctx: &Ctx<'_>, from: &[Source]) -> HashSet<String> {
    let mut out = HashSet::new();
    for m in ctx.db.measurements() {
        let named = from.is_empty()
            || from.iter().any(|s| match &s.name {
                MeasurementName::Name(n) => *n == m,
                MeasurementName::Regex(_) => true,
            });
        if named {
            let tags: HashSet<String> = ctx.db.tag_keys(&m).into_iter().collect();
            out.extend(
                ctx.db
                    .fields(&m)
                    .into_iter()
                    .map(|(f, _)| f)
                    .filter(|f| !tags.contains(f)),
            );
        }
    }
    out
}

/// InfluxDB's `ConditionExpr`: every term joined by `AND` / `OR` is a comparison (or a
/// boolean), checked over the whole condition before any term is lowered.
fn check_terms(e: &Expr) -> Result<(), QueryError> {
    match e {
        Expr::Binary {
            op: BinaryOp::And | BinaryOp::Or,
            lhs,
            rhs,
        } => {
            check_terms(lhs)?;
            check_terms(rhs)
        }
        Expr::Binary { .. } | Expr::Bool(_) => Ok(()),
        _ => Err(QueryError::Invalid(format!(
            "invalid condition expression: {e}"
        ))),
    }
}

fn condition(e: &Expr, fields: &HashSet<String>) -> Result<Predicate, QueryError> {
    check_terms(e)?;
    term(e, fields)
}

fn term(e: &Expr, fields: &HashSet<String>) -> Result<Predicate, QueryError> {
    let unsupported = || {
        QueryError::Invalid(format!(
            "{e}: a delete's condition compares tags with =, !=, =~ or !~ (joined by AND, OR), and time"
        ))
    };
    let Expr::Binary { op, lhs, rhs } = e else {
        return Err(unsupported());
    };
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let parts = vec![term(lhs, fields)?, term(rhs, fields)?];
            return Ok(if *op == BinaryOp::And {
                Predicate::And(parts)
            } else {
                Predicate::Or(parts)
            });
        }
        _ => {}
    }
    if mentions_time(e) {
        return Err(QueryError::Invalid(format!(
            "{e}: time ranges in a delete must be joined to the rest by AND at the top level"
        )));
    }
    let (name, value) = match (&**lhs, &**rhs) {
        // A tag compared with another tag: InfluxDB matches series whose two values are
        // equal; the engine's predicate compares a column with a constant only.
        (Expr::Var { .. }, Expr::Var { .. }) => return Err(unsupported()),
        (Expr::Var { name, .. }, v) => (name, v),
        (v, Expr::Var { name, .. }) if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) => (name, v),
        // Anything else compares values, not tags: InfluxDB leaves it for the fields.
        _ => return Err(QueryError::Invalid(FIELDS_NOT_SUPPORTED.into())),
    };
    if fields.contains(name) {
        return Err(QueryError::Invalid(FIELDS_NOT_SUPPORTED.into()));
    }
    let (op, text) = match (op, value) {
        (BinaryOp::Eq, Expr::String(s)) => (MatchOp::Equal, s),
        (BinaryOp::NotEq, Expr::String(s)) => (MatchOp::NotEqual, s),
        (BinaryOp::RegexMatch, Expr::Regex(p)) => (MatchOp::Regex, p),
        (BinaryOp::RegexNotMatch, Expr::Regex(p)) => (MatchOp::NotRegex, p),
        // A tag's value is a string: compared with a number, a boolean or by order, InfluxDB
        // takes the name for a field's.
        (
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq,
            _,
        ) => {
            return Err(QueryError::Invalid(FIELDS_NOT_SUPPORTED.into()));
        }
        _ => return Err(unsupported()),
    };
    Matcher::new(Subject::Tag(name.clone()), op, text)
        .map(Predicate::Match)
        .map_err(bad_regex)
}
