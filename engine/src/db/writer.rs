//! The batch writer every write path shares: resolves series and columns through the
//! index, refuses lines one by one, encodes one WAL record for the whole batch, and after
//! the WAL has it applies the values to the hot tier in WAL order.
//!
//! Costs per line are kept flat: the index's read lock is taken once and held across
//! lines (yielded every [`BUMP_EVERY`] lines to a waiting writer, and dropped whenever a
//! series or column must be created under the write lock); each series of the batch gets
//! its slot in the record's series table once, with its `value` column for Prometheus
//! samples, so a sample after the first costs no hash lookup beyond its series key's.
//! The record names a series by its id (the WAL file's dictionary number, `wal::dict`),
//! never by its key: the request thread does not read a series key at all; the WAL
//! writer thread defines each id with its key once per file.
//!
//! Each serialised section a batch passes through (the index's write lock, the WAL, the
//! apply turnstile, the state's write lock) is timed with one clock pair per batch (per
//! acquisition for the rare index write lock) into relaxed atomics:
//! [`crate::metrics::WritePathSnapshot`].
//!
//! Lock order: nothing else is locked while the index read guard is held, and the guard
//! is always dropped before the index's write lock is taken, so a writer never waits on
//! itself.

use super::Inner;
use super::limits::{self, Limit};
use super::submit_order::Turn;
use crate::error::Result;
use crate::hot::HotEntry;
use crate::index::{ColumnId, Index, RAW_KINDS, RAW_NO_HINT, RawKind, SeriesId};
use crate::metrics::SectionTimer;
use crate::model::{
    FieldType, FieldValue, FieldValueRef, MAX_TIMESTAMP, MIN_TIMESTAMP, SeriesKey,
    timestamp_in_range,
};
use crate::wal::batch::BatchEncoder;
use crate::write::{RejectReason, RejectedLine, WriteSummary};
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Lines between two yields of the index read lock to a waiting writer.
const BUMP_EVERY: u32 = 256;

/// The one field a Prometheus sample becomes.
const VALUE_FIELD: &str = "value";

const NO_COLUMN: u32 = u32::MAX;

/// A field of a line, whatever the input type holds it as.
pub(crate) trait FieldLike {
    fn name(&self) -> &str;
    fn value(&self) -> FieldValueRef<'_>;
}

impl FieldLike for (Cow<'_, str>, crate::ingest::line_protocol::ParsedValue<'_>) {
    fn name(&self) -> &str {
        &self.0
    }
    fn value(&self) -> FieldValueRef<'_> {
        self.1.as_ref()
    }
}

impl FieldLike for (&str, FieldValueRef<'_>) {
    fn name(&self) -> &str {
        self.0
    }
    fn value(&self) -> FieldValueRef<'_> {
        self.1
    }
}

/// A series of the batch, resolved: where it is in the record's series table and (for
/// samples) its `value` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesHandle {
    slot: u32,
    column: ColumnId,
}

impl SeriesHandle {
    /// The series' number within its batch: equal for two handles of one series in one
    /// batch, dense from 0 (a caller can index a `Vec` with it).
    pub fn index(self) -> usize {
        self.slot as usize
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    sid: SeriesId,
    /// Index in the WAL record's series table.
    wal: u64,
    /// The float `value` column, once resolved for samples.
    value_column: u32,
    /// Hidden by `DROP MEASUREMENT`: shown again at commit if a line of it is stored.
    hidden: bool,
    used: bool,
}

/// The index's write guard, timed: the wait for it and how long it is held are added to
/// the `index_create` section when it is dropped.
struct IndexWrite<'a> {
    guard: RwLockWriteGuard<'a, Index>,
    waited: Duration,
    entered: Instant,
    timer: &'a SectionTimer,
}

impl<'a> IndexWrite<'a> {
    fn take(inner: &'a Inner) -> IndexWrite<'a> {
        let asked = Instant::now();
        let guard = inner.index.write();
        let entered = Instant::now();
        IndexWrite {
            guard,
            waited: entered - asked,
            entered,
            timer: &inner.counters.write.index_create,
        }
    }
}

impl std::ops::Deref for IndexWrite<'_> {
    type Target = Index;
    fn deref(&self) -> &Index {
        &self.guard
    }
}

