//! Running a `SELECT`: the time range out of `WHERE`, measurements resolved, series
//! chosen per measurement (tag postings through the plan's matchers, then the rest of
//! the condition against each series' tags) and grouped, then the aggregate or raw path.

use super::*;

pub(crate) fn run(ctx: &Ctx<'_>, sel: &Select) -> Result<Vec<Series>, QueryError> {
    let (bounds, cond, regexes, names) = prelude(sel, ctx.now, &ctx.db.measurements())?;
    let metas: Vec<Meta> = names.iter().map(|m| meta_of(ctx, m)).collect();
    let union = union_meta(&metas);
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
    finish_series(ctx, sel, out)
}

/// The statement's time bounds, the rest of its condition, its regexes compiled, and the
/// measurements among `all` it reads, each once, sorted.
pub(super) fn prelude(
    sel: &Select,
    now: i64,
    all: &[String],
) -> Result<(Bounds, Option<Expr>, Regexes, Vec<String>), QueryError> {
    let (bounds, cond) = split_time(sel.condition.as_ref(), now)?;
    let mut regexes = Regexes::default();
    if let Some(c) = &cond {
        regexes.collect(c)?;
    }
    for f in &sel.fields {
        regexes.collect(&f.expr)?;
    }
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
    Ok((bounds, cond, regexes, names))
}

/// Every series of a statement has the same columns: `*` and regexes expand over the
/// union of its measurements' tag keys and fields (a field keeps the type of the first
/// measurement that has it).
pub(super) fn union_meta<'a>(metas: impl IntoIterator<Item = &'a Meta>) -> Meta {
    let mut union = Meta {
        tag_keys: HashSet::new(),
        fields: BTreeMap::new(),
    };
    for m in metas {
        union.tag_keys.extend(m.tag_keys.iter().cloned());
        for (f, t) in &m.fields {
            union.fields.entry(f.clone()).or_insert(*t);
        }
    }
    union
}

/// Tag keys and fields of measurement `m`, the query-time node tag included.
pub(super) fn meta_of(ctx: &Ctx<'_>, m: &str) -> Meta {
    let mut tag_keys: HashSet<String> = ctx.db.tag_keys(m).into_iter().collect();
    if let Some((k, _)) = &ctx.node_tag {
        tag_keys.insert(k.clone());
    }
    Meta {
        tag_keys,
        fields: ctx.db.fields(m).into_iter().collect(),
    }
}

/// SLIMIT/SOFFSET, the DESC reversal of series and the series limit, over a statement's
/// series in output order.
pub(super) fn finish_series(
    ctx: &Ctx<'_>,
    sel: &Select,
    out: Vec<Series>,
) -> Result<Vec<Series>, QueryError> {
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

/// One selected series and its group.
pub(super) struct Chosen {
    /// Position in the statement's list of chosen series.
    pub(super) index: usize,
    pub(super) info: SeriesInfo,
    pub(super) group: usize,
    pub(super) residual: Option<Residual>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn run_measurement(
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
    let (chosen, order) = choose(ctx, &plan, measurement, meta, cond, regexes)?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let results = if plan.slots.is_empty() {
        raw(ctx, sel, &plan, bounds, &chosen, order.len())?
    } else {
        aggregate(ctx, sel, &plan, bounds, &chosen, order.len())?
    };
    to_series(ctx, &plan, measurement, order, &results)
}

/// A group: its tag values and how many series it has.
type Group = (Vec<String>, usize);

/// The series of one measurement and their groups, ordered by group tag values: the
/// plan's matchers through the index, then the rest of the condition against each
/// series' tags (the query-time node tag included).
pub(super) fn choose(
    ctx: &Ctx<'_>,
    plan: &Plan,
    measurement: &str,
    meta: &Meta,
    cond: Option<&Expr>,
    regexes: &Regexes,
) -> Result<(Vec<Chosen>, Vec<Group>), QueryError> {
    let names = Names {
        tag_keys: &meta.tag_keys,
        virtual_key: ctx.node_tag.as_ref().map(|(k, _)| k.as_str()),
    };
    let mut groups: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut chosen = Vec::new();
    // Series in key order: rows of equal time from several series follow it.
    let narrowed = cond.and_then(|c| cond::candidates(c, &names, ctx.db, measurement));
    let mut series = ctx.db.query_series_in(measurement, narrowed.as_deref());
    if let Some((k, v)) = &ctx.node_tag {
        for s in &mut series {
            let tags = s
                .key
                .tags()
                .iter()
                .filter(|(t, _)| t != k)
                .cloned()
                .chain([(k.clone(), v.clone())]);
            if let Ok(key) = strata_engine::model::SeriesKey::new(s.key.measurement(), tags) {
                s.key = key;
            }
        }
    }
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
    // Group ids in output order.
    let mut order: Vec<(Vec<String>, usize)> = groups.into_iter().collect();
    order.sort();
    Ok((chosen, order))
}

/// Output series from each group's rows, in group order, within the row limit.
pub(super) fn to_series(
    ctx: &Ctx<'_>,
    plan: &Plan,
    measurement: &str,
    order: Vec<(Vec<String>, usize)>,
    results: &[Option<Vec<Vec<Value>>>],
) -> Result<Vec<Series>, QueryError> {
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

pub(super) fn too_many_rows(ctx: &Ctx<'_>) -> QueryError {
    QueryError::Limit(format!(
        "max-select-point limit exceeded: the statement returns more than {} rows (narrow the time range, use LIMIT or a coarser GROUP BY time(), or raise query.max_rows)",
        ctx.limits.max_rows
    ))
}
