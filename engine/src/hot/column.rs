//! One hot column: closed, compressed chunks plus an open head that takes appends.
//!
//! Invariants:
//! - chunks are in write order: every value in chunk `k` was written before every value
//!   in chunk `k + 1`, and the head holds the newest writes; so on equal timestamps the
//!   later source wins (last write wins);
//! - inside a chunk timestamps are strictly increasing (the head is sorted and
//!   deduplicated, last write winning, when it is closed);
//! - while `ordered` holds, every write had a timestamp above all earlier ones, so the
//!   chunks and the head are disjoint and increasing and a read is a plain concatenation;
//! - `chunk_bytes` is the chunks' payloads and headers, `head_extra` the head values' heap
//!   beyond their inline size (string contents), so that [`TypedColumn::heap_bytes`] is
//!   O(1): the hot tier keeps its total up to date on every write with it.

use super::values::HotValue;
use crate::codec::{self, CodecError};
use crate::model::TimeRange;

/// Values per closed chunk: Prometheus' 120 samples would cost more per-chunk overhead;
/// 256 keeps the head small (5 minutes of 1 s scrapes ≈ one chunk) while compressing well.
pub(crate) const CHUNK_POINTS: usize = 256;

/// Room a column's head starts with: two minutes of 15 s scrapes without regrowing (from
/// 4, the first growth came at the fifth point, when a million fresh columns reallocating
/// at once cost a scraping server a tenth of its CPU).
const HEAD_START: usize = 8;

/// A closed chunk: the compressed timestamps followed by the compressed values.
#[derive(Debug)]
struct Chunk {
    min_ts: i64,
    max_ts: i64,
    count: u32,
    data: Box<[u8]>,
}

/// A hot column of values of type `T`.
#[derive(Debug)]
pub(crate) struct TypedColumn<T> {
    chunks: Vec<Chunk>,
    head_ts: Vec<i64>,
    head_vals: Vec<T>,
    head_sorted: bool,
    ordered: bool,
    min_ts: i64,
    max_ts: i64,
    /// Values written, duplicates included.
    written: u64,
    /// Bytes of the closed chunks (payload and header).
    chunk_bytes: usize,
    /// Heap bytes of the head's values beyond their inline size.
    head_extra: usize,
}

impl<T: HotValue> TypedColumn<T> {
    pub(crate) fn new() -> Self {
        TypedColumn {
            chunks: Vec::new(),
            head_ts: Vec::new(),
            head_vals: Vec::new(),
            head_sorted: true,
            ordered: true,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            written: 0,
            chunk_bytes: 0,
            head_extra: 0,
        }
    }

    /// Where [`TypedColumn::push`] will read and write in the head: the last timestamp
    /// (compared with the new one) and the slot the value goes to. For prefetching only.
    #[inline]
    pub(crate) fn head_ends(&self) -> (*const i64, *const T) {
        let last = self.head_ts.len().saturating_sub(1);
        (
            self.head_ts.as_ptr().wrapping_add(last),
            self.head_vals.as_ptr().wrapping_add(self.head_vals.len()),
        )
    }

    /// Appends one value; closes the head into a chunk when it is full.
    pub(crate) fn push(&mut self, ts: i64, v: T) {
        if self.written > 0 && ts <= self.max_ts {
            self.ordered = false;
        }
        if self.head_ts.last().is_some_and(|&last| ts <= last) {
            self.head_sorted = false;
        }
        self.head_extra += v.extra_bytes();
        if self.head_ts.capacity() == 0 {
            self.head_ts.reserve_exact(HEAD_START);
            self.head_vals.reserve_exact(HEAD_START);
        }
        self.head_ts.push(ts);
        self.head_vals.push(v);
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
        self.written += 1;
        if self.head_ts.len() >= CHUNK_POINTS {
            self.close_head();
        }
    }

