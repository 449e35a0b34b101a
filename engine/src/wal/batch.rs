//! The payload of a write record: a batch of points in a compact, self-contained binary
//! form. Layout: docs/FORMAT.md, "WAL write batch".
//!
//! ```text
//! batch  := n_series uvarint | series_ref* | n_lines uvarint | line*
//! series_ref := series number uvarint (kind 4, `Write`: defined by the file's
//!               `SeriesDefs` records, see `wal::dict`)
//!             | len uvarint + canonical series-key bytes (kind 1, `WriteKeys`, version 1
//!               files: read, no longer written)
//! line   := series uvarint (index into the series table) | timestamp i64 LE (8)
//!           | n_fields uvarint | field*
//! field  := name_len uvarint | name UTF-8 | type u8 (FieldType::tag) | value
//! value  := f64 LE (8) | i64 LE (8) | u64 LE (8) | bool u8 (0 or 1) | len uvarint + UTF-8
//! ```
//! A batch names each of its series once, in its table, by the number the WAL file's
//! dictionary gave it (the writer's in-process series id), so that encoding a batch never
//! touches a series key: the WAL writer thread defines each number with its key once per
//! file. Every value is stored exactly (floats bit for bit, NaN included), which line
//! protocol text could not do.

use super::frame::{self, RecordKind};
use crate::model::series::{put_uvarint, read_uvarint};
use crate::model::{FieldType, FieldValueRef};

/// Builds a `Write` (kind 4) payload. Lines must be added in write order.
#[derive(Debug, Default)]
pub struct BatchEncoder {
    series: Vec<u8>,
    ids: Vec<u32>,
    lines: Vec<u8>,
    n_lines: u64,
    fields_at: usize,
    n_fields: u64,
}

impl BatchEncoder {
    /// An encoder with room for about `series` series and `lines` one-field lines, so that
    /// a batch of known shape does not regrow.
    pub fn with_capacity(series: usize, lines: usize) -> BatchEncoder {
        BatchEncoder {
            series: Vec::with_capacity(series.saturating_mul(3)),
            ids: Vec::with_capacity(series),
            // A sample line takes 26 or 27 bytes (series index, timestamp, field count,
            // `value`, type, float): a shorter guess made every page's batch regrow.
            lines: Vec::with_capacity(lines.saturating_mul(28)),
            ..BatchEncoder::default()
        }
    }

    /// Adds series number `id` to the batch's table and returns its index for
    /// [`BatchEncoder::begin_line`]. Callers dedupe: the same number may be added twice,
    /// which is valid but wasteful.
    pub fn add_series(&mut self, id: u32) -> u64 {
        put_uvarint(&mut self.series, u64::from(id));
        self.ids.push(id);
        self.ids.len() as u64 - 1
    }
    /// Starts a line of series `series` (an index from `add_series`) at `timestamp`.
    pub fn begin_line(&mut self, series: u64, timestamp: i64) {
        put_uvarint(&mut self.lines, series);
        self.lines.extend_from_slice(&timestamp.to_le_bytes());
        // Reserve the field count: patched in end_line as a fixed 1..=10 byte varint.
        self.fields_at = self.lines.len();
        self.n_fields = 0;
    }

    /// Adds a whole line of one float field: the bytes of [`BatchEncoder::begin_line`],
    /// one [`BatchEncoder::field`] and [`BatchEncoder::end_line`], without the field-count
    /// patch (the count is known: 1).
    #[inline]
    pub fn float_line(&mut self, series: u64, timestamp: i64, name: &str, value: f64) {
        self.lines.reserve(10 + 8 + 1 + 10 + name.len() + 9);
        put_uvarint(&mut self.lines, series);
        self.lines.extend_from_slice(&timestamp.to_le_bytes());
        self.lines.push(1); // field count
        put_uvarint(&mut self.lines, name.len() as u64);
        self.lines.extend_from_slice(name.as_bytes());
        self.lines.push(FieldType::Float.tag());
        self.lines.extend_from_slice(&value.to_bits().to_le_bytes());
        self.n_lines += 1;
    }

