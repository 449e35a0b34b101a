//! Binary operators: scalar/scalar, vector/scalar, and vector/vector with Prometheus'
//! matching (`on`/`ignoring`, `group_left`/`group_right`, set operators), evaluated per
//! step so that the one-to-one and grouping checks see exactly what Prometheus sees at
//! each evaluation time.

use super::labels::Labels;
use super::{Ev, PromError, Series, Steps, Val, exec_err, merge_same_labels};
use crate::plan::selection::METRIC_NAME;
use crate::promql::ast::{BinOp, Binary, Cardinality, Expr, VectorMatching};
use rustc_hash::FxHashMap as HashMap;

/// The arithmetic and comparison of two numbers: the value, and whether a comparison
/// kept it.
fn elem(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Mod => (l % r, true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eq => (l, l == r),
        BinOp::Ne => (l, l != r),
        BinOp::Gt => (l, l > r),
        BinOp::Lt => (l, l < r),
        BinOp::Ge => (l, l >= r),
        BinOp::Le => (l, l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => (l, true),
    }
}

/// Whether evaluating `e` reads stored data (has a selector).
fn reads_data(e: &Expr) -> bool {
    match e {
        Expr::Vector(_) | Expr::Matrix(_) => true,
        Expr::Subquery(s) => reads_data(&s.expr),
        Expr::Paren(x) | Expr::Unary(_, x) => reads_data(x),
        Expr::Binary(b) => reads_data(&b.lhs) || reads_data(&b.rhs),
        Expr::Aggregate(a) => reads_data(&a.expr),
        Expr::Call(c) => c.args.iter().any(reads_data),
        Expr::Number(_) | Expr::String(_) => false,
    }
}

/// Whether the operator removes the metric name from its result (arithmetic does,
/// comparisons and `atan2` do not).
fn drops_name(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Mod
    )
}

impl Ev<'_> {
    pub(crate) fn binary(&self, b: &Binary, steps: &Steps) -> Result<Val, PromError> {
        // Both sides read data: they run side by side (a chain of `or`s over several
        // metrics becomes a tree of parallel reads). A cluster front-end's sides block on
        // the members' answers, and must not do so on rayon's workers: the front-end is a
        // member too, and its own part of the answer needs those workers (with every
        // worker waiting, it missed the deadline and the answer came back partial). The
        // fan-out to the members is parallel already, so the sides run in turn.
        let (l, r) = if reads_data(&b.lhs) && reads_data(&b.rhs) && self.opts.remote.is_none() {
            rayon::join(|| self.eval(&b.lhs, steps), || self.eval(&b.rhs, steps))
        } else {
            (self.eval(&b.lhs, steps), self.eval(&b.rhs, steps))
        };
        let (l, r) = (l?, r?);
        match (l, r) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(&a, &c)| {
                        let (v, keep) = elem(b.op, a, c);
                        if b.op.is_comparison() {
                            if keep { 1.0 } else { 0.0 }
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(v), Val::Scalar(s)) => Ok(Val::Vector(vector_scalar(b, v, &s, false)?)),
            (Val::Scalar(s), Val::Vector(v)) => Ok(Val::Vector(vector_scalar(b, v, &s, true)?)),
            (Val::Vector(l), Val::Vector(r)) => {
                let default = VectorMatching {
                    card: if b.op.is_set() {
                        Cardinality::ManyToMany
                    } else {
                        Cardinality::OneToOne
                    },
                    on: false,
                    labels: Vec::new(),
                    include: Vec::new(),
                    explicit: false,
                };
                let m = b.matching.as_ref().unwrap_or(&default);
                let out = match b.op {
                    BinOp::And => set_and(l, &r, m, true),
                    BinOp::Unless => set_and(l, &r, m, false),
                    BinOp::Or => set_or(l, r, m),
                    _ => vector_vector(b, l, r, m, steps.n)?,
                };
                Ok(Val::Vector(out))
            }
            _ => exec_err("binary expression must contain only scalar and instant vector types"),
        }
    }
}

