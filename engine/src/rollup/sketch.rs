//! A mergeable quantile sketch with a relative-error guarantee (the DDSketch scheme of
//! Masson, Rim and Lee, VLDB 2019): a value `v > 0` counts in bucket
//! `i = ⌈log_γ v⌉` with `γ = (1 + α) / (1 − α)`, and a bucket stands for the value
//! `2γ^i / (γ + 1)`, which lies within `α · v` of every value in the bucket. Negative
//! values have their own buckets (by `|v|`), zeros a counter, infinities and NaN their own
//! counters. Merging adds bucket counts, so it is exact and associative: the sketch of a
//! union is the merge of the sketches, whatever the split.
//!
//! Guarantee: for the nearest-rank quantile whose true value is `x` (the `k`-th smallest
//! point), [`Sketch::rank_value`] returns `x̂` with `|x̂ − x| ≤ α · |x|`, α = [`ALPHA`] (1%),
//! clamped into the exact `[min, max]` the sketch also keeps (so the smallest and largest
//! ranks are exact). A store holds at most [`MAX_BUCKETS`] buckets; past that (values
//! spanning more than a factor γ^2048 ≈ 6·10^17 on one side of zero) the buckets closest
//! to zero are folded together and the guarantee holds for the ranks above them only.

use std::collections::BTreeMap;

/// Relative accuracy of every quantile a sketch returns.
pub const ALPHA: f64 = 0.01;

/// Most buckets one sign's store keeps (see the module docs).
pub const MAX_BUCKETS: usize = 2048;

/// `γ = (1 + α) / (1 − α)`.
fn gamma() -> f64 {
    (1.0 + ALPHA) / (1.0 - ALPHA)
}

