//! The raw path: each series' columns read, joined by time, filtered by the field
//! condition a column at a time, and merged by time per group (windowed reads for LIMIT).

use super::*;

/// Values of one field over a series' joined rows.
pub(super) enum Col {
    F(Vec<f64>),
    I(Vec<i64>),
    U(Vec<u64>),
    B(Vec<bool>),
    S(Vec<String>),
}

impl Col {
    pub(super) fn view(&self) -> ValuesView<'_> {
        match self {
            Col::F(v) => ValuesView::Float(v),
            Col::I(v) => ValuesView::Integer(v),
            Col::U(v) => ValuesView::Unsigned(v),
            Col::B(v) => ValuesView::Boolean(v),
            Col::S(v) => ValuesView::String(v),
        }
    }

    pub(super) fn new(ty: FieldType) -> Col {
        match ty {
            FieldType::Float => Col::F(Vec::new()),
            FieldType::Integer => Col::I(Vec::new()),
            FieldType::Unsigned => Col::U(Vec::new()),
            FieldType::Boolean => Col::B(Vec::new()),
            FieldType::String => Col::S(Vec::new()),
        }
    }

    pub(super) fn push(&mut self, v: &ValuesView<'_>, i: usize) {
        match (self, v) {
            (Col::F(o), ValuesView::Float(x)) => o.push(x[i]),
            (Col::I(o), ValuesView::Integer(x)) => o.push(x[i]),
            (Col::U(o), ValuesView::Unsigned(x)) => o.push(x[i]),
            (Col::B(o), ValuesView::Boolean(x)) => o.push(x[i]),
            (Col::S(o), ValuesView::String(x)) => o.push(x[i].clone()),
            _ => {}
        }
    }

    pub(super) fn extend(&mut self, v: &ValuesView<'_>) {
        match (self, v) {
            (Col::F(o), ValuesView::Float(x)) => o.extend_from_slice(x),
            (Col::I(o), ValuesView::Integer(x)) => o.extend_from_slice(x),
            (Col::U(o), ValuesView::Unsigned(x)) => o.extend_from_slice(x),
            (Col::B(o), ValuesView::Boolean(x)) => o.extend_from_slice(x),
            (Col::S(o), ValuesView::String(x)) => o.extend_from_slice(x),
            _ => {}
        }
    }

    pub(super) fn value(&self, i: usize) -> Value {
        match self {
            Col::F(v) => Value::Float(v[i]),
            Col::I(v) => Value::Integer(v[i]),
            Col::U(v) => Value::Unsigned(v[i]),
            Col::B(v) => Value::Boolean(v[i]),
            Col::S(v) => Value::String(v[i].clone()),
        }
    }

    pub(super) fn scalar(&self, i: usize) -> Scalar {
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
pub(super) struct FieldData {
    pub(super) ts: Vec<i64>,
    pub(super) col: Col,
}

/// A series' fields joined by time and filtered by the residual condition: for each
/// kept row its time, and for each field the row's position in that field's data.
pub(super) struct Rows {
    pub(super) times: Vec<i64>,
    pub(super) data: Vec<Option<FieldData>>,
    /// `pos[f][r]`: index into `data[f]` for row `r`, or `u32::MAX` if absent.
    pub(super) pos: Vec<Vec<u32>>,
}

impl Rows {
    /// The kept points of field `f` (in `need` order) as contiguous arrays.
    pub(super) fn column(&self, f: usize) -> Option<(Vec<i64>, Col)> {
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

    pub(super) fn value(&self, f: usize, r: usize) -> Value {
        match (&self.data[f], self.pos[f][r]) {
            (Some(d), p) if p != u32::MAX => d.col.value(p as usize),
            _ => Value::Null,
        }
    }
}

/// Reads one field of a series over `range` (`None` if the series lacks it).
pub(super) fn read_field(
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
pub(super) fn union_times(data: &[&FieldData]) -> Vec<i64> {
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
pub(super) fn positions(d: Option<&FieldData>, times: &[i64]) -> Vec<u32> {
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
pub(super) type FieldLookup<'a> = dyn Fn(&str) -> Option<(&'a FieldData, &'a [u32])> + 'a;

/// Which of `n` rows satisfy `r`: comparisons of a numeric field with a number run as
/// a loop over the column; anything else is evaluated row by row.
pub(super) fn residual_mask<'a>(r: &Residual, n: usize, lookup: &FieldLookup<'a>) -> Vec<bool> {
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
pub(super) fn read_rows(
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

pub(super) fn raw(
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
    let read_series = |(i, c): (usize, &Chosen)| -> Result<SeriesRows, QueryError> {
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
    };
    // Points of a series' projected columns, from block indexes (nothing decoded): their
    // sum (work, for the pool) and their most (rows, for the memory budget).
    let points = |c: &Chosen| -> (u64, u64) {
        (c.info.columns.iter())
            .filter(|(name, _, _)| proj_fields.iter().any(|f| f == name))
            .map(|(_, col, _)| ctx.db.column_points_estimate(*col, range))
            .fold((0u64, 0u64), |(sum, most), n| {
                (sum.saturating_add(n), most.max(n))
            })
    };
    // Admission: the rows this will hold, reserved in the server's query memory budget
    // before anything is read. The estimates, once made, serve the pool's choice too.
    let known: Vec<(u64, u64)> = if ctx.memory.is_some() {
        chosen.iter().map(points).collect()
    } else {
        Vec::new()
    };
    if !known.is_empty() {
        let cap = need_rows.map_or(u64::MAX, |k| k as u64);
        let rows = (known.iter()).fold(0u64, |r, &(_, most)| r.saturating_add(most.min(cap)));
        // More than max_rows is refused by the row limit after the read: reserve up to it.
        let rows = rows.min(ctx.limits.max_rows as u64 + 1);
        ctx.admit(crate::exec::memory::select_bytes(
            rows,
            proj_fields.len() + 1,
        ))?;
    }
    // The thread pool only when the series' columns hold enough points to pay for it.
    let pool = use_pool(chosen.len(), |i| {
        known.get(i).map_or_else(|| points(&chosen[i]).0, |k| k.0)
    });
    let per_series: Vec<SeriesRows> = if pool {
        chosen
            .par_iter()
            .enumerate()
            .map(read_series)
            .collect::<Result<_, _>>()?
    } else {
        chosen
            .iter()
            .enumerate()
            .map(read_series)
            .collect::<Result<_, _>>()?
    };
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
        let rows = merge_group(
            &mut per_series,
            &m,
            &keys,
            plan,
            &proj_fields,
            desc,
            has_transform,
        );
        let rows = limit_rows(rows, sel);
        out.push((!rows.is_empty()).then_some(rows));
    }
    Ok(out)
}

/// The rows of one group before OFFSET/LIMIT: its series' rows (`members`, indexes into
/// `per_series` and `keys`) in time order, equal times in series (key) order, reversed
/// for `desc`, with the projections evaluated. Each series belongs to one group, so its
/// values move out of `per_series` instead of being copied.
pub(super) fn merge_group(
    per_series: &mut [SeriesRows],
    members: &[u32],
    keys: &[&strata_engine::model::SeriesKey],
    plan: &Plan,
    proj_fields: &[String],
    desc: bool,
    has_transform: bool,
) -> Vec<Vec<Value>> {
    let mut order: Vec<(i64, u32, u32)> = Vec::new();
    for &si in members {
        let sr = &per_series[si as usize];
        order.extend(sr.times.iter().enumerate().map(|(r, &t)| (t, si, r as u32)));
    }
    order.sort_unstable_by_key(|&(t, si, r)| (t, si, r));
    // Transformations see the rows in the order they are shown.
    if desc {
        order.reverse();
    }
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
    let cells = Cells {
        times: order.iter().map(|o| o.0).collect(),
        aggs: Vec::new(),
        fields,
        field_names: proj_fields,
        keys: keys.to_vec(),
        row_key: order.iter().map(|o| o.1).collect(),
        default_unit: 1_000_000_000,
    };
    project(plan, cells, has_transform)
}

/// A series' kept rows: times and, per projected field, its values.
pub(super) struct SeriesRows {
    pub(super) times: Vec<i64>,
    pub(super) fields: Vec<Vec<Value>>,
}

pub(super) fn series_rows(
    rows: &Rows,
    need: &[String],
    proj_fields: &[String],
    _series: u32,
) -> SeriesRows {
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
pub(super) fn read_rows_windowed(
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
