//! Rollup rules (`[[rollup]]` in `strata.toml`): which measurements are rolled up, into
//! buckets of which interval, keeping which aggregates, for how long.
//!
//! Invariants: an interval is a whole number of seconds that divides one UTC day, so every
//! bucket lies inside one day (the cold partition) and bucket edges of a coarser interval
//! are edges of every finer one that divides it; a rule's [`RollupRule::key`] depends only
//! on its pattern and interval, so files written under one configuration are found again
//! under another that keeps the rule.

use crate::compaction::DAY_NANOS;
use crate::retention::{DurationText, MeasurementMatch};
use std::time::Duration;

/// The aggregates a rollup keeps, as bits (stored in each rollup file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregates(pub u8);

impl Aggregates {
    /// `count` (always kept: every other aggregate needs it).
    pub const COUNT: u8 = 1;
    /// `sum` (and `mean` with count).
    pub const SUM: u8 = 2;
    /// `min`.
    pub const MIN: u8 = 4;
    /// `max`.
    pub const MAX: u8 = 8;
    /// `first`, with its time.
    pub const FIRST: u8 = 16;
    /// `last`, with its time.
    pub const LAST: u8 = 32;
    /// The quantile sketch (`percentile`, `median`).
    pub const QUANTILE: u8 = 64;
    /// Every aggregate.
    pub const ALL: Aggregates = Aggregates(127);
    /// Every aggregate but the sketch: what a rule keeps unless it names `quantile`. No
    /// query takes a percentile from a rollup (InfluxQL promises exact values, PromQL is
    /// not served from rollups), and the sketch is most of a bucket's bytes.
    pub const EXACT: Aggregates = Aggregates(63);

    /// Whether every bit of `bits` is kept.
    pub fn has(self, bits: u8) -> bool {
        self.0 & bits == bits
    }

    /// Parses the names of `aggregates = [...]` (`mean` stands for sum and count).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Aggregates, RuleError> {
        let mut bits = Self::COUNT;
        for n in names {
            bits |= match n {
                "count" => Self::COUNT,
                "sum" | "mean" => Self::SUM,
                "min" => Self::MIN,
                "max" => Self::MAX,
                "first" => Self::FIRST,
                "last" => Self::LAST,
                "quantile" | "percentile" | "median" => Self::QUANTILE,
                other => return Err(RuleError::Aggregate(other.to_owned())),
            };
        }
        Ok(Aggregates(bits))
    }

    /// The names kept, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Self::COUNT, "count"),
            (Self::SUM, "sum"),
            (Self::MIN, "min"),
            (Self::MAX, "max"),
            (Self::FIRST, "first"),
            (Self::LAST, "last"),
            (Self::QUANTILE, "quantile"),
        ]
        .into_iter()
        .filter(|(b, _)| self.has(*b))
        .map(|(_, n)| n)
        .collect()
    }
}

/// A rollup rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The interval is not a whole number of seconds dividing one day.
    #[error(
        "rollup interval {0:?} must be a whole number of seconds that divides 24h (e.g. 1m, 5m, 1h)"
    )]
    Interval(Duration),
    /// An unknown aggregate name.
    #[error(
        "unknown rollup aggregate {0:?} (use count, sum, mean, min, max, first, last, quantile)"
    )]
    Aggregate(String),
    /// The pattern is not a regular expression.
    #[error("invalid rollup pattern {pattern:?}: {reason}")]
    Pattern {
        /// As written.
        pattern: String,
        /// The regex parser's reason.
        reason: String,
    },
}

/// One rollup rule.
#[derive(Debug, Clone)]
pub struct RollupRule {
    matcher: MeasurementMatch,
    interval: i64,
    aggregates: Aggregates,
    retention: Option<Duration>,
}

