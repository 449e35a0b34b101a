//! The write path: line protocol or points → WAL record → hot tier.

use super::{Db, Inner};
use crate::error::Result;
use crate::hot::HotEntry;
use crate::index::{ColumnId, SeriesId};
use crate::ingest::line_protocol::{LineSplitter, ParsedLine, parse_line, series_key};
use crate::model::{
    FieldValueRef, MAX_TIMESTAMP, MIN_TIMESTAMP, Point, Precision, SeriesKey, SeriesKeyError,
    timestamp_in_range,
};
use crate::wal::batch::BatchEncoder;
use crate::wal::frame::RecordKind;
use crate::write::{MAX_SERIES_KEY_BYTES, RejectReason, RejectedLine, WriteSummary};

/// `Some("tag")` or `Some("field")` when one is named `time`.
fn reserved<'a>(
    mut tags: impl Iterator<Item = &'a str>,
    mut fields: impl Iterator<Item = &'a str>,
) -> Option<&'static str> {
    if tags.any(|t| t == "time") {
        return Some("tag");
    }
    fields.any(|f| f == "time").then_some("field")
}
use rustc_hash::FxHashMap;

impl Db {
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
        let inner = &*self.inner;
        let now = inner.options.clock.now_nanos();
        let now = now - now.rem_euclid(precision.nanos());
        let mut b = BatchBuilder {
            keep_from: inner.retention_cutoff(),
            ..BatchBuilder::default()
        };
        let mut parsed = ParsedLine::default();
        for (line_no, line) in LineSplitter::with_first_line(text, first_line) {
            if let Err(e) = parse_line(line, precision, &mut parsed) {
                b.reject(line_no, e.column, RejectReason::Parse(e.reason));
                continue;
            }
            if let Some(reason) = inner.check_shape(
                parsed.tags.len(),
                parsed.fields.len(),
                parsed.timestamp.unwrap_or(now),
            ) {
                b.reject(line_no, 1, reason);
                continue;
            }
            if parsed.raw_series.len() > MAX_SERIES_KEY_BYTES {
                let len = parsed.raw_series.len();
                b.reject(
                    line_no,
                    1,
                    RejectReason::SeriesKeyTooLong {
                        len,
                        max: MAX_SERIES_KEY_BYTES,
                    },
                );
                continue;
            }
            if let Some(what) = reserved(
                parsed.tags.iter().map(|t| t.0.as_ref()),
                parsed.fields.iter().map(|f| f.0.as_ref()),
            ) {
                let measurement = parsed.measurement.to_string();
                b.reject(line_no, 1, RejectReason::ReservedName { what, measurement });
                continue;
            }
            let sid = match inner.resolve_raw(parsed.raw_series, || series_key(&parsed)) {
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
            inner.add_line(&mut b, line_no, sid, &fields, ts);
        }
        inner.commit(b)
    }

    /// Writes points through the same path as line protocol. A refused point is reported
    /// with `line` = its index + 1.
    pub fn write_points(&self, points: &[Point]) -> Result<WriteSummary> {
        let inner = &*self.inner;
        let mut b = BatchBuilder {
            keep_from: inner.retention_cutoff(),
            ..BatchBuilder::default()
        };
        let mut canonical = Vec::new();
        let mut fields: Vec<(&str, FieldValueRef<'_>)> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            if p.fields.is_empty() {
                b.reject(i + 1, 1, RejectReason::NoFields);
                continue;
            }
            if let Some(reason) =
                inner.check_shape(p.series.tags().len(), p.fields.len(), p.timestamp)
            {
                b.reject(i + 1, 1, reason);
                continue;
            }
            if p.fields.iter().any(|(k, _)| k.is_empty()) {
                b.reject(i + 1, 1, RejectReason::EmptyFieldKey);
                continue;
            }
            if let Some(what) = reserved(
                p.series.tags().iter().map(|t| t.0.as_str()),
                p.fields.iter().map(|f| f.0.as_str()),
            ) {
                let measurement = p.series.measurement().to_owned();
                b.reject(i + 1, 1, RejectReason::ReservedName { what, measurement });
                continue;
            }
            canonical.clear();
            p.series.encode_into(&mut canonical);
            let sid = inner.resolve_key(&p.series, &canonical);
            fields.clear();
            fields.extend(p.fields.iter().map(|(k, v)| (k.as_str(), v.as_ref())));
            dedup_fields(&mut fields);
            inner.add_line(&mut b, i + 1, sid, &fields, p.timestamp);
        }
        inner.commit(b)
    }
}

