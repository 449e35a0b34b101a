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
//!
//! A query asks for all its columns at once ([`Db::rollup_reads`]), and the days are walked
//! once for them all. A day is judged for every column at a stroke when the only cold
//! segment whose time span touches it is the day file's source (every column's cold data
//! of that day is then in the source) or no cold segment touches it: the rule above then
//! holds for each column that no tombstone names. Otherwise, and for columns a tombstone
//! names, the day is judged column by column from the blocks, as the rule says.

use super::Db;
use crate::compaction::DAY_NANOS;
use crate::error::Result;
use crate::index::ColumnId;
use crate::manifest::Tier;
use crate::model::{FieldType, SeriesKey, TimeRange};
use crate::rollup::store::LiveRollup;
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

/// One column a query asks rollups for.
#[derive(Debug, Clone, Copy)]
pub struct RollupAsk<'a> {
    /// The series.
    pub key: &'a SeriesKey,
    /// The column's index id.
    pub column: ColumnId,
    /// The field's name.
    pub field: &'a str,
    /// The column's type.
    pub ty: FieldType,
}

/// Where one asked column stands while the days are walked.
struct Walk {
    /// Position in the asks.
    ask: usize,
    key: Vec<u8>,
    /// Below this the column's buckets may answer (cut by warm and hot data, then by the
    /// first day that cannot answer).
    end: i64,
    stopped: bool,
    /// Whether a tombstone names the column (its days are then judged one by one).
    tombstoned: bool,
    parts: Vec<BucketSlice>,
    files: usize,
    /// The column's directory position and field index in the files of naming
    /// generation `named.0` (files that list the same names share a generation).
    named: (u64, Option<(usize, u32)>),
}