impl RollupRule {
    /// A rule for measurements matching `pattern` (anchored at both ends; an exact name
    /// when `exact`), `interval` buckets, keeping `aggregates` for `retention` (`None`:
    /// forever).
    pub fn new(
        pattern: &str,
        exact: bool,
        interval: Duration,
        aggregates: Aggregates,
        retention: Option<Duration>,
    ) -> Result<RollupRule, RuleError> {
        let nanos = i64::try_from(interval.as_nanos()).unwrap_or(i64::MAX);
        if interval.subsec_nanos() != 0 || nanos <= 0 || DAY_NANOS % nanos != 0 {
            return Err(RuleError::Interval(interval));
        }
        let matcher = if exact {
            MeasurementMatch::Exact(pattern.to_owned())
        } else {
            let regex =
                regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| RuleError::Pattern {
                    pattern: pattern.to_owned(),
                    reason: e.to_string(),
                })?;
            MeasurementMatch::Regex {
                pattern: pattern.to_owned(),
                regex,
            }
        };
        Ok(RollupRule {
            matcher,
            interval: nanos,
            aggregates: Aggregates(aggregates.0 | Aggregates::COUNT),
            retention,
        })
    }

    /// Whether the rule rolls up `measurement`.
    pub fn matches(&self, measurement: &str) -> bool {
        match &self.matcher {
            MeasurementMatch::Exact(n) => n == measurement,
            MeasurementMatch::Regex { regex, .. } => regex.is_match(measurement),
        }
    }

    /// The pattern as written, with `=` before an exact name (`=cpu`, `cpu_.*`).
    pub fn pattern(&self) -> String {
        match &self.matcher {
            MeasurementMatch::Exact(n) => format!("={n}"),
            MeasurementMatch::Regex { pattern, .. } => pattern.clone(),
        }
    }

    /// The measurement of an exact-name rule (`None` for a pattern rule).
    pub fn measurement(&self) -> Option<&str> {
        match &self.matcher {
            MeasurementMatch::Exact(n) => Some(n),
            MeasurementMatch::Regex { .. } => None,
        }
    }

    /// Bucket width in nanoseconds.
    pub fn interval(&self) -> i64 {
        self.interval
    }

    /// The aggregates kept.
    pub fn aggregates(&self) -> Aggregates {
        self.aggregates
    }

    /// How long the rollups are kept (`None`: forever).
    pub fn retention(&self) -> Option<Duration> {
        self.retention
    }

    /// The oldest bucket start kept at `now` (`i64::MIN` forever).
    pub fn cutoff(&self, now: i64) -> i64 {
        match self.retention {
            None => i64::MIN,
            Some(d) => now.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// The rule's identity in file names: FNV-1a of its pattern and interval, in hex.
    pub fn key(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self
            .pattern()
            .bytes()
            .chain([0])
            .chain(self.interval.to_le_bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

impl std::fmt::Display for RollupRule {
    /// As written in `strata.toml`: `match = "cpu_.*", interval = 5m, aggregates = [...], retention = 1y`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.matcher {
            MeasurementMatch::Exact(n) => write!(f, "measurement = {n:?}")?,
            MeasurementMatch::Regex { pattern, .. } => write!(f, "match = {pattern:?}")?,
        }
        write!(
            f,
            ", interval = {}, aggregates = {:?}, retention = {}",
            DurationText(Some(Duration::from_nanos(self.interval as u64))),
            self.aggregates.names(),
            DurationText(self.retention)
        )
    }
}

/// The measurement of a canonical series key (its first length-prefixed string).
pub fn measurement_of(key: &[u8]) -> Option<&str> {
    let (mut len, mut shift, mut i) = (0usize, 0u32, 0usize);
    loop {
        let b = *key.get(i)?;
        len |= usize::from(b & 0x7f).checked_shl(shift)?;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 56 {
            return None;
        }
    }
    std::str::from_utf8(key.get(i..i.checked_add(len)?)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_must_divide_a_day() {
        let ok = RollupRule::new("cpu", true, Duration::from_secs(300), Aggregates::ALL, None);
        assert!(ok.is_ok());
        for bad in [
            Duration::from_secs(7 * 60),
            Duration::from_millis(1500),
            Duration::ZERO,
        ] {
            assert!(RollupRule::new("cpu", true, bad, Aggregates::ALL, None).is_err());
        }
    }

    #[test]
    fn patterns_are_anchored_and_keys_stable() {
        let r = RollupRule::new(
            "cpu_.*",
            false,
            Duration::from_secs(60),
            Aggregates(0),
            None,
        )
        .expect("valid");
        assert!(r.matches("cpu_a") && !r.matches("xcpu_a"));
        assert!(r.aggregates().has(Aggregates::COUNT));
        let again = RollupRule::new(
            "cpu_.*",
            false,
            Duration::from_secs(60),
            Aggregates::ALL,
            None,
        )
        .expect("valid");
        assert_eq!(r.key(), again.key());
        let other = RollupRule::new(
            "cpu_.*",
            false,
            Duration::from_secs(120),
            Aggregates::ALL,
            None,
        )
        .expect("valid");
        assert_ne!(r.key(), other.key());
    }

    #[test]
    fn the_measurement_is_read_from_a_canonical_key() {
        let mut k = Vec::new();
        crate::model::encode_canonical("cpu", [("host", "a")].into_iter(), &mut k);
        assert_eq!(measurement_of(&k), Some("cpu"));
        assert_eq!(measurement_of(&[5, b'a']), None);
    }
}
