//! Streamed raw `SELECT`s: a large raw answer produced a time slice at a time, so that a
//! statement holds one slice of one group's rows instead of its whole answer.
//!
//! A statement is streamed when it is a raw `SELECT` (no aggregate, no transformation),
//! without `LIMIT` (the windowed read already bounds those), without `SLIMIT`/`SOFFSET`
//! under `ORDER BY time DESC` (those pick series in ascending order first), with at most
//! `max_series` groups, and when the block indexes say its rows are at least
//! [`StreamSettings::min_rows`] and at most `max_rows` (the estimate is an upper bound, so
//! a streamed statement can never pass the row limit half-way). Anything else runs whole.
//!
//! Invariants:
//! - output is exactly the whole path's ([`super::raw`]): groups in the same order, each
//!   group's rows merged by time with equal times in series order ([`merge_group`]), the
//!   same projections, `OFFSET` counted across slices, groups with no row after `OFFSET`
//!   not shown, `SOFFSET`/`SLIMIT` over the groups shown, `DESC` reversing series and rows;
//! - time slices of a group partition its data's time span, so each point is read once;
//! - each slice is admitted into the query memory budget before it is read and given back
//!   once its rows were handed to the sink, so a streamed statement holds about
//!   [`StreamSettings::slice_bytes`] of the budget whatever its size.

use super::*;
use crate::exec::memory::select_bytes;
use crate::stream::ResponseSink;

/// When and how finely to stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    /// Estimated rows below which a statement runs whole (small answers gain nothing).
    pub min_rows: u64,
    /// Budget bytes one slice of a group may hold (rows × columns × the per-value
    /// estimate of [`crate::exec::memory::VALUE_BYTES`]).
    pub slice_bytes: u64,
}

impl StreamSettings {
    /// Settings for a server whose query memory budget is `limit` bytes (0: none): slices
    /// of a sixteenth of the budget, between 64 KiB and the default 32 MiB, so that many
    /// streamed statements fit in it at once.
    pub fn for_budget(limit: u64) -> StreamSettings {
        let d = StreamSettings::default();
        if limit == 0 {
            return d;
        }
        StreamSettings {
            slice_bytes: (limit / 16).clamp(64 << 10, d.slice_bytes),
            ..d
        }
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            min_rows: 50_000,
            slice_bytes: 32 << 20,
        }
    }
}

/// One measurement's part of a streamed statement.
struct Part {
    measurement: String,
    plan: Plan,
    chosen: Vec<Chosen>,
    /// Groups in output order: (tag values, group id).
    order: Vec<(Vec<String>, usize)>,
}

/// A raw statement planned, with its series chosen: streamed ([`run`]) when `streams`, else
/// run whole from the same choice ([`Streamed::run_whole`]), so the index is asked once.
pub(crate) struct Streamed<'s> {
    sel: &'s Select,
    bounds: Bounds,
    parts: Vec<Part>,
    /// Whether it streams (see the module docs).
    pub(crate) streams: bool,
}

impl Streamed<'_> {
    /// The whole answer, as [`super::run`] gives it, from the series already chosen.
    pub(crate) fn run_whole(self, ctx: &Ctx<'_>) -> Result<Vec<Series>, QueryError> {
        let mut out = Vec::new();
        for part in self.parts {
            let n = part.order.len();
            let results = raw(ctx, self.sel, &part.plan, self.bounds, &part.chosen, n)?;
            out.extend(to_series(
                ctx,
                &part.plan,
                &part.measurement,
                part.order,
                &results,
            )?);
        }
        finish_series(ctx, self.sel, out)
    }
}

/// Plans a raw `sel` and chooses its series: `None` for a statement this module does not
/// handle (aggregates, transformations, `LIMIT`, an empty time range), which runs whole.
pub(crate) fn prepare<'s>(
    ctx: &Ctx<'_>,
    sel: &'s Select,
    settings: StreamSettings,
) -> Result<Option<Streamed<'s>>, QueryError> {
    let desc = sel.order == Some(Order::Desc);
    if sel.limit.is_some() || (desc && (sel.slimit.is_some() || sel.soffset.is_some())) {
        return Ok(None);
    }
    let (bounds, cond, regexes, names) = prelude(sel, ctx.now, &ctx.db.measurements())?;
    if bounds.is_empty() {
        return Ok(None);
    }
    let metas: Vec<Meta> = names.iter().map(|m| meta_of(ctx, m)).collect();
    let union = union_meta(&metas);
    let range = bounds.range();
    let (mut parts, mut groups, mut rows) = (Vec::new(), 0usize, 0u64);
    for (m, meta) in names.iter().zip(&metas) {
        ctx.check_deadline()?;
        let plan = plan(sel, meta, &union, &regexes)?;
        let transform = plan
            .projs
            .iter()
            .any(|p| p.has(&|q| matches!(q, Proj::Tr(..))));
        if !plan.slots.is_empty() || transform {
            return Ok(None);
        }
        let (chosen, order) = choose(ctx, &plan, m, meta, cond.as_ref(), &regexes)?;
        if chosen.is_empty() {
            continue;
        }
        let fields = projected_fields(&plan);
        for c in &chosen {
            rows = rows.saturating_add(most_points(ctx, c, &fields, range));
        }
        groups += order.len();
        parts.push(Part {
            measurement: m.clone(),
            plan,
            chosen,
            order,
        });
    }
    let streams = rows >= settings.min_rows
        && rows <= ctx.limits.max_rows as u64
        && groups <= ctx.limits.max_series;
    Ok(Some(Streamed {
        sel,
        bounds,
        parts,
        streams,
    }))
}

