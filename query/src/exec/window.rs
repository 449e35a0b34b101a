//! Window folding: one read of a column, folded into a mergeable partial state per time
//! window. The windows are the plan's: PromQL's sliding `[t - range, t]` per step (and,
//! with equal range and step, the tumbling windows InfluxQL's `GROUP BY time()` makes).
//!
//! The column streams through [`Db::scan_column`] without being copied; each piece is
//! cut at window bounds by binary search and folded a slice at a time. A stored block
//! that lies inside every window it touches is folded from its statistics, never
//! decoded — for integer, unsigned and boolean columns, whose statistics are exact (a
//! float block may hold stale markers, which windows skip, so it is always read).
//!
//! Invariants: windows are closed millisecond intervals, sorted by start, with
//! non-decreasing ends; a point is folded into every window that contains it, once; stale
//! markers are never folded.

use crate::error::QueryError;
use strata_engine::Db;
use strata_engine::Piece;
use strata_engine::index::ColumnId;
use strata_engine::model::FieldType;
use strata_engine::scan::seek;
use strata_engine::segment::{BlockStats, ValuesView};

const NS_PER_MS: i64 = 1_000_000;
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The mergeable partial state of one window: count, a sum (exact for integer columns,
/// compensated (Neumaier) for floats), NaN-skipping min and max, and the last point.
/// Which of them are kept is the caller's [`Fold`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowState {
    /// Points folded.
    pub count: u64,
    /// Sum of the float values.
    pub sum: f64,
    /// Compensation term of the float sum.
    pub comp: f64,
    /// Exact sum of integer values (and of integer block statistics).
    pub isum: i128,
    /// Smallest value (NaN only if every value was NaN).
    pub min: f64,
    /// Largest value (NaN only if every value was NaN).
    pub max: f64,
    /// The value at the latest time.
    pub last: f64,
    /// Prometheus 2.42's incremental mean: the mean so far, its compensation, and the
    /// count it divides by (see [`WindowState::mean_step`]).
    pub mean: f64,
    /// Compensation term of the incremental mean.
    pub mean_comp: f64,
}

impl Default for WindowState {
    fn default() -> Self {
        WindowState {
            count: 0,
            sum: 0.0,
            comp: 0.0,
            isum: 0,
            min: f64::NAN,
            max: f64::NAN,
            last: f64::NAN,
            mean: 0.0,
            mean_comp: 0.0,
        }
    }
}

/// Which parts of a [`WindowState`] a caller needs; the rest is not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fold {
    /// The sum.
    pub sum: bool,
    /// Min and max.
    pub min_max: bool,
    /// The last value (block statistics cannot give it).
    pub last: bool,
    /// The incremental mean, point by point in time order, as Prometheus 2.42's
    /// `avg_over_time` computes it (block statistics cannot give it).
    pub mean: bool,
}

#[inline]
fn kahan(sum: &mut f64, comp: &mut f64, v: f64) {
    let s = *sum + v;
    if sum.abs() >= v.abs() {
        *comp += (*sum - s) + v;
    } else {
        *comp += (v - s) + *sum;
    }
    *sum = s;
}

/// One step of Prometheus 2.42's `avg_over_time`: `count` already counts `v`; the mean
/// moves by `v/count - mean/count` under Neumaier compensation. Only for a finite mean
/// (see [`WindowState::mean_exact`] for the rest).
#[inline(always)]
fn mean_step(mean: &mut f64, comp: &mut f64, count: f64, v: f64) {
    let inc = v / count - *mean / count;
    let t = *mean + inc;
    let d = if mean.abs() >= inc.abs() {
        (*mean - t) + inc
    } else {
        (inc - t) + *mean
    };
    *comp += d;
    *mean = t;
}

impl WindowState {
    /// The mean step with Prometheus' rules for infinities, for any value.
    pub fn mean_exact(&mut self, v: f64) {
        self.count += 1;
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        mean_step(&mut self.mean, &mut self.mean_comp, self.count as f64, v);
    }

    /// The incremental mean's value.
    pub fn mean_value(&self) -> f64 {
        if self.mean.is_infinite() {
            self.mean
        } else {
            self.mean + self.mean_comp
        }
    }

