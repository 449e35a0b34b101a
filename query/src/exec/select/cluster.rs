//! The executor's two halves for a cluster ([`crate::partial::select`]): a member folds
//! its series into per-group states and stops before finishing ([`node_statement`]); the
//! front-end merges the members' groups and runs the finishing stages
//! ([`merge_statement`]) with the same plan the members used.
//!
//! Invariant: the front-end's plan is the plan of one node holding every member's data:
//! it is built from the union of the members' tag keys and fields, groups are keyed by
//! that plan's group keys (a member that lacks a key has `''` for it, as a series without
//! the tag has on one node), and buckets are placed by time on the union of the members'
//! bucket layouts (members bucket with the same width and offset).

use super::*;
use crate::ast::Statement;
use crate::partial::select::{GroupPartial, MeasurementPartial, NodeStatement, cluster_can_run};

/// A member's answer to one statement, with its node tag on every series.
pub(crate) fn node_statement(ctx: &Ctx<'_>, st: &Statement) -> Result<NodeStatement, QueryError> {
    if !cluster_can_run(st) {
        return Err(QueryError::Unsupported(
            "cluster=true runs SELECT and SHOW statements only; send deletes, drops and CREATE DATABASE to each node".into(),
        ));
    }
    let sel = match st {
        Statement::Select(s) => s,
        other => {
            // SHOW: every row; the front-end applies LIMIT and OFFSET to the union.
            let unlimited = without_show_limits(other);
            return Ok(NodeStatement::Series(super::super::meta::run(
                ctx, &unlimited,
            )?));
        }
    };
    let (bounds, cond, regexes, names) = prelude(sel, ctx.now, &ctx.db.measurements())?;
    let metas: Vec<Meta> = names.iter().map(|m| meta_of(ctx, m)).collect();
    let union = union_meta(metas.iter());
    let mut out = Vec::new();
    for (m, meta) in names.iter().zip(&metas) {
        ctx.check_deadline()?;
        let plan = plan(sel, meta, &union, &regexes)?;
        if plan.slots.is_empty() {
            // A raw query: this node's rows, up to LIMIT + OFFSET per series and every
            // series; the front-end merges rows by time and applies the limits.
            let mut raw = (**sel).clone();
            raw.limit = limit_plus_offset(sel.limit, sel.offset).map(|l| l as u64);
            raw.offset = None;
            raw.slimit = None;
            raw.soffset = None;
            return Ok(NodeStatement::Series(run(ctx, &raw)?));
        }
        if plan.point_rows {
            return Err(QueryError::Unsupported(
                "cluster=true: a selector beside tags or fields (or top/bottom by tag) needs each point's series and is not merged across nodes; select the aggregate alone".into(),
            ));
        }
        let slots: Vec<(AggKind, String)> = plan
            .slots
            .iter()
            .map(|s| (s.kind, s.field.clone()))
            .collect();
        let mut mp = MeasurementPartial {
            name: m.clone(),
            tag_keys: meta.tag_keys.iter().cloned().collect(),
            fields: meta.fields.iter().map(|(f, t)| (f.clone(), *t)).collect(),
            slots,
            start: 0,
            interval: plan.interval,
            n: 0,
            groups: Vec::new(),
        };
        if !bounds.is_empty() {
            let (chosen, order) = choose(ctx, &plan, m, meta, cond.as_ref(), &regexes)?;
            if !chosen.is_empty()
                && let Collected::States { layout, acc, .. } =
                    collect(ctx, sel, &plan, bounds, &chosen, order.len(), false)?
            {
                mp.start = layout.start;
                mp.n = layout.n;
                let mut acc = acc;
                for (key, g) in order {
                    let Some(states) = acc[g].take() else {
                        continue;
                    };
                    let n = layout.n;
                    let states = states
                        .into_iter()
                        .enumerate()
                        .map(|(i, st)| st.for_wire(plan.slots[i / n.max(1)].kind))
                        .collect();
                    mp.groups.push(GroupPartial {
                        tags: plan.group_keys.iter().cloned().zip(key).collect(),
                        states,
                    });
                }
            }
        }
        out.push(mp);
    }
    Ok(NodeStatement::States(out))
}

fn without_show_limits(st: &Statement) -> Statement {
    let mut st = st.clone();
    match &mut st {
        Statement::ShowMeasurements { filter, .. }
        | Statement::ShowTagKeys(filter)
        | Statement::ShowTagValues { filter, .. }
        | Statement::ShowSeries(filter) => {
            filter.limit = None;
            filter.offset = None;
        }
        _ => {}
    }
    st
}

fn show_limits(st: &Statement) -> (Option<u64>, Option<u64>) {
    match st {
        Statement::ShowMeasurements { filter, .. }
        | Statement::ShowTagKeys(filter)
        | Statement::ShowTagValues { filter, .. }
        | Statement::ShowSeries(filter) => (filter.limit, filter.offset),
        _ => (None, None),
    }
}

