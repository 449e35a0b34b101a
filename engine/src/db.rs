//! The embedded database handle.
//!
//! Write path, for each batch: parse → resolve series and columns through the index
//! (checking field types) → encode one WAL record → wait until the WAL has it under the
//! fsync policy → apply to the hot tier. Hot-tier application passes a turnstile in WAL
//! sequence order, so that concurrent writers of the same (series, field, timestamp)
//! leave the value that WAL replay will also leave: the last one in the log.

use crate::error::{Error, Result};
use crate::hot::{HotEntry, HotStats, HotTier};
use crate::index::{ColumnId, Index, SeriesId};
use crate::ingest::line_protocol::{LineSplitter, ParsedLine, parse_line, series_key};
use crate::lock::DirLock;
use crate::model::{
    ColumnData, FieldType, FieldValueRef, Point, Precision, SeriesKey, SeriesKeyError, TimeRange,
};
use crate::options::Options;
use crate::wal::batch::{BatchEncoder, decode_batch};
use crate::wal::frame::RecordKind;
use crate::wal::{self, Wal};
use crate::write::{RejectReason, RejectedLine, WriteSummary};
use parking_lot::{Condvar, Mutex, RwLock};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// An open Strata database directory. Share it between threads with an `Arc`.
pub struct Db {
    dir: PathBuf,
    options: Options,
    index: RwLock<Index>,
    hot: RwLock<HotTier>,
    wal: Wal,
    turnstile: Turnstile,
    _lock: DirLock,
}