/// The fields a raw plan's projections read.
fn projected_fields(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for p in &plan.projs {
        p.fields(&mut out);
    }
    out
}

/// The most points any of `fields` of a series has in `range`, from block indexes: an
/// upper bound of the series' rows there.
fn most_points(ctx: &Ctx<'_>, c: &Chosen, fields: &[String], range: TimeRange) -> u64 {
    (c.info.columns.iter())
        .filter(|(name, _, _)| fields.iter().any(|f| f == name))
        .map(|(_, col, _)| ctx.db.column_points_estimate(*col, range))
        .max()
        .unwrap_or(0)
}

/// Runs a statement [`prepare`] found streamable into `sink` (between the sink's
/// `begin_statement` and `end_statement`, which the caller sends).
pub(crate) fn run(
    ctx: &Ctx<'_>,
    st: Streamed<'_>,
    settings: StreamSettings,
    sink: &mut dyn ResponseSink,
) -> Result<(), QueryError> {
    let sel = st.sel;
    let desc = sel.order == Some(Order::Desc);
    let soffset = count(sel.soffset.unwrap_or(0));
    let slimit = sel.slimit.map_or(usize::MAX, count);
    let mut shown = 0usize;
    let mut parts = st.parts;
    if desc {
        parts.reverse();
    }
    for part in &parts {
        let fields = projected_fields(&part.plan);
        let mut columns = vec!["time".to_owned()];
        columns.extend(part.plan.columns.iter().cloned());
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); part.order.len()];
        for (i, c) in part.chosen.iter().enumerate() {
            members[c.group].push(i);
        }
        let groups: Box<dyn Iterator<Item = &(Vec<String>, usize)>> = if desc {
            Box::new(part.order.iter().rev())
        } else {
            Box::new(part.order.iter())
        };
        for (key, g) in groups {
            let tags: Option<BTreeMap<String, String>> =
                (!part.plan.group_keys.is_empty()).then(|| {
                    part.plan
                        .group_keys
                        .iter()
                        .cloned()
                        .zip(key.clone())
                        .collect()
                });
            let group = Group {
                ctx,
                sel,
                plan: &part.plan,
                chosen: &part.chosen,
                members: &members[*g],
                fields: &fields,
                range: st.bounds.range(),
                desc,
                slice_bytes: settings.slice_bytes,
            };
            let head = SeriesHead {
                name: &part.measurement,
                tags: tags.as_ref(),
                columns: &columns,
            };
            match group.stream(&head, sink, &mut shown, soffset, slimit)? {
                Flow::Go => {}
                Flow::Done => return Ok(()),
            }
        }
    }
    Ok(())
}

struct SeriesHead<'a> {
    name: &'a str,
    tags: Option<&'a BTreeMap<String, String>>,
    columns: &'a [String],
}

enum Flow {
    Go,
    /// SLIMIT reached: nothing more is shown.
    Done,
}

/// One group of a streamed statement.
struct Group<'a, 'c> {
    ctx: &'a Ctx<'c>,
    sel: &'a Select,
    plan: &'a Plan,
    chosen: &'a [Chosen],
    members: &'a [usize],
    fields: &'a [String],
    range: TimeRange,
    desc: bool,
    slice_bytes: u64,
}

impl Group<'_, '_> {
    /// The fields series `c` reads: the projected ones, then its condition's.
    fn need(&self, c: &Chosen) -> Vec<String> {
        let mut need = self.fields.to_vec();
        if let Some(r) = &c.residual {
            r.fields(&mut need);
        }
        need
    }