/// A quantile sketch: counts per logarithmic bucket, plus the exact extremes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sketch {
    /// Buckets of positive values: index → count.
    pub(crate) pos: BTreeMap<i32, u64>,
    /// Buckets of negative values, by `|v|`: index → count.
    pub(crate) neg: BTreeMap<i32, u64>,
    /// Exact zeros (either sign).
    pub(crate) zeros: u64,
    /// `-Inf`, `+Inf` and NaN points.
    pub(crate) neg_inf: u64,
    pub(crate) pos_inf: u64,
    pub(crate) nan: u64,
    /// Smallest and largest finite value seen (`+Inf`/`-Inf` when none).
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Sketch {
    /// An empty sketch.
    pub fn new() -> Sketch {
        Sketch {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            ..Sketch::default()
        }
    }

    /// Points counted.
    pub fn count(&self) -> u64 {
        let stores: u64 = self.pos.values().chain(self.neg.values()).sum();
        stores + self.zeros + self.neg_inf + self.pos_inf + self.nan
    }

    fn index(v: f64) -> i32 {
        // |v| is finite and positive here; the index of the smallest subnormal is about
        // -37,000, well inside i32.
        (v.ln() / gamma().ln()).ceil() as i32
    }

    fn bucket_value(i: i32) -> f64 {
        let g = gamma();
        2.0 * g.powi(i) / (g + 1.0)
    }

    /// Counts one value.
    pub fn add(&mut self, v: f64) {
        self.add_n(v, 1);
    }

    fn add_n(&mut self, v: f64, n: u64) {
        if v.is_nan() {
            self.nan += n;
            return;
        }
        if v == f64::INFINITY {
            self.pos_inf += n;
            return;
        }
        if v == f64::NEG_INFINITY {
            self.neg_inf += n;
            return;
        }
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if v == 0.0 {
            self.zeros += n;
        } else if v > 0.0 {
            *self.pos.entry(Self::index(v)).or_insert(0) += n;
            collapse(&mut self.pos);
        } else {
            *self.neg.entry(Self::index(-v)).or_insert(0) += n;
            collapse(&mut self.neg);
        }
    }

    /// Adds another sketch's counts: the result is the sketch of both inputs' points.
    pub fn merge(&mut self, o: &Sketch) {
        for (i, c) in &o.pos {
            *self.pos.entry(*i).or_insert(0) += c;
        }
        for (i, c) in &o.neg {
            *self.neg.entry(*i).or_insert(0) += c;
        }
        collapse(&mut self.pos);
        collapse(&mut self.neg);
        self.zeros += o.zeros;
        self.neg_inf += o.neg_inf;
        self.pos_inf += o.pos_inf;
        self.nan += o.nan;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// The value at 0-based rank `k` in ascending order (NaN sorts last), within
    /// [`ALPHA`] of the true one; `None` when `k` is not below [`Sketch::count`].
    pub fn rank_value(&self, k: u64) -> Option<f64> {
        // The smallest and largest finite ranks are the exact extremes kept beside the
        // buckets.
        let finite: u64 = self.pos.values().chain(self.neg.values()).sum::<u64>() + self.zeros;
        if finite > 0 && k == self.neg_inf {
            return Some(self.min);
        }
        if finite > 0 && k == self.neg_inf + finite - 1 {
            return Some(self.max);
        }
        let mut seen = 0u64;
        let mut within = |c: u64| {
            seen += c;
            k < seen
        };
        if within(self.neg_inf) {
            return Some(f64::NEG_INFINITY);
        }
        for (i, c) in self.neg.iter().rev() {
            if within(*c) {
                return Some(self.clamp(-Self::bucket_value(*i)));
            }
        }
        if within(self.zeros) {
            return Some(0.0);
        }
        for (i, c) in &self.pos {
            if within(*c) {
                return Some(self.clamp(Self::bucket_value(*i)));
            }
        }
        if within(self.pos_inf) {
            return Some(f64::INFINITY);
        }
        if within(self.nan) {
            return Some(f64::NAN);
        }
        None
    }

    fn clamp(&self, v: f64) -> f64 {
        if self.min <= self.max {
            v.clamp(self.min, self.max)
        } else {
            v
        }
    }
}

/// Folds the buckets closest to zero together until at most [`MAX_BUCKETS`] remain.
fn collapse(store: &mut BTreeMap<i32, u64>) {
    while store.len() > MAX_BUCKETS {
        let Some((_, lowest)) = store.pop_first() else {
            return;
        };
        if let Some(mut next) = store.first_entry() {
            *next.get_mut() += lowest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest_rank(sorted: &[f64], p: f64) -> Option<(u64, f64)> {
        let rank = (sorted.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
        (rank >= 0 && (rank as usize) < sorted.len()).then(|| (rank as u64, sorted[rank as usize]))
    }

    #[test]
    fn every_rank_is_within_the_stated_relative_error() {
        // A spread of magnitudes and both signs, deterministic.
        let mut vals: Vec<f64> = (0..20_000u64)
            .map(|i| {
                let x = (i.wrapping_mul(2_654_435_761) % 1_000_003) as f64 / 997.0;
                if i % 7 == 0 { -x * 13.0 } else { x.powf(1.7) }
            })
            .collect();
        vals.push(0.0);
        let mut a = Sketch::new();
        let mut b = Sketch::new();
        for (i, v) in vals.iter().enumerate() {
            if i % 3 == 0 { a.add(*v) } else { b.add(*v) }
        }
        a.merge(&b);
        assert_eq!(a.count(), vals.len() as u64);
        vals.sort_by(f64::total_cmp);
        for p in [0.1, 1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
            let (k, want) = nearest_rank(&vals, p).unwrap();
            let got = a.rank_value(k).unwrap();
            assert!(
                (got - want).abs() <= ALPHA * want.abs() + 1e-12,
                "p{p}: got {got}, want {want}"
            );
        }
        assert_eq!(a.rank_value(0), Some(vals[0]));
        assert_eq!(
            a.rank_value(vals.len() as u64 - 1),
            Some(vals[vals.len() - 1])
        );
        assert_eq!(a.rank_value(vals.len() as u64), None);
    }

    #[test]
    fn non_finite_values_have_their_own_ranks() {
        let mut s = Sketch::new();
        for v in [f64::NAN, 1.0, f64::NEG_INFINITY, f64::INFINITY] {
            s.add(v);
        }
        assert_eq!(s.rank_value(0), Some(f64::NEG_INFINITY));
        assert_eq!(s.rank_value(1), Some(1.0));
        assert_eq!(s.rank_value(2), Some(f64::INFINITY));
        assert!(s.rank_value(3).is_some_and(f64::is_nan));
    }

    #[test]
    fn a_store_never_holds_more_than_its_bound() {
        let mut s = Sketch::new();
        let mut v = 1e-300;
        while v < 1e300 {
            s.add(v);
            v *= 1.05;
        }
        assert!(s.pos.len() <= MAX_BUCKETS);
        // The largest ranks are unaffected by folding the smallest buckets.
        let top = s.rank_value(s.count() - 2).unwrap();
        assert!((top - v / 1.05 / 1.05).abs() <= ALPHA * top);
    }
}
