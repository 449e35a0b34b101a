//! The aggregate path: one task per (series, field) streams the column's pieces into
//! per-bucket mergeable [`State`]s (a block inside one bucket from its statistics), and
//! the tasks' states merge per group; [`super::rows`] turns each group's buckets into rows.

use super::*;

pub(super) type GroupRows = Vec<Option<Vec<Vec<Value>>>>;

/// A task's result: its group, its series' `le` bound (histograms), the slots it
/// computed and their per-bucket states.
pub(super) type Partial = (usize, usize, Option<f64>, Vec<usize>, Vec<State>);

/// The `le` tag of a Prometheus `_bucket` series as a number (`+Inf` included).
pub(super) fn le_of(c: &Chosen) -> Option<f64> {
    let le = c.info.key.tag("le")?;
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}

/// The time frame of an aggregate statement, from its bounds, plan and `now` alone (so
/// that a cluster front-end derives the same one as each node).
pub(super) struct Frame {
    /// The range read: the asked one, widened for looking-back transformations.
    pub(super) range: TimeRange,
    /// Lower bound shown (None without one) and upper bound.
    pub(super) shown: (Option<i64>, i64),
    /// Per slot, the time range it takes points from.
    pub(super) clip: Vec<(i64, i64)>,
    /// Times at which a block must not be answered from its statistics.
    pub(super) cuts: Vec<i64>,
    /// Buckets read beyond the asked range.
    pub(super) extra: i64,
    /// Bucket offset, zone included.
    pub(super) offset: i64,
    /// Width over which rates are taken.
    pub(super) window: i64,
    /// Whether the time of the selected point is shown.
    pub(super) shows_point_time: bool,
}

pub(super) fn frame(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    bounds: Bounds,
) -> Result<Frame, QueryError> {
    let mut range = bounds.range();
    let interval = plan.interval;
    // An aggregate over GROUP BY time without an upper bound ends now, as in InfluxDB.
    if interval > 0 && !bounds.has_end {
        range.end = range.end.min(ctx.now.saturating_add(1));
    }
    // Transformations over buckets read extra buckets before the range (after it, when
    // descending), as InfluxDB does, so the first bucket shown has a predecessor; rows
    // outside the asked range are dropped once the transformations ran.
    let desc = sel.order == Some(Order::Desc);
    let extra = if interval > 0 {
        plan.extra_intervals()
    } else {
        0
    };
    let shown = (bounds.has_start.then_some(range.start), range.end);
    // Only the aggregates under a looking-back transformation read the wider range; the
    // others (and cumulative sums) keep the asked one.
    let asked = (range.start, range.end);
    let looking_back = plan.looking_back_slots();
    let clip: Vec<(i64, i64)> = (0..plan.slots.len())
        .map(|s| {
            if extra == 0 || looking_back.contains(&s) {
                (i64::MIN, i64::MAX)
            } else {
                asked
            }
        })
        .collect();
    let cuts: Vec<i64> = if extra > 0 {
        vec![asked.0, asked.1]
    } else {
        Vec::new()
    };
    if extra > 0 {
        let span = interval.saturating_mul(extra);
        if desc {
            range.end = range.end.saturating_add(span);
        } else if bounds.has_start {
            range.start = range.start.saturating_sub(span);
        }
    }
    let mut offset = plan.offset;
    if let Some(tz) = &sel.tz
        && interval > 0
    {
        offset = (offset - zone_offset(tz, range.start.max(0))?).rem_euclid(interval);
    }
    // The selected point's time is shown only for a lone selector without GROUP BY time;
    // block statistics cannot give it.
    // Repeats of one selector (`max(x), max(x) * 2`) count as one, as in InfluxDB.
    let shows_point_time = interval == 0
        && plan.slots[0].kind.is_selector()
        && plan
            .slots
            .iter()
            .all(|s| s.kind == plan.slots[0].kind && s.field == plan.slots[0].field);
    let window = if interval > 0 {
        interval
    } else if bounds.has_start && bounds.has_end {
        bounds.end - bounds.start
    } else {
        0
    };
    Ok(Frame {
        range,
        shown,
        clip,
        cuts,
        extra,
        offset,
        window,
        shows_point_time,
    })
}

