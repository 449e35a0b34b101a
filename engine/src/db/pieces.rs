//! Reads for query executors: the series of a measurement with their columns, and a
//! column streamed as time-ordered pieces — decoded points borrowed from the block where
//! possible, or a block's statistics when the caller says they are enough.
//!
//! Invariant: the pieces of one [`Db::scan_column`] call are in increasing time order, do
//! not overlap, hold each timestamp once (the last written value, as [`Db::read_column`]
//! gives it) and lie inside the requested range.

use super::read::merge;
use super::{Db, LiveSegment};
use crate::error::{Error, Result};
use crate::hot::HotTier;
use crate::index::{ColumnId, SeriesId};
use crate::model::{ColumnData, ColumnValues, FieldType, SeriesKey, TimeRange};
use crate::segment::{BlockStats, ValuesView};
use std::sync::Arc;

/// A series as a query sees it: its key and its columns.
#[derive(Debug, Clone)]
pub struct SeriesInfo {
    /// The index's id for it.
    pub id: SeriesId,
    /// Measurement and tags.
    pub key: SeriesKey,
    /// Its fields: name, column and type.
    pub columns: Vec<(String, ColumnId, FieldType)>,
}

/// A run of a column's points in time order.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    /// Points: timestamps strictly increasing, values of the same length.
    Points {
        /// Timestamps.
        timestamps: &'a [i64],
        /// Values.
        values: ValuesView<'a>,
    },
    /// A whole block given by its statistics, offered only where the caller's
    /// `summary_ok(min_ts, max_ts)` said yes.
    Summary {
        /// Points in the block.
        count: u64,
        /// First timestamp.
        min_ts: i64,
        /// Last timestamp.
        max_ts: i64,
        /// Value statistics.
        stats: BlockStats,
    },
}

/// Where one column's data within a range lives, before any of it is read.
enum Source {
    /// Blocks of a segment, and the deleted ranges (tombstones) that apply to them.
    Segment(Arc<LiveSegment>, std::ops::Range<usize>, Vec<TimeRange>),
    Memory(ColumnData),
}

fn view(d: &ColumnData) -> ValuesView<'_> {
    match &d.values {
        ColumnValues::Float(v) => ValuesView::Float(v),
        ColumnValues::Integer(v) => ValuesView::Integer(v),
        ColumnValues::Unsigned(v) => ValuesView::Unsigned(v),
        ColumnValues::Boolean(v) => ValuesView::Boolean(v),
        ColumnValues::String(v) => ValuesView::String(v),
    }
}

fn slice<'a>(v: ValuesView<'a>, r: std::ops::Range<usize>) -> ValuesView<'a> {
    match v {
        ValuesView::Float(x) => ValuesView::Float(&x[r]),
        ValuesView::Integer(x) => ValuesView::Integer(&x[r]),
        ValuesView::Unsigned(x) => ValuesView::Unsigned(&x[r]),
        ValuesView::Boolean(x) => ValuesView::Boolean(&x[r]),
        ValuesView::String(x) => ValuesView::String(&x[r]),
    }
}

/// The visible series of `measurement`, restricted to `ids` (sorted) when given.
fn chosen_series(
    ix: &crate::index::Index,
    measurement: &str,
    ids: Option<&[SeriesId]>,
) -> Vec<SeriesId> {
    let all = ix.series_of(measurement);
    match ids {
        None => all,
        Some(ids) => crate::index::postings::intersect(&all, ids),
    }
}

impl Db {
    /// The visible series of `measurement` with their columns, in creation order.
    pub fn query_series(&self, measurement: &str) -> Vec<SeriesInfo> {
        self.query_series_in(measurement, None)
    }

