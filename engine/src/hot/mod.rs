//! The hot tier: every recent write, in memory, one compressed column per field of each
//! series, indexed by [`ColumnId`].
//!
//! Invariants: a column's type is the type of the first value applied to it, which the
//! index guarantees is its field's type; `apply` is called in WAL order only; `bytes` is
//! the sum of the columns' `heap_bytes`, kept up to date by every method that changes a
//! column, so that [`HotTier::bytes`] is O(1) (the overload check and the rotation
//! thread ask several times a second, and a walk over a million columns took a quarter
//! of a scraping server's CPU).

mod column;
mod values;

use crate::codec::CodecError;
use crate::index::ColumnId;
use crate::model::{ColumnData, FieldType, FieldValue, TimeRange};
use crate::prefetch::prefetch;
use column::TypedColumn;
use values::HotValue;

/// How many entries ahead of the one being pushed [`HotTier::apply`] prefetches its
/// column's bookkeeping; the head's ends, found through that bookkeeping, half as far.
/// Measured on the 100-host node set (`prom_write`): 16 took the hot-tier insert from
/// about 0.075 to 0.045 µs a sample.
const PREFETCH_AHEAD: usize = 16;

/// One value to apply: its column, timestamp and value.
#[derive(Debug, Clone, PartialEq)]
pub struct HotEntry {
    /// The column.
    pub column: ColumnId,
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    /// The value; its type is the column's.
    pub value: FieldValue,
}

#[derive(Debug)]
enum HotColumn {
    Float(TypedColumn<f64>),
    Integer(TypedColumn<i64>),
    Unsigned(TypedColumn<u64>),
    Boolean(TypedColumn<bool>),
    String(TypedColumn<String>),
}

macro_rules! each {
    ($col:expr, $c:ident => $body:expr) => {
        match $col {
            HotColumn::Float($c) => $body,
            HotColumn::Integer($c) => $body,
            HotColumn::Unsigned($c) => $body,
            HotColumn::Boolean($c) => $body,
            HotColumn::String($c) => $body,
        }
    };
}

impl HotColumn {
    fn new(ty: FieldType) -> HotColumn {
        match ty {
            FieldType::Float => HotColumn::Float(TypedColumn::new()),
            FieldType::Integer => HotColumn::Integer(TypedColumn::new()),
            FieldType::Unsigned => HotColumn::Unsigned(TypedColumn::new()),
            FieldType::Boolean => HotColumn::Boolean(TypedColumn::new()),
            FieldType::String => HotColumn::String(TypedColumn::new()),
        }
    }

    fn push(&mut self, ts: i64, v: FieldValue) -> bool {
        fn put<T: HotValue>(c: &mut TypedColumn<T>, ts: i64, v: FieldValue) -> bool {
            match T::from_field(v) {
                Some(x) => {
                    c.push(ts, x);
                    true
                }
                None => false,
            }
        }
        each!(self, c => put(c, ts, v))
    }

    fn heap_bytes(&self) -> usize {
        each!(self, c => c.heap_bytes())
    }

    fn read(&self, range: TimeRange) -> Result<ColumnData, CodecError> {
        fn get<T: HotValue>(
            c: &TypedColumn<T>,
            range: TimeRange,
        ) -> Result<ColumnData, CodecError> {
            let (timestamps, vals) = c.read(range)?;
            Ok(ColumnData {
                timestamps,
                values: T::into_values(vals),
            })
        }
        each!(self, c => get(c, range))
    }
}

/// Sizes of the hot tier.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HotStats {
    /// Columns holding data.
    pub columns: usize,
    /// Values written (duplicates included: they are folded when read).
    pub points: u64,
    /// Heap bytes held by the columns.
    pub bytes: usize,
    /// Earliest and latest timestamp, if any data.
    pub time_range: Option<(i64, i64)>,
}

/// The hot tier.
#[derive(Debug, Default)]
pub struct HotTier {
    columns: Vec<Option<HotColumn>>,
    /// The columns' heap bytes (see the module docs).
    bytes: usize,
}

