//! The write path: line protocol or points → WAL record → hot tier.

use super::writer::{SeriesHandle, Writer};
use super::{Db, Inner};
use crate::error::Result;
use crate::index::RawKind;
use crate::ingest::line_protocol::{
    LineSplitter, ParsedLine, parse_after_series, parse_line, series_key, series_span,
};
use crate::ingest::text_within;
use crate::model::{
    FieldValueRef, MAX_TIMESTAMP, MIN_TIMESTAMP, Point, Precision, SeriesKey, timestamp_in_range,
};
use crate::write::{MAX_SERIES_KEY_BYTES, RejectReason, WriteSummary};

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
    ///
    /// A line whose series section (measurement and tags, as written) the index has seen
    /// before costs one hash of those bytes: only its fields and timestamp are parsed.
    pub fn write_lp_numbered(
        &self,
        text: &[u8],
        precision: Precision,
        first_line: usize,
    ) -> Result<WriteSummary> {
        self.write_lp_turn(text, precision, first_line, None)
    }

    /// [`Db::write_lp_numbered`], reaching the WAL in turn `turn` of `order`: after every
    /// earlier turn's write has reached it (or passed), whichever thread runs first. Lines
    /// are parsed and series resolved before waiting, so concurrent writers still parse in
    /// parallel; the order decides which of two writes of one point wins (the later turn)
    /// and keeps each series' values arriving in the order of the turns.
    pub fn write_lp_in_turn(
        &self,
        text: &[u8],
        precision: Precision,
        first_line: usize,
        order: &super::SubmitOrder,
        turn: u64,
    ) -> Result<WriteSummary> {
        let turn = super::submit_order::Turn::new(order, turn);
        self.write_lp_turn(text, precision, first_line, Some(turn))
    }

    fn write_lp_turn(
        &self,
        text: &[u8],
        precision: Precision,
        first_line: usize,
        turn: Option<super::submit_order::Turn<'_>>,
    ) -> Result<WriteSummary> {
        let inner = &*self.inner;
        let now = inner.options.clock.now_nanos();
        let now = now - now.rem_euclid(precision.nanos());
        let max_fields = inner.options.max_fields_per_line;
        let mut w = Writer::new(inner);
        let mut parsed = ParsedLine::default();
        // The batch checked for UTF-8 once, so that a known series' line is not checked
        // again (a batch that fails is checked line by line).
        let whole = std::str::from_utf8(text).ok();
        for (line_no, line) in LineSplitter::with_first_line(text, first_line) {
            // A known series: parse only the fields and the timestamp.
            if let Some((start, end)) = series_span(line)
                && let Some(sid) = w.lookup_raw(RawKind::LineProtocol, &line[start..end])
                && parse_after_series(
                    line,
                    whole.and_then(|t| text_within(text, t, line)),
                    end,
                    precision,
                    &mut parsed,
                )
                && parsed.fields.len() <= max_fields
            {
                let ts = parsed.timestamp.unwrap_or(now);
                if !timestamp_in_range(ts) {
                    w.reject(line_no, 1, out_of_range(ts));
                } else if parsed.fields.iter().any(|f| f.0 == "time") {
                    let measurement = measurement_of(&line[start..end]);
                    w.reject(
                        line_no,
                        1,
                        RejectReason::ReservedName {
                            what: "field",
                            measurement,
                        },
                    );
                } else {
                    w.add_line(line_no, sid, &parsed.fields, ts);
                }
                continue;
            }
            if let Err(e) = parse_line(line, precision, &mut parsed) {
                w.reject(line_no, e.column, RejectReason::Parse(e.reason));
                continue;
            }
            if let Some(reason) = inner.check_shape(
                parsed.tags.len(),
                parsed.fields.len(),
                parsed.timestamp.unwrap_or(now),
            ) {
                w.reject(line_no, 1, reason);
                continue;
            }
            if parsed.raw_series.len() > MAX_SERIES_KEY_BYTES {
                let len = parsed.raw_series.len();
                w.reject(
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
                w.reject(line_no, 1, RejectReason::ReservedName { what, measurement });
                continue;
            }
            let resolved = w.resolve_raw(RawKind::LineProtocol, parsed.raw_series, || {
                series_key(&parsed).map_err(RejectReason::Series)
            });
            let sid = match resolved {
                Ok(s) => s,
                Err(e) => {
                    w.reject(line_no, 1, e);
                    continue;
                }
            };
            let ts = parsed.timestamp.unwrap_or(now);
            w.add_line(line_no, sid, &parsed.fields, ts);
        }
        w.commit_in(turn)
    }

    /// Writes points through the same path as line protocol. A refused point is reported
    /// with `line` = its index + 1.
    pub fn write_points(&self, points: &[Point]) -> Result<WriteSummary> {
        let inner = &*self.inner;
        let mut w = Writer::new(inner);
        let mut canonical = Vec::new();
        let mut fields: Vec<(&str, FieldValueRef<'_>)> = Vec::new();
        for (i, p) in points.iter().enumerate() {
            if p.fields.is_empty() {
                w.reject(i + 1, 1, RejectReason::NoFields);
                continue;
            }
            if let Some(reason) =
                inner.check_shape(p.series.tags().len(), p.fields.len(), p.timestamp)
            {
                w.reject(i + 1, 1, reason);
                continue;
            }
            if p.fields.iter().any(|(k, _)| k.is_empty()) {
                w.reject(i + 1, 1, RejectReason::EmptyFieldKey);
                continue;
            }
            if let Some(what) = reserved(
                p.series.tags().iter().map(|t| t.0.as_str()),
                p.fields.iter().map(|f| f.0.as_str()),
            ) {
                let measurement = p.series.measurement().to_owned();
                w.reject(i + 1, 1, RejectReason::ReservedName { what, measurement });
                continue;
            }
            canonical.clear();
            p.series.encode_into(&mut canonical);
            let sid = match w.resolve_key(&p.series, &canonical) {
                Ok(s) => s,
                Err(e) => {
                    w.reject(i + 1, 1, e);
                    continue;
                }
            };
            fields.clear();
            fields.extend(p.fields.iter().map(|(k, v)| (k.as_str(), v.as_ref())));
            dedup_fields(&mut fields);
            w.add_line(i + 1, sid, &fields, p.timestamp);
        }
        w.commit()
    }

    /// A writer of Prometheus samples (one float field `value` per sample) into one WAL
    /// record: resolve each series once per batch with [`SampleWriter::series`] (one hash
    /// of its raw spelling when the index has seen it), add its samples, then
    /// [`SampleWriter::finish`]. Refusals are per item, numbered by the caller.
    ///
    /// The writer holds the index's read lock between calls: finish it promptly and do
    /// not call other methods of this `Db` from the thread that holds it.
    pub fn sample_writer(&self) -> SampleWriter<'_> {
        SampleWriter {
            w: Writer::new(&self.inner),
        }
    }

    /// [`Db::sample_writer`] with room for about `series` series and `samples` samples
    /// (a scraper knows both from its last page), so the batch never regrows.
    pub fn sample_writer_with_capacity(&self, series: usize, samples: usize) -> SampleWriter<'_> {
        SampleWriter {
            w: Writer::with_capacity(&self.inner, series, samples),
        }
    }
}

