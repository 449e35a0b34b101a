//! Aggregation operators (`sum`, `avg`, …, `topk`, `quantile`, `count_values`) over
//! groups formed once from the labels (`by`/`without`), then folded step by step with
//! Prometheus' arithmetic (incremental mean, Welford variance, NaN-aware min/max).

use super::labels::Labels;
use super::range::quantile;
use super::{Ev, PromError, Series, Steps, Val, exec_err};
use crate::promql::ast::{AggOp, Aggregate};
use crate::promql::json::format_go_f;
use rustc_hash::FxHashMap as HashMap;

/// A group's running state at one step: the mergeable partial state of PromQL's
/// aggregations (a cluster front-end merges the members' with [`Acc::merge`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Acc {
    /// Sum, min, max, or the running sum of squared deviations (stddev, stdvar).
    pub(crate) value: f64,
    /// Running mean (avg, stddev, stdvar).
    pub(crate) mean: f64,
    /// Samples folded in.
    pub(crate) count: f64,
}

impl Acc {
    pub(crate) fn first(op: AggOp, v: f64) -> Acc {
        Acc {
            value: match op {
                AggOp::Stddev | AggOp::Stdvar => 0.0,
                AggOp::Group => 1.0,
                _ => v,
            },
            mean: v,
            count: 1.0,
        }
    }

    pub(crate) fn add(&mut self, op: AggOp, v: f64) {
        match op {
            AggOp::Sum => self.value += v,
            AggOp::Avg => {
                self.count += 1.0;
                if self.mean.is_infinite() {
                    if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                        return;
                    }
                    if !v.is_infinite() && !v.is_nan() {
                        return;
                    }
                }
                self.mean += v / self.count - self.mean / self.count;
            }
            AggOp::Count | AggOp::Group => self.count += 1.0,
            AggOp::Max if self.value < v || self.value.is_nan() => self.value = v,
            AggOp::Min if self.value > v || self.value.is_nan() => self.value = v,
            AggOp::Stddev | AggOp::Stdvar => {
                self.count += 1.0;
                let delta = v - self.mean;
                self.mean += delta / self.count;
                self.value += delta * (v - self.mean);
            }
            _ => {}
        }
    }

    /// Folds in the state of other series (another member's) of the same group and step.
    pub(crate) fn merge(&mut self, op: AggOp, o: &Acc) {
        match op {
            AggOp::Sum => self.value += o.value,
            AggOp::Count | AggOp::Group => self.count += o.count,
            AggOp::Max if self.value < o.value || self.value.is_nan() => self.value = o.value,
            AggOp::Min if self.value > o.value || self.value.is_nan() => self.value = o.value,
            AggOp::Avg => {
                let n = self.count + o.count;
                if self.mean.is_finite() && o.mean.is_finite() {
                    self.mean += (o.mean - self.mean) * (o.count / n);
                } else {
                    // Infinities: same sign stays, opposite signs give NaN, as folding does.
                    self.mean += o.mean;
                }
                self.count = n;
            }
            AggOp::Stddev | AggOp::Stdvar => {
                let n = self.count + o.count;
                let delta = o.mean - self.mean;
                self.value += o.value + delta * delta * self.count * o.count / n;
                self.mean += delta * o.count / n;
                self.count = n;
            }
            _ => {}
        }
    }

    pub(crate) fn finish(&self, op: AggOp) -> f64 {
        match op {
            AggOp::Avg => self.mean,
            AggOp::Count => self.count,
            AggOp::Stdvar => self.value / self.count,
            AggOp::Stddev => (self.value / self.count).sqrt(),
            _ => self.value,
        }
    }
}