impl HotTier {
    /// Applies entries in order. Entries whose value type differs from their column's
    /// are skipped (the index prevents them; this only guards the invariant).
    pub fn apply(&mut self, mut entries: Vec<HotEntry>) {
        for k in 0..entries.len() {
            self.prefetch_for(&entries, k);
            let e = &mut entries[k];
            let value = std::mem::replace(&mut e.value, FieldValue::Boolean(false));
            self.push(e.column, e.timestamp, value);
        }
    }

    /// Starts loading what pushing `entries[k + PREFETCH_AHEAD]` will read (the column's
    /// bookkeeping) and what pushing `entries[k + PREFETCH_AHEAD / 2]` will touch in its
    /// head, whose address the bookkeeping, prefetched earlier, now gives cheaply.
    #[inline]
    fn prefetch_for(&self, entries: &[HotEntry], k: usize) {
        if let Some(e) = entries.get(k + PREFETCH_AHEAD)
            && let Some(c) = self.columns.get(e.column.0 as usize)
        {
            let first: *const Option<HotColumn> = c;
            let last = first
                .cast::<u8>()
                .wrapping_add(std::mem::size_of::<Option<HotColumn>>() - 1);
            prefetch(first);
            prefetch(first.cast::<u8>().wrapping_add(64));
            prefetch(last);
        }
        if let Some(e) = entries.get(k + PREFETCH_AHEAD / 2)
            && let Some(Some(c)) = self.columns.get(e.column.0 as usize)
        {
            let (ts, value) = each!(c, c => {
                let (ts, value) = c.head_ends();
                (ts, value.cast::<u8>())
            });
            prefetch(ts);
            prefetch(value);
        }
    }

    /// Pushes one value to column `column`, created if it has none.
    #[inline]
    fn push(&mut self, column: ColumnId, timestamp: i64, value: FieldValue) {
        let i = column.0 as usize;
        if i >= self.columns.len() {
            self.columns.resize_with(i + 1, || None);
        }
        let (col, before) = match &mut self.columns[i] {
            Some(c) => {
                let before = c.heap_bytes();
                (c, before)
            }
            slot @ None => (slot.insert(HotColumn::new(value.field_type())), 0),
        };
        let ok = col.push(timestamp, value);
        debug_assert!(ok, "value type differs from its column's");
        self.bytes = self.bytes - before + col.heap_bytes();
    }

    /// Heap bytes held, the column table included; O(1).
    pub fn bytes(&self) -> usize {
        self.bytes + self.columns.capacity() * std::mem::size_of::<Option<HotColumn>>()
    }

    /// Recounts `bytes` from the columns (after a change to many of them).
    fn recount(&mut self) {
        self.bytes = self
            .columns
            .iter()
            .flatten()
            .map(HotColumn::heap_bytes)
            .sum();
    }

    /// The first and last timestamps of column `c`, without decoding anything.
    pub fn bounds(&self, c: ColumnId) -> Option<(i64, i64)> {
        let col = self.columns.get(c.0 as usize)?.as_ref()?;
        each!(col, c => c.time_bounds())
    }

    /// Values written to column `c` (duplicates included), without decoding anything.
    pub fn written(&self, c: ColumnId) -> u64 {
        match self.columns.get(c.0 as usize) {
            Some(Some(col)) => each!(col, c => c.written()),
            _ => 0,
        }
    }

    /// Points of column `c` in `range`, or `None` if the column has no hot data.
    pub fn read(&self, c: ColumnId, range: TimeRange) -> Option<Result<ColumnData, CodecError>> {
        let col = self.columns.get(c.0 as usize)?.as_ref()?;
        Some(col.read(range))
    }

    /// Closes every open head into a compressed chunk and frees the head buffers (after
    /// an import, so that memory holds only compressed data).
    pub fn close_heads(&mut self) {
        for c in self.columns.iter_mut().flatten() {
            each!(c, c => c.close_head_and_release());
        }
        self.recount();
    }

