//! Pending deletes as readers see them: each manifest tombstone resolved to the index
//! columns it covers, and the filters that hide covered values of a segment.
//!
//! A tombstone applies to a segment only when the segment's id is at most the tombstone's
//! `max_segment` (the segment existed when the delete was made): segments written later
//! (rotations of data written after the delete, compaction outputs, which are purged)
//! never hold covered values. Every read of segment column data for queries goes through
//! [`Tombstones::ranges`]; a block that a range overlaps is never answered from its
//! statistics.

use crate::index::{ColumnId, Index, SeriesId};
use crate::manifest::Tombstone;
use crate::model::{ColumnData, ColumnValues, Predicate, TimeRange};
use rustc_hash::FxHashMap;

/// Tombstones resolved against the index; immutable, replaced as a whole (readers hold an
/// `Arc` of the version they started with).
#[derive(Debug, Default, Clone)]
pub(crate) struct Tombstones {
    list: Vec<(Tombstone, Vec<ColumnId>)>,
    /// Per column: (range, max_segment) of each tombstone covering it.
    by_column: FxHashMap<ColumnId, Vec<(TimeRange, u64)>>,
}

impl Tombstones {
    /// No tombstone pending.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Tombstones pending.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// The time ranges whose values of column `c` in segment `segment` are deleted,
    /// sorted by start (they may overlap). Empty for most columns.
    pub fn ranges(&self, segment: u64, c: ColumnId) -> Vec<TimeRange> {
        let Some(v) = self.by_column.get(&c) else {
            return Vec::new();
        };
        let mut out: Vec<TimeRange> = v
            .iter()
            .filter(|(_, max)| segment <= *max)
            .map(|(r, _)| *r)
            .collect();
        out.sort_by_key(|r| r.start);
        out
    }

    /// Whether any tombstone names column `c` (in whatever segment).
    pub fn touches(&self, c: ColumnId) -> bool {
        self.by_column.contains_key(&c)
    }

    /// This set with `t` (covering `columns`) added.
    pub fn with(&self, t: Tombstone, columns: Vec<ColumnId>) -> Tombstones {
        let mut next = self.clone();
        for &c in &columns {
            next.by_column
                .entry(c)
                .or_default()
                .push((t.spec.range, t.max_segment));
        }
        next.list.push((t, columns));
        next
    }

    /// This set keeping only the tombstones `keep` says yes to.
    pub fn retain(&self, mut keep: impl FnMut(&Tombstone, &[ColumnId]) -> bool) -> Tombstones {
        let mut next = Tombstones::default();
        for (t, cols) in &self.list {
            if keep(t, cols) {
                next = next.with(t.clone(), cols.clone());
            }
        }
        next
    }

    /// The tombstones and their columns.
    pub fn iter(&self) -> impl Iterator<Item = (&Tombstone, &[ColumnId])> {
        self.list.iter().map(|(t, c)| (t, c.as_slice()))
    }

    /// The manifest's form.
    pub fn records(&self) -> Vec<Tombstone> {
        self.list.iter().map(|(t, _)| t.clone()).collect()
    }
}

/// The columns `predicate` covers and the series they belong to (hidden ones included),
/// from the index.
pub(crate) fn resolve(index: &Index, predicate: &Predicate) -> (Vec<ColumnId>, Vec<SeriesId>) {
    let measurements = predicate
        .measurements()
        .unwrap_or_else(|| index.all_measurements());
    let per_field = predicate.mentions_field();
    let mut cols = Vec::new();
    let mut series = Vec::new();
    for m in measurements {
        for s in index.all_series_of(&m) {
            let Some(key) = index.series_key(s) else {
                continue;
            };
            let columns = index.columns_of(s);
            if per_field {
                let before = cols.len();
                cols.extend(
                    columns
                        .iter()
                        .filter(|(f, _, _)| predicate.matches(&m, key.tags(), Some(f)))
                        .map(|(_, c, _)| *c),
                );
                if cols.len() > before {
                    series.push(s);
                }
            } else if predicate.matches(&m, key.tags(), None) {
                cols.extend(columns.iter().map(|(_, c, _)| *c));
                series.push(s);
            }
        }
    }
    (cols, series)
}

