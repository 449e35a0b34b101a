//! Deletes: InfluxQL `DELETE`, `DROP SERIES`, `DROP MEASUREMENT` and Prometheus'
//! `delete_series`, all one operation: a predicate over columns and a time range.
//!
//! A delete is a WAL record ordered with the writes. At its turn (the apply turnstile) it
//! removes the covered values from the hot tier and from data being rotated, so a write
//! after it is kept and a write before it is gone, exactly as replay will see it; in the
//! same step readers start filtering covered values out of the segments that existed
//! (a tombstone, see `tombstone`). Then, with the manifest lock held all along (no
//! rotation or compaction in between), the manifest stores the tombstone and the delete's
//! id as `last_delete`. A crash before that store is finished by the next open: replay
//! meets the record with an id above `last_delete` and records it again; the segments
//! that exist then are exactly those that existed at the delete. Compaction purges
//! tombstones (`purge`). Finally, series left with no value in any tier leave the
//! listings.

use super::{Db, Inner};
use crate::error::{Error, Result};
use crate::index::SeriesId;
use crate::manifest::{Manifest, Tombstone};
use crate::model::{Predicate, TimeRange};
use crate::wal::delete::DeleteSpec;
use crate::wal::frame::RecordKind;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteReport {
    /// Series covered.
    pub series: usize,
    /// Values removed from the hot tier.
    pub hot_points: u64,
    /// Segments holding covered values, filtered by reads until compaction rewrites them.
    pub segments_covered: usize,
    /// Covered series left with no data, removed from the listings.
    pub series_removed: usize,
}

impl Db {
    /// Deletes the values of every field of the series of `measurement` whose tags include
    /// every pair in `tags`, at timestamps in `range`.
    pub fn delete(
        &self,
        measurement: &str,
        tags: &[(&str, &str)],
        range: TimeRange,
    ) -> Result<DeleteReport> {
        let mut parts = vec![Predicate::measurement(measurement)];
        parts.extend(tags.iter().map(|(k, v)| Predicate::tag_eq(k, v)));
        self.delete_where(Predicate::And(parts), range)
    }

    /// Deletes the values of every column `predicate` covers at timestamps in `range`
    /// (InfluxQL `DELETE`, Prometheus `delete_series`). Series left without data leave
    /// the listings until written again.
    pub fn delete_where(&self, predicate: Predicate, range: TimeRange) -> Result<DeleteReport> {
        self.inner.delete(DeleteSpec {
            id: 0,
            predicate,
            range,
            drop: false,
        })
    }

    /// Deletes every value of the series `predicate` covers and removes them from the
    /// listings until written again (InfluxQL `DROP SERIES`).
    pub fn drop_series(&self, predicate: Predicate) -> Result<DeleteReport> {
        if predicate.mentions_field() {
            return Err(Error::InvalidInput(
                "DROP SERIES selects series by measurement and tags, not by field".into(),
            ));
        }
        self.inner.delete(DeleteSpec {
            id: 0,
            predicate,
            range: TimeRange::ALL,
            drop: true,
        })
    }

    /// Deletes every value of `measurement` and removes its series from the listings
    /// until written again (InfluxQL `DROP MEASUREMENT`).
    pub fn drop_measurement(&self, measurement: &str) -> Result<DeleteReport> {
        if measurement.is_empty() {
            return Err(Error::InvalidInput("a drop needs a measurement".into()));
        }
        self.drop_series(Predicate::measurement(measurement))
    }
}

