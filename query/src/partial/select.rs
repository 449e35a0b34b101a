//! A node's partial answer to an InfluxQL request, and the front-end's merge of several.
//!
//! A cluster front-end sends the request's text and its `now` to every member; each
//! member runs [`node_answer`] and returns, per statement, either the per-group,
//! per-bucket [`State`]s of an aggregate `SELECT` (sized by groups × buckets, not by
//! points) or, for raw `SELECT` and `SHOW` statements, its finished series. The front-end
//! decodes them ([`decode_answer`]) and runs [`merge_answers`]: states of equal groups
//! merge with [`State::merge`] (the executor's own merge), then the executor's own
//! finishing stages (fill, selectors, transformations, projections, limits) run over the
//! merged groups, so a cluster answer is the answer of one node holding every member's
//! data. Each member adds a tag (`node=<name>` by default) to its series at query time.
//!
//! Wire form ([`encode_answer`]): a version byte, then either `0` and the parse error, or
//! `1`, the statement count and each statement (tag `0` states, `1` series, `2` error).

use super::codec::{DecodeError, Reader, Writer, get_state, put_state};
use super::state::{AggKind, State};
use crate::exec::{Ctx, select::cluster};
use crate::influxql::ast::Statement;
use crate::result::{QueryResponse, Series, StatementResult, Value};
use crate::{QueryError, QueryOptions};
use std::collections::BTreeMap;
use strata_engine::Db;
use strata_engine::model::FieldType;

/// Version of the wire form; a member answering another is refused, not misread.
pub const WIRE_VERSION: u8 = 1;

/// One measurement's groups on one node.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementPartial {
    /// Measurement.
    pub name: String,
    /// Its tag keys on the node (the node tag included).
    pub tag_keys: Vec<String>,
    /// Its fields and their types on the node.
    pub fields: Vec<(String, FieldType)>,
    /// The node's aggregate slots: function and field.
    pub slots: Vec<(AggKind, String)>,
    /// First bucket's start (ns), bucket width (0: one bucket), bucket count.
    pub start: i64,
    /// Bucket width, 0 without `GROUP BY time()`.
    pub interval: i64,
    /// Buckets.
    pub n: usize,
    /// Groups with data.
    pub groups: Vec<GroupPartial>,
}

/// One group's states.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPartial {
    /// The group's tag values, by key.
    pub tags: Vec<(String, String)>,
    /// `states[slot * n + bucket]`.
    pub states: Vec<State>,
}

/// A node's answer to one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeStatement {
    /// An aggregate `SELECT`: per measurement, its groups' states.
    States(Vec<MeasurementPartial>),
    /// A raw `SELECT` (rows up to `LIMIT + OFFSET` per series) or a `SHOW` (every row).
    Series(Vec<Series>),
    /// The statement failed on the node.
    Error(String),
}

/// A node's answer to a request: per statement, or the text's parse error.
pub type NodeAnswer = Result<Vec<NodeStatement>, String>;

/// Runs `text` on this node for a cluster front-end, with `node_tag` (key, value) added to
/// every series, and encodes the answer.
pub fn node_answer(
    db: &Db,
    text: &str,
    options: &QueryOptions,
    node_tag: (String, String),
) -> Vec<u8> {
    let answer = match crate::influxql::parse::parse_spanned(text) {
        Err(e) => Err(QueryError::Parse(e).to_string()),
        Ok(statements) => Ok(statements
            .iter()
            .map(|(st, _)| {
                let ctx = Ctx::new(db, options, Some(node_tag.clone()));
                match cluster::node_statement(&ctx, st) {
                    Ok(s) => s,
                    Err(e) => NodeStatement::Error(e.to_string()),
                }
            })
            .collect()),
    };
    encode_answer(&answer)
}

/// Whether a statement may run with `cluster=true`: `SELECT` and `SHOW` statements;
/// deletes and drops go to each node on its own.
pub fn cluster_can_run(st: &Statement) -> bool {
    !matches!(
        st,
        Statement::Delete { .. }
            | Statement::DropMeasurement { .. }
            | Statement::DropSeries { .. }
            | Statement::CreateDatabase { .. }
    )
}