    fn min_max(&mut self, lo: f64, hi: f64) {
        if lo < self.min || self.min.is_nan() {
            self.min = lo;
        }
        if hi > self.max || self.max.is_nan() {
            self.max = hi;
        }
    }

    /// Floats, stale markers skipped.
    fn floats(&mut self, vs: &[f64], f: Fold) {
        let stale = vs.iter().any(|v| v.to_bits() == STALE_NAN_BITS);
        for &v in vs {
            if stale && v.to_bits() == STALE_NAN_BITS {
                continue;
            }
            self.count += 1;
            if f.sum {
                kahan(&mut self.sum, &mut self.comp, v);
            }
            if f.min_max {
                self.min_max(v, v);
            }
            if f.last {
                self.last = v;
            }
        }
    }

    /// Integers (and unsigned, booleans) as exact values.
    fn integers<T: Copy + Into<i128> + Ord>(
        &mut self,
        vs: &[T],
        f: Fold,
        to_f64: impl Fn(T) -> f64,
    ) {
        let (Some(&first), Some(&last)) = (vs.first(), vs.last()) else {
            return;
        };
        self.count += vs.len() as u64;
        if f.sum || f.min_max {
            let (mut lo, mut hi) = (first, first);
            // Chunks whose values all fit in 32 bits sum without overflow in i64, a loop
            // the compiler vectorises; others add up in i128.
            for chunk in vs.chunks(1024) {
                let (mut clo, mut chi) = (chunk[0], chunk[0]);
                for &x in chunk {
                    clo = clo.min(x);
                    chi = chi.max(x);
                }
                lo = lo.min(clo);
                hi = hi.max(chi);
                if f.sum {
                    let small = |x: T| {
                        let w: i128 = x.into();
                        (-(1i128 << 31)..(1i128 << 31)).contains(&w)
                    };
                    if small(clo) && small(chi) {
                        let mut acc = 0i64;
                        for &x in chunk {
                            let w: i128 = x.into();
                            acc += w as i64;
                        }
                        self.isum += i128::from(acc);
                    } else {
                        self.isum += chunk.iter().map(|&x| x.into()).sum::<i128>();
                    }
                }
            }
            if f.min_max {
                self.min_max(to_f64(lo), to_f64(hi));
            }
        }
        if f.last {
            self.last = to_f64(last);
        }
    }

    /// Folds a whole block from its statistics (integer, unsigned, boolean columns).
    fn block(&mut self, count: u64, stats: &BlockStats) {
        let (sum, min, max) = match *stats {
            BlockStats::Integer { sum, min, max } => (sum, min as f64, max as f64),
            BlockStats::Unsigned { sum, min, max } => (
                i128::try_from(sum).unwrap_or(i128::MAX),
                min as f64,
                max as f64,
            ),
            BlockStats::Boolean { trues } => (
                i128::from(trues),
                if trues == count { 1.0 } else { 0.0 },
                if trues > 0 { 1.0 } else { 0.0 },
            ),
            BlockStats::Float { .. } | BlockStats::String => return,
        };
        self.count += count;
        self.isum += sum;
        self.min_max(min, max);
    }

    /// The sum: exact integers plus the compensated float sum.
    pub fn total(&self) -> f64 {
        let (mut s, mut c) = (self.sum, self.comp);
        if self.isum != 0 {
            kahan(&mut s, &mut c, self.isum as f64);
        }
        if s.is_infinite() { s } else { s + c }
    }
}

/// Lanes of windows whose means advance in lockstep: the incremental mean is a chain of
/// dependent divisions within one window, so several windows' chains run side by side.
const LANES: usize = 8;