fn vector_scalar(
    b: &Binary,
    v: Vec<Series>,
    s: &[f64],
    swap: bool,
) -> Result<Vec<Series>, PromError> {
    let mut out = Vec::with_capacity(v.len());
    for mut x in v {
        for i in 0..x.vals.len() {
            if !x.has[i] {
                continue;
            }
            let (l, r) = if swap {
                (s[i], x.vals[i])
            } else {
                (x.vals[i], s[i])
            };
            let (mut value, mut keep) = elem(b.op, l, r);
            if b.op.is_comparison() && swap {
                value = r;
            }
            if b.return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            x.has[i] = keep;
            x.vals[i] = value;
        }
        if drops_name(b.op) || b.return_bool {
            x.labels.del(METRIC_NAME);
        }
        out.push(x);
    }
    merge_same_labels(out)
}

/// `and` (keep = true) and `unless` (keep = false): left series at steps where some right
/// series with the same signature is (is not) present.
fn set_and(l: Vec<Series>, r: &[Series], m: &VectorMatching, keep: bool) -> Vec<Series> {
    let mut right: HashMap<Vec<u8>, Vec<usize>> = HashMap::default();
    for (i, s) in r.iter().enumerate() {
        right
            .entry(s.labels.signature(m.on, &m.labels))
            .or_default()
            .push(i);
    }
    let mut out = Vec::with_capacity(l.len());
    for mut s in l {
        let matches = right.get(&s.labels.signature(m.on, &m.labels));
        for i in 0..s.has.len() {
            if !s.has[i] {
                continue;
            }
            let present = matches.is_some_and(|ix| ix.iter().any(|&j| r[j].has[i]));
            if present != keep {
                s.has[i] = false;
            }
        }
        if !s.is_empty() {
            out.push(s);
        }
    }
    out
}

/// `or`: every left series, and right series at steps where no left series with the same
/// signature is present.
fn set_or(l: Vec<Series>, r: Vec<Series>, m: &VectorMatching) -> Vec<Series> {
    let n = l.first().or(r.first()).map_or(0, |s| s.has.len());
    let mut left: HashMap<Vec<u8>, Vec<bool>> = HashMap::default();
    for s in &l {
        let e = left
            .entry(s.labels.signature(m.on, &m.labels))
            .or_insert_with(|| vec![false; n]);
        for (i, &h) in s.has.iter().enumerate() {
            e[i] |= h;
        }
    }
    let mut out = l;
    for mut s in r {
        if let Some(taken) = left.get(&s.labels.signature(m.on, &m.labels)) {
            for i in 0..n {
                if taken[i] {
                    s.has[i] = false;
                }
            }
        }
        if !s.is_empty() {
            out.push(s);
        }
    }
    out
}

/// The labels of a vector/vector result: the "many" side's, with the name dropped for
/// arithmetic, cut to the matching labels for one-to-one, and the `group_x` labels taken
/// from the "one" side.
fn result_labels(many: &Labels, one: &Labels, op: BinOp, m: &VectorMatching) -> Labels {
    let mut l = many.clone();
    if drops_name(op) {
        l.del(METRIC_NAME);
    }
    if m.card == Cardinality::OneToOne {
        l = if m.on {
            l.keep(&m.labels)
        } else {
            let mut x = l;
            for n in &m.labels {
                x.del(n);
            }
            x
        };
    }
    for n in &m.include {
        match one.get(n) {
            Some(v) => l.set(n, v),
            None => l.del(n),
        }
    }
    l
}

