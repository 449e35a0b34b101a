//! `SELECT`: planning per measurement and execution.
//!
//! Plan: the time range comes out of `WHERE` ([`super::time`]); the rest is partially
//! evaluated against each series' tags ([`super::cond`]) so that series are chosen before
//! any data is read; projections compile into [`Proj`] trees over aggregate slots
//! (aggregate queries) or fields and tags (raw queries).
//!
//! Execution of an aggregate query: one task per (series, field) — or per series when a
//! field condition must join its fields row by row — runs on rayon, streams the column's
//! pieces into per-bucket [`State`]s (a block lying inside one bucket is answered from its
//! statistics when every function on that field allows it), and the tasks' states are
//! merged per group. Raw queries read each series' columns, join them by time, filter,
//! and merge the rows of a group by time.
//!
//! Invariants: output series are ordered by measurement, then by group tag values;
//! groups without any point are not output; limits are checked before rows are built.

use super::agg::{AggKind, State};
use super::cond::{self, Names, Regexes, Residual, Scalar, partial};
use super::time::{Bounds, split_time};
use super::transform::{MathFn, Transform};
use super::{Ctx, count, limit_plus_offset};
use crate::ast::{BinaryOp, Cast, Dimension, Expr, Fill, MeasurementName, Order, Select};
use crate::error::{QueryError, Token};
use crate::result::{Series, Value};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use strata_engine::index::ColumnId;
use strata_engine::model::{FieldType, TimeRange};
use strata_engine::segment::ValuesView;
use strata_engine::{Piece, SeriesInfo};

/// A compiled projection.
#[derive(Debug, Clone)]
enum Proj {
    /// The value of aggregate slot `n` in the bucket.
    Agg(usize),
    /// A field's value in the row.
    Field(String),
    /// A tag's value (raw queries).
    Tag(String),
    Lit(Value),
    Bin(BinaryOp, Box<Proj>, Box<Proj>),
    Math(MathFn, Box<Proj>),
    Tr(Transform, Box<Proj>),
}

impl Proj {
    fn has(&self, f: &dyn Fn(&Proj) -> bool) -> bool {
        f(self)
            || match self {
                Proj::Bin(_, a, b) => a.has(f) || b.has(f),
                Proj::Math(_, a) | Proj::Tr(_, a) => a.has(f),
                _ => false,
            }
    }

    fn fields(&self, out: &mut Vec<String>) {
        match self {
            Proj::Field(f) if !out.contains(f) => out.push(f.clone()),
            Proj::Bin(_, a, b) => {
                a.fields(out);
                b.fields(out);
            }
            Proj::Math(_, a) | Proj::Tr(_, a) => a.fields(out),
            _ => {}
        }
    }
}

/// An aggregate slot: a function over one field.
#[derive(Debug, Clone)]
struct Slot {
    kind: AggKind,
    field: String,
    ty: FieldType,
    /// `top(f, tag, N)`: the best point per value of this tag.
    by_tag: Option<String>,
}

/// What one measurement's part of the statement computes.
struct Plan {
    columns: Vec<String>,
    projs: Vec<Proj>,
    slots: Vec<Slot>,
    group_keys: Vec<String>,
    interval: i64,
    offset: i64,
    /// A lone selector with tag or field columns beside it (`max(x), host`,
    /// `top(x, host, 3)`): rows are the selected points themselves.
    point_rows: bool,
}

impl Plan {
    /// Buckets a transformation over aggregates reads before the first one shown: one
    /// for derivatives, differences, elapsed and moving averages (as InfluxDB does).
    fn looking_back_slots(&self) -> Vec<usize> {
        fn aggs(p: &Proj, out: &mut Vec<usize>) {
            match p {
                Proj::Agg(i) => out.push(*i),
                Proj::Bin(_, a, b) => {
                    aggs(a, out);
                    aggs(b, out);
                }
                Proj::Math(_, a) | Proj::Tr(_, a) => aggs(a, out),
                _ => {}
            }
        }
        fn walk(p: &Proj, out: &mut Vec<usize>) {
            match p {
                Proj::Tr(Transform::CumulativeSum, a) => walk(a, out),
                Proj::Tr(_, a) => aggs(a, out),
                Proj::Bin(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Proj::Math(_, a) => walk(a, out),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for p in &self.projs {
            walk(p, &mut out);
        }
        out
    }

    fn extra_intervals(&self) -> i64 {
        fn walk(p: &Proj) -> i64 {
            match p {
                Proj::Tr(t, a) => {
                    let own = match t {
                        // InfluxDB looks back one bucket whatever N is.
                        Transform::CumulativeSum => 0,
                        _ => 1,
                    };
                    own.max(walk(a))
                }
                Proj::Bin(_, a, b) => walk(a).max(walk(b)),
                Proj::Math(_, a) => walk(a),
                _ => 0,
            }
        }
        self.projs.iter().map(walk).max().unwrap_or(0)
    }
}

/// The measurement being planned: its tag keys and field types.
struct Meta {
    tag_keys: HashSet<String>,
    fields: BTreeMap<String, FieldType>,
}

pub(crate) fn run(ctx: &Ctx<'_>, sel: &Select) -> Result<Vec<Series>, QueryError> {
    let (bounds, cond) = split_time(sel.condition.as_ref(), ctx.now)?;
    let mut regexes = Regexes::default();
    if let Some(c) = &cond {
        regexes.collect(c)?;
    }
    for f in &sel.fields {
        regexes.collect(&f.expr)?;
    }
    // Measurements, each once, sorted.
    let all = ctx.db.measurements();
    let mut names: Vec<String> = Vec::new();
    for src in &sel.sources {
        match &src.name {
            MeasurementName::Name(n) => {
                if all.contains(n) {
                    names.push(n.clone());
                }
            }
            MeasurementName::Regex(p) => {
                regexes.add(p)?;
                let re = regexes
                    .get(p)
                    .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                names.extend(all.iter().filter(|m| re.is_match(m)).cloned());
            }
        }
    }
    names.sort();
    names.dedup();
    let metas: Vec<Meta> = names
        .iter()
        .map(|m| Meta {
            tag_keys: ctx.db.tag_keys(m).into_iter().collect(),
            fields: ctx.db.fields(m).into_iter().collect(),
        })
        .collect();
    // Every series of the statement has the same columns: `*` and regexes expand over
    // the union of the measurements (a field keeps the type of the first that has it).
    let mut union = Meta {
        tag_keys: HashSet::new(),
        fields: BTreeMap::new(),
    };
    for m in &metas {
        union.tag_keys.extend(m.tag_keys.iter().cloned());
        for (f, t) in &m.fields {
            union.fields.entry(f.clone()).or_insert(*t);
        }
    }
    let mut out = Vec::new();
    for (m, meta) in names.iter().zip(&metas) {
        ctx.check_deadline()?;
        out.extend(run_measurement(
            ctx,
            sel,
            m,
            meta,
            &union,
            bounds,
            cond.as_ref(),
            &regexes,
        )?);
    }
    let soffset = count(sel.soffset.unwrap_or(0));
    let out: Vec<Series> = out
        .into_iter()
        .skip(soffset)
        .take(sel.slimit.map_or(usize::MAX, count))
        .collect();
    // ORDER BY time DESC also reverses the series picked by SLIMIT/SOFFSET.
    let mut out = out;
    if sel.order == Some(Order::Desc) {
        out.reverse();
    }
    if out.len() > ctx.limits.max_series {
        return Err(QueryError::Limit(format!(
            "max-select-series limit exceeded: the statement returns {} series, more than the limit of {} (narrow the WHERE clause, use SLIMIT, or raise query.max_series)",
            out.len(),
            ctx.limits.max_series
        )));
    }
    Ok(out)
}

fn call_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// InfluxDB's column name for an expression: a variable's name, a call's function name,
/// the names of a binary expression's parts joined by `_`.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Var { name, .. } => name.clone(),
        Expr::Call { name, .. } => call_name(name),
        Expr::Binary { lhs, rhs, .. } => {
            let (a, b) = (expr_name(lhs), expr_name(rhs));
            match (a.is_empty(), b.is_empty()) {
                (true, _) => b,
                (_, true) => a,
                _ => format!("{a}_{b}"),
            }
        }
        _ => String::new(),
    }
}

/// Expands `*` and regexes in the projection list into concrete expressions with names.
fn expand_fields(
    sel: &Select,
    meta: &Meta,
    group_keys: &[String],
    regexes: &Regexes,
) -> Result<Vec<(Expr, String, bool)>, QueryError> {
    let mut out = Vec::new();
    let field_var = |name: &str| Expr::Var {
        name: name.to_owned(),
        cast: None,
    };
    for f in &sel.fields {
        match &f.expr {
            Expr::Wildcard(cast) => {
                let mut names: Vec<&String> = Vec::new();
                if *cast != Some(Cast::Tag) {
                    names.extend(meta.fields.keys());
                }
                if *cast != Some(Cast::Field) {
                    names.extend(meta.tag_keys.iter().filter(|k| !group_keys.contains(k)));
                }
                names.sort();
                names.dedup();
                out.extend(names.into_iter().map(|n| (field_var(n), n.clone(), false)));
            }
            Expr::Regex(p) => {
                let re = regexes
                    .get(p)
                    .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                let mut names: Vec<&String> = meta
                    .fields
                    .keys()
                    .chain(meta.tag_keys.iter().filter(|k| !group_keys.contains(k)))
                    .filter(|n| re.is_match(n))
                    .collect();
                names.sort();
                names.dedup();
                out.extend(names.into_iter().map(|n| (field_var(n), n.clone(), false)));
            }
            Expr::Call { name, args }
                if matches!(args.first(), Some(Expr::Wildcard(_) | Expr::Regex(_))) =>
            {
                let matching: Vec<&String> = match &args[0] {
                    Expr::Regex(p) => {
                        let re = regexes
                            .get(p)
                            .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                        meta.fields.keys().filter(|n| re.is_match(n)).collect()
                    }
                    _ => meta.fields.keys().collect(),
                };
                let kind = AggKind::from_call(name, args)?;
                for field in matching {
                    let ty = meta.fields[field];
                    if kind.is_some_and(|k| !k.accepts(ty)) {
                        continue;
                    }
                    let mut args = args.clone();
                    args[0] = field_var(field);
                    let e = Expr::Call {
                        name: name.clone(),
                        args,
                    };
                    let n = format!("{}_{field}", call_name(name));
                    out.push((e, n, false));
                }
            }
            e => out.push(match &f.alias {
                Some(a) => (e.clone(), a.clone(), true),
                None => (e.clone(), expr_name(e), false),
            }),
        }
    }
    Ok(out)
}

/// Compiles one projection expression.
fn compile(e: &Expr, meta: &Meta, slots: &mut Vec<Slot>, in_agg: bool) -> Result<Proj, QueryError> {
    Ok(match e {
        Expr::Var { name, cast } => {
            if name.eq_ignore_ascii_case("time") {
                return Err(QueryError::invalid_at(
                    Token::Word(name.clone()),
                    "time is always the first column; select a field",
                ));
            }
            let is_tag = match cast {
                Some(Cast::Tag) => true,
                Some(Cast::Field) => false,
                _ => !meta.fields.contains_key(name) && meta.tag_keys.contains(name),
            };
            if is_tag {
                Proj::Tag(name.clone())
            } else {
                Proj::Field(name.clone())
            }
        }
        Expr::Integer(i) => Proj::Lit(Value::Integer(*i)),
        Expr::Float(f) => Proj::Lit(Value::Float(*f)),
        Expr::String(s) => Proj::Lit(Value::String(s.clone())),
        Expr::Bool(b) => Proj::Lit(Value::Boolean(*b)),
        Expr::Duration(d) => Proj::Lit(Value::Integer(d.0)),
        Expr::Binary { op, lhs, rhs }
            if matches!(
                op,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
            ) =>
        {
            Proj::Bin(
                *op,
                Box::new(compile(lhs, meta, slots, in_agg)?),
                Box::new(compile(rhs, meta, slots, in_agg)?),
            )
        }
        Expr::Call { name, args } => {
            if let Some(kind) = AggKind::from_call(name, args)? {
                if in_agg {
                    return Err(QueryError::Unsupported(format!(
                        "{e}: an aggregate inside an aggregate needs a subquery, which Strata does not run"
                    )));
                }
                let field = match args.get(kind.field_arg()) {
                    Some(Expr::Var { name: f, .. }) => f.clone(),
                    Some(other) => {
                        return Err(QueryError::invalid_at(
                            Token::Call(name.clone()),
                            format!(
                                "expected field argument in {}(), got {other}",
                                call_name(name)
                            ),
                        ));
                    }
                    None => {
                        return Err(QueryError::invalid_at(
                            Token::Call(name.clone()),
                            format!(
                                "invalid number of arguments for {}, expected at least 1, got 0",
                                call_name(name)
                            ),
                        ));
                    }
                };
                let Some(&ty) = meta.fields.get(&field) else {
                    // A field this measurement lacks: the slot yields nothing.
                    slots.push(Slot {
                        kind,
                        field,
                        ty: FieldType::Float,
                        by_tag: None,
                    });
                    return Ok(Proj::Agg(slots.len() - 1));
                };
                if !kind.accepts(ty) {
                    return Err(QueryError::invalid_at(
                        Token::Call(name.clone()),
                        format!(
                            "{e}: {} does not apply to {} field {field}",
                            call_name(name),
                            ty_name(ty)
                        ),
                    ));
                }
                let by_tag = match (kind, args.len()) {
                    (AggKind::Top(_) | AggKind::Bottom(_), 3) => match &args[1] {
                        Expr::Var { name: t, .. } => Some(t.clone()),
                        other => {
                            return Err(QueryError::invalid_at(
                                Token::Call(name.clone()),
                                format!(
                                    "expected a tag as the second argument of {}(), got {other}",
                                    call_name(name)
                                ),
                            ));
                        }
                    },
                    _ => None,
                };
                slots.push(Slot {
                    kind,
                    field,
                    ty,
                    by_tag,
                });
                Proj::Agg(slots.len() - 1)
            } else if let Some(t) = Transform::from_call(name, args)? {
                Proj::Tr(t, Box::new(compile(&args[0], meta, slots, in_agg)?))
            } else if let Some(m) = MathFn::from_call(name, args)? {
                Proj::Math(m, Box::new(compile(&args[0], meta, slots, in_agg)?))
            } else {
                return Err(QueryError::invalid_at(
                    Token::Call(name.clone()),
                    format!("undefined function {}()", call_name(name)),
                ));
            }
        }
        other => {
            return Err(QueryError::Invalid(format!(
                "{other} cannot be selected: expected a field, a tag, a function call or arithmetic"
            )));
        }
    })
}

pub(crate) fn ty_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Float => "float",
        FieldType::Integer => "integer",
        FieldType::Unsigned => "unsigned",
        FieldType::String => "string",
        FieldType::Boolean => "boolean",
    }
}

