//! Options for opening a [`crate::Db`], with documented defaults, and the clock through
//! which every wall-clock age is measured (so tests can drive time instead of sleeping).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// When the WAL calls fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// fsync before acknowledging each group of writes: an acknowledged write survives
    /// power loss. The default.
    #[default]
    Always,
    /// Acknowledge after the write reaches the OS; fsync at most this often. A power loss
    /// can lose up to the interval; a process crash loses nothing.
    Interval(Duration),
    /// Never fsync (the OS writes back when it likes). A process crash loses nothing,
    /// a power loss can lose anything not yet written back.
    Never,
}

impl FsyncPolicy {
    /// Parses `always`, `never` or `interval` / `interval:<duration>` (e.g. `interval:100ms`;
    /// bare `interval` means 1 s).
    pub fn parse(s: &str) -> Option<FsyncPolicy> {
        match s {
            "always" => Some(FsyncPolicy::Always),
            "never" => Some(FsyncPolicy::Never),
            "interval" => Some(FsyncPolicy::Interval(Duration::from_secs(1))),
            _ => {
                let d = s.strip_prefix("interval:")?;
                humanish_duration(d).map(FsyncPolicy::Interval)
            }
        }
    }
}

/// Parses `<n>ms`, `<n>s`, `<n>m`, `<n>h`, `<n>d`, `<n>w` (7 days) or `<n>y` (365 days,
/// as Prometheus counts a year).
pub fn humanish_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        "w" => Duration::from_secs(n.checked_mul(7 * 86_400)?),
        "y" => Duration::from_secs(n.checked_mul(365 * 86_400)?),
        _ => return None,
    })
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn humanish_durations_take_prometheus_units() {
        assert_eq!(humanish_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(humanish_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(
            humanish_duration("2w"),
            Some(Duration::from_secs(14 * 86_400))
        );
        assert_eq!(
            humanish_duration("1y"),
            Some(Duration::from_secs(365 * 86_400))
        );
        for bad in [
            "",
            "5",
            "m",
            "1.5h",
            "1mo",
            "99999999999999999999y",
            "18446744073709551615y",
        ] {
            assert_eq!(humanish_duration(bad), None, "{bad}");
        }
    }
}

/// A source of wall-clock time in nanoseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to: for tests.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `now` nanoseconds.
    pub fn new(now: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Default of [`Options::max_fields_per_line`].
pub const DEFAULT_MAX_FIELDS_PER_LINE: usize = 10_000;
/// Default of [`Options::max_tags_per_line`].
pub const DEFAULT_MAX_TAGS_PER_LINE: usize = 1_000;

/// Options for [`crate::Db::open`]. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct Options {
    /// WAL fsync policy. Default: [`FsyncPolicy::Always`].
    pub fsync: FsyncPolicy,
    /// Size at which the WAL starts a new file. Default: 64 MiB. A file whose series
    /// definitions are over a quarter of it grows on, up to 8 × this size
    /// ([`crate::wal::MAX_SEGMENT_FACTOR`]), so that many series do not make every file
    /// mostly definitions.
    pub wal_segment_bytes: u64,
    /// What opening does with WAL damage that is not a torn tail (`wal.recovery`). Default:
    /// [`crate::wal::Recovery::Strict`], refusing to open and naming the file and offset.
    pub wal_recovery: crate::wal::Recovery,
    /// The clock for missing timestamps and every age. Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// Hot data older than this (by the clock) moves to a warm segment at the next
    /// rotation (`hot.max_age`). Default: 5 minutes.
    pub hot_max_age: Duration,
    /// When the hot tier holds more than this many bytes, a rotation moves its oldest data
    /// out until it holds about half (`hot.max_bytes`). Default: 256 MiB.
    pub hot_max_bytes: usize,
    /// How often the background rotation runs (`rotation_interval`). Default: 1 minute.
    /// Zero disables the background thread (rotate with [`crate::Db::rotate`]).
    pub rotation_interval: Duration,
    /// At most how often the rotation thread writes the index image (`INDEX`,
    /// docs/FORMAT.md) after the segments changed, so that an open after a crash loads it
    /// instead of rebuilding the index; a clean close always writes it. Zero: only at
    /// close. Default: 10 minutes.
    pub index_image_interval: Duration,
    /// Data older than this (by the clock) is dropped: hidden from reads at once, its
    /// files deleted or trimmed by maintenance, and writes of it refused (`retention`).
    /// Default: `None`, kept forever (InfluxDB's default policy). Measurements a rule of
    /// `retention_rules` matches keep that rule's period instead.
    pub retention: Option<Duration>,
    /// Per-measurement retention (`[[retention.rule]]`), tried in order: the first rule
    /// matching a measurement's name sets how long its raw data is kept, with the same
    /// boundary behaviour as `retention`; measurements no rule matches keep `retention`.
    /// See [`crate::retention`]. Default: none.
    pub retention_rules: Vec<crate::retention::RetentionRule>,
    /// Rollup rules (`[[rollup]]`): compaction into cold writes, for each measurement a
    /// rule matches, per-interval summaries of every numeric field that queries use in
    /// place of raw points (see [`crate::rollup`]). Default: none.
    pub rollups: Vec<crate::rollup::RollupRule>,
    /// Warm data older than this moves to cold at the next background compaction
    /// (`warm.max_age`). Default: 24 hours.
    pub warm_max_age: Duration,
    /// zstd level of cold blocks (`cold.zstd_level`, 1..=22). Default: 12 (on the devops data it
    /// gives the size of level 19 at half the time; below 9 its literal coding is weaker).
    pub cold_zstd_level: i32,
    /// Bytes of decoded compressed (cold) blocks kept in memory between queries
    /// (`cold.cache_bytes`; 0 disables the cache). Default: 256 MiB.
    pub cold_cache_bytes: usize,
    /// Bytes of decoded rollup stripes kept in memory between queries (0 keeps none; a
    /// float bucket takes 72 bytes decoded, an integer one 88). Default: 256 MiB.
    pub rollup_cache_bytes: usize,
    /// Most fields one line (or point) may carry (`write.max_fields_per_line`); a wider
    /// line is refused with its line number and this limit while the rest of the batch
    /// is stored. Default: 10,000, a hundred times the widest lines Telegraf's plugins
    /// write (a few hundred fields at most), while keeping one line's cost bounded.
    pub max_fields_per_line: usize,
    /// Most tags one line (or point) may carry (`write.max_tags_per_line`), refused like
    /// too many fields. Default: 1,000 (Telegraf and Prometheus series carry tens; the
    /// 64 KiB series-key limit alone would allow about 16,000).
    pub max_tags_per_line: usize,
    /// Most series one measurement (a Prometheus metric name) may have
    /// (`write.max_series_per_metric`; 0: no limit). A write that would create one more is
    /// refused for that line or sample, naming the measurement and the limit, while the
    /// rest of the batch is stored; existing series keep taking writes. Default: 0, as in
    /// Prometheus and VictoriaMetrics, which have no such limit unless it is set.
    pub max_series_per_metric: usize,
    /// Most series created per minute (`write.max_new_series_per_minute`; 0: no limit): a
    /// token bucket of this many tokens, refilled evenly over a minute of the clock. A
    /// line or sample that would create a series beyond it is refused, naming its
    /// measurement and the limit. Default: 0 (VictoriaMetrics' `-storage.maxHourlySeries`
    /// is off by default too).
    pub max_new_series_per_minute: usize,
    /// Worker threads of one compaction (`compaction_threads`): series are read, merged
    /// and encoded on this many threads and appended to the output in series order, so the
    /// output is the same bytes whatever the count. 0: one per available core. Default: 0
    /// (`strata serve` turns 0 into half the cores, at least 1, so that background
    /// compaction leaves cores to ingest and queries).
    pub compaction_threads: usize,
    /// Test hook: make rotation or compaction fail at a step, to test crash safety.
    #[cfg(feature = "failpoints")]
    pub failpoint: Option<Failpoint>,
    /// Test hook: called by a compaction at the start of each unit of its merge (a
    /// series in one output), without the manifest lock; a test holds it there to act
    /// meanwhile.
    #[cfg(feature = "failpoints")]
    pub compaction_hook: Option<CompactionHook>,
}

/// A function a compaction calls at each unit of its merge (`failpoints` only). Its
/// argument says whether the database is closing (the merge gives up right after the
/// call when it is).
#[cfg(feature = "failpoints")]
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct CompactionHook(pub Arc<dyn Fn(&dyn Fn() -> bool) + Send + Sync>);

#[cfg(feature = "failpoints")]
impl std::fmt::Debug for CompactionHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompactionHook")
    }
}

