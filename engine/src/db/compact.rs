//! Running a compaction task: merge the inputs' columns (a later segment winning on equal
//! timestamps), write the outputs, swap them into the manifest, publish, and let the
//! inputs' files go once no reader holds them.
//!
//! Three steps, so that a long merge does not stop rotations, deletes and snapshots:
//!
//! 1. **Claim** (manifest lock): the inputs are live; take them, the tombstones in force
//!    and the output partitions.
//! 2. **Build** (no manifest lock): merge and write the outputs under pending names
//!    (`compact_outputs::pending_name`). Rotations, deletes and snapshots go on meanwhile;
//!    readers still read the inputs.
//! 3. **Publish** (manifest lock): check that the claim still holds — every input is still
//!    live and no delete recorded since the claim covers values in an input (the outputs
//!    were merged without it, and its tombstone, made before the outputs had ids, would
//!    not apply to them). If it holds: give the outputs segment ids (rename, directory
//!    fsync), write the rollup files, store the manifest, publish. If not: the outputs are
//!    removed and the task is built again with the lock held (nothing can change it then),
//!    so a stream of deletes cannot starve compaction.
//!
//! Invariants:
//! - One compaction at a time (`Inner::compacting`, always taken before the manifest lock).
//! - Outputs get their ids at publish, under the manifest lock, so they are above every
//!   segment id and every tombstone's `max_segment` at that moment, exactly as if the whole
//!   compaction had run under the lock; rollup files are written then too, so the rollup
//!   store's open rule (a source id at or past the stored next id is unpublished) holds.
//! - Crash safety follows rotation's: outputs are written (tmp, fsync, rename) before the
//!   manifest names them, so a crash before the manifest leaves unnamed outputs (pending
//!   or renamed; removed on open) and the inputs intact; a crash after it leaves unnamed
//!   inputs (removed on open). Readers hold `Arc`s of the segments they read, so they
//!   never see a half-done state.
//!
//! Compaction purges tombstones: values a tombstone covers in an input it applies to are
//! left out of the outputs, and a tombstone that no longer applies to any live segment
//! leaves the manifest in the same step.
//!
//! The outputs are written on `Options::compaction_threads` threads, with a bounded memory
//! and the same bytes as one thread would write (`compact_outputs`).

use super::compact_outputs::{OutputPlan, Written, pending_path};
use super::open::attach;
use super::rotate::{FailStep, SeriesColumns};
use super::tombstone::Tombstones;
use super::{Inner, LiveSegment};
use crate::compaction::{self, DAY_NANOS, Task};
use crate::error::Result;
use crate::manifest::{Manifest, Tier};
use crate::model::{ColumnData, TimeRange};
use crate::segment::{Segment, WriterOptions, file_path};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionReport {
    /// Segments merged.
    pub files_in: usize,
    /// Segments written.
    pub files_out: usize,
    /// Bytes of the inputs.
    pub bytes_in: u64,
    /// Bytes of the outputs.
    pub bytes_out: u64,
    /// Values in the inputs (duplicates across inputs counted each time).
    pub points_in: u64,
    /// Values in the outputs.
    pub points_out: u64,
    /// Seconds taken.
    pub seconds: f64,
}

/// How far the compaction running now (or the last one) has got: `done` of `total` units
/// (a series in one output file) of task number `task` since open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactionProgress {
    /// Compactions started since open (the current one's number).
    pub task: u64,
    /// Units written.
    pub done: u64,
    /// Units of the task.
    pub total: u64,
}

/// Step 1's result: a task whose inputs were live, what it reads, and where it writes.
struct Claim {
    task: Task,
    inputs: Vec<Arc<LiveSegment>>,
    /// The tombstones in force at the claim: the ones the build purges.
    tombstones: Arc<Tombstones>,
    /// Each UTC day with data for cold, everything for warm.
    partitions: Vec<TimeRange>,
    started: Instant,
}

/// Step 2's result: the outputs under pending names, and each series' raw cutoff (for
/// the rollups written at publish).
struct Built {
    written: Written,
    keep_from: HashMap<Box<[u8]>, i64>,
    /// The cutoff of series not in `keep_from`.
    default_keep_from: i64,
}

impl Built {
    /// Removes the pending outputs (the claim no longer holds, or the publish failed
    /// before naming them).
    fn discard(self, segment_dir: &std::path::Path) {
        for r in &self.written.records {
            let _ = std::fs::remove_file(pending_path(segment_dir, r.id));
        }
    }
}