/// What folding a statement's columns gave: rows already (lone selectors with other
/// columns), or per group the per-bucket states (`states[slot * n + bucket]`).
pub(super) enum Collected {
    /// No bucket to fill.
    Empty,
    /// Finished rows per group.
    Rows(GroupRows),
    /// States per group, before finishing.
    States {
        layout: Layout,
        acc: Vec<Option<Vec<State>>>,
        /// The whole range when LIMIT cut the buckets short.
        limited_from: Option<TimeRange>,
        frame: Frame,
        fields: Vec<(String, Vec<usize>)>,
    },
}

#[allow(clippy::too_many_arguments)]
pub(super) fn aggregate(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    bounds: Bounds,
    chosen: &[Chosen],
    n_groups: usize,
) -> Result<GroupRows, QueryError> {
    let (layout, mut acc, limited_from, frame, fields) =
        match collect(ctx, sel, plan, bounds, chosen, n_groups, true)? {
            Collected::Empty => return Ok(vec![None; n_groups]),
            Collected::Rows(rows) => return Ok(rows),
            Collected::States {
                layout,
                acc,
                limited_from,
                frame,
                fields,
            } => (layout, acc, limited_from, frame, fields),
        };
    let n = layout.n;
    let mut groups_held = acc.iter().filter(|a| a.is_some()).count();
    // With the buckets cut short by LIMIT, a group with points anywhere in the whole
    // range shows (its first buckets filled), as it would without the cut.
    let mut present = vec![false; n_groups];
    if let Some(full) = limited_from {
        for (i, c) in chosen.iter().enumerate() {
            if i % 256 == 0 {
                ctx.check_deadline()?;
            }
            if present[c.group] {
                continue;
            }
            for (f, _) in &fields {
                if let Some((_, col, _)) = c.info.columns.iter().find(|(n, _, _)| n == f)
                    && ctx.db.column_bounds(*col, full)?.is_some()
                {
                    present[c.group] = true;
                    break;
                }
            }
        }
        for (g, a) in acc.iter_mut().enumerate() {
            if present[g] && a.is_none() {
                groups_held += 1;
                check_buckets_held(ctx, groups_held, n, layout.interval)?;
                *a = Some(new_states(
                    &plan.slots.iter().map(|s| s.kind).collect::<Vec<_>>(),
                    n,
                ));
            }
        }
    }
    finish_groups(ctx, sel, plan, bounds, &frame, &layout, acc, &present)
}

/// Turns each group's per-bucket states into rows (fill, selectors, transformations).
#[allow(clippy::too_many_arguments)]
pub(super) fn finish_groups(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    bounds: Bounds,
    frame: &Frame,
    layout: &Layout,
    acc: Vec<Option<Vec<State>>>,
    present: &[bool],
) -> Result<GroupRows, QueryError> {
    let fill = sel.fill.clone().unwrap_or(Fill::Null);
    let interval = layout.interval;
    let no_bucket_time = if bounds.has_start { bounds.start } else { 0 };
    let shown = if interval > 0 {
        (
            frame
                .shown
                .0
                .map_or(i64::MIN, |s| window_start(s, interval, frame.offset)),
            frame.shown.1,
        )
    } else {
        (i64::MIN, i64::MAX)
    };
    acc.into_iter()
        .enumerate()
        .map(|(g, a)| {
            let Some(states) = a else {
                return Ok(None);
            };
            ctx.check_deadline()?;
            let rows = finish_group(
                plan,
                layout,
                &states,
                &fill,
                frame.window,
                frame.shows_point_time,
                no_bucket_time,
                bounds.has_start,
                shown,
                present.get(g).copied().unwrap_or(false),
                sel,
            );
            Ok((!rows.is_empty()).then_some(rows))
        })
        .collect()
}

