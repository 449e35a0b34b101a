//! The embedded database handle.
//!
//! Write path, for each batch: parse → resolve series and columns through the index
//! (checking field types) → encode one WAL record → wait until the WAL has it under the
//! fsync policy → apply to the hot tier. Hot-tier application passes a turnstile in WAL
//! sequence order, so that concurrent writers of the same (series, field, timestamp)
//! leave the value that WAL replay will also leave: the last one in the log.
//!
//! Read path: a column is the merge, newest source winning on equal timestamps, of the
//! live segments (oldest first), data being rotated (detached from hot, not yet in a
//! published segment), and the hot tier. [`State`] holds all three under one lock, so a
//! reader always sees each value in exactly one place or in two identical ones.

mod column_map;
mod compact;
mod compact_outputs;
mod compact_rollups;
mod delete;
mod export;
pub(crate) mod index_image;
mod limits;
mod open;
mod overload;
mod pieces;
mod purge;
mod read;
mod rollup_read;
mod rotate;
mod submit_order;
mod tombstone;
mod write;
mod write_prom;
mod writer;

use crate::error::{Error, Result};
use crate::hot::HotTier;
use crate::index::{ColumnId, Index};
use crate::lock::DirLock;
use crate::manifest::{Manifest, Tier};
use crate::options::Options;
use crate::retention::{Cutoffs, Retention, RetentionGroup};
use crate::segment::{ColumnEntry, Segment};
use crate::wal::Wal;
use parking_lot::{Condvar, Mutex, RwLock};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use compact::{CompactionProgress, CompactionReport};
pub use delete::DeleteReport;
pub use export::ExportSummary;
pub use overload::{OVERLOAD_HOT_FACTOR, OVERLOAD_WAL_FACTOR};
pub use pieces::{Piece, SeriesInfo};
pub use read::{TierStats, TiersStats};
pub use rollup_read::{BucketSlice, RollupAsk, RollupRead, RollupStatus};
pub use rotate::RotationReport;
pub use submit_order::SubmitOrder;
pub use write::SampleWriter;
pub use write_prom::{PromMetadata, PromTextSummary};
pub use writer::SeriesHandle;

/// An open Strata database directory. Share it between threads with an `Arc`.
pub struct Db {
    inner: Arc<Inner>,
    background: Mutex<Option<rotate::Background>>,
    _lock: DirLock,
}

/// Everything the handle and the background rotation share.
pub(crate) struct Inner {
    dir: PathBuf,
    segment_dir: PathBuf,
    options: Options,
    /// Shared with the WAL writer thread, which reads series keys for its definitions.
    index: Arc<RwLock<Index>>,
    /// Whether the open loaded the index image.
    index_from_image: bool,
    /// The manifest generation of the index image on disk (0: none known).
    imaged: Mutex<u64>,
    state: RwLock<State>,
    wal: Wal,
    turnstile: Turnstile,
    /// The current manifest; its lock also makes rotations, deletes, snapshots and the
    /// claim and publish steps of compactions run one at a time.
    manifest: Mutex<Manifest>,
    /// Held for a whole compaction (and a tombstone purge), so that one runs at a time;
    /// always taken before `manifest`, never while holding it.
    compacting: Mutex<()>,
    /// Set when the handle stops its background work: a compaction in progress gives up.
    closing: std::sync::atomic::AtomicBool,
    /// The last delete id handed out.
    next_delete: Mutex<u64>,
    /// Bumped whenever a delete hides series (see `Writer`).
    hide_epoch: std::sync::atomic::AtomicU64,
    /// Rotations and compactions done, for monitoring.
    counters: crate::metrics::WorkCounters,
    /// The `max_new_series_per_minute` token bucket.
    new_series: Mutex<limits::NewSeriesBucket>,
    /// Decoded compressed blocks shared by every segment (`None` when disabled).
    cache: Option<Arc<crate::segment::BlockCache>>,
    /// The global retention and the per-measurement rules, from the options.
    retention: Arc<Retention>,
    /// The live rollup files (`rollups/`); changed by compaction and rollup retention
    /// with the manifest lock held.
    rollups: crate::rollup::store::RollupStore,
}

impl Inner {
    /// Every retention group's cutoff now (see [`crate::retention`]).
    pub(crate) fn cutoffs(&self) -> Cutoffs {
        self.retention.cutoffs(self.options.clock.now_nanos())
    }

    /// The cutoffs now and the retention spans of every live segment, for the planner.
    pub(crate) fn expiry(&self) -> crate::compaction::Expiry {
        let spans = self
            .state
            .read()
            .segments
            .iter()
            .map(|s| (s.seg.id(), s.spans.clone()))
            .collect();
        crate::compaction::Expiry {
            cutoffs: self.cutoffs(),
            spans,
        }
    }

    /// The oldest timestamp retention keeps now in column `c` (`i64::MIN` when its
    /// measurement's data is kept forever). Takes the index's read lock only when
    /// retention rules exist, recursively, so a caller may hold it.
    pub(crate) fn column_cutoff(&self, c: ColumnId) -> i64 {
        let group = if self.retention.has_rules() {
            self.index.read_recursive().column_retention_group(c)
        } else {
            RetentionGroup::GLOBAL
        };
        self.retention.cutoff(group, self.options.clock.now_nanos())
    }
}