/// Merges the answers of the members that answered into one response, as one node
/// holding all their data would give it. `db` is the front-end's own database (only its
/// clock and settings are used).
pub fn merge_answers(
    db: &Db,
    text: &str,
    answers: Vec<NodeAnswer>,
    options: &QueryOptions,
) -> QueryResponse {
    let statements = match crate::influxql::parse::parse_spanned(text) {
        Ok(s) => s,
        Err(e) => return QueryResponse::failed(QueryError::Parse(e).to_string()),
    };
    let mut per_statement: Vec<Vec<NodeStatement>> = vec![Vec::new(); statements.len()];
    for a in answers {
        match a {
            Err(e) => return QueryResponse::failed(e),
            Ok(sts) => {
                for (i, s) in sts.into_iter().enumerate().take(statements.len()) {
                    per_statement[i].push(s);
                }
            }
        }
    }
    let results = statements
        .iter()
        .zip(per_statement)
        .enumerate()
        .map(|(i, ((st, span), parts))| {
            let ctx = Ctx::new(db, options, None);
            let merged = cluster::merge_statement(&ctx, st, parts).map_err(|e| {
                e.locate(text, span.start, text.get(span.clone()).unwrap_or(""))
                    .to_string()
            });
            StatementResult::of(i, merged)
        })
        .collect();
    QueryResponse {
        results,
        error: None,
    }
}

fn put_kind(w: &mut Writer, k: AggKind) {
    let (tag, param): (u8, Option<f64>) = match k {
        AggKind::Count => (0, None),
        AggKind::Sum => (1, None),
        AggKind::Mean => (2, None),
        AggKind::Median => (3, None),
        AggKind::Mode => (4, None),
        AggKind::Spread => (5, None),
        AggKind::Stddev => (6, None),
        AggKind::Min => (7, None),
        AggKind::Max => (8, None),
        AggKind::First => (9, None),
        AggKind::Last => (10, None),
        AggKind::Percentile(p) => (11, Some(p)),
        AggKind::Integral(u) => {
            w.u8(12);
            w.i64(u);
            return;
        }
        AggKind::Top(n) => {
            w.u8(13);
            w.u64(n as u64);
            return;
        }
        AggKind::Bottom(n) => {
            w.u8(14);
            w.u64(n as u64);
            return;
        }
        AggKind::Rate(u) => {
            w.u8(15);
            w.i64(u);
            return;
        }
        AggKind::Increase => (16, None),
        AggKind::HistogramQuantile(q) => (17, Some(q)),
    };
    w.u8(tag);
    if let Some(p) = param {
        w.f64(p);
    }
}

fn get_kind(r: &mut Reader<'_>) -> Result<AggKind, DecodeError> {
    Ok(match r.u8()? {
        0 => AggKind::Count,
        1 => AggKind::Sum,
        2 => AggKind::Mean,
        3 => AggKind::Median,
        4 => AggKind::Mode,
        5 => AggKind::Spread,
        6 => AggKind::Stddev,
        7 => AggKind::Min,
        8 => AggKind::Max,
        9 => AggKind::First,
        10 => AggKind::Last,
        11 => AggKind::Percentile(r.f64()?),
        12 => AggKind::Integral(r.i64()?),
        13 => AggKind::Top(usize::try_from(r.u64()?).map_err(|_| r.err("a count"))?),
        14 => AggKind::Bottom(usize::try_from(r.u64()?).map_err(|_| r.err("a count"))?),
        15 => AggKind::Rate(r.i64()?),
        16 => AggKind::Increase,
        17 => AggKind::HistogramQuantile(r.f64()?),
        _ => return Err(r.err("a function (0 to 17)")),
    })
}

fn put_type(w: &mut Writer, t: FieldType) {
    w.u8(match t {
        FieldType::Float => 0,
        FieldType::Integer => 1,
        FieldType::Unsigned => 2,
        FieldType::Boolean => 3,
        FieldType::String => 4,
    });
}

