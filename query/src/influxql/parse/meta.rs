//! `SHOW …` and `CREATE DATABASE`.

use nom::Parser;
use nom::branch::alt;
use nom::combinator::value;

use super::combinators::{PResult, clause, expect, kw, sym};
use super::expr::expr;
use super::literal::{count, ident, regex_lit};
use super::select::{list1, sources};
use crate::ast::{MeasurementName, ShowFilter, Statement, TagKeyMatch};

/// After the `SHOW` keyword.
pub(crate) fn show(i: &str) -> PResult<'_, Statement> {
    #[derive(Clone, Copy)]
    enum What {
        Measurements,
        Tag,
        Field,
        Series,
        Databases,
        Retention,
        Stats,
    }
    let (i, what) = expect(
        "MEASUREMENTS, TAG, FIELD, SERIES, DATABASES, RETENTION or STATS after SHOW",
        alt((
            value(What::Measurements, kw("measurements")),
            value(What::Tag, kw("tag")),
            value(What::Field, kw("field")),
            value(What::Series, kw("series")),
            value(What::Databases, kw("databases")),
            value(What::Retention, kw("retention")),
            value(What::Stats, kw("stats")),
        )),
    )(i)?;
    match what {
        What::Measurements => {
            let (i, with) = clause("with", "MEASUREMENT after WITH", with_measurement)(i)?;
            let (i, filter) = filter(i, false)?;
            Ok((i, Statement::ShowMeasurements { with, filter }))
        }
        What::Tag => {
            let (i, values) = expect(
                "KEYS or VALUES after SHOW TAG",
                alt((value(false, kw("keys")), value(true, kw("values")))),
            )(i)?;
            if !values {
                let (i, filter) = filter(i, true)?;
                return Ok((i, Statement::ShowTagKeys(filter)));
            }
            let (i, from) = from(i)?;
            let (i, _) = expect("WITH KEY", (kw("with"), kw("key")))(i)?;
            let (i, key) = expect("= key, != key, IN (keys), =~ /re/ or !~ /re/", tag_key)(i)?;
            let (i, mut filter) = filter(i, false)?;
            filter.from = from;
            Ok((i, Statement::ShowTagValues { key, filter }))
        }
        What::Field => {
            let (i, _) = expect("KEYS after SHOW FIELD", kw("keys"))(i)?;
            let (i, from) = from(i)?;
            Ok((i, Statement::ShowFieldKeys { from }))
        }
        What::Series => {
            let (i, filter) = filter(i, true)?;
            Ok((i, Statement::ShowSeries(filter)))
        }
        What::Databases => Ok((i, Statement::ShowDatabases)),
        What::Retention => {
            let (i, _) = expect("POLICIES after SHOW RETENTION", kw("policies"))(i)?;
            let (i, database) = clause("on", "database", ident)(i)?;
            Ok((i, Statement::ShowRetentionPolicies { database }))
        }
        What::Stats => Ok((i, Statement::ShowStats)),
    }
}

/// After the `CREATE` keyword.
pub(crate) fn create(i: &str) -> PResult<'_, Statement> {
    let (i, _) = expect("DATABASE after CREATE", kw("database"))(i)?;
    let (i, name) = expect("database name", ident)(i)?;
    Ok((i, Statement::CreateDatabase { name }))
}

/// `[FROM sources]`.
pub(crate) fn from(i: &str) -> PResult<'_, Vec<crate::ast::Source>> {
    clause("from", "measurement", sources)(i).map(|(i, s)| (i, s.unwrap_or_default()))
}

/// `[FROM …] [WHERE …] [LIMIT n] [OFFSET n]`; `FROM` only when `with_from`.
fn filter(i: &str, with_from: bool) -> PResult<'_, ShowFilter> {
    let (i, from) = if with_from { from(i)? } else { (i, Vec::new()) };
    let (i, condition) = clause("where", "condition", expr)(i)?;
    let (i, limit) = clause("limit", "non-negative integer", count)(i)?;
    let (i, offset) = clause("offset", "non-negative integer", count)(i)?;
    let filter = ShowFilter {
        from,
        condition,
        limit,
        offset,
    };
    Ok((i, filter))
}

fn with_measurement(i: &str) -> PResult<'_, MeasurementName> {
    let (i, _) = kw("measurement")(i)?;
    if let Ok((i, _)) = sym("=~", "'=~'")(i) {
        let (i, re) = expect("regex", regex_lit)(i)?;
        return Ok((i, MeasurementName::Regex(re)));
    }
    let (i, _) = expect("= or =~", sym("=", "'='"))(i)?;
    let (i, name) = expect("measurement", ident)(i)?;
    Ok((i, MeasurementName::Name(name)))
}

fn tag_key(i: &str) -> PResult<'_, TagKeyMatch> {
    if let Ok((i, _)) = sym("=~", "'=~'")(i) {
        let (i, re) = expect("regex", regex_lit)(i)?;
        return Ok((i, TagKeyMatch::Regex(re)));
    }
    if let Ok((i, _)) = sym("!~", "'!~'")(i) {
        let (i, re) = expect("regex", regex_lit)(i)?;
        return Ok((i, TagKeyMatch::NotRegex(re)));
    }
    if let Ok((i, _)) = alt((sym("!=", "'!='"), sym("<>", "'<>'"))).parse_complete(i) {
        let (i, k) = expect("tag key", ident)(i)?;
        return Ok((i, TagKeyMatch::NotEq(k)));
    }
    if let Ok((i, _)) = kw("in")(i) {
        let (i, _) = expect("'('", sym("(", "'('"))(i)?;
        let (i, keys) = list1("tag key", ident)(i)?;
        let (i, _) = expect("',' or ')'", sym(")", "')'"))(i)?;
        return Ok((i, TagKeyMatch::In(keys)));
    }
    let (i, _) = sym("=", "'='")(i)?;
    let (i, k) = expect("tag key", ident)(i)?;
    Ok((i, TagKeyMatch::Eq(k)))
}