impl std::ops::DerefMut for IndexWrite<'_> {
    fn deref_mut(&mut self) -> &mut Index {
        &mut self.guard
    }
}

impl Drop for IndexWrite<'_> {
    fn drop(&mut self) {
        self.timer.record(self.waited, self.entered.elapsed());
    }
}

pub(crate) struct Writer<'a> {
    inner: &'a Inner,
    /// When the batch began, for the write path's totals.
    started: Instant,
    ix: Option<RwLockReadGuard<'a, Index>>,
    since_bump: u32,
    enc: BatchEncoder,
    slot_of: FxHashMap<SeriesId, u32>,
    slots: Vec<Slot>,
    entries: Vec<HotEntry>,
    columns: Vec<ColumnId>,
    max_ts: i64,
    /// Retention cutoffs when the batch began, per group: older lines are refused.
    keep_from: crate::retention::Cutoffs,
    summary: WriteSummary,
    /// Raw-cache hints, per format ([`Index::lookup_raw_hinted`]).
    hints: [u32; RAW_KINDS],
    /// `Inner::hide_epoch` when the batch began: if a delete hid series since, the
    /// batch's series are shown again once its values are in the hot tier.
    hide_epoch: u64,
    /// Acknowledged once the WAL has the record written, not fsynced
    /// ([`crate::wal::Wal::submit_write_deferred`]).
    deferred_sync: bool,
}

/// The read guard, taken if needed, yielded now and then to waiting writers.
fn guard<'g, 'a>(
    ix: &'g mut Option<RwLockReadGuard<'a, Index>>,
    inner: &'a Inner,
    since_bump: &mut u32,
) -> &'g Index {
    *since_bump += 1;
    if *since_bump >= BUMP_EVERY {
        *since_bump = 0;
        if let Some(g) = ix.as_mut() {
            RwLockReadGuard::bump(g);
        }
    }
    ix.get_or_insert_with(|| inner.index.read())
}