/// Plans `sel` for one measurement (`meta`); `expand_meta` (every measurement of the
/// statement) decides what `*` and regexes expand to, so all series share columns.
fn plan(
    sel: &Select,
    meta: &Meta,
    expand_meta: &Meta,
    regexes: &Regexes,
) -> Result<Plan, QueryError> {
    let mut group_keys: Vec<String> = Vec::new();
    let (mut interval, mut offset) = (0i64, 0i64);
    let mut times = 0;
    for d in &sel.group_by {
        match d {
            Dimension::Time {
                interval: i,
                offset: o,
            } => {
                times += 1;
                if i.0 < 0 {
                    return Err(QueryError::invalid_at(
                        Token::Call("time".into()),
                        "GROUP BY time() needs a positive interval",
                    ));
                }
                // time(0s) is accepted and groups nothing, as in InfluxDB.
                if i.0 > 0 {
                    interval = i.0;
                    offset = o.map_or(0, |o| o.0).rem_euclid(i.0);
                }
            }
            Dimension::Tag(k) => group_keys.push(k.clone()),
            Dimension::Regex(p) => {
                let re = regexes
                    .get(p)
                    .ok_or_else(|| QueryError::Invalid(format!("regex /{p}/")))?;
                group_keys.extend(meta.tag_keys.iter().filter(|k| re.is_match(k)).cloned());
            }
            Dimension::All => group_keys.extend(meta.tag_keys.iter().cloned()),
        }
    }
    if times > 1 {
        return Err(QueryError::Invalid(
            "only one GROUP BY time() is allowed".into(),
        ));
    }
    group_keys.sort();
    group_keys.dedup();
    let fields = expand_fields(sel, expand_meta, &group_keys, regexes)?;
    let mut slots = Vec::new();
    let mut projs = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let mut used: std::collections::HashMap<String, usize> = Default::default();
    for (e, name, aliased) in &fields {
        projs.push(compile(e, meta, &mut slots, false)?);
        // InfluxDB's de-duplication: aliases are kept as written; a generated name used
        // before gets `_1`, `_2`, … (counted per name).
        if *aliased {
            columns.push(name.clone());
            continue;
        }
        let k = used.entry(name.clone()).or_insert(0);
        columns.push(if *k == 0 {
            name.clone()
        } else {
            format!("{name}_{k}")
        });
        *k += 1;
    }
    if projs.is_empty() {
        return Err(QueryError::Invalid(
            "at least 1 non-time field must be queried".into(),
        ));
    }
    if projs
        .iter()
        .any(|p| !p.has(&|q| matches!(q, Proj::Agg(_) | Proj::Field(_) | Proj::Tag(_))))
    {
        return Err(QueryError::Invalid(
            "field must contain at least one variable".into(),
        ));
    }
    let aggregate = !slots.is_empty();
    let mut point_rows = false;
    if aggregate {
        // `top(f, tag, N)` shows the tag beside the value.
        if let Some(pos) = projs.iter().position(|p| matches!(p, Proj::Agg(_)))
            && let Proj::Agg(s) = projs[pos]
            && let Some(tag) = slots[s].by_tag.clone()
        {
            projs.insert(pos + 1, Proj::Tag(tag.clone()));
            columns.insert(pos + 1, tag.clone());
            // A later column of the same generated name is a repeat: `tag_1`, ….
            let mut k = 1;
            for (i, c) in columns.iter_mut().enumerate().skip(pos + 2) {
                if *c == tag && !fields.get(i - 1).is_some_and(|f| f.2) {
                    *c = format!("{tag}_{k}");
                    k += 1;
                }
            }
        }
        let lone_selector = slots.iter().all(|s| {
            s.kind == slots[0].kind && s.field == slots[0].field && s.by_tag == slots[0].by_tag
        }) && matches!(
            slots[0].kind,
            AggKind::Min
                | AggKind::Max
                | AggKind::First
                | AggKind::Last
                | AggKind::Percentile(_)
                | AggKind::Top(_)
                | AggKind::Bottom(_)
        );
        let extras = projs
            .iter()
            .any(|p| p.has(&|q| matches!(q, Proj::Field(_) | Proj::Tag(_))));
        if extras {
            // Beside a lone selector, fields and tags are read at the selected point.
            let plain = projs.iter().all(|p| {
                matches!(p, Proj::Field(_) | Proj::Tag(_))
                    || !p.has(&|q| matches!(q, Proj::Field(_) | Proj::Tag(_) | Proj::Tr(..)))
            });
            if !lone_selector || !plain {
                return Err(QueryError::Invalid(
                    "mixing aggregate and non-aggregate queries is not supported".into(),
                ));
            }
            point_rows = true;
        }
        let multi = slots
            .iter()
            .any(|s| matches!(s.kind, AggKind::Top(_) | AggKind::Bottom(_)));
        let only_top = projs
            .iter()
            .filter(|p| !matches!(p, Proj::Field(_) | Proj::Tag(_)))
            .count()
            == 1
            && projs.iter().any(|p| matches!(p, Proj::Agg(0)));
        if let (AggKind::Top(k) | AggKind::Bottom(k), Some(l)) = (slots[0].kind, sel.limit)
            && k as u64 > l
        {
            let f = if matches!(slots[0].kind, AggKind::Top(_)) {
                "top"
            } else {
                "bottom"
            };
            return Err(QueryError::invalid_at(
                Token::Call(f.into()),
                format!(
                    "limit ({k}) in {f} function can not be larger than the LIMIT ({l}) in the select statement"
                ),
            ));
        }
        if multi && (slots.len() > 1 || !only_top) {
            let f = if slots.iter().any(|s| matches!(s.kind, AggKind::Top(_))) {
                "top"
            } else {
                "bottom"
            };
            return Err(QueryError::invalid_at(
                Token::Call(f.into()),
                format!("selector function {f}() cannot be combined with other functions"),
            ));
        }
        if interval == 0 && projs.iter().any(|p| p.has(&|q| matches!(q, Proj::Tr(..)))) {
            return Err(QueryError::Invalid(
                "aggregate function required inside the call to a transformation needs GROUP BY time()".into(),
            ));
        }
    } else {
        if interval != 0 {
            return Err(QueryError::Invalid(
                "GROUP BY requires at least one aggregate function".into(),
            ));
        }
        if !projs
            .iter()
            .any(|p| p.has(&|q| matches!(q, Proj::Field(_))))
        {
            return Err(QueryError::Invalid(
                "at least 1 non-time field must be queried".into(),
            ));
        }
    }
    Ok(Plan {
        columns,
        projs,
        slots,
        group_keys,
        interval,
        offset,
        point_rows,
    })
}