fn vector_vector(
    b: &Binary,
    l: Vec<Series>,
    r: Vec<Series>,
    m: &VectorMatching,
    n: usize,
) -> Result<Vec<Series>, PromError> {
    // The right side is the "one" side; group_right swaps the roles.
    let (many, one) = if m.card == Cardinality::OneToMany {
        (r, l)
    } else {
        (l, r)
    };
    let one_side = if m.card == Cardinality::OneToMany {
        "left"
    } else {
        "right"
    };
    // Series of each side by matching signature, in input order.
    let mut groups: HashMap<Vec<u8>, (Vec<usize>, Vec<usize>)> = HashMap::default();
    let mut order: Vec<Vec<u8>> = Vec::new();
    for (i, s) in many.iter().enumerate() {
        let sig = s.labels.signature(m.on, &m.labels);
        let e = groups.entry(sig.clone()).or_insert_with(|| {
            order.push(sig);
            (Vec::new(), Vec::new())
        });
        e.0.push(i);
    }
    for (j, s) in one.iter().enumerate() {
        if let Some(e) = groups.get_mut(&s.labels.signature(m.on, &m.labels)) {
            e.1.push(j);
        }
    }
    // No two "one" series may share a signature at a step. Prometheus finds the first
    // such pair step by step, in the one side's order; so does this (only when some
    // signature has several "one" series at all).
    let one_sigs: Vec<Vec<u8>> = one
        .iter()
        .map(|s| s.labels.signature(m.on, &m.labels))
        .collect();
    let mut counts: HashMap<&[u8], usize> = HashMap::default();
    for sig in &one_sigs {
        *counts.entry(sig.as_slice()).or_default() += 1;
    }
    if counts.values().any(|&c| c > 1) {
        for step in 0..n {
            let mut seen: HashMap<&[u8], usize> = HashMap::default();
            for (j, s) in one.iter().enumerate() {
                if !s.has[step] || counts[one_sigs[j].as_slice()] < 2 {
                    continue;
                }
                if let Some(&first) = seen.get(one_sigs[j].as_slice()) {
                    let (a, c) = (&s.labels, &one[first].labels);
                    let matched = if m.on {
                        a.keep(&m.labels)
                    } else {
                        a.drop(&m.labels)
                    };
                    return exec_err(format!(
                        "found duplicate series for the match group {matched} on the {one_side} hand-side of the operation: [{a}, {c}];many-to-many matching not allowed: matching labels must be unique on one side"
                    ));
                }
                seen.insert(one_sigs[j].as_slice(), j);
            }
        }
    }
    let mut outputs: Vec<Series> = Vec::new();
    let mut out_index: HashMap<Labels, usize> = HashMap::default();
    for sig in &order {
        let (many_ix, one_ix) = &groups[sig];
        if one_ix.is_empty() {
            continue;
        }
        // Output series per (many, one) pair, made once.
        let mut target: HashMap<(usize, usize), usize> = HashMap::default();
        for step in 0..n {
            // At most one "one" series may be present per signature and step.
            // At most one is present (checked above).
            let Some(j) = one_ix.iter().copied().find(|&j| one[j].has[step]) else {
                continue;
            };
            let o = &one[j];
            let mut matched_here = 0usize;
            let mut written: Vec<usize> = Vec::new();
            for &i in many_ix {
                let s = &many[i];
                if !s.has[step] {
                    continue;
                }
                let (vl, vr) = if m.card == Cardinality::OneToMany {
                    (o.vals[step], s.vals[step])
                } else {
                    (s.vals[step], o.vals[step])
                };
                let (mut value, keep) = elem(b.op, vl, vr);
                if b.return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                }
                matched_here += 1;
                if m.card == Cardinality::OneToOne && matched_here > 1 {
                    return exec_err(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    );
                }
                let k = match target.get(&(i, j)) {
                    Some(&k) => k,
                    None => {
                        let mut labels = result_labels(&s.labels, &o.labels, b.op, m);
                        if b.return_bool {
                            labels.del(METRIC_NAME);
                        }
                        let k = match out_index.get(&labels) {
                            Some(&k) => k,
                            None => {
                                outputs.push(Series::empty(labels.clone(), n));
                                out_index.insert(labels, outputs.len() - 1);
                                outputs.len() - 1
                            }
                        };
                        target.insert((i, j), k);
                        k
                    }
                };
                if written.contains(&k) {
                    return exec_err(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    );
                }
                written.push(k);
                if outputs[k].has[step] {
                    return exec_err("vector cannot contain metrics with the same labelset");
                }
                outputs[k].has[step] = true;
                outputs[k].vals[step] = value;
            }
        }
    }
    merge_same_labels(outputs)
}
