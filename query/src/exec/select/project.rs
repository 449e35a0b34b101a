//! Projections: evaluating compiled [`Proj`] trees over a run of rows (aggregate slot
//! values, field values, tags), and OFFSET/LIMIT of the rows shown.

use super::*;

/// OFFSET and LIMIT of rows already in the order shown.
pub(super) fn limit_rows(mut rows: Vec<Vec<Value>>, sel: &Select) -> Vec<Vec<Value>> {
    let off = count(sel.offset.unwrap_or(0));
    let lim = sel.limit.map_or(usize::MAX, count);
    if off > 0 || lim < rows.len() {
        rows = rows.into_iter().skip(off).take(lim).collect();
    }
    rows
}

/// Column-wise inputs for evaluating projections over a run of rows.
pub(super) struct Cells<'a> {
    pub(super) times: Vec<i64>,
    /// Aggregate slot values per row.
    pub(super) aggs: Vec<Vec<Value>>,
    /// Field values per row, by position in `field_names`.
    pub(super) fields: Vec<Vec<Value>>,
    pub(super) field_names: &'a [String],
    /// Series keys of raw rows, and each row's index into them.
    pub(super) keys: Vec<&'a strata_engine::model::SeriesKey>,
    pub(super) row_key: Vec<u32>,
    /// The derivative unit when a call names none.
    pub(super) default_unit: i64,
}

impl Cells<'_> {
    pub(super) fn eval(&self, p: &Proj) -> Vec<Value> {
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

pub(super) fn to_scalar(v: &Value) -> Scalar {
    match v {
        Value::Null | Value::Time(_) => Scalar::Null,
        Value::Float(f) => Scalar::Float(*f),
        Value::Integer(i) => Scalar::Integer(*i),
        Value::Unsigned(u) => Scalar::Unsigned(*u),
        Value::String(s) => Scalar::String(s.clone()),
        Value::Boolean(b) => Scalar::Boolean(*b),
    }
}

pub(super) fn binary(op: BinaryOp, a: &Value, b: &Value) -> Value {
    if matches!(a, Value::Null) || matches!(b, Value::Null) {
        return Value::Null;
    }
    match super::cond::arith(op, &to_scalar(a), &to_scalar(b)) {
        Scalar::Float(f) => Value::Float(f),
        Scalar::Integer(i) => Value::Integer(i),
        _ => Value::Null,
    }
}

/// Evaluates the projections over rows; drops rows whose every field-derived cell is
/// null (a raw row needs a field value; a transformation's missing outputs vanish).
pub(super) fn project(plan: &Plan, mut cells: Cells<'_>, has_transform: bool) -> Vec<Vec<Value>> {
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