/// One selected series and its group.
struct Chosen {
    /// Position in the statement's list of chosen series.
    index: usize,
    info: SeriesInfo,
    group: usize,
    residual: Option<Residual>,
}

#[allow(clippy::too_many_arguments)]
fn run_measurement(
    ctx: &Ctx<'_>,
    sel: &Select,
    measurement: &str,
    meta: &Meta,
    union: &Meta,
    bounds: Bounds,
    cond: Option<&Expr>,
    regexes: &Regexes,
) -> Result<Vec<Series>, QueryError> {
    let plan = plan(sel, meta, union, regexes)?;
    if bounds.is_empty() {
        return Ok(Vec::new());
    }
    // Choose series and form groups, ordered by their tag values.
    let names = Names {
        tag_keys: &meta.tag_keys,
    };
    let mut groups: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut chosen = Vec::new();
    // Series in key order: rows of equal time from several series follow it.
    let narrowed = cond.and_then(|c| cond::candidates(c, &names, ctx.db, measurement));
    let mut series = ctx.db.query_series_in(measurement, narrowed.as_deref());
    series.sort_by(|a, b| a.key.tags().cmp(b.key.tags()));
    for (i, info) in series.into_iter().enumerate() {
        if i % 1024 == 0 {
            ctx.check_deadline()?;
        }
        let residual = match cond {
            None => None,
            Some(c) => match partial(c, &names, &info.key, regexes)? {
                cond::Partial::Const(false) => continue,
                cond::Partial::Const(true) => None,
                cond::Partial::Residual(r) => Some(r),
            },
        };
        let key: Vec<String> = plan
            .group_keys
            .iter()
            .map(|k| info.key.tag(k).unwrap_or("").to_owned())
            .collect();
        let next = groups.len();
        let group = *groups.entry(key).or_insert(next);
        chosen.push(Chosen {
            index: chosen.len(),
            info,
            group,
            residual,
        });
    }
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    // Group ids in output order.
    let mut order: Vec<(Vec<String>, usize)> = groups.into_iter().collect();
    order.sort();
    let results = if plan.slots.is_empty() {
        raw(ctx, sel, &plan, bounds, &chosen, order.len())?
    } else {
        aggregate(ctx, sel, &plan, bounds, &chosen, order.len())?
    };
    let mut out = Vec::new();
    let mut rows_total = 0usize;
    for (key, g) in order {
        let Some(rows) = results[g].as_ref() else {
            continue;
        };
        rows_total += rows.len();
        if rows_total > ctx.limits.max_rows {
            return Err(too_many_rows(ctx));
        }
        let tags = (!plan.group_keys.is_empty())
            .then(|| plan.group_keys.iter().cloned().zip(key).collect());
        let mut columns = vec!["time".to_owned()];
        columns.extend(plan.columns.iter().cloned());
        out.push(Series {
            name: measurement.to_owned(),
            tags,
            columns,
            values: rows.clone(),
        });
    }
    Ok(out)
}

fn too_many_rows(ctx: &Ctx<'_>) -> QueryError {
    QueryError::Limit(format!(
        "max-select-point limit exceeded: the statement returns more than {} rows (narrow the time range, use LIMIT or a coarser GROUP BY time(), or raise query.max_rows)",
        ctx.limits.max_rows
    ))
}

/// Buckets of an aggregate query: `n` buckets of `interval` from `start`, or one bucket.
#[derive(Debug, Clone, Copy)]
struct Layout {
    start: i64,
    interval: i64,
    n: usize,
}

impl Layout {
    // Bucket arithmetic runs in i128: the span of the addressable time range does not
    // fit in an i64.
    fn bucket(&self, t: i64) -> usize {
        if self.interval == 0 {
            0
        } else {
            let b = ((i128::from(t) - i128::from(self.start)) / i128::from(self.interval)).max(0);
            usize::try_from(b).unwrap_or(usize::MAX).min(self.n - 1)
        }
    }

    fn bucket_end(&self, b: usize) -> i64 {
        if self.interval == 0 {
            i64::MAX
        } else {
            self.offset_by(b as i128 + 1)
        }
    }

    fn time(&self, b: usize) -> i64 {
        self.offset_by(b as i128)
    }

    /// `start + k * interval`, clamped to the i64 range.
    fn offset_by(&self, k: i128) -> i64 {
        clamp_i64(i128::from(self.start) + i128::from(self.interval) * k)
    }
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn window_start(t: i64, interval: i64, offset: i64) -> i64 {
    let (t, interval, offset) = (i128::from(t), i128::from(interval), i128::from(offset));
    clamp_i64((t - offset).div_euclid(interval) * interval + offset)
}

/// The zone offset in nanoseconds of `tz` at `t`.
fn zone_offset(tz: &str, t: i64) -> Result<i64, QueryError> {
    use chrono::{Offset, TimeZone};
    let zone: chrono_tz::Tz = tz.parse().map_err(|_| {
        QueryError::invalid_at(
            Token::String(tz.to_owned()),
            format!("unable to find time zone {tz:?}"),
        )
    })?;
    let secs = t.div_euclid(1_000_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0).ok_or_else(|| {
        QueryError::invalid_at(Token::Call("tz".into()), "time out of range for tz()")
    })?;
    let off = zone.offset_from_utc_datetime(&dt.naive_utc()).fix();
    Ok(i64::from(off.local_minus_utc()) * 1_000_000_000)
}

type GroupRows = Vec<Option<Vec<Vec<Value>>>>;

/// A task's result: its group, its series' `le` bound (histograms), the slots it
/// computed and their per-bucket states.
type Partial = (usize, usize, Option<f64>, Vec<usize>, Vec<State>);

/// The `le` tag of a Prometheus `_bucket` series as a number (`+Inf` included).
fn le_of(c: &Chosen) -> Option<f64> {
    let le = c.info.key.tag("le")?;
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    bounds: Bounds,
    chosen: &[Chosen],
    n_groups: usize,
) -> Result<GroupRows, QueryError> {
    let mut range = bounds.range();
    let interval = plan.interval;
    // An aggregate over GROUP BY time without an upper bound ends now, as in InfluxDB.
    if interval > 0 && !bounds.has_end {
        range.end = range.end.min(ctx.now.saturating_add(1));
    }
    // Transformations over buckets read extra buckets before the range (after it, when
    // descending), as InfluxDB does, so the first bucket shown has a predecessor; rows
    // outside the asked range are dropped once the transformations ran.
    let desc = sel.order == Some(Order::Desc);
    let extra = if interval > 0 {
        plan.extra_intervals()
    } else {
        0
    };
    let shown = (bounds.has_start.then_some(range.start), range.end);
    // Only the aggregates under a looking-back transformation read the wider range; the
    // others (and cumulative sums) keep the asked one.
    let asked = (range.start, range.end);
    let looking_back = plan.looking_back_slots();
    let clip: Vec<(i64, i64)> = (0..plan.slots.len())
        .map(|s| {
            if extra == 0 || looking_back.contains(&s) {
                (i64::MIN, i64::MAX)
            } else {
                asked
            }
        })
        .collect();
    let cuts: Vec<i64> = if extra > 0 {
        vec![asked.0, asked.1]
    } else {
        Vec::new()
    };
    if extra > 0 {
        let span = interval.saturating_mul(extra);
        if desc {
            range.end = range.end.saturating_add(span);
        } else if bounds.has_start {
            range.start = range.start.saturating_sub(span);
        }
    }
    let mut offset = plan.offset;
    if let Some(tz) = &sel.tz
        && interval > 0
    {
        offset = (offset - zone_offset(tz, range.start.max(0))?).rem_euclid(interval);
    }
    // Distinct fields the slots read, and the slots of each.
    let mut fields: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, s) in plan.slots.iter().enumerate() {
        match fields.iter_mut().find(|(f, _)| *f == s.field) {
            Some((_, v)) => v.push(i),
            None => fields.push((s.field.clone(), vec![i])),
        }
    }
    // Without a lower bound, buckets start at the earliest point read.
    if interval > 0 && !bounds.has_start {
        let mut first: Option<i64> = None;
        for (i, c) in chosen.iter().enumerate() {
            if i % 256 == 0 {
                ctx.check_deadline()?;
            }
            for (f, _) in &fields {
                if let Some((_, col, _)) = c.info.columns.iter().find(|(n, _, _)| n == f)
                    && let Some((lo, _)) = ctx.db.column_bounds(*col, range)?
                {
                    first = Some(first.map_or(lo, |x: i64| x.min(lo)));
                }
            }
        }
        match first {
            Some(f) => range.start = f,
            None => return Ok(vec![None; n_groups]),
        }
    }
    if range.start >= range.end {
        return Ok(vec![None; n_groups]);
    }
    // The range before LIMIT cut the buckets short: whether a group shows at all still
    // depends on the whole range.
    let mut limited_from: Option<TimeRange> = None;
    let layout = if interval > 0 {
        let start = window_start(range.start, interval, offset);
        let buckets = (i128::from(range.end) - 1 - i128::from(start)) / i128::from(interval) + 1;
        let mut n = usize::try_from(buckets).unwrap_or(usize::MAX);
        // With LIMIT and a fill that keeps empty buckets, later buckets are never shown.
        let keeps_empty = !matches!(sel.fill, Some(Fill::None));
        if keeps_empty
            && !desc
            && extra == 0
            && (bounds.has_start || n_groups == 1)
            && let Some(l) = sel.limit
        {
            let want = limit_plus_offset(Some(l), sel.offset).unwrap_or(usize::MAX);
            if want < n {
                n = want.max(1);
                limited_from = Some(range);
                range.end = clamp_i64(i128::from(start) + i128::from(interval) * n as i128);
            }
        }
        if n > ctx.limits.max_rows {
            return Err(QueryError::Limit(format!(
                "max-select-buckets limit exceeded: GROUP BY time({}) over this range gives {n} buckets, more than {} (narrow the time range or use a larger interval)",
                crate::ast::Duration(interval),
                ctx.limits.max_rows
            )));
        }
        Layout { start, interval, n }
    } else {
        Layout {
            start: range.start,
            interval: 0,
            n: 1,
        }
    };
    // The selected point's time is shown only for a lone selector without GROUP BY time;
    // block statistics cannot give it.
    // Repeats of one selector (`max(x), max(x) * 2`) count as one, as in InfluxDB.
    let shows_point_time = interval == 0
        && plan.slots[0].kind.is_selector()
        && plan
            .slots
            .iter()
            .all(|s| s.kind == plan.slots[0].kind && s.field == plan.slots[0].field);
    let window = if interval > 0 {
        interval
    } else if bounds.has_start && bounds.has_end {
        bounds.end - bounds.start
    } else {
        0
    };

