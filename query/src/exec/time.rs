//! Time in conditions: literals (RFC 3339 strings, integer nanoseconds, durations,
//! `now()` arithmetic) and the time range pulled out of a `WHERE` clause.
//!
//! Invariant: [`split_time`] returns a residual condition without any reference to
//! `time`; a `time` comparison the range cannot express (under `OR`, `!=`) is an error,
//! never silently dropped.

use crate::ast::{BinaryOp, Expr};
use crate::error::{QueryError, Token};
use strata_engine::model::TimeRange;

/// The earliest time a query may name: the earliest a point may have, as in InfluxDB.
pub(crate) const MIN_TIME: i64 = strata_engine::model::MIN_TIMESTAMP;
/// The (exclusive) end of every query range: one past the latest time a point may have
/// ([`strata_engine::model::MAX_TIMESTAMP`]), so that `time <= MAX_TIMESTAMP`, the default
/// upper bound and what the write paths accept all agree.
pub(crate) const END_TIME: i64 = strata_engine::model::MAX_TIMESTAMP + 1;

/// A time range with knowledge of which ends the query gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// First nanosecond included.
    pub start: i64,
    /// First nanosecond excluded.
    pub end: i64,
    /// Whether `WHERE` set a lower bound.
    pub has_start: bool,
    /// Whether `WHERE` set an upper bound.
    pub has_end: bool,
}

impl Bounds {
    pub fn all() -> Bounds {
        Bounds {
            start: MIN_TIME,
            end: END_TIME,
            has_start: false,
            has_end: false,
        }
    }

    pub fn range(&self) -> TimeRange {
        TimeRange::new(self.start, self.end)
    }

    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

/// Parses a time string as InfluxDB does: RFC 3339 (`2016-01-01T00:00:00Z`, with any
/// fraction and offset), `2016-01-01 00:00:00[.f]` (UTC) or a bare date.
pub(crate) fn parse_time_string(s: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let dt = if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        d.to_utc()
    } else if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        d.and_utc()
    } else if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        d.and_utc()
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)?.and_utc()
    } else {
        return None;
    };
    dt.timestamp_nanos_opt()
}

/// The nanosecond value of a time expression: a string, an integer (nanoseconds), a
/// duration literal, `now()`, or sums and differences of those.
pub(crate) fn eval_time(e: &Expr, now: i64) -> Result<i64, QueryError> {
    match e {
        Expr::String(s) => parse_time_string(s).ok_or_else(|| {
            QueryError::invalid_at(
                Token::String(s.clone()),
                format!("invalid time {s:?}: expected RFC 3339 such as '2016-01-01T00:00:00Z'"),
            )
        }),
        Expr::Integer(i) => Ok(*i),
        Expr::Float(f) if f.is_finite() => Ok(*f as i64),
        Expr::Duration(d) => Ok(d.0),
        Expr::Call { name, args } if name.eq_ignore_ascii_case("now") && args.is_empty() => Ok(now),
        Expr::Binary { op, lhs, rhs } if matches!(op, BinaryOp::Add | BinaryOp::Sub) => {
            let (a, b) = (eval_time(lhs, now)?, eval_time(rhs, now)?);
            Ok(if *op == BinaryOp::Add {
                a.saturating_add(b)
            } else {
                a.saturating_sub(b)
            })
        }
        other => Err(QueryError::invalid_at(
            Token::Word("time".into()),
            format!(
                "invalid time expression {other}: expected a time string, an integer, a duration or now()"
            ),
        )),
    }
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::Var { name, .. } if name.eq_ignore_ascii_case("time"))
}

/// Whether `e` mentions `time` anywhere.
pub(crate) fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Var { .. } => is_time(e),
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        Expr::Call { args, .. } => args.iter().any(mentions_time),
        _ => false,
    }
}