    /// Moves every value with a timestamp below `cutoff` into a new tier, returned.
    pub fn split_off_before(&mut self, cutoff: i64) -> Result<HotTier, CodecError> {
        let mut old = HotTier::default();
        for (i, c) in self.columns.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            let moved = match c {
                HotColumn::Float(c) => c.split_off_before(cutoff)?.map(HotColumn::Float),
                HotColumn::Integer(c) => c.split_off_before(cutoff)?.map(HotColumn::Integer),
                HotColumn::Unsigned(c) => c.split_off_before(cutoff)?.map(HotColumn::Unsigned),
                HotColumn::Boolean(c) => c.split_off_before(cutoff)?.map(HotColumn::Boolean),
                HotColumn::String(c) => c.split_off_before(cutoff)?.map(HotColumn::String),
            };
            if let Some(m) = moved {
                if old.columns.len() <= i {
                    old.columns.resize_with(i + 1, || None);
                }
                old.columns[i] = Some(m);
            }
        }
        self.recount();
        old.recount();
        Ok(old)
    }

    /// Removes the values of `columns` in `range`; returns how many were removed.
    pub fn delete(&mut self, columns: &[ColumnId], range: TimeRange) -> Result<u64, CodecError> {
        let mut removed = 0;
        for c in columns {
            if let Some(Some(col)) = self.columns.get_mut(c.0 as usize) {
                let before = col.heap_bytes();
                removed += each!(col, col => col.delete_range(range)?);
                self.bytes = self.bytes - before + col.heap_bytes();
            }
        }
        Ok(removed)
    }

    /// A copy of this tier without the values of `columns` in `range` (for tiers shared
    /// with readers, which are never changed in place).
    pub fn without(&self, columns: &[ColumnId], range: TimeRange) -> Result<HotTier, CodecError> {
        let mut out = HotTier {
            columns: Vec::with_capacity(self.columns.len()),
            bytes: 0,
        };
        // A set, so that a delete over a wide series stays linear in its columns.
        let columns: rustc_hash::FxHashSet<ColumnId> = columns.iter().copied().collect();
        for (i, c) in self.columns.iter().enumerate() {
            let copy = match c {
                None => None,
                Some(col) if columns.contains(&ColumnId(i as u32)) => Some(match col {
                    HotColumn::Float(c) => HotColumn::Float(c.without_range(range)?),
                    HotColumn::Integer(c) => HotColumn::Integer(c.without_range(range)?),
                    HotColumn::Unsigned(c) => HotColumn::Unsigned(c.without_range(range)?),
                    HotColumn::Boolean(c) => HotColumn::Boolean(c.without_range(range)?),
                    HotColumn::String(c) => HotColumn::String(c.without_range(range)?),
                }),
                Some(col) => Some(match col {
                    HotColumn::Float(c) => HotColumn::Float(c.without_range(TimeRange::new(0, 0))?),
                    HotColumn::Integer(c) => {
                        HotColumn::Integer(c.without_range(TimeRange::new(0, 0))?)
                    }
                    HotColumn::Unsigned(c) => {
                        HotColumn::Unsigned(c.without_range(TimeRange::new(0, 0))?)
                    }
                    HotColumn::Boolean(c) => {
                        HotColumn::Boolean(c.without_range(TimeRange::new(0, 0))?)
                    }
                    HotColumn::String(c) => {
                        HotColumn::String(c.without_range(TimeRange::new(0, 0))?)
                    }
                }),
            };
            out.columns.push(copy);
        }
        out.recount();
        Ok(out)
    }

    /// The columns holding data.
    pub fn column_ids(&self) -> impl Iterator<Item = ColumnId> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| ColumnId(i as u32))
    }

    /// A cutoff such that moving every value below it frees at least `bytes` (the oldest
    /// data goes first); `None` when the tier is empty.
    pub fn cutoff_freeing(&self, bytes: usize) -> Option<i64> {
        let mut runs = Vec::new();
        for c in self.columns.iter().flatten() {
            each!(c, c => c.size_runs(&mut runs));
        }
        runs.sort_unstable_by_key(|r| r.0);
        let mut freed = 0;
        for (max_ts, b) in &runs {
            freed += b;
            if freed >= bytes {
                return Some(max_ts.saturating_add(1));
            }
        }
        runs.last().map(|r| r.0.saturating_add(1))
    }

    /// Current sizes.
    pub fn stats(&self) -> HotStats {
        let mut s = HotStats::default();
        for c in self.columns.iter().flatten() {
            let (written, bytes, range) =
                each!(c, c => (c.written(), c.heap_bytes(), c.time_range()));
            s.columns += 1;
            s.points += written;
            s.bytes += bytes;
            if let Some((lo, hi)) = range {
                s.time_range = Some(match s.time_range {
                    Some((a, b)) => (a.min(lo), b.max(hi)),
                    None => (lo, hi),
                });
            }
        }
        debug_assert_eq!(s.bytes, self.bytes, "the running byte count drifted");
        s.bytes += self.columns.capacity() * std::mem::size_of::<Option<HotColumn>>();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Column `c`'s type: floats, integers and strings in turn, so one batch mixes them.
    fn value_of(c: u32, x: i64) -> FieldValue {
        match c % 3 {
            0 => FieldValue::Float(x as f64 / 4.0),
            1 => FieldValue::Integer(x),
            _ => FieldValue::String(format!("v{x}")),
        }
    }

    fn entries(raw: &[(u32, i64, i64)]) -> Vec<HotEntry> {
        raw.iter()
            .map(|&(c, ts, x)| HotEntry {
                column: ColumnId(c),
                timestamp: ts,
                value: value_of(c, x),
            })
            .collect()
    }

    /// Every column's points, read back.
    fn contents(t: &HotTier) -> BTreeMap<u32, ColumnData> {
        t.column_ids()
            .map(|c| (c.0, t.read(c, TimeRange::ALL).unwrap().unwrap()))
            .collect()
    }

    proptest! {
        /// Batches longer than the prefetch distance, over columns created in the batch and
        /// columns far apart, read back what the batches wrote, the last write of a
        /// timestamp winning, and the running byte count stays the recount's.
        #[test]
        fn apply_keeps_every_value_last_write_winning(
            batches in prop::collection::vec(
                prop::collection::vec((0u32..40, 0i64..300, -1000i64..1000), 0..700),
                1..4,
            ),
        ) {
            let mut tier = HotTier::default();
            let mut want: BTreeMap<u32, BTreeMap<i64, FieldValue>> = BTreeMap::new();
            for b in &batches {
                // Spread the columns out, so the batch reaches past the table's end.
                let b: Vec<_> = b.iter().map(|&(c, t, x)| (c * 7, t, x)).collect();
                for &(c, ts, x) in &b {
                    want.entry(c).or_default().insert(ts, value_of(c, x));
                }
                tier.apply(entries(&b));
            }
            let got = contents(&tier);
            prop_assert_eq!(got.len(), want.len());
            for (c, points) in &want {
                let data = &got[c];
                let timestamps: Vec<i64> = points.keys().copied().collect();
                prop_assert_eq!(&data.timestamps, &timestamps);
                let values: Vec<FieldValue> = points.values().cloned().collect();
                prop_assert_eq!(data.values.len(), values.len());
                for (k, v) in values.iter().enumerate() {
                    prop_assert_eq!(data.values.get(k), Some(v.clone()));
                }
            }
            let counted = tier.bytes;
            tier.recount();
            prop_assert_eq!(counted, tier.bytes);
        }

        /// One batch gives what its entries applied one at a time give.
        #[test]
        fn one_batch_equals_its_entries_one_by_one(
            raw in prop::collection::vec((0u32..64, 0i64..600, -50i64..50), 0..1200),
        ) {
            let mut whole = HotTier::default();
            whole.apply(entries(&raw));
            let mut single = HotTier::default();
            for e in entries(&raw) {
                single.apply(vec![e]);
            }
            prop_assert_eq!(contents(&whole), contents(&single));
            prop_assert_eq!(whole.stats(), single.stats());
        }
    }
}
