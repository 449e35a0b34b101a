//! Counters the engine keeps for monitoring, as plain atomics (the server renders them in
//! Prometheus text format): WAL fsyncs and their latency, rotations, compactions.
//!
//! Every counter only grows; reading takes a [`MetricsSnapshot`] without locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the WAL fsync latency histogram buckets; the last bucket is
/// `+Inf`. Spans a fast NVMe flush (~50 µs) to a stalled disk (seconds).
pub const FSYNC_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
];

/// A latency histogram with the [`FSYNC_BUCKETS`] bounds.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Non-cumulative counts per bucket; the last is everything above the last bound.
    buckets: [AtomicU64; FSYNC_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = FSYNC_BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(FSYNC_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(FSYNC_BUCKETS.len());
        let mut acc = 0;
        for (b, &le) in self.buckets.iter().zip(FSYNC_BUCKETS.iter()) {
            acc += b.load(Ordering::Relaxed);
            cumulative.push((le, acc));
        }
        HistogramSnapshot {
            buckets: cumulative,
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// A histogram's values: cumulative counts per upper bound (Prometheus `le`), the total
/// count (the `+Inf` bucket) and the sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound in seconds, observations at or below it).
    pub buckets: Vec<(f64, u64)>,
    /// All observations.
    pub count: u64,
    /// Sum of all observations, in seconds.
    pub sum_seconds: f64,
}

/// Counters of background work, shared by the handle and the rotation thread.
#[derive(Debug, Default)]
pub(crate) struct WorkCounters {
    pub rotations: AtomicU64,
    pub compactions: AtomicU64,
    /// Lines or samples refused by `max_series_per_metric`.
    pub series_limit_per_metric: AtomicU64,
    /// Lines or samples refused by `max_new_series_per_minute`.
    pub series_limit_per_minute: AtomicU64,
    /// Series created by writes since open.
    pub series_created: AtomicU64,
}

/// What [`crate::Db::metrics`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// WAL fsync latency.
    pub wal_fsync: HistogramSnapshot,
    /// Rotations (hot → warm segment) completed since open.
    pub rotations: u64,
    /// Compactions (merges, warm → cold) completed since open.
    pub compactions: u64,
    /// Lines or samples refused because their measurement had `max_series_per_metric`
    /// series, since open.
    pub series_limit_per_metric: u64,
    /// Lines or samples refused by `max_new_series_per_minute`, since open.
    pub series_limit_per_minute: u64,
    /// Series created by writes since open (not those found on disk at open).
    pub series_created: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = LatencyHistogram::default();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], (0.000_05, 1));
        let at_5ms = s.buckets.iter().find(|b| b.0 == 0.005).map(|b| b.1);
        assert_eq!(at_5ms, Some(2));
        assert_eq!(
            s.buckets.last().map(|b| b.1),
            Some(2),
            "10 s is only in +Inf"
        );
        assert!((s.sum_seconds - 10.003_01).abs() < 1e-6);
    }
}