impl Ev<'_> {
    pub(crate) fn aggregate(&self, a: &Aggregate, steps: &Steps) -> Result<Val, PromError> {
        let v = self.eval_vector(&a.expr, steps)?;
        let n = steps.n;
        let group_labels = |l: &Labels| -> Labels {
            if a.without {
                l.drop(&a.grouping)
            } else {
                l.keep(&a.grouping)
            }
        };
        // Groups in order of first appearance.
        let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::default();
        for (i, s) in v.iter().enumerate() {
            let g = group_labels(&s.labels);
            let k = match index.get(&g) {
                Some(&k) => k,
                None => {
                    groups.push((g.clone(), Vec::new()));
                    index.insert(g, groups.len() - 1);
                    groups.len() - 1
                }
            };
            groups[k].1.push(i);
        }
        match a.op {
            AggOp::Topk | AggOp::Bottomk => {
                let Some(p) = &a.param else {
                    return exec_err("topk/bottomk need a parameter");
                };
                let k = self.eval_scalar(p, steps)?;
                Ok(Val::Vector(top_k(a.op == AggOp::Topk, &k, v, &groups, n)))
            }
            AggOp::Quantile => {
                let Some(p) = &a.param else {
                    return exec_err("quantile needs a parameter");
                };
                let q = self.eval_scalar(p, steps)?;
                let mut out = Vec::with_capacity(groups.len());
                let mut buf = Vec::new();
                for (labels, members) in groups {
                    let mut s = Series::empty(labels, n);
                    for step in 0..n {
                        buf.clear();
                        buf.extend(
                            members
                                .iter()
                                .filter(|&&i| v[i].has[step])
                                .map(|&i| v[i].vals[step]),
                        );
                        if !buf.is_empty() {
                            s.vals[step] = quantile(q[step], &mut buf);
                            s.has[step] = true;
                        }
                    }
                    out.push(s);
                }
                Ok(Val::Vector(out))
            }
            AggOp::CountValues => {
                let label = match a.param.as_ref().map(|p| p.unparen()) {
                    Some(crate::promql::ast::Expr::String(s)) => s.clone(),
                    _ => return exec_err("count_values needs a string parameter"),
                };
                let mut c = label.chars();
                let valid = matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
                    && c.all(|x| x.is_ascii_alphanumeric() || x == '_');
                if !valid {
                    return exec_err(format!("invalid label name {label:?}"));
                }
                let mut out: Vec<Series> = Vec::new();
                let mut at: HashMap<Labels, usize> = HashMap::default();
                for (labels, members) in &groups {
                    for step in 0..n {
                        for &i in members {
                            if !v[i].has[step] {
                                continue;
                            }
                            let mut l = labels.clone();
                            l.set(&label, &format_go_f(v[i].vals[step]));
                            let k = *at.entry(l.clone()).or_insert_with(|| {
                                out.push(Series::empty(l, n));
                                out.len() - 1
                            });
                            if !out[k].has[step] {
                                out[k].has[step] = true;
                                out[k].vals[step] = 0.0;
                            }
                            out[k].vals[step] += 1.0;
                        }
                    }
                }
                Ok(Val::Vector(out))
            }
            op => {
                let mut out = Vec::with_capacity(groups.len());
                for (labels, members) in groups {
                    self.check()?;
                    let mut s = Series::empty(labels, n);
                    let mut accs: Vec<Option<Acc>> = vec![None; n];
                    for &i in &members {
                        let x = &v[i];
                        for step in 0..n {
                            if x.has[step] {
                                match &mut accs[step] {
                                    Some(acc) => acc.add(op, x.vals[step]),
                                    slot => *slot = Some(Acc::first(op, x.vals[step])),
                                }
                            }
                        }
                    }
                    for (step, acc) in accs.iter().enumerate() {
                        if let Some(acc) = acc {
                            s.vals[step] = acc.finish(op);
                            s.has[step] = true;
                        }
                    }
                    out.push(s);
                }
                Ok(Val::Vector(out))
            }
        }
    }
}

/// `topk`/`bottomk` per step and group: the series chosen keep their labels; in an
/// instant query the result is ordered as Prometheus orders it (per group, best first).
fn top_k(
    top: bool,
    k: &[f64],
    v: Vec<Series>,
    groups: &[(Labels, Vec<usize>)],
    n: usize,
) -> Vec<Series> {
    let better = |a: f64, b: f64| -> bool {
        // Whether `a` should replace the current worst `b` of the heap.
        if top {
            b < a || (b.is_nan() && !a.is_nan())
        } else {
            b > a || (b.is_nan() && !a.is_nan())
        }
    };
    // chosen[i * n + step]: series i is in its group's k at that step.
    let mut chosen = vec![false; v.len() * n];
    let mut order: Vec<usize> = Vec::new();
    let mut heap: Vec<usize> = Vec::new();
    for step in 0..n {
        let kk = k[step];
        if kk.is_nan() || kk < 1.0 {
            continue;
        }
        let kk = if kk >= v.len() as f64 {
            v.len()
        } else {
            kk as usize
        };
        for (_, members) in groups {
            // A simple bounded selection with Prometheus' replacement rule. The worst
            // entry's position is found again only after the heap changed.
            heap.clear();
            let mut worst: Option<usize> = None;
            for &i in members {
                if !v[i].has[step] {
                    continue;
                }
                if heap.len() < kk {
                    heap.push(i);
                    continue;
                }
                let wpos = *worst.get_or_insert_with(|| {
                    heap.iter()
                        .enumerate()
                        .min_by(|a, b| worse_cmp(top, v[*a.1].vals[step], v[*b.1].vals[step]))
                        .map_or(0, |(p, _)| p)
                });
                if better(v[i].vals[step], v[heap[wpos]].vals[step]) {
                    heap[wpos] = i;
                    worst = None;
                }
            }
            if n == 1 {
                heap.sort_by(|&a, &b| worse_cmp(top, v[b].vals[0], v[a].vals[0]));
                order.extend(heap.iter().copied());
            }
            for &i in &heap {
                chosen[i * n + step] = true;
            }
        }
    }
    let mut v: Vec<Option<Series>> = v.into_iter().map(Some).collect();
    let mut out = Vec::new();
    let take = |i: usize, v: &mut Vec<Option<Series>>| -> Option<Series> {
        let mut s = v[i].take()?;
        for step in 0..n {
            if !chosen[i * n + step] {
                s.has[step] = false;
            }
        }
        (!s.is_empty()).then_some(s)
    };
    if n == 1 {
        for i in order {
            if let Some(s) = take(i, &mut v) {
                out.push(s);
            }
        }
    } else {
        for i in 0..v.len() {
            if let Some(s) = take(i, &mut v) {
                out.push(s);
            }
        }
    }
    out
}