/// What readers see. Changed only under the write lock, in one step per transition.
#[derive(Default)]
pub(crate) struct State {
    hot: HotTier,
    /// Data split off the hot tier whose segment is not published yet, oldest first.
    rotating: Vec<Arc<HotTier>>,
    /// Live segments, oldest first.
    segments: Vec<Arc<LiveSegment>>,
    /// Pending deletes, filtered out of segment reads (see `tombstone`).
    tombstones: Arc<tombstone::Tombstones>,
}

/// An open segment and where each of the database's columns is in it.
pub(crate) struct LiveSegment {
    seg: Segment,
    tier: Tier,
    /// Where each index column is in the segment's directory: (series, column) positions.
    columns: column_map::ColumnMap,
    /// Set when a compaction has replaced this segment in the manifest: the file is
    /// deleted when the last reader lets go of it.
    doomed: std::sync::atomic::AtomicBool,
    /// The time span of each retention group's series in the segment, by group, for
    /// the compaction planner.
    spans: Vec<crate::compaction::GroupSpan>,
}

impl LiveSegment {
    /// Whether every series in the segment is past its retention cutoff.
    fn wholly_expired(&self, cutoffs: &Cutoffs) -> bool {
        self.spans.iter().all(|g| g.max_ts < cutoffs.of(g.group))
    }

    /// The segment's directory entry for index column `c`, if the segment holds it.
    fn column(&self, c: &ColumnId) -> Option<&ColumnEntry> {
        let (s, k) = self.columns.get(*c)?;
        self.seg.series().get(s as usize)?.columns.get(k as usize)
    }
}

impl Drop for LiveSegment {
    fn drop(&mut self) {
        if self.doomed.load(std::sync::atomic::Ordering::Acquire)
            && let Err(e) = crate::fault::remove(crate::fault::Site::Delete, self.seg.path())
        {
            tracing::warn!(
                "could not delete {}: {e} (removed at the next open)",
                self.seg.path().display()
            );
        }
    }
}