/// Sizes of an open database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbStats {
    /// Series known to the index.
    pub series: usize,
    /// Columns (field of a series) known to the index.
    pub columns: usize,
    /// Approximate heap bytes of the index.
    pub index_bytes: usize,
    /// The hot tier.
    pub hot: HotStats,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: takes the directory lock,
    /// replays the WAL into the index and the hot tier, and starts a new WAL file.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Db> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = DirLock::acquire(&dir)?;
        let wal_dir = dir.join(wal::WAL_DIR);
        std::fs::create_dir_all(&wal_dir).map_err(|e| Error::io(&wal_dir, e))?;
        let mut index = Index::default();
        let mut hot = HotTier::default();
        let stats = wal::replay(&wal_dir, 0, |kind, payload, file, offset| match kind {
            RecordKind::Write => replay_write(&mut index, &mut hot, payload, file, offset),
        })?;
        if stats.records > 0 || stats.truncated_bytes > 0 {
            tracing::info!(
                "replayed {} WAL records from {} files ({} torn bytes cut)",
                stats.records,
                stats.files,
                stats.truncated_bytes
            );
        }
        let wal = Wal::start(
            &wal_dir,
            stats.next_file_seq,
            0,
            options.fsync,
            options.wal_segment_bytes,
        )?;
        Ok(Db {
            dir,
            options,
            index: RwLock::new(index),
            hot: RwLock::new(hot),
            wal,
            turnstile: Turnstile::default(),
            _lock: lock,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Writes a batch of line protocol. Bad lines are refused one by one (listed in the
    /// summary with line number, column and reason); the good lines are stored. Returns
    /// after the WAL holds the batch under the fsync policy.
    pub fn write_lp(&self, text: &[u8], precision: Precision) -> Result<WriteSummary> {
        self.write_lp_numbered(text, precision, 1)
    }

    /// [`Db::write_lp`] for a batch that starts at line `first_line` of a larger input, so
    /// that refused lines carry their line number in that input.
    pub fn write_lp_numbered(
        &self,
        text: &[u8],
        precision: Precision,
        first_line: usize,
    ) -> Result<WriteSummary> {
        let now = self.options.clock.now_nanos();
        let now = now - now.rem_euclid(precision.nanos());
        let mut b = BatchBuilder::default();
        let mut parsed = ParsedLine::default();
        for (line_no, line) in LineSplitter::with_first_line(text, first_line) {
            if let Err(e) = parse_line(line, precision, &mut parsed) {
                b.reject(line_no, e.column, RejectReason::Parse(e.reason));
                continue;
            }
            let series = self.resolve_raw(parsed.raw_series, || series_key(&parsed));
            let sid = match series {
                Ok(s) => s,
                Err(e) => {
                    b.reject(line_no, 1, RejectReason::Series(e));
                    continue;
                }
            };
            let fields: Vec<(&str, FieldValueRef<'_>)> = parsed
                .fields
                .iter()
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .collect();
            let ts = parsed.timestamp.unwrap_or(now);
            self.add_line(&mut b, line_no, sid, &fields, ts);
        }
        self.commit(b)
    }

    /// Writes points through the same path as line protocol. A refused point is reported
    /// with `line` = its index + 1.
    pub fn write_points(&self, points: &[Point]) -> Result<WriteSummary> {
        let mut b = BatchBuilder::default();
        let mut canonical = Vec::new();
        let mut fields: Vec<(&str, FieldValueRef<'_>)> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            if p.fields.is_empty() {
                b.reject(i + 1, 1, RejectReason::NoFields);
                continue;
            }
            canonical.clear();
            p.series.encode_into(&mut canonical);
            let sid = self.resolve_key(&p.series, &canonical);
            fields.clear();
            fields.extend(p.fields.iter().map(|(k, v)| (k.as_str(), v.as_ref())));
            self.add_line(&mut b, i + 1, sid, &fields, p.timestamp);
        }
        self.commit(b)
    }

    fn resolve_raw(
        &self,
        raw: &[u8],
        key: impl FnOnce() -> Result<SeriesKey, SeriesKeyError>,
    ) -> Result<SeriesId, SeriesKeyError> {
        if let Some(id) = self.index.read().lookup_raw(raw) {
            return Ok(id);
        }
        let key = key()?;
        let mut canonical = Vec::new();
        key.encode_into(&mut canonical);
        let mut ix = self.index.write();
        let id = ix.get_or_create(&key, &canonical);
        ix.remember_raw(raw, id);
        Ok(id)
    }

    fn resolve_key(&self, key: &SeriesKey, canonical: &[u8]) -> SeriesId {
        if let Some(id) = self.index.read().lookup_key(canonical) {
            return id;
        }
        self.index.write().get_or_create(key, canonical)
    }

    /// Resolves the line's columns (refusing it on a type conflict) and adds it to the
    /// WAL batch and the hot entries.
    fn add_line(
        &self,
        b: &mut BatchBuilder,
        line_no: usize,
        sid: SeriesId,
        fields: &[(&str, FieldValueRef<'_>)],
        ts: i64,
    ) {
        b.columns.clear();
        let mut missing = false;
        {
            let ix = self.index.read();
            for (name, v) in fields {
                match ix.find_column(sid, name, v.field_type()) {
                    Ok(Some(c)) => b.columns.push(c),
                    Ok(None) => missing = true,
                    Err(e) => return b.reject(line_no, 1, RejectReason::FieldType(e)),
                }
            }
            if !b.series_slot.contains_key(&sid) {
                let key = ix.series_key_bytes(sid).unwrap_or_default();
                let slot = b.enc.add_series(key);
                b.series_slot.insert(sid, slot);
            }
        }
        if missing {
            b.columns.clear();
            let mut ix = self.index.write();
            // Check every field before creating any, so a refused line registers nothing.
            for (name, v) in fields {
                if let Err(e) = ix.find_column(sid, name, v.field_type()) {
                    return b.reject(line_no, 1, RejectReason::FieldType(e));
                }
            }
            for (name, v) in fields {
                match ix.column_or_create(sid, name, v.field_type()) {
                    Ok(c) => b.columns.push(c),
                    Err(e) => return b.reject(line_no, 1, RejectReason::FieldType(e)),
                }
            }
        }
        b.enc.begin_line(b.series_slot[&sid], ts);
        for ((name, v), &c) in fields.iter().zip(&b.columns) {
            b.enc.field(name, *v);
            b.entries.push(HotEntry {
                column: c,
                timestamp: ts,
                value: v.to_owned(),
            });
        }
        b.enc.end_line();
        b.summary.lines += 1;
        b.summary.points += fields.len();
    }

    fn commit(&self, mut b: BatchBuilder) -> Result<WriteSummary> {
        if b.entries.is_empty() {
            return Ok(b.summary);
        }
        let mut payload = Vec::new();
        b.enc.finish_into(&mut payload);
        let ticket = self.wal.submit(RecordKind::Write, &payload)?;
        let seq = ticket.seq;
        let durable = ticket.wait();
        let entries = b.entries;
        self.turnstile.pass(seq, || {
            if durable.is_ok() {
                self.hot.write().apply(entries);
            }
        });
        durable.map(|()| b.summary)
    }

    /// The points of `field` in `series` within `range`, time-ordered, one per timestamp
    /// (the last written); `None` if the series or the field does not exist.
    pub fn read_column(
        &self,
        series: &SeriesKey,
        field: &str,
        range: TimeRange,
    ) -> Result<Option<ColumnData>> {
        let mut canonical = Vec::new();
        series.encode_into(&mut canonical);
        let (column, ty) = {
            let ix = self.index.read();
            let Some(sid) = ix.lookup_key(&canonical) else {
                return Ok(None);
            };
            let Some(c) = ix.column_of(sid, field) else {
                return Ok(None);
            };
            c
        };
        self.read_column_id(column, ty, range).map(Some)
    }

    fn read_column_id(&self, c: ColumnId, ty: FieldType, range: TimeRange) -> Result<ColumnData> {
        match self.hot.read().read(c, range) {
            None => Ok(ColumnData::empty(ty)),
            Some(Ok(data)) => Ok(data),
            Some(Err(e)) => Err(Error::Internal(format!(
                "hot chunk of column {} does not decode: {e}",
                c.0
            ))),
        }
    }

    /// Measurement names, sorted.
    pub fn measurements(&self) -> Vec<String> {
        self.index
            .read()
            .measurements()
            .map(str::to_owned)
            .collect()
    }

    /// The series of `measurement`, in creation order.
    pub fn series(&self, measurement: &str) -> Vec<SeriesKey> {
        let ix = self.index.read();
        ix.series_of(measurement)
            .iter()
            .filter_map(|&s| ix.series_key(s))
            .collect()
    }

    /// Tag keys of `measurement`, sorted.
    pub fn tag_keys(&self, measurement: &str) -> Vec<String> {
        self.index.read().tag_keys(measurement)
    }

    /// Values of tag `key` in `measurement`, sorted.
    pub fn tag_values(&self, measurement: &str, key: &str) -> Vec<String> {
        self.index.read().tag_values(measurement, key)
    }

    /// Fields of `measurement` and their types, sorted by name.
    pub fn fields(&self, measurement: &str) -> Vec<(String, FieldType)> {
        self.index.read().fields(measurement)
    }

    /// The fields (name and type) that `series` has data for.
    pub fn series_fields(&self, series: &SeriesKey) -> Vec<(String, FieldType)> {
        let mut canonical = Vec::new();
        series.encode_into(&mut canonical);
        let ix = self.index.read();
        ix.lookup_key(&canonical)
            .map(|sid| {
                ix.columns_of(sid)
                    .into_iter()
                    .map(|(n, _, t)| (n, t))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sizes of the index and the hot tier.
    pub fn stats(&self) -> DbStats {
        let (series, columns, index_bytes) = {
            let ix = self.index.read();
            (ix.series_count(), ix.column_count(), ix.heap_bytes())
        };
        DbStats {
            series,
            columns,
            index_bytes,
            hot: self.hot.read().stats(),
        }
    }

    /// Makes every acknowledged write durable (an fsync, whatever the policy) and
    /// compresses the hot tier's open chunks.
    pub fn flush(&self) -> Result<()> {
        self.wal.sync()?;
        self.hot.write().close_heads();
        Ok(())
    }

    /// Flushes and closes the database, releasing the directory lock. Dropping a `Db`
    /// without `close` stops it as a crash would, keeping only what the WAL holds.
    pub fn close(self) -> Result<()> {
        self.wal.shutdown(true)
    }
}

/// Rebuilds index and hot tier state from one WAL write record.
fn replay_write(
    index: &mut Index,
    hot: &mut HotTier,
    payload: &[u8],
    file: &Path,
    offset: u64,
) -> Result<()> {
    let corrupt = |at: usize, what: &str| Error::Corrupt {
        file: file.to_path_buf(),
        offset: offset + 9 + at as u64,
        what: format!("WAL write batch: {what}"),
    };
    let lines = decode_batch(payload).map_err(|(at, what)| corrupt(at, what))?;
    let mut entries = Vec::new();
    let mut ids: FxHashMap<&[u8], SeriesId> = FxHashMap::default();
    for line in lines {
        let sid = match ids.get(line.series) {
            Some(&s) => s,
            None => {
                let s = match index.lookup_key(line.series) {
                    Some(s) => s,
                    None => {
                        let key = SeriesKey::decode(line.series)
                            .map_err(|e| corrupt(0, &format!("bad series key: {e}")))?;
                        index.get_or_create(&key, line.series)
                    }
                };
                ids.insert(line.series, s);
                s
            }
        };
        for (name, v) in line.fields {
            match index.column_or_create(sid, name, v.field_type()) {
                Ok(c) => entries.push(HotEntry {
                    column: c,
                    timestamp: line.timestamp,
                    value: v.to_owned(),
                }),
                // Cannot happen for a log this build wrote (types were checked before the
                // write); skip rather than lose the rest of the log.
                Err(e) => {
                    tracing::warn!("{}: offset {offset}: skipping value: {e}", file.display())
                }
            }
        }
    }
    hot.apply(entries);
    Ok(())
}

#[derive(Default)]
struct BatchBuilder {
    enc: BatchEncoder,
    series_slot: FxHashMap<SeriesId, u64>,
    entries: Vec<HotEntry>,
    columns: Vec<ColumnId>,
    summary: WriteSummary,
}

impl BatchBuilder {
    fn reject(&mut self, line: usize, column: usize, reason: RejectReason) {
        self.summary.rejected.push(RejectedLine {
            line,
            column,
            reason,
        });
    }
}

/// Lets writers apply to the hot tier strictly in WAL sequence order.
#[derive(Default)]
struct Turnstile {
    next: Mutex<u64>,
    cv: Condvar,
}

impl Turnstile {
    /// Waits for `seq`'s turn, runs `f`, and lets `seq + 1` go. Every sequence number the
    /// WAL hands out must pass exactly once, or later writers wait forever.
    fn pass(&self, seq: u64, f: impl FnOnce()) {
        let mut next = self.next.lock();
        while *next != seq {
            self.cv.wait(&mut next);
        }
        f();
        *next += 1;
        self.cv.notify_all();
    }
}
