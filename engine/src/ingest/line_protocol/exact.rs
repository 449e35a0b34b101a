//! The exact form: one line for a point that line protocol cannot spell, so that
//! `strata export` writes everything the store holds and `strata import` (or `/write`)
//! reads it back bit for bit.
//!
//! Line protocol has no spelling for a newline in a name (measurement, tag key or value,
//! field key), a name ending with a backslash, a measurement starting with `#` or a tab,
//! or a NaN or infinite float; Prometheus remote write and the embedded API can store all
//! of them. Such a point is written as
//!
//! ```text
//! #!strata <measurement>[,<tag key>=<tag value>...] <field key>=<value>[,...] <timestamp>
//! ```
//!
//! which InfluxDB and older readers skip as a comment (nothing is misread), and Strata's
//! parser reads with these rules, on one physical line:
//!
//! - In names and string values a backslash escapes the next character, whatever it is:
//!   `\n` is a newline, `\\` a backslash, `\,` `\=` `\ ` `\"` the character itself. The
//!   writer escapes `\`, newline, and in names `,` `=` space, in strings `"`.
//! - Floats may also be `NaN` (the bits of Rust's `f64::NAN`), `+Inf`, `-Inf`, or
//!   `NaN(0x7ff0000000000002)`: any other NaN by its 64 bits, so that payloads such as
//!   Prometheus' (`0x7ff8000000000001`) survive.
//! - Integers, unsigned integers, booleans and the timestamp are as in line protocol; a
//!   line without a timestamp takes the batch's time, as usual.
//!
//! Every other point keeps its ordinary line-protocol line, so an export of ordinary data
//! is plain line protocol that InfluxDB imports too.

use super::parse::{parse_scalar, parse_timestamp};
use super::{ParseErrorKind as Kind, ParsedLine, ParsedValue, WriteError, write_line};
use crate::model::{FieldValueRef, Precision};
use std::borrow::Cow;
use std::collections::HashMap;

/// What starts an exact line (after optional leading blanks).
pub const EXACT_MARKER: &str = "#!strata ";

/// The position just past the marker if `line` (after leading spaces and tabs) is an
/// exact line.
pub(super) fn after_marker(line: &[u8]) -> Option<usize> {
    let blanks = line
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    line.get(blanks..)?
        .starts_with(EXACT_MARKER.as_bytes())
        .then_some(blanks + EXACT_MARKER.len())
}

