//! Series limits: at most `max_series_per_metric` series per measurement, and at most
//! `max_new_series_per_minute` series created per minute (a token bucket on the
//! database's clock). Both are checked only when a write would create a series, under the
//! index's write lock, so a known series never pays for them.

use crate::index::Index;
use crate::model::SeriesKey;
use crate::options::Options;
use crate::write::RejectReason;

/// Longest series text quoted in a limit error.
const SHOWN_KEY_CHARS: usize = 200;

/// The new-series token bucket: `max` tokens, refilled at `max` per minute.
#[derive(Debug)]
pub(crate) struct NewSeriesBucket {
    tokens: f64,
    /// Clock time (ns) of the last refill; `None` before the first series.
    last: Option<i64>,
}

impl NewSeriesBucket {
    pub(crate) fn new(max: usize) -> NewSeriesBucket {
        NewSeriesBucket {
            tokens: max as f64,
            last: None,
        }
    }

    /// Takes a token at clock time `now` if one is left.
    fn take(&mut self, max: usize, now: i64) -> bool {
        let max = max as f64;
        if let Some(last) = self.last {
            let elapsed = now.saturating_sub(last).max(0) as f64;
            self.tokens = (self.tokens + elapsed * max / 60e9).min(max);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Which limit refused a series (for the counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    PerMetric,
    PerMinute,
}

/// Why creating series `key` now is refused, if it is: the limits in `options`, given the
/// index and the bucket as they are.
pub(crate) fn check(
    options: &Options,
    index: &Index,
    bucket: &mut NewSeriesBucket,
    key: &SeriesKey,
    now: i64,
) -> Option<(Limit, RejectReason)> {
    let measurement = key.measurement();
    let max = options.max_series_per_metric;
    if max > 0 && index.series_count_of(measurement) >= max {
        return Some((
            Limit::PerMetric,
            RejectReason::SeriesPerMetricLimit {
                measurement: measurement.to_owned(),
                series: shown(key),
                max,
            },
        ));
    }
    let max = options.max_new_series_per_minute;
    if max > 0 && !bucket.take(max, now) {
        return Some((
            Limit::PerMinute,
            RejectReason::NewSeriesRateLimit {
                measurement: measurement.to_owned(),
                series: shown(key),
                max,
            },
        ));
    }
    None
}

fn shown(key: &SeriesKey) -> String {
    let s = key.to_string();
    match s.char_indices().nth(SHOWN_KEY_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_evenly_over_a_minute() {
        let mut b = NewSeriesBucket::new(60);
        let t0 = 1_000_000_000_000;
        for _ in 0..60 {
            assert!(b.take(60, t0));
        }
        assert!(!b.take(60, t0), "empty");
        assert!(!b.take(60, t0 + 500_000_000), "half a token after 0.5 s");
        assert!(b.take(60, t0 + 1_000_000_000), "one token a second");
        assert!(!b.take(60, t0 + 1_000_000_000));
        // A long pause refills to the maximum, never beyond it.
        let later = t0 + 3_600_000_000_000;
        for _ in 0..60 {
            assert!(b.take(60, later));
        }
        assert!(!b.take(60, later));
        // A clock that goes back adds nothing.
        assert!(!b.take(60, t0));
    }

    #[test]
    fn long_keys_are_shortened_in_messages() {
        let key = SeriesKey::new("m", [("k", "v".repeat(500))]).unwrap();
        let s = shown(&key);
        assert_eq!(s.chars().count(), SHOWN_KEY_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
