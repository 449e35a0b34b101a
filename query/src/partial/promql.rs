//! PromQL over a cluster: which sub-expressions members evaluate ([`plan`]), what a
//! member answers ([`node_eval`]), and how a front-end merges the answers
//! ([`merge_series`], [`merge_aggregate`]).
//!
//! Every member adds its node label to the series it selects, so series of different
//! members never share a label set. An expression is *node-local* when its value over
//! the union of the members is the union of its values on each member: selectors,
//! per-series functions, `rate` and the `*_over_time` family, arithmetic with constants,
//! vector matching that keeps the node label in its match, aggregations whose grouping
//! keeps the node label (`sum by (node)`). The front-end sends each maximal node-local
//! sub-expression to the members and takes the union of their series ("pull the series").
//! An aggregation that drops the node label (`sum by (job)`) over a node-local
//! expression is pushed down when its semantics allow — `sum`, `count`, `min`, `max`,
//! `avg`, `group`, `stddev`, `stdvar`, by or without — as per-group, per-step partial
//! states ([`Acc`]) merged on the front-end; `topk`, `bottomk`, `quantile` and
//! `count_values` pull their input series instead. What is left (functions across
//! series such as `absent`, `sort`, `scalar`, matching that ignores the node label) runs
//! on the front-end over those results.

use super::codec::{DecodeError, Reader, Writer};
use crate::promql::ast::{AggOp, Aggregate, Expr, ValueType};
pub use crate::promql::eval::aggregate::Acc;
use crate::promql::eval::{Ev, EvalOptions, PromError, Series, Steps, Val, merge_same_labels};
use crate::promql::{Labels, parse_expr};
use std::collections::HashMap;
use strata_engine::Db;

/// How a sub-expression is evaluated by the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each member's series of the expression; their union is the value.
    Series = 0,
    /// The expression is an aggregation: each member's per-group partial states.
    Aggregate = 1,
}

/// The sub-expressions of one query that the members evaluate, by their text.
///
/// A sub-expression's mode depends on the sub-expression alone, never on where it sits,
/// so the same text always has the same mode; keying by text (not by address) keeps the
/// plan valid when the front-end moves its AST (into a blocking task, say).
#[derive(Debug, Clone, Default)]
pub struct RemotePlan {
    marks: HashMap<String, Mode>,
}

impl RemotePlan {
    /// How `e` is evaluated remotely, if it is.
    pub fn mode_of(&self, e: &Expr) -> Option<Mode> {
        if self.marks.is_empty() {
            return None;
        }
        self.marks.get(&e.to_string()).copied()
    }

    /// Whether any sub-expression goes to the members.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// Sub-expressions pushed down as partial aggregates, and pulled as series.
    pub fn counts(&self) -> (usize, usize) {
        let agg = self
            .marks
            .values()
            .filter(|m| **m == Mode::Aggregate)
            .count();
        (agg, self.marks.len() - agg)
    }
}

fn has_selector(e: &Expr) -> bool {
    match e {
        Expr::Number(_) | Expr::String(_) => false,
        Expr::Vector(_) | Expr::Matrix(_) => true,
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Paren(e) | Expr::Unary(_, e) => has_selector(e),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_ref().is_some_and(has_selector),
        Expr::Call(c) => c.args.iter().any(has_selector),
    }
}

/// Functions whose value over a union of members is not the union of their values.
const ACROSS_SERIES: &[&str] = &[
    "absent",
    "absent_over_time",
    "scalar",
    "vector",
    "sort",
    "sort_desc",
    "time",
    "pi",
];

/// Whether `e`'s value is the union of its values on each member (see the module docs).
pub fn node_local(e: &Expr, label: &str) -> bool {
    match e {
        Expr::Number(_) | Expr::String(_) => true,
        Expr::Vector(_) | Expr::Matrix(_) => true,
        Expr::Subquery(s) => node_local(&s.expr, label),
        Expr::Paren(e) | Expr::Unary(_, e) => node_local(e, label),
        Expr::Call(c) => {
            !ACROSS_SERIES.contains(&c.func.name)
                && c.args.iter().all(|a| match a.value_type() {
                    // A scalar argument must be the same on every member.
                    ValueType::Scalar => !has_selector(a),
                    _ => node_local(a, label),
                })
        }
        Expr::Aggregate(a) => {
            let keeps_node = if a.without {
                !a.grouping.iter().any(|g| g == label)
            } else {
                a.grouping.iter().any(|g| g == label)
            };
            keeps_node && node_local(&a.expr, label) && !a.param.as_ref().is_some_and(has_selector)
        }
        Expr::Binary(b) => {
            let (l, r) = (b.lhs.value_type(), b.rhs.value_type());
            let side = |e: &Expr, t: ValueType| match t {
                ValueType::Scalar => !has_selector(e),
                _ => node_local(e, label),
            };
            let matching_keeps_node = b.matching.as_ref().is_none_or(|m| {
                if m.on {
                    m.labels.iter().any(|x| x == label)
                } else {
                    !m.labels.iter().any(|x| x == label)
                }
            });
            side(&b.lhs, l) && side(&b.rhs, r) && matching_keeps_node
        }
    }
}