    /// Time slices covering the group's data, each holding about `slice_bytes` (by the
    /// block indexes, assuming points spread evenly over the span), in output order, and
    /// the budget bytes one slice is expected to hold.
    fn slices(&self) -> Result<(Vec<TimeRange>, u64), QueryError> {
        let ctx = self.ctx;
        let mut span: Option<(i64, i64)> = None;
        let mut rows = 0u64;
        for &i in self.members {
            let c = &self.chosen[i];
            // A row's time comes from the condition's fields too (`WHERE b > 1` keeps
            // the times of `b`): the span covers every field the series reads.
            let need = self.need(c);
            for (name, col, _) in &c.info.columns {
                if need.iter().any(|f| f == name)
                    && let Some((lo, hi)) = ctx.db.column_bounds(*col, self.range)?
                {
                    span = Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
            }
            rows = rows.saturating_add(most_points(ctx, c, &need, self.range));
        }
        let Some((lo, hi)) = span else {
            return Ok((Vec::new(), 0));
        };
        let bytes = select_bytes(rows, self.fields.len() + 1);
        let n = bytes.div_ceil(self.slice_bytes.max(1)).max(1);
        // The span as i128: hi - lo + 1 may not fit an i64.
        let width = ((hi as i128 - lo as i128 + 1) / n as i128).max(1);
        let mut out = Vec::new();
        let mut start = lo as i128;
        while start <= hi as i128 {
            let end = (start + width).min(hi as i128 + 1);
            let end = if out.len() as u64 + 1 == n {
                hi as i128 + 1
            } else {
                end
            };
            out.push(TimeRange::new(
                start as i64,
                i64::try_from(end).unwrap_or(i64::MAX),
            ));
            start = end;
        }
        if self.desc {
            out.reverse();
        }
        Ok((out, bytes.div_ceil(n)))
    }

    /// Streams the group's rows slice by slice; begins its series at its first row shown.
    fn stream(
        &self,
        head: &SeriesHead<'_>,
        sink: &mut dyn ResponseSink,
        shown: &mut usize,
        soffset: usize,
        slimit: usize,
    ) -> Result<Flow, QueryError> {
        let ctx = self.ctx;
        let has_transform = false;
        let mut offset_left = count(self.sel.offset.unwrap_or(0));
        let mut begun = false;
        let keys: Vec<&strata_engine::model::SeriesKey> = self
            .members
            .iter()
            .map(|&i| &self.chosen[i].info.key)
            .collect();
        let (slices, expected) = self.slices()?;
        for slice in slices {
            ctx.check_deadline()?;
            // This slice's share of the budget, given back when it is dropped below: the
            // expected share before the read (block indexes count a block the slice cuts
            // through whole, so the slice's own estimate would overstate it), the rest of
            // what it really holds once its rows are known.
            let account = ctx.memory.map(|m| m.sibling());
            if let Some(a) = &account {
                a.admit(expected, ctx.deadline, &|| ctx.check_deadline())?;
            }
            let read = |&i: &usize| -> Result<SeriesRows, QueryError> {
                ctx.check_deadline()?;
                let c = &self.chosen[i];
                let need = self.need(c);
                let rows = read_rows(ctx, &c.info, &need, slice, c.residual.as_ref())?;
                Ok(series_rows(&rows, &need, self.fields, i as u32))
            };
            let mut per_series: Vec<SeriesRows> = if self.members.len() > 1 {
                self.members
                    .par_iter()
                    .map(read)
                    .collect::<Result<_, _>>()?
            } else {
                self.members.iter().map(read).collect::<Result<_, _>>()?
            };
            let local: Vec<u32> = (0..per_series.len() as u32)
                .filter(|&k| !per_series[k as usize].times.is_empty())
                .collect();
            if local.is_empty() {
                continue;
            }
            let mut rows = merge_group(
                &mut per_series,
                &local,
                &keys,
                self.plan,
                self.fields,
                self.desc,
                has_transform,
            );
            drop(per_series);
            if let Some(a) = &account {
                let held = select_bytes(rows.len() as u64, self.fields.len() + 1);
                if held > expected {
                    a.charge(held - expected)?;
                }
            }
            if offset_left > 0 {
                let cut = offset_left.min(rows.len());
                rows.drain(..cut);
                offset_left -= cut;
            }
            if rows.is_empty() {
                continue;
            }
            if !begun {
                *shown += 1;
                if *shown <= soffset {
                    return Ok(Flow::Go);
                }
                if *shown - soffset > slimit {
                    return Ok(Flow::Done);
                }
                sink.begin_series(head.name, head.tags, head.columns)?;
                begun = true;
            }
            sink.rows(&rows)?;
            drop(account);
        }
        if begun {
            sink.end_series()?;
        }
        Ok(Flow::Go)
    }
}