    /// Like [`Db::query_series`], restricted to `ids` (sorted) when given: a query that
    /// narrowed its series through [`Db::tag_postings`] decodes only those keys.
    pub fn query_series_in(&self, measurement: &str, ids: Option<&[SeriesId]>) -> Vec<SeriesInfo> {
        let ix = self.inner.index.read();
        chosen_series(&ix, measurement, ids)
            .into_iter()
            .filter_map(|id| {
                Some(SeriesInfo {
                    id,
                    key: ix.series_key(id)?,
                    columns: ix.columns_of(id),
                })
            })
            .collect()
    }

    /// The series of `measurement` (all, or those of `ids`) that have a column for
    /// `field`: key, column and type. What [`Db::query_series_in`] gives, for one field,
    /// without listing every series' fields.
    pub fn query_field_in(
        &self,
        measurement: &str,
        ids: Option<&[SeriesId]>,
        field: &str,
    ) -> Vec<(SeriesKey, ColumnId, FieldType)> {
        let ix = self.inner.index.read();
        let Some((fid, ty)) = ix.field_of(measurement, field) else {
            return Vec::new();
        };
        chosen_series(&ix, measurement, ids)
            .into_iter()
            .filter_map(|id| {
                // The column first: a series without the field is not decoded.
                let column = ix.column_at(id, fid)?;
                Some((ix.series_key(id)?, column, ty))
            })
            .collect()
    }

    /// Ids of the visible series of `measurement`, in creation order.
    pub fn series_ids(&self, measurement: &str) -> Vec<SeriesId> {
        self.inner.index.read().series_of(measurement)
    }

    /// The first of `ids`, in their order, that is visible and has data in `range` in a
    /// column that is not a string column (only in `field`'s column, when given). For
    /// listings that need to know whether a tag value or a metric name has data at all,
    /// not which series hold it: where data is dense the first probe answers, instead of
    /// every series being found and checked.
    pub fn first_with_data(
        &self,
        ids: &[SeriesId],
        field: Option<&str>,
        range: TimeRange,
    ) -> Result<Option<SeriesId>> {
        let mut columns = Vec::new();
        for &id in ids {
            columns.clear();
            {
                let ix = self.inner.index.read();
                if ix.is_hidden(id) {
                    continue;
                }
                match field {
                    Some(f) => columns.extend(ix.column_of(id, f)),
                    None => columns.extend(ix.column_ids(id)),
                }
            }
            for &(c, ty) in &columns {
                if ty != FieldType::String && self.inner.column_bounds(c, range)?.is_some() {
                    return Ok(Some(id));
                }
            }
        }
        Ok(None)
    }

    /// Ids of the series of `measurement` with tag `key` = `value`, sorted.
    pub fn tag_postings(&self, measurement: &str, key: &str, value: &str) -> Vec<SeriesId> {
        self.inner
            .index
            .read()
            .postings(measurement, key, value)
            .to_vec()
    }

    /// Bounds `(first, last)` that contain every point of `column` within `range`, from
    /// block indexes and the in-memory columns' bounds (nothing is decoded); exact unless
    /// `range` cuts through a block or an in-memory column.
    /// `None` when the column has no data in `range`.
    pub fn column_bounds(&self, column: ColumnId, range: TimeRange) -> Result<Option<(i64, i64)>> {
        self.inner.column_bounds(column, range)
    }

    /// About how many points of `column` lie in `range`, from block indexes and in-memory
    /// counts (nothing is decoded): a block or in-memory column that `range` cuts through
    /// counts whole, and in-memory counts include overwritten values. For a query to judge
    /// its size before choosing how to run.
    pub fn column_points_estimate(&self, column: ColumnId, range: TimeRange) -> u64 {
        let inner = &self.inner;
        let range = TimeRange::new(range.start.max(inner.column_cutoff(column)), range.end);
        if range.start >= range.end {
            return 0;
        }
        let st = inner.state.read();
        let mut n = 0u64;
        for live in &st.segments {
            let Some(entry) = live.column(&column) else {
                continue;
            };
            for b in live.seg.blocks_in(entry, range) {
                n += u64::from(live.seg.block_meta(b).count);
            }
        }
        let tiers = st.rotating.iter().map(|r| &**r).chain([&st.hot]);
        for t in tiers {
            if let Some((a, b)) = t.bounds(column)
                && range.overlaps(a, b)
            {
                n += t.written(column);
            }
        }
        n
    }