    /// Compresses the head into a chunk.
    pub(crate) fn close_head(&mut self) {
        if self.head_ts.is_empty() {
            return;
        }
        let mut data = Vec::new();
        let (min_ts, max_ts, count);
        if self.head_sorted {
            codec::encode_timestamps(&self.head_ts, &mut data);
            T::encode(&self.head_vals, &mut data);
            (min_ts, max_ts, count) = (
                self.head_ts[0],
                self.head_ts[self.head_ts.len() - 1],
                self.head_ts.len(),
            );
        } else {
            let (ts, vals) = sort_dedup(&self.head_ts, &self.head_vals);
            codec::encode_timestamps(&ts, &mut data);
            T::encode(&vals, &mut data);
            (min_ts, max_ts, count) = (ts[0], ts[ts.len() - 1], ts.len());
        }
        self.chunk_bytes += data.len() + std::mem::size_of::<Chunk>();
        self.chunks.push(Chunk {
            min_ts,
            max_ts,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            data: data.into_boxed_slice(),
        });
        self.head_ts.clear();
        self.head_vals.clear();
        self.head_extra = 0;
        self.head_sorted = true;
    }

    /// Closes the head and gives its buffers back, for a column that may stay idle.
    pub(crate) fn close_head_and_release(&mut self) {
        self.close_head();
        self.head_ts = Vec::new();
        self.head_vals = Vec::new();
    }

    /// Moves every value with a timestamp below `cutoff` into a new column, returned;
    /// `None` when there is none. In a time-ordered column whole chunks move without being
    /// re-encoded and only a chunk straddling `cutoff` is split; otherwise the column is
    /// rebuilt from its merged (deduplicated) contents.
    pub(crate) fn split_off_before(&mut self, cutoff: i64) -> Result<Option<Self>, CodecError> {
        if self.written == 0 || self.min_ts >= cutoff {
            return Ok(None);
        }
        if self.max_ts < cutoff {
            return Ok(Some(std::mem::replace(self, Self::new())));
        }
        let mut old = Self::new();
        if self.ordered {
            let k = self.chunks.partition_point(|c| c.max_ts < cutoff);
            old.chunks = self.chunks.drain(..k).collect();
            if self.chunks.first().is_some_and(|c| c.min_ts < cutoff) {
                let c = self.chunks.remove(0);
                let (mut ts, mut vals) = (Vec::new(), Vec::new());
                decode_chunk::<T>(&c.data, &mut ts, &mut vals)?;
                let split = ts.partition_point(|&t| t < cutoff);
                for (t, v) in ts[..split].iter().zip(&vals[..split]) {
                    old.push(*t, v.clone());
                }
                self.chunks
                    .insert(0, encode_chunk(&ts[split..], &vals[split..]));
            }
            let split = self.head_ts.partition_point(|&t| t < cutoff);
            for (t, v) in self
                .head_ts
                .drain(..split)
                .zip(self.head_vals.drain(..split))
            {
                old.push(t, v);
            }
        } else {
            let (ts, vals) = self.read(TimeRange::ALL)?;
            let split = ts.partition_point(|&t| t < cutoff);
            let mut new = Self::new();
            for (t, v) in ts.iter().zip(vals) {
                if *t < cutoff {
                    old.push(*t, v)
                } else {
                    new.push(*t, v)
                }
            }
            debug_assert!(split <= ts.len());
            *self = new;
        }
        old.recompute();
        self.recompute();
        Ok(Some(old))
    }

    /// Removes every value with a timestamp in `range`; returns how many were removed.
    pub(crate) fn delete_range(&mut self, range: TimeRange) -> Result<u64, CodecError> {
        if self.written == 0 || !range.overlaps(self.min_ts, self.max_ts) {
            return Ok(0);
        }
        let (kept, removed) = self.split_out(range)?;
        *self = kept;
        Ok(removed)
    }

    /// A copy without the values in `range`.
    pub(crate) fn without_range(&self, range: TimeRange) -> Result<Self, CodecError> {
        Ok(self.split_out(range)?.0)
    }

    /// The column rebuilt from its merged contents without `range`, and how many values
    /// that left out.
    fn split_out(&self, range: TimeRange) -> Result<(Self, u64), CodecError> {
        let (ts, vals) = self.read(TimeRange::ALL)?;
        let mut kept = Self::new();
        let mut removed = 0;
        for (t, v) in ts.into_iter().zip(vals) {
            if range.contains(t) {
                removed += 1;
            } else {
                kept.push(t, v);
            }
        }
        Ok((kept, removed))
    }