/// A batch of Prometheus samples on its way to the WAL; see [`Db::sample_writer`].
pub struct SampleWriter<'a> {
    w: Writer<'a>,
}

impl std::fmt::Debug for SampleWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleWriter").finish_non_exhaustive()
    }
}

impl SampleWriter<'_> {
    /// Lets [`SampleWriter::finish`] return once the WAL thread has written the batch to
    /// its file, without waiting for the fsync, which follows within a second under
    /// `fsync = always` (at the interval under `interval`). For a writer with nobody to
    /// acknowledge to, such as the scraper: power loss can then take the last second of
    /// its batches (as it takes Prometheus' unsynced WAL pages), while a crash of the
    /// process alone loses nothing (the data is in the kernel's page cache).
    pub fn defer_sync(&mut self) {
        self.w.defer_sync();
    }

    /// The series spelled `raw` in format `kind`, ready for samples. On a cache miss
    /// `key` builds the series (or says why it is refused); the key is then checked as a
    /// line's would be (tag count, the reserved tag `time`, the series-key length) and
    /// the series created within the series limits. `raw` must spell the same series
    /// every time it is given, and `key` must succeed only for a valid spelling: a
    /// spelling is remembered only once it has been accepted.
    pub fn series(
        &mut self,
        kind: RawKind,
        raw: &[u8],
        key: impl FnOnce() -> std::result::Result<SeriesKey, RejectReason>,
    ) -> std::result::Result<SeriesHandle, RejectReason> {
        let max_tags = self.w_options().max_tags_per_line;
        self.w.resolve_raw_sample(kind, raw, || {
            let k = key()?;
            check_key(&k, max_tags)?;
            Ok(k)
        })
    }

    /// [`SampleWriter::series`] for a series that has no raw spelling to cache.
    pub fn series_key(
        &mut self,
        key: &SeriesKey,
    ) -> std::result::Result<SeriesHandle, RejectReason> {
        check_key(key, self.w_options().max_tags_per_line)?;
        let mut canonical = Vec::new();
        key.encode_into(&mut canonical);
        let sid = self.w.resolve_key(key, &canonical)?;
        self.w.sample_series(sid)
    }

    fn w_options(&self) -> &crate::Options {
        self.w.options()
    }

    /// Adds a sample of `series` at `timestamp` (ns). A timestamp outside the range
    /// queries address, or older than the retention, refuses the sample as item `item`.
    #[inline]
    pub fn sample(&mut self, item: usize, series: SeriesHandle, timestamp: i64, value: f64) {
        self.w.add_sample(item, series, timestamp, value);
    }

    /// Records item `item` as refused.
    pub fn reject(&mut self, item: usize, reason: RejectReason) {
        self.w.reject(item, 1, reason);
    }

    /// Writes the batch to the WAL (one record) and the hot tier; returns what was stored
    /// and every refusal, in the order they were made.
    pub fn finish(self) -> Result<WriteSummary> {
        self.w.commit()
    }
}

