//! One rollup bucket: the mergeable summary of a numeric column's points in
//! `[start, start + interval)`, and how it is computed from decoded column data.
//!
//! Invariants: `count > 0`; `stats` has the column's type and follows block statistics'
//! rules (float min/max ignore NaN unless every value is NaN, integer sums are exact);
//! `first.0 <= last.0` lie inside the bucket; the sketch, when kept, counts exactly
//! `count` values.

use super::sketch::Sketch;
use crate::model::{ColumnData, ColumnValues, FieldType};
use crate::segment::BlockStats;

/// A numeric value of the column's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A float.
    F(f64),
    /// A signed integer.
    I(i64),
    /// An unsigned integer.
    U(u64),
}

impl Scalar {
    /// The value as a float.
    pub fn f64(self) -> f64 {
        match self {
            Scalar::F(f) => f,
            Scalar::I(i) => i as f64,
            Scalar::U(u) => u as f64,
        }
    }
}

/// A bucket's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupBucket {
    /// Bucket start (a multiple of the interval).
    pub start: i64,
    /// Points in the bucket.
    pub count: u64,
    /// Sum, min and max, typed as the column.
    pub stats: BlockStats,
    /// The first point (time, value).
    pub first: (i64, Scalar),
    /// The last point (time, value).
    pub last: (i64, Scalar),
    /// The quantile sketch of the values, when the rule keeps it.
    pub sketch: Option<Sketch>,
}

/// Whether rollups apply to columns of type `ty` (numbers only).
pub fn rolls_up(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Float | FieldType::Integer | FieldType::Unsigned
    )
}

/// The buckets of `data` (time-ordered) for `interval`, with sketches when `sketch`; empty
/// for non-numeric columns.
pub fn buckets_of(data: &ColumnData, interval: i64, sketch: bool) -> Vec<RollupBucket> {
    let ts = &data.timestamps;
    let mut out = Vec::new();
    let mut i = 0;
    while i < ts.len() {
        let start = ts[i] - ts[i].rem_euclid(interval);
        let end = start.saturating_add(interval);
        let j = i + ts[i..].partition_point(|&t| t < end);
        let scalar = |k: usize| match &data.values {
            ColumnValues::Float(v) => Some(Scalar::F(v[k])),
            ColumnValues::Integer(v) => Some(Scalar::I(v[k])),
            ColumnValues::Unsigned(v) => Some(Scalar::U(v[k])),
            _ => None,
        };
        let (Some(first), Some(last)) = (scalar(i), scalar(j - 1)) else {
            return Vec::new();
        };
        let sketch = sketch.then(|| {
            let mut s = Sketch::new();
            for k in i..j {
                if let Some(v) = scalar(k) {
                    s.add(v.f64());
                }
            }
            s
        });
        out.push(RollupBucket {
            start,
            count: (j - i) as u64,
            stats: BlockStats::compute(&data.values, i..j),
            first: (ts[i], first),
            last: (ts[j - 1], last),
            sketch,
        });
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_summarise_their_points() {
        let data = ColumnData {
            timestamps: vec![0, 5, 10, 25, 29],
            values: ColumnValues::Integer(vec![3, -1, 7, 2, 2]),
        };
        let b = buckets_of(&data, 10, true);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].start, b[0].count), (0, 2));
        assert_eq!(
            b[0].stats,
            BlockStats::Integer {
                sum: 2,
                min: -1,
                max: 3
            }
        );
        assert_eq!(
            (b[0].first, b[0].last),
            ((0, Scalar::I(3)), (5, Scalar::I(-1)))
        );
        assert_eq!((b[2].start, b[2].count, b[2].last.0), (20, 2, 29));
        assert_eq!(b[1].sketch.as_ref().map(Sketch::count), Some(1));
        let negative = ColumnData {
            timestamps: vec![-15, -1],
            values: ColumnValues::Float(vec![1.0, 2.0]),
        };
        let b = buckets_of(&negative, 10, false);
        assert_eq!(b.iter().map(|b| b.start).collect::<Vec<_>>(), [-20, -10]);
        assert!(b[0].sketch.is_none());
        let strings = ColumnData {
            timestamps: vec![1],
            values: ColumnValues::String(vec!["a".into()]),
        };
        assert!(buckets_of(&strings, 10, true).is_empty());
    }
}