/// Aggregations whose partial states merge exactly (up to float addition order).
pub fn pushable(op: AggOp) -> bool {
    matches!(
        op,
        AggOp::Sum
            | AggOp::Count
            | AggOp::Min
            | AggOp::Max
            | AggOp::Avg
            | AggOp::Group
            | AggOp::Stddev
            | AggOp::Stdvar
    )
}

/// Chooses the sub-expressions of `root` the members evaluate, with `label` the label
/// each member adds. Fails for a top-level range vector (which has no series form) and
/// for a range selector whose function needs every member's series at once
/// (`absent_over_time(x[5m])`): the front-end would otherwise see its own data only.
pub fn plan(root: &Expr, label: &str) -> Result<RemotePlan, PromError> {
    if matches!(root.unparen(), Expr::Matrix(_) | Expr::Subquery(_)) {
        return Err(PromError::BadData(
            "cluster=true: a range vector result is not merged across nodes; wrap it in a function such as rate() or last_over_time()".into(),
        ));
    }
    let mut p = RemotePlan::default();
    mark(root, label, &mut p);
    if let Some(m) = uncovered_range(root, &p) {
        return Err(PromError::BadData(format!(
            "cluster=true: the range selector {m} is an argument of a function over all members' series at once, which is not evaluated across nodes; use count_over_time and absent() instead"
        )));
    }
    Ok(p)
}

/// A range selector the front-end would read from its own data (not below a marked
/// sub-expression).
fn uncovered_range(e: &Expr, p: &RemotePlan) -> Option<String> {
    if p.mode_of(e).is_some() {
        return None;
    }
    match e {
        Expr::Matrix(_) => Some(e.to_string()),
        Expr::Number(_) | Expr::String(_) | Expr::Vector(_) => None,
        Expr::Subquery(s) => uncovered_range(&s.expr, p),
        Expr::Paren(e) | Expr::Unary(_, e) => uncovered_range(e, p),
        Expr::Binary(b) => uncovered_range(&b.lhs, p).or_else(|| uncovered_range(&b.rhs, p)),
        Expr::Aggregate(a) => uncovered_range(&a.expr, p)
            .or_else(|| a.param.as_ref().and_then(|q| uncovered_range(q, p))),
        Expr::Call(c) => c.args.iter().find_map(|a| uncovered_range(a, p)),
    }
}

fn mark(e: &Expr, label: &str, p: &mut RemotePlan) {
    let addr = e.to_string();
    if let Expr::Aggregate(a) = e
        && pushable(a.op)
        && !node_local(e, label)
        && node_local(&a.expr, label)
        && has_selector(&a.expr)
    {
        p.marks.insert(addr, Mode::Aggregate);
        return;
    }
    if e.value_type() == ValueType::Vector && has_selector(e) && node_local(e, label) {
        p.marks.insert(addr, Mode::Series);
        return;
    }
    match e {
        Expr::Number(_) | Expr::String(_) | Expr::Vector(_) | Expr::Matrix(_) => {}
        Expr::Subquery(s) => mark(&s.expr, label, p),
        Expr::Paren(e) | Expr::Unary(_, e) => mark(e, label, p),
        Expr::Binary(b) => {
            mark(&b.lhs, label, p);
            mark(&b.rhs, label, p);
        }
        Expr::Aggregate(a) => {
            mark(&a.expr, label, p);
            if let Some(q) = &a.param {
                mark(q, label, p);
            }
        }
        Expr::Call(c) => {
            for a in &c.args {
                mark(a, label, p);
            }
        }
    }
}

fn put_labels(w: &mut Writer, l: &Labels) {
    w.u64(l.0.len() as u64);
    for (k, v) in &l.0 {
        w.str(k);
        w.str(v);
    }
}

fn get_labels(r: &mut Reader<'_>) -> Result<Labels, DecodeError> {
    let n = r.len(2)?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.str()?;
        pairs.push((k, r.str()?));
    }
    Ok(Labels(pairs))
}

