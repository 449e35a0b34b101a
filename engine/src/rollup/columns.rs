//! Buckets held column-wise: one vector per aggregate, typed as the rolled-up column.
//! This is the in-memory form everywhere after a bucket is computed: compaction builds
//! it in one pass over a column's points ([`BucketColumns::compute`]), the file encodes
//! it column by column (docs/FORMAT.md, "Rollup file"), the read path slices it out of a
//! decoded stripe, and queries fold it without building one struct per bucket.
//!
//! Invariants: every vector has [`BucketColumns::len`] items (`sketches` has that many
//! or none); starts increase within one entry's run (several entries may be concatenated
//! in a stripe); the per-bucket invariants of [`RollupBucket`] hold for each index.

use super::bucket::{RollupBucket, Scalar};
use super::sketch::Sketch;
use crate::model::{ColumnData, ColumnValues, FieldType};
use crate::segment::BlockStats;
use std::ops::Range;

/// Sum, min, max, first and last of each bucket, for values `T` with sums `S`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values<T, S> {
    /// Sums (exact for integers).
    pub sum: Vec<S>,
    /// Smallest values (floats: NaN only when every value is).
    pub min: Vec<T>,
    /// Largest values.
    pub max: Vec<T>,
    /// First values.
    pub first: Vec<T>,
    /// Last values.
    pub last: Vec<T>,
}

impl<T: Copy, S: Copy> Values<T, S> {
    fn push(&mut self, sum: S, min: T, max: T, first: T, last: T) {
        self.sum.push(sum);
        self.min.push(min);
        self.max.push(max);
        self.first.push(first);
        self.last.push(last);
    }

    fn extend_range(&mut self, o: &Self, r: Range<usize>) {
        self.sum.extend_from_slice(&o.sum[r.clone()]);
        self.min.extend_from_slice(&o.min[r.clone()]);
        self.max.extend_from_slice(&o.max[r.clone()]);
        self.first.extend_from_slice(&o.first[r.clone()]);
        self.last.extend_from_slice(&o.last[r]);
    }
}

/// The typed value columns.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValues {
    /// A float column's buckets.
    Float(Values<f64, f64>),
    /// An integer column's buckets.
    Integer(Values<i64, i128>),
    /// An unsigned column's buckets.
    Unsigned(Values<u64, u128>),
}

/// Buckets of one numeric column type, column-wise.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketColumns {
    /// Bucket starts.
    pub start: Vec<i64>,
    /// Points per bucket (each ≥ 1).
    pub count: Vec<u64>,
    /// Time of each bucket's first point.
    pub first_t: Vec<i64>,
    /// Time of each bucket's last point.
    pub last_t: Vec<i64>,
    /// Sum, min, max, first and last values.
    pub values: TypedValues,
    /// Quantile sketches: one per bucket, or none.
    pub sketches: Vec<Sketch>,
}

impl BucketColumns {
    /// No buckets, of type `ty`; `None` when `ty` does not roll up.
    pub fn new(ty: FieldType) -> Option<BucketColumns> {
        let values = match ty {
            FieldType::Float => TypedValues::Float(Values::default()),
            FieldType::Integer => TypedValues::Integer(Values::default()),
            FieldType::Unsigned => TypedValues::Unsigned(Values::default()),
            _ => return None,
        };
        Some(BucketColumns {
            start: Vec::new(),
            count: Vec::new(),
            first_t: Vec::new(),
            last_t: Vec::new(),
            values,
            sketches: Vec::new(),
        })
    }

    /// The column type.
    pub fn ty(&self) -> FieldType {
        match self.values {
            TypedValues::Float(_) => FieldType::Float,
            TypedValues::Integer(_) => FieldType::Integer,
            TypedValues::Unsigned(_) => FieldType::Unsigned,
        }
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.start.len()
    }

