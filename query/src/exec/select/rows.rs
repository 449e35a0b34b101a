//! The rows of an aggregate query's groups: buckets become rows with fill, selector
//! points with their tags and fields, and transformations over the aggregates.

use super::*;

/// Orders values of one field: numbers by value, then booleans, then strings.
pub(super) fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
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
pub(super) fn value_at(
    ctx: &Ctx<'_>,
    info: &SeriesInfo,
    field: &str,
    t: i64,
) -> Result<Value, QueryError> {
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
pub(super) fn point_rows(
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

#[allow(clippy::too_many_arguments)]
pub(super) fn finish_group(
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
    // InfluxDB's percentile emits no point when its rank falls outside the points (a
    // percentile of 0, or over 100), where `stddev` of one point emits a null point: a
    // statement of percentiles only that all fell outside shows no series.
    if layout.interval == 0
        && plan
            .slots
            .iter()
            .all(|s| matches!(s.kind, AggKind::Percentile(_)))
        && cols.iter().all(|c| c.iter().all(|v| *v == Value::Null))
    {
        return Vec::new();
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