/// A member's answer: per series (or group) its labels and, per step, nothing or the
/// value (series) or the partial state (aggregate).
#[derive(Debug, Clone, PartialEq)]
pub enum PromAnswer {
    /// The expression's series.
    Series(Vec<Series>),
    /// Per group, the partial state at each step; `fields` says which of the state's
    /// fields the aggregation reads ([`fields_of`]): only those travel, the others arrive
    /// as 0.
    Groups {
        /// [`VALUE`], [`MEAN`], [`COUNT`], or'ed.
        fields: u8,
        /// Per group, its labels and its state at each step.
        groups: Vec<(Labels, Vec<Option<Acc>>)>,
    },
}

/// [`Acc::value`] travels.
pub const VALUE: u8 = 1;
/// [`Acc::mean`] travels.
pub const MEAN: u8 = 2;
/// [`Acc::count`] travels.
pub const COUNT: u8 = 4;

/// The fields of a partial state that aggregation `op` merges and finishes with.
pub fn fields_of(op: AggOp) -> u8 {
    match op {
        AggOp::Sum | AggOp::Min | AggOp::Max | AggOp::Group => VALUE,
        AggOp::Count => COUNT,
        AggOp::Avg => MEAN | COUNT,
        _ => VALUE | MEAN | COUNT,
    }
}

/// The wire form of an answer (steps present as a bitmap, then their values; for groups
/// only the fields the aggregation needs).
pub fn encode_answer(a: &PromAnswer) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(super::select::WIRE_VERSION);
    let bitmap = |w: &mut Writer, has: &mut dyn Iterator<Item = bool>, n: usize| {
        let mut bytes = vec![0u8; n.div_ceil(8)];
        for (i, h) in has.enumerate() {
            if h {
                bytes[i / 8] |= 1 << (i % 8);
            }
        }
        w.buf.extend_from_slice(&bytes);
    };
    match a {
        PromAnswer::Series(ss) => {
            w.u8(0);
            w.u64(ss.len() as u64);
            for s in ss {
                put_labels(&mut w, &s.labels);
                w.u64(s.vals.len() as u64);
                bitmap(&mut w, &mut s.has.iter().copied(), s.vals.len());
                for (v, h) in s.vals.iter().zip(&s.has) {
                    if *h {
                        w.f64(*v);
                    }
                }
            }
        }
        PromAnswer::Groups { fields, groups } => {
            w.u8(1);
            w.u8(*fields);
            w.u64(groups.len() as u64);
            for (l, accs) in groups {
                put_labels(&mut w, l);
                w.u64(accs.len() as u64);
                bitmap(&mut w, &mut accs.iter().map(Option::is_some), accs.len());
                for a in accs.iter().flatten() {
                    if fields & VALUE != 0 {
                        w.f64(a.value);
                    }
                    if fields & MEAN != 0 {
                        w.f64(a.mean);
                    }
                    if fields & COUNT != 0 {
                        w.f64(a.count);
                    }
                }
            }
        }
    }
    w.buf
}

/// Reads an answer; every series or group must have `n` steps.
pub fn decode_answer(src: &[u8], n: usize) -> Result<PromAnswer, DecodeError> {
    let mut r = Reader::new(src);
    if r.u8()? != super::select::WIRE_VERSION {
        return Err(r.err("wire version 1 (the member runs another Strata version)"));
    }
    let bitmap = |r: &mut Reader<'_>| -> Result<Vec<bool>, DecodeError> {
        let steps = r.u64()?;
        if steps != n as u64 {
            return Err(r.err("one slot per step of the request"));
        }
        let b = r.take(n.div_ceil(8), "a presence bitmap")?;
        Ok((0..n).map(|i| b[i / 8] & (1 << (i % 8)) != 0).collect())
    };
    let a = match r.u8()? {
        0 => {
            let count = r.len(2)?;
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let labels = get_labels(&mut r)?;
                let has = bitmap(&mut r)?;
                let mut vals = vec![0.0; n];
                for (i, h) in has.iter().enumerate() {
                    if *h {
                        vals[i] = r.f64()?;
                    }
                }
                out.push(Series { labels, vals, has });
            }
            PromAnswer::Series(out)
        }
        1 => {
            let fields = r.u8()?;
            if fields == 0 || fields & !(VALUE | MEAN | COUNT) != 0 {
                return Err(r.err("a field set of value, mean and count"));
            }
            let field = |r: &mut Reader<'_>, bit: u8| -> Result<f64, DecodeError> {
                if fields & bit != 0 { r.f64() } else { Ok(0.0) }
            };
            let count = r.len(2)?;
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let labels = get_labels(&mut r)?;
                let has = bitmap(&mut r)?;
                let mut accs = Vec::with_capacity(n);
                for h in has {
                    accs.push(if h {
                        Some(Acc {
                            value: field(&mut r, VALUE)?,
                            mean: field(&mut r, MEAN)?,
                            count: field(&mut r, COUNT)?,
                        })
                    } else {
                        None
                    });
                }
                out.push((labels, accs));
            }
            PromAnswer::Groups {
                fields,
                groups: out,
            }
        }
        _ => return Err(r.err("0 or 1 (series or groups)")),
    };
    if !r.is_empty() {
        return Err(r.err("the end of the answer"));
    }
    Ok(a)
}