/// Folds the chosen series' columns into per-group, per-bucket states. `cut_for_limit`
/// lets LIMIT shorten the buckets (a single node's shortcut; a cluster member folds them
/// all, since the front-end decides what shows).
#[allow(clippy::too_many_arguments)]
pub(super) fn collect(
    ctx: &Ctx<'_>,
    sel: &Select,
    plan: &Plan,
    bounds: Bounds,
    chosen: &[Chosen],
    n_groups: usize,
    cut_for_limit: bool,
) -> Result<Collected, QueryError> {
    let frame = frame(ctx, sel, plan, bounds)?;
    let mut range = frame.range;
    let interval = plan.interval;
    let desc = sel.order == Some(Order::Desc);
    let extra = frame.extra;
    let offset = frame.offset;
    let clip = frame.clip.clone();
    let cuts = frame.cuts.clone();
    // Distinct fields the slots read, and the slots of each.
    let mut fields: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, s) in plan.slots.iter().enumerate() {
        match fields.iter_mut().find(|(f, _)| *f == s.field) {
            Some((_, v)) => v.push(i),
            None => fields.push((s.field.clone(), vec![i])),
        }
    }
    // Without a lower bound, buckets start at the earliest point read.
    if interval > 0 && !bounds.has_start {
        let mut first: Option<i64> = None;
        for (i, c) in chosen.iter().enumerate() {
            if i % 256 == 0 {
                ctx.check_deadline()?;
            }
            for (f, _) in &fields {
                if let Some((_, col, _)) = c.info.columns.iter().find(|(n, _, _)| n == f)
                    && let Some((lo, _)) = ctx.db.column_bounds(*col, range)?
                {
                    first = Some(first.map_or(lo, |x: i64| x.min(lo)));
                }
            }
        }
        match first {
            Some(f) => range.start = f,
            None => return Ok(Collected::Empty),
        }
    }
    if range.start >= range.end {
        return Ok(Collected::Empty);
    }
    // The range before LIMIT cut the buckets short: whether a group shows at all still
    // depends on the whole range.
    let mut limited_from: Option<TimeRange> = None;
    let layout = if interval > 0 {
        let start = window_start(range.start, interval, offset);
        let buckets = (i128::from(range.end) - 1 - i128::from(start)) / i128::from(interval) + 1;
        let mut n = usize::try_from(buckets).unwrap_or(usize::MAX);
        // With LIMIT and a fill that keeps empty buckets, later buckets are never shown.
        let keeps_empty = !matches!(sel.fill, Some(Fill::None));
        if cut_for_limit
            && keeps_empty
            && !desc
            && extra == 0
            && (bounds.has_start || n_groups == 1)
            && let Some(l) = sel.limit
        {
            let want = limit_plus_offset(Some(l), sel.offset).unwrap_or(usize::MAX);
            if want < n {
                n = want.max(1);
                limited_from = Some(range);
                range.end = clamp_i64(i128::from(start) + i128::from(interval) * n as i128);
            }
        }
        if n > ctx.limits.max_rows {
            return Err(QueryError::Limit(format!(
                "max-select-buckets limit exceeded: GROUP BY time({}) over this range gives {n} buckets, more than {} (narrow the time range or use a larger interval)",
                crate::ast::Duration(interval),
                ctx.limits.max_rows
            )));
        }
        Layout { start, interval, n }
    } else {
        Layout {
            start: range.start,
            interval: 0,
            n: 1,
        }
    };
    let shows_point_time = frame.shows_point_time;
    let window = frame.window;

    enum Task<'a> {
        Column {
            chosen: &'a Chosen,
            field: &'a str,
            col: ColumnId,
            ty: FieldType,
            slots: &'a [usize],
            /// Whole rollup buckets answering the middle of the range.
            rolled: Option<RollupRead>,
        },
        Rows {
            chosen: &'a Chosen,
        },
    }
    let mut tasks = Vec::new();
    for c in chosen {
        if c.residual.is_some() {
            tasks.push(Task::Rows { chosen: c });
            continue;
        }
        for (f, slots) in &fields {
            if let Some((_, col, ty)) = c.info.columns.iter().find(|(n, _, _)| n == f) {
                tasks.push(Task::Column {
                    chosen: c,
                    field: f,
                    col: *col,
                    ty: *ty,
                    slots,
                    rolled: None,
                });
            }
        }
    }
    // Whole rollup buckets answer the middle of the range when they can
    // (`super::rollup`), asked for once per field for every series; raw points the rest.
    if extra == 0 && !shows_point_time && !plan.point_rows {
        for (f, slots) in &fields {
            let kinds: Vec<AggKind> = slots.iter().map(|&s| plan.slots[s].kind).collect();
            let mut at = Vec::new();
            let mut asks = Vec::new();
            for (k, t) in tasks.iter().enumerate() {
                if let Task::Column {
                    chosen,
                    field,
                    col,
                    ty,
                    ..
                } = t
                    && *field == f.as_str()
                {
                    at.push(k);
                    asks.push(RollupAsk {
                        key: &chosen.info.key,
                        column: *col,
                        field,
                        ty: *ty,
                    });
                }
            }
            if asks.is_empty() {
                continue;
            }
            ctx.check_deadline()?;
            let got = super::rollup::read_many(ctx, &asks, &kinds, &layout, range)?;
            drop(asks);
            for (k, r) in at.into_iter().zip(got) {
                if let Task::Column { rolled, .. } = &mut tasks[k] {
                    *rolled = r;
                }
            }
        }
    }
    /// The parts of `range` a column task reads raw.
    fn raw_ranges(range: TimeRange, rolled: &Option<RollupRead>) -> [TimeRange; 2] {
        match rolled {
            Some(r) => [
                TimeRange::new(range.start, r.covered.start),
                TimeRange::new(r.covered.end, range.end),
            ],
            None => [range, TimeRange::new(range.end, range.end)],
        }
    }
    let n = layout.n;
    let run_task = |t: &Task<'_>| -> Result<Option<Partial>, QueryError> {
        ctx.check_deadline()?;
        match t {
            Task::Column {
                chosen,
                col,
                ty,
                slots,
                rolled,
                ..
            } => {
                let raw_ranges = raw_ranges(range, rolled);
                if raw_ranges.iter().all(|r| r.start >= r.end) {
                    return Ok(None);
                }
                let kinds: Vec<AggKind> = slots.iter().map(|&s| plan.slots[s].kind).collect();
                let task_clip: Vec<(i64, i64)> = slots.iter().map(|&s| clip[s]).collect();
                let stats_ok = !shows_point_time
                    && !plan.point_rows
                    && kinds.iter().all(|k| k.uses_stats(*ty));
                let mut states = new_states(&kinds, n);
                let mut scratch = Vec::new();
                let mut seen = false;
                let mut carry = None;
                let mut stopped = None;
                // Raw points before and after the rollup buckets (which are folded into
                // the group below), in time order.
                for range in raw_ranges {
                    if range.start >= range.end {
                        continue;
                    }
                    let scanned = ctx.db.scan_column(
                        *col,
                        *ty,
                        range,
                        &mut |lo, hi| {
                            stats_ok
                                && layout.bucket(lo) == layout.bucket(hi)
                                && !cuts.iter().any(|&c| lo < c && c <= hi)
                        },
                        &mut |p| {
                            if let Err(e) = ctx.check_deadline() {
                                stopped = Some(e);
                                return Err(strata_engine::Error::InvalidInput(
                                    "query stopped".into(),
                                ));
                            }
                            seen = true;
                            feed(
                                &mut states,
                                &kinds,
                                &task_clip,
                                &layout,
                                p,
                                &mut scratch,
                                &mut carry,
                            );
                            Ok(())
                        },
                    );
                    if let Some(e) = stopped {
                        return Err(e);
                    }
                    scanned?;
                }
                integrate(&mut states, &kinds, &layout);
                Ok(seen.then(|| {
                    (
                        chosen.group,
                        chosen.index,
                        le_of(chosen),
                        slots.to_vec(),
                        states,
                    )
                }))
            }
            Task::Rows { chosen } => {
                ctx.explain.note_raw("a condition on field values");
                let all: Vec<usize> = (0..plan.slots.len()).collect();
                let kinds: Vec<AggKind> = plan.slots.iter().map(|s| s.kind).collect();
                let mut need: Vec<String> = fields.iter().map(|(f, _)| f.clone()).collect();
                if let Some(r) = &chosen.residual {
                    r.fields(&mut need);
                }
                let rows = read_rows(ctx, &chosen.info, &need, range, chosen.residual.as_ref())?;
                if rows.times.is_empty() {
                    return Ok(None);
                }
                let mut states = new_states(&kinds, n);
                let mut scratch = Vec::new();
                let mut seen = false;
                for (fi, (f, slot_ids)) in fields.iter().enumerate() {
                    let _ = f;
                    let Some((ts, vals)) = rows.column(fi) else {
                        continue;
                    };
                    if ts.is_empty() {
                        continue;
                    }
                    seen = true;
                    let sub: Vec<AggKind> = slot_ids.iter().map(|&s| kinds[s]).collect();
                    let mut sub_states = new_states(&sub, n);
                    let sub_clip: Vec<(i64, i64)> = slot_ids.iter().map(|&s| clip[s]).collect();
                    feed(
                        &mut sub_states,
                        &sub,
                        &sub_clip,
                        &layout,
                        Piece::Points {
                            timestamps: &ts,
                            values: vals.view(),
                        },
                        &mut scratch,
                        &mut None,
                    );
                    for (k, &s) in slot_ids.iter().enumerate() {
                        for b in 0..n {
                            states[s * n + b] =
                                std::mem::replace(&mut sub_states[k * n + b], State::Count(0));
                        }
                    }
                }
                integrate(&mut states, &kinds, &layout);
                Ok(seen.then_some((chosen.group, chosen.index, le_of(chosen), all, states)))
            }
        }
    };
    // The thread pool only when the plan touches enough points to pay for it.
    let pool = use_pool(tasks.len(), |i| match &tasks[i] {
        Task::Column { col, rolled, .. } => (raw_ranges(range, rolled).iter())
            .filter(|r| r.start < r.end)
            .map(|r| ctx.db.column_points_estimate(*col, *r))
            .sum(),
        Task::Rows { chosen } => (chosen.info.columns.iter())
            .map(|(_, col, _)| ctx.db.column_points_estimate(*col, range))
            .sum(),
    });
    let done: Vec<Result<Option<Partial>, QueryError>> = if pool {
        tasks.par_iter().map(run_task).collect()
    } else {
        tasks.iter().map(run_task).collect()
    };
    let done: Vec<Option<Partial>> = done.into_iter().collect::<Result<_, _>>()?;
    let fill = sel.fill.clone().unwrap_or(Fill::Null);
    if plan.point_rows {
        let partials = done.into_iter().flatten().collect();
        return Ok(Collected::Rows(point_rows(
            ctx, sel, plan, &layout, partials, chosen, n_groups, &fill,
        )?));
    }
    // Merge per group, in task order: each task's raw partial, then its rollup buckets'
    // first and last points (so that a tie in time between series goes to the earlier
    // task, as it does raw).
    let all_kinds: Vec<AggKind> = plan.slots.iter().map(|s| s.kind).collect();
    let mut acc: Vec<Option<Vec<State>>> = vec![None; n_groups];
    let mut groups_held = 0usize;
    let mut rolled_tasks: Vec<super::rollup::Rolled<'_>> = Vec::new();
    for (task, partial) in tasks.iter().zip(done) {
        ctx.check_deadline()?;
        let rolled = match task {
            Task::Column {
                chosen,
                slots,
                rolled: Some(r),
                ..
            } if !r.is_empty() => Some((chosen.group, *slots, r)),
            _ => None,
        };
        let g = match (&partial, &rolled) {
            (Some(p), _) => p.0,
            (None, Some(r)) => r.0,
            (None, None) => continue,
        };
        if acc[g].is_none() {
            groups_held += 1;
            check_buckets_held(ctx, groups_held, n, interval)?;
        }
        let a = acc[g].get_or_insert_with(|| new_states(&all_kinds, n));
        if let Some((_, _series, le, slots, states)) = partial {
            for (k, &s) in slots.iter().enumerate() {
                let kind = plan.slots[s].kind;
                for b in 0..n {
                    let st = &states[k * n + b];
                    if let AggKind::HistogramQuantile(_) = kind {
                        // Series without a numeric `le` tag are not histogram buckets.
                        if let Some(le) = le {
                            a[s * n + b].merge_bucket(le, st);
                        }
                        continue;
                    }
                    a[s * n + b].merge(kind, st.clone(), window);
                }
            }
        }
        if let Some((group, slots, read)) = rolled {
            let t = super::rollup::Rolled { group, slots, read };
            super::rollup::fold_selectors(a, &t, &all_kinds, &layout, window);
            rolled_tasks.push(t);
        }
    }
    // The other aggregates merge in any order: day by day across the tasks, on the pool
    // when there are enough buckets.
    let chunks = if use_pool(rolled_tasks.len(), |i| rolled_tasks[i].read.len() as u64) {
        rayon::current_num_threads()
    } else {
        1
    };
    super::rollup::fold_others(
        &|| ctx.check_deadline(),
        &mut acc,
        &rolled_tasks,
        &all_kinds,
        &layout,
        window,
        chunks,
    )?;
    Ok(Collected::States {
        layout,
        acc,
        limited_from,
        frame,
        fields,
    })
}