impl<'a> Writer<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Writer<'a> {
        Writer::with_capacity(inner, 0, 0)
    }

    /// A writer with room for `series` series and `samples` one-field lines.
    pub(crate) fn with_capacity(inner: &'a Inner, series: usize, samples: usize) -> Writer<'a> {
        Writer {
            inner,
            started: Instant::now(),
            ix: None,
            since_bump: 0,
            enc: BatchEncoder::with_capacity(series, samples),
            slot_of: FxHashMap::with_capacity_and_hasher(series, Default::default()),
            slots: Vec::with_capacity(series),
            entries: Vec::with_capacity(samples),
            columns: Vec::new(),
            max_ts: i64::MIN,
            keep_from: inner.cutoffs(),
            summary: WriteSummary::default(),
            hints: [RAW_NO_HINT; RAW_KINDS],
            hide_epoch: inner.hide_epoch.load(std::sync::atomic::Ordering::Acquire),
            deferred_sync: false,
        }
    }

    /// Makes the batch's commit wait for the WAL write only, the fsync following within a
    /// second ([`crate::wal::Wal::submit_write_deferred`]).
    pub(crate) fn defer_sync(&mut self) {
        self.deferred_sync = true;
    }

    pub(crate) fn options(&self) -> &'a crate::Options {
        &self.inner.options
    }

    /// The index's write lock; the read guard is dropped first.
    fn write_index(&mut self) -> IndexWrite<'a> {
        self.ix = None;
        IndexWrite::take(self.inner)
    }

    pub(crate) fn reject(&mut self, line: usize, column: usize, reason: RejectReason) {
        self.summary.rejected.push(RejectedLine {
            line,
            column,
            reason,
        });
    }

    /// The series spelled `raw` in format `kind`, if the index has seen that spelling.
    #[inline]
    pub(crate) fn lookup_raw(&mut self, kind: RawKind, raw: &[u8]) -> Option<SeriesId> {
        let hint = &mut self.hints[kind as usize];
        guard(&mut self.ix, self.inner, &mut self.since_bump).lookup_raw_hinted(kind, raw, hint)
    }

    /// The series spelled `raw` in format `kind`; on a miss, `key` builds (or refuses) it,
    /// and the series is created within the limits and the spelling remembered.
    pub(crate) fn resolve_raw(
        &mut self,
        kind: RawKind,
        raw: &[u8],
        key: impl FnOnce() -> std::result::Result<SeriesKey, RejectReason>,
    ) -> std::result::Result<SeriesId, RejectReason> {
        if let Some(id) = self.lookup_raw(kind, raw) {
            return Ok(id);
        }
        self.create_raw(kind, raw, key)
    }

    /// The series spelled `raw`, which the raw cache does not know: `key` builds (or
    /// refuses) it, and it is created within the limits and the spelling remembered.
    fn create_raw(
        &mut self,
        kind: RawKind,
        raw: &[u8],
        key: impl FnOnce() -> std::result::Result<SeriesKey, RejectReason>,
    ) -> std::result::Result<SeriesId, RejectReason> {
        let key = key()?;
        let mut canonical = Vec::new();
        key.encode_into(&mut canonical);
        self.create(&key, &canonical, Some((kind, raw)))
    }

    /// [`Writer::resolve_raw`] then [`Writer::sample_series`]; a known spelling whose
    /// `value` column the raw cache remembers skips the column lookup.
    pub(crate) fn resolve_raw_sample(
        &mut self,
        kind: RawKind,
        raw: &[u8],
        key: impl FnOnce() -> std::result::Result<SeriesKey, RejectReason>,
    ) -> std::result::Result<SeriesHandle, RejectReason> {
        let Some(sid) = self.lookup_raw(kind, raw) else {
            // A miss: create it without asking the raw cache a second time.
            let sid = self.create_raw(kind, raw, key)?;
            return self.sample_series(sid);
        };
        let entry = self.hints[kind as usize];
        let ix = guard(&mut self.ix, self.inner, &mut self.since_bump);
        if let Some(column) = ix.raw_value_column(kind, entry) {
            let slot = self.slot(sid);
            let s = &mut self.slots[slot as usize];
            if s.value_column == NO_COLUMN {
                s.value_column = column.0;
            }
            return Ok(SeriesHandle {
                slot,
                column: ColumnId(s.value_column),
            });
        }
        let h = self.sample_series(sid)?;
        guard(&mut self.ix, self.inner, &mut self.since_bump)
            .remember_raw_value_column(kind, entry, h.column);
        Ok(h)
    }

    /// The series `key` (whose canonical encoding is `canonical`), created if needed.
    pub(crate) fn resolve_key(
        &mut self,
        key: &SeriesKey,
        canonical: &[u8],
    ) -> std::result::Result<SeriesId, RejectReason> {
        if let Some(id) =
            guard(&mut self.ix, self.inner, &mut self.since_bump).lookup_key(canonical)
        {
            return Ok(id);
        }
        self.create(key, canonical, None)
    }

    fn create(
        &mut self,
        key: &SeriesKey,
        canonical: &[u8],
        raw: Option<(RawKind, &[u8])>,
    ) -> std::result::Result<SeriesId, RejectReason> {
        let inner = self.inner;
        let mut ix = self.write_index();
        let id = match ix.lookup_key(canonical) {
            Some(id) => id,
            None => {
                let now = inner.options.clock.now_nanos();
                let mut bucket = inner.new_series.lock();
                if let Some((which, reason)) =
                    limits::check(&inner.options, &ix, &mut bucket, key, now)
                {
                    let c = match which {
                        Limit::PerMetric => &inner.counters.series_limit_per_metric,
                        Limit::PerMinute => &inner.counters.series_limit_per_minute,
                    };
                    c.fetch_add(1, Ordering::Relaxed);
                    return Err(reason);
                }
                inner
                    .counters
                    .series_created
                    .fetch_add(1, Ordering::Relaxed);
                ix.get_or_create(key, canonical)
            }
        };
        if let Some((kind, raw)) = raw {
            ix.remember_raw(kind, raw, id);
        }
        Ok(id)
    }

    /// The batch slot of series `sid`, added to the record's series table on first use.
    fn slot(&mut self, sid: SeriesId) -> u32 {
        if let Some(&s) = self.slot_of.get(&sid) {
            return s;
        }
        let hidden = guard(&mut self.ix, self.inner, &mut self.since_bump).is_hidden(sid);
        let wal = self.enc.add_series(sid.0);
        let s = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Slot {
            sid,
            wal,
            value_column: NO_COLUMN,
            hidden,
            used: false,
        });
        self.slot_of.insert(sid, s);
        s
    }

    /// Refuses a line of series `sid` whose timestamp queries cannot address or retention
    /// has dropped.
    fn check_time(&mut self, line: usize, sid: SeriesId, ts: i64) -> bool {
        if !timestamp_in_range(ts) {
            self.reject(
                line,
                1,
                RejectReason::TimestampOutOfRange {
                    timestamp: ts,
                    min: MIN_TIMESTAMP,
                    max: MAX_TIMESTAMP,
                },
            );
            return false;
        }
        self.check_retention(line, sid, ts)
    }

    /// Refuses a line of series `sid` older than its measurement's retention cutoff,
    /// naming the rule that set it.
    fn check_retention(&mut self, line: usize, sid: SeriesId, ts: i64) -> bool {
        // Without rules, every series has the global cutoff: no index lookup.
        let group = if self.inner.retention.has_rules() {
            guard(&mut self.ix, self.inner, &mut self.since_bump).retention_group(sid)
        } else {
            crate::retention::RetentionGroup::GLOBAL
        };
        let cutoff = self.keep_from.of(group);
        if ts >= cutoff {
            return true;
        }
        let rule = self.inner.retention.describe(group);
        self.reject(
            line,
            1,
            RejectReason::BeyondRetention {
                timestamp: ts,
                cutoff,
                rule,
            },
        );
        false
    }

    /// Resolves the line's columns (refusing it on a type conflict) and adds it to the
    /// WAL record and the hot entries. The caller has checked the timestamp's range.
    pub(crate) fn add_line<F: FieldLike>(
        &mut self,
        line_no: usize,
        sid: SeriesId,
        fields: &[F],
        ts: i64,
    ) {
        if !self.check_retention(line_no, sid, ts) {
            return;
        }
        self.columns.clear();
        let mut missing = false;
        {
            let ix = guard(&mut self.ix, self.inner, &mut self.since_bump);
            for f in fields {
                let v = f.value();
                match ix.find_column(sid, f.name(), v.field_type()) {
                    Ok(Some(c)) => self.columns.push(c),
                    Ok(None) => missing = true,
                    Err(e) => {
                        return self.reject(line_no, 1, RejectReason::FieldType(e));
                    }
                }
            }
        }
        if missing {
            self.columns.clear();
            let mut ix = self.write_index();
            // Check every field before creating any, so a refused line registers nothing.
            for f in fields {
                if let Err(e) = ix.find_column(sid, f.name(), f.value().field_type()) {
                    drop(ix);
                    return self.reject(line_no, 1, RejectReason::FieldType(e));
                }
            }
            for f in fields {
                match ix.column_or_create(sid, f.name(), f.value().field_type()) {
                    Ok(c) => self.columns.push(c),
                    Err(e) => {
                        drop(ix);
                        return self.reject(line_no, 1, RejectReason::FieldType(e));
                    }
                }
            }
        }
        let slot = self.slot(sid) as usize;
        self.slots[slot].used = true;
        self.enc.begin_line(self.slots[slot].wal, ts);
        for (f, &c) in fields.iter().zip(&self.columns) {
            let v = f.value();
            self.enc.field(f.name(), v);
            self.entries.push(HotEntry {
                column: c,
                timestamp: ts,
                value: v.to_owned(),
            });
        }
        self.enc.end_line();
        self.max_ts = self.max_ts.max(ts);
        self.summary.lines += 1;
        self.summary.points += fields.len();
    }

    /// The handle of series `sid` for samples: its batch slot and its float `value`
    /// column, created if needed (refused when `value` has another type).
    pub(crate) fn sample_series(
        &mut self,
        sid: SeriesId,
    ) -> std::result::Result<SeriesHandle, RejectReason> {
        let slot = self.slot(sid);
        let s = self.slots[slot as usize];
        if s.value_column != NO_COLUMN {
            return Ok(SeriesHandle {
                slot,
                column: ColumnId(s.value_column),
            });
        }
        let found = guard(&mut self.ix, self.inner, &mut self.since_bump).find_column(
            sid,
            VALUE_FIELD,
            FieldType::Float,
        );
        let column = match found {
            Ok(Some(c)) => c,
            Ok(None) => self
                .write_index()
                .column_or_create(sid, VALUE_FIELD, FieldType::Float)
                .map_err(RejectReason::FieldType)?,
            Err(e) => return Err(RejectReason::FieldType(e)),
        };
        self.slots[slot as usize].value_column = column.0;
        Ok(SeriesHandle { slot, column })
    }

    /// Adds one sample (field `value`) of a resolved series; `item` numbers it in refusals.
    #[inline]
    pub(crate) fn add_sample(&mut self, item: usize, h: SeriesHandle, ts: i64, value: f64) {
        let sid = self.slots[h.slot as usize].sid;
        if !self.check_time(item, sid, ts) {
            return;
        }
        let slot = &mut self.slots[h.slot as usize];
        slot.used = true;
        self.enc.float_line(slot.wal, ts, VALUE_FIELD, value);
        self.entries.push(HotEntry {
            column: h.column,
            timestamp: ts,
            value: FieldValue::Float(value),
        });
        self.max_ts = self.max_ts.max(ts);
        self.summary.lines += 1;
        self.summary.points += 1;
    }

    /// Writes the record to the WAL, waits until it is stored under the fsync policy,
    /// then applies the values to the hot tier in WAL order.
    pub(crate) fn commit(self) -> Result<WriteSummary> {
        self.commit_in(None)
    }

    /// [`Writer::commit`], submitting to the WAL in `turn` of its order when given.
    pub(crate) fn commit_in(mut self, turn: Option<Turn<'_>>) -> Result<WriteSummary> {
        self.ix = None;
        let unhide: Vec<SeriesId> = self
            .slots
            .iter()
            .filter(|s| s.hidden && s.used)
            .map(|s| s.sid)
            .collect();
        if !unhide.is_empty() {
            let mut ix = IndexWrite::take(self.inner);
            for sid in unhide {
                ix.set_hidden(sid, false);
            }
        }
        let inner = self.inner;
        let counters = &inner.counters.write;
        if self.entries.is_empty() {
            counters.batch_done(self.started, Duration::ZERO);
            return Ok(self.summary);
        }
        let record = self.enc.finish_record();
        let max_ts = self.max_ts;
        let deferred = self.deferred_sync;
        let submit = || {
            if deferred {
                inner.wal.submit_write_deferred(record, max_ts)
            } else {
                inner.wal.submit_write(record, max_ts)
            }
        };
        let ticket = match turn {
            Some(t) => t.submit(submit)?,
            None => submit()?,
        };
        let seq = ticket.seq;
        let submitted = Instant::now();
        let durable = ticket.wait();
        let durable_at = Instant::now();
        let entries = self.entries;
        inner.turnstile.pass(seq, || {
            let entered = Instant::now();
            if durable.is_ok() {
                let mut state = inner.state.write();
                let locked = Instant::now();
                state.hot.apply(entries);
                drop(state);
                counters.hot_insert.record_since(entered, locked);
            }
            counters.turnstile.record_since(durable_at, entered);
        });
        if durable.is_ok()
            && inner.hide_epoch.load(std::sync::atomic::Ordering::Acquire) != self.hide_epoch
        {
            // A delete decided, while this batch was on its way, that some series had no
            // data left; those this batch wrote have data again.
            let mut ix = inner.index.write();
            for s in self.slots.iter().filter(|s| s.used) {
                if ix.is_hidden(s.sid) {
                    ix.set_hidden(s.sid, false);
                }
            }
        }
        counters.batch_done(self.started, durable_at - submitted);
        durable.map(|()| self.summary)
    }
}