/// Splits `cond` into the time range its top-level `AND`ed time comparisons give and the
/// rest of the condition.
pub(crate) fn split_time(
    cond: Option<&Expr>,
    now: i64,
) -> Result<(Bounds, Option<Expr>), QueryError> {
    let mut b = Bounds::all();
    let Some(cond) = cond else {
        return Ok((b, None));
    };
    let mut conjuncts = Vec::new();
    flatten_and(cond, &mut conjuncts);
    let mut rest: Vec<Expr> = Vec::new();
    for c in conjuncts {
        if !mentions_time(c) {
            rest.push(c.clone());
            continue;
        }
        let Expr::Binary { op, lhs, rhs } = c else {
            return Err(bad_time(c));
        };
        // Put `time` on the left.
        let (op, value) = if is_time(lhs) {
            (*op, &**rhs)
        } else if is_time(rhs) {
            let flipped = match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::LtEq => BinaryOp::GtEq,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::GtEq => BinaryOp::LtEq,
                o => *o,
            };
            (flipped, &**lhs)
        } else {
            return Err(bad_time(c));
        };
        let t = eval_time(value, now)?;
        match op {
            BinaryOp::Gt => {
                b.start = b.start.max(t.saturating_add(1));
                b.has_start = true;
            }
            BinaryOp::GtEq => {
                b.start = b.start.max(t);
                b.has_start = true;
            }
            BinaryOp::Lt => {
                b.end = b.end.min(t);
                b.has_end = true;
            }
            BinaryOp::LtEq => {
                b.end = b.end.min(t.saturating_add(1));
                b.has_end = true;
            }
            BinaryOp::Eq => {
                b.start = b.start.max(t);
                b.end = b.end.min(t.saturating_add(1));
                b.has_start = true;
                b.has_end = true;
            }
            _ => return Err(bad_time(c)),
        }
    }
    b.start = b.start.max(MIN_TIME);
    // `b.end` never passes END_TIME (`i64::MAX`): every bound saturates at it.
    let rest = rest.into_iter().reduce(|a, c| Expr::Binary {
        op: BinaryOp::And,
        lhs: Box::new(a),
        rhs: Box::new(c),
    });
    Ok((b, rest))
}

fn bad_time(c: &Expr) -> QueryError {
    QueryError::invalid_at(
        Token::Word("time".into()),
        format!(
            "invalid time condition {c}: time may only be compared with <, <=, >, >= or = in conditions joined by AND"
        ),
    )
}

fn flatten_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
        } => {
            flatten_and(lhs, out);
            flatten_and(rhs, out);
        }
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Statement;

    fn cond(q: &str) -> Expr {
        match crate::parse(&format!("SELECT a FROM m WHERE {q}"))
            .unwrap()
            .remove(0)
        {
            Statement::Select(s) => s.condition.unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn strings_dates_and_arithmetic() {
        assert_eq!(
            parse_time_string("2016-01-01T00:00:00Z"),
            Some(1_451_606_400_000_000_000)
        );
        assert_eq!(
            parse_time_string("2016-01-01T01:00:00+01:00"),
            Some(1_451_606_400_000_000_000)
        );
        assert_eq!(
            parse_time_string("2016-01-01 00:00:00.5"),
            Some(1_451_606_400_500_000_000)
        );
        assert_eq!(
            parse_time_string("2016-01-01"),
            Some(1_451_606_400_000_000_000)
        );
        assert_eq!(parse_time_string("yesterday"), None);
        let (b, rest) = split_time(
            Some(&cond("time > now() - 1h and host = 'a'")),
            10_000_000_000_000,
        )
        .unwrap();
        assert_eq!(b.start, 10_000_000_000_000 - 3_600_000_000_000 + 1);
        assert!(!b.has_end && b.end == END_TIME);
        assert_eq!(rest.unwrap().to_string(), "host = 'a'");
    }

    #[test]
    fn bounds_from_each_operator() {
        let (b, _) = split_time(
            Some(&cond(
                "time >= '2016-01-01T00:00:00Z' and time <= 1451606400000000010",
            )),
            0,
        )
        .unwrap();
        assert_eq!(
            (b.start, b.end),
            (1_451_606_400_000_000_000, 1_451_606_400_000_000_011)
        );
        let (b, _) = split_time(Some(&cond("'2016-01-01T00:00:00Z' < time")), 0).unwrap();
        assert_eq!(b.start, 1_451_606_400_000_000_001);
        let (b, _) = split_time(Some(&cond("time = 1451606400s")), 0).unwrap();
        assert_eq!(
            (b.start, b.end),
            (1_451_606_400_000_000_000, 1_451_606_400_000_000_001)
        );
    }

    #[test]
    fn time_under_or_is_refused() {
        let e = split_time(Some(&cond("time > 0 or host = 'a'")), 0).unwrap_err();
        assert!(e.to_string().contains("invalid time condition"), "{e}");
        assert!(split_time(Some(&cond("time != 0")), 0).is_err());
        assert!(split_time(Some(&cond("time > 'nonsense'")), 0).is_err());
    }
}