    /// Adds a field to the line begun last.
    pub fn field(&mut self, name: &str, value: FieldValueRef<'_>) {
        if self.n_fields == 0 {
            self.lines.push(0); // placeholder for a one-byte count, widened in end_line
        }
        self.n_fields += 1;
        put_uvarint(&mut self.lines, name.len() as u64);
        self.lines.extend_from_slice(name.as_bytes());
        self.lines.push(value.field_type().tag());
        match value {
            FieldValueRef::Float(v) => self.lines.extend_from_slice(&v.to_bits().to_le_bytes()),
            FieldValueRef::Integer(v) => self.lines.extend_from_slice(&v.to_le_bytes()),
            FieldValueRef::Unsigned(v) => self.lines.extend_from_slice(&v.to_le_bytes()),
            FieldValueRef::Boolean(v) => self.lines.push(u8::from(v)),
            FieldValueRef::String(s) => {
                put_uvarint(&mut self.lines, s.len() as u64);
                self.lines.extend_from_slice(s.as_bytes());
            }
        }
    }

    /// Ends the current line. A line must have at least one field.
    pub fn end_line(&mut self) {
        debug_assert!(self.n_fields > 0, "a line needs at least one field");
        if self.n_fields == 0 {
            self.lines.push(0);
        } else if self.n_fields >= 0x80 {
            let mut count = Vec::new();
            put_uvarint(&mut count, self.n_fields);
            self.lines.splice(self.fields_at..self.fields_at + 1, count);
        } else {
            self.lines[self.fields_at] = self.n_fields as u8;
        }
        self.n_lines += 1;
    }

    /// Lines added so far.
    pub fn lines(&self) -> u64 {
        self.n_lines
    }

    /// Appends the finished payload to `dst`, resets the encoder and returns the series
    /// numbers of the batch's table, in table order (what the WAL must have defined in
    /// the file before the record).
    pub fn finish_into(&mut self, dst: &mut Vec<u8>) -> Vec<u32> {
        dst.reserve(self.series.len() + self.lines.len() + 20);
        put_uvarint(dst, self.ids.len() as u64);
        dst.extend_from_slice(&self.series);
        put_uvarint(dst, self.n_lines);
        dst.extend_from_slice(&self.lines);
        let ids = std::mem::take(&mut self.ids);
        *self = BatchEncoder::default();
        ids
    }

    /// Finishes the batch as a framed `Write` record, ready for [`crate::wal::Wal::submit_write`]
    /// (the payload is copied once, into the frame), and resets the encoder.
    pub fn finish_record(&mut self) -> WriteRecord {
        let mut frame = Vec::with_capacity(
            frame::FRAME_PREFIX_LEN + 1 + 20 + self.series.len() + self.lines.len(),
        );
        let start = frame::begin_record(RecordKind::Write, &mut frame);
        let series = self.finish_into(&mut frame);
        frame::end_record(&mut frame, start);
        WriteRecord { frame, series }
    }
}

/// A framed `Write` record and the series numbers its table holds, as
/// [`BatchEncoder::finish_record`] made them (so the two always agree).
#[derive(Debug)]
pub struct WriteRecord {
    pub(crate) frame: Vec<u8>,
    pub(crate) series: Vec<u32>,
}

/// How a batch's table names its series, by record kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesNaming {
    /// Series numbers of the file's dictionary (kind 4, `Write`).
    Numbers,
    /// Full canonical keys (kind 1, `WriteKeys`, version 1 files).
    Keys,
}

/// A decoded batch's series table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeriesTable<'a> {
    /// Series numbers, to be resolved through the file's dictionary.
    Numbers(Vec<u32>),
    /// Canonical series-key bytes.
    Keys(Vec<&'a [u8]>),
}

impl SeriesTable<'_> {
    /// Entries in the table.
    pub fn len(&self) -> usize {
        match self {
            SeriesTable::Numbers(v) => v.len(),
            SeriesTable::Keys(v) => v.len(),
        }
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoded batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<'a> {
    /// The series the lines refer to.
    pub series: SeriesTable<'a>,
    /// The lines, in write order.
    pub lines: Vec<BatchLine<'a>>,
}

/// One decoded line of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLine<'a> {
    /// Index into the batch's series table (checked to be in range).
    pub series: usize,
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    /// Field name and value, in written order.
    pub fields: Vec<(&'a str, FieldValueRef<'a>)>,
}

