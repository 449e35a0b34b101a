//! Counters the engine keeps for monitoring, as plain atomics (the server renders them in
//! Prometheus text format): WAL fsyncs and their latency, rotations, compactions, and the
//! time writes spend in (and waiting for) each serialised section of the write path.
//!
//! Every counter only grows; reading takes a [`MetricsSnapshot`] without locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// A serialised section of the write path: a lock or a single thread that one write at
/// a time passes through. Time spent inside one cannot overlap with another write's time
/// inside the same section, so it bounds how far ingest scales with cores (Amdahl).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// The index's write lock: series and column creation (and un-hiding a dropped
    /// measurement's series). Taken only for lines whose series or column is new.
    IndexCreate,
    /// The WAL's submission lock: sequence number and hand-off to the WAL thread.
    WalSubmit,
    /// The WAL thread copying a commit group into one buffer and writing it to the file
    /// (one per group; rotations of the WAL file included).
    WalWrite,
    /// The WAL thread's fsyncs (per the fsync policy).
    WalFsync,
    /// The apply turnstile: writes pass to the hot tier one at a time, in WAL order. Its
    /// time held contains [`Section::HotInsert`] (lock wait and hold).
    Turnstile,
    /// The state's write lock, held while a batch's values go into the hot tier (which
    /// may close and compress full chunks).
    HotInsert,
}

impl Section {
    /// Every section, in the order the write path meets them.
    pub const ALL: [Section; 6] = [
        Section::IndexCreate,
        Section::WalSubmit,
        Section::WalWrite,
        Section::WalFsync,
        Section::Turnstile,
        Section::HotInsert,
    ];

    /// The name used as the `section` label in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Section::IndexCreate => "index_create",
            Section::WalSubmit => "wal_submit",
            Section::WalWrite => "wal_write",
            Section::WalFsync => "wal_fsync",
            Section::Turnstile => "turnstile",
            Section::HotInsert => "hot_insert",
        }
    }
}

/// Time spent holding, and waiting to enter, one serialised section, in relaxed atomics.
#[derive(Debug, Default)]
pub(crate) struct SectionTimer {
    count: AtomicU64,
    hold_nanos: AtomicU64,
    wait_nanos: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl SectionTimer {
    /// Records one pass: `wait` before entering, `hold` inside.
    pub(crate) fn record(&self, wait: Duration, hold: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.wait_nanos.fetch_add(nanos(wait), Ordering::Relaxed);
        self.hold_nanos.fetch_add(nanos(hold), Ordering::Relaxed);
    }

    /// Records one pass entered at `entered` after asking at `asked`, left now.
    pub(crate) fn record_since(&self, asked: Instant, entered: Instant) {
        let now = Instant::now();
        self.record(entered - asked, now - entered);
    }

    pub(crate) fn snapshot(&self, section: Section) -> SectionSnapshot {
        SectionSnapshot {
            section,
            count: self.count.load(Ordering::Relaxed),
            hold_seconds: self.hold_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            wait_seconds: self.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// One serialised section's totals since open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SectionSnapshot {
    /// Which section.
    pub section: Section,
    /// Passes through it (batches, commit groups or fsyncs, as the section counts).
    pub count: u64,
    /// Seconds spent inside it, summed over passes.
    pub hold_seconds: f64,
    /// Seconds spent waiting to enter it, summed over waiters (0 for the WAL thread's own
    /// sections, whose waiters are counted in [`WritePathSnapshot::durable_wait_seconds`]).
    pub wait_seconds: f64,
}

/// Where the batch writer's time goes (every write path: line protocol, points,
/// Prometheus remote write and text).
#[derive(Debug, Default)]
pub(crate) struct WritePathCounters {
    pub batches: AtomicU64,
    /// Wall time of each batch in the engine, first line to acknowledgement, summed.
    pub batch_nanos: AtomicU64,
    /// Time batches waited for the WAL thread to write (and fsync) their record.
    pub durable_wait_nanos: AtomicU64,
    pub index_create: SectionTimer,
    pub turnstile: SectionTimer,
    pub hot_insert: SectionTimer,
}

impl WritePathCounters {
    /// Counts one batch that started at `started` and is acknowledged now, after waiting
    /// `durable_wait` for the WAL.
    pub(crate) fn batch_done(&self, started: Instant, durable_wait: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_nanos
            .fetch_add(nanos(started.elapsed()), Ordering::Relaxed);
        self.durable_wait_nanos
            .fetch_add(nanos(durable_wait), Ordering::Relaxed);
    }
}

/// The write path's serialised sections and totals since open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WritePathSnapshot {
    /// Batches committed by the batch writer (one per write request; an HTTP line-protocol
    /// body over 8 MiB is several).
    pub batches: u64,
    /// Wall seconds batches spent in the engine, summed (parsing, series lookup, waits and
    /// serialised sections included).
    pub batch_seconds: f64,
    /// Seconds batches waited for the WAL thread to write their record under the fsync
    /// policy (group commit), summed.
    pub durable_wait_seconds: f64,
    /// Each serialised section, in [`Section::ALL`] order.
    pub sections: Vec<SectionSnapshot>,
}

/// Counters of background work, shared by the handle and the rotation thread.
#[derive(Debug, Default)]
pub(crate) struct WorkCounters {
    pub rotations: AtomicU64,
    pub compactions: AtomicU64,
    /// Compactions built again under the manifest lock because a delete covering their
    /// inputs came while they ran without it.
    pub compactions_redone: AtomicU64,
    /// Lines or samples refused by `max_series_per_metric`.
    pub series_limit_per_metric: AtomicU64,
    /// Lines or samples refused by `max_new_series_per_minute`.
    pub series_limit_per_minute: AtomicU64,
    /// Series created by writes since open.
    pub series_created: AtomicU64,
    /// Time in the write path's serialised sections.
    pub write: WritePathCounters,
    /// Progress of the compaction running now (or the last one).
    pub compaction: CompactionCounters,
}

/// Progress of the compaction running now: its number since open, and its units of work
/// (a series in one output partition) done of the total. Written by the compaction, read by
/// anyone (`strata compact` draws its bar from them).
#[derive(Debug, Default)]
pub(crate) struct CompactionCounters {
    pub task: AtomicU64,
    pub done: AtomicU64,
    pub total: AtomicU64,
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
    /// Compactions whose outputs were thrown away and built again with the manifest lock
    /// held, because a delete covering their inputs was recorded while they ran.
    pub compactions_redone: u64,
    /// Lines or samples refused because their measurement had `max_series_per_metric`
    /// series, since open.
    pub series_limit_per_metric: u64,
    /// Lines or samples refused by `max_new_series_per_minute`, since open.
    pub series_limit_per_minute: u64,
    /// Series created by writes since open (not those found on disk at open).
    pub series_created: u64,
    /// Time in (and waiting for) the write path's serialised sections.
    pub write_path: WritePathSnapshot,
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
