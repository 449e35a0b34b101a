//! `SELECT … FROM … [WHERE …] [GROUP BY …] [FILL(…)] [ORDER BY time ASC|DESC]
//! [LIMIT n] [OFFSET n] [SLIMIT n] [SOFFSET n] [tz('…')]`.

use nom::Parser;
use nom::branch::alt;
use nom::combinator::value;

use super::combinators::{PResult, clause, expect, fail, kw, sym};
use super::expr::expr;
use super::literal::{Num, count, ident, number, regex_lit, string_lit};
use crate::ast::{Dimension, Duration, Field, Fill, MeasurementName, Order, Select, Source};

/// After the `SELECT` keyword.
pub(crate) fn select(i: &str) -> PResult<'_, Select> {
    let (i, fields) = list1("field expression", field)(i)?;
    let (i, _) = expect("FROM", kw("from"))(i)?;
    let (i, sources) = sources(i)?;
    let (i, condition) = clause("where", "condition", expr)(i)?;
    let (i, group_by) = match kw("group")(i) {
        Ok((i, _)) => {
            let (i, _) = expect("BY after GROUP", kw("by"))(i)?;
            list1("time(interval), tag, regex or *", dimension)(i)?
        }
        Err(_) => (i, Vec::new()),
    };
    let (i, fill) = clause("fill", "'(' after FILL", fill)(i)?;
    let (i, order) = match kw("order")(i) {
        Ok((i, _)) => {
            let (i, _) = expect("BY after ORDER", kw("by"))(i)?;
            let (i, _) = expect("time after ORDER BY", kw("time"))(i)?;
            let (i, dir) = alt((value(Order::Asc, kw("asc")), value(Order::Desc, kw("desc"))))
                .parse_complete(i)
                .map_or((i, Order::Asc), |r| r);
            (i, Some(dir))
        }
        Err(_) => (i, None),
    };
    let (i, limit) = clause("limit", "non-negative integer", count)(i)?;
    let (i, offset) = clause("offset", "non-negative integer", count)(i)?;
    let (i, slimit) = clause("slimit", "non-negative integer", count)(i)?;
    let (i, soffset) = clause("soffset", "non-negative integer", count)(i)?;
    let (i, tz) = clause("tz", "('Zone/Name') after tz", |i| {
        let (i, _) = sym("(", "'('")(i)?;
        let (i, zone) = expect("time zone string", string_lit)(i)?;
        let (i, _) = expect("')'", sym(")", "')'"))(i)?;
        Ok((i, zone))
    })(i)?;
    let select = Select {
        fields,
        sources,
        condition,
        group_by,
        fill,
        order,
        limit,
        offset,
        slimit,
        soffset,
        tz,
    };
    Ok((i, select))
}

/// One or more `p`, comma-separated, committed: each item must parse.
pub(crate) fn list1<'a, O>(
    label: &'static str,
    p: impl Fn(&'a str) -> PResult<'a, O>,
) -> impl Fn(&'a str) -> PResult<'a, Vec<O>> {
    move |mut i| {
        let mut out = Vec::new();
        loop {
            let (rest, item) = expect(label, &p)(i)?;
            out.push(item);
            match sym(",", "','")(rest) {
                Ok((rest, _)) => i = rest,
                Err(_) => return Ok((rest, out)),
            }
        }
    }
}

/// `measurement[, …]`, committed.
pub(crate) fn sources(i: &str) -> PResult<'_, Vec<Source>> {
    list1("measurement", source)(i)
}

fn field(i: &str) -> PResult<'_, Field> {
    let (i, expr) = expr(i)?;
    let (i, alias) = clause("as", "alias", ident)(i)?;
    Ok((i, Field { expr, alias }))
}

fn measurement_name(i: &str) -> PResult<'_, MeasurementName> {
    match regex_lit(i) {
        Ok((rest, re)) => Ok((rest, MeasurementName::Regex(re))),
        Err(nom::Err::Error(_)) => ident(i).map(|(rest, n)| (rest, MeasurementName::Name(n))),
        Err(e) => Err(e),
    }
}