    /// The first and last timestamps held, if any (kept exact by every change).
    pub(crate) fn time_bounds(&self) -> Option<(i64, i64)> {
        (self.written > 0).then_some((self.min_ts, self.max_ts))
    }

    /// Recomputes `min_ts`, `max_ts`, `written` and the byte counts from the chunks and
    /// the head (after chunks or head values were moved other than by `push`).
    fn recompute(&mut self) {
        self.min_ts = i64::MAX;
        self.max_ts = i64::MIN;
        self.written = 0;
        self.chunk_bytes = 0;
        for c in &self.chunks {
            self.min_ts = self.min_ts.min(c.min_ts);
            self.max_ts = self.max_ts.max(c.max_ts);
            self.written += u64::from(c.count);
            self.chunk_bytes += c.data.len() + std::mem::size_of::<Chunk>();
        }
        self.head_extra = self.head_vals.iter().map(HotValue::extra_bytes).sum();
        for &t in &self.head_ts {
            self.min_ts = self.min_ts.min(t);
            self.max_ts = self.max_ts.max(t);
        }
        self.written += self.head_ts.len() as u64;
    }

    /// Appends `(latest timestamp, bytes)` of each chunk and of the head to `out`: what
    /// moving data up to that time would free.
    pub(crate) fn size_runs(&self, out: &mut Vec<(i64, usize)>) {
        for c in &self.chunks {
            out.push((c.max_ts, c.data.len() + std::mem::size_of::<Chunk>()));
        }
        if let Some(max) = self.head_ts.iter().copied().max() {
            out.push((
                max,
                self.head_ts.capacity() * 8 + self.head_vals.capacity() * std::mem::size_of::<T>(),
            ));
        }
    }

    /// The column's points in `range`, time-ordered, one per timestamp (the last written).
    pub(crate) fn read(&self, range: TimeRange) -> Result<(Vec<i64>, Vec<T>), CodecError> {
        let mut ts = Vec::new();
        let mut vals = Vec::new();
        if self.written == 0 || !range.overlaps(self.min_ts, self.max_ts) {
            return Ok((ts, vals));
        }
        if self.ordered {
            let mut cts = Vec::new();
            let mut cvals = Vec::new();
            for c in self
                .chunks
                .iter()
                .filter(|c| range.overlaps(c.min_ts, c.max_ts))
            {
                cts.reserve(c.count as usize);
                cvals.reserve(c.count as usize);
                decode_chunk::<T>(&c.data, &mut cts, &mut cvals)?;
                append_in_range(&cts, &cvals, range, &mut ts, &mut vals);
                cts.clear();
                cvals.clear();
            }
            append_in_range(&self.head_ts, &self.head_vals, range, &mut ts, &mut vals);
            return Ok((ts, vals));
        }
        // Out-of-order writes: gather every source in write order, then a stable sort by
        // time keeps write order among equal timestamps, and the last of each run wins.
        let mut all_ts = Vec::new();
        let mut all_vals = Vec::new();
        for c in self
            .chunks
            .iter()
            .filter(|c| range.overlaps(c.min_ts, c.max_ts))
        {
            let mut cts = Vec::new();
            let mut cvals = Vec::new();
            decode_chunk::<T>(&c.data, &mut cts, &mut cvals)?;
            append_in_range(&cts, &cvals, range, &mut all_ts, &mut all_vals);
        }
        for (t, v) in self.head_ts.iter().zip(&self.head_vals) {
            if range.contains(*t) {
                all_ts.push(*t);
                all_vals.push(v.clone());
            }
        }
        let (t, v) = sort_dedup(&all_ts, &all_vals);
        ts = t;
        vals = v;
        Ok((ts, vals))
    }

    /// Values written (duplicates included).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The time range written, if any.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        (self.written > 0).then_some((self.min_ts, self.max_ts))
    }

    /// Heap bytes held, chunk payloads and head buffers included; O(1).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunk_bytes
            + self.head_ts.capacity() * 8
            + self.head_vals.capacity() * std::mem::size_of::<T>()
            + self.head_extra
            + std::mem::size_of::<Self>()
    }

    /// [`TypedColumn::heap_bytes`] counted from scratch, for tests of the running counts.
    #[cfg(test)]
    pub(crate) fn heap_bytes_counted(&self) -> usize {
        let chunks: usize = self
            .chunks
            .iter()
            .map(|c| c.data.len() + std::mem::size_of::<Chunk>())
            .sum();
        let extra: usize = self.head_vals.iter().map(HotValue::extra_bytes).sum();
        chunks
            + self.head_ts.capacity() * 8
            + self.head_vals.capacity() * std::mem::size_of::<T>()
            + extra
            + std::mem::size_of::<Self>()
    }
}