/// Whether a day's rollup file (`file`, if any) holds exactly what the cold segments `held`
/// hold that day: none holds anything, or the only one is the file's source.
fn exact_day(file: Option<&Arc<LiveRollup>>, mut held: impl Iterator<Item = u64>) -> bool {
    match (held.next(), held.next(), file) {
        (None, _, _) => true,
        (Some(s), None, Some(f)) => s == f.source,
        _ => false,
    }
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
        let ask = RollupAsk {
            key,
            column,
            field,
            ty,
        };
        Ok(self
            .rollup_reads(&[ask], range, need, usable)?
            .pop()
            .flatten())
    }

    /// [`Db::rollup_read`] for many columns at once, one answer per ask in order: the
    /// same answers, but each day's file is opened once, its directory walked once in key
    /// order, and the exactness of a day decided once for every column whenever the day
    /// has a single cold segment that is its rollup file's source and no tombstone names
    /// the column (the common case); otherwise column by column as the rules above say.
    pub fn rollup_reads(
        &self,
        asks: &[RollupAsk<'_>],
        range: TimeRange,
        need: Aggregates,
        usable: &dyn Fn(i64) -> bool,
    ) -> Result<Vec<Option<RollupRead>>> {
        let inner = &self.inner;
        let mut out: Vec<Option<RollupRead>> = vec![None; asks.len()];
        // The rule of each ask: the coarsest fitting one for its measurement.
        let rule_of = |a: &RollupAsk<'_>| {
            if !rolls_up(a.ty) {
                return None;
            }
            (inner.options.rollups.iter().enumerate())
                .filter(|(_, r)| r.matches(a.key.measurement()))
                .filter(|(_, r)| r.aggregates().has(need.0) && usable(r.interval()))
                .max_by_key(|(_, r)| r.interval())
                .map(|(i, _)| i)
        };
        let rules: Vec<Option<usize>> = asks.iter().map(rule_of).collect();
        let mut distinct: Vec<usize> = rules.iter().flatten().copied().collect();
        distinct.sort_unstable();
        distinct.dedup();
        for r in distinct {
            let mine: Vec<usize> = (0..asks.len()).filter(|&k| rules[k] == Some(r)).collect();
            self.rollup_reads_of(r, asks, &mine, range, need, &mut out)?;
        }
        Ok(out)
    }

    /// The reads of the asks `mine`, which all use rule `r`, into `out`.
    fn rollup_reads_of(
        &self,
        r: usize,
        asks: &[RollupAsk<'_>],
        mine: &[usize],
        range: TimeRange,
        need: Aggregates,
        out: &mut [Option<RollupRead>],
    ) -> Result<()> {
        let inner = &self.inner;
        let rule = &inner.options.rollups[r];
        let i = rule.interval();
        let now = inner.options.clock.now_nanos();
        let a = align_up(range.start.max(rule.cutoff(now)), i);
        let b = align_down(range.end, i);
        if a >= b {
            return Ok(());
        }
        let (segments, tombstones, hot_lo) = {
            let st = inner.state.read();
            let hot_lo: Vec<i64> = (mine.iter())
                .map(|&k| {
                    let mut lo = i64::MAX;
                    for t in st.rotating.iter().map(|r| &**r).chain([&st.hot]) {
                        if let Some((x, _)) = t.bounds(asks[k].column) {
                            lo = lo.min(x);
                        }
                    }
                    lo
                })
                .collect();
            (st.segments.clone(), st.tombstones.clone(), hot_lo)
        };
        // Segments in [a, b): cold ones by the days their span touches, the others (few:
        // warm data not yet compacted) checked column by column.
        let mut cold: Vec<(i64, usize)> = Vec::new();
        let mut other: Vec<usize> = Vec::new();
        for (s, live) in segments.iter().enumerate() {
            let (lo, hi) = live.seg.time_range();
            if hi < a || lo >= b {
                continue;
            }
            if live.tier != Tier::Cold {
                other.push(s);
                continue;
            }
            let (d0, d1) = (
                lo.max(a).div_euclid(DAY_NANOS),
                hi.min(b - 1).div_euclid(DAY_NANOS),
            );
            cold.extend((d0..=d1).map(|d| (d, s)));
        }
        cold.sort_unstable();
        let days = usize::try_from((b - 1).div_euclid(DAY_NANOS) - a.div_euclid(DAY_NANOS) + 1)
            .unwrap_or(0)
            .min(4096);
        let mut walks: Vec<Walk> = Vec::with_capacity(mine.len());
        for (&k, lo) in mine.iter().zip(hot_lo) {
            let ask = &asks[k];
            let mut end = b.min(align_down(lo, i));
            for &s in &other {
                let live = &segments[s];
                let Some(entry) = live.column(&ask.column) else {
                    continue;
                };
                let blocks = live.seg.blocks_in(entry, TimeRange::new(a, end.max(a)));
                if !blocks.is_empty() {
                    end = end.min(align_down(live.seg.block_meta(blocks.start).min_ts, i));
                }
            }
            if a >= end {
                continue;
            }
            let mut key = Vec::new();
            ask.key.encode_into(&mut key);
            walks.push(Walk {
                ask: k,
                key,
                end,
                stopped: false,
                tombstoned: tombstones.touches(ask.column),
                // At most one part a day.
                parts: Vec::with_capacity(days),
                files: 0,
                named: (0, None),
            });
        }
        // Sorted by (key, field): each day's directory is then walked once, forward.
        walks.sort_by(|x, y| (&x.key, asks[x.ask].field).cmp(&(&y.key, asks[y.ask].field)));
        let Some(last_end) = walks.iter().map(|w| w.end).max() else {
            return Ok(());
        };
        let first_day = a.div_euclid(DAY_NANOS);
        let last_day = (last_end - 1).div_euclid(DAY_NANOS);
        let files = inner.rollups.range(&rule.key(), first_day..last_day + 1);
        let mut stripes: Vec<Option<Arc<BucketColumns>>> = Vec::new();
        // Consecutive files naming the same keys and fields share positions: each
        // column is looked up once per run of them, not once a day.
        let mut named: Option<Arc<crate::rollup::file::RollupFile>> = None;
        let mut generation = 0u64;
        let (mut ci, mut fi) = (0, 0);
        for day in first_day..=last_day {
            while ci < cold.len() && cold[ci].0 < day {
                ci += 1;
            }
            let sources = &cold[ci..ci + cold[ci..].partition_point(|c| c.0 == day)];
            while fi < files.len() && files[fi].0 < day {
                fi += 1;
            }
            let live_file = files.get(fi).filter(|f| f.0 == day).map(|f| &f.1);
            // True: the verdict for every column no tombstone names (whatever cold data a
            // column has this day lies in these segments). False: judge column by column.
            let day_ok = exact_day(live_file, sources.iter().map(|c| segments[c.1].seg.id()));
            let file = match live_file {
                Some(f) => Some(f.file()?),
                None => None,
            };
            let keeps = file
                .as_ref()
                .is_none_or(|f| Aggregates(f.meta.aggregates).has(need.0));
            if let Some(f) = &file {
                if !named.as_ref().is_some_and(|p| p.same_names(f)) {
                    generation += 1;
                }
                named = Some(f.clone());
            }
            let mut cursor = file.as_ref().map(|f| f.cursor());
            stripes.clear();
            let (day_lo, day_hi) = (day * DAY_NANOS, (day + 1) * DAY_NANOS - 1);
            for w in walks.iter_mut() {
                if w.stopped || day > (w.end - 1).div_euclid(DAY_NANOS) {
                    continue;
                }
                let ask = &asks[w.ask];
                // The day's verdict, or else column by column: the cold segments holding it
                // this day must be exactly the file's source, and no tombstone may touch it.
                let exact = (day_ok && !w.tombstoned) || {
                    let mut held: Vec<u64> = Vec::new();
                    let mut touched = false;
                    for &(_, s) in sources {
                        let live = &segments[s];
                        let Some(entry) = live.column(&ask.column) else {
                            continue;
                        };
                        let span = TimeRange::new(day_lo.max(a), (day_hi + 1).min(w.end));
                        if live.seg.blocks_in(entry, span).is_empty() {
                            continue;
                        }
                        held.push(live.seg.id());
                        touched |= tombstones
                            .ranges(live.seg.id(), ask.column)
                            .iter()
                            .any(|r| r.overlaps(day_lo, day_hi));
                    }
                    !touched && exact_day(live_file, held.into_iter())
                };
                let ok = exact
                    && match (&file, live_file, cursor.as_mut()) {
                        (Some(file), Some(f), Some(cursor)) if keeps => {
                            w.files += 1;
                            if w.named.0 != generation {
                                let pos = cursor.seek_key(&w.key);
                                let field = file.field_id(ask.field);
                                w.named = (generation, pos.zip(field));
                            }
                            let loc = w.named.1.and_then(|(p, f)| file.locate_at(p, f));
                            if let Some((j, bk)) = loc {
                                if stripes.len() <= j {
                                    stripes.resize(j + 1, None);
                                }
                                let stripe = match &stripes[j] {
                                    Some(s) => s.clone(),
                                    None => {
                                        let s = inner.rollups.stripe(f, file, j)?;
                                        stripes[j] = Some(s.clone());
                                        s
                                    }
                                };
                                // A day wholly inside [a, end) takes all its buckets
                                // (decoding keeps a file's buckets inside its day).
                                let whole = day_lo >= a && day_hi < w.end && file.meta.day == day;
                                let fits = stripe.ty() == ask.ty
                                    && stripe.start.get(bk.clone()).is_some_and(|starts| {
                                        let (lo, hi) = if whole {
                                            (bk.start, bk.end)
                                        } else {
                                            (
                                                bk.start + starts.partition_point(|&s| s < a),
                                                bk.start + starts.partition_point(|&s| s < w.end),
                                            )
                                        };
                                        if hi > lo {
                                            w.parts.push(BucketSlice {
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
                                            "rollup buckets of {} that are {:?} and inside their stripe",
                                            ask.field, ask.ty
                                        ),
                                    });
                                }
                            }
                            true
                        }
                        (Some(_), _, _) => false,
                        _ => true,
                    };
                if !ok {
                    w.end = w.end.min(day.saturating_mul(DAY_NANOS).max(a));
                    w.stopped = true;
                }
            }
        }
        // A walk's parts need no trimming: `end` only falls to the start of a day that
        // answered nothing, after every part taken (each cut at `end` as it was then).
        for w in walks {
            let end = w.end;
            if a >= end {
                continue;
            }
            out[w.ask] = Some(RollupRead {
                interval: i,
                rule: rule.pattern(),
                covered: TimeRange::new(a, end),
                parts: w.parts,
                files: w.files,
            });
        }
        Ok(())
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