/// Merges the members' answers to one statement.
pub(crate) fn merge_statement(
    ctx: &Ctx<'_>,
    st: &Statement,
    parts: Vec<NodeStatement>,
) -> Result<Vec<Series>, QueryError> {
    if !cluster_can_run(st) {
        return Err(QueryError::Unsupported(
            "cluster=true runs SELECT and SHOW statements only; send deletes, drops and CREATE DATABASE to each node".into(),
        ));
    }
    let mut states = Vec::new();
    let mut series = Vec::new();
    for p in parts {
        match p {
            // A statement error is the same on every member (they run the same plan):
            // the first one is the statement's.
            NodeStatement::Error(e) => return Err(QueryError::Remote(e)),
            NodeStatement::States(m) => states.push(m),
            NodeStatement::Series(s) => series.push(s),
        }
    }
    match st {
        Statement::Select(sel) if series.is_empty() => merge_states(ctx, sel, states),
        Statement::Select(sel) => {
            let merged = merge_rows(series, sel.order == Some(Order::Desc), Some(sel));
            let limited = merged
                .into_iter()
                .map(|mut s| {
                    s.values = s
                        .values
                        .into_iter()
                        .skip(count(sel.offset.unwrap_or(0)))
                        .take(sel.limit.map_or(usize::MAX, count))
                        .collect();
                    s
                })
                .filter(|s| !s.values.is_empty())
                .collect();
            finish_series(ctx, sel, limited)
        }
        other => {
            let (limit, offset) = show_limits(other);
            Ok(merge_rows(series, false, None)
                .into_iter()
                .map(|mut s| {
                    s.values.sort_by(|a, b| row_cmp(a, b));
                    s.values.dedup();
                    s.values = s
                        .values
                        .into_iter()
                        .skip(count(offset.unwrap_or(0)))
                        .take(limit.map_or(usize::MAX, count))
                        .collect();
                    s
                })
                .collect())
        }
    }
}

fn row_cmp(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
            (Value::Null, _) => std::cmp::Ordering::Less,
            (_, Value::Null) => std::cmp::Ordering::Greater,
            (Value::Time(p), Value::Time(q)) => p.cmp(q),
            _ => cmp_values(x, y),
        };
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// The output-order key of a series: measurement, then its tag values in the statement's
/// `GROUP BY` order (tags it does not name after, by key).
fn series_order(sel: Option<&Select>, s: &Series) -> (String, Vec<String>) {
    let mut key = Vec::new();
    if let Some(tags) = &s.tags {
        let mut named: Vec<&str> = Vec::new();
        if let Some(sel) = sel {
            for d in &sel.group_by {
                if let Dimension::Tag(t) = d {
                    named.push(t);
                }
            }
        }
        for t in &named {
            key.push(tags.get(*t).cloned().unwrap_or_default());
        }
        for (k, v) in tags {
            if !named.contains(&k.as_str()) {
                key.push(v.clone());
            }
        }
    }
    (s.name.clone(), key)
}

