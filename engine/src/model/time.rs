//! Time: timestamps are `i64` nanoseconds since the Unix epoch.

/// The unit of timestamps in line protocol (`precision=` in InfluxDB's `/write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (`ns`, or `n`).
    #[default]
    Nanosecond,
    /// Microseconds (`us`, or `u`).
    Microsecond,
    /// Milliseconds (`ms`).
    Millisecond,
    /// Seconds (`s`).
    Second,
    /// Minutes (`m`).
    Minute,
    /// Hours (`h`).
    Hour,
}

impl Precision {
    /// Nanoseconds per unit.
    pub const fn nanos(self) -> i64 {
        match self {
            Precision::Nanosecond => 1,
            Precision::Microsecond => 1_000,
            Precision::Millisecond => 1_000_000,
            Precision::Second => 1_000_000_000,
            Precision::Minute => 60_000_000_000,
            Precision::Hour => 3_600_000_000_000,
        }
    }

    /// Parses the names InfluxDB 1.x accepts: `ns`/`n`, `us`/`u`/`µs`, `ms`, `s`, `m`, `h`.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "ns" | "n" => Precision::Nanosecond,
            "us" | "u" | "µs" | "µ" => Precision::Microsecond,
            "ms" => Precision::Millisecond,
            "s" => Precision::Second,
            "m" => Precision::Minute,
            "h" => Precision::Hour,
            _ => return None,
        })
    }

    /// Converts `t` in this unit to nanoseconds, or `None` on overflow.
    pub fn to_nanos(self, t: i64) -> Option<i64> {
        t.checked_mul(self.nanos())
    }
}

/// The earliest timestamp a point may have: `i64::MIN + 2`, InfluxDB 1.x's
/// `models.MinNanoTime`. Every write path refuses earlier points per line, so that what
/// is stored is exactly what the query language can address (and what InfluxDB accepts).
pub const MIN_TIMESTAMP: i64 = i64::MIN + 2;

/// The latest timestamp a point may have: `i64::MAX - 1`, InfluxDB 1.x's
/// `models.MaxNanoTime`. One below `i64::MAX` so that a half-open range ending at
/// `i64::MAX` holds every storable point (queries read `[start, end)`).
pub const MAX_TIMESTAMP: i64 = i64::MAX - 1;

/// Whether points may carry timestamp `t` ([`MIN_TIMESTAMP`]`..=`[`MAX_TIMESTAMP`]).
pub const fn timestamp_in_range(t: i64) -> bool {
    t >= MIN_TIMESTAMP && t <= MAX_TIMESTAMP
}

/// A half-open time range `[start, end)` in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: i64,
    /// Exclusive end.
    pub end: i64,
}

impl TimeRange {
    /// Every representable time.
    pub const ALL: TimeRange = TimeRange {
        start: i64::MIN,
        end: i64::MAX,
    };

    /// `[start, end)`.
    pub const fn new(start: i64, end: i64) -> TimeRange {
        TimeRange { start, end }
    }

    /// Whether `t` lies in the range. `i64::MAX` is included when `end == i64::MAX`, so
    /// [`TimeRange::ALL`] really holds every timestamp.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && (t < self.end || (self.end == i64::MAX && t == i64::MAX))
    }

    /// Whether `[min, max]` (inclusive) overlaps this range.
    pub fn overlaps(&self, min: i64, max: i64) -> bool {
        max >= self.start && (min < self.end || (self.end == i64::MAX && max == i64::MAX))
    }
}