/// Compresses sorted, deduplicated, non-empty `ts` and `vals` into a chunk.
fn encode_chunk<T: HotValue>(ts: &[i64], vals: &[T]) -> Chunk {
    let mut data = Vec::new();
    codec::encode_timestamps(ts, &mut data);
    T::encode(vals, &mut data);
    Chunk {
        min_ts: ts.first().copied().unwrap_or(i64::MAX),
        max_ts: ts.last().copied().unwrap_or(i64::MIN),
        count: u32::try_from(ts.len()).unwrap_or(u32::MAX),
        data: data.into_boxed_slice(),
    }
}

fn decode_chunk<T: HotValue>(
    data: &[u8],
    ts: &mut Vec<i64>,
    vals: &mut Vec<T>,
) -> Result<(), CodecError> {
    let used = codec::decode_timestamps(data, ts)?;
    let rest = data.get(used..).ok_or(CodecError {
        offset: used,
        what: "timestamp block overruns the chunk",
    })?;
    T::decode(rest, vals)?;
    if ts.len() != vals.len() {
        return Err(CodecError {
            offset: used,
            what: "chunk has different numbers of timestamps and values",
        });
    }
    Ok(())
}

fn append_in_range<T: Clone>(
    ts: &[i64],
    vals: &[T],
    range: TimeRange,
    out_ts: &mut Vec<i64>,
    out_vals: &mut Vec<T>,
) {
    let lo = ts.partition_point(|&t| t < range.start);
    let hi = ts.partition_point(|&t| range.contains(t) || t < range.start);
    out_ts.extend_from_slice(&ts[lo..hi]);
    out_vals.extend_from_slice(&vals[lo..hi]);
}