/// Series of equal name and tags from several members become one: columns united (in
/// order of first appearance), rows merged by their first column (time) — ascending, or
/// descending under `ORDER BY time DESC` — keeping member order for equal times.
fn merge_rows(parts: Vec<Vec<Series>>, desc: bool, sel: Option<&Select>) -> Vec<Series> {
    type Key = (String, Vec<String>);
    let mut by_key: BTreeMap<Key, Vec<Series>> = BTreeMap::new();
    let mut tags_of: BTreeMap<Key, Option<BTreeMap<String, String>>> = BTreeMap::new();
    for part in parts {
        for s in part {
            let k = series_order(sel, &s);
            // Equal order keys with different tag sets stay apart.
            let k = (k.0, {
                let mut v = k.1;
                if let Some(t) = &s.tags {
                    v.extend(t.keys().cloned());
                }
                v
            });
            tags_of.entry(k.clone()).or_insert_with(|| s.tags.clone());
            by_key.entry(k).or_default().push(s);
        }
    }
    let mut out = Vec::with_capacity(by_key.len());
    for (k, group) in by_key {
        let mut columns: Vec<String> = Vec::new();
        for s in &group {
            for c in &s.columns {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        let mut rows: Vec<Vec<Value>> = Vec::new();
        for s in group {
            let map: Vec<usize> = s
                .columns
                .iter()
                .map(|c| columns.iter().position(|x| x == c).unwrap_or(0))
                .collect();
            for row in s.values {
                let mut r = vec![Value::Null; columns.len()];
                for (i, v) in row.into_iter().enumerate() {
                    if let Some(&j) = map.get(i) {
                        r[j] = v;
                    }
                }
                rows.push(r);
            }
        }
        let time = |r: &Vec<Value>| match r.first() {
            Some(Value::Time(t)) => *t,
            _ => 0,
        };
        if desc {
            rows.sort_by_key(|r| std::cmp::Reverse(time(r)));
        } else {
            rows.sort_by_key(time);
        }
        out.push(Series {
            name: k.0.clone(),
            tags: tags_of.remove(&k).flatten(),
            columns,
            values: rows,
        });
    }
    out
}

/// Merges the members' group states of an aggregate `SELECT` and finishes them.
fn merge_states(
    ctx: &Ctx<'_>,
    sel: &Select,
    answers: Vec<Vec<MeasurementPartial>>,
) -> Result<Vec<Series>, QueryError> {
    let mut by_name: BTreeMap<String, Vec<MeasurementPartial>> = BTreeMap::new();
    for a in answers {
        for m in a {
            by_name.entry(m.name.clone()).or_default().push(m);
        }
    }
    let all: Vec<String> = by_name.keys().cloned().collect();
    let (bounds, _cond, regexes, names) = prelude(sel, ctx.now, &all)?;
    let metas: Vec<Meta> = names
        .iter()
        .map(|n| {
            let parts = by_name.get(n).map(Vec::as_slice).unwrap_or(&[]);
            let mut meta = Meta {
                tag_keys: HashSet::new(),
                fields: BTreeMap::new(),
            };
            for p in parts {
                meta.tag_keys.extend(p.tag_keys.iter().cloned());
                for (f, t) in &p.fields {
                    meta.fields.entry(f.clone()).or_insert(*t);
                }
            }
            meta
        })
        .collect();
    let union = union_meta(metas.iter());
    let mut out = Vec::new();
    for (name, meta) in names.iter().zip(&metas) {
        ctx.check_deadline()?;
        let plan = plan(sel, meta, &union, &regexes)?;
        if bounds.is_empty() || plan.slots.is_empty() {
            continue;
        }
        let parts = by_name.remove(name).unwrap_or_default();
        let parts: Vec<MeasurementPartial> = parts.into_iter().filter(|p| p.n > 0).collect();
        if parts.is_empty() {
            continue;
        }
        let frame = frame(ctx, sel, &plan, bounds)?;
        let interval = plan.interval;
        let layout = if interval > 0 {
            let start = parts.iter().map(|p| p.start).min().unwrap_or(0);
            let end = parts
                .iter()
                .map(|p| i128::from(p.start) + i128::from(interval) * p.n as i128)
                .max()
                .unwrap_or(i128::from(start));
            let n = usize::try_from((end - i128::from(start)) / i128::from(interval))
                .unwrap_or(usize::MAX)
                .max(1);
            if n > ctx.limits.max_rows {
                return Err(QueryError::Limit(format!(
                    "max-select-buckets limit exceeded: GROUP BY time({}) over this range gives {n} buckets, more than {}",
                    crate::ast::Duration(interval),
                    ctx.limits.max_rows
                )));
            }
            Layout { start, interval, n }
        } else {
            Layout {
                start: parts[0].start,
                interval: 0,
                n: 1,
            }
        };
        let n = layout.n;
        let kinds: Vec<AggKind> = plan.slots.iter().map(|s| s.kind).collect();
        let mut groups: BTreeMap<Vec<String>, Vec<State>> = BTreeMap::new();
        for p in parts {
            ctx.check_deadline()?;
            if p.interval != interval {
                return Err(QueryError::Internal(format!(
                    "a member bucketed {name} by {} ns, not {interval} ns",
                    p.interval
                )));
            }
            let slot_of: Vec<Option<usize>> = plan
                .slots
                .iter()
                .map(|s| {
                    p.slots
                        .iter()
                        .position(|(k, f)| *k == s.kind && *f == s.field)
                })
                .collect();
            let shift = if interval > 0 {
                usize::try_from(
                    (i128::from(p.start) - i128::from(layout.start)) / i128::from(interval),
                )
                .unwrap_or(0)
            } else {
                0
            };
            for g in p.groups {
                if g.states.len() != p.slots.len() * p.n {
                    return Err(QueryError::Internal(format!(
                        "a member sent {} states for {} slots of {} buckets",
                        g.states.len(),
                        p.slots.len(),
                        p.n
                    )));
                }
                let key: Vec<String> = plan
                    .group_keys
                    .iter()
                    .map(|k| {
                        g.tags
                            .iter()
                            .find(|(t, _)| t == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    })
                    .collect();
                let is_new = !groups.contains_key(&key);
                let acc = groups.entry(key).or_insert_with(|| new_states(&kinds, n));
                if is_new {
                    check_buckets_held(ctx, 1, n, interval)?;
                }
                let mut states: Vec<Option<State>> = g.states.into_iter().map(Some).collect();
                for (s, j) in slot_of.iter().enumerate() {
                    let Some(j) = *j else { continue };
                    for b in 0..p.n {
                        let gb = shift + b;
                        if gb >= n {
                            break;
                        }
                        if let Some(st) = states[j * p.n + b].take() {
                            acc[s * n + gb].merge(kinds[s], st, frame.window);
                        }
                    }
                }
            }
        }
        check_buckets_held(ctx, groups.len(), n, interval)?;
        let mut order = Vec::with_capacity(groups.len());
        let mut acc = Vec::with_capacity(groups.len());
        for (i, (key, states)) in groups.into_iter().enumerate() {
            order.push((key, i));
            acc.push(Some(states));
        }
        let rows = finish_groups(ctx, sel, &plan, bounds, &frame, &layout, acc, &[])?;
        out.extend(to_series(ctx, &plan, name, order, &rows)?);
    }
    finish_series(ctx, sel, out)
}