impl Inner {
    /// One background step: the compaction plan at the clock's now, if any.
    pub(super) fn compact_background(&self) -> Result<Option<CompactionReport>> {
        let _one = self.compacting.lock();
        let task = {
            let m = self.manifest.lock();
            let dropped = self.drop_expired_rollups()?;
            if dropped > 0 {
                tracing::info!("rollup retention dropped {dropped} rollup files");
            }
            let age = i64::try_from(self.options.warm_max_age.as_nanos()).unwrap_or(i64::MAX);
            compaction::plan(
                &m.segments,
                self.options.clock.now_nanos(),
                age,
                &self.expiry(),
            )
        };
        match task.or_else(|| self.purge_task()) {
            Some(t) => self.compact_claimed(t),
            None => Ok(None),
        }
    }

    /// Runs `task` (planned from a recent manifest; `None` when its inputs are gone),
    /// holding the manifest lock only to claim and to publish.
    pub(super) fn compact(&self, task: Task) -> Result<Option<CompactionReport>> {
        let _one = self.compacting.lock();
        self.compact_claimed(task)
    }

    /// [`Inner::compact`] with `compacting` held by the caller.
    fn compact_claimed(&self, task: Task) -> Result<Option<CompactionReport>> {
        let claim = {
            let _m = self.manifest.lock();
            self.claim(task)
        };
        let Some(claim) = claim else {
            return Ok(None);
        };
        let built = self.build(&claim)?;
        let mut manifest = self.manifest.lock();
        if self.claim_holds(&manifest, &claim) {
            return self.publish(&mut manifest, claim, built);
        }
        // A delete covering an input came meanwhile: build again with the lock held.
        built.discard(&self.segment_dir);
        self.counters
            .compactions_redone
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!("a delete covered a compaction's inputs while it ran: compacting again");
        self.compact_locked(&mut manifest, claim.task)
    }

    /// Runs `task` with the manifest lock held all along (and `compacting` held by the
    /// caller), purging the tombstones that apply to its inputs.
    pub(super) fn compact_locked(
        &self,
        manifest: &mut Manifest,
        task: Task,
    ) -> Result<Option<CompactionReport>> {
        let Some(claim) = self.claim(task) else {
            return Ok(None);
        };
        let built = self.build(&claim)?;
        self.publish(manifest, claim, built)
    }

    /// Step 1 (manifest lock held): the task's inputs, if every one is still live.
    fn claim(&self, task: Task) -> Option<Claim> {
        let started = Instant::now();
        let (inputs, tombstones): (Vec<_>, _) = {
            let st = self.state.read();
            let inputs = task
                .inputs
                .iter()
                .filter_map(|id| st.segments.iter().find(|s| s.seg.id() == *id).cloned())
                .collect();
            (inputs, st.tombstones.clone())
        };
        if inputs.len() != task.inputs.len() || inputs.is_empty() {
            return None; // the list changed since planning: plan again next time
        }
        // Partitions: each UTC day with data for cold, everything for warm, from the
        // loosest cutoff; each series is cut at its own cutoff within them.
        let cutoffs = &task.keep_from;
        let keep_from = cutoffs.loosest();
        let partitions: Vec<TimeRange> = match task.output {
            _ if inputs.iter().all(|s| s.wholly_expired(cutoffs)) => Vec::new(),
            Tier::Warm => vec![TimeRange::new(keep_from, i64::MAX)],
            Tier::Cold => {
                let mut days = BTreeSet::new();
                for s in &inputs {
                    for i in 0..s.seg.block_count() {
                        let m = s.seg.block_meta(i);
                        for d in m.min_ts.div_euclid(DAY_NANOS)..=m.max_ts.div_euclid(DAY_NANOS) {
                            days.insert(d);
                        }
                    }
                }
                days.into_iter()
                    .map(|d| {
                        let start = d.saturating_mul(DAY_NANOS).max(keep_from);
                        TimeRange::new(start, (d + 1).saturating_mul(DAY_NANOS))
                    })
                    .filter(|r| r.start < r.end)
                    .collect()
            }
        };
        Some(Claim {
            task,
            inputs,
            tombstones,
            partitions,
            started,
        })
    }

