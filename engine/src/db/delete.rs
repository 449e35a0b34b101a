//! Deletes: `DELETE FROM m WHERE tags AND time` and `DROP MEASUREMENT m`.
//!
//! A delete is a WAL record ordered with the writes: at its turn (the apply turnstile) it
//! removes the covered values from the hot tier and from data being rotated, so a write
//! after it is kept and a write before it is gone, exactly as replay will see it. Then,
//! with the manifest lock held (no rotation or compaction in between), every segment
//! holding covered values is rewritten without them, and the manifest records the
//! delete's id as applied. If a crash comes before that, replay finds the record with an
//! id above the manifest's and rewrites the segments again; once applied, replay only
//! touches the hot data it rebuilds. `DROP MEASUREMENT` also hides the measurement's
//! series from listings until they are written again.

use super::{Db, Inner};
use crate::compaction::Task;
use crate::error::{Error, Result};
use crate::index::{ColumnId, Index};
use crate::model::TimeRange;
use crate::wal::delete::DeleteSpec;
use crate::wal::frame::RecordKind;
use std::sync::Arc;

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteReport {
    /// Series covered.
    pub series: usize,
    /// Values removed from the hot tier.
    pub hot_points: u64,
    /// Segments rewritten.
    pub segments_rewritten: usize,
}

impl Db {
    /// Deletes the values of every field of the series of `measurement` whose tags include
    /// every pair in `tags`, at timestamps in `range` (InfluxQL `DELETE FROM`).
    pub fn delete(
        &self,
        measurement: &str,
        tags: &[(&str, &str)],
        range: TimeRange,
    ) -> Result<DeleteReport> {
        self.inner.delete(DeleteSpec {
            id: 0,
            measurement: measurement.to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            range,
            drop_measurement: false,
        })
    }

    /// Deletes every value of `measurement` and hides its series from listings until they
    /// are written again (InfluxQL `DROP MEASUREMENT`).
    pub fn drop_measurement(&self, measurement: &str) -> Result<DeleteReport> {
        self.inner.delete(DeleteSpec {
            id: 0,
            measurement: measurement.to_owned(),
            tags: Vec::new(),
            range: TimeRange::ALL,
            drop_measurement: true,
        })
    }
}

/// The columns a delete covers, and its series count; hides the series if it drops.
pub(super) fn covered_columns(index: &mut Index, spec: &DeleteSpec) -> (Vec<ColumnId>, usize) {
    let series = index.matching_series(&spec.measurement, &spec.tags);
    let mut cols = Vec::new();
    for &s in &series {
        cols.extend(index.columns_of(s).into_iter().map(|(_, c, _)| c));
        if spec.drop_measurement {
            index.set_hidden(s, true);
        }
    }
    (cols, series.len())
}

impl Inner {
    fn delete(&self, mut spec: DeleteSpec) -> Result<DeleteReport> {
        if spec.measurement.is_empty() {
            return Err(Error::InvalidInput("a delete needs a measurement".into()));
        }
        let mut manifest = self.manifest.lock();
        spec.id = {
            let mut next = self.next_delete.lock();
            *next = (*next).max(manifest.last_delete) + 1;
            *next
        };
        let ticket = self
            .wal
            .submit(RecordKind::Delete, &spec.encode(), i64::MIN)?;
        let seq = ticket.seq;
        let durable = ticket.wait();
        let mut report = DeleteReport::default();
        let mut applied = Ok(());
        self.turnstile.pass(seq, || {
            if durable.is_ok() {
                applied = self.delete_in_memory(&spec, &mut report);
            }
        });
        durable?;
        applied?;
        self.failpoint(super::rotate::FailStep::DeleteBeforeSegments)?;
        report.segments_rewritten = self.rewrite_segments(&mut manifest, &spec)?;
        Ok(report)
    }

    /// Removes the covered values from hot and rotating data (and hides dropped series).
    fn delete_in_memory(&self, spec: &DeleteSpec, report: &mut DeleteReport) -> Result<()> {
        let (cols, series) = covered_columns(&mut self.index.write(), spec);
        report.series = series;
        let internal =
            |e| Error::Internal(format!("hot chunk does not decode during a delete: {e}"));
        let mut st = self.state.write();
        report.hot_points = st.hot.delete(&cols, spec.range).map_err(internal)?;
        let rotating = std::mem::take(&mut st.rotating);
        for r in rotating {
            st.rotating
                .push(Arc::new(r.without(&cols, spec.range).map_err(internal)?));
        }
        Ok(())
    }

    /// Rewrites each segment holding values `spec` covers, then records it as applied.
    /// The caller holds the manifest lock.
    pub(super) fn rewrite_segments(
        &self,
        manifest: &mut crate::manifest::Manifest,
        spec: &DeleteSpec,
    ) -> Result<usize> {
        let cols: Vec<ColumnId> = {
            let ix = self.index.read();
            ix.matching_series(&spec.measurement, &spec.tags)
                .into_iter()
                .flat_map(|s| ix.columns_of(s).into_iter().map(|(_, c, _)| c))
                .collect()
        };
        let affected: Vec<(u64, crate::manifest::Tier)> = {
            let st = self.state.read();
            st.segments
                .iter()
                .filter(|s| {
                    let (lo, hi) = s.seg.time_range();
                    spec.range.overlaps(lo, hi) && cols.iter().any(|c| s.columns.contains_key(c))
                })
                .map(|s| (s.seg.id(), s.tier))
                .collect()
        };
        let mut rewritten = 0;
        for (id, tier) in affected {
            let task = Task {
                inputs: vec![id],
                output: tier,
                keep_from: self.retention_cutoff(),
            };
            if self.compact_locked(manifest, task, Some(spec))?.is_some() {
                rewritten += 1;
            }
        }
        if manifest.last_delete < spec.id {
            let mut next = manifest.clone();
            next.generation += 1;
            next.last_delete = spec.id;
            crate::manifest::store(&self.dir, &next)?;
            *manifest = next;
        }
        Ok(rewritten)
    }
}
