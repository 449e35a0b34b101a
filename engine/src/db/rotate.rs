//! Rotation: hot data older than a cutoff moves into a new warm segment, then the WAL is
//! checkpointed. Steps, and what a crash after each leaves:
//!
//! 1. roll the WAL to a new file F and wait until every record before the roll is in hot;
//! 2. split off hot data below the cutoff C into `rotating` (readers still see it);
//! 3. write segment S (tmp, fsync, rename): a crash leaves S unnamed by the manifest, so
//!    the next open removes it and replays the WAL — nothing lost, nothing doubled;
//! 4. store a manifest naming S with checkpoint (F, C): after a crash, replay skips values
//!    below C in files before F, which are exactly the ones in S;
//! 5. publish S to readers and drop it from `rotating`;
//! 6. delete WAL files before F whose newest value is below C (all their data is in S or
//!    earlier segments); a crash before this only leaves files that replay filters.
//!
//! A failure at step 3 or 4 leaves the data in `rotating` and no new file behind (the
//! temporary segment file, or the renamed segment when the manifest was not stored, is
//! removed); the next rotation writes it. A failure at step 6 leaves WAL files that the
//! next rotation's checkpoint deletes.

use super::{Inner, open::attach};
use crate::error::{Error, Result};
use crate::hot::HotTier;
use crate::manifest::{self, Checkpoint, SegmentRecord, Tier};
use crate::model::TimeRange;
use crate::segment::{Segment, SegmentInfo, SegmentWriter, file_path};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A series' canonical key and its columns: field name, column id and type.
pub(super) type SeriesColumns = (
    Box<[u8]>,
    Vec<(String, crate::index::ColumnId, crate::model::FieldType)>,
);

/// Why a rotation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Data older than `hot_max_age`.
    Age,
    /// The hot tier is over `hot_max_bytes`: the oldest data, down to about half.
    Pressure,
    /// Every hot value, however recent (offline compaction with `--force`).
    Everything,
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// The segment written.
    pub segment: SegmentInfo,
    /// Values below this timestamp left the hot tier.
    pub cutoff: i64,
    /// WAL files deleted by the checkpoint.
    pub wal_files_deleted: usize,
}