/// Orders values from worst to best for topk (ascending; NaN worst) or bottomk
/// (descending; NaN worst).
fn worse_cmp(top: bool, a: f64, b: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Equal,
        (true, false) => Less,
        (false, true) => Greater,
        _ => {
            let o = a.partial_cmp(&b).unwrap_or(Equal);
            if top { o } else { o.reverse() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The selection as first written: the worst of the heap looked up again for every
    /// candidate. `top_k` must choose exactly the same series, ties included.
    fn top_k_reference(
        top: bool,
        k: &[f64],
        v: &[Series],
        groups: &[(Labels, Vec<usize>)],
        n: usize,
    ) -> Vec<Vec<bool>> {
        let mut chosen = vec![vec![false; n]; v.len()];
        for step in 0..n {
            let kk = k[step];
            if kk.is_nan() || kk < 1.0 {
                continue;
            }
            let kk = if kk >= v.len() as f64 {
                v.len()
            } else {
                kk as usize
            };
            for (_, members) in groups {
                let mut heap: Vec<usize> = Vec::new();
                for &i in members {
                    if !v[i].has[step] {
                        continue;
                    }
                    if heap.len() < kk {
                        heap.push(i);
                        continue;
                    }
                    let (wpos, &w) = heap
                        .iter()
                        .enumerate()
                        .min_by(|a, b| worse_cmp(top, v[*a.1].vals[step], v[*b.1].vals[step]))
                        .unwrap();
                    let (a, b) = (v[i].vals[step], v[w].vals[step]);
                    let better = if top { b < a } else { b > a } || (b.is_nan() && !a.is_nan());
                    if better {
                        heap[wpos] = i;
                    }
                }
                for i in heap {
                    chosen[i][step] = true;
                }
            }
        }
        chosen
    }

    proptest! {
        #[test]
        fn top_k_chooses_as_the_reference_ties_included(
            // Few distinct values, so ties and NaNs are common.
            cells in proptest::collection::vec((0u8..5, any::<bool>()), 1..120),
            width in 1usize..7,
            kk in 0.0f64..5.0,
            top in any::<bool>(),
            two_groups in any::<bool>(),
        ) {
            let n = width;
            let rows = cells.len().div_ceil(n);
            let v: Vec<Series> = (0..rows)
                .map(|r| {
                    let mut s = Series::empty(Labels(vec![("i".into(), r.to_string())]), n);
                    for step in 0..n {
                        if let Some(&(x, has)) = cells.get(r * n + step) {
                            s.vals[step] = if x == 4 { f64::NAN } else { f64::from(x) };
                            s.has[step] = has;
                        }
                    }
                    s
                })
                .collect();
            let groups: Vec<(Labels, Vec<usize>)> = if two_groups {
                vec![
                    (Labels(Vec::new()), (0..rows).filter(|i| i % 2 == 0).collect()),
                    (Labels(vec![("g".into(), "1".into())]), (0..rows).filter(|i| i % 2 == 1).collect()),
                ]
            } else {
                vec![(Labels(Vec::new()), (0..rows).collect())]
            };
            let k = vec![kk.floor(); n];
            let want = top_k_reference(top, &k, &v, &groups, n);
            let got = top_k(top, &k, v.clone(), &groups, n);
            for s in &got {
                let r: usize = s.labels.get("i").unwrap().parse().unwrap();
                for step in 0..n {
                    prop_assert_eq!(s.has[step], want[r][step], "series {} step {}", r, step);
                }
            }
            let kept: usize = want.iter().filter(|c| c.iter().any(|&x| x)).count();
            prop_assert_eq!(got.len(), kept);
        }
    }
}