/// `data` without the values whose timestamps lie in one of `ranges`.
pub(crate) fn without(data: ColumnData, ranges: &[TimeRange]) -> ColumnData {
    if ranges.is_empty() {
        return data;
    }
    let keep: Vec<bool> = data
        .timestamps
        .iter()
        .map(|&t| !ranges.iter().any(|r| r.contains(t)))
        .collect();
    if keep.iter().all(|k| *k) {
        return data;
    }
    fn pick<T>(v: Vec<T>, keep: &[bool]) -> Vec<T> {
        v.into_iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(x, _)| x)
            .collect()
    }
    let values = match data.values {
        ColumnValues::Float(v) => ColumnValues::Float(pick(v, &keep)),
        ColumnValues::Integer(v) => ColumnValues::Integer(pick(v, &keep)),
        ColumnValues::Unsigned(v) => ColumnValues::Unsigned(pick(v, &keep)),
        ColumnValues::Boolean(v) => ColumnValues::Boolean(pick(v, &keep)),
        ColumnValues::String(v) => ColumnValues::String(pick(v, &keep)),
    };
    ColumnData {
        timestamps: pick(data.timestamps, &keep),
        values,
    }
}

/// Whether some range overlaps `[min, max]`.
pub(crate) fn overlaps(ranges: &[TimeRange], min: i64, max: i64) -> bool {
    ranges.iter().any(|r| r.overlaps(min, max))
}

/// The runs of positions in `lo..hi` of the time-ordered `ts` whose timestamps lie in no
/// range (`ranges` sorted by start).
pub(crate) fn visible_runs(
    ts: &[i64],
    lo: usize,
    hi: usize,
    ranges: &[TimeRange],
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = lo;
    while at < hi {
        // The first range that still matters at ts[at].
        let t = ts[at];
        match ranges.iter().find(|r| r.contains(t)) {
            Some(r) => {
                // Skip to the first timestamp past this range.
                let end = if r.end == i64::MAX {
                    hi
                } else {
                    at + ts[at..hi].partition_point(|&x| x < r.end)
                };
                at = end.max(at + 1);
            }
            None => {
                // Until the next range starts.
                let next = ranges.iter().filter(|r| r.start > t).map(|r| r.start).min();
                let end = next.map_or(hi, |s| at + ts[at..hi].partition_point(|&x| x < s));
                out.push(at..end);
                at = end;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_skip_exactly_the_ranges() {
        let ts: Vec<i64> = (0..20).collect();
        let ranges = vec![
            TimeRange::new(2, 5),
            TimeRange::new(4, 7),
            TimeRange::new(10, 11),
            TimeRange::new(18, i64::MAX),
        ];
        let runs = visible_runs(&ts, 1, 19, &ranges);
        let kept: Vec<i64> = runs.iter().flat_map(|r| ts[r.clone()].to_vec()).collect();
        let want: Vec<i64> = (1..19)
            .filter(|t| !ranges.iter().any(|r| r.contains(*t)))
            .collect();
        assert_eq!(kept, want);
        assert_eq!(runs, vec![1..2, 7..10, 11..18]);
        assert_eq!(visible_runs(&ts, 0, 20, &[]), vec![0..20]);
        let data = ColumnData {
            timestamps: ts.clone(),
            values: ColumnValues::Integer(ts.clone()),
        };
        let w = without(data, &ranges);
        assert_eq!(
            w.timestamps,
            (0..20)
                .filter(|t| !ranges.iter().any(|r| r.contains(*t)))
                .collect::<Vec<_>>()
        );
        assert_eq!(w.values, ColumnValues::Integer(w.timestamps.clone()));
    }
}