/// Decodes a batch payload whose table names series as `naming` says; on damage returns
/// the byte offset in the payload and what was wrong.
pub fn decode_batch(src: &[u8], naming: SeriesNaming) -> Result<Batch<'_>, (usize, &'static str)> {
    let mut r = Reader { src, pos: 0 };
    let n_series = r.len("series count")?;
    let series = match naming {
        SeriesNaming::Numbers => {
            let mut ids = Vec::with_capacity(n_series.min(src.len()));
            for _ in 0..n_series {
                ids.push(r.number("series number")?);
            }
            SeriesTable::Numbers(ids)
        }
        SeriesNaming::Keys => {
            let mut keys = Vec::with_capacity(n_series.min(src.len()));
            for _ in 0..n_series {
                let n = r.len("series key length")?;
                keys.push(r.bytes(n, "series key")?);
            }
            SeriesTable::Keys(keys)
        }
    };
    let n_lines = r.len("line count")?;
    let mut lines = Vec::with_capacity(n_lines.min(src.len() / 10));
    for _ in 0..n_lines {
        let at = r.pos;
        let s = r.len("series index")?;
        if s >= n_series {
            return Err((at, "series index out of range"));
        }
        let ts = i64::from_le_bytes(r.array("timestamp")?);
        let nf = r.len("field count")?;
        let mut fields = Vec::with_capacity(nf.min(src.len()));
        for _ in 0..nf {
            let n = r.len("field name length")?;
            let name = r.str(n, "field name")?;
            let at = r.pos;
            let tag = r.bytes(1, "field type")?[0];
            let value = match FieldType::from_tag(tag).ok_or((at, "unknown field type"))? {
                FieldType::Float => FieldValueRef::Float(f64::from_bits(u64::from_le_bytes(
                    r.array("float value")?,
                ))),
                FieldType::Integer => {
                    FieldValueRef::Integer(i64::from_le_bytes(r.array("integer value")?))
                }
                FieldType::Unsigned => {
                    FieldValueRef::Unsigned(u64::from_le_bytes(r.array("unsigned value")?))
                }
                FieldType::Boolean => {
                    let at = r.pos;
                    match r.bytes(1, "boolean value")?[0] {
                        0 => FieldValueRef::Boolean(false),
                        1 => FieldValueRef::Boolean(true),
                        _ => return Err((at, "boolean value is neither 0 nor 1")),
                    }
                }
                FieldType::String => {
                    let n = r.len("string length")?;
                    FieldValueRef::String(r.str(n, "string value")?)
                }
            };
            fields.push((name, value));
        }
        if fields.is_empty() {
            return Err((at, "line without fields"));
        }
        lines.push(BatchLine {
            series: s,
            timestamp: ts,
            fields,
        });
    }
    if r.pos != src.len() {
        return Err((r.pos, "trailing bytes after the last line"));
    }
    Ok(Batch { series, lines })
}

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn len(&mut self, what: &'static str) -> Result<usize, (usize, &'static str)> {
        let (v, used) = read_uvarint(&self.src[self.pos..]).ok_or((self.pos, what))?;
        let v = usize::try_from(v).map_err(|_| (self.pos, what))?;
        if v > self.src.len() {
            return Err((self.pos, what));
        }
        self.pos += used;
        Ok(v)
    }

    /// A series number: a uvarint that fits in 32 bits.
    fn number(&mut self, what: &'static str) -> Result<u32, (usize, &'static str)> {
        let (v, used) = read_uvarint(&self.src[self.pos..]).ok_or((self.pos, what))?;
        let v = u32::try_from(v).map_err(|_| (self.pos, "series number above 2^32 - 1"))?;
        self.pos += used;
        Ok(v)
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], (usize, &'static str)> {
        let b = self
            .src
            .get(self.pos..self.pos + n)
            .ok_or((self.pos, what))?;
        self.pos += n;
        Ok(b)
    }

    fn str(&mut self, n: usize, what: &'static str) -> Result<&'a str, (usize, &'static str)> {
        let at = self.pos;
        std::str::from_utf8(self.bytes(n, what)?).map_err(|_| (at, what))
    }

    fn array(&mut self, what: &'static str) -> Result<[u8; 8], (usize, &'static str)> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(a)
    }
}

#[cfg(test)]
mod tests;
