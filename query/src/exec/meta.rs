//! Meta statements: `SHOW …`, `CREATE DATABASE`, `DELETE`, `DROP …`, answered in
//! InfluxDB 1.x's shapes so that Telegraf, Grafana and the Influx clients work.
//!
//! One data directory is one database: `CREATE DATABASE` succeeds without effect and
//! `SHOW DATABASES` lists the database the request named (or `strata`).

use super::Ctx;
use super::cond::{Names, Regexes, matches_tags};
use super::select::ty_name;
use crate::ast::{Expr, MeasurementName, ShowFilter, Source, Statement, TagKeyMatch};
use crate::error::QueryError;
use crate::result::{Series, Value};
use std::collections::HashSet;

/// The database name listed by `SHOW DATABASES` when the request names none.
pub const DEFAULT_DATABASE: &str = "strata";

pub(crate) fn run(ctx: &Ctx<'_>, st: &Statement) -> Result<Vec<Series>, QueryError> {
    match st {
        Statement::ShowMeasurements { with, filter } => {
            let mut regexes = Regexes::default();
            if let Some(MeasurementName::Regex(p)) = with {
                regexes.add(p)?;
            }
            let mut names = Vec::new();
            for m in ctx.db.measurements() {
                ctx.check_deadline()?;
                let ok = match with {
                    None => true,
                    Some(MeasurementName::Name(n)) => *n == m,
                    Some(MeasurementName::Regex(p)) => {
                        regexes.get(p).is_some_and(|r| r.is_match(&m))
                    }
                };
                if ok && any_series_matches(ctx, &m, filter.condition.as_ref())? {
                    names.push(vec![Value::String(m)]);
                }
            }
            Ok(one("measurements", None, &["name"], page(names, filter)))
        }
        Statement::ShowTagKeys(filter) => {
            let mut out = Vec::new();
            for m in measurements(ctx, &filter.from)? {
                ctx.check_deadline()?;
                let keys: Vec<Vec<Value>> = ctx
                    .db
                    .tag_keys(&m)
                    .into_iter()
                    .map(|k| vec![Value::String(k)])
                    .collect();
                out.extend(one(&m, None, &["tagKey"], page(keys, filter)));
            }
            Ok(out)
        }
        Statement::ShowTagValues { key, filter } => {
            let mut regexes = Regexes::default();
            if let TagKeyMatch::Regex(p) | TagKeyMatch::NotRegex(p) = key {
                regexes.add(p)?;
            }
            if let Some(c) = &filter.condition {
                regexes.collect(c)?;
            }
            let mut out = Vec::new();
            for m in measurements(ctx, &filter.from)? {
                ctx.check_deadline()?;
                let keys: Vec<String> = ctx
                    .db
                    .tag_keys(&m)
                    .into_iter()
                    .filter(|k| match key {
                        TagKeyMatch::Eq(x) => k == x,
                        TagKeyMatch::NotEq(x) => k != x,
                        TagKeyMatch::In(xs) => xs.contains(k),
                        TagKeyMatch::Regex(p) => regexes.get(p).is_some_and(|r| r.is_match(k)),
                        TagKeyMatch::NotRegex(p) => regexes.get(p).is_some_and(|r| !r.is_match(k)),
                    })
                    .collect();
                let tag_keys: HashSet<String> = ctx.db.tag_keys(&m).into_iter().collect();
                let names = Names {
                    tag_keys: &tag_keys,
                    virtual_key: None,
                };
                let mut pairs: Vec<(String, String)> = Vec::new();
                for (i, s) in ctx.db.series(&m).into_iter().enumerate() {
                    if i % 1024 == 0 {
                        ctx.check_deadline()?;
                    }
                    if let Some(c) = &filter.condition
                        && !matches_tags(c, &names, &s, &regexes)?
                    {
                        continue;
                    }
                    for k in &keys {
                        if let Some(v) = s.tag(k) {
                            pairs.push((k.clone(), v.to_owned()));
                        }
                    }
                }
                pairs.sort();
                pairs.dedup();
                let rows = pairs
                    .into_iter()
                    .map(|(k, v)| vec![Value::String(k), Value::String(v)])
                    .collect();
                out.extend(one(&m, None, &["key", "value"], page(rows, filter)));
            }
            Ok(out)
        }
        Statement::ShowFieldKeys { from } => {
            let mut out = Vec::new();
            for m in measurements(ctx, from)? {
                ctx.check_deadline()?;
                let rows = ctx
                    .db
                    .fields(&m)
                    .into_iter()
                    .map(|(f, t)| vec![Value::String(f), Value::String(ty_name(t).into())])
                    .collect();
                out.extend(one(&m, None, &["fieldKey", "fieldType"], rows));
            }
            Ok(out)
        }
        Statement::ShowSeries(filter) => {
            let mut regexes = Regexes::default();
            if let Some(c) = &filter.condition {
                regexes.collect(c)?;
            }
            let mut keys = Vec::new();
            for m in measurements(ctx, &filter.from)? {
                ctx.check_deadline()?;
                let tag_keys: HashSet<String> = ctx.db.tag_keys(&m).into_iter().collect();
                let names = Names {
                    tag_keys: &tag_keys,
                    virtual_key: None,
                };
                for (i, s) in ctx.db.series(&m).into_iter().enumerate() {
                    if i % 1024 == 0 {
                        ctx.check_deadline()?;
                    }
                    if let Some(c) = &filter.condition
                        && !matches_tags(c, &names, &s, &regexes)?
                    {
                        continue;
                    }
                    let mut k = escape_key(s.measurement(), &[' ', ',']);
                    for (tk, tv) in s.tags() {
                        k.push(',');
                        k.push_str(&escape_key(tk, &[' ', ',', '=']));
                        k.push('=');
                        k.push_str(&escape_key(tv, &[' ', ',', '=']));
                    }
                    keys.push(k);
                }
            }
            keys.sort();
            let rows = keys.into_iter().map(|k| vec![Value::String(k)]).collect();
            Ok(one("", None, &["key"], page(rows, filter)))
        }
        Statement::ShowDatabases => {
            let mut names = vec![DEFAULT_DATABASE.to_owned()];
            if let Some(d) = ctx
                .database
                .filter(|d| !d.is_empty() && *d != DEFAULT_DATABASE)
            {
                names.push(d.to_owned());
            }
            names.sort();
            let rows = names.into_iter().map(|n| vec![Value::String(n)]).collect();
            Ok(one("databases", None, &["name"], rows))
        }
        Statement::ShowRetentionPolicies { .. } => {
            let duration = match ctx.db.options().retention {
                None => "0s".to_owned(),
                Some(d) => go_duration(d.as_nanos() as i64),
            };
            Ok(one(
                "",
                None,
                &[
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ],
                vec![vec![
                    Value::String("autogen".into()),
                    Value::String(duration),
                    Value::String("168h0m0s".into()),
                    Value::Integer(1),
                    Value::Boolean(true),
                ]],
            ))
        }
        Statement::ShowStats => {
            let t = ctx.db.tier_stats();
            let row = |name: &str, s: &strata_engine::TierStats| {
                vec![
                    Value::String(name.into()),
                    Value::Integer(s.files as i64),
                    Value::Integer(s.series as i64),
                    Value::Integer(s.points as i64),
                    Value::Integer(s.bytes as i64),
                    s.time_range.map_or(Value::Null, |r| Value::Time(r.0)),
                    s.time_range.map_or(Value::Null, |r| Value::Time(r.1)),
                ]
            };
            Ok(one(
                "tiers",
                None,
                &[
                    "tier", "files", "series", "points", "bytes", "min_time", "max_time",
                ],
                vec![
                    row("hot", &t.hot),
                    row("warm", &t.warm),
                    row("cold", &t.cold),
                ],
            ))
        }
        Statement::CreateDatabase { .. } => Ok(Vec::new()),
        Statement::DropMeasurement { name } => super::delete::drop_measurement(ctx, name),
        Statement::DropSeries { from, condition } => {
            super::delete::drop_series(ctx, from, condition.as_ref())
        }
        Statement::Delete { from, condition } => {
            super::delete::delete(ctx, from.as_ref(), condition.as_ref())
        }
        Statement::Select(_) | Statement::Explain(_) => {
            Err(QueryError::Invalid("SELECT is not a meta statement".into()))
        }
    }
}