    /// Streams column `column` (of type `ty`) within `range` to `visit` as pieces in time
    /// order (see the module invariant). A segment block that lies wholly inside `range`
    /// and does not overlap other data of the column is offered to `summary_ok(min_ts,
    /// max_ts)`; if that returns true the block arrives as a [`Piece::Summary`] and is
    /// never decoded. Everything else arrives as [`Piece::Points`].
    pub fn scan_column(
        &self,
        column: ColumnId,
        ty: FieldType,
        range: TimeRange,
        summary_ok: &mut dyn FnMut(i64, i64) -> bool,
        visit: &mut dyn FnMut(Piece<'_>) -> Result<()>,
    ) -> Result<()> {
        let inner = &self.inner;
        let range = TimeRange::new(range.start.max(inner.column_cutoff(column)), range.end);
        if range.start >= range.end {
            return Ok(());
        }
        let (hot, rotating, segments, tombstones) = {
            let st = inner.state.read();
            (
                st.hot.read(column, range),
                st.rotating.clone(),
                st.segments.clone(),
                st.tombstones.clone(),
            )
        };
        let rotating: Vec<Arc<HotTier>> = rotating;
        let segments: Vec<Arc<LiveSegment>> = segments;
        let hot_err = |e| {
            Error::Internal(format!(
                "hot chunk of column {} does not decode: {e}",
                column.0
            ))
        };
        // Sources oldest first, each with the time interval it covers within `range`.
        let mut sources: Vec<(i64, i64, Source)> = Vec::new();
        for live in &segments {
            let Some(entry) = live.column(&column) else {
                continue;
            };
            let (lo, hi) = live.seg.time_range();
            if !range.overlaps(lo, hi) {
                continue;
            }
            let blocks = live.seg.blocks_in(entry, range);
            if blocks.is_empty() {
                continue;
            }
            let first = live.seg.block_meta(blocks.start).min_ts.max(range.start);
            let last = live.seg.block_meta(blocks.end - 1).max_ts;
            let last = if range.contains(last) {
                last
            } else {
                range.end.saturating_sub(1)
            };
            let deleted = tombstones.ranges(live.seg.id(), column);
            sources.push((first, last, Source::Segment(live.clone(), blocks, deleted)));
        }
        for r in &rotating {
            if let Some(d) = r.read(column, range) {
                let d = d.map_err(hot_err)?;
                if let (Some(&a), Some(&b)) = (d.timestamps.first(), d.timestamps.last()) {
                    sources.push((a, b, Source::Memory(d)));
                }
            }
        }
        if let Some(d) = hot {
            let d = d.map_err(hot_err)?;
            if let (Some(&a), Some(&b)) = (d.timestamps.first(), d.timestamps.last()) {
                sources.push((a, b, Source::Memory(d)));
            }
        }
        // Disjoint sources can be streamed one after the other in time order; overlapping
        // ones are merged (newest wins) first.
        let mut by_time: Vec<usize> = (0..sources.len()).collect();
        by_time.sort_by_key(|&i| sources[i].0);
        let disjoint = by_time
            .windows(2)
            .all(|w| sources[w[0]].1 < sources[w[1]].0);
        if !disjoint {
            let mut decoded = Vec::with_capacity(sources.len());
            for (_, _, s) in &sources {
                decoded.push(match s {
                    Source::Segment(live, _, deleted) => {
                        let entry = live.column(&column).ok_or_else(|| {
                            Error::Internal("segment column vanished while reading".into())
                        })?;
                        super::tombstone::without(live.seg.read_column(entry, range)?, deleted)
                    }
                    Source::Memory(d) => d.clone(),
                });
            }
            let merged = merge(decoded, ty)?;
            if !merged.is_empty() {
                visit(Piece::Points {
                    timestamps: &merged.timestamps,
                    values: view(&merged),
                })?;
            }
            return Ok(());
        }
        for i in by_time {
            match &sources[i].2 {
                Source::Memory(d) => visit(Piece::Points {
                    timestamps: &d.timestamps,
                    values: view(d),
                })?,
                Source::Segment(live, blocks, deleted) => {
                    for b in blocks.clone() {
                        let m = live.seg.block_meta(b);
                        if !range.overlaps(m.min_ts, m.max_ts) || m.count == 0 {
                            continue;
                        }
                        // A block a tombstone touches is never answered from its
                        // statistics: they count deleted values.
                        let touched = super::tombstone::overlaps(deleted, m.min_ts, m.max_ts);
                        let inside = m.min_ts >= range.start && range.contains(m.max_ts);
                        if inside && !touched && summary_ok(m.min_ts, m.max_ts) {
                            visit(Piece::Summary {
                                count: u64::from(m.count),
                                min_ts: m.min_ts,
                                max_ts: m.max_ts,
                                stats: m.stats,
                            })?;
                            continue;
                        }
                        let block = live.seg.block(b)?;
                        let ts = block.timestamps();
                        // Interpolation, not bisection: a bisection over a large decoded
                        // block misses the cache at every probe.
                        let lo = crate::scan::seek(ts, 0, range.start);
                        let hi = crate::scan::seek(ts, lo, range.end);
                        if !touched {
                            if lo < hi {
                                visit(Piece::Points {
                                    timestamps: &ts[lo..hi],
                                    values: slice(block.values(), lo..hi),
                                })?;
                            }
                            continue;
                        }
                        for run in super::tombstone::visible_runs(ts, lo, hi, deleted) {
                            visit(Piece::Points {
                                timestamps: &ts[run.clone()],
                                values: slice(block.values(), run),
                            })?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl super::Inner {
    /// See [`Db::column_bounds`]; exact where tombstones apply.
    pub(super) fn column_bounds(
        &self,
        column: ColumnId,
        range: TimeRange,
    ) -> Result<Option<(i64, i64)>> {
        let inner = self;
        let range = TimeRange::new(range.start.max(inner.column_cutoff(column)), range.end);
        if range.start >= range.end {
            return Ok(None);
        }
        let mut out: Option<(i64, i64)> = None;
        let mut widen = |lo: i64, hi: i64| {
            out = Some(match out {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        };
        let st = inner.state.read();
        for live in &st.segments {
            let Some(entry) = live.column(&column) else {
                continue;
            };
            let blocks = live.seg.blocks_in(entry, range);
            if blocks.is_empty() {
                continue;
            }
            let deleted = st.tombstones.ranges(live.seg.id(), column);
            if !deleted.is_empty() {
                // Tombstoned values must not widen the bounds: read what is left.
                let data = live.seg.read_column(entry, range)?;
                let data = super::tombstone::without(data, &deleted);
                if let (Some(&a), Some(&b)) = (data.timestamps.first(), data.timestamps.last()) {
                    widen(a, b);
                }
                continue;
            }
            let lo = live.seg.block_meta(blocks.start).min_ts.max(range.start);
            let hi = live.seg.block_meta(blocks.end - 1).max_ts;
            let hi = if range.contains(hi) {
                hi
            } else {
                range.end - 1
            };
            if lo <= hi {
                widen(lo, hi);
            }
        }
        // In-memory tiers answer from their columns' bounds, without decoding; clamped to
        // the range, they still contain every point in it.
        let tiers = st.rotating.iter().map(|r| &**r).chain([&st.hot]);
        for t in tiers {
            if let Some((a, b)) = t.bounds(column)
                && range.overlaps(a, b)
            {
                let hi = if range.contains(b) { b } else { range.end - 1 };
                widen(a.max(range.start), hi);
            }
        }
        Ok(out)
    }
}
