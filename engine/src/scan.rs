//! Aggregation kernels over column batches, and a column aggregate over a segment that
//! answers from block statistics whenever a block lies wholly inside the range.
//!
//! Kernels work a slice at a time with independent accumulator lanes, so the compiler
//! can keep several additions in flight (and vectorise); float results can therefore
//! differ from a strict left-to-right sum in the last bits, as any parallel sum does.

use crate::error::Result;
use crate::model::TimeRange;
use crate::segment::{BlockStats, ColumnEntry, Segment, ValuesView};

const LANES: usize = 8;

/// Sum of `v`, in eight lanes.
pub fn sum_f64(v: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    let mut s = acc.iter().sum::<f64>();
    for &x in tail {
        s += x;
    }
    s
}

/// Exact sum of `v`.
pub fn sum_i64(v: &[i64]) -> i128 {
    // i64 lanes cannot overflow for blocks below 2^31 values of |x| < 2^32; accumulate in
    // i128 lanes to be exact for any input.
    let mut acc = [0i128; 4];
    let chunks = v.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..4 {
            acc[i] += i128::from(c[i]);
        }
    }
    acc.iter().sum::<i128>() + tail.iter().map(|&x| i128::from(x)).sum::<i128>()
}

/// Minimum and maximum of `v` ignoring NaN (`(NaN, NaN)` if empty or all NaN).
pub fn min_max_f64(v: &[f64]) -> (f64, f64) {
    let mut lo = [f64::NAN; LANES];
    let mut hi = [f64::NAN; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            lo[i] = lo[i].min(c[i]);
            hi[i] = hi[i].max(c[i]);
        }
    }
    let mut l = lo.iter().copied().fold(f64::NAN, f64::min);
    let mut h = hi.iter().copied().fold(f64::NAN, f64::max);
    for &x in tail {
        l = l.min(x);
        h = h.max(x);
    }
    (l, h)
}

/// A mergeable partial aggregate of a float column: count, sum, min, max.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloatAgg {
    /// Values seen.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Smallest (NaN if none).
    pub min: f64,
    /// Largest (NaN if none).
    pub max: f64,
}

impl Default for FloatAgg {
    fn default() -> Self {
        FloatAgg {
            count: 0,
            sum: 0.0,
            min: f64::NAN,
            max: f64::NAN,
        }
    }
}

impl FloatAgg {
    /// Folds in another partial.
    pub fn merge(&mut self, o: &FloatAgg) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// The mean, if any value was seen.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// How a [`aggregate_float_column`] call got its answer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Blocks answered from their statistics without reading them.
    pub blocks_from_stats: u64,
    /// Blocks read.
    pub blocks_read: u64,
}

/// Count, sum, min and max of a float column of `seg` over `range`. A block wholly inside
/// `range` is answered from its statistics when `use_stats` is set; others are read.
pub fn aggregate_float_column(
    seg: &Segment,
    column: &ColumnEntry,
    range: TimeRange,
    use_stats: bool,
) -> Result<(FloatAgg, ScanStats)> {
    let mut agg = FloatAgg::default();
    let mut how = ScanStats::default();
    for i in seg.blocks_in(column, range) {
        let m = seg.block_meta(i);
        if !range.overlaps(m.min_ts, m.max_ts) {
            continue;
        }
        if use_stats
            && range.contains(m.min_ts)
            && range.contains(m.max_ts)
            && let BlockStats::Float { sum, min, max } = m.stats
        {
            agg.merge(&FloatAgg {
                count: u64::from(m.count),
                sum,
                min,
                max,
            });
            how.blocks_from_stats += 1;
            continue;
        }
        let b = seg.block(i)?;
        let ValuesView::Float(v) = b.values() else {
            continue;
        };
        let ts = b.timestamps();
        let lo = ts.partition_point(|&t| t < range.start);
        let hi = ts.partition_point(|&t| t < range.start || range.contains(t));
        let v = &v[lo..hi];
        let (min, max) = min_max_f64(v);
        agg.merge(&FloatAgg {
            count: v.len() as u64,
            sum: sum_f64(v),
            min,
            max,
        });
        how.blocks_read += 1;
    }
    Ok((agg, how))
}

/// The first index at or after `from` whose timestamp is not below `bound`. A few points
/// past `from` are tried first; beyond them, stored series are close to regular, so the
/// position is guessed by interpolation between there and the end and corrected by a
/// short walk; a bad guess falls back to galloping.
/// Either way only the cache lines near the answer are touched, where a binary search
/// over a large decoded block would miss the cache at every probe.
pub fn seek(ts: &[i64], from: usize, bound: i64) -> usize {
    let n = ts.len();
    if from >= n || ts[from] >= bound {
        return from;
    }
    // Successive windows over dense data move a few points at a time: a short walk
    // answers those without the interpolation's division.
    const NEAR: usize = 8;
    let near = (from + NEAR).min(n);
    let mut from = from;
    while from + 1 < near {
        if ts[from + 1] >= bound {
            return from + 1;
        }
        from += 1;
    }
    if from + 1 >= n {
        return n;
    }
    let (t0, t1) = (ts[from], ts[n - 1]);
    if t1 < bound {
        return n;
    }
    // ts[from] < bound ≤ t1, so 0 < off ≤ span; the product fits 64 bits for any block of
    // a few thousand points over years, and a 128-bit division (a libcall, ~40 cycles)
    // is only the fallback.
    let span = t1.abs_diff(t0).max(1);
    let off = bound.abs_diff(t0);
    let points = (n - 1 - from) as u64;
    let step = match off.checked_mul(points) {
        Some(p) => p / span,
        None => (u128::from(off) * u128::from(points) / u128::from(span)) as u64,
    };
    let guess = from.saturating_add(usize::try_from(step).unwrap_or(usize::MAX));
    let guess = guess.clamp(from, n - 1);
    const WALK: usize = 8;
    if ts[guess] >= bound {
        // Walk back to the first not below.
        let mut i = guess;
        for _ in 0..WALK {
            if i == from || ts[i - 1] < bound {
                return i;
            }
            i -= 1;
        }
        from + 1 + ts[from + 1..i].partition_point(|&t| t < bound)
    } else {
        let mut i = guess;
        for _ in 0..WALK {
            i += 1;
            if i >= n || ts[i] >= bound {
                return i;
            }
        }
        gallop(ts, i, bound)
    }
}