/// Folds `values[s..e]` into window `i`'s incremental mean for every `(i, s, e)`, several
/// windows at a time. Stale markers are skipped; a window whose values are not all finite,
/// or whose mean is not, takes the one-by-one path with Prometheus' rules for infinities.
fn means<T: Copy>(
    out: &mut [WindowState],
    slices: &[(usize, usize, usize)],
    values: &[T],
    f: impl Fn(T) -> f64 + Copy,
) {
    let mut fast: Vec<(usize, usize, usize)> = Vec::with_capacity(slices.len());
    for &(i, s, e) in slices {
        let plain = out[i].mean.is_finite()
            && values[s..e].iter().all(|&x| {
                let v = f(x);
                v.is_finite()
            });
        if plain {
            fast.push((i, s, e));
        } else {
            for &x in &values[s..e] {
                let v = f(x);
                if v.to_bits() != STALE_NAN_BITS {
                    out[i].mean_exact(v);
                }
            }
        }
    }
    for group in fast.chunks(LANES) {
        let k = group.len();
        let mut mean = [0.0f64; LANES];
        let mut comp = [0.0f64; LANES];
        let mut count = [0.0f64; LANES];
        let mut pos = [0usize; LANES];
        let mut len = [0usize; LANES];
        for (l, &(i, s, e)) in group.iter().enumerate() {
            mean[l] = out[i].mean;
            comp[l] = out[i].mean_comp;
            count[l] = out[i].count as f64;
            pos[l] = s;
            len[l] = e - s;
        }
        let common = len[..k].iter().copied().min().unwrap_or(0);
        for j in 0..common {
            for l in 0..k {
                count[l] += 1.0;
                let v = f(values[pos[l] + j]);
                mean_step(&mut mean[l], &mut comp[l], count[l], v);
            }
        }
        for l in 0..k {
            for j in common..len[l] {
                count[l] += 1.0;
                let v = f(values[pos[l] + j]);
                mean_step(&mut mean[l], &mut comp[l], count[l], v);
            }
            let st = &mut out[group[l].0];
            st.mean = mean[l];
            st.mean_comp = comp[l];
            st.count += len[l] as u64;
        }
    }
}