    enum Task<'a> {
        Column {
            chosen: &'a Chosen,
            col: ColumnId,
            ty: FieldType,
            slots: &'a [usize],
        },
        Rows {
            chosen: &'a Chosen,
        },
    }
    let mut tasks = Vec::new();
    for c in chosen {
        if c.residual.is_some() {
            tasks.push(Task::Rows { chosen: c });
            continue;
        }
        for (f, slots) in &fields {
            if let Some((_, col, ty)) = c.info.columns.iter().find(|(n, _, _)| n == f) {
                tasks.push(Task::Column {
                    chosen: c,
                    col: *col,
                    ty: *ty,
                    slots,
                });
            }
        }
    }
    let n = layout.n;
    let partials: Vec<Partial> = tasks
        .par_iter()
        .map(|t| -> Result<Option<Partial>, QueryError> {
            ctx.check_deadline()?;
            match t {
                Task::Column {
                    chosen,
                    col,
                    ty,
                    slots,
                } => {
                    let kinds: Vec<AggKind> = slots.iter().map(|&s| plan.slots[s].kind).collect();
                    let task_clip: Vec<(i64, i64)> = slots.iter().map(|&s| clip[s]).collect();
                    let stats_ok = !shows_point_time
                        && !plan.point_rows
                        && kinds.iter().all(|k| k.uses_stats(*ty));
                    let mut states = new_states(&kinds, n);
                    let mut scratch = Vec::new();
                    let mut seen = false;
                    let mut carry = None;
                    let mut stopped = None;
                    let scanned = ctx.db.scan_column(
                        *col,
                        *ty,
                        range,
                        &mut |lo, hi| {
                            stats_ok
                                && layout.bucket(lo) == layout.bucket(hi)
                                && !cuts.iter().any(|&c| lo < c && c <= hi)
                        },
                        &mut |p| {
                            if let Err(e) = ctx.check_deadline() {
                                stopped = Some(e);
                                return Err(strata_engine::Error::InvalidInput(
                                    "query stopped".into(),
                                ));
                            }
                            seen = true;
                            feed(
                                &mut states,
                                &kinds,
                                &task_clip,
                                &layout,
                                p,
                                &mut scratch,
                                &mut carry,
                            );
                            Ok(())
                        },
                    );
                    if let Some(e) = stopped {
                        return Err(e);
                    }
                    scanned?;
                    integrate(&mut states, &kinds, &layout);
                    Ok(seen.then(|| {
                        (
                            chosen.group,
                            chosen.index,
                            le_of(chosen),
                            slots.to_vec(),
                            states,
                        )
                    }))
                }
                Task::Rows { chosen } => {
                    let all: Vec<usize> = (0..plan.slots.len()).collect();
                    let kinds: Vec<AggKind> = plan.slots.iter().map(|s| s.kind).collect();
                    let mut need: Vec<String> = fields.iter().map(|(f, _)| f.clone()).collect();
                    if let Some(r) = &chosen.residual {
                        r.fields(&mut need);
                    }
                    let rows =
                        read_rows(ctx, &chosen.info, &need, range, chosen.residual.as_ref())?;
                    if rows.times.is_empty() {
                        return Ok(None);
                    }
                    let mut states = new_states(&kinds, n);
                    let mut scratch = Vec::new();
                    let mut seen = false;
                    for (fi, (f, slot_ids)) in fields.iter().enumerate() {
                        let _ = f;
                        let Some((ts, vals)) = rows.column(fi) else {
                            continue;
                        };
                        if ts.is_empty() {
                            continue;
                        }
                        seen = true;
                        let sub: Vec<AggKind> = slot_ids.iter().map(|&s| kinds[s]).collect();
                        let mut sub_states = new_states(&sub, n);
                        let sub_clip: Vec<(i64, i64)> = slot_ids.iter().map(|&s| clip[s]).collect();
                        feed(
                            &mut sub_states,
                            &sub,
                            &sub_clip,
                            &layout,
                            Piece::Points {
                                timestamps: &ts,
                                values: vals.view(),
                            },
                            &mut scratch,
                            &mut None,
                        );
                        for (k, &s) in slot_ids.iter().enumerate() {
                            for b in 0..n {
                                states[s * n + b] =
                                    std::mem::replace(&mut sub_states[k * n + b], State::Count(0));
                            }
                        }
                    }
                    integrate(&mut states, &kinds, &layout);
                    Ok(seen.then_some((chosen.group, chosen.index, le_of(chosen), all, states)))
                }
            }
        })
        .filter_map(|r| r.transpose())
        .collect::<Result<_, _>>()?;
    let fill = sel.fill.clone().unwrap_or(Fill::Null);
    if plan.point_rows {
        return point_rows(ctx, sel, plan, &layout, partials, chosen, n_groups, &fill);
    }
    // Merge per group.
    let mut acc: Vec<Option<Vec<State>>> = vec![None; n_groups];
    let mut groups_held = 0usize;
    for (g, _series, le, slots, states) in partials {
        ctx.check_deadline()?;
        if acc[g].is_none() {
            groups_held += 1;
            check_buckets_held(ctx, groups_held, n, interval)?;
        }
        let a = acc[g].get_or_insert_with(|| {
            new_states(&plan.slots.iter().map(|s| s.kind).collect::<Vec<_>>(), n)
        });
        for (k, &s) in slots.iter().enumerate() {
            let kind = plan.slots[s].kind;
            for b in 0..n {
                let st = &states[k * n + b];
                if let AggKind::HistogramQuantile(_) = kind {
                    // Series without a numeric `le` tag are not histogram buckets.
                    if let Some(le) = le {
                        a[s * n + b].merge_bucket(le, st);
                    }
                    continue;
                }
                a[s * n + b].merge(kind, st.clone(), window);
            }
        }
    }
    let no_bucket_time = if bounds.has_start { bounds.start } else { 0 };
    let shown = if interval > 0 {
        (
            shown
                .0
                .map_or(i64::MIN, |s| window_start(s, interval, offset)),
            shown.1,
        )
    } else {
        (i64::MIN, i64::MAX)
    };
    // With the buckets cut short by LIMIT, a group with points anywhere in the whole
    // range shows (its first buckets filled), as it would without the cut.
    let mut present = vec![false; n_groups];
    if let Some(full) = limited_from {
        for (i, c) in chosen.iter().enumerate() {
            if i % 256 == 0 {
                ctx.check_deadline()?;
            }
            if present[c.group] {
                continue;
            }
            for (f, _) in &fields {
                if let Some((_, col, _)) = c.info.columns.iter().find(|(n, _, _)| n == f)
                    && ctx.db.column_bounds(*col, full)?.is_some()
                {
                    present[c.group] = true;
                    break;
                }
            }
        }
        for (g, a) in acc.iter_mut().enumerate() {
            if present[g] && a.is_none() {
                groups_held += 1;
                check_buckets_held(ctx, groups_held, n, interval)?;
                *a = Some(new_states(
                    &plan.slots.iter().map(|s| s.kind).collect::<Vec<_>>(),
                    n,
                ));
            }
        }
    }
    acc.into_iter()
        .enumerate()
        .map(|(g, a)| {
            let Some(states) = a else {
                return Ok(None);
            };
            ctx.check_deadline()?;
            let rows = finish_group(
                plan,
                &layout,
                &states,
                &fill,
                window,
                shows_point_time,
                no_bucket_time,
                bounds.has_start,
                shown,
                present[g],
                sel,
            );
            Ok((!rows.is_empty()).then_some(rows))
        })
        .collect()
}

/// Refuses a statement whose groups would hold more buckets than `max_rows` in all:
/// `GROUP BY time()` with many groups (each with `n` buckets, which `fill()` turns into
/// rows and which take memory even when empty) is bounded as a whole, not per group.
fn check_buckets_held(
    ctx: &Ctx<'_>,
    groups: usize,
    n: usize,
    interval: i64,
) -> Result<(), QueryError> {
    if interval > 0 && groups.saturating_mul(n) > ctx.limits.max_rows {
        return Err(QueryError::Limit(format!(
            "max-select-buckets limit exceeded: {groups} groups of {n} GROUP BY time({}) buckets hold more than {} buckets (narrow the time range, use a larger interval or fewer groups, or raise query.max_rows)",
            crate::ast::Duration(interval),
            ctx.limits.max_rows
        )));
    }
    Ok(())
}

/// Orders values of one field: numbers by value, then booleans, then strings.
fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Unsigned(x), Value::Unsigned(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        },
    }
}

