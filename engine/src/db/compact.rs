//! Running a compaction task: merge the inputs' columns (a later segment winning on equal
//! timestamps), write the outputs, swap them into the manifest, publish, and let the
//! inputs' files go once no reader holds them.
//!
//! Crash safety follows rotation's: outputs are written (tmp, fsync, rename) before the
//! manifest names them, so a crash before the manifest leaves unnamed outputs (removed on
//! open) and the inputs intact; a crash after it leaves unnamed inputs (removed on open).
//! Readers hold `Arc`s of the segments they read, so they never see a half-done state.
//!
//! Compaction purges tombstones: values a tombstone covers in an input it applies to are
//! left out of the outputs, and a tombstone that no longer applies to any live segment
//! leaves the manifest in the same step.
//!
//! The outputs are written on `Options::compaction_threads` threads, with a bounded memory
//! and the same bytes as one thread would write (`compact_outputs`).

use super::Inner;
use super::compact_outputs::OutputPlan;
use super::open::attach;
use super::rotate::FailStep;
use crate::compaction::{self, DAY_NANOS, Task};
use crate::error::Result;
use crate::manifest::Tier;
use crate::model::{ColumnData, TimeRange};
use crate::segment::{Segment, WriterOptions, file_path};
use std::collections::BTreeSet;
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

impl Inner {
    /// One background step: the compaction plan at the clock's now, if any.
    pub(super) fn compact_background(&self) -> Result<Option<CompactionReport>> {
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
            Some(t) => self.compact(t),
            None => Ok(None),
        }
    }

    /// Runs `task` (planned from the current manifest).
    pub(super) fn compact(&self, task: Task) -> Result<Option<CompactionReport>> {
        let mut manifest = self.manifest.lock();
        self.compact_locked(&mut manifest, task)
    }

    /// Runs `task` with the manifest lock held, purging the tombstones that apply to its
    /// inputs.
    pub(super) fn compact_locked(
        &self,
        manifest: &mut crate::manifest::Manifest,
        task: Task,
    ) -> Result<Option<CompactionReport>> {
        let report = self.compact_locked_once(manifest, task)?;
        if report.is_some() {
            self.counters
                .compactions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(report)
    }

    fn compact_locked_once(
        &self,
        manifest: &mut crate::manifest::Manifest,
        task: Task,
    ) -> Result<Option<CompactionReport>> {
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
            return Ok(None); // the list changed since planning: plan again next time
        }
        let (bytes_in, points_in) = inputs
            .iter()
            .fold((0, 0), |(b, p), s| (b + s.seg.bytes(), p + s.seg.points()));
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
        let writer_options = match task.output {
            Tier::Warm => WriterOptions::WARM,
            Tier::Cold => WriterOptions::cold(self.options.cold_zstd_level),
        };
        let by_series =
            self.columns_by_series(inputs.iter().flat_map(|s| s.columns.keys().copied()));
        let series_keep_from: Vec<i64> = if cutoffs.is_uniform() {
            vec![keep_from; by_series.len()]
        } else {
            let ix = self.index.read();
            by_series
                .iter()
                .map(|(_, cols)| {
                    cols.first().map_or(keep_from, |(_, c, _)| {
                        cutoffs.of(ix.column_retention_group(*c))
                    })
                })
                .collect()
        };
        let mut next_id = manifest.next_segment_id.max(1);
        let plan = OutputPlan {
            keep_from: &series_keep_from,
            inputs: &inputs,
            by_series: &by_series,
            partitions: &partitions,
            writer_options,
            tier: task.output,
            tombstones: &tombstones,
            rollups: &self.options.rollups,
        };
        let written = self.write_outputs(&plan, &mut next_id)?;
        let new_rollups = if task.output == Tier::Cold && !self.options.rollups.is_empty() {
            let keep: std::collections::HashMap<&[u8], i64> = by_series
                .iter()
                .zip(&series_keep_from)
                .map(|((k, _), c)| (&**k, *c))
                .collect();
            let keep_from = |k: &[u8]| keep.get(k).copied().unwrap_or(keep_from);
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
        let outputs = written.records;
        self.failpoint(FailStep::CompactionAfterOutputs)?;
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
        let written: Vec<u64> = outputs.iter().map(|o| o.id).collect();
        self.publish_manifest(manifest, next, &written)?;
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
