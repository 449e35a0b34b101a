//! The payload of a `Write` WAL record: a batch of points in a compact, self-contained
//! binary form. Layout: docs/FORMAT.md, "WAL write batch".
//!
//! ```text
//! batch  := n_series uvarint | series_key* | n_lines uvarint | line*
//! series_key := len uvarint | canonical series-key bytes (model::SeriesKey)
//! line   := series uvarint (index into the series table) | timestamp i64 LE (8)
//!           | n_fields uvarint | field*
//! field  := name_len uvarint | name UTF-8 | type u8 (FieldType::tag) | value
//! value  := f64 LE (8) | i64 LE (8) | u64 LE (8) | bool u8 (0 or 1) | len uvarint + UTF-8
//! ```
//! Series keys are stored once per batch; ids are not, because in-memory series ids are
//! not stable across restarts. Every value is stored exactly (floats bit for bit, NaN
//! included), which line protocol text could not do.

use crate::model::series::{put_uvarint, read_uvarint};
use crate::model::{FieldType, FieldValueRef};

/// Builds a batch payload. Lines must be added in write order.
#[derive(Debug, Default)]
pub struct BatchEncoder {
    series: Vec<u8>,
    n_series: u64,
    lines: Vec<u8>,
    n_lines: u64,
    fields_at: usize,
    n_fields: u64,
}

impl BatchEncoder {
    /// An encoder with room for about `series` series of `key_bytes` bytes each and
    /// `lines` one-field lines, so that a batch of known shape does not regrow.
    pub fn with_capacity(series: usize, key_bytes: usize, lines: usize) -> BatchEncoder {
        BatchEncoder {
            series: Vec::with_capacity(series.saturating_mul(key_bytes.saturating_add(2))),
            lines: Vec::with_capacity(lines.saturating_mul(24)),
            ..BatchEncoder::default()
        }
    }

    /// Adds a series key to the batch's table and returns its index for
    /// [`BatchEncoder::begin_line`]. Callers dedupe: the same key may be added twice,
    /// which is valid but wasteful.
    pub fn add_series(&mut self, canonical_key: &[u8]) -> u64 {
        put_uvarint(&mut self.series, canonical_key.len() as u64);
        self.series.extend_from_slice(canonical_key);
        self.n_series += 1;
        self.n_series - 1
    }

    /// Starts a line of series `series` (an index from `add_series`) at `timestamp`.
    pub fn begin_line(&mut self, series: u64, timestamp: i64) {
        put_uvarint(&mut self.lines, series);
        self.lines.extend_from_slice(&timestamp.to_le_bytes());
        // Reserve the field count: patched in end_line as a fixed 1..=10 byte varint.
        self.fields_at = self.lines.len();
        self.n_fields = 0;
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

    /// Appends the finished payload to `dst` and resets the encoder.
    pub fn finish_into(&mut self, dst: &mut Vec<u8>) {
        put_uvarint(dst, self.n_series);
        dst.extend_from_slice(&self.series);
        put_uvarint(dst, self.n_lines);
        dst.extend_from_slice(&self.lines);
        *self = BatchEncoder::default();
    }
}

/// One decoded line of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLine<'a> {
    /// Canonical series-key bytes.
    pub series: &'a [u8],
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    /// Field name and value, in written order.
    pub fields: Vec<(&'a str, FieldValueRef<'a>)>,
}

/// Decodes a batch payload; on damage returns the byte offset in the payload and what
/// was wrong.
pub fn decode_batch(src: &[u8]) -> Result<Vec<BatchLine<'_>>, (usize, &'static str)> {
    let mut r = Reader { src, pos: 0 };
    let n_series = r.len("series count")?;
    let mut series = Vec::with_capacity(n_series.min(src.len()));
    for _ in 0..n_series {
        let n = r.len("series key length")?;
        series.push(r.bytes(n, "series key")?);
    }
    let n_lines = r.len("line count")?;
    let mut lines = Vec::with_capacity(n_lines.min(src.len() / 10));
    for _ in 0..n_lines {
        let at = r.pos;
        let s = r.len("series index")?;
        let key = *series.get(s).ok_or((at, "series index out of range"))?;
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
            series: key,
            timestamp: ts,
            fields,
        });
    }
    if r.pos != src.len() {
        return Err((r.pos, "trailing bytes after the last line"));
    }
    Ok(lines)
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
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut e = BatchEncoder::default();
        let a = e.add_series(b"\x03cpu\x04host\x01a");
        let b = e.add_series(b"\x03mem");
        e.begin_line(a, 10);
        e.field(
            "usage",
            FieldValueRef::Float(f64::from_bits(0x7ff8_0000_0000_0abc)),
        );
        e.field("n", FieldValueRef::Integer(i64::MIN));
        e.end_line();
        e.begin_line(b, -5);
        e.field("u", FieldValueRef::Unsigned(u64::MAX));
        e.field("ok", FieldValueRef::Boolean(true));
        e.field("s", FieldValueRef::String("a \"q\"\nline"));
        e.end_line();
        let mut out = Vec::new();
        e.finish_into(&mut out);
        out
    }

    #[test]
    fn batch_round_trips_exactly() {
        let buf = sample();
        let lines = decode_batch(&buf).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].series, b"\x03cpu\x04host\x01a");
        match lines[0].fields[0].1 {
            FieldValueRef::Float(v) => assert_eq!(v.to_bits(), 0x7ff8_0000_0000_0abc),
            ref other => panic!("{other:?}"),
        }
        assert_eq!(lines[0].fields[1].1, FieldValueRef::Integer(i64::MIN));
        assert_eq!(lines[1].timestamp, -5);
        assert_eq!(
            lines[1].fields[2],
            ("s", FieldValueRef::String("a \"q\"\nline"))
        );
    }

    #[test]
    fn many_fields_widen_the_count() {
        let mut e = BatchEncoder::default();
        let s = e.add_series(b"\x01m");
        e.begin_line(s, 1);
        for i in 0..300 {
            e.field(&format!("f{i}"), FieldValueRef::Integer(i));
        }
        e.end_line();
        let mut out = Vec::new();
        e.finish_into(&mut out);
        let lines = decode_batch(&out).unwrap();
        assert_eq!(lines[0].fields.len(), 300);
        assert_eq!(lines[0].fields[299], ("f299", FieldValueRef::Integer(299)));
    }

    #[test]
    fn truncated_or_damaged_batches_error_without_panic() {
        let buf = sample();
        for cut in 0..buf.len() {
            assert!(decode_batch(&buf[..cut]).is_err(), "cut {cut}");
        }
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] = 0xff;
            let _ = decode_batch(&bad);
        }
    }
}