fn get_type(r: &mut Reader<'_>) -> Result<FieldType, DecodeError> {
    Ok(match r.u8()? {
        0 => FieldType::Float,
        1 => FieldType::Integer,
        2 => FieldType::Unsigned,
        3 => FieldType::Boolean,
        4 => FieldType::String,
        _ => return Err(r.err("a field type (0 to 4)")),
    })
}

fn put_value(w: &mut Writer, v: &Value) {
    match v {
        Value::Null => w.u8(0),
        Value::Time(t) => {
            w.u8(1);
            w.i64(*t);
        }
        Value::Float(f) => {
            w.u8(2);
            w.f64(*f);
        }
        Value::Integer(i) => {
            w.u8(3);
            w.i64(*i);
        }
        Value::Unsigned(u) => {
            w.u8(4);
            w.u64(*u);
        }
        Value::String(s) => {
            w.u8(5);
            w.str(s);
        }
        Value::Boolean(b) => {
            w.u8(6);
            w.u8(u8::from(*b));
        }
    }
}

fn get_value(r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    Ok(match r.u8()? {
        0 => Value::Null,
        1 => Value::Time(r.i64()?),
        2 => Value::Float(r.f64()?),
        3 => Value::Integer(r.i64()?),
        4 => Value::Unsigned(r.u64()?),
        5 => Value::String(r.str()?),
        6 => Value::Boolean(r.u8()? != 0),
        _ => return Err(r.err("a value type (0 to 6)")),
    })
}

/// Appends a result series.
pub fn put_series(w: &mut Writer, s: &Series) {
    w.str(&s.name);
    match &s.tags {
        None => w.u8(0),
        Some(t) => {
            w.u8(1);
            w.u64(t.len() as u64);
            for (k, v) in t {
                w.str(k);
                w.str(v);
            }
        }
    }
    w.u64(s.columns.len() as u64);
    for c in &s.columns {
        w.str(c);
    }
    w.u64(s.values.len() as u64);
    for row in &s.values {
        w.u64(row.len() as u64);
        for v in row {
            put_value(w, v);
        }
    }
}

/// Reads a result series.
pub fn get_series(r: &mut Reader<'_>) -> Result<Series, DecodeError> {
    let name = r.str()?;
    let tags = match r.u8()? {
        0 => None,
        1 => {
            let n = r.len(2)?;
            let mut t = BTreeMap::new();
            for _ in 0..n {
                let k = r.str()?;
                t.insert(k, r.str()?);
            }
            Some(t)
        }
        _ => return Err(r.err("0 or 1 (tags absent or present)")),
    };
    let n = r.len(1)?;
    let mut columns = Vec::with_capacity(n);
    for _ in 0..n {
        columns.push(r.str()?);
    }
    let rows = r.len(1)?;
    let mut values = Vec::with_capacity(rows);
    for _ in 0..rows {
        let n = r.len(1)?;
        let mut row = Vec::with_capacity(n);
        for _ in 0..n {
            row.push(get_value(r)?);
        }
        values.push(row);
    }
    Ok(Series {
        name,
        tags,
        columns,
        values,
    })
}

fn put_measurement(w: &mut Writer, m: &MeasurementPartial) {
    w.str(&m.name);
    w.u64(m.tag_keys.len() as u64);
    for k in &m.tag_keys {
        w.str(k);
    }
    w.u64(m.fields.len() as u64);
    for (f, t) in &m.fields {
        w.str(f);
        put_type(w, *t);
    }
    w.u64(m.slots.len() as u64);
    for (k, f) in &m.slots {
        put_kind(w, *k);
        w.str(f);
    }
    w.i64(m.start);
    w.i64(m.interval);
    w.u64(m.n as u64);
    w.u64(m.groups.len() as u64);
    for g in &m.groups {
        w.u64(g.tags.len() as u64);
        for (k, v) in &g.tags {
            w.str(k);
            w.str(v);
        }
        // The count is implied (slots × buckets).
        for s in &g.states {
            put_state(w, s);
        }
    }
}