/// A member's evaluation of `text` at `steps` (with `opts.node_label` set): its series,
/// or, for `mode` [`Mode::Aggregate`], the aggregation's per-group partial states.
pub fn node_eval(
    db: &Db,
    text: &str,
    steps: Steps,
    query_start: i64,
    query_end: i64,
    opts: &EvalOptions,
    mode: Mode,
) -> Result<PromAnswer, PromError> {
    let expr = parse_expr(text).map_err(|e| PromError::BadData(e.to_string()))?;
    let ev = Ev::new(db, opts, query_start, query_end);
    match mode {
        Mode::Series => match ev.eval(&expr, &steps)? {
            Val::Vector(v) => Ok(PromAnswer::Series(v)),
            _ => Err(PromError::BadData(format!(
                "cluster: {text} is not an instant vector"
            ))),
        },
        Mode::Aggregate => {
            let Expr::Aggregate(a) = expr.unparen() else {
                return Err(PromError::BadData(format!(
                    "cluster: {text} is not an aggregation"
                )));
            };
            let v = ev.eval_vector(&a.expr, &steps)?;
            Ok(PromAnswer::Groups {
                fields: fields_of(a.op),
                groups: partial_groups(a, &v, steps.n),
            })
        }
    }
}

fn group_labels(a: &Aggregate, l: &Labels) -> Labels {
    if a.without {
        l.drop(&a.grouping)
    } else {
        l.keep(&a.grouping)
    }
}