    /// Step 2 (no manifest lock needed): merges the inputs and writes the outputs under
    /// pending names.
    fn build(&self, claim: &Claim) -> Result<Built> {
        let cutoffs = &claim.task.keep_from;
        let default_keep_from = cutoffs.loosest();
        let by_series: Vec<SeriesColumns> =
            self.columns_by_series(claim.inputs.iter().flat_map(|s| s.columns.keys()));
        let series_keep_from: Vec<i64> = if cutoffs.is_uniform() {
            vec![default_keep_from; by_series.len()]
        } else {
            let ix = self.index.read();
            by_series
                .iter()
                .map(|(_, cols)| {
                    cols.first().map_or(default_keep_from, |(_, c, _)| {
                        cutoffs.of(ix.column_retention_group(*c))
                    })
                })
                .collect()
        };
        let writer_options = match claim.task.output {
            Tier::Warm => WriterOptions::WARM,
            Tier::Cold => WriterOptions::cold(self.options.cold_zstd_level),
        };
        let plan = OutputPlan {
            keep_from: &series_keep_from,
            inputs: &claim.inputs,
            by_series: &by_series,
            partitions: &claim.partitions,
            writer_options,
            tier: claim.task.output,
            tombstones: &claim.tombstones,
            rollups: &self.options.rollups,
        };
        let written = self.write_outputs(&plan)?;
        let keep_from = if self.rolls_up(claim) {
            by_series
                .into_iter()
                .map(|(k, _)| k)
                .zip(series_keep_from)
                .collect()
        } else {
            HashMap::new()
        };
        Ok(Built {
            written,
            keep_from,
            default_keep_from,
        })
    }

    /// Whether `claim` writes rollup files (cold outputs and rollup rules).
    fn rolls_up(&self, claim: &Claim) -> bool {
        claim.task.output == Tier::Cold && !self.options.rollups.is_empty()
    }

    /// Whether `claim` may still be published as built (manifest lock held): every input
    /// is live, and no tombstone added since the claim applies to an input.
    fn claim_holds(&self, manifest: &Manifest, claim: &Claim) -> bool {
        let live = claim
            .task
            .inputs
            .iter()
            .all(|id| manifest.segments.iter().any(|s| s.id == *id));
        if !live {
            return false;
        }
        let st = self.state.read();
        if Arc::ptr_eq(&st.tombstones, &claim.tombstones) {
            return true;
        }
        let known: std::collections::HashSet<u64> =
            claim.tombstones.iter().map(|(t, _)| t.spec.id).collect();
        !st.tombstones.iter().any(|(t, cols)| {
            !known.contains(&t.spec.id)
                && claim
                    .inputs
                    .iter()
                    .any(|s| super::purge::applies(t, cols, s))
        })
    }

