//! Reads for query executors from rollups: which part of a range a rule's buckets answer
//! exactly, and those buckets; plus rollup retention and the rules' status.
//!
//! A day's rollup file answers for column C only when it holds exactly what the raw data
//! would give: no warm, rotating or hot data of C reaches into the buckets used (those
//! are not rolled up yet); every cold segment holding C in that day is the file's source
//! (a later cold rewrite of the day without rollups, or a failed one, makes it stale); no
//! tombstone applies to C there (the buckets still count deleted values until the next
//! compaction of the day); and the file keeps the aggregates asked for. A day with neither
//! cold data of C nor a rollup file holds nothing. Raw data that expired is no reason to
//! refuse: that is what rollups are for (buckets are kept to the rule's own retention).

use super::Db;
use crate::compaction::DAY_NANOS;
use crate::error::Result;
use crate::index::ColumnId;
use crate::manifest::Tier;
use crate::model::{FieldType, SeriesKey, TimeRange};
use crate::rollup::{Aggregates, BucketColumns, rolls_up};
use std::ops::Range;
use std::sync::Arc;

/// What a query can take from rollups for one column.
#[derive(Debug, Clone)]
pub struct RollupRead {
    /// The rule's bucket width (ns).
    pub interval: i64,
    /// The rule's pattern.
    pub rule: String,
    /// The part of the asked range the buckets answer: bucket-aligned, inside it. Points
    /// outside it must be read raw.
    pub covered: TimeRange,
    /// The buckets within `covered`, by start: slices of decoded stripes, shared with the
    /// stripe cache (nothing is copied per bucket).
    pub parts: Vec<BucketSlice>,
    /// Rollup files read.
    pub files: usize,
}

/// Buckets `range` of a decoded stripe.
#[derive(Debug, Clone)]
pub struct BucketSlice {
    /// The stripe's columns.
    pub cols: Arc<BucketColumns>,
    /// The buckets taken from it.
    pub range: Range<usize>,
}

impl RollupRead {
    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.range.len()).sum()
    }

    /// Whether there are no buckets.
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(|p| p.range.is_empty())
    }

    /// The buckets copied into columns of their own, without sketches (for checks and
    /// tools; queries read [`RollupRead::parts`]).
    pub fn buckets(&self) -> Option<BucketColumns> {
        let ty = self.parts.first()?.cols.ty();
        let mut out = BucketColumns::new(ty)?;
        for p in &self.parts {
            if !out.extend(&p.cols, p.range.clone(), false) {
                return None;
            }
        }
        Some(out)
    }
}

/// One rollup rule in force and its live files (for status pages).
#[derive(Debug, Clone)]
pub struct RollupStatus {
    /// The rule.
    pub rule: crate::rollup::RollupRule,
    /// The oldest bucket start kept now (`None`: kept forever); older buckets are hidden
    /// at once and their files dropped by the next maintenance run.
    pub cutoff: Option<i64>,
    /// Live rollup files of the rule.
    pub files: usize,
    /// Their bytes on disk.
    pub bytes: u64,
    /// The first and last UTC day (days since the epoch) with a live file.
    pub days: Option<(i64, i64)>,
}

fn align_up(t: i64, i: i64) -> i64 {
    let r = t.rem_euclid(i);
    if r == 0 { t } else { t.saturating_add(i - r) }
}

fn align_down(t: i64, i: i64) -> i64 {
    t - t.rem_euclid(i)
}