/// Per group (in order of first appearance), the partial state at each step.
fn partial_groups(a: &Aggregate, v: &[Series], n: usize) -> Vec<(Labels, Vec<Option<Acc>>)> {
    let mut out: Vec<(Labels, Vec<Option<Acc>>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in v {
        let g = group_labels(a, &s.labels);
        let k = *index.entry(g.clone()).or_insert_with(|| {
            out.push((g, vec![None; n]));
            out.len() - 1
        });
        let accs = &mut out[k].1;
        for ((slot, has), v) in accs.iter_mut().zip(&s.has).zip(&s.vals) {
            if *has {
                match slot {
                    Some(acc) => acc.add(a.op, *v),
                    None => *slot = Some(Acc::first(a.op, *v)),
                }
            }
        }
    }
    out
}

/// The union of the members' series of one sub-expression (a label set twice is an
/// error, as on one node).
pub fn merge_series(answers: Vec<Vec<Series>>) -> Result<Vec<Series>, PromError> {
    merge_same_labels(answers.into_iter().flatten().collect())
}

/// Merges the members' partial groups of aggregation `op` and finishes them.
pub fn merge_aggregate(
    op: AggOp,
    answers: Vec<Vec<(Labels, Vec<Option<Acc>>)>>,
    n: usize,
) -> Vec<Series> {
    let mut groups: Vec<(Labels, Vec<Option<Acc>>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for answer in answers {
        for (labels, accs) in answer {
            match index.get(&labels) {
                Some(&k) => {
                    for (mine, theirs) in groups[k].1.iter_mut().zip(accs) {
                        match (mine.as_mut(), theirs) {
                            (Some(m), Some(t)) => m.merge(op, &t),
                            (None, t) => *mine = t,
                            (_, None) => {}
                        }
                    }
                }
                None => {
                    index.insert(labels.clone(), groups.len());
                    groups.push((labels, accs));
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(labels, accs)| {
            let mut vals = vec![0.0; n];
            let mut has = vec![false; n];
            for (i, a) in accs.iter().enumerate().take(n) {
                if let Some(a) = a {
                    vals[i] = a.finish(op);
                    has[i] = true;
                }
            }
            Series { labels, vals, has }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> (Expr, RemotePlan) {
        let e = parse_expr(q).unwrap();
        let plan = plan(&e, "node").unwrap();
        (e, plan)
    }

    #[test]
    fn aggregations_that_drop_the_node_are_pushed_down_and_local_ones_pulled() {
        let (e, pl) = p("sum by (job) (rate(x[5m]))");
        assert_eq!(pl.mode_of(&e), Some(Mode::Aggregate));
        let (e, pl) = p("sum by (node) (rate(x[5m]))");
        assert_eq!(pl.mode_of(&e), Some(Mode::Series));
        let (e, pl) = p("topk(3, x)");
        let Expr::Aggregate(a) = &e else { panic!() };
        assert_eq!(pl.mode_of(&e), None);
        assert_eq!(pl.mode_of(&a.expr), Some(Mode::Series));
        let (e, pl) = p("x / ignoring(node) group_left y");
        assert_eq!(pl.mode_of(&e), None);
        assert_eq!(pl.counts(), (0, 2));
        let (e, pl) = p("x / y + 1");
        assert_eq!(pl.mode_of(&e), Some(Mode::Series));
        let (_, pl) = p("histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))");
        assert_eq!(pl.counts(), (1, 0));
        let (_, pl) = p("absent(up)");
        assert_eq!(pl.counts(), (0, 1));
        assert!(plan(&parse_expr("x[5m]").unwrap(), "node").is_err());
        assert!(plan(&parse_expr("absent_over_time(x[5m])").unwrap(), "node").is_err());
        let (_, pl) = p("absent_over_time(rate(x[5m])[10m:1m])");
        assert_eq!(pl.counts(), (0, 1));
        // The plan outlives a move of the AST it was made from.
        let e = parse_expr("sum by (job) (x)").unwrap();
        let pl = plan(&e, "node").unwrap();
        let moved = Box::new(e);
        assert_eq!(pl.mode_of(&moved), Some(Mode::Aggregate));
    }

    #[test]
    fn partial_states_merge_like_one_fold() {
        let vals = [3.0, -1.5, 8.25, 0.5, 4.0, 2.0];
        for op in [
            AggOp::Sum,
            AggOp::Count,
            AggOp::Min,
            AggOp::Max,
            AggOp::Avg,
            AggOp::Group,
            AggOp::Stddev,
            AggOp::Stdvar,
        ] {
            let fold = |xs: &[f64]| {
                let mut a = Acc::first(op, xs[0]);
                for x in &xs[1..] {
                    a.add(op, *x);
                }
                a
            };
            let whole = fold(&vals).finish(op);
            // As members send them: only the fields the aggregation reads.
            let strip = |a: Acc| {
                let f = fields_of(op);
                Acc {
                    value: if f & VALUE != 0 { a.value } else { 0.0 },
                    mean: if f & MEAN != 0 { a.mean } else { 0.0 },
                    count: if f & COUNT != 0 { a.count } else { 0.0 },
                }
            };
            let mut left = strip(fold(&vals[..2]));
            left.merge(op, &strip(fold(&vals[2..])));
            let merged = left.finish(op);
            assert!(
                (whole - merged).abs() <= 1e-12 * whole.abs().max(1.0),
                "{op:?}: {whole} vs {merged}"
            );
        }
    }

    #[test]
    fn answers_round_trip() {
        let l = Labels::from_pairs([("node".to_owned(), "a".to_owned())]);
        let acc = Acc {
            value: 1.0,
            mean: 2.0,
            count: 3.0,
        };
        let groups = |acc: Acc| vec![(l.clone(), vec![None, Some(acc), None])];
        let a = PromAnswer::Groups {
            fields: VALUE | MEAN | COUNT,
            groups: groups(acc),
        };
        assert_eq!(decode_answer(&encode_answer(&a), 3).unwrap(), a);
        assert!(decode_answer(&encode_answer(&a), 4).is_err());
        // Only what the aggregation reads travels: avg sends mean and count.
        let avg = PromAnswer::Groups {
            fields: fields_of(AggOp::Avg),
            groups: groups(acc),
        };
        let bytes = encode_answer(&avg);
        assert_eq!(bytes.len() + 8, encode_answer(&a).len());
        let back = PromAnswer::Groups {
            fields: fields_of(AggOp::Avg),
            groups: groups(Acc { value: 0.0, ..acc }),
        };
        assert_eq!(decode_answer(&bytes, 3).unwrap(), back);
        let mut bad = bytes.clone();
        bad[2] = 8;
        assert!(decode_answer(&bad, 3).is_err());
        let s = PromAnswer::Series(vec![Series {
            labels: l,
            vals: vec![0.0, 7.5],
            has: vec![false, true],
        }]);
        assert_eq!(decode_answer(&encode_answer(&s), 2).unwrap(), s);
    }
}