/// `name`, `/re/`, `rp.name`, `db.rp.name` or `db..name`.
pub(crate) fn source(i: &str) -> PResult<'_, Source> {
    let (mut i, first) = measurement_name(i)?;
    let mut parts = vec![Some(first)];
    while parts.len() < 3 {
        let Some(rest) = i.strip_prefix('.') else {
            break;
        };
        if parts.len() == 1 && rest.starts_with('.') {
            parts.push(None);
            i = rest;
            continue;
        }
        let (rest, next) = expect("measurement", measurement_name)(rest)?;
        parts.push(Some(next));
        i = rest;
    }
    let name_of = |p: Option<MeasurementName>| match p {
        Some(MeasurementName::Name(n)) => Ok(Some(n)),
        None => Ok(None),
        Some(MeasurementName::Regex(_)) => Err(()),
    };
    let source = match parts.len() {
        1 => Source {
            database: None,
            retention_policy: None,
            name: parts
                .pop()
                .flatten()
                .unwrap_or(MeasurementName::Name(String::new())),
        },
        len => {
            let name = parts.pop().flatten();
            let Some(name) = name else {
                return fail(i, "measurement");
            };
            let rp = parts.pop().flatten();
            let db = if len == 3 {
                parts.pop().flatten()
            } else {
                None
            };
            let (Ok(rp), Ok(db)) = (name_of(rp), name_of(db)) else {
                return fail(i, "database or retention policy name, not a regex");
            };
            Source {
                database: db,
                retention_policy: rp,
                name,
            }
        }
    };
    Ok((i, source))
}

fn duration(i: &str) -> PResult<'_, Duration> {
    let (i, neg) = match sym("-", "'-'")(i) {
        Ok((rest, _)) => (rest, true),
        Err(_) => (i, false),
    };
    match number(i, neg)? {
        (rest, Num::Duration(d)) => Ok((rest, Duration(d))),
        _ => fail(i, "duration"),
    }
}

fn dimension(i: &str) -> PResult<'_, Dimension> {
    if let Ok((rest, _)) = (kw("time"), sym("(", "'('")).parse_complete(i) {
        let (rest, interval) = expect("duration", duration)(rest)?;
        let (rest, offset) = match sym(",", "','")(rest) {
            Ok((rest, _)) => {
                let (rest, d) = expect("offset duration", duration)(rest)?;
                (rest, Some(d))
            }
            Err(_) => (rest, None),
        };
        let (rest, _) = expect("')'", sym(")", "')'"))(rest)?;
        return Ok((rest, Dimension::Time { interval, offset }));
    }
    if let Ok((rest, _)) = sym("*", "'*'")(i) {
        return Ok((rest, Dimension::All));
    }
    if let Ok((rest, re)) = regex_lit(i) {
        return Ok((rest, Dimension::Regex(re)));
    }
    let (rest, tag) = ident(i)?;
    Ok((rest, Dimension::Tag(tag)))
}

fn fill(i: &str) -> PResult<'_, Fill> {
    let (i, _) = sym("(", "'('")(i)?;
    let (i, fill) = expect(
        "null, none, previous, linear or a number",
        alt((
            value(Fill::Null, kw("null")),
            value(Fill::None, kw("none")),
            value(Fill::Previous, kw("previous")),
            value(Fill::Linear, kw("linear")),
            fill_number,
        )),
    )(i)?;
    let (i, _) = expect("')'", sym(")", "')'"))(i)?;
    Ok((i, fill))
}

fn fill_number(i: &str) -> PResult<'_, Fill> {
    let (i, neg) = match sym("-", "'-'")(i) {
        Ok((rest, _)) => (rest, true),
        Err(_) => (i, false),
    };
    match number(i, neg)? {
        (rest, Num::Int(v)) => Ok((rest, Fill::Integer(v))),
        (rest, Num::Float(v)) => Ok((rest, Fill::Float(v))),
        _ => fail(i, "number"),
    }
}