/// A field's value in one series at one time, or null.
fn value_at(ctx: &Ctx<'_>, info: &SeriesInfo, field: &str, t: i64) -> Result<Value, QueryError> {
    Ok(
        match read_field(ctx, info, field, TimeRange::new(t, t.saturating_add(1)))? {
            Some(d) if !d.ts.is_empty() => d.col.value(0),
            _ => Value::Null,
        },
    )
}

/// Rows of a lone selector with tag or field columns: each row is a selected point, and
/// the other columns are read from that point's series at its time.
#[allow(clippy::too_many_arguments)]
fn point_rows(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    layout: &Layout,
    partials: Vec<Partial>,
    chosen: &[Chosen],
    n_groups: usize,
    fill: &Fill,
) -> Result<GroupRows, QueryError> {
    let slot = &plan.slots[0];
    let kind = slot.kind;
    let n = layout.n;
    let multi = matches!(kind, AggKind::Top(_) | AggKind::Bottom(_));
    // Per group and bucket, each series' candidate points: (time, value, series).
    type Candidate = Vec<(i64, Value, usize)>;
    type Candidates = Vec<Candidate>;
    let mut cand: Vec<Option<Candidates>> = vec![None; n_groups];
    let mut groups_held = 0usize;
    for (g, series, _, _, states) in partials {
        ctx.check_deadline()?;
        if cand[g].is_none() {
            groups_held += 1;
            check_buckets_held(ctx, groups_held, n, layout.interval)?;
        }
        let c = cand[g].get_or_insert_with(|| vec![Vec::new(); n]);
        for (b, st) in states[..n].iter().enumerate() {
            if let AggKind::Percentile(_) = kind {
                // The rank is over every point of the group: keep them all.
                c[b].extend(st.points().into_iter().map(|(t, v)| (t, v, series)));
            } else if multi {
                let mut best = st.best_rows(kind);
                if slot.by_tag.is_some() {
                    best.truncate(1);
                }
                c[b].extend(best.into_iter().map(|(t, v)| (t, v, series)));
            } else if let (v, Some(t)) = st.finish(kind, slot.ty, 0)
                && v != Value::Null
            {
                c[b].push((t, v, series));
            }
        }
    }
    let mut proj_fields = Vec::new();
    for p in &plan.projs {
        p.fields(&mut proj_fields);
    }
    let keys: Vec<&strata_engine::model::SeriesKey> = chosen.iter().map(|c| &c.info.key).collect();
    let mut out = Vec::with_capacity(n_groups);
    for c in cand {
        let Some(buckets) = c else {
            out.push(None);
            continue;
        };
        ctx.check_deadline()?;
        // (row time, value, series, point time) per row; series `usize::MAX`: an empty
        // bucket. Under DESC, top/bottom buckets come newest first, rows within each in
        // time order (InfluxDB's order).
        let mut picked: Vec<(i64, Value, usize, i64)> = Vec::new();
        let desc_buckets = multi && sel.order == Some(Order::Desc);
        let mut buckets: Vec<(usize, Candidate)> = buckets.into_iter().enumerate().collect();
        if desc_buckets {
            buckets.reverse();
        }
        for (b, mut pts) in buckets {
            let bucket_time = layout.time(b);
            if pts.is_empty() {
                if !multi && layout.interval > 0 && !matches!(fill, Fill::None) {
                    let v = match *fill {
                        Fill::Integer(i) => Value::Integer(i),
                        Fill::Float(f) => Value::Float(f),
                        _ => Value::Null,
                    };
                    picked.push((bucket_time, v, usize::MAX, bucket_time));
                }
                continue;
            }
            let best_first = |a: &(i64, Value, usize), b: &(i64, Value, usize)| {
                let by_value = cmp_values(&a.1, &b.1);
                let by_value = match kind {
                    AggKind::Max | AggKind::Top(_) => by_value.reverse(),
                    AggKind::Min | AggKind::Bottom(_) => by_value,
                    AggKind::Last => b.0.cmp(&a.0),
                    _ => a.0.cmp(&b.0),
                };
                by_value.then(a.0.cmp(&b.0)).then(a.2.cmp(&b.2))
            };
            pts.sort_by(best_first);
            if let AggKind::Percentile(p) = kind {
                // Nearest rank over the group's points, ascending by value then time.
                pts.sort_by(|a, b| {
                    cmp_values(&a.1, &b.1)
                        .then(a.0.cmp(&b.0))
                        .then(a.2.cmp(&b.2))
                });
                let rank = (pts.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
                if rank >= 0 && (rank as usize) < pts.len() {
                    let q = pts.swap_remove(rank as usize);
                    let t = if layout.interval > 0 {
                        bucket_time
                    } else {
                        q.0
                    };
                    picked.push((t, q.1, q.2, q.0));
                }
            } else if multi {
                if let Some(tag) = &slot.by_tag {
                    let mut seen = HashSet::new();
                    pts.retain(|p| seen.insert(keys[p.2].tag(tag).unwrap_or("").to_owned()));
                }
                let limit = match kind {
                    AggKind::Top(k) | AggKind::Bottom(k) => k,
                    _ => 1,
                };
                pts.truncate(limit);
                let mut ranked: Vec<(usize, (i64, Value, usize))> =
                    pts.into_iter().enumerate().collect();
                ranked.sort_by_key(|(rank, p)| (p.0, *rank));
                picked.extend(ranked.into_iter().map(|(_, p)| (p.0, p.1, p.2, p.0)));
            } else if let Some(p) = pts.into_iter().next() {
                // With GROUP BY time the row is at its bucket; the extra columns are read
                // at the point's own time.
                let t = if layout.interval > 0 {
                    bucket_time
                } else {
                    p.0
                };
                picked.push((t, p.1, p.2, p.0));
            }
        }
        // Values of the selected fields at each selected point.
        let mut fields: Vec<Vec<Value>> = Vec::with_capacity(proj_fields.len());
        for f in &proj_fields {
            let mut col = Vec::with_capacity(picked.len());
            for (_, _, s, t) in &picked {
                col.push(if *s == usize::MAX {
                    Value::Null
                } else {
                    value_at(ctx, &chosen[*s].info, f, *t)?
                });
            }
            fields.push(col);
        }
        let values: Vec<Value> = picked.iter().map(|p| p.1.clone()).collect();
        let cells = Cells {
            times: picked.iter().map(|p| p.0).collect(),
            aggs: vec![values; plan.slots.len()],
            fields,
            field_names: &proj_fields,
            keys: keys.clone(),
            row_key: picked
                .iter()
                .map(|p| u32::try_from(p.2).unwrap_or(u32::MAX))
                .collect(),
            default_unit: layout.interval.max(1),
        };
        let cols: Vec<Vec<Value>> = plan.projs.iter().map(|p| cells.eval(p)).collect();
        let mut rows: Vec<Vec<Value>> = (0..cells.times.len())
            .map(|r| {
                let mut row = Vec::with_capacity(cols.len() + 1);
                row.push(Value::Time(cells.times[r]));
                row.extend(cols.iter().map(|c| c[r].clone()));
                row
            })
            .collect();
        if sel.order == Some(Order::Desc) && !multi {
            rows.reverse();
        }
        let rows = limit_rows(rows, sel);
        out.push((!rows.is_empty()).then_some(rows));
    }
    Ok(out)
}

/// Finishes one series' integral slots (`states[k * n + bucket]`) into areas, so that
/// series add up rather than interleave.
fn integrate(states: &mut [State], kinds: &[AggKind], layout: &Layout) {
    let n = layout.n;
    for (k, kind) in kinds.iter().enumerate() {
        if let AggKind::Integral(unit) = kind {
            let starts: Vec<i64> = (0..n).map(|b| layout.time(b)).collect();
            State::integrate_buckets(
                &mut states[k * n..(k + 1) * n],
                *unit,
                &starts,
                layout.interval,
            );
        }
    }
}

fn new_states(kinds: &[AggKind], n: usize) -> Vec<State> {
    let mut v = Vec::with_capacity(kinds.len() * n);
    for k in kinds {
        v.extend(std::iter::repeat_n(k.new_state(), n));
    }
    v
}

/// Folds one piece into per-bucket states (`states[k * n + bucket]` for slot `k`).
/// `carry` is the last value of the series fed so far (for counters).
/// The end of the run of `ts` from `from` (whose first time is below `end_t`) that stays
/// below `end_t`: a galloping search, so a bucket's end is found near where the scan
/// already is instead of by probing across the whole piece (which misses the cache).
fn run_end(ts: &[i64], from: usize, end_t: i64) -> usize {
    let n = ts.len();
    let mut lo = from;
    let mut step = 1;
    let mut hi = from + 1;
    while hi < n && ts[hi] < end_t {
        lo = hi;
        step *= 2;
        hi = lo + step;
    }
    let hi = hi.min(n);
    lo + 1 + ts[lo + 1..hi].partition_point(|&t| t < end_t)
}

/// `clip[k]`: the time range slot `k` takes points from.
#[allow(clippy::too_many_arguments)]
fn feed(
    states: &mut [State],
    kinds: &[AggKind],
    clip: &[(i64, i64)],
    layout: &Layout,
    piece: Piece<'_>,
    scratch: &mut Vec<f64>,
    carry: &mut Option<f64>,
) {
    let counters = kinds.iter().any(|k| {
        matches!(
            k,
            AggKind::Rate(_) | AggKind::Increase | AggKind::HistogramQuantile(_)
        )
    });
    let n = layout.n;
    match piece {
        Piece::Summary {
            count,
            min_ts,
            max_ts,
            stats,
        } => {
            let b = layout.bucket(min_ts);
            for k in 0..kinds.len() {
                let (lo, hi) = clip[k];
                if min_ts >= lo && max_ts < hi {
                    states[k * n + b].update_stats(count, min_ts, &stats);
                }
            }
        }
        Piece::Points { timestamps, values } => {
            let mut i = 0;
            while i < timestamps.len() {
                let b = layout.bucket(timestamps[i]);
                let end_t = layout.bucket_end(b);
                let j = if end_t == i64::MAX {
                    timestamps.len()
                } else {
                    run_end(timestamps, i, end_t)
                };
                for (k, kind) in kinds.iter().enumerate() {
                    let (lo, hi) = clip[k];
                    let (a, z) = if lo == i64::MIN && hi == i64::MAX {
                        (i, j)
                    } else {
                        let run = &timestamps[i..j];
                        (
                            i + run.partition_point(|&t| t < lo),
                            i + run.partition_point(|&t| t < hi),
                        )
                    };
                    let st = &mut states[k * n + b];
                    if counters {
                        st.set_counter_prev(*carry);
                    }
                    st.update(*kind, timestamps, &values, a..z, scratch);
                }
                if counters && j > i {
                    *carry = match values {
                        ValuesView::Float(v) => Some(v[j - 1]),
                        ValuesView::Integer(v) => Some(v[j - 1] as f64),
                        ValuesView::Unsigned(v) => Some(v[j - 1] as f64),
                        _ => None,
                    };
                }
                i = j.max(i + 1);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_group(
    plan: &Plan,
    layout: &Layout,
    states: &[State],
    fill: &Fill,
    window: i64,
    shows_point_time: bool,
    no_bucket_time: i64,
    has_start: bool,
    shown: (i64, i64),
    present: bool,
    sel: &Select,
) -> Vec<Vec<Value>> {
    let n = layout.n;
    // Top/bottom: several rows per bucket with the points' own times.
    if let [slot] = plan.slots.as_slice()
        && matches!(slot.kind, AggKind::Top(_) | AggKind::Bottom(_))
    {
        let mut rows: Vec<Vec<Value>> = Vec::new();
        // Under ORDER BY time DESC the buckets come newest first, but InfluxDB keeps each
        // bucket's top/bottom rows in time order.
        let desc = sel.order == Some(Order::Desc);
        for b in 0..n {
            let st = &states[if desc { n - 1 - b } else { b }];
            for (t, v) in st.finish_rows(slot.kind) {
                rows.push(vec![Value::Time(t), v]);
            }
        }
        return limit_rows(rows, sel);
    }
    let mut times: Vec<i64> = (0..n)
        .map(|b| {
            if layout.interval > 0 {
                layout.time(b)
            } else {
                no_bucket_time
            }
        })
        .collect();
    let mut cols: Vec<Vec<Value>> = Vec::with_capacity(plan.slots.len());
    for (s, slot) in plan.slots.iter().enumerate() {
        let mut col = Vec::with_capacity(n);
        for b in 0..n {
            let (v, t) = states[s * n + b].finish(slot.kind, slot.ty, window);
            // A count over no points is an empty bucket, like InfluxDB's.
            let v = if v == Value::Integer(0) && slot.kind == AggKind::Count {
                Value::Null
            } else {
                v
            };
            if shows_point_time && let Some(t) = t {
                times[b] = t;
            }
            col.push(v);
        }
        cols.push(col);
    }
    // With GROUP BY time, a group whose every aggregate is empty does not show (InfluxDB
    // emits no series for it), unless it has points beyond buckets cut short by LIMIT.
    if !present && layout.interval > 0 && cols.iter().all(|c| c.iter().all(|v| *v == Value::Null)) {
        return Vec::new();
    }
    let mut keep = vec![true; n];
    // Without a lower bound a group's buckets start at its own first point.
    if !has_start && layout.interval > 0 {
        let first = (0..n)
            .find(|&b| cols.iter().any(|c| c[b] != Value::Null))
            .unwrap_or(n);
        keep[..first].iter_mut().for_each(|k| *k = false);
    }
    // Rows in the order shown; fill(previous) carries values along that order, as in
    // InfluxDB.
    let desc = sel.order == Some(Order::Desc);
    if desc {
        times.reverse();
        keep.reverse();
        cols.iter_mut().for_each(|c| c.reverse());
    }
    // Fill empty buckets.
    match fill {
        Fill::None => {
            for (b, k) in keep.iter_mut().enumerate() {
                *k = *k && cols.iter().any(|c| c[b] != Value::Null);
            }
        }
        Fill::Null => {
            // A count over an empty bucket is 0, not null.
            for (c, slot) in cols.iter_mut().zip(&plan.slots) {
                if slot.kind == AggKind::Count {
                    c.iter_mut()
                        .filter(|v| **v == Value::Null)
                        .for_each(|v| *v = Value::Integer(0));
                }
            }
        }
        Fill::Previous => {
            for c in &mut cols {
                let mut last = Value::Null;
                for v in c.iter_mut() {
                    if *v == Value::Null {
                        *v = last.clone();
                    } else {
                        last = v.clone();
                    }
                }
            }
        }
        Fill::Linear => {
            for c in &mut cols {
                let known: Vec<usize> = (0..n).filter(|&b| c[b] != Value::Null).collect();
                for w in known.windows(2) {
                    let (a, z) = (w[0], w[1]);
                    for b in a + 1..z {
                        c[b] = match (&c[a], &c[z]) {
                            (Value::Integer(x), Value::Integer(y)) => {
                                // In i128: `y - x` overflows an i64 for distant values;
                                // the result lies between x and y.
                                let (x, y) = (i128::from(*x), i128::from(*y));
                                Value::Integer(clamp_i64(
                                    x + (y - x) * (b - a) as i128 / (z - a) as i128,
                                ))
                            }
                            (x, y) => match (x.as_f64(), y.as_f64()) {
                                (Some(x), Some(y)) => {
                                    Value::Float(x + (y - x) * (b - a) as f64 / (z - a) as f64)
                                }
                                _ => Value::Null,
                            },
                        };
                    }
                }
            }
        }
        Fill::Integer(_) | Fill::Float(_) => {
            for (c, slot) in cols.iter_mut().zip(&plan.slots) {
                let int_out = matches!(slot.ty, FieldType::Integer | FieldType::Unsigned)
                    && !matches!(
                        slot.kind,
                        AggKind::Mean
                            | AggKind::Median
                            | AggKind::Stddev
                            | AggKind::Integral(_)
                            | AggKind::Rate(_)
                            | AggKind::Increase
                    )
                    || slot.kind == AggKind::Count;
                let value = match *fill {
                    Fill::Integer(i) if int_out => Value::Integer(i),
                    Fill::Integer(i) => Value::Float(i as f64),
                    // The number takes the column's type: 2.5 fills an integer column as 2.
                    Fill::Float(f) if int_out => Value::Integer(f as i64),
                    Fill::Float(f) => Value::Float(f),
                    _ => Value::Null,
                };
                for v in c.iter_mut() {
                    if *v == Value::Null {
                        *v = value.clone();
                    }
                }
            }
        }
    }
    // Transformations see the rows in the order they are shown.
    let rows_idx: Vec<usize> = (0..n).filter(|&b| keep[b]).collect();
    let ctx = Cells {
        times: rows_idx.iter().map(|&b| times[b]).collect(),
        aggs: cols
            .iter()
            .map(|c| rows_idx.iter().map(|&b| c[b].clone()).collect())
            .collect(),
        fields: Vec::new(),
        field_names: &[],
        keys: Vec::new(),
        row_key: Vec::new(),
        default_unit: layout.interval.max(1),
    };
    let out_cols: Vec<Vec<Value>> = plan.projs.iter().map(|p| ctx.eval(p)).collect();
    let has_transform = plan
        .projs
        .iter()
        .any(|p| p.has(&|q| matches!(q, Proj::Tr(..))));
    let mut rows = Vec::with_capacity(ctx.times.len());
    for (r, &t) in ctx.times.iter().enumerate() {
        let cells: Vec<Value> = out_cols.iter().map(|c| c[r].clone()).collect();
        if has_transform && cells.iter().all(|v| *v == Value::Null) {
            continue;
        }
        if t < shown.0 || t >= shown.1 {
            continue;
        }
        let mut row = Vec::with_capacity(cells.len() + 1);
        row.push(Value::Time(t));
        row.extend(cells);
        rows.push(row);
    }
    limit_rows(rows, sel)
}

/// OFFSET and LIMIT of rows already in the order shown.
fn limit_rows(mut rows: Vec<Vec<Value>>, sel: &Select) -> Vec<Vec<Value>> {
    let off = count(sel.offset.unwrap_or(0));
    let lim = sel.limit.map_or(usize::MAX, count);
    if off > 0 || lim < rows.len() {
        rows = rows.into_iter().skip(off).take(lim).collect();
    }
    rows
}

/// Column-wise inputs for evaluating projections over a run of rows.
struct Cells<'a> {
    times: Vec<i64>,
    /// Aggregate slot values per row.
    aggs: Vec<Vec<Value>>,
    /// Field values per row, by position in `field_names`.
    fields: Vec<Vec<Value>>,
    field_names: &'a [String],
    /// Series keys of raw rows, and each row's index into them.
    keys: Vec<&'a strata_engine::model::SeriesKey>,
    row_key: Vec<u32>,
    /// The derivative unit when a call names none.
    default_unit: i64,
}

impl Cells<'_> {
    fn eval(&self, p: &Proj) -> Vec<Value> {
        let n = self.times.len();
        match p {
            Proj::Agg(i) => self.aggs[*i].clone(),
            Proj::Field(f) => match self.field_names.iter().position(|x| x == f) {
                Some(i) => self.fields[i].clone(),
                None => vec![Value::Null; n],
            },
            Proj::Tag(k) => self
                .row_key
                .iter()
                .map(|&r| {
                    self.keys
                        .get(r as usize)
                        .and_then(|key| key.tag(k))
                        .map_or(Value::Null, |s| Value::String(s.to_owned()))
                })
                .collect(),
            Proj::Lit(v) => vec![v.clone(); n],
            Proj::Bin(op, a, b) => {
                let (a, b) = (self.eval(a), self.eval(b));
                a.iter().zip(&b).map(|(x, y)| binary(*op, x, y)).collect()
            }
            Proj::Math(m, a) => self.eval(a).iter().map(|v| m.apply(v)).collect(),
            Proj::Tr(t, a) => {
                let vals = self.eval(a);
                let rows: Vec<(i64, Value)> = self.times.iter().copied().zip(vals).collect();
                t.apply(&rows, self.default_unit)
            }
        }
    }
}

fn to_scalar(v: &Value) -> Scalar {
    match v {
        Value::Null | Value::Time(_) => Scalar::Null,
        Value::Float(f) => Scalar::Float(*f),
        Value::Integer(i) => Scalar::Integer(*i),
        Value::Unsigned(u) => Scalar::Unsigned(*u),
        Value::String(s) => Scalar::String(s.clone()),
        Value::Boolean(b) => Scalar::Boolean(*b),
    }
}

fn binary(op: BinaryOp, a: &Value, b: &Value) -> Value {
    if matches!(a, Value::Null) || matches!(b, Value::Null) {
        return Value::Null;
    }
    match super::cond::arith(op, &to_scalar(a), &to_scalar(b)) {
        Scalar::Float(f) => Value::Float(f),
        Scalar::Integer(i) => Value::Integer(i),
        _ => Value::Null,
    }
}

/// Values of one field over a series' joined rows.
enum Col {
    F(Vec<f64>),
    I(Vec<i64>),
    U(Vec<u64>),
    B(Vec<bool>),
    S(Vec<String>),
}

impl Col {
    fn view(&self) -> ValuesView<'_> {
        match self {
            Col::F(v) => ValuesView::Float(v),
            Col::I(v) => ValuesView::Integer(v),
            Col::U(v) => ValuesView::Unsigned(v),
            Col::B(v) => ValuesView::Boolean(v),
            Col::S(v) => ValuesView::String(v),
        }
    }

    fn new(ty: FieldType) -> Col {
        match ty {
            FieldType::Float => Col::F(Vec::new()),
            FieldType::Integer => Col::I(Vec::new()),
            FieldType::Unsigned => Col::U(Vec::new()),
            FieldType::Boolean => Col::B(Vec::new()),
            FieldType::String => Col::S(Vec::new()),
        }
    }

    fn push(&mut self, v: &ValuesView<'_>, i: usize) {
        match (self, v) {
            (Col::F(o), ValuesView::Float(x)) => o.push(x[i]),
            (Col::I(o), ValuesView::Integer(x)) => o.push(x[i]),
            (Col::U(o), ValuesView::Unsigned(x)) => o.push(x[i]),
            (Col::B(o), ValuesView::Boolean(x)) => o.push(x[i]),
            (Col::S(o), ValuesView::String(x)) => o.push(x[i].clone()),
            _ => {}
        }
    }

    fn extend(&mut self, v: &ValuesView<'_>) {
        match (self, v) {
            (Col::F(o), ValuesView::Float(x)) => o.extend_from_slice(x),
            (Col::I(o), ValuesView::Integer(x)) => o.extend_from_slice(x),
            (Col::U(o), ValuesView::Unsigned(x)) => o.extend_from_slice(x),
            (Col::B(o), ValuesView::Boolean(x)) => o.extend_from_slice(x),
            (Col::S(o), ValuesView::String(x)) => o.extend_from_slice(x),
            _ => {}
        }
    }

    fn value(&self, i: usize) -> Value {
        match self {
            Col::F(v) => Value::Float(v[i]),
            Col::I(v) => Value::Integer(v[i]),
            Col::U(v) => Value::Unsigned(v[i]),
            Col::B(v) => Value::Boolean(v[i]),
            Col::S(v) => Value::String(v[i].clone()),
        }
    }

    fn scalar(&self, i: usize) -> Scalar {
        match self {
            Col::F(v) => Scalar::Float(v[i]),
            Col::I(v) => Scalar::Integer(v[i]),
            Col::U(v) => Scalar::Unsigned(v[i]),
            Col::B(v) => Scalar::Boolean(v[i]),
            Col::S(v) => Scalar::String(v[i].clone()),
        }
    }
}

/// One field's points as read.
struct FieldData {
    ts: Vec<i64>,
    col: Col,
}

/// A series' fields joined by time and filtered by the residual condition: for each
/// kept row its time, and for each field the row's position in that field's data.
struct Rows {
    times: Vec<i64>,
    data: Vec<Option<FieldData>>,
    /// `pos[f][r]`: index into `data[f]` for row `r`, or `u32::MAX` if absent.
    pos: Vec<Vec<u32>>,
}

impl Rows {
    /// The kept points of field `f` (in `need` order) as contiguous arrays.
    fn column(&self, f: usize) -> Option<(Vec<i64>, Col)> {
        let d = self.data.get(f)?.as_ref()?;
        let mut ts = Vec::new();
        let mut col = Col::new(match d.col {
            Col::F(_) => FieldType::Float,
            Col::I(_) => FieldType::Integer,
            Col::U(_) => FieldType::Unsigned,
            Col::B(_) => FieldType::Boolean,
            Col::S(_) => FieldType::String,
        });
        let view = d.col.view();
        for (r, &p) in self.pos[f].iter().enumerate() {
            if p != u32::MAX {
                ts.push(self.times[r]);
                col.push(&view, p as usize);
            }
        }
        Some((ts, col))
    }

    fn value(&self, f: usize, r: usize) -> Value {
        match (&self.data[f], self.pos[f][r]) {
            (Some(d), p) if p != u32::MAX => d.col.value(p as usize),
            _ => Value::Null,
        }
    }
}

/// Reads one field of a series over `range` (`None` if the series lacks it).
fn read_field(
    ctx: &Ctx<'_>,
    info: &SeriesInfo,
    field: &str,
    range: TimeRange,
) -> Result<Option<FieldData>, QueryError> {
    let Some((_, col, ty)) = info.columns.iter().find(|(n, _, _)| n == field) else {
        return Ok(None);
    };
    let mut fd = FieldData {
        ts: Vec::new(),
        col: Col::new(*ty),
    };
    ctx.db
        .scan_column(*col, *ty, range, &mut |_, _| false, &mut |p| {
            if let Piece::Points { timestamps, values } = p {
                fd.ts.extend_from_slice(timestamps);
                fd.col.extend(&values);
            }
            Ok(())
        })?;
    Ok(Some(fd))
}

/// Union of the timestamps of `data`.
fn union_times(data: &[&FieldData]) -> Vec<i64> {
    match data {
        [] => Vec::new(),
        [one] => one.ts.clone(),
        [first, rest @ ..] if rest.iter().all(|d| d.ts == first.ts) => first.ts.clone(),
        many => {
            let mut all: Vec<i64> = many.iter().flat_map(|d| d.ts.iter().copied()).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// For each of `times` (sorted), its index in `d`, or `u32::MAX`.
fn positions(d: Option<&FieldData>, times: &[i64]) -> Vec<u32> {
    match d {
        None => vec![u32::MAX; times.len()],
        Some(d) if d.ts.as_slice() == times => (0..times.len() as u32).collect(),
        Some(d) => {
            let mut j = 0usize;
            times
                .iter()
                .map(|&t| {
                    while j < d.ts.len() && d.ts[j] < t {
                        j += 1;
                    }
                    if j < d.ts.len() && d.ts[j] == t {
                        j as u32
                    } else {
                        u32::MAX
                    }
                })
                .collect()
        }
    }
}

/// A field's data and, per row, its position in that data.
type FieldLookup<'a> = dyn Fn(&str) -> Option<(&'a FieldData, &'a [u32])> + 'a;

/// Which of `n` rows satisfy `r`: comparisons of a numeric field with a number run as
/// a loop over the column; anything else is evaluated row by row.
fn residual_mask<'a>(r: &Residual, n: usize, lookup: &FieldLookup<'a>) -> Vec<bool> {
    use super::cond::Operand;
    match r {
        Residual::And(a, b) => {
            let mut m = residual_mask(a, n, lookup);
            if m.iter().any(|&x| x) {
                let m2 = residual_mask(b, n, lookup);
                m.iter_mut().zip(m2).for_each(|(x, y)| *x &= y);
            }
            return m;
        }
        Residual::Or(a, b) => {
            let mut m = residual_mask(a, n, lookup);
            let m2 = residual_mask(b, n, lookup);
            m.iter_mut().zip(m2).for_each(|(x, y)| *x |= y);
            return m;
        }
        Residual::Cmp { op, lhs, rhs } => {
            let flipped = |op: BinaryOp| match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::LtEq => BinaryOp::GtEq,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::GtEq => BinaryOp::LtEq,
                o => o,
            };
            let lit = |s: &Scalar| match s {
                Scalar::Float(f) => Some(*f),
                Scalar::Integer(i) => Some(*i as f64),
                _ => None,
            };
            let simple = match (lhs, rhs) {
                (Operand::Field(f), Operand::Lit(l)) => lit(l).map(|x| (f, *op, x)),
                (Operand::Lit(l), Operand::Field(f)) => lit(l).map(|x| (f, flipped(*op), x)),
                _ => None,
            };
            if let Some((f, op, x)) = simple {
                let Some((d, pos)) = lookup(f) else {
                    return vec![false; n];
                };
                macro_rules! cmp_loop {
                    ($v:expr, $conv:expr) => {{
                        let test = |a: f64| match op {
                            BinaryOp::Eq => a == x,
                            BinaryOp::NotEq => a != x,
                            BinaryOp::Lt => a < x,
                            BinaryOp::LtEq => a <= x,
                            BinaryOp::Gt => a > x,
                            BinaryOp::GtEq => a >= x,
                            _ => false,
                        };
                        return pos
                            .iter()
                            .map(|&p| p != u32::MAX && test($conv($v[p as usize])))
                            .collect();
                    }};
                }
                match &d.col {
                    Col::F(v) => cmp_loop!(v, |a: f64| a),
                    Col::I(v) => cmp_loop!(v, |a: i64| a as f64),
                    Col::U(v) => cmp_loop!(v, |a: u64| a as f64),
                    _ => {}
                }
            }
        }
        Residual::Regex { .. } => {}
    }
    (0..n)
        .map(|row| {
            r.eval(&|name| match lookup(name) {
                Some((d, pos)) if pos[row] != u32::MAX => d.col.scalar(pos[row] as usize),
                _ => Scalar::Null,
            })
        })
        .collect()
}

/// Reads fields `need` of a series over `range`, joins them by time and keeps the rows
/// where `residual` holds. The condition's fields are read first: when no row passes,
/// the other fields are never read.
fn read_rows(
    ctx: &Ctx<'_>,
    info: &SeriesInfo,
    need: &[String],
    range: TimeRange,
    residual: Option<&Residual>,
) -> Result<Rows, QueryError> {
    let mut data: Vec<Option<FieldData>> = (0..need.len()).map(|_| None).collect();
    let mut times: Vec<i64>;
    let mut read_range = range;
    if let Some(r) = residual {
        let mut cf = Vec::new();
        r.fields(&mut cf);
        let idx: Vec<usize> = cf
            .iter()
            .filter_map(|f| need.iter().position(|n| n == f))
            .collect();
        for &i in &idx {
            data[i] = read_field(ctx, info, &need[i], range)?;
        }
        let present: Vec<&FieldData> = idx.iter().filter_map(|&i| data[i].as_ref()).collect();
        let cand = union_times(&present);
        let pos: Vec<Vec<u32>> = idx
            .iter()
            .map(|&i| positions(data[i].as_ref(), &cand))
            .collect();
        let mask = {
            let (data, pos) = (&data, &pos);
            residual_mask(r, cand.len(), &|name| {
                let k = idx.iter().position(|&i| need[i] == name)?;
                Some((data[idx[k]].as_ref()?, &pos[k][..]))
            })
        };
        times = cand
            .iter()
            .zip(&mask)
            .filter(|(_, m)| **m)
            .map(|(t, _)| *t)
            .collect();
        if let (Some(&a), Some(&b)) = (times.first(), times.last()) {
            read_range = TimeRange::new(a, b.saturating_add(1));
        }
        if times.is_empty() {
            let pos = vec![Vec::new(); need.len()];
            return Ok(Rows { times, data, pos });
        }
    } else {
        times = Vec::new();
    }
    for (i, f) in need.iter().enumerate() {
        if data[i].is_none() {
            data[i] = read_field(ctx, info, f, read_range)?;
        }
    }
    if residual.is_none() {
        let present: Vec<&FieldData> = data.iter().flatten().collect();
        times = union_times(&present);
    }
    let pos: Vec<Vec<u32>> = data.iter().map(|d| positions(d.as_ref(), &times)).collect();
    Ok(Rows { times, data, pos })
}

fn raw(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    bounds: Bounds,
    chosen: &[Chosen],
    n_groups: usize,
) -> Result<GroupRows, QueryError> {
    let mut proj_fields = Vec::new();
    for p in &plan.projs {
        p.fields(&mut proj_fields);
    }
    let has_transform = plan
        .projs
        .iter()
        .any(|p| p.has(&|q| matches!(q, Proj::Tr(..))));
    let desc = sel.order == Some(Order::Desc);
    // Rows a group may show: with LIMIT, each series needs at most that many.
    let need_rows = limit_plus_offset(sel.limit, sel.offset).filter(|_| !has_transform);
    let range = bounds.range();
    let per_series: Vec<SeriesRows> = chosen
        .par_iter()
        .enumerate()
        .map(|(i, c)| -> Result<SeriesRows, QueryError> {
            ctx.check_deadline()?;
            let mut need = proj_fields.clone();
            if let Some(r) = &c.residual {
                r.fields(&mut need);
            }
            let rows = match need_rows {
                None => read_rows(ctx, &c.info, &need, range, c.residual.as_ref())?,
                Some(k) => read_rows_windowed(ctx, c, &need, range, k, desc)?,
            };
            let mut out = series_rows(&rows, &need, &proj_fields, i as u32);
            if let Some(k) = need_rows {
                // Only the first (or last) k rows of a series can be shown.
                let n = out.times.len();
                if n > k {
                    let keep = if desc { n - k..n } else { 0..k };
                    out.times = out.times[keep.clone()].to_vec();
                    for f in &mut out.fields {
                        *f = f[keep.clone()].to_vec();
                    }
                }
            }
            Ok(out)
        })
        .collect::<Result<_, _>>()?;
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); n_groups];
    let mut total = 0usize;
    for (i, c) in chosen.iter().enumerate() {
        let n = per_series[i].times.len();
        if n == 0 {
            continue;
        }
        total += n;
        // With LIMIT + OFFSET beyond max_rows, the rows held are bounded the same way.
        if need_rows.is_none_or(|k| k > ctx.limits.max_rows) && total > ctx.limits.max_rows {
            return Err(too_many_rows(ctx));
        }
        members[c.group].push(i as u32);
    }
    let keys: Vec<&strata_engine::model::SeriesKey> = chosen.iter().map(|c| &c.info.key).collect();
    let mut per_series = per_series;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        if m.is_empty() {
            out.push(None);
            continue;
        }
        ctx.check_deadline()?;
        // The group's rows in time order; equal times keep series (key) order.
        let mut order: Vec<(i64, u32, u32)> = Vec::new();
        for &si in &m {
            let sr = &per_series[si as usize];
            order.extend(sr.times.iter().enumerate().map(|(r, &t)| (t, si, r as u32)));
        }
        order.sort_unstable_by_key(|&(t, si, r)| (t, si, r));
        // Transformations see the rows in the order they are shown.
        if desc {
            order.reverse();
        }
        // Each series belongs to one group: its values move, not copy.
        let fields: Vec<Vec<Value>> = (0..proj_fields.len())
            .map(|f| {
                order
                    .iter()
                    .map(|&(_, si, r)| {
                        std::mem::replace(
                            &mut per_series[si as usize].fields[f][r as usize],
                            Value::Null,
                        )
                    })
                    .collect()
            })
            .collect();
        {
            let cells = Cells {
                times: order.iter().map(|o| o.0).collect(),
                aggs: Vec::new(),
                fields,
                field_names: &proj_fields,
                keys: keys.clone(),
                row_key: order.iter().map(|o| o.1).collect(),
                default_unit: 1_000_000_000,
            };
            let rows = project(plan, cells, has_transform);
            let rows = limit_rows(rows, sel);
            out.push((!rows.is_empty()).then_some(rows));
        }
    }
    Ok(out)
}

