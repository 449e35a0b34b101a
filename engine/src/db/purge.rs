//! Purging tombstones: which segments still hold values a tombstone covers, the
//! compaction that rewrites one of them, and `clean_tombstones`, which rewrites them all.
//!
//! A tombstone leaves the manifest in the compaction step after which no live segment it
//! applies to holds a covered column with blocks in its range (see `compact`).

use super::{Db, Inner, LiveSegment};
use crate::compaction::Task;
use crate::error::Result;
use crate::index::ColumnId;
use crate::manifest::Tombstone;

/// Whether `t` (covering `cols`) still applies to `live`: the segment existed when the
/// delete was made and holds blocks of a covered column in its time range.
pub(super) fn applies(t: &Tombstone, cols: &[ColumnId], live: &LiveSegment) -> bool {
    let id = live.seg.id();
    if id > t.max_segment {
        return false;
    }
    let (lo, hi) = live.seg.time_range();
    if !t.spec.range.overlaps(lo, hi) {
        return false;
    }
    cols.iter().any(|c| {
        live.column(c)
            .is_some_and(|e| !live.seg.blocks_in(e, t.spec.range).is_empty())
    })
}

impl Inner {
    /// Segments some tombstone applies to, oldest first.
    fn covered_segments(&self) -> Vec<(u64, crate::manifest::Tier)> {
        let st = self.state.read();
        if st.tombstones.is_empty() {
            return Vec::new();
        }
        st.segments
            .iter()
            .filter(|s| st.tombstones.iter().any(|(t, cols)| applies(t, cols, s)))
            .map(|s| (s.seg.id(), s.tier))
            .collect()
    }

    /// A compaction of one segment that a tombstone applies to (in its own tier), if any.
    pub(super) fn purge_task(&self) -> Option<Task> {
        let (id, tier) = *self.covered_segments().first()?;
        Some(Task {
            inputs: vec![id],
            output: tier,
            keep_from: self.cutoffs(),
        })
    }

    /// Rewrites every segment a tombstone applies to; returns how many.
    pub(super) fn clean_tombstones(&self) -> Result<usize> {
        let _one = self.compacting.lock();
        let mut manifest = self.manifest.lock();
        let mut rewritten = 0;
        for (id, tier) in self.covered_segments() {
            let task = Task {
                inputs: vec![id],
                output: tier,
                keep_from: self.cutoffs(),
            };
            if self.compact_locked(&mut manifest, task)?.is_some() {
                rewritten += 1;
            }
        }
        // Tombstones whose segments had no covered data left are dropped too.
        let left = {
            let st = self.state.read();
            st.tombstones
                .retain(|t, cols| st.segments.iter().any(|s| applies(t, cols, s)))
        };
        if left.len() != manifest.tombstones.len() {
            let mut next = manifest.clone();
            next.generation += 1;
            next.tombstones = left.records();
            self.publish_manifest(&mut manifest, next, &[])?;
            self.state.write().tombstones = std::sync::Arc::new(left);
        }
        Ok(rewritten)
    }
}

impl Db {
    /// Rewrites now every segment holding values that a pending delete covers, so that no
    /// tombstone is left (Prometheus' `clean_tombstones`). Returns the segments rewritten.
    pub fn clean_tombstones(&self) -> Result<usize> {
        self.inner.clean_tombstones()
    }

    /// Deletes recorded whose covered values may still be in segment files (reads filter
    /// them out; compaction purges them).
    pub fn pending_tombstones(&self) -> usize {
        self.inner.state.read().tombstones.len()
    }
}
