//! Answering an aggregate from rollup buckets (engine `rollup`): when a statement may, and
//! folding the buckets into the groups' per-bucket states.
//!
//! Eligibility (all must hold, else the column is read raw, with the same result):
//! `GROUP BY time(d)` with `d` a multiple of the rule's interval and bucket edges (offset
//! and time zone included) on the rule's edges; no transformation looking at earlier
//! buckets; only `count sum mean min max spread first last` over a numeric field, and no
//! condition on field values. The engine then says which whole rollup buckets are exact
//! (`Db::rollup_reads`, asked once for all the statement's columns of a field), and the
//! points before and after them are read raw; every point is thus counted exactly once. `percentile` and `median` never use rollups: a sketch answers
//! within 1 %, and InfluxQL promises exact values.

use super::buckets::Layout;
use super::{AggKind, Ctx, QueryError, State};
use crate::exec::agg::BlockSum;
use crate::partial::Num;
use strata_engine::model::TimeRange;
use strata_engine::rollup::columns::TypedValues;
use strata_engine::rollup::{Aggregates, Scalar};
use strata_engine::{BucketSlice, RollupAsk, RollupRead};

/// The aggregates `kinds` need from a rollup; `None` when one cannot come from it.
fn needs(kinds: &[AggKind]) -> Option<Aggregates> {
    let mut bits = Aggregates::COUNT;
    for k in kinds {
        bits |= match k {
            AggKind::Count => Aggregates::COUNT,
            AggKind::Sum | AggKind::Mean => Aggregates::SUM,
            AggKind::Min => Aggregates::MIN,
            AggKind::Max => Aggregates::MAX,
            AggKind::Spread => Aggregates::MIN | Aggregates::MAX,
            AggKind::First => Aggregates::FIRST,
            AggKind::Last => Aggregates::LAST,
            _ => return None,
        };
    }
    Some(Aggregates(bits))
}

/// The rollup buckets for the column tasks `asks` (all reading one field, through the
/// aggregates `kinds`), in order, if the statement and the data allow; records each
/// choice for `EXPLAIN`. One engine call for them all: each day's file is opened and its
/// directory walked once for every column.
pub(super) fn read_many(
    ctx: &Ctx<'_>,
    asks: &[RollupAsk<'_>],
    kinds: &[AggKind],
    layout: &Layout,
    range: TimeRange,
) -> Result<Vec<Option<RollupRead>>, QueryError> {
    let none = || vec![None; asks.len()];
    let Some(need) = needs(kinds) else {
        for _ in asks {
            ctx.explain.note_raw(
                "an aggregate that rollups do not hold (or percentile/median, kept exact)",
            );
        }
        return Ok(none());
    };
    if layout.interval <= 0 {
        for _ in asks {
            ctx.explain.note_raw("no GROUP BY time()");
        }
        return Ok(none());
    }
    let (d, start) = (layout.interval, layout.start);
    let usable = |i: i64| d % i == 0 && start.rem_euclid(i) == 0;
    let got = ctx
        .db
        .rollup_reads(asks, range, need, &usable)
        .map_err(QueryError::from)?;
    for g in &got {
        match g {
            Some(r) => ctx.explain.note_rollup(r),
            None => ctx
                .explain
                .note_raw("no rollup rule fits, or no whole rollup bucket is exact here"),
        }
    }
    Ok(got)
}

fn num(v: Scalar) -> Num {
    match v {
        Scalar::F(f) => Num::F(f),
        Scalar::I(i) => Num::I(i),
        Scalar::U(u) => Num::U(u),
    }
}

/// Folds the buckets of `part` (of a rollup with bucket width `width`) into a group's
/// states (`acc[slot * n + bucket]`) for the task's `slots`, either the first and last
/// points (`selectors`) or the other aggregates: straight into the group, with no
/// per-series states, since every aggregate rollups answer merges point by point (first
/// and last by time; the others in any order).
#[allow(clippy::too_many_arguments)]
pub(super) fn fold(
    acc: &mut [State],
    slots: &[usize],
    kinds: &[AggKind],
    layout: &Layout,
    part: &BucketSlice,
    width: i64,
    window: i64,
    selectors: bool,
    qs: &mut Vec<usize>,
) {
    let n = layout.n;
    let b = &*part.cols;
    let range = part.range.clone();
    if !slots
        .iter()
        .any(|&s| matches!(kinds[s], AggKind::First | AggKind::Last) == selectors)
    {
        return;
    }
    qs.clear();
    let starts = &b.start[range.clone()];
    let (Some(&first), Some(&last)) = (starts.first(), starts.last()) else {
        return;
    };
    let len = starts.len();
    // Rollup buckets one grid step apart (a whole day of a regular series) need not have
    // their starts read: `per` of them make a query bucket (`width` divides the query's
    // interval: the rule was chosen so).
    let per = layout.interval / width.max(1);
    let dense = width > 0
        && layout.interval % width == 0
        && i128::from(first) + i128::from(width) * (len as i128 - 1) == i128::from(last);
    let q0 = layout.bucket(first);
    if dense && per == 1 && q0 + len <= n {
        qs.extend(q0..q0 + len);
    } else if dense {
        let mut q = q0;
        let mut k = (first - layout.time(q)) / width;
        for _ in 0..len {
            qs.push(q);
            k += 1;
            if k == per {
                k = 0;
                q = (q + 1).min(n - 1);
            }
        }
    } else {
        // Starts ascend: step to the next bucket rather than divide for each.
        let (mut q, mut edge) = (q0, layout.bucket_end(q0));
        for &t in starts {
            if t >= edge {
                let next = edge.saturating_add(layout.interval);
                if q + 1 < n && t < next {
                    q += 1;
                    edge = next;
                } else {
                    q = layout.bucket(t);
                    edge = layout.bucket_end(q);
                }
            }
            qs.push(q);
        }
    }
    let count = &b.count[range.clone()];
    for &s in slots {
        let kind = kinds[s];
        let states = &mut acc[s * n..(s + 1) * n];
        match kind {
            AggKind::First | AggKind::Last if selectors => {
                for (i, &q) in range.clone().zip(qs.iter()) {
                    let (t, v) = if kind == AggKind::First {
                        b.first(i)
                    } else {
                        b.last(i)
                    };
                    states[q].merge(kind, State::Point(Some((t, num(v)))), window)
                }
            }
            _ if selectors => {}
            AggKind::First | AggKind::Last => {}
            // Count, sum and mean read the counts and sums alone.
            AggKind::Count | AggKind::Sum | AggKind::Mean => match &b.values {
                TypedValues::Float(v) => {
                    for ((&q, &c), &x) in qs.iter().zip(count).zip(&v.sum[range.clone()]) {
                        states[q].update_sum(c, BlockSum::Float(x));
                    }
                }
                TypedValues::Integer(v) => {
                    for ((&q, &c), &x) in qs.iter().zip(count).zip(&v.sum[range.clone()]) {
                        states[q].update_sum(c, BlockSum::Integer(x));
                    }
                }
                TypedValues::Unsigned(v) => {
                    for ((&q, &c), &x) in qs.iter().zip(count).zip(&v.sum[range.clone()]) {
                        states[q].update_sum(c, BlockSum::Unsigned(x));
                    }
                }
            },
            _ => {
                for (i, &q) in range.clone().zip(qs.iter()) {
                    states[q].update_stats(b.count[i], b.first_t[i], &b.stats(i));
                }
            }
        }
    }
}
