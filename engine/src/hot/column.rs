//! One hot column: closed, compressed chunks plus an open head that takes appends.
//!
//! Invariants:
//! - chunks are in write order: every value in chunk `k` was written before every value
//!   in chunk `k + 1`, and the head holds the newest writes; so on equal timestamps the
//!   later source wins (last write wins);
//! - inside a chunk timestamps are strictly increasing (the head is sorted and
//!   deduplicated, last write winning, when it is closed);
//! - while `ordered` holds, every write had a timestamp above all earlier ones, so the
//!   chunks and the head are disjoint and increasing and a read is a plain concatenation.

use super::values::HotValue;
use crate::codec::{self, CodecError};
use crate::model::TimeRange;

/// Values per closed chunk: Prometheus' 120 samples would cost more per-chunk overhead;
/// 256 keeps the head small (5 minutes of 1 s scrapes ≈ one chunk) while compressing well.
pub(crate) const CHUNK_POINTS: usize = 256;

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
        }
    }

    /// Appends one value; closes the head into a chunk when it is full.
    pub(crate) fn push(&mut self, ts: i64, v: T) {
        if self.written > 0 && ts <= self.max_ts {
            self.ordered = false;
        }
        if self.head_ts.last().is_some_and(|&last| ts <= last) {
            self.head_sorted = false;
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
        self.chunks.push(Chunk {
            min_ts,
            max_ts,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            data: data.into_boxed_slice(),
        });
        self.head_ts.clear();
        self.head_vals.clear();
        self.head_sorted = true;
    }

    /// Closes the head and gives its buffers back, for a column that may stay idle.
    pub(crate) fn close_head_and_release(&mut self) {
        self.close_head();
        self.head_ts = Vec::new();
        self.head_vals = Vec::new();
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

    /// Heap bytes held, chunk payloads and head buffers included.
    pub(crate) fn heap_bytes(&self) -> usize {
        let chunks: usize = self
            .chunks
            .iter()
            .map(|c| c.data.len() + std::mem::size_of::<Chunk>())
            .sum();
        let head = self.head_ts.capacity() * 8
            + self.head_vals.capacity() * std::mem::size_of::<T>()
            + self
                .head_vals
                .iter()
                .map(HotValue::extra_bytes)
                .sum::<usize>();
        chunks + head + std::mem::size_of::<Self>()
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

    proptest! {
        /// Any sequence of writes reads back as a BTreeMap model (last write wins), over
        /// any range, whether or not chunks were closed.
        #[test]
        fn reads_match_a_last_write_wins_model(
            writes in proptest::collection::vec((0i64..2_000, any::<i64>()), 0..1_500),
            ordered in any::<bool>(),
            lo in 0i64..2_000, len in 0i64..2_500,
        ) {
            let mut writes = writes;
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
            let range = TimeRange::new(lo, lo + len);
            let (ts, vals) = col.read(range).unwrap();
            let want: Vec<(i64, i64)> = model.range(lo..lo + len).map(|(t, v)| (*t, *v)).collect();
            let got: Vec<(i64, i64)> = ts.into_iter().zip(vals).collect();
            prop_assert_eq!(got, want);
            let (all, _) = col.read(TimeRange::ALL).unwrap();
            prop_assert_eq!(all.len(), model.len());
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