/// A step of rotation, compaction or a delete at which a test (with the `failpoints`
/// feature) can make the operation stop with an error, as a crash there would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// After the segment file is written, before the manifest names it.
    AfterSegmentWritten,
    /// After the manifest is replaced, before readers see the segment.
    AfterManifestReplaced,
    /// After the segment is published, before the WAL checkpoint deletes covered files.
    BeforeWalCheckpoint,
    /// Compaction: after the output files are written, before the manifest names them.
    CompactionAfterOutputs,
    /// Compaction: after the manifest is replaced, before readers see the outputs.
    CompactionAfterManifest,
    /// Delete: after the WAL record and the in-memory delete, before the manifest stores
    /// its tombstone.
    DeleteBeforeSegments,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            fsync: FsyncPolicy::Always,
            wal_segment_bytes: 64 << 20,
            wal_recovery: crate::wal::Recovery::Strict,
            clock: Arc::new(SystemClock),
            hot_max_age: Duration::from_secs(5 * 60),
            hot_max_bytes: 256 << 20,
            rotation_interval: Duration::from_secs(60),
            index_image_interval: Duration::from_secs(600),
            retention: None,
            retention_rules: Vec::new(),
            rollups: Vec::new(),
            warm_max_age: Duration::from_secs(24 * 3600),
            cold_zstd_level: 12,
            cold_cache_bytes: 256 << 20,
            rollup_cache_bytes: 256 << 20,
            max_fields_per_line: DEFAULT_MAX_FIELDS_PER_LINE,
            max_tags_per_line: DEFAULT_MAX_TAGS_PER_LINE,
            max_series_per_metric: 0,
            max_new_series_per_minute: 0,
            compaction_threads: 0,
            #[cfg(feature = "failpoints")]
            failpoint: None,
            #[cfg(feature = "failpoints")]
            compaction_hook: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policy_parses() {
        assert_eq!(FsyncPolicy::parse("always"), Some(FsyncPolicy::Always));
        assert_eq!(FsyncPolicy::parse("never"), Some(FsyncPolicy::Never));
        assert_eq!(
            FsyncPolicy::parse("interval:250ms"),
            Some(FsyncPolicy::Interval(Duration::from_millis(250)))
        );
        assert_eq!(FsyncPolicy::parse("sometimes"), None);
        assert_eq!(FsyncPolicy::parse("interval:5x"), None);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(10);
        assert_eq!(c.now_nanos(), 10);
        c.advance(Duration::from_nanos(5));
        assert_eq!(c.now_nanos(), 15);
    }
}
