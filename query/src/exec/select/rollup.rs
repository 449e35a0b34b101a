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
#[cfg(test)]
use strata_engine::model::FieldType;
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

/// Folds the buckets of `part` (of task `t`'s rollup) into its group's states for the
/// task's slots, either the first and last points (`selectors`) or the
/// other aggregates: straight into the group, with no per-series states, since every
/// aggregate rollups answer merges point by point (first and last by time; the others
/// in any order). `acc[slot]` holds the group's states of query buckets `lo..` of the
/// slot; buckets outside them are left to another call.
/// What every fold of one statement shares.
struct Folding<'a> {
    kinds: &'a [AggKind],
    layout: &'a Layout,
    /// The bucket width rates are taken over.
    window: i64,
}

fn fold(
    acc: &mut [&mut [State]],
    lo: usize,
    t: &Rolled<'_>,
    part: &BucketSlice,
    f: &Folding<'_>,
    selectors: bool,
    qs: &mut Vec<usize>,
) {
    let (kinds, layout, window, slots) = (f.kinds, f.layout, f.window, t.slots);
    let width = t.read.interval;
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
        let states = &mut *acc[s];
        // The state of query bucket `q`, if this call holds it.
        macro_rules! at {
            ($q:expr) => {
                states.get_mut($q.wrapping_sub(lo))
            };
        }
        match kind {
            AggKind::First | AggKind::Last if selectors => {
                for (i, &q) in range.clone().zip(qs.iter()) {
                    let (t, v) = if kind == AggKind::First {
                        b.first(i)
                    } else {
                        b.last(i)
                    };
                    if let Some(st) = at!(q) {
                        st.merge(kind, State::Point(Some((t, num(v)))), window)
                    }
                }
            }
            _ if selectors => {}
            AggKind::First | AggKind::Last => {}
            // Count, sum and mean read the counts and sums alone.
            AggKind::Count | AggKind::Sum | AggKind::Mean => match &b.values {
                TypedValues::Float(v) => {
                    for ((&q, &c), &x) in qs.iter().zip(count).zip(&v.sum[range.clone()]) {
                        if let Some(st) = at!(q) {
                            st.update_sum(c, BlockSum::Float(x));
                        }
                    }
                }
                TypedValues::Integer(v) => {
                    for ((&q, &c), &x) in qs.iter().zip(count).zip(&v.sum[range.clone()]) {
                        if let Some(st) = at!(q) {
                            st.update_sum(c, BlockSum::Integer(x));
                        }
                    }
                }
                TypedValues::Unsigned(v) => {
                    for ((&q, &c), &x) in qs.iter().zip(count).zip(&v.sum[range.clone()]) {
                        if let Some(st) = at!(q) {
                            st.update_sum(c, BlockSum::Unsigned(x));
                        }
                    }
                }
            },
            _ => {
                for (i, &q) in range.clone().zip(qs.iter()) {
                    if let Some(st) = at!(q) {
                        st.update_stats(b.count[i], b.first_t[i], &b.stats(i));
                    }
                }
            }
        }
    }
}

/// One column task's rollup buckets and the group they fold into.
pub(super) struct Rolled<'a> {
    pub(super) group: usize,
    pub(super) slots: &'a [usize],
    pub(super) read: &'a RollupRead,
}

/// Folds the first and last points of one task's rollup buckets into its group's states
/// (`acc[slot * n + bucket]`); the caller goes in task order, so that a tie in time
/// between series goes to the earlier task, as it does raw.
pub(super) fn fold_selectors(
    acc: &mut [State],
    t: &Rolled<'_>,
    kinds: &[AggKind],
    layout: &Layout,
    window: i64,
) {
    if !(t.slots.iter()).any(|&s| matches!(kinds[s], AggKind::First | AggKind::Last)) {
        return;
    }
    let mut slots: Vec<&mut [State]> = acc.chunks_mut(layout.n).collect();
    let mut qs = Vec::new();
    let f = Folding {
        kinds,
        layout,
        window,
    };
    for part in &t.read.parts {
        fold(&mut slots, 0, t, part, &f, true, &mut qs);
    }
}