impl Db {
    /// The rollup buckets that answer column `column` (field `field` of series `key`) over
    /// as much of `range` as they can, from the coarsest rule whose interval `usable`
    /// accepts and which keeps `need`; `None` when no rollup answers any of it.
    #[allow(clippy::too_many_arguments)]
    pub fn rollup_read(
        &self,
        key: &SeriesKey,
        column: ColumnId,
        field: &str,
        ty: FieldType,
        range: TimeRange,
        need: Aggregates,
        usable: &dyn Fn(i64) -> bool,
    ) -> Result<Option<RollupRead>> {
        let inner = &self.inner;
        if !rolls_up(ty) {
            return Ok(None);
        }
        let Some(rule) = inner
            .options
            .rollups
            .iter()
            .filter(|r| r.matches(key.measurement()))
            .filter(|r| r.aggregates().has(need.0) && usable(r.interval()))
            .max_by_key(|r| r.interval())
        else {
            return Ok(None);
        };
        let i = rule.interval();
        let now = inner.options.clock.now_nanos();
        let mut a = align_up(range.start.max(rule.cutoff(now)), i);
        let mut b = align_down(range.end, i);
        let (segments, tombstones, hot_lo) = {
            let st = inner.state.read();
            let mut lo = i64::MAX;
            for t in st.rotating.iter().map(|r| &**r).chain([&st.hot]) {
                if let Some((x, _)) = t.bounds(column) {
                    lo = lo.min(x);
                }
            }
            (st.segments.clone(), st.tombstones.clone(), lo)
        };
        b = b.min(align_down(hot_lo, i));
        if a >= b {
            return Ok(None);
        }
        // Cold sources per day, days a tombstone touches, and where warm data begins (as
        // sorted vectors: this runs once per column a query reads).
        let mut cold: Vec<(i64, u64)> = Vec::new();
        let mut touched: Vec<i64> = Vec::new();
        for live in &segments {
            let Some(entry) = live.column(&column) else {
                continue;
            };
            let blocks = live.seg.blocks_in(entry, TimeRange::new(a, b));
            if blocks.is_empty() {
                continue;
            }
            if live.tier != Tier::Cold {
                let lo = live.seg.block_meta(blocks.start).min_ts;
                b = b.min(align_down(lo, i));
                continue;
            }
            let deleted = tombstones.ranges(live.seg.id(), column);
            for blk in blocks {
                let m = live.seg.block_meta(blk);
                for d in m.min_ts.div_euclid(DAY_NANOS)..=m.max_ts.div_euclid(DAY_NANOS) {
                    if cold.last() != Some(&(d, live.seg.id())) {
                        cold.push((d, live.seg.id()));
                    }
                    let (lo, hi) = (d * DAY_NANOS, (d + 1) * DAY_NANOS - 1);
                    if deleted.iter().any(|r| r.overlaps(lo, hi)) {
                        touched.push(d);
                    }
                }
            }
        }
        cold.sort_unstable();
        cold.dedup();
        touched.sort_unstable();
        if a >= b {
            return Ok(None);
        }
        let first_day = a.div_euclid(DAY_NANOS);
        let last_day = (b - 1).div_euclid(DAY_NANOS);
        let files = inner.rollups.range(&rule.key(), first_day..last_day + 1);
        let mut key_bytes = Vec::new();
        key.encode_into(&mut key_bytes);
        let mut parts: Vec<BucketSlice> = Vec::new();
        let mut read = 0;
        let mut end = b;
        let (mut ci, mut fi) = (0, 0);
        for day in first_day..=last_day {
            while ci < cold.len() && cold[ci].0 < day {
                ci += 1;
            }
            let sources = &cold[ci..ci + cold[ci..].partition_point(|c| c.0 == day)];
            while fi < files.len() && files[fi].0 < day {
                fi += 1;
            }
            let file = files.get(fi).filter(|f| f.0 == day).map(|f| &f.1);
            let ok = touched.binary_search(&day).is_err()
                && match (file, sources) {
                    (_, []) => true,
                    (None, _) => false,
                    (Some(f), [(_, s)]) => *s == f.source,
                    (Some(_), _) => false,
                };
            let ok = ok
                && match file {
                    None => true,
                    Some(f) => {
                        let file = f.file()?;
                        if Aggregates(file.meta.aggregates).has(need.0) {
                            read += 1;
                            if let Some((j, range)) = file.locate(&key_bytes, field) {
                                let stripe = inner.rollups.stripe(f, &file, j)?;
                                let fits = stripe.ty() == ty
                                    && stripe.start.get(range.clone()).is_some_and(|starts| {
                                        let lo = range.start + starts.partition_point(|&s| s < a);
                                        let hi = range.start + starts.partition_point(|&s| s < b);
                                        if hi > lo {
                                            parts.push(BucketSlice {
                                                cols: stripe.clone(),
                                                range: lo..hi,
                                            });
                                        }
                                        true
                                    });
                                if !fits {
                                    return Err(crate::error::Error::Corrupt {
                                        file: f.path.clone(),
                                        offset: 0,
                                        what: format!(
                                            "rollup buckets of {field} that are {ty:?} and inside their stripe"
                                        ),
                                    });
                                }
                            }
                            true
                        } else {
                            false
                        }
                    }
                };
            if !ok {
                end = end.min(day.saturating_mul(DAY_NANOS).max(a));
                break;
            }
        }
        for p in &mut parts {
            let cut = p.cols.start[p.range.clone()].partition_point(|&s| s < end);
            p.range.end = p.range.start + cut;
        }
        parts.retain(|p| !p.range.is_empty());
        a = a.min(end);
        if a >= end {
            return Ok(None);
        }
        Ok(Some(RollupRead {
            interval: i,
            rule: rule.pattern(),
            covered: TimeRange::new(a, end),
            parts,
            files: read,
        }))
    }
}

impl super::Inner {
    /// Drops the rollup files past their rule's retention at the clock's now.
    pub(super) fn drop_expired_rollups(&self) -> Result<usize> {
        let now = self.options.clock.now_nanos();
        let mut n = 0;
        for rule in &self.options.rollups {
            n += self.rollups.drop_before(&rule.key(), rule.cutoff(now))?;
        }
        Ok(n)
    }
}

impl Db {
    /// Every rollup rule in force, in configuration order, with its live files.
    pub fn rollup_status(&self) -> Vec<RollupStatus> {
        let inner = &self.inner;
        let now = inner.options.clock.now_nanos();
        let live = inner.rollups.all();
        inner
            .options
            .rollups
            .iter()
            .map(|rule| {
                let key = rule.key();
                let mine = live.iter().filter(|(k, _)| *k == key).map(|(_, f)| f);
                let mut st = RollupStatus {
                    rule: rule.clone(),
                    cutoff: rule.retention().map(|_| rule.cutoff(now)),
                    files: 0,
                    bytes: 0,
                    days: None,
                };
                for f in mine {
                    st.files += 1;
                    st.bytes += f.bytes;
                    st.days = Some(match st.days {
                        None => (f.day, f.day),
                        Some((lo, hi)) => (lo.min(f.day), hi.max(f.day)),
                    });
                }
                st
            })
            .collect()
    }
}