/// Appends one line for the point, in line protocol when it can spell the point exactly,
/// else in the exact form; returns whether the exact form was used. Fails (appending
/// nothing) only where neither can: an empty name, or no fields.
pub fn write_line_exact(
    dst: &mut Vec<u8>,
    measurement: &str,
    tags: &[(&str, &str)],
    fields: &[(&str, FieldValueRef<'_>)],
    timestamp: i64,
) -> Result<bool, WriteError> {
    match write_line(
        dst,
        measurement,
        tags.iter().copied(),
        fields.iter().copied(),
        timestamp,
    ) {
        Ok(()) => return Ok(false),
        Err(WriteError::EmptyName { element }) => return Err(WriteError::EmptyName { element }),
        Err(WriteError::NoFields) => return Err(WriteError::NoFields),
        Err(_) => {}
    }
    if measurement.is_empty() || tags.iter().any(|(k, v)| k.is_empty() || v.is_empty()) {
        return Err(WriteError::EmptyName {
            element: super::Element::TagValue,
        });
    }
    if fields.iter().any(|(k, _)| k.is_empty()) {
        return Err(WriteError::EmptyName {
            element: super::Element::FieldKey,
        });
    }
    dst.extend_from_slice(EXACT_MARKER.as_bytes());
    put(dst, measurement, NAME_ESCAPES);
    for (k, v) in tags {
        dst.push(b',');
        put(dst, k, NAME_ESCAPES);
        dst.push(b'=');
        put(dst, v, NAME_ESCAPES);
    }
    for (i, (k, v)) in fields.iter().enumerate() {
        dst.push(if i == 0 { b' ' } else { b',' });
        put(dst, k, NAME_ESCAPES);
        dst.push(b'=');
        put_value(dst, *v);
    }
    dst.push(b' ');
    dst.extend_from_slice(itoa::Buffer::new().format(timestamp).as_bytes());
    dst.push(b'\n');
    Ok(true)
}

/// Characters escaped in names of the exact form (besides `\` and newline).
const NAME_ESCAPES: &[char] = &[',', '=', ' '];
/// Characters escaped in strings of the exact form (besides `\` and newline).
const STRING_ESCAPES: &[char] = &['"'];

fn put(dst: &mut Vec<u8>, s: &str, escapes: &[char]) {
    let mut buf = [0u8; 4];
    for c in s.chars() {
        match c {
            '\n' => dst.extend_from_slice(b"\\n"),
            '\\' => dst.extend_from_slice(b"\\\\"),
            c if escapes.contains(&c) => {
                dst.push(b'\\');
                dst.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            c => dst.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
        }
    }
}

fn put_value(dst: &mut Vec<u8>, v: FieldValueRef<'_>) {
    match v {
        FieldValueRef::Float(f) if f.is_nan() && f.to_bits() == f64::NAN.to_bits() => {
            dst.extend_from_slice(b"NaN");
        }
        FieldValueRef::Float(f) if f.is_nan() => {
            dst.extend_from_slice(format!("NaN(0x{:016x})", f.to_bits()).as_bytes());
        }
        FieldValueRef::Float(f) if f.is_infinite() => {
            dst.extend_from_slice(if f > 0.0 { b"+Inf" } else { b"-Inf" });
        }
        FieldValueRef::Float(f) => {
            dst.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
        }
        FieldValueRef::Integer(i) => {
            dst.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            dst.push(b'i');
        }
        FieldValueRef::Unsigned(u) => {
            dst.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            dst.push(b'u');
        }
        FieldValueRef::Boolean(b) => dst.extend_from_slice(if b { b"true" } else { b"false" }),
        FieldValueRef::String(s) => {
            dst.push(b'"');
            put(dst, s, STRING_ESCAPES);
            dst.push(b'"');
        }
    }
}

/// An error at a byte offset of the whole line.
type Failure = (usize, Kind);

/// Parses the exact line `text` (the whole line, validated UTF-8, trailing blanks cut)
/// whose marker starts at `marker` and whose content starts at `from`.
pub(super) fn parse_exact<'a>(
    text: &'a str,
    marker: usize,
    from: usize,
    precision: Precision,
    out: &mut ParsedLine<'a>,
) -> Result<(), Failure> {
    let b = text.as_bytes();
    let mut p = Cursor { text, b, i: from };
    let m = p.name(Kind::MissingMeasurement)?;
    out.measurement = m.value;
    let mut seen_tags: HashMap<Cow<'a, str>, ()> = HashMap::new();
    let mut delim = m.delim;
    while delim == Some(b',') {
        let at = p.i;
        let k = p.name(Kind::MissingTagKey)?;
        if k.delim != Some(b'=') {
            return Err((k.end, Kind::MissingTagValue));
        }
        let v = p.name(Kind::MissingTagValue)?;
        if v.delim == Some(b'=') {
            return Err((v.end, Kind::InvalidTagFormat));
        }
        if seen_tags.insert(k.value.clone(), ()).is_some() {
            return Err((
                at,
                Kind::DuplicateTag {
                    key: k.value.into_owned(),
                },
            ));
        }
        out.tags.push((k.value, v.value));
        delim = v.delim;
    }
    if delim != Some(b' ') {
        return Err((p.i, Kind::MissingFields));
    }
    out.raw_series = b.get(marker..p.i - 1).unwrap_or_default();
    let mut positions: HashMap<Cow<'a, str>, usize> = HashMap::new();
    loop {
        let k = p.name(Kind::MissingFieldKey)?;
        if k.delim != Some(b'=') {
            return Err((k.end, Kind::InvalidFieldFormat));
        }
        let value = p.value()?;
        match positions.get(&k.value) {
            // A repeated key: the last value wins, in the first one's place.
            Some(&at) => {
                if let Some(slot) = out.fields.get_mut(at) {
                    slot.1 = value;
                }
            }
            None => {
                positions.insert(k.value.clone(), out.fields.len());
                out.fields.push((k.value, value));
            }
        }
        match b.get(p.i) {
            Some(b',') => p.i += 1,
            Some(b' ') => {
                p.i += 1;
                break;
            }
            None => return Ok(()),
            Some(_) => return Err((p.i, Kind::InvalidFieldFormat)),
        }
    }
    let t = p.i;
    let ts = parse_timestamp(b.get(t..).unwrap_or_default(), precision).map_err(|k| (t, k))?;
    out.timestamp = Some(ts);
    Ok(())
}

struct Cursor<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

/// A name and the delimiter that ended it (`None` at the end of the line).
struct Name<'a> {
    value: Cow<'a, str>,
    delim: Option<u8>,
    /// Where the delimiter is (or the end of the line).
    end: usize,
}

impl<'a> Cursor<'a> {
    /// A non-empty name up to an unescaped `,`, `=` or space; moves past the delimiter.
    fn name(&mut self, empty: Kind) -> Result<Name<'a>, Failure> {
        let start = self.i;
        let mut escaped = false;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\\' => {
                    escaped = true;
                    self.i += 1 + char_len(self.b.get(self.i + 1).copied());
                }
                b',' | b'=' | b' ' => break,
                _ => self.i += 1,
            }
        }
        let end = self.i.min(self.b.len());
        if end == start {
            return Err((start, empty));
        }
        let raw = self
            .text
            .get(start..end)
            .ok_or((start, Kind::InvalidUtf8))?;
        let delim = self.b.get(end).copied();
        self.i = end + usize::from(delim.is_some());
        Ok(Name {
            value: unescape(raw, escaped),
            delim,
            end,
        })
    }

    /// A field value at the cursor; leaves the cursor on what follows it.
    fn value(&mut self) -> Result<ParsedValue<'a>, Failure> {
        let start = self.i;
        if self.b.get(start) == Some(&b'"') {
            let mut i = start + 1;
            let mut escaped = false;
            loop {
                match self.b.get(i) {
                    None => return Err((start, Kind::UnbalancedQuotes)),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        escaped = true;
                        i += 1 + char_len(self.b.get(i + 1).copied());
                    }
                    Some(_) => i += 1,
                }
            }
            let raw = self
                .text
                .get(start + 1..i)
                .ok_or((start, Kind::InvalidUtf8))?;
            self.i = i + 1;
            return Ok(ParsedValue::String(unescape(raw, escaped)));
        }
        let end = self
            .b
            .get(start..)
            .and_then(|r| r.iter().position(|&c| c == b',' || c == b' '))
            .map_or(self.b.len(), |k| start + k);
        let token = self.b.get(start..end).unwrap_or_default();
        self.i = end;
        if token.is_empty() {
            return Err((start, Kind::MissingFieldValue));
        }
        match special_float(token) {
            Some(f) => Ok(ParsedValue::Float(f)),
            None => parse_scalar(token).map_err(|k| (start, k)),
        }
    }
}