/// Measurements named by `from` (all when empty), existing ones only, sorted.
fn measurements(ctx: &Ctx<'_>, from: &[Source]) -> Result<Vec<String>, QueryError> {
    let all = ctx.db.measurements();
    if from.is_empty() {
        return Ok(all);
    }
    let mut regexes = Regexes::default();
    let mut out = Vec::new();
    for s in from {
        match &s.name {
            MeasurementName::Name(n) => {
                if all.contains(n) {
                    out.push(n.clone());
                }
            }
            MeasurementName::Regex(p) => {
                regexes.add(p)?;
                if let Some(re) = regexes.get(p) {
                    out.extend(all.iter().filter(|m| re.is_match(m)).cloned());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn any_series_matches(ctx: &Ctx<'_>, m: &str, cond: Option<&Expr>) -> Result<bool, QueryError> {
    let Some(c) = cond else {
        return Ok(true);
    };
    let mut regexes = Regexes::default();
    regexes.collect(c)?;
    let tag_keys: HashSet<String> = ctx.db.tag_keys(m).into_iter().collect();
    let names = Names {
        tag_keys: &tag_keys,
        virtual_key: None,
    };
    for s in ctx.db.series(m) {
        if matches_tags(c, &names, &s, &regexes)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn page(rows: Vec<Vec<Value>>, f: &ShowFilter) -> Vec<Vec<Value>> {
    rows.into_iter()
        .skip(super::count(f.offset.unwrap_or(0)))
        .take(f.limit.map_or(usize::MAX, super::count))
        .collect()
}

fn one(name: &str, tags: Option<()>, columns: &[&str], rows: Vec<Vec<Value>>) -> Vec<Series> {
    let _ = tags;
    if rows.is_empty() {
        return Vec::new();
    }
    vec![Series {
        name: name.to_owned(),
        tags: None,
        columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        values: rows,
    }]
}

fn escape_key(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A duration as Go prints it: `720h0m0s`.
fn go_duration(ns: i64) -> String {
    let secs = ns / 1_000_000_000;
    format!("{}h{}m{}s", secs / 3600, secs % 3600 / 60, secs % 60)
}