/// Refuses a statement whose groups would hold more buckets than `max_rows` in all:
/// `GROUP BY time()` with many groups (each with `n` buckets, which `fill()` turns into
/// rows and which take memory even when empty) is bounded as a whole, not per group.
pub(super) fn check_buckets_held(
    ctx: &Ctx<'_>,
    groups: usize,
    n: usize,
    interval: i64,
) -> Result<(), QueryError> {
    if interval > 0 && groups.saturating_mul(n) > ctx.limits.max_rows {
        return Err(QueryError::Limit(format!(
            "max-select-buckets limit exceeded: {groups} groups of {n} GROUP BY time({}) buckets hold more than {} buckets (narrow the time range, use a larger interval or fewer groups, or raise query.max_rows)",
            crate::ast::Duration(interval),
            ctx.limits.max_rows
        )));
    }
    Ok(())
}

/// Finishes one series' integral slots (`states[k * n + bucket]`) into areas, so that
/// series add up rather than interleave.
pub(super) fn integrate(states: &mut [State], kinds: &[AggKind], layout: &Layout) {
    let n = layout.n;
    for (k, kind) in kinds.iter().enumerate() {
        if let AggKind::Integral(unit) = kind {
            let starts: Vec<i64> = (0..n).map(|b| layout.time(b)).collect();
            State::integrate_buckets(
                &mut states[k * n..(k + 1) * n],
                *unit,
                &starts,
                layout.interval,
            );
        }
    }
}

