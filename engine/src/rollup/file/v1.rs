//! Reading version 1 rollup files (row-wise buckets; docs/FORMAT.md, "Rollup file",
//! version 1). Nothing writes them any more, but the days they hold may have no raw data
//! left to rebuild them from, so they are read for as long as they live: each entry is
//! decoded at load into its own column-wise stripe.

use super::super::bucket::{RollupBucket, Scalar};
use super::super::columns::BucketColumns;
use super::super::wire::{DecodeError, Reader, get_sketch};
use super::{RollupMeta, day_bounds, type_of};
use crate::model::FieldType;
use crate::segment::BlockStats;

/// One v1 entry: (series key, field, its buckets).
pub(super) type V1Entry = (Box<[u8]>, String, BucketColumns);

fn get_scalar(r: &mut Reader<'_>, ty: FieldType) -> Result<Scalar, DecodeError> {
    Ok(match ty {
        FieldType::Float => Scalar::F(r.f64()?),
        FieldType::Integer => Scalar::I(r.i64()?),
        _ => Scalar::U(r.u64()?),
    })
}

fn get_buckets(
    r: &mut Reader<'_>,
    meta: &RollupMeta,
    ty: FieldType,
) -> Result<BucketColumns, DecodeError> {
    let day_start = day_bounds(meta.day)
        .ok_or(r.err("a day inside the nanosecond timestamp range"))?
        .0;
    let slots = crate::compaction::DAY_NANOS / meta.interval;
    let n = r.len(4)?;
    let mut out = BucketColumns::new(ty).ok_or(r.err("a numeric type"))?;
    let mut slot: i64 = -1;
    for k in 0..n {
        let d = i64::try_from(r.u64()?).map_err(|_| r.err("a bucket slot"))?;
        let next = if k == 0 { d } else { slot.saturating_add(d) };
        if (k > 0 && d == 0) || next >= slots {
            return Err(r.err("increasing bucket slots inside the day"));
        }
        slot = next;
        let start = day_start + slot * meta.interval;
        let count = r.u64()?;
        if count == 0 {
            return Err(r.err("a bucket count above zero"));
        }
        let stats = match ty {
            FieldType::Float => BlockStats::Float {
                sum: r.f64()?,
                min: r.f64()?,
                max: r.f64()?,
            },
            FieldType::Integer => BlockStats::Integer {
                sum: r.i128()?,
                min: r.i64()?,
                max: r.i64()?,
            },
            _ => {
                let lo = r.u64()?;
                let hi = r.u64()?;
                BlockStats::Unsigned {
                    sum: (u128::from(hi) << 64) | u128::from(lo),
                    min: r.u64()?,
                    max: r.u64()?,
                }
            }
        };
        let inside = |off: u64, from: i64| {
            i64::try_from(off)
                .ok()
                .and_then(|o| from.checked_add(o))
                .filter(|t| *t < start + meta.interval)
        };
        let f_off = r.u64()?;
        let first_t = inside(f_off, start).ok_or(r.err("a first time inside the bucket"))?;
        let first = (first_t, get_scalar(r, ty)?);
        let l_off = r.u64()?;
        let last_t = inside(l_off, first_t).ok_or(r.err("a last time inside the bucket"))?;
        let last = (last_t, get_scalar(r, ty)?);
        let sketch = if meta.aggregates & super::super::Aggregates::QUANTILE != 0 {
            Some(get_sketch(r)?)
        } else {
            None
        };
        let b = RollupBucket {
            start,
            count,
            stats,
            first,
            last,
            sketch,
        };
        if !out.push(&b) {
            return Err(r.err("a bucket of the entry's type"));
        }
    }
    Ok(out)
}

/// The entries of a v1 body after its header (`r` just past the pattern), each entry's
/// buckets decoded.
pub(super) fn entries(r: &mut Reader<'_>, meta: &RollupMeta) -> Result<Vec<V1Entry>, DecodeError> {
    let n = r.len(4)?;
    let mut heads = Vec::with_capacity(n);
    for _ in 0..n {
        let key: Box<[u8]> = r.bytes()?.into();
        let field = r.str()?;
        let ty = type_of(r.u8()?).ok_or(r.err("a numeric type (1 to 3)"))?;
        let len = usize::try_from(r.u64()?).unwrap_or(usize::MAX);
        heads.push((key, field, ty, len));
    }
    let mut out = Vec::with_capacity(n);
    for (key, field, ty, len) in heads {
        if len > r.left() {
            return Err(r.err("entry payloads that fit the body"));
        }
        let before = r.left();
        let buckets = get_buckets(r, meta, ty)?;
        if before - r.left() != len {
            return Err(r.err("an entry payload of its stated length"));
        }
        out.push((key, field, buckets));
    }
    if !r.is_empty() {
        return Err(r.err("entry payloads that fill the body"));
    }
    Ok(out)
}