/// A repeated field key keeps its last value in its first place, as line protocol's
/// parser does, so that a point never names one column twice (with two types, that
/// registered a column for a refused point).
fn dedup_fields(fields: &mut Vec<(&str, FieldValueRef<'_>)>) {
    if fields.len() < 2 {
        return;
    }
    // The usual point has a few distinct fields: a short scan says so without a map.
    if fields.len() <= 16
        && fields
            .iter()
            .enumerate()
            .all(|(i, (k, _))| fields[..i].iter().all(|(j, _)| j != k))
    {
        return;
    }
    let mut first: FxHashMap<&str, usize> = FxHashMap::default();
    let mut out: Vec<(&str, FieldValueRef<'_>)> = Vec::with_capacity(fields.len());
    for &(k, v) in fields.iter() {
        match first.get(k) {
            Some(&at) => out[at].1 = v,
            None => {
                first.insert(k, out.len());
                out.push((k, v));
            }
        }
    }
    if out.len() != fields.len() {
        *fields = out;
    }
}

impl Inner {
    /// Why a line of this shape is refused before anything is resolved (so that a refused
    /// line creates no series): its timestamp outside the addressable range, or more
    /// tags or fields than the options allow.
    fn check_shape(&self, tags: usize, fields: usize, ts: i64) -> Option<RejectReason> {
        let o = &self.options;
        if !timestamp_in_range(ts) {
            Some(RejectReason::TimestampOutOfRange {
                timestamp: ts,
                min: MIN_TIMESTAMP,
                max: MAX_TIMESTAMP,
            })
        } else if fields > o.max_fields_per_line {
            Some(RejectReason::TooManyFields {
                count: fields,
                max: o.max_fields_per_line,
            })
        } else if tags > o.max_tags_per_line {
            Some(RejectReason::TooManyTags {
                count: tags,
                max: o.max_tags_per_line,
            })
        } else {
            None
        }
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
        if ts < b.keep_from {
            let cutoff = b.keep_from;
            return b.reject(
                line_no,
                1,
                RejectReason::BeyondRetention {
                    timestamp: ts,
                    cutoff,
                },
            );
        }
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
            if ix.is_hidden(sid) {
                missing = true; // take the write lock below, which also shows the series again
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
            ix.set_hidden(sid, false);
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
        b.max_ts = b.max_ts.max(ts);
        b.summary.lines += 1;
        b.summary.points += fields.len();
    }

    fn commit(&self, mut b: BatchBuilder) -> Result<WriteSummary> {
        if b.entries.is_empty() {
            return Ok(b.summary);
        }
        let mut payload = Vec::new();
        b.enc.finish_into(&mut payload);
        let ticket = self.wal.submit(RecordKind::Write, &payload, b.max_ts)?;
        let seq = ticket.seq;
        let durable = ticket.wait();
        let entries = b.entries;
        self.turnstile.pass(seq, || {
            if durable.is_ok() {
                self.state.write().hot.apply(entries);
            }
        });
        durable.map(|()| b.summary)
    }
}

struct BatchBuilder {
    enc: BatchEncoder,
    series_slot: FxHashMap<SeriesId, u64>,
    entries: Vec<HotEntry>,
    columns: Vec<ColumnId>,
    max_ts: i64,
    /// Retention cutoff: older lines are refused.
    keep_from: i64,
    summary: WriteSummary,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        BatchBuilder {
            enc: BatchEncoder::default(),
            series_slot: FxHashMap::default(),
            entries: Vec::new(),
            columns: Vec::new(),
            max_ts: i64::MIN,
            keep_from: i64::MIN,
            summary: WriteSummary::default(),
        }
    }
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