impl Inner {
    fn delete(&self, mut spec: DeleteSpec) -> Result<DeleteReport> {
        if spec.range.start >= spec.range.end {
            return Ok(DeleteReport::default());
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
        let mut applied = Ok(Vec::new());
        self.turnstile.pass(seq, || {
            if durable.is_ok() {
                applied = self.delete_in_memory(&spec, &mut report);
            }
        });
        durable?;
        let series = applied?;
        self.failpoint(super::rotate::FailStep::DeleteBeforeSegments)?;
        self.store_tombstones(&mut manifest, spec.id)?;
        drop(manifest);
        report.series_removed = self.hide_empty(&series)?;
        Ok(report)
    }

    /// Removes the covered values from hot and rotating data, hides dropped series, and
    /// adds the tombstone readers filter segments with. Returns the series covered.
    fn delete_in_memory(
        &self,
        spec: &DeleteSpec,
        report: &mut DeleteReport,
    ) -> Result<Vec<SeriesId>> {
        let (cols, series) = {
            let mut index = self.index.write();
            let (cols, series) = super::tombstone::resolve(&index, &spec.predicate);
            if spec.drop {
                for &s in &series {
                    index.set_hidden(s, true);
                }
                self.hide_epoch.fetch_add(1, Ordering::AcqRel);
            }
            (cols, series)
        };
        report.series = series.len();
        let internal =
            |e| Error::Internal(format!("hot chunk does not decode during a delete: {e}"));
        let mut st = self.state.write();
        report.hot_points = st.hot.delete(&cols, spec.range).map_err(internal)?;
        let rotating = std::mem::take(&mut st.rotating);
        for r in rotating {
            st.rotating
                .push(Arc::new(r.without(&cols, spec.range).map_err(internal)?));
        }
        report.segments_covered = add_tombstone(&mut st, spec, cols);
        Ok(series)
    }

    /// Stores the manifest with the tombstones readers use and `last_delete` at least
    /// `id`. The caller holds the manifest lock.
    pub(super) fn store_tombstones(&self, manifest: &mut Manifest, id: u64) -> Result<()> {
        let mut next = manifest.clone();
        next.generation += 1;
        next.last_delete = next.last_delete.max(id);
        next.tombstones = self.state.read().tombstones.records();
        self.publish_manifest(manifest, next, &[])
    }

    /// Replays a delete found in the WAL whose id is above the manifest's `last_delete`
    /// (a crash came before its tombstone was stored): the tombstone is added again.
    /// The hot data was already filtered by replay.
    pub(super) fn redo_delete(&self, spec: &DeleteSpec) -> Result<()> {
        let mut manifest = self.manifest.lock();
        let (cols, _) = super::tombstone::resolve(&self.index.read(), &spec.predicate);
        add_tombstone(&mut self.state.write(), spec, cols);
        self.store_tombstones(&mut manifest, spec.id)
    }

    /// Hides those of `series` that have no value left in any tier; returns how many.
    pub(super) fn hide_empty(&self, series: &[SeriesId]) -> Result<usize> {
        let mut empty = Vec::new();
        for &s in series {
            let columns = self.index.read().columns_of(s);
            let mut has_data = false;
            for (_, c, _) in columns {
                if self.column_bounds(c, TimeRange::ALL)?.is_some() {
                    has_data = true;
                    break;
                }
            }
            if !has_data {
                empty.push(s);
            }
        }
        if !empty.is_empty() {
            let mut index = self.index.write();
            for &s in &empty {
                index.set_hidden(s, true);
            }
            self.hide_epoch.fetch_add(1, Ordering::AcqRel);
        }
        Ok(empty.len())
    }
}

/// Adds the tombstone of `spec` (covering `cols`) for the segments that exist now, if any
/// of them holds covered values; returns how many do.
fn add_tombstone(
    st: &mut super::State,
    spec: &DeleteSpec,
    cols: Vec<crate::index::ColumnId>,
) -> usize {
    let max_segment = st.segments.iter().map(|s| s.seg.id()).max().unwrap_or(0);
    let t = Tombstone {
        max_segment,
        spec: spec.clone(),
    };
    let covered = st
        .segments
        .iter()
        .filter(|s| super::purge::applies(&t, &cols, s))
        .count();
    if covered > 0 {
        st.tombstones = Arc::new(st.tombstones.with(t, cols));
    }
    covered
}