/// Refuses a series key with more tags than allowed, a tag named `time`, or a key longer
/// than InfluxDB's limit (in its line-protocol spelling).
pub(super) fn check_key(key: &SeriesKey, max_tags: usize) -> std::result::Result<(), RejectReason> {
    let tags = key.tags();
    if tags.len() > max_tags {
        return Err(RejectReason::TooManyTags {
            count: tags.len(),
            max: max_tags,
        });
    }
    if tags.iter().any(|(k, _)| k == "time") {
        return Err(RejectReason::ReservedName {
            what: "tag",
            measurement: key.measurement().to_owned(),
        });
    }
    let len = key.measurement().len()
        + tags
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    if len > MAX_SERIES_KEY_BYTES {
        return Err(RejectReason::SeriesKeyTooLong {
            len,
            max: MAX_SERIES_KEY_BYTES,
        });
    }
    Ok(())
}

fn out_of_range(timestamp: i64) -> RejectReason {
    RejectReason::TimestampOutOfRange {
        timestamp,
        min: MIN_TIMESTAMP,
        max: MAX_TIMESTAMP,
    }
}

/// The measurement of a raw line-protocol series section (for a message), unescaped.
fn measurement_of(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut prev = 0u8;
    for &b in raw {
        if b == b',' && prev != b'\\' {
            break;
        }
        if prev == b'\\' && (b == b',' || b == b' ') {
            out.pop();
        }
        out.push(b);
        prev = b;
    }
    String::from_utf8_lossy(&out).into_owned()
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
}