    /// Whether there are no buckets.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    /// Heap bytes held (for cache accounting): 72 bytes per float bucket, 88 per
    /// integer one, plus the sketches' stores.
    pub fn heap_bytes(&self) -> usize {
        let per = match self.values {
            TypedValues::Float(_) => 32 + 40,
            _ => 32 + 16 + 32,
        };
        let sketches: usize = self
            .sketches
            .iter()
            .map(|s| std::mem::size_of::<Sketch>() + 48 * (s.pos.len() + s.neg.len()))
            .sum();
        self.len() * per + sketches
    }

    /// Bucket `i`'s block statistics.
    pub fn stats(&self, i: usize) -> BlockStats {
        match &self.values {
            TypedValues::Float(v) => BlockStats::Float {
                sum: v.sum[i],
                min: v.min[i],
                max: v.max[i],
            },
            TypedValues::Integer(v) => BlockStats::Integer {
                sum: v.sum[i],
                min: v.min[i],
                max: v.max[i],
            },
            TypedValues::Unsigned(v) => BlockStats::Unsigned {
                sum: v.sum[i],
                min: v.min[i],
                max: v.max[i],
            },
        }
    }

    /// Bucket `i`'s first point.
    pub fn first(&self, i: usize) -> (i64, Scalar) {
        let v = match &self.values {
            TypedValues::Float(v) => Scalar::F(v.first[i]),
            TypedValues::Integer(v) => Scalar::I(v.first[i]),
            TypedValues::Unsigned(v) => Scalar::U(v.first[i]),
        };
        (self.first_t[i], v)
    }

    /// Bucket `i`'s last point.
    pub fn last(&self, i: usize) -> (i64, Scalar) {
        let v = match &self.values {
            TypedValues::Float(v) => Scalar::F(v.last[i]),
            TypedValues::Integer(v) => Scalar::I(v.last[i]),
            TypedValues::Unsigned(v) => Scalar::U(v.last[i]),
        };
        (self.last_t[i], v)
    }

    /// Bucket `i` as one struct.
    pub fn bucket(&self, i: usize) -> RollupBucket {
        RollupBucket {
            start: self.start[i],
            count: self.count[i],
            stats: self.stats(i),
            first: self.first(i),
            last: self.last(i),
            sketch: self.sketches.get(i).cloned(),
        }
    }

    /// Every bucket as a struct.
    pub fn rows(&self) -> Vec<RollupBucket> {
        (0..self.len()).map(|i| self.bucket(i)).collect()
    }

    /// Appends `b`; false (nothing appended) when its type or sketch presence does not
    /// match these columns'.
    pub fn push(&mut self, b: &RollupBucket) -> bool {
        let sketch_ok = match &b.sketch {
            Some(_) => self.sketches.len() == self.len(),
            None => self.sketches.is_empty(),
        };
        if !sketch_ok {
            return false;
        }
        let ok = match (&mut self.values, b.stats, b.first.1, b.last.1) {
            (
                TypedValues::Float(v),
                BlockStats::Float { sum, min, max },
                Scalar::F(f),
                Scalar::F(l),
            ) => {
                v.push(sum, min, max, f, l);
                true
            }
            (
                TypedValues::Integer(v),
                BlockStats::Integer { sum, min, max },
                Scalar::I(f),
                Scalar::I(l),
            ) => {
                v.push(sum, min, max, f, l);
                true
            }
            (
                TypedValues::Unsigned(v),
                BlockStats::Unsigned { sum, min, max },
                Scalar::U(f),
                Scalar::U(l),
            ) => {
                v.push(sum, min, max, f, l);
                true
            }
            _ => false,
        };
        if ok {
            self.start.push(b.start);
            self.count.push(b.count);
            self.first_t.push(b.first.0);
            self.last_t.push(b.last.0);
            if let Some(s) = &b.sketch {
                self.sketches.push(s.clone());
            }
        }
        ok
    }

    /// Columns of type `ty` holding `rows`; `None` when a row does not fit (type, or
    /// sketches on some rows only).
    pub fn from_rows(ty: FieldType, rows: &[RollupBucket]) -> Option<BucketColumns> {
        let mut c = BucketColumns::new(ty)?;
        rows.iter().all(|b| c.push(b)).then_some(c)
    }

