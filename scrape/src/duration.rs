//! Prometheus' duration type as its configuration files write it (`15s`, `1m30s`,
//! `500ms`, `1d`), held as milliseconds, printed back the way Prometheus prints it.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A non-negative duration in milliseconds, written in Prometheus' syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub i64);

impl PromDuration {
    /// Parses `0`, `15s`, `1h30m`, `500ms`, `2w`, `1y` (the units y w d h m s ms).
    pub fn parse(s: &str) -> Option<PromDuration> {
        if s == "0" {
            return Some(PromDuration(0));
        }
        strata_query::promql::parse_duration(s)
            .filter(|ms| *ms >= 0)
            .map(PromDuration)
    }

    /// Milliseconds.
    pub fn ms(self) -> i64 {
        self.0
    }

    /// As a std duration.
    pub fn std(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }

    /// Seconds, as the HTTP API prints group intervals and `for` durations.
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

impl fmt::Display for PromDuration {
    /// Prometheus' `model.Duration.String()`: years and weeks only when exact, then days,
    /// hours, minutes, seconds, milliseconds; `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = ms.saturating_neg();
        }
        const DAY: i64 = 86_400_000;
        for (unit, mult, exact) in [
            ("y", 365 * DAY, true),
            ("w", 7 * DAY, true),
            ("d", DAY, false),
            ("h", 3_600_000, false),
            ("m", 60_000, false),
            ("s", 1_000, false),
            ("ms", 1, false),
        ] {
            if exact && ms % mult != 0 {
                continue;
            }
            let v = ms / mult;
            if v > 0 {
                write!(f, "{v}{unit}")?;
                ms -= v * mult;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "not a valid duration string: {s:?} (use e.g. 15s, 1m, 1h30m, 500ms)"
            ))
        })
    }
}

impl serde::Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_prometheus() {
        for (ms, s) in [
            (0, "0s"),
            (15_000, "15s"),
            (90_000, "1m30s"),
            (60_000, "1m"),
            (500, "500ms"),
            (90 * 86_400_000, "90d"),
            (14 * 86_400_000, "2w"),
            (365 * 86_400_000, "1y"),
            (3_661_001, "1h1m1s1ms"),
        ] {
            assert_eq!(PromDuration(ms).to_string(), s);
        }
        // Weeks and years only when exact: 90d stays 90d, 14d is 2w.
        assert_eq!(
            PromDuration::parse("90d").map(|d| d.to_string()).as_deref(),
            Some("90d")
        );
    }

    #[test]
    fn parses_prometheus_syntax() {
        assert_eq!(PromDuration::parse("1m30s"), Some(PromDuration(90_000)));
        assert_eq!(PromDuration::parse("0"), Some(PromDuration(0)));
        assert_eq!(PromDuration::parse("0s"), Some(PromDuration(0)));
        assert_eq!(PromDuration::parse("1.5s"), None);
        assert_eq!(PromDuration::parse("soon"), None);
        assert_eq!(PromDuration::parse(""), None);
    }
}
