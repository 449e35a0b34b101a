//! The bucket layout of `GROUP BY time()`: bucket starts, offsets and time zones.

use super::*;

/// Buckets of an aggregate query: `n` buckets of `interval` from `start`, or one bucket.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub(super) start: i64,
    pub(super) interval: i64,
    pub(super) n: usize,
}

impl Layout {
    // Bucket arithmetic runs in i128: the span of the addressable time range does not
    // fit in an i64.
    pub(super) fn bucket(&self, t: i64) -> usize {
        if self.interval == 0 {
            0
        } else if let Some(d) = t.checked_sub(self.start) {
            // The common case in 64 bits (a 128-bit division costs several times more).
            usize::try_from((d / self.interval).max(0))
                .unwrap_or(usize::MAX)
                .min(self.n - 1)
        } else {
            let b = ((i128::from(t) - i128::from(self.start)) / i128::from(self.interval)).max(0);
            usize::try_from(b).unwrap_or(usize::MAX).min(self.n - 1)
        }
    }

    pub(super) fn bucket_end(&self, b: usize) -> i64 {
        if self.interval == 0 {
            i64::MAX
        } else {
            self.offset_by(b as i128 + 1)
        }
    }

    pub(super) fn time(&self, b: usize) -> i64 {
        self.offset_by(b as i128)
    }

    /// `start + k * interval`, clamped to the i64 range.
    pub(super) fn offset_by(&self, k: i128) -> i64 {
        clamp_i64(i128::from(self.start) + i128::from(self.interval) * k)
    }
}

pub(super) fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

pub(super) fn window_start(t: i64, interval: i64, offset: i64) -> i64 {
    let (t, interval, offset) = (i128::from(t), i128::from(interval), i128::from(offset));
    clamp_i64((t - offset).div_euclid(interval) * interval + offset)
}

/// The zone offset in nanoseconds of `tz` at `t`.
pub(super) fn zone_offset(tz: &str, t: i64) -> Result<i64, QueryError> {
    use chrono::{Offset, TimeZone};
    let zone: chrono_tz::Tz = tz.parse().map_err(|_| {
        QueryError::invalid_at(
            Token::String(tz.to_owned()),
            format!("unable to find time zone {tz:?}"),
        )
    })?;
    let secs = t.div_euclid(1_000_000_000);
    let dt = chrono::DateTime::from_timestamp(secs, 0).ok_or_else(|| {
        QueryError::invalid_at(Token::Call("tz".into()), "time out of range for tz()")
    })?;
    let off = zone.offset_from_utc_datetime(&dt.naive_utc()).fix();
    Ok(i64::from(off.local_minus_utc()) * 1_000_000_000)
}
