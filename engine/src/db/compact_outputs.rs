//! Writing a compaction's output files on all cores.
//!
//! The work is one *unit* per (output partition, series): read the series' columns in the
//! partition's time range from every input, merge them, cut them into blocks and encode
//! them (codecs + zstd for cold). Units run on `Options::compaction_threads` worker threads
//! ([`crate::pool::ordered_map`]) and are appended to the partition's segment writer on the
//! calling thread in (partition, series) order, the order a single thread uses.
//!
//! Invariants:
//! - **Deterministic output.** The files are byte for byte those of one thread for the same
//!   inputs: each unit's payloads are a pure function of its data, and the only decision
//!   that depends on other series (a block borrowing an earlier block's timestamps) is made
//!   by the writer in append order (`segment::encode`).
//! - **Bounded memory.** At most `threads × IN_FLIGHT_PER_THREAD` units are in flight
//!   (started and not yet appended), so the merged, decoded and encoded data held at once is
//!   at most that many series-partitions, never the whole input. Beside them: the writer's
//!   and the workers' shared-timestamp tables (each at most 64 MiB of timestamps, one
//!   writer and one table per partition in flight) and the list of (series, column) names.
//!   docs/FORMAT.md ("Compaction memory") states the bound.
//! - Partitions are written in order; a partition without points leaves no file and does
//!   not use up a pending number. Files are written under pending names (`pending_name`):
//!   only the publish step (`compact`) gives them segment ids, under the manifest lock.

use super::Inner;
use super::rotate::SeriesColumns;
use crate::error::Result;
use crate::manifest::{SegmentRecord, Tier};
use crate::model::{ColumnData, TimeRange};
use crate::segment::{PreparedSeries, SegmentWriter, SharingHint, WriterOptions};
use parking_lot::Mutex;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Units in flight per worker thread: enough that a worker rarely waits for the appender
/// behind one slow series, few enough that memory stays a small multiple of one series.
pub(crate) const IN_FLIGHT_PER_THREAD: usize = 4;

/// What one compaction writes: its inputs, series, partitions and the writer settings.
pub(super) struct OutputPlan<'a> {
    pub inputs: &'a [Arc<super::LiveSegment>],
    pub by_series: &'a [SeriesColumns],
    /// Each series' retention cutoff (aligned with `by_series`): older values are left out.
    pub keep_from: &'a [i64],
    pub partitions: &'a [TimeRange],
    pub writer_options: WriterOptions,
    pub tier: Tier,
    pub tombstones: &'a super::tombstone::Tombstones,
    /// The rollup rules to compute for cold outputs (empty: none).
    pub rollups: &'a [crate::rollup::RollupRule],
}

/// The file name of a compaction output written and not yet published: `pending-N.part`.
/// Open removes such files (a trusted manifest never names them), so a crash before the
/// publish leaves nothing behind.
pub(super) fn pending_name(n: u64) -> String {
    format!("pending-{n:06}.part")
}

/// The path of pending output `n` in `segment_dir`.
pub(super) fn pending_path(segment_dir: &std::path::Path, n: u64) -> std::path::PathBuf {
    segment_dir.join(pending_name(n))
}

/// The rollups computed alongside the outputs: per (partition, rule), the entries of the
/// series the rule matches (partition and series order), column-wise.
pub(super) type RollupParts = BTreeMap<(usize, usize), Vec<crate::rollup::RollupEntry>>;

/// What [`Inner::write_outputs`] wrote: the files, the partition of each, the rollups.
pub(super) struct Written {
    pub records: Vec<SegmentRecord>,
    pub partitions: Vec<usize>,
    pub rollups: RollupParts,
}