pub(super) fn new_states(kinds: &[AggKind], n: usize) -> Vec<State> {
    let mut v = Vec::with_capacity(kinds.len() * n);
    for k in kinds {
        v.extend(std::iter::repeat_n(k.new_state(), n));
    }
    v
}

/// Folds one piece into per-bucket states (`states[k * n + bucket]` for slot `k`).
/// `carry` is the last value of the series fed so far (for counters).
/// The end of the run of `ts` from `from` (whose first time is below `end_t`) that stays
/// below `end_t`: a galloping search, so a bucket's end is found near where the scan
/// already is instead of by probing across the whole piece (which misses the cache).
pub(super) fn run_end(ts: &[i64], from: usize, end_t: i64) -> usize {
    let n = ts.len();
    let mut lo = from;
    let mut step = 1;
    let mut hi = from + 1;
    while hi < n && ts[hi] < end_t {
        lo = hi;
        step *= 2;
        hi = lo + step;
    }
    let hi = hi.min(n);
    lo + 1 + ts[lo + 1..hi].partition_point(|&t| t < end_t)
}

/// `clip[k]`: the time range slot `k` takes points from.
#[allow(clippy::too_many_arguments)]
pub(super) fn feed(
    states: &mut [State],
    kinds: &[AggKind],
    clip: &[(i64, i64)],
    layout: &Layout,
    piece: Piece<'_>,
    scratch: &mut Vec<f64>,
    carry: &mut Option<f64>,
) {
    let counters = kinds.iter().any(|k| {
        matches!(
            k,
            AggKind::Rate(_) | AggKind::Increase | AggKind::HistogramQuantile(_)
        )
    });
    let n = layout.n;
    match piece {
        Piece::Summary {
            count,
            min_ts,
            max_ts,
            stats,
        } => {
            let b = layout.bucket(min_ts);
            for k in 0..kinds.len() {
                let (lo, hi) = clip[k];
                if min_ts >= lo && max_ts < hi {
                    states[k * n + b].update_stats(count, min_ts, &stats);
                }
            }
        }
        Piece::Points { timestamps, values } => {
            let mut i = 0;
            while i < timestamps.len() {
                let b = layout.bucket(timestamps[i]);
                let end_t = layout.bucket_end(b);
                let j = if end_t == i64::MAX {
                    timestamps.len()
                } else {
                    run_end(timestamps, i, end_t)
                };
                for (k, kind) in kinds.iter().enumerate() {
                    let (lo, hi) = clip[k];
                    let (a, z) = if lo == i64::MIN && hi == i64::MAX {
                        (i, j)
                    } else {
                        let run = &timestamps[i..j];
                        (
                            i + run.partition_point(|&t| t < lo),
                            i + run.partition_point(|&t| t < hi),
                        )
                    };
                    let st = &mut states[k * n + b];
                    if counters {
                        st.set_counter_prev(*carry);
                    }
                    st.update(*kind, timestamps, &values, a..z, scratch);
                }
                if counters && j > i {
                    *carry = match values {
                        ValuesView::Float(v) => Some(v[j - 1]),
                        ValuesView::Integer(v) => Some(v[j - 1] as f64),
                        ValuesView::Unsigned(v) => Some(v[j - 1] as f64),
                        _ => None,
                    };
                }
                i = j.max(i + 1);
            }
        }
    }
}
