//! Per-block statistics: what aggregates can use without reading a block.

use crate::model::{ColumnValues, FieldType};

/// Statistics of the values of one block (its count and time bounds are in
/// [`super::BlockMeta`]). Float `min`/`max` ignore NaN unless every value is NaN; `sum`
/// is the plain left-to-right sum (NaN if any value is NaN). Integer sums are exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BlockStats {
    /// Float column.
    Float {
        /// Sum of the values.
        sum: f64,
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Integer column.
    Integer {
        /// Exact sum.
        sum: i128,
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// Unsigned column.
    Unsigned {
        /// Exact sum.
        sum: u128,
        /// Smallest value.
        min: u64,
        /// Largest value.
        max: u64,
    },
    /// Boolean column.
    Boolean {
        /// Number of `true` values.
        trues: u64,
    },
    /// String column: no value statistics.
    String,
}

impl BlockStats {
    /// Statistics of `values[range]`.
    pub fn compute(values: &ColumnValues, range: std::ops::Range<usize>) -> BlockStats {
        match values {
            ColumnValues::Float(v) => {
                let v = &v[range];
                let (mut sum, mut min, mut max) = (0.0, f64::NAN, f64::NAN);
                for &x in v {
                    sum += x;
                    min = min.min(x);
                    max = max.max(x);
                }
                BlockStats::Float { sum, min, max }
            }
            ColumnValues::Integer(v) => {
                let v = &v[range];
                BlockStats::Integer {
                    sum: v.iter().map(|&x| i128::from(x)).sum(),
                    min: v.iter().copied().min().unwrap_or(0),
                    max: v.iter().copied().max().unwrap_or(0),
                }
            }
            ColumnValues::Unsigned(v) => {
                let v = &v[range];
                BlockStats::Unsigned {
                    sum: v.iter().map(|&x| u128::from(x)).sum(),
                    min: v.iter().copied().min().unwrap_or(0),
                    max: v.iter().copied().max().unwrap_or(0),
                }
            }
            ColumnValues::Boolean(v) => BlockStats::Boolean {
                trues: v[range].iter().filter(|&&b| b).count() as u64,
            },
            ColumnValues::String(_) => BlockStats::String,
        }
    }

    /// The 32 bytes stored in the block index: sum (16), min (8), max (8).
    pub(super) fn encode(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        match *self {
            BlockStats::Float { sum, min, max } => {
                out[..8].copy_from_slice(&sum.to_bits().to_le_bytes());
                out[16..24].copy_from_slice(&min.to_bits().to_le_bytes());
                out[24..].copy_from_slice(&max.to_bits().to_le_bytes());
            }
            BlockStats::Integer { sum, min, max } => {
                out[..16].copy_from_slice(&sum.to_le_bytes());
                out[16..24].copy_from_slice(&min.to_le_bytes());
                out[24..].copy_from_slice(&max.to_le_bytes());
            }
            BlockStats::Unsigned { sum, min, max } => {
                out[..16].copy_from_slice(&sum.to_le_bytes());
                out[16..24].copy_from_slice(&min.to_le_bytes());
                out[24..].copy_from_slice(&max.to_le_bytes());
            }
            BlockStats::Boolean { trues } => out[..8].copy_from_slice(&trues.to_le_bytes()),
            BlockStats::String => {}
        }
        out
    }

    /// Inverse of `encode` for a column of type `ty`.
    pub(super) fn decode(ty: FieldType, b: &[u8; 32]) -> BlockStats {
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let mut s = [0u8; 16];
        s.copy_from_slice(&b[..16]);
        match ty {
            FieldType::Float => BlockStats::Float {
                sum: f64::from_bits(u64_at(0)),
                min: f64::from_bits(u64_at(16)),
                max: f64::from_bits(u64_at(24)),
            },
            FieldType::Integer => BlockStats::Integer {
                sum: i128::from_le_bytes(s),
                min: u64_at(16) as i64,
                max: u64_at(24) as i64,
            },
            FieldType::Unsigned => BlockStats::Unsigned {
                sum: u128::from_le_bytes(s),
                min: u64_at(16),
                max: u64_at(24),
            },
            FieldType::Boolean => BlockStats::Boolean { trues: u64_at(0) },
            FieldType::String => BlockStats::String,
        }
    }
}