/// Sorts by timestamp, keeping for each timestamp the value that came last in the input.
fn sort_dedup<T: Clone>(ts: &[i64], vals: &[T]) -> (Vec<i64>, Vec<T>) {
    let mut order: Vec<u32> = (0..ts.len() as u32).collect();
    order.sort_by_key(|&i| ts[i as usize]); // stable: equal timestamps keep write order
    let mut out_ts = Vec::with_capacity(order.len());
    let mut out_vals: Vec<T> = Vec::with_capacity(order.len());
    for (k, &i) in order.iter().enumerate() {
        let t = ts[i as usize];
        let next_same = order.get(k + 1).is_some_and(|&j| ts[j as usize] == t);
        if !next_same {
            out_ts.push(t);
            out_vals.push(vals[i as usize].clone());
        }
    }
    (out_ts, out_vals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A column and its last-write-wins model after `writes` (sorted and deduplicated
    /// first when `ordered`).
    fn filled(
        mut writes: Vec<(i64, i64)>,
        ordered: bool,
    ) -> (TypedColumn<i64>, BTreeMap<i64, i64>) {
        if ordered {
            writes.sort_by_key(|w| w.0);
            writes.dedup_by_key(|w| w.0);
        }
        let mut col = TypedColumn::<i64>::new();
        let mut model = BTreeMap::new();
        for &(t, v) in &writes {
            col.push(t, v);
            model.insert(t, v);
        }
        (col, model)
    }

    proptest! {
        /// Any sequence of writes reads back as a BTreeMap model (last write wins), over
        /// any range, whether or not chunks were closed.
        #[test]
        fn reads_match_a_last_write_wins_model(
            writes in proptest::collection::vec((0i64..2_000, any::<i64>()), 0..1_500),
            ordered in any::<bool>(),
            lo in 0i64..2_000, len in 0i64..2_500,
        ) {
            let (col, model) = filled(writes, ordered);
            let range = TimeRange::new(lo, lo + len);
            let (ts, vals) = col.read(range).unwrap();
            let want: Vec<(i64, i64)> = model.range(lo..lo + len).map(|(t, v)| (*t, *v)).collect();
            let got: Vec<(i64, i64)> = ts.into_iter().zip(vals).collect();
            prop_assert_eq!(got, want);
            let (all, _) = col.read(TimeRange::ALL).unwrap();
            prop_assert_eq!(all.len(), model.len());
        }
    }

    proptest! {
        /// Splitting at any cutoff partitions the column's contents exactly, whatever the
        /// write order, and both halves read as the model says.
        #[test]
        fn split_partitions_the_contents(
            writes in proptest::collection::vec((0i64..3_000, any::<i64>()), 0..1_200),
            ordered in any::<bool>(),
            cutoff in -10i64..3_100,
        ) {
            let (mut col, model) = filled(writes, ordered);
            let old = col.split_off_before(cutoff).unwrap();
            let (ots, ovals) = old.as_ref().map_or((vec![], vec![]), |o| o.read(TimeRange::ALL).unwrap());
            let (nts, nvals) = col.read(TimeRange::ALL).unwrap();
            let want_old: Vec<(i64, i64)> = model.range(..cutoff).map(|(t, v)| (*t, *v)).collect();
            let want_new: Vec<(i64, i64)> = model.range(cutoff..).map(|(t, v)| (*t, *v)).collect();
            prop_assert_eq!(ots.into_iter().zip(ovals).collect::<Vec<_>>(), want_old.clone());
            prop_assert_eq!(nts.into_iter().zip(nvals).collect::<Vec<_>>(), want_new.clone());
            // `written` counts duplicates, so it is at least the distinct count.
            prop_assert!(old.map_or(0, |o| o.written()) >= want_old.len() as u64);
            prop_assert!(col.written() >= want_new.len() as u64);
            // Later writes still land after a split.
            col.push(cutoff.max(0) + 5_000, 1);
            prop_assert_eq!(col.read(TimeRange::ALL).unwrap().0.len(), want_new.len() + 1);
        }
    }

    proptest! {
        /// The running byte counts behind the O(1) `heap_bytes` equal a count from scratch
        /// after any mix of writes (strings of any length, in and out of order), head
        /// closes, releases, splits and deletes, on both sides of a split.
        #[test]
        fn running_byte_counts_match_a_recount(
            ops in proptest::collection::vec((0u8..6, 0i64..600, 0usize..40), 1..700),
        ) {
            let mut col = TypedColumn::<String>::new();
            let mut olds = Vec::new();
            for (op, t, n) in ops {
                match op {
                    0..=2 => col.push(t, "x".repeat(n)),
                    3 => col.close_head(),
                    4 => {
                        if n % 2 == 0 {
                            col.close_head_and_release();
                        } else {
                            col.delete_range(TimeRange::new(t, t + n as i64 * 10)).unwrap();
                        }
                    }
                    _ => olds.extend(col.split_off_before(t).unwrap()),
                }
                prop_assert_eq!(col.heap_bytes(), col.heap_bytes_counted());
            }
            for o in &olds {
                prop_assert_eq!(o.heap_bytes(), o.heap_bytes_counted());
            }
        }
    }

    #[test]
    fn duplicate_across_chunks_keeps_the_last_write() {
        let mut col = TypedColumn::<String>::new();
        for t in 0..CHUNK_POINTS as i64 {
            col.push(t, format!("old{t}"));
        }
        col.push(5, "new".to_owned());
        col.close_head();
        let (ts, vals) = col.read(TimeRange::new(4, 7)).unwrap();
        assert_eq!(ts, [4, 5, 6]);
        assert_eq!(vals, ["old4", "new", "old6"]);
    }

    #[test]
    fn regular_integer_column_compresses_to_a_few_bits_per_point() {
        let mut col = TypedColumn::<i64>::new();
        let mut v = 50i64;
        for i in 0..100_000i64 {
            v = (v + (i * 7919 % 5) - 2).clamp(0, 100);
            col.push(1_451_606_400_000_000_000 + i * 10_000_000_000, v);
        }
        let per_point = col.heap_bytes() as f64 / 100_000.0;
        assert!(per_point < 1.5, "{per_point} bytes per point");
    }
}