/// The first index at or after `from` whose timestamp is not below `bound`, found by
/// doubling steps from `from` and then a binary search within the last step.
pub fn gallop(ts: &[i64], from: usize, bound: i64) -> usize {
    if from >= ts.len() || ts[from] >= bound {
        return from;
    }
    let mut step = 1usize;
    let mut lo = from;
    loop {
        let probe = lo + step;
        if probe >= ts.len() || ts[probe] >= bound {
            let hi = probe.min(ts.len());
            return lo + 1 + ts[lo + 1..hi].partition_point(|&t| t < bound);
        }
        lo = probe;
        step *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_and_gallop_find_the_first_not_below() {
        let regular: Vec<i64> = (0..100).map(|i| i * 10).collect();
        let mut irregular: Vec<i64> = (0..100).map(|i| i * i * 7 - 300).collect();
        irregular.extend([100_000, 100_000, 100_001, 1 << 40]);
        for ts in [regular, irregular] {
            for from in [0, 3, 50, 99, 100] {
                for bound in [
                    -400,
                    -5,
                    0,
                    5,
                    10,
                    255,
                    990,
                    991,
                    5000,
                    60_000,
                    100_000,
                    100_001,
                    1 << 41,
                ] {
                    let want = from
                        .max(ts.partition_point(|&t| t < bound))
                        .min(ts.len().max(from));
                    assert_eq!(
                        gallop(&ts, from, bound),
                        want,
                        "gallop from {from} bound {bound}"
                    );
                    assert_eq!(
                        seek(&ts, from, bound),
                        want,
                        "seek from {from} bound {bound}"
                    );
                }
            }
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// Over any sorted timestamps (spans past 2^63 included, where the guess needs
        /// 128 bits) seek finds what a binary search finds.
        #[test]
        fn seek_equals_a_binary_search(mut ts in proptest::collection::vec(any::<i64>(), 1..400),
                                       from in 0usize..410, bound in any::<i64>()) {
            ts.sort_unstable();
            let want = from.max(ts.partition_point(|&t| t < bound)).min(ts.len().max(from));
            prop_assert_eq!(seek(&ts, from, bound), want);
        }

        #[test]
        fn kernels_match_plain_folds(v in proptest::collection::vec(-1e6f64..1e6, 0..300),
                                     ints in proptest::collection::vec(any::<i64>(), 0..300)) {
            let plain: f64 = v.iter().sum();
            prop_assert!((sum_f64(&v) - plain).abs() <= 1e-6 * (1.0 + plain.abs()));
            let (lo, hi) = min_max_f64(&v);
            if v.is_empty() {
                prop_assert!(lo.is_nan() && hi.is_nan());
            } else {
                prop_assert_eq!(lo, v.iter().copied().fold(f64::INFINITY, f64::min));
                prop_assert_eq!(hi, v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            }
            prop_assert_eq!(sum_i64(&ints), ints.iter().map(|&x| i128::from(x)).sum::<i128>());
        }
    }

    #[test]
    fn stats_and_reads_give_the_same_aggregate() {
        use crate::model::{ColumnData, ColumnValues};
        use crate::segment::{SegmentWriter, file_path};
        let dir = tempfile::tempdir().unwrap();
        let hour = crate::segment::BLOCK_SPAN_NANOS;
        let ts: Vec<i64> = (0..20_000).map(|i| i * 1_000_000_000).collect();
        let vals: Vec<f64> = (0..20_000).map(|i| (i % 97) as f64 * 0.25).collect();
        let data = ColumnData {
            timestamps: ts,
            values: ColumnValues::Float(vals.clone()),
        };
        let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
        w.add_series(b"\x01m", &[("v", &data)]).unwrap();
        w.finish().unwrap();
        let seg = Segment::open(&file_path(dir.path(), 1), 1).unwrap();
        let col = &seg.series()[0].columns[0];
        for range in [
            TimeRange::ALL,
            TimeRange::new(hour, 3 * hour),
            TimeRange::new(1_500_000_000_000, 4 * hour),
        ] {
            let (a, how_a) = aggregate_float_column(&seg, col, range, true).unwrap();
            let (b, how_b) = aggregate_float_column(&seg, col, range, false).unwrap();
            assert_eq!(a.count, b.count);
            assert!((a.sum - b.sum).abs() < 1e-6);
            assert_eq!((a.min, a.max), (b.min, b.max));
            assert_eq!(how_b.blocks_from_stats, 0);
            if range == TimeRange::new(hour, 3 * hour) {
                assert_eq!(
                    (how_a.blocks_from_stats, how_a.blocks_read),
                    (2, 0),
                    "whole hours need no reads"
                );
            }
            let want: Vec<f64> = vals
                .iter()
                .enumerate()
                .filter(|(i, _)| range.contains(*i as i64 * 1_000_000_000))
                .map(|(_, v)| *v)
                .collect();
            assert_eq!(a.count as usize, want.len());
        }
    }
}