    /// Step 3 (manifest lock held, claim checked): names the outputs with segment ids,
    /// writes the rollups, stores the manifest and publishes to readers.
    fn publish(
        &self,
        manifest: &mut Manifest,
        claim: Claim,
        built: Built,
    ) -> Result<Option<CompactionReport>> {
        let rolls_up = self.rolls_up(&claim);
        let Claim {
            task,
            inputs,
            partitions,
            started,
            ..
        } = claim;
        let mut next_id = manifest.next_segment_id.max(1);
        let mut written = self.name_outputs(built.written, &mut next_id)?;
        let new_rollups = if rolls_up {
            let keep_from = |k: &[u8]| {
                built
                    .keep_from
                    .get(k)
                    .copied()
                    .unwrap_or(built.default_keep_from)
            };
            match self.write_rollups(
                &self.options.rollups,
                &partitions,
                &written,
                &keep_from,
                &mut next_id,
            ) {
                Ok(r) => r,
                Err(e) => {
                    for r in &written.records {
                        let _ = std::fs::remove_file(file_path(&self.segment_dir, r.id));
                    }
                    return Err(e);
                }
            }
        } else {
            Vec::new()
        };
        let outputs = std::mem::take(&mut written.records);
        self.failpoint(FailStep::CompactionAfterOutputs)?;
        let (bytes_in, points_in) = inputs
            .iter()
            .fold((0, 0), |(b, p), s| (b + s.seg.bytes(), p + s.seg.points()));
        let mut next = manifest.clone();
        next.generation += 1;
        next.next_segment_id = next_id;
        next.segments = compaction::apply(&manifest.segments, &task.inputs, outputs.clone());
        // Tombstones that no segment left in force needs any more leave with the inputs.
        let remaining = {
            let st = self.state.read();
            let survivors: Vec<_> = st
                .segments
                .iter()
                .filter(|s| !task.inputs.contains(&s.seg.id()))
                .cloned()
                .collect();
            st.tombstones
                .retain(|t, cols| survivors.iter().any(|s| super::purge::applies(t, cols, s)))
        };
        next.tombstones = remaining.records();
        let ids: Vec<u64> = outputs.iter().map(|o| o.id).collect();
        self.publish_manifest(manifest, next, &ids)?;
        // The manifest names the rollups' sources: they are live now, and the files they
        // replace may go.
        for (key, live) in new_rollups {
            if let Some(old) = self.rollups.install(&key, live)
                && let Err(e) = std::fs::remove_file(&old.path)
            {
                tracing::warn!(
                    "could not remove the replaced rollup {}: {e}",
                    old.path.display()
                );
            }
        }
        self.failpoint(FailStep::CompactionAfterManifest)?;
        // Publish: the live list follows the manifest's order.
        let mut fresh = Vec::with_capacity(outputs.len());
        for o in &outputs {
            let seg = Segment::open(&file_path(&self.segment_dir, o.id), o.id)?
                .with_cache(self.cache.clone());
            fresh.push(Arc::new(attach(&mut self.index.write(), seg, o.tier)));
        }
        {
            let mut st = self.state.write();
            let mut all: Vec<_> = st.segments.drain(..).chain(fresh).collect();
            let mut ordered = Vec::with_capacity(manifest.segments.len());
            for rec in &manifest.segments {
                if let Some(pos) = all.iter().position(|s| s.seg.id() == rec.id) {
                    ordered.push(all.swap_remove(pos));
                }
            }
            for gone in all {
                gone.doomed.store(true, Ordering::Release);
            }
            st.segments = ordered;
            st.tombstones = Arc::new(remaining);
        }
        for s in &inputs {
            s.doomed.store(true, Ordering::Release);
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        let report = CompactionReport {
            files_in: inputs.len(),
            files_out: outputs.len(),
            bytes_in,
            bytes_out: outputs.iter().map(|o| o.bytes).sum(),
            points_in,
            points_out: outputs.iter().map(|o| o.points).sum(),
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "compacted {} segments ({} bytes) into {} {} segments ({} bytes)",
            report.files_in,
            report.bytes_in,
            report.files_out,
            task.output.name(),
            report.bytes_out
        );
        Ok(Some(report))
    }

    /// Renames the pending outputs of `written` to segment files with ids from
    /// `*next_id` on, then fsyncs the directory. On failure every output (pending or
    /// renamed) is removed: nothing names them yet.
    fn name_outputs(&self, mut written: Written, next_id: &mut u64) -> Result<Written> {
        use crate::fault::{self, Site};
        let first = *next_id;
        let mut renamed = 0;
        let mut result = Ok(());
        for r in &written.records {
            let to = file_path(&self.segment_dir, first + renamed);
            if let Err(e) = fault::rename(
                Site::CompactionSegment,
                &pending_path(&self.segment_dir, r.id),
                &to,
            ) {
                result = Err(crate::Error::io(&to, e));
                break;
            }
            renamed += 1;
        }
        if result.is_ok()
            && !written.records.is_empty()
            && let Err(e) = fault::sync_dir(Site::CompactionSegment, &self.segment_dir)
        {
            result = Err(crate::Error::io(&self.segment_dir, e));
        }
        if let Err(e) = result {
            for (i, r) in written.records.iter().enumerate() {
                let path = if (i as u64) < renamed {
                    file_path(&self.segment_dir, first + i as u64)
                } else {
                    pending_path(&self.segment_dir, r.id)
                };
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        for (i, r) in written.records.iter_mut().enumerate() {
            r.id = first + i as u64;
        }
        *next_id = first + renamed;
        Ok(written)
    }
}

impl Inner {
    /// Series `key`'s columns `cols` in `range`, merged over `inputs` (a later input
    /// winning on equal timestamps), without the values `tombstones` cover in each input.
    pub(super) fn merge_series(
        &self,
        inputs: &[Arc<super::LiveSegment>],
        cols: &[(String, crate::index::ColumnId, crate::model::FieldType)],
        range: TimeRange,
        tombstones: &super::tombstone::Tombstones,
    ) -> Result<Vec<(String, ColumnData)>> {
        let mut datas = Vec::with_capacity(cols.len());
        for (name, c, ty) in cols {
            let mut sources = Vec::new();
            for s in inputs {
                if let Some(entry) = s.column(c) {
                    let data = s.seg.read_column(entry, range)?;
                    let deleted = tombstones.ranges(s.seg.id(), *c);
                    sources.push(super::tombstone::without(data, &deleted));
                }
            }
            datas.push((name.clone(), super::read::merge(sources, *ty)?));
        }
        Ok(datas)
    }
}