/// Reads `column` (of type `ty`) once and folds it into one state per window (closed
/// millisecond intervals `(lo, hi)`, see the module invariants), calling `check` between
/// pieces so that a long read can be stopped.
pub fn fold_windows(
    db: &Db,
    column: ColumnId,
    ty: FieldType,
    windows: &[(i64, i64)],
    fold: Fold,
    check: &dyn Fn() -> Result<(), QueryError>,
) -> Result<Vec<WindowState>, QueryError> {
    let mut out = vec![WindowState::default(); windows.len()];
    let (Some(first), Some(last)) = (windows.first(), windows.last()) else {
        return Ok(out);
    };
    // Windows as half-open nanosecond ranges.
    let ns: Vec<(i64, i64)> = windows
        .iter()
        .map(|&(lo, hi)| {
            (
                lo.saturating_mul(NS_PER_MS),
                hi.saturating_add(1).saturating_mul(NS_PER_MS),
            )
        })
        .collect();
    let range = crate::exec::scan::ns_range(first.0, last.1);
    // Windows that may overlap [a, b]: from the first whose end is past a.
    let first_from = |a: i64| ns.partition_point(|w| w.1 <= a);
    let exact_stats = matches!(
        ty,
        FieldType::Integer | FieldType::Unsigned | FieldType::Boolean
    );
    let mut summary_ok = |a: i64, b: i64| -> bool {
        if !exact_stats || fold.last || fold.mean {
            return false;
        }
        let mut i = first_from(a);
        let mut any = false;
        while i < ns.len() && ns[i].0 <= b {
            if !(ns[i].0 <= a && b < ns[i].1) {
                return false;
            }
            any = true;
            i += 1;
        }
        any
    };
    let mut stop: Option<QueryError> = None;
    let res = db.scan_column(column, ty, range, &mut summary_ok, &mut |piece| {
        if let Err(e) = check() {
            stop = Some(e);
            return Err(strata_engine::Error::Internal("query stopped".into()));
        }
        match piece {
            Piece::Summary {
                count,
                min_ts,
                max_ts,
                stats,
            } => {
                let mut i = first_from(min_ts);
                while i < ns.len() && ns[i].0 <= max_ts {
                    out[i].block(count, &stats);
                    i += 1;
                }
            }
            Piece::Points { timestamps, values } => {
                let (Some(&a), Some(&b)) = (timestamps.first(), timestamps.last()) else {
                    return Ok(());
                };
                // Window bounds only move forward: each is sought from the last one.
                let mut i = first_from(a);
                let (mut s, mut e) = (0usize, 0usize);
                let mut mean_slices: Vec<(usize, usize, usize)> = Vec::new();
                while i < ns.len() && ns[i].0 <= b {
                    let (lo, hi) = ns[i];
                    s = seek(timestamps, s, lo);
                    e = seek(timestamps, e.max(s), hi);
                    if fold.mean && s < e {
                        mean_slices.push((i, s, e));
                        i += 1;
                        continue;
                    }
                    if s < e {
                        let st = &mut out[i];
                        match values {
                            ValuesView::Float(v) => st.floats(&v[s..e], fold),
                            ValuesView::Integer(v) => st.integers(&v[s..e], fold, |x| x as f64),
                            ValuesView::Unsigned(v) => st.integers(&v[s..e], fold, |x| x as f64),
                            ValuesView::Boolean(v) => {
                                st.integers(&v[s..e], fold, |x| if x { 1.0 } else { 0.0 })
                            }
                            ValuesView::String(_) => {}
                        }
                    }
                    i += 1;
                }
                if !mean_slices.is_empty() {
                    match values {
                        ValuesView::Float(v) => means(&mut out, &mean_slices, v, |x| x),
                        ValuesView::Integer(v) => means(&mut out, &mean_slices, v, |x| x as f64),
                        ValuesView::Unsigned(v) => means(&mut out, &mean_slices, v, |x| x as f64),
                        ValuesView::Boolean(v) => {
                            means(&mut out, &mean_slices, v, |x| if x { 1.0 } else { 0.0 })
                        }
                        ValuesView::String(_) => {}
                    }
                }
            }
        }
        Ok(())
    });
    if let Some(e) = stop {
        return Err(e);
    }
    res?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Fold = Fold {
        sum: true,
        min_max: true,
        last: true,
        mean: true,
    };

    #[test]
    fn means_in_lockstep_equal_the_one_by_one_mean() {
        // Windows of different lengths over the same values, in one group and in several.
        let values: Vec<i64> = (0..5000).map(|i| (i * 7919) % 101).collect();
        let mut slices = Vec::new();
        let mut s = 0;
        for w in 0..20 {
            let len = 100 + (w * 37) % 300;
            slices.push((w, s, (s + len).min(values.len())));
            s += len / 2;
        }
        let mut lock = vec![WindowState::default(); 20];
        means(&mut lock, &slices, &values, |x| x as f64);
        for &(i, s, e) in &slices {
            let mut one = WindowState::default();
            for &v in &values[s..e] {
                one.mean_exact(v as f64);
            }
            assert_eq!(
                lock[i].mean_value().to_bits(),
                one.mean_value().to_bits(),
                "window {i}"
            );
            assert_eq!(lock[i].count, one.count);
        }
        // Prometheus' mean of values averaging exactly 61 is not exactly 61 in every case,
        // and infinities follow its rules.
        let mut inf = WindowState::default();
        for v in [1.0, f64::INFINITY, 2.0, f64::INFINITY] {
            inf.mean_exact(v);
        }
        assert_eq!(inf.mean_value(), f64::INFINITY);
    }

    #[test]
    fn state_skips_nan_and_stale_markers_and_compensates_the_sum() {
        let mut s = WindowState::default();
        s.floats(&[1e100, f64::from_bits(STALE_NAN_BITS), 1.0, -1e100], ALL);
        assert_eq!(s.count, 3);
        assert_eq!(s.total(), 1.0);
        assert_eq!((s.min, s.max, s.last), (-1e100, 1e100, -1e100));
        let mut n = WindowState::default();
        n.floats(&[f64::NAN, 3.0], ALL);
        assert_eq!((n.min, n.count), (3.0, 2));
    }

    #[test]
    fn integers_and_block_statistics_fold_exactly() {
        let mut s = WindowState::default();
        s.block(
            3,
            &BlockStats::Integer {
                sum: 6,
                min: 1,
                max: 3,
            },
        );
        s.integers(&[4i64, i64::MAX], ALL, |x| x as f64);
        assert_eq!(s.count, 5);
        assert_eq!(s.isum, 10 + i128::from(i64::MAX));
        assert_eq!(
            (s.min, s.max, s.last),
            (1.0, i64::MAX as f64, i64::MAX as f64)
        );
    }
}