impl Inner {
    pub(crate) fn rotate(&self, reason: Reason) -> Result<Option<RotationReport>> {
        let report = self.rotate_once(reason)?;
        if report.is_some() {
            self.counters
                .rotations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(report)
    }

    fn rotate_once(&self, reason: Reason) -> Result<Option<RotationReport>> {
        let mut manifest = self.manifest.lock();
        let max_age = i64::try_from(self.options.hot_max_age.as_nanos()).unwrap_or(i64::MAX);
        let age_cutoff = self.options.clock.now_nanos().saturating_sub(max_age);
        let cutoff = {
            let st = self.state.read();
            let hot = st.hot.stats();
            let wanted = match reason {
                Reason::Age => age_cutoff,
                Reason::Everything => i64::MAX,
                Reason::Pressure => {
                    let free = hot.bytes.saturating_sub(self.options.hot_max_bytes / 2);
                    st.hot
                        .cutoff_freeing(free)
                        .map_or(age_cutoff, |c| c.max(age_cutoff))
                }
            };
            let hot_has_old = hot.time_range.is_some_and(|(lo, _)| lo < wanted);
            if !hot_has_old && st.rotating.is_empty() {
                return Ok(None);
            }
            wanted
        };
        // 1. Roll the WAL; every record before the roll must be in hot before the split.
        let ticket = self.wal.roll()?;
        let seq = ticket.seq;
        let rolled = ticket.wait();
        self.turnstile.pass(seq, || {});
        rolled?;
        let new_file = self.wal.current_file();
        // 2. Split.
        let pending: Vec<Arc<HotTier>> = {
            let mut st = self.state.write();
            let old = st.hot.split_off_before(cutoff).map_err(|e| {
                Error::Internal(format!("hot chunk does not decode during rotation: {e}"))
            })?;
            st.rotating.push(Arc::new(old));
            st.rotating.clone()
        };
        // 3. Write the segment.
        let id = manifest.next_segment_id.max(1);
        let info = self.write_segment(id, &pending)?;
        self.failpoint(FailStep::AfterSegmentWritten)?;
        // 4. Manifest.
        let mut next = manifest.clone();
        next.generation += 1;
        next.next_segment_id = id + 1;
        next.segments.push(SegmentRecord {
            id,
            tier: Tier::Warm,
            min_ts: info.min_ts,
            max_ts: info.max_ts,
            points: info.points,
            bytes: info.bytes,
        });
        next.checkpoint = Some(Checkpoint {
            file: new_file,
            cutoff,
        });
        self.publish_manifest(&mut manifest, next, &[id])?;
        self.failpoint(FailStep::AfterManifestReplaced)?;
        // 5. Publish.
        let path = file_path(&self.segment_dir, id);
        let seg = Segment::open(&path, id)?.with_cache(self.cache.clone());
        let live = Arc::new(attach(&mut self.index.write(), seg, Tier::Warm));
        {
            let mut st = self.state.write();
            st.segments.push(live);
            st.rotating
                .retain(|r| !pending.iter().any(|p| Arc::ptr_eq(p, r)));
        }
        self.failpoint(FailStep::BeforeWalCheckpoint)?;
        // 6. Checkpoint.
        let deleted = self.wal.delete_covered(new_file, cutoff)?;
        tracing::info!(
            "rotated {} points into {} ({} bytes); WAL files deleted: {}",
            info.points,
            path.display(),
            info.bytes,
            deleted.len()
        );
        Ok(Some(RotationReport {
            segment: info,
            cutoff,
            wal_files_deleted: deleted.len(),
        }))
    }

    /// Writes the merged content of `pending` (oldest first) as segment `id`.
    fn write_segment(&self, id: u64, pending: &[Arc<HotTier>]) -> Result<SegmentInfo> {
        let ids: Vec<crate::index::ColumnId> =
            pending.iter().flat_map(|t| t.column_ids()).collect();
        let by_series = self.columns_by_series(ids);
        let mut w = SegmentWriter::create(&self.segment_dir, id)?;
        for (key, cols) in &by_series {
            let mut datas = Vec::with_capacity(cols.len());
            for (name, c, ty) in cols {
                let mut sources = Vec::with_capacity(pending.len());
                // Expired values (retention) are not written.
                let keep = TimeRange::new(self.column_cutoff(*c), i64::MAX);
                for tier in pending {
                    if let Some(d) = tier.read(*c, keep) {
                        sources.push(d.map_err(|e| {
                            Error::Internal(format!("hot chunk does not decode: {e}"))
                        })?);
                    }
                }
                datas.push((name.as_str(), super::read::merge(sources, *ty)?));
            }
            let refs: Vec<(&str, &crate::model::ColumnData)> =
                datas.iter().map(|(n, d)| (*n, d)).collect();
            w.add_series(key, &refs)?;
        }
        w.finish()
    }

    /// The given columns grouped by series (canonical key), in series order, each with its
    /// field name and type. Linear in the columns.
    pub(super) fn columns_by_series(
        &self,
        columns: impl IntoIterator<Item = crate::index::ColumnId>,
    ) -> Vec<SeriesColumns> {
        let ix = self.index.read();
        let mut by_series: BTreeMap<
            u32,
            Vec<(String, crate::index::ColumnId, crate::model::FieldType)>,
        > = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for c in columns {
            if !seen.insert(c) {
                continue;
            }
            let Some(info) = ix.column_info(c) else {
                continue;
            };
            // Constant time per column: a scan of the series' columns here made a rotation
            // quadratic in the fields of a wide series (100,000 fields: minutes).
            let Some(name) = ix.column_name(c).map(str::to_owned) else {
                continue;
            };
            by_series
                .entry(info.series.0)
                .or_default()
                .push((name, c, info.field_type));
        }
        by_series
            .into_iter()
            .map(|(sid, cols)| {
                let key: Box<[u8]> = ix
                    .series_key_bytes(crate::index::SeriesId(sid))
                    .unwrap_or_default()
                    .into();
                (key, cols)
            })
            .collect()
    }

    /// Stores `next` as the manifest and makes it current. `written` are the segment files
    /// written for it: when the store fails before the new generation is named they are
    /// removed (the previous state stays, and the work is retried later); when it fails
    /// after (the directory fsync), the new generation may be the one a restart reads, so
    /// neither its number nor its segment ids are used again, and its files stay (a
    /// later manifest that does not name them makes them garbage for the next open).
    pub(super) fn publish_manifest(
        &self,
        manifest: &mut manifest::Manifest,
        next: manifest::Manifest,
        written: &[u64],
    ) -> Result<()> {
        match manifest::store(&self.dir, &next) {
            Ok(()) => {
                *manifest = next;
                Ok(())
            }
            Err(e) => {
                if manifest::may_be_published(&self.dir, next.generation) {
                    manifest.generation = next.generation;
                    manifest.next_segment_id = manifest.next_segment_id.max(next.next_segment_id);
                } else {
                    for &id in written {
                        let _ = std::fs::remove_file(file_path(&self.segment_dir, id));
                    }
                }
                Err(e)
            }
        }
    }

    #[cfg(feature = "failpoints")]
    pub(super) fn failpoint(&self, step: FailStep) -> Result<()> {
        if self.options.failpoint == Some(step) {
            return Err(Error::Internal(format!("failpoint {step:?} hit")));
        }
        Ok(())
    }

    #[cfg(not(feature = "failpoints"))]
    pub(super) fn failpoint(&self, _step: FailStep) -> Result<()> {
        Ok(())
    }
}

/// The steps failpoints name.
pub(super) use crate::options::Failpoint as FailStep;

/// How often the rotation thread looks at hot-tier memory.
const PRESSURE_CHECK: Duration = Duration::from_secs(1);

/// The background threads: rotation, and compaction (nudged after each age rotation).
/// Dropping `stop` stops both; [`Background::stop`] also waits for them.
pub(super) struct Background {
    stop: Option<crossbeam_channel::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Stops both threads and waits for them (a compaction in progress gives up at its
    /// next series once `Inner::closing` is set).
    pub(super) fn stop(mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Starts the background threads (none when `rotation_interval` is zero).
///
/// Rotation and compaction have a thread each, so that a long compaction (minutes on a
/// large directory) never holds up rotation: the hot tier keeps moving to warm segments
/// and stays under `hot_max_bytes` while the compaction merges.
pub(super) fn start_background(inner: &Arc<Inner>) -> Result<Option<Background>> {
    let every = inner.options.rotation_interval;
    if every.is_zero() {
        return Ok(None);
    }
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    // One pending nudge is enough: a compaction asked for while one runs plans again
    // after it.
    let (nudge, nudged) = crossbeam_channel::bounded::<()>(1);
    let weak = Arc::downgrade(inner);
    let inner_image_interval = inner.options.index_image_interval;
    let stopped_c = stopped.clone();
    let rotator = std::thread::Builder::new()
        .name("strata-rotate".into())
        .spawn(move || {
            // The first tick comes at once and is an age rotation: what the WAL replay
            // put back into the hot tier moves to a segment and the WAL is checkpointed
            // right after a restart, not one interval later. A process that keeps
            // crashing sooner than the interval (killed, OOM, a crash loop) would
            // otherwise replay an ever longer WAL at every start.
            let mut last: Option<Instant> = None;
            // None: at the first tick, which follows the open's replay rotation.
            let mut imaged: Option<Instant> = None;
            let image_every = inner_image_interval;
            let mut wait = Duration::ZERO;
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait)
            {
                wait = PRESSURE_CHECK.min(every);
                let Some(inner) = weak.upgrade() else { break };
                let reason = if last.is_none_or(|l| l.elapsed() >= every) {
                    last = Some(Instant::now());
                    Some(Reason::Age)
                } else if inner.state.read().hot.bytes() > inner.options.hot_max_bytes {
                    Some(Reason::Pressure)
                } else {
                    None
                };
                if let Some(reason) = reason
                    && let Err(e) = inner.rotate(reason)
                {
                    tracing::warn!("rotation ({reason:?}) failed: {e}");
                }
                if reason == Some(Reason::Age) {
                    let _ = nudge.try_send(());
                    // The index image of the segments as they are now (skipped when this
                    // generation has one), so that an open after a crash need not rebuild.
                    if !image_every.is_zero() && imaged.is_none_or(|t| t.elapsed() >= image_every) {
                        imaged = Some(Instant::now());
                        if let Err(e) = super::index_image::store(&inner) {
                            tracing::warn!("not writing the index image: {e}");
                        }
                    }
                }
            }
        })
        .map_err(|e| Error::io(&inner.dir, e))?;
    let weak = Arc::downgrade(inner);
    let compactor = std::thread::Builder::new()
        .name("strata-compact".into())
        .spawn(move || {
            loop {
                crossbeam_channel::select! {
                    recv(stopped_c) -> _ => break,
                    recv(nudged) -> m => {
                        if m.is_err() {
                            break;
                        }
                        let Some(inner) = weak.upgrade() else { break };
                        match inner.compact_background() {
                            Ok(_) => {}
                            Err(Error::Closed) => break,
                            Err(e) => tracing::warn!("compaction failed: {e}"),
                        }
                    }
                }
            }
        });
    let compactor = match compactor {
        Ok(t) => t,
        Err(e) => {
            drop(stop);
            let _ = rotator.join();
            return Err(Error::io(&inner.dir, e));
        }
    };
    Ok(Some(Background {
        stop: Some(stop),
        threads: vec![rotator, compactor],
    }))
}