    /// Appends `other[range]`; false (nothing appended) when the types or the sketch
    /// presence differ.
    pub fn extend_from(&mut self, other: &BucketColumns, range: Range<usize>) -> bool {
        self.extend(other, range, true)
    }

    /// Appends `other[range]`, its sketches only when `sketches` (these columns then hold
    /// none); false (nothing appended) when the types or the sketch presence differ.
    pub fn extend(&mut self, other: &BucketColumns, range: Range<usize>, sketches: bool) -> bool {
        if range.start > range.end || range.end > other.len() {
            return false;
        }
        if range.is_empty() {
            return true;
        }
        let copy_sketches = sketches && !other.sketches.is_empty();
        let sketches_ok = if self.is_empty() {
            self.sketches.is_empty()
        } else {
            self.sketches.is_empty() != copy_sketches
        };
        if !sketches_ok {
            return false;
        }
        match (&mut self.values, &other.values) {
            (TypedValues::Float(a), TypedValues::Float(b)) => a.extend_range(b, range.clone()),
            (TypedValues::Integer(a), TypedValues::Integer(b)) => a.extend_range(b, range.clone()),
            (TypedValues::Unsigned(a), TypedValues::Unsigned(b)) => {
                a.extend_range(b, range.clone())
            }
            _ => return false,
        }
        self.start.extend_from_slice(&other.start[range.clone()]);
        self.count.extend_from_slice(&other.count[range.clone()]);
        self.first_t
            .extend_from_slice(&other.first_t[range.clone()]);
        self.last_t.extend_from_slice(&other.last_t[range.clone()]);
        if copy_sketches {
            self.sketches.extend_from_slice(&other.sketches[range]);
        }
        true
    }

    /// Keeps the buckets whose start lies in `keep` (starts must be increasing).
    pub fn retain_starts(&mut self, keep: Range<i64>) {
        let lo = self.start.partition_point(|&s| s < keep.start);
        let hi = self.start.partition_point(|&s| s < keep.end).max(lo);
        if lo == 0 && hi == self.len() {
            return;
        }
        let Some(mut out) = BucketColumns::new(self.ty()) else {
            return;
        };
        out.extend_from(self, lo..hi);
        *self = out;
    }