/// Sizes of an open database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbStats {
    /// Series known to the index.
    pub series: usize,
    /// Columns (field of a series) known to the index.
    pub columns: usize,
    /// Approximate heap bytes of the index.
    pub index_bytes: usize,
    /// The hot tier.
    pub hot: crate::hot::HotStats,
    /// Whether this open loaded the index image (`INDEX`) instead of rebuilding the
    /// index from the segments.
    pub index_from_image: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: takes the directory lock, loads
    /// the manifest and the segments it names (removing files it does not name), replays
    /// the WAL after the checkpoint, starts a new WAL file and the background rotation.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = DirLock::acquire(&dir)?;
        let (inner, replayed_deletes) = open::open_inner(dir, options)?;
        let inner = Arc::new(inner);
        // Deletes found in the WAL whose tombstone was not stored (a crash came between
        // the WAL record and the manifest): store it now.
        let last_delete = inner.manifest.lock().last_delete;
        let mut covered = Vec::new();
        for spec in &replayed_deletes {
            if spec.id > last_delete {
                inner.redo_delete(spec)?;
            }
        }
        // Series left without data by the deletes replayed or pending leave the listings,
        // as they did before the restart.
        {
            let index = inner.index.read();
            for spec in &replayed_deletes {
                covered.extend(tombstone::resolve(&index, &spec.predicate).1);
            }
            let st = inner.state.read();
            for (t, _) in st.tombstones.iter() {
                covered.extend(tombstone::resolve(&index, &t.spec.predicate).1);
            }
        }
        covered.sort_unstable();
        covered.dedup();
        inner.hide_empty(&covered)?;
        let background = rotate::start_background(&inner)?;
        Ok(Db {
            inner,
            background: Mutex::new(background),
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The retention in force: the global period and the per-measurement rules.
    pub fn retention(&self) -> &Retention {
        &self.inner.retention
    }

    /// How many measurements (with a visible series) each retention group holds: index 0
    /// the global retention, index `i + 1` rule `i`.
    pub fn retention_measurement_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.inner.retention.rules().len() + 1];
        let ix = self.inner.index.read();
        for name in ix.measurements() {
            let g = ix.measurement_retention_group(name).unwrap_or_default();
            if let Some(n) = counts.get_mut(g.0 as usize) {
                *n += 1;
            }
        }
        counts
    }

    /// Sizes of the index and the hot tier.
    pub fn stats(&self) -> DbStats {
        let (series, columns, index_bytes) = {
            let ix = self.inner.index.read();
            (ix.series_count(), ix.column_count(), ix.heap_bytes())
        };
        DbStats {
            series,
            columns,
            index_bytes,
            hot: self.inner.state.read().hot.stats(),
            index_from_image: self.inner.index_from_image,
        }
    }

    /// Runs an age rotation now: hot data older than `hot_max_age` (by the clock) moves
    /// into a new warm segment and the WAL is checkpointed. `None` when nothing was old
    /// enough.
    pub fn rotate(&self) -> Result<Option<RotationReport>> {
        self.inner.rotate(rotate::Reason::Age)
    }

    /// Runs a memory-pressure rotation now: the oldest hot data (at least everything older
    /// than `hot_max_age`) moves to a warm segment until the hot tier holds about half of
    /// `hot_max_bytes`. `None` when the hot tier is empty.
    pub fn rotate_oldest(&self) -> Result<Option<RotationReport>> {
        self.inner.rotate(rotate::Reason::Pressure)
    }

    /// Runs one offline compaction: first a rotation (with `force`, of every hot value,
    /// however recent), then every segment into cold files, one per UTC day (`to_cold`),
    /// or every warm segment into one; then every segment still holding deleted values is
    /// rewritten without them. `None` when the plan had nothing to do.
    pub fn compact(&self, to_cold: bool, force: bool) -> Result<Option<CompactionReport>> {
        let reason = if force {
            rotate::Reason::Everything
        } else {
            rotate::Reason::Age
        };
        self.inner.rotate(reason)?;
        let plan = {
            let m = self.inner.manifest.lock();
            crate::compaction::plan_offline(&m.segments, to_cold, &self.inner.expiry())
        };
        let report = match plan {
            Some(task) => self.inner.compact(task)?,
            None => None,
        };
        // Whatever the plan left out, tombstones leave the files too.
        if self.pending_tombstones() > 0 {
            self.inner.clean_tombstones()?;
        }
        Ok(report)
    }

    /// Takes a consistent snapshot of this live database into `out` (a new or empty
    /// directory) without stopping writes: segments hard-linked, the WAL copied, with the
    /// manifest lock held so no rotation, compaction or delete swaps files meanwhile. See
    /// [`crate::snapshot`].
    pub fn snapshot(
        &self,
        out: &Path,
        opts: crate::snapshot::SnapshotOptions,
    ) -> Result<crate::snapshot::SnapshotReport> {
        let _quiet = self.inner.manifest.lock();
        crate::snapshot::take(&self.inner.dir, out, opts)
    }

    /// How far the compaction running now (or the last one) has got; poll it from another
    /// thread while [`Db::compact`] runs.
    pub fn compaction_progress(&self) -> CompactionProgress {
        let c = &self.inner.counters.compaction;
        let o = std::sync::atomic::Ordering::Relaxed;
        CompactionProgress {
            task: c.task.load(o),
            done: c.done.load(o),
            total: c.total.load(o),
        }
    }

    /// One round of the background work, now: an age rotation, then the compaction the
    /// policy asks for (warm older than `warm_max_age` to cold day files; too many young
    /// warm segments merged). The background thread runs this every `rotation_interval`.
    pub fn run_maintenance(&self) -> Result<Option<CompactionReport>> {
        self.inner.rotate(rotate::Reason::Age)?;
        self.inner.compact_background()
    }

    /// Test hook (feature `failpoints`): after `n` more successful WAL fsyncs the next one
    /// fails (once), as a failing disk would make it. See [`crate::fault`] for the general
    /// fault injection.
    #[cfg(feature = "failpoints")]
    pub fn fail_wal_fsync_after(&self, n: u64) {
        self.inner.wal.fail_fsync_after(n);
    }

    /// Makes every acknowledged write durable (an fsync, whatever the policy) and
    /// compresses the hot tier's open chunks.
    pub fn flush(&self) -> Result<()> {
        self.inner.wal.sync()?;
        self.inner.state.write().hot.close_heads();
        Ok(())
    }

    /// Stops background work, runs a last rotation (so that data older than
    /// `hot_max_age` is in segments, not only in the WAL), fsyncs the WAL and releases the
    /// directory lock. Dropping a `Db` without `close` stops it as a crash would, keeping
    /// only what the WAL and the published segments hold.
    pub fn close(self) -> Result<()> {
        self.stop_background();
        let rotated = self.inner.rotate(rotate::Reason::Age).map(|_| ());
        if rotated.is_ok() {
            // An optimisation for the next open only: a failure is no failure to close.
            if let Err(e) = index_image::store(&self.inner) {
                tracing::warn!("not writing the index image: {e}");
            }
        }
        let synced = self.inner.wal.shutdown(true);
        rotated.and(synced)
    }

    /// Stops the rotation and compaction threads; a compaction in progress gives up.
    fn stop_background(&self) {
        if let Some(b) = self.background.lock().take() {
            self.inner
                .closing
                .store(true, std::sync::atomic::Ordering::Release);
            b.stop();
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// Lets writers apply to the hot tier strictly in WAL sequence order.
#[derive(Default)]
struct Turnstile {
    next: Mutex<u64>,
    cv: Condvar,
}

impl Turnstile {
    /// Waits for `seq`'s turn, runs `f`, and lets `seq + 1` go. Every sequence number the
    /// WAL hands out must pass exactly once, or later writers wait forever.
    fn pass(&self, seq: u64, f: impl FnOnce()) {
        let mut next = self.next.lock();
        while *next != seq {
            self.cv.wait(&mut next);
        }
        f();
        *next += 1;
        self.cv.notify_all();
    }
}