/// Folds every other aggregate of the tasks' rollup buckets into the groups' states
/// (`acc[group][slot * n + bucket]`): day by day across the tasks (a task's parts are its
/// days), so that each day's decoded stripes are read front to back while cached. With
/// `chunks` > 1, the query buckets are cut into that many ranges folded at once on the
/// pool; each state still takes its buckets in the same order (by day, then task), so
/// the answer does not depend on the cut. `check` fails when the statement must stop.
#[allow(clippy::too_many_arguments)]
pub(super) fn fold_others(
    check: &(dyn Fn() -> Result<(), QueryError> + Sync),
    acc: &mut [Option<Vec<State>>],
    rolled: &[Rolled<'_>],
    kinds: &[AggKind],
    layout: &Layout,
    window: i64,
    chunks: usize,
) -> Result<(), QueryError> {
    let n = layout.n;
    let chunks = chunks.clamp(1, 64).min(n);
    let bounds: Vec<(usize, usize)> = (0..chunks)
        .map(|c| (c * n / chunks, (c + 1) * n / chunks))
        .collect();
    // Per chunk, per group, per slot: the states of the chunk's buckets.
    let mut views: Vec<Vec<Vec<&mut [State]>>> = (0..chunks)
        .map(|_| (0..acc.len()).map(|_| Vec::new()).collect())
        .collect();
    for (g, a) in acc.iter_mut().enumerate() {
        let Some(a) = a else {
            continue;
        };
        for slot in a.chunks_mut(n) {
            let mut rest = slot;
            for (c, &(lo, hi)) in bounds.iter().enumerate() {
                let (head, tail) = std::mem::take(&mut rest).split_at_mut(hi - lo);
                views[c][g].push(head);
                rest = tail;
            }
        }
    }
    let f = Folding {
        kinds,
        layout,
        window,
    };
    let run = |(c, mut view): (usize, Vec<Vec<&mut [State]>>)| -> Result<(), QueryError> {
        let (lo, hi) = bounds[c];
        // (The first and last chunks reach out to any time: a bucket outside the layout
        // is clamped into its first or last bucket.)
        let t_lo = if lo == 0 { i64::MIN } else { layout.time(lo) };
        let t_hi = if hi == n { i64::MAX } else { layout.time(hi) };
        // Each task's parts that reach into the chunk's time.
        let spans: Vec<(usize, usize)> = rolled
            .iter()
            .map(|t| {
                let p = &t.read.parts;
                let first = p.partition_point(|x| {
                    x.range.end > x.range.start && x.cols.start[x.range.end - 1] < t_lo
                });
                let end = first
                    + p[first..].partition_point(|x| {
                        x.range.end > x.range.start && x.cols.start[x.range.start] < t_hi
                    });
                (first, end)
            })
            .collect();
        let from = spans.iter().map(|s| s.0).min().unwrap_or(0);
        let to = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let mut qs = Vec::new();
        for d in from..to {
            check()?;
            for (t, &(a, z)) in rolled.iter().zip(&spans) {
                if d < a || d >= z {
                    continue;
                }
                fold(
                    &mut view[t.group],
                    lo,
                    t,
                    &t.read.parts[d],
                    &f,
                    false,
                    &mut qs,
                );
            }
        }
        Ok(())
    };
    if chunks > 1 {
        use rayon::prelude::*;
        views.into_par_iter().enumerate().try_for_each(run)
    } else {
        views.into_iter().enumerate().try_for_each(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::rollup::{BucketColumns, RollupBucket};
    use strata_engine::segment::BlockStats;

    const H: i64 = 3_600_000_000_000;

    /// Days of hourly float buckets for `tasks` series, some days missing for some series
    /// (so that a day is at different part positions across tasks).
    fn reads(tasks: usize, days: i64) -> Vec<RollupRead> {
        (0..tasks)
            .map(|k| {
                let parts = (0..days)
                    .filter(|d| (d + k as i64) % 5 != 2)
                    .map(|d| {
                        let rows: Vec<RollupBucket> = (0..24)
                            .filter(|h| (h * 7 + k as i64 + d) % 11 != 0)
                            .map(|h| {
                                let start = (d * 24 + h) * H;
                                let x = ((start / H) as f64 * 0.37 + k as f64).sin() * 1e3 / 7.0;
                                RollupBucket {
                                    start,
                                    count: 1 + (h as u64 + k as u64) % 4,
                                    stats: BlockStats::Float {
                                        sum: x * 3.1,
                                        min: x - 1.0,
                                        max: x + 1.0,
                                    },
                                    first: (start + 1, Scalar::F(x)),
                                    last: (start + 2, Scalar::F(-x)),
                                    sketch: None,
                                }
                            })
                            .collect();
                        let cols = BucketColumns::from_rows(FieldType::Float, &rows).unwrap();
                        let len = cols.len();
                        BucketSlice {
                            cols: std::sync::Arc::new(cols),
                            range: 0..len,
                        }
                    })
                    .collect();
                RollupRead {
                    interval: H,
                    rule: "m".into(),
                    covered: TimeRange::new(0, days * 24 * H),
                    parts,
                    files: 0,
                }
            })
            .collect()
    }

    #[test]
    fn folding_in_ranges_gives_the_same_states_as_in_one() {
        let kinds = [
            AggKind::Mean,
            AggKind::Sum,
            AggKind::Count,
            AggKind::Min,
            AggKind::Max,
        ];
        let slots: Vec<usize> = (0..kinds.len()).collect();
        let reads = reads(13, 30);
        for interval in [H, 6 * H, 24 * H] {
            let n = usize::try_from(30 * 24 * H / interval).unwrap();
            let layout = Layout {
                start: 0,
                interval,
                n,
            };
            let rolled: Vec<Rolled<'_>> = (reads.iter().enumerate())
                .map(|(k, read)| Rolled {
                    group: k % 3,
                    slots: &slots,
                    read,
                })
                .collect();
            let run = |chunks: usize| {
                let mut acc: Vec<Option<Vec<State>>> = (0..3)
                    .map(|_| Some(super::super::new_states(&kinds, n)))
                    .collect();
                fold_others(
                    &|| Ok(()),
                    &mut acc,
                    &rolled,
                    &kinds,
                    &layout,
                    interval,
                    chunks,
                )
                .unwrap();
                format!("{acc:?}")
            };
            let one = run(1);
            for chunks in [2, 3, 7, 64] {
                assert_eq!(run(chunks), one, "{chunks} ranges of {interval} ns buckets");
            }
            // And the counts are every rolled-up point, once.
            let points: u64 = (reads.iter().flat_map(|r| &r.parts))
                .map(|p| p.cols.count.iter().sum::<u64>())
                .sum();
            let mut acc: Vec<Option<Vec<State>>> = (0..3)
                .map(|_| Some(super::super::new_states(&kinds, n)))
                .collect();
            fold_others(&|| Ok(()), &mut acc, &rolled, &kinds, &layout, interval, 2).unwrap();
            let counted: u64 = (acc.iter().flatten())
                .flat_map(|a| &a[2 * n..3 * n])
                .map(|st| match st {
                    State::Count(c) => *c,
                    other => panic!("{other:?}"),
                })
                .sum();
            assert_eq!(counted, points);
        }
    }
}