    /// The buckets of `data` (time-ordered) for `interval`, with sketches when `sketch`,
    /// in one pass; `None` for non-numeric columns. Equal to [`super::buckets_of`].
    pub fn compute(data: &ColumnData, interval: i64, sketch: bool) -> Option<BucketColumns> {
        let mut out = BucketColumns::new(data.values.field_type())?;
        let ts = &data.timestamps;
        let mut i = 0;
        while i < ts.len() {
            let start = ts[i] - ts[i].rem_euclid(interval);
            let end = start.saturating_add(interval);
            let j = i + ts[i..].partition_point(|&t| t < end);
            out.start.push(start);
            out.count.push((j - i) as u64);
            out.first_t.push(ts[i]);
            out.last_t.push(ts[j - 1]);
            match (&mut out.values, &data.values) {
                (TypedValues::Float(o), ColumnValues::Float(v)) => {
                    let v = &v[i..j];
                    let (mut sum, mut min, mut max) = (0.0, f64::NAN, f64::NAN);
                    for &x in v {
                        sum += x;
                        min = min.min(x);
                        max = max.max(x);
                    }
                    o.push(sum, min, max, v[0], v[v.len() - 1]);
                }
                (TypedValues::Integer(o), ColumnValues::Integer(v)) => {
                    let v = &v[i..j];
                    let (mut sum, mut min, mut max) = (0i128, i64::MAX, i64::MIN);
                    for &x in v {
                        sum += i128::from(x);
                        min = min.min(x);
                        max = max.max(x);
                    }
                    o.push(sum, min, max, v[0], v[v.len() - 1]);
                }
                (TypedValues::Unsigned(o), ColumnValues::Unsigned(v)) => {
                    let v = &v[i..j];
                    let (mut sum, mut min, mut max) = (0u128, u64::MAX, u64::MIN);
                    for &x in v {
                        sum += u128::from(x);
                        min = min.min(x);
                        max = max.max(x);
                    }
                    o.push(sum, min, max, v[0], v[v.len() - 1]);
                }
                _ => return None,
            }
            if sketch {
                let mut s = Sketch::new();
                match &data.values {
                    ColumnValues::Float(v) => v[i..j].iter().for_each(|&x| s.add(x)),
                    ColumnValues::Integer(v) => v[i..j].iter().for_each(|&x| s.add(x as f64)),
                    ColumnValues::Unsigned(v) => v[i..j].iter().for_each(|&x| s.add(x as f64)),
                    _ => {}
                }
                out.sketches.push(s);
            }
            i = j;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data(ty: u8, points: &[(i64, i64)]) -> ColumnData {
        let timestamps = points.iter().map(|p| p.0).collect();
        let values = match ty % 3 {
            0 => ColumnValues::Float(points.iter().map(|p| p.1 as f64 / 7.0).collect()),
            1 => ColumnValues::Integer(points.iter().map(|p| p.1).collect()),
            _ => ColumnValues::Unsigned(points.iter().map(|p| p.1.unsigned_abs()).collect()),
        };
        ColumnData { timestamps, values }
    }

    proptest! {
        /// The one-pass columns equal the row-by-row reference, bucket for bucket, and
        /// survive rows → columns → rows and slicing.
        #[test]
        fn compute_equals_buckets_of(
            times in proptest::collection::btree_set(-5_000i64..5_000, 0..200),
            seed in any::<i64>(),
            ty in 0u8..3,
            interval in 1i64..700,
            sketch in any::<bool>(),
        ) {
            let points: Vec<(i64, i64)> = times
                .iter()
                .map(|&t| (t, seed.wrapping_mul(t).wrapping_add(t) >> 3))
                .collect();
            let d = data(ty, &points);
            let rows = crate::rollup::buckets_of(&d, interval, sketch);
            let cols = BucketColumns::compute(&d, interval, sketch).expect("numeric");
            prop_assert_eq!(&cols.rows(), &rows);
            let back = BucketColumns::from_rows(d.values.field_type(), &rows).expect("fits");
            prop_assert_eq!(&back, &cols);
            let n = cols.len();
            let mut sliced = BucketColumns::new(cols.ty()).expect("numeric");
            prop_assert!(sliced.extend_from(&cols, n / 3..n));
            prop_assert_eq!(sliced.rows(), rows[n / 3..].to_vec());
            if n > 0 {
                let mut kept = cols.clone();
                let (a, b) = (cols.start[n / 2], cols.start[n - 1]);
                kept.retain_starts(a..b);
                let want: Vec<_> = rows.iter().filter(|r| r.start >= a && r.start < b).cloned().collect();
                prop_assert_eq!(kept.rows(), want);
            }
        }
    }

    #[test]
    fn mismatched_types_and_sketches_are_refused() {
        let f = BucketColumns::compute(&data(0, &[(1, 2), (3, 4)]), 10, false).unwrap();
        let i = BucketColumns::compute(&data(1, &[(1, 2)]), 10, true).unwrap();
        let mut c = f.clone();
        assert!(!c.extend_from(&i, 0..1));
        assert!(!c.push(&i.bucket(0)));
        assert_eq!(c, f);
        let mut with_sketch = BucketColumns::new(FieldType::Integer).unwrap();
        assert!(with_sketch.push(&i.bucket(0)));
        let mut plain = i.bucket(0);
        plain.sketch = None;
        assert!(!with_sketch.push(&plain));
        assert!(BucketColumns::new(FieldType::String).is_none());
        let s = ColumnData {
            timestamps: vec![1],
            values: ColumnValues::String(vec!["a".into()]),
        };
        assert!(BucketColumns::compute(&s, 10, false).is_none());
    }
}