/// A series' kept rows: times and, per projected field, its values.
struct SeriesRows {
    times: Vec<i64>,
    fields: Vec<Vec<Value>>,
}

fn series_rows(rows: &Rows, need: &[String], proj_fields: &[String], _series: u32) -> SeriesRows {
    let n = rows.times.len();
    SeriesRows {
        times: rows.times.clone(),
        fields: proj_fields
            .iter()
            .map(|f| match need.iter().position(|x| x == f) {
                Some(i) => (0..n).map(|r| rows.value(i, r)).collect(),
                None => vec![Value::Null; n],
            })
            .collect(),
    }
}

/// Reads just enough of a series for `k` rows from the start (or, `desc`, the end) of
/// `range`, widening a window until it holds `k` rows or covers the range.
fn read_rows_windowed(
    ctx: &Ctx<'_>,
    c: &Chosen,
    need: &[String],
    range: TimeRange,
    k: usize,
    desc: bool,
) -> Result<Rows, QueryError> {
    let mut bounds: Option<(i64, i64)> = None;
    for f in need {
        if let Some((_, col, _)) = c.info.columns.iter().find(|(n, _, _)| n == f)
            && let Some((lo, hi)) = ctx.db.column_bounds(*col, range)?
        {
            bounds = Some(bounds.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    let Some((lo, hi)) = bounds else {
        return read_rows(ctx, &c.info, need, TimeRange::new(0, 0), None);
    };
    // Saturating: `k` comes from LIMIT + OFFSET and may be anything up to u64::MAX.
    let mut width: i64 =
        60_000_000_000i64.saturating_mul(i64::try_from(k.max(1)).unwrap_or(i64::MAX));
    loop {
        ctx.check_deadline()?;
        // Once the width saturates the window is the whole range, which always covers.
        if width == i64::MAX {
            return read_rows(ctx, &c.info, need, range, c.residual.as_ref());
        }
        let win = if desc {
            TimeRange::new(
                hi.saturating_sub(width).saturating_add(1).max(range.start),
                hi.saturating_add(1),
            )
        } else {
            TimeRange::new(lo, lo.saturating_add(width).min(range.end))
        };
        let covers = win.start <= lo && win.end > hi;
        let rows = read_rows(ctx, &c.info, need, win, c.residual.as_ref())?;
        if rows.times.len() >= k || covers {
            return Ok(rows);
        }
        width = width.saturating_mul(16);
    }
}

/// Evaluates the projections over rows; drops rows whose every field-derived cell is
/// null (a raw row needs a field value; a transformation's missing outputs vanish).
fn project(plan: &Plan, mut cells: Cells<'_>, has_transform: bool) -> Vec<Vec<Value>> {
    let n = cells.times.len();
    // A field selected once (the usual case) moves into its column instead of copying.
    let cols: Vec<Vec<Value>> = plan
        .projs
        .iter()
        .map(|p| match p {
            Proj::Field(f)
                if plan
                    .projs
                    .iter()
                    .filter(|q| q.has(&|x| matches!(x, Proj::Field(g) if g == f)))
                    .count()
                    == 1 =>
            {
                match cells.field_names.iter().position(|x| x == f) {
                    Some(i) => std::mem::take(&mut cells.fields[i]),
                    None => vec![Value::Null; n],
                }
            }
            p => cells.eval(p),
        })
        .collect();
    let from_field: Vec<bool> = plan
        .projs
        .iter()
        .map(|p| p.has(&|q| matches!(q, Proj::Field(_))))
        .collect();
    let need_field = has_transform || from_field.iter().any(|&f| f);
    let mut iters: Vec<_> = cols.into_iter().map(|c| c.into_iter()).collect();
    let mut out = Vec::with_capacity(n);
    for r in 0..n {
        let mut row = Vec::with_capacity(iters.len() + 1);
        row.push(Value::Time(cells.times[r]));
        row.extend(iters.iter_mut().map(|it| it.next().unwrap_or(Value::Null)));
        let any = row[1..]
            .iter()
            .zip(&from_field)
            .any(|(v, &ff)| ff && *v != Value::Null);
        if !any && need_field {
            continue;
        }
        out.push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::run_end;

    #[test]
    fn run_end_finds_the_first_time_at_or_after_the_end() {
        let ts: Vec<i64> = (0..1000).map(|i| i * 10).collect();
        for from in [0usize, 1, 5, 500, 998, 999] {
            // The piece's time at `from` is always inside the bucket: below its end.
            for end in [ts[from] + 1, ts[from] + 10, ts[from] + 95, 5_005, 20_000] {
                if end <= ts[from] {
                    continue;
                }
                let want = from + ts[from..].partition_point(|&t| t < end);
                assert_eq!(run_end(&ts, from, end), want, "from {from} end {end}");
            }
        }
        assert_eq!(run_end(&[5], 0, 6), 1);
    }
}
