//! Answering an aggregate from rollup buckets (engine `rollup`): when a statement may, and
//! feeding the buckets into the per-bucket states.
//!
//! Eligibility (all must hold, else the column is read raw, with the same result):
//! `GROUP BY time(d)` with `d` a multiple of the rule's interval and bucket edges (offset
//! and time zone included) on the rule's edges; no transformation looking at earlier
//! buckets; only `count sum mean min max spread first last` over a numeric field, and no
//! condition on field values. The engine then says which whole rollup buckets are exact
//! (`Db::rollup_read`), and the points before and after them are read raw; every point is
//! thus counted exactly once. `percentile` and `median` never use rollups: a sketch answers
//! within 1 %, and InfluxQL promises exact values.

use super::buckets::Layout;
use super::{AggKind, Ctx, QueryError, State};
use crate::partial::Num;
use strata_engine::RollupRead;
use strata_engine::index::ColumnId;
use strata_engine::model::{FieldType, SeriesKey, TimeRange};
use strata_engine::rollup::{Aggregates, Scalar};

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

/// The rollup buckets for one column task, if the statement and the data allow; records
/// the choice for `EXPLAIN`.
#[allow(clippy::too_many_arguments)]
pub(super) fn read(
    ctx: &Ctx<'_>,
    key: &SeriesKey,
    col: ColumnId,
    field: &str,
    ty: FieldType,
    range: TimeRange,
    kinds: &[AggKind],
    layout: &Layout,
    _offset: i64,
) -> Result<Option<RollupRead>, QueryError> {
    let Some(need) = needs(kinds) else {
        ctx.explain
            .note_raw("an aggregate that rollups do not hold (or percentile/median, kept exact)");
        return Ok(None);
    };
    if layout.interval <= 0 {
        ctx.explain.note_raw("no GROUP BY time()");
        return Ok(None);
    }
    let (d, start) = (layout.interval, layout.start);
    let usable = |i: i64| d % i == 0 && start.rem_euclid(i) == 0;
    let got = ctx
        .db
        .rollup_read(key, col, field, ty, range, need, &usable)
        .map_err(QueryError::from)?;
    match &got {
        Some(r) => ctx.explain.note_rollup(r),
        None => ctx
            .explain
            .note_raw("no rollup rule fits, or no whole rollup bucket is exact here"),
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

/// Folds the buckets of `r` into `states` (`states[k * n + bucket]` for slot `k`).
pub(super) fn feed(
    states: &mut [State],
    kinds: &[AggKind],
    layout: &Layout,
    r: &RollupRead,
    window: i64,
) {
    let n = layout.n;
    for part in &r.parts {
        let b = &*part.cols;
        for i in part.range.clone() {
            let q = layout.bucket(b.start[i]);
            for (k, kind) in kinds.iter().enumerate() {
                let st = &mut states[k * n + q];
                match kind {
                    AggKind::First => {
                        let (t, v) = b.first(i);
                        st.merge(*kind, State::Point(Some((t, num(v)))), window)
                    }
                    AggKind::Last => {
                        let (t, v) = b.last(i);
                        st.merge(*kind, State::Point(Some((t, num(v)))), window)
                    }
                    _ => st.update_stats(b.count[i], b.first_t[i], &b.stats(i)),
                }
            }
        }
    }
}