/// The rollup entries of one series' merged columns for each rule matching it, computed
/// column-wise in one pass over each column's points.
fn rollup_entries(
    rules: &[crate::rollup::RollupRule],
    key: &[u8],
    columns: &[(String, ColumnData)],
) -> Vec<(usize, crate::rollup::RollupEntry)> {
    use crate::rollup::{Aggregates, BucketColumns, RollupEntry, measurement_of};
    let Some(m) = measurement_of(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (r, rule) in rules.iter().enumerate().filter(|(_, r)| r.matches(m)) {
        let sketch = rule.aggregates().has(Aggregates::QUANTILE);
        for (name, data) in columns {
            if data.is_empty() {
                continue;
            }
            if let Some(buckets) = BucketColumns::compute(data, rule.interval(), sketch) {
                out.push((
                    r,
                    RollupEntry {
                        key: key.to_vec(),
                        field: name.clone(),
                        buckets,
                    },
                ));
            }
        }
    }
    out
}

impl Inner {
    /// Writes one segment per partition of `plan` that has points, under pending names
    /// ([`pending_path`]): the records' ids are pending numbers 0, 1, … until
    /// `compact` names the files with segment ids when it publishes them. Returns the
    /// records of the files written.
    pub(super) fn write_outputs(&self, plan: &OutputPlan<'_>) -> Result<Written> {
        let threads = crate::pool::resolve_threads(self.options.compaction_threads);
        let series = plan.by_series.len();
        let units = series * plan.partitions.len();
        let progress = &self.counters.compaction;
        progress.task.fetch_add(1, Ordering::Relaxed);
        progress.done.store(0, Ordering::Relaxed);
        progress.total.store(units as u64, Ordering::Relaxed);
        // One hint per partition in flight, dropped when its file is finished.
        let hints: Mutex<BTreeMap<usize, Arc<SharingHint>>> = Mutex::new(BTreeMap::new());
        let parallel = threads > 1;
        let rolls = plan.tier == Tier::Cold && !plan.rollups.is_empty();
        type Rolled = Vec<(usize, crate::rollup::RollupEntry)>;
        let work = |unit: usize| -> Result<(usize, PreparedSeries<'static>, Rolled)> {
            #[cfg(feature = "failpoints")]
            if let Some(hook) = &self.options.compaction_hook {
                (hook.0)(&|| self.closing.load(Ordering::Relaxed));
            }
            if self.closing.load(Ordering::Relaxed) {
                // Shutting down: give up rather than hold `close` for the whole merge
                // (nothing names the pending files; the inputs stay as they were).
                return Err(crate::Error::Closed);
            }
            let (p, s) = (unit / series, unit % series);
            let (key, cols) = &plan.by_series[s];
            let part = plan.partitions[p];
            let keep_from = plan.keep_from.get(s).copied().unwrap_or(i64::MIN);
            let range = TimeRange::new(part.start.max(keep_from), part.end);
            let columns = self.merge_series(plan.inputs, cols, range, plan.tombstones)?;
            let rolled = if rolls {
                rollup_entries(plan.rollups, key, &columns)
            } else {
                Vec::new()
            };
            let mut prepared = PreparedSeries::new(
                plan.writer_options,
                Cow::Owned(key.to_vec()),
                columns
                    .into_iter()
                    .map(|(n, d)| (Cow::Owned(n), Cow::<ColumnData>::Owned(d))),
            )?;
            if parallel {
                let hint = hints.lock().entry(p).or_default().clone();
                prepared.encode(Some(&hint))?;
            }
            Ok((p, prepared, rolled))
        };
        let mut out = Outputs {
            inner: self,
            plan,
            next_pending: 0,
            current: None,
            records: Vec::new(),
            partitions: Vec::new(),
            rollups: BTreeMap::new(),
        };
        let written = crate::pool::ordered_map(
            units,
            threads,
            threads * IN_FLIGHT_PER_THREAD,
            work,
            |_, (p, prepared, rolled)| {
                for (r, e) in rolled {
                    out.rollups.entry((p, r)).or_default().push(e);
                }
                if out.current.as_ref().is_none_or(|(cp, _)| *cp != p) {
                    if let Some((done, _)) = out.current.as_ref() {
                        hints.lock().remove(done);
                    }
                    out.finish_current()?;
                    let w = SegmentWriter::create_named(
                        &self.segment_dir,
                        &pending_name(out.next_pending),
                        out.next_pending,
                        plan.writer_options,
                        crate::fault::Site::CompactionSegment,
                    )?;
                    out.current = Some((p, w));
                }
                if let Some((_, w)) = out.current.as_mut() {
                    w.add_prepared(prepared)?;
                }
                progress.done.fetch_add(1, Ordering::Relaxed);
                Ok(())
            },
        )
        .and_then(|()| out.finish_current());
        if let Err(e) = written {
            // Nothing names the files finished so far: remove them (the one being
            // written removes its temporary file itself), leaving the inputs as they were.
            drop(out.current.take());
            for r in &out.records {
                let _ = std::fs::remove_file(pending_path(&self.segment_dir, r.id));
            }
            return Err(e);
        }
        Ok(Written {
            records: out.records,
            partitions: out.partitions,
            rollups: out.rollups,
        })
    }
}

/// The appender's state: the partition being written and the files finished.
struct Outputs<'a> {
    inner: &'a Inner,
    plan: &'a OutputPlan<'a>,
    /// The pending number of the next file.
    next_pending: u64,
    current: Option<(usize, SegmentWriter)>,
    records: Vec<SegmentRecord>,
    /// The partition of each record.
    partitions: Vec<usize>,
    rollups: RollupParts,
}

impl Outputs<'_> {
    /// Finishes the file being written, if any: kept when it has points, else removed
    /// (and its id used again).
    fn finish_current(&mut self) -> Result<()> {
        let Some((p, w)) = self.current.take() else {
            return Ok(());
        };
        let id = self.next_pending;
        let info = w.finish()?;
        if info.points == 0 {
            let p = pending_path(&self.inner.segment_dir, id);
            crate::fault::remove(crate::fault::Site::Delete, &p)
                .map_err(|e| crate::Error::io(&p, e))?;
            return Ok(());
        }
        self.next_pending += 1;
        self.partitions.push(p);
        self.records.push(SegmentRecord {
            id,
            tier: self.plan.tier,
            min_ts: info.min_ts,
            max_ts: info.max_ts,
            points: info.points,
            bytes: info.bytes,
        });
        Ok(())
    }
}