fn get_measurement(r: &mut Reader<'_>) -> Result<MeasurementPartial, DecodeError> {
    let name = r.str()?;
    let n = r.len(1)?;
    let mut tag_keys = Vec::with_capacity(n);
    for _ in 0..n {
        tag_keys.push(r.str()?);
    }
    let n = r.len(2)?;
    let mut fields = Vec::with_capacity(n);
    for _ in 0..n {
        let f = r.str()?;
        fields.push((f, get_type(r)?));
    }
    let n = r.len(2)?;
    let mut slots = Vec::with_capacity(n);
    for _ in 0..n {
        let k = get_kind(r)?;
        slots.push((k, r.str()?));
    }
    let start = r.i64()?;
    let interval = r.i64()?;
    if interval < 0 {
        return Err(r.err("a bucket width of at least 0"));
    }
    let buckets = r.u64()?;
    let groups_n = r.len(1)?;
    let per_group = (slots.len() as u64)
        .checked_mul(buckets)
        .filter(|&c| groups_n == 0 || c <= (1 << 32))
        .ok_or(r.err("a bucket count that fits"))?;
    let mut groups = Vec::with_capacity(groups_n);
    for _ in 0..groups_n {
        let t = r.len(2)?;
        let mut tags = Vec::with_capacity(t);
        for _ in 0..t {
            let k = r.str()?;
            tags.push((k, r.str()?));
        }
        // Each state takes at least 2 bytes: refuse counts the input cannot hold.
        let mut states = Vec::new();
        for _ in 0..per_group {
            states.push(get_state(r)?);
        }
        groups.push(GroupPartial { tags, states });
    }
    Ok(MeasurementPartial {
        name,
        tag_keys,
        fields,
        slots,
        start,
        interval,
        n: usize::try_from(buckets).map_err(|_| r.err("a bucket count that fits"))?,
        groups,
    })
}

/// The wire form of a node's answer.
pub fn encode_answer(a: &NodeAnswer) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(WIRE_VERSION);
    match a {
        Err(e) => {
            w.u8(0);
            w.str(e);
        }
        Ok(sts) => {
            w.u8(1);
            w.u64(sts.len() as u64);
            for s in sts {
                match s {
                    NodeStatement::States(ms) => {
                        w.u8(0);
                        w.u64(ms.len() as u64);
                        for m in ms {
                            put_measurement(&mut w, m);
                        }
                    }
                    NodeStatement::Series(ss) => {
                        w.u8(1);
                        w.u64(ss.len() as u64);
                        for s in ss {
                            put_series(&mut w, s);
                        }
                    }
                    NodeStatement::Error(e) => {
                        w.u8(2);
                        w.str(e);
                    }
                }
            }
        }
    }
    w.buf
}

/// Reads a node's answer.
pub fn decode_answer(src: &[u8]) -> Result<NodeAnswer, DecodeError> {
    let mut r = Reader::new(src);
    if r.u8()? != WIRE_VERSION {
        return Err(DecodeError {
            offset: 0,
            what: "wire version 1 (the member runs another Strata version)",
        });
    }
    let a = match r.u8()? {
        0 => Err(r.str()?),
        1 => {
            let n = r.len(2)?;
            let mut sts = Vec::with_capacity(n);
            for _ in 0..n {
                sts.push(match r.u8()? {
                    0 => {
                        let m = r.len(1)?;
                        let mut ms = Vec::with_capacity(m);
                        for _ in 0..m {
                            ms.push(get_measurement(&mut r)?);
                        }
                        NodeStatement::States(ms)
                    }
                    1 => {
                        let m = r.len(1)?;
                        let mut ss = Vec::with_capacity(m);
                        for _ in 0..m {
                            ss.push(get_series(&mut r)?);
                        }
                        NodeStatement::Series(ss)
                    }
                    2 => NodeStatement::Error(r.str()?),
                    _ => return Err(r.err("a statement answer (0 to 2)")),
                });
            }
            Ok(sts)
        }
        _ => return Err(r.err("0 or 1 (error or statements)")),
    };
    if !r.is_empty() {
        return Err(r.err("the end of the answer"));
    }
    Ok(a)
}