/// The floats only the exact form spells.
fn special_float(t: &[u8]) -> Option<f64> {
    match t {
        b"NaN" => Some(f64::NAN),
        b"+Inf" => Some(f64::INFINITY),
        b"-Inf" => Some(f64::NEG_INFINITY),
        _ => {
            let hex = t.strip_prefix(b"NaN(0x")?.strip_suffix(b")")?;
            if hex.len() != 16 {
                return None;
            }
            let bits = u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            Some(f64::from_bits(bits)).filter(|f| f.is_nan())
        }
    }
}

/// Bytes of the UTF-8 character starting with `lead` (1 at the end of the line).
fn char_len(lead: Option<u8>) -> usize {
    match lead {
        Some(b) if b >= 0xF0 => 4,
        Some(b) if b >= 0xE0 => 3,
        Some(b) if b >= 0xC0 => 2,
        _ => 1,
    }
}

/// Removes escapes: `\n` is a newline, `\c` is `c`; borrows when there is none.
fn unescape(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::line_protocol::{LineSplitter, parse_line};

    fn exact(
        m: &str,
        tags: &[(&str, &str)],
        fields: &[(&str, FieldValueRef<'_>)],
    ) -> (bool, String) {
        let mut out = Vec::new();
        let used = write_line_exact(&mut out, m, tags, fields, 7).unwrap();
        (used, String::from_utf8(out).unwrap())
    }

    #[test]
    fn ordinary_points_stay_line_protocol() {
        let (used, line) = exact(
            "cpu",
            &[("host", "a b")],
            &[("v", FieldValueRef::Float(1.5))],
        );
        assert!(!used);
        assert_eq!(line, "cpu,host=a\\ b v=1.5 7\n");
    }

    #[test]
    fn what_line_protocol_cannot_spell_takes_the_exact_form() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let (used, line) = exact(
            "#m\tx",
            &[("k", "line1\nline2\\"), ("e", "a,b=c d")],
            &[
                ("f\n", FieldValueRef::Float(f64::NAN)),
                ("stale", FieldValueRef::Float(stale)),
                ("inf", FieldValueRef::Float(f64::NEG_INFINITY)),
                ("s", FieldValueRef::String("q\"\\\nz")),
                ("i", FieldValueRef::Integer(-3)),
            ],
        );
        assert!(used);
        assert_eq!(
            line,
            "#!strata #m\tx,k=line1\\nline2\\\\,e=a\\,b\\=c\\ d f\\n=NaN,stale=NaN(0x7ff0000000000002),inf=-Inf,s=\"q\\\"\\\\\\nz\",i=-3i 7\n"
        );
        let lines: Vec<_> = LineSplitter::new(line.as_bytes()).collect();
        assert_eq!(lines.len(), 1);
        let mut p = ParsedLine::default();
        parse_line(lines[0].1, Precision::Nanosecond, &mut p).unwrap();
        assert_eq!(p.measurement, "#m\tx");
        assert_eq!(p.tags[0], ("k".into(), "line1\nline2\\".into()));
        assert_eq!(p.tags[1], ("e".into(), "a,b=c d".into()));
        assert_eq!(p.fields[0].0, "f\n");
        let got: Vec<_> = p.fields.iter().map(|(_, v)| v.to_owned_value()).collect();
        let want = [
            crate::model::FieldValue::Float(stale),
            crate::model::FieldValue::Float(f64::NEG_INFINITY),
            crate::model::FieldValue::String("q\"\\\nz".into()),
            crate::model::FieldValue::Integer(-3),
        ];
        assert!(
            got[1..].iter().zip(&want).all(|(a, b)| a.bit_eq(b)),
            "{got:?}"
        );
        assert!(
            matches!(p.fields[0].1, ParsedValue::Float(f) if f.to_bits() == f64::NAN.to_bits())
        );
        assert_eq!(p.timestamp, Some(7));
        assert!(p.raw_series.starts_with(EXACT_MARKER.as_bytes()));
    }

    #[test]
    fn exact_lines_report_their_errors() {
        for (line, column, kind) in [
            ("#!strata ", 10, Kind::MissingMeasurement),
            ("#!strata m", 11, Kind::MissingFields),
            ("#!strata m,k v=1 1", 13, Kind::MissingTagValue),
            (
                "#!strata m,k=a,k=b v=1 1",
                16,
                Kind::DuplicateTag { key: "k".into() },
            ),
            ("#!strata m v=NaN(0x1) 1", 14, Kind::InvalidNumber),
            ("#!strata m v=\"open 1", 14, Kind::UnbalancedQuotes),
            ("#!strata m v=1 x", 16, Kind::InvalidTimestamp),
            (
                "#!strata m v=99999999999999999999i 1",
                14,
                Kind::IntegerOutOfRange,
            ),
        ] {
            let mut p = ParsedLine::default();
            let e = parse_line(line.as_bytes(), Precision::Nanosecond, &mut p).unwrap_err();
            assert_eq!((e.column, e.reason), (column, kind), "{line}");
        }
        // Ordinary comments are still skipped.
        assert_eq!(LineSplitter::new(b"#!stratax\n# strata\n").count(), 0);
    }
}
