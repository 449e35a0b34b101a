//! A zero-copy reading of a remote-write `WriteRequest`: one walk over the protobuf bytes
//! that keeps, per `TimeSeries`, a slice of its encoded labels and the range of its
//! samples in one flat array, instead of a `Vec` of `Label`s holding two `Vec<u8>` each.
//!
//! It accepts exactly the messages the `prost` types of [`super`] accept (the remote-write
//! fuzz target checks it against them), with the same meaning: unknown fields are skipped
//! (groups included, to the same nesting limit), a known field with the wrong wire type is
//! an error, a repeated scalar field keeps its last value, strings must be UTF-8, and a
//! nested message must end exactly where its length says. A request that fails anywhere
//! is refused whole, before anything is written.

use super::MetricMetadata;
use std::ops::Range;

/// `prost`'s nesting limit for messages and groups (`prost::RECURSION_LIMIT`).
const RECURSION_LIMIT: u32 = 100;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// Why the bytes are not a `WriteRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct WireError {
    /// Byte offset in the decompressed request.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

/// A float sample as sent: the value's bits and milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample {
    /// The value (every bit kept).
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// The fields Strata reads of a native histogram sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawHistogram {
    /// `count_int`, if present.
    pub count_int: Option<u64>,
    /// `count_float`, if present.
    pub count_float: Option<f64>,
    /// The sum of observations.
    pub sum: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// One `TimeSeries`, in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<'a> {
    /// The message's bytes (checked).
    body: &'a [u8],
    /// Its `Label` fields, keys included, when they are back to back (as every client
    /// encodes them): the series' raw spelling for the index's cache.
    labels: Option<&'a [u8]>,
    /// Its samples in [`Request::samples`].
    pub samples: Range<usize>,
    /// Its histogram samples in [`Request::histograms`].
    pub histograms: Range<usize>,
}

/// A decoded request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request<'a> {
    /// The series, in request order.
    pub series: Vec<Series<'a>>,
    /// Every float sample, series after series.
    pub samples: Vec<RawSample>,
    /// Every histogram sample, series after series.
    pub histograms: Vec<RawHistogram>,
    /// Metric metadata.
    pub metadata: Vec<MetricMetadata>,
}

impl<'a> Series<'a> {
    /// The encoded `Label` fields when they are contiguous (the same bytes always spell
    /// the same labels).
    pub fn raw_labels(&self) -> Option<&'a [u8]> {
        self.labels
    }

    /// The labels as (name, value) byte strings, in message order (a `Label` given a
    /// field twice keeps the last, as protobuf does).
    pub fn labels(&self) -> Labels<'a> {
        Labels {
            r: Reader::new(self.body),
        }
    }
}

/// Iterator over a series' labels; see [`Series::labels`].
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for Labels<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The bytes were checked by `decode`: any error here ends the iteration.
        while !self.r.done() {
            let (tag, wt) = self.r.key().ok()?;
            if tag == 1 && wt == LEN {
                let label = self.r.bytes().ok()?;
                return read_label(label).ok();
            }
            self.r.skip(wt, tag, RECURSION_LIMIT).ok()?;
        }
        None
    }
}

/// A `Label` message: its last `name` and last `value` (empty when absent).
fn read_label(b: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let mut r = Reader::new(b);
    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 | 2 => {
                r.expect(wt, LEN)?;
                let v = r.bytes()?;
                if tag == 1 {
                    name = v;
                } else {
                    value = v;
                }
            }
            _ => r.skip(wt, tag, RECURSION_LIMIT - 2)?,
        }
    }
    Ok((name, value))
}

/// Reads a `WriteRequest`.
pub fn decode(b: &[u8]) -> Result<Request<'_>, WireError> {
    let mut req = Request::default();
    let mut r = Reader::new(b);
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, LEN)?;
                let base = r.pos;
                let body = r.bytes()?;
                let base = base + (r.pos - base - body.len());
                series(body, base, &mut req)?;
            }
            3 => {
                r.expect(wt, LEN)?;
                let base = r.pos;
                let body = r.bytes()?;
                let base = base + (r.pos - base - body.len());
                req.metadata.push(metadata(body, base)?);
            }
            _ => r.skip(wt, tag, RECURSION_LIMIT)?,
        }
    }
    Ok(req)
}

/// A `TimeSeries` (its fields are at nesting depth 1).
fn series<'a>(body: &'a [u8], base: usize, req: &mut Request<'a>) -> Result<(), WireError> {
    let depth = RECURSION_LIMIT - 1;
    let mut r = Reader {
        b: body,
        pos: 0,
        base,
    };
    let samples = req.samples.len();
    let histograms = req.histograms.len();
    // The span of the label fields: (start, end), and whether another field came between.
    let mut span: Option<(usize, usize)> = None;
    let mut contiguous = true;
    while !r.done() {
        let start = r.pos;
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, LEN)?;
                let label = r.sub()?;
                check_label_message(&label, depth - 1)?;
                span = match span {
                    None => Some((start, r.pos)),
                    Some((s, e)) => {
                        if e != start {
                            contiguous = false;
                        }
                        Some((s, r.pos))
                    }
                };
            }
            2 => {
                r.expect(wt, LEN)?;
                let s = r.sub()?;
                req.samples.push(sample(s, depth - 1)?);
            }
            3 => {
                r.expect(wt, LEN)?;
                let e = r.sub()?;
                check_message(&e, depth - 1, check_exemplar)?;
            }
            4 => {
                r.expect(wt, LEN)?;
                let h = r.sub()?;
                req.histograms.push(histogram(h, depth - 1)?);
            }
            _ => r.skip(wt, tag, depth)?,
        }
    }
    let labels = match span {
        None => Some(&body[..0]),
        Some((s, e)) if contiguous => Some(&body[s..e]),
        Some(_) => None,
    };
    req.series.push(Series {
        body,
        labels,
        samples: samples..req.samples.len(),
        histograms: histograms..req.histograms.len(),
    });
    Ok(())
}

/// Checks a nested message at `depth` (the depth its own fields are read at) with `f`.
fn check_message(
    r: &Reader<'_>,
    depth: u32,
    f: fn(&mut Reader<'_>, u32) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let mut r = r.clone();
    f(&mut r, depth)
}

/// Checks a `Label` message read at `depth`: a plain one (see [`is_plain_label`]) at
/// once, any other field by field.
#[inline]
fn check_label_message(label: &Reader<'_>, depth: u32) -> Result<(), WireError> {
    if is_plain_label(label.b) {
        return Ok(());
    }
    check_message(label, depth, check_label)
}

fn check_label(r: &mut Reader<'_>, depth: u32) -> Result<(), WireError> {
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 | 2 => {
                r.expect(wt, LEN)?;
                r.bytes()?;
            }
            _ => r.skip(wt, tag, depth)?,
        }
    }
    Ok(())
}

/// A `Label` as every client encodes it: field 1 then field 2, each with a one-byte
/// length, and nothing else. Such bytes are a valid `Label` (the general walk accepts
/// them), so they need no walk; anything else takes it.
#[inline]
fn is_plain_label(b: &[u8]) -> bool {
    let [0x0A, name_len, rest @ ..] = b else {
        return false;
    };
    let name_len = usize::from(*name_len);
    if name_len >= 0x80 {
        return false;
    }
    match rest.get(name_len..) {
        Some([0x12, value_len, value @ ..]) => {
            *value_len < 0x80 && value.len() == usize::from(*value_len)
        }
        _ => false,
    }
}

fn check_exemplar(r: &mut Reader<'_>, depth: u32) -> Result<(), WireError> {
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, LEN)?;
                let label = r.sub()?;
                check_label_message(&label, depth - 1)?;
            }
            2 => {
                r.expect(wt, FIXED64)?;
                r.fixed64()?;
            }
            3 => {
                r.expect(wt, VARINT)?;
                r.varint()?;
            }
            _ => r.skip(wt, tag, depth)?,
        }
    }
    Ok(())
}

fn sample(mut r: Reader<'_>, depth: u32) -> Result<RawSample, WireError> {
    let mut s = RawSample {
        value: 0.0,
        timestamp: 0,
    };
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, FIXED64)?;
                s.value = f64::from_bits(r.fixed64()?);
            }
            2 => {
                r.expect(wt, VARINT)?;
                s.timestamp = r.varint()? as i64;
            }
            _ => r.skip(wt, tag, depth)?,
        }
    }
    Ok(s)
}

fn histogram(mut r: Reader<'_>, depth: u32) -> Result<RawHistogram, WireError> {
    let mut h = RawHistogram {
        count_int: None,
        count_float: None,
        sum: 0.0,
        timestamp: 0,
    };
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, VARINT)?;
                h.count_int = Some(r.varint()?);
            }
            2 => {
                r.expect(wt, FIXED64)?;
                h.count_float = Some(f64::from_bits(r.fixed64()?));
            }
            3 => {
                r.expect(wt, FIXED64)?;
                h.sum = f64::from_bits(r.fixed64()?);
            }
            15 => {
                r.expect(wt, VARINT)?;
                h.timestamp = r.varint()? as i64;
            }
            _ => r.skip(wt, tag, depth)?,
        }
    }
    Ok(h)
}

fn metadata(body: &[u8], base: usize) -> Result<MetricMetadata, WireError> {
    let depth = RECURSION_LIMIT - 1;
    let mut r = Reader {
        b: body,
        pos: 0,
        base,
    };
    let mut m = MetricMetadata::default();
    while !r.done() {
        let (tag, wt) = r.key()?;
        match tag {
            1 => {
                r.expect(wt, VARINT)?;
                m.r#type = r.varint()? as i32;
            }
            2 | 4 | 5 => {
                r.expect(wt, LEN)?;
                let at = r.offset();
                let s = std::str::from_utf8(r.bytes()?)
                    .map_err(|_| WireError {
                        offset: at,
                        what: "string is not UTF-8",
                    })?
                    .to_owned();
                match tag {
                    2 => m.metric_family_name = s,
                    4 => m.help = s,
                    _ => m.unit = s,
                }
            }
            _ => r.skip(wt, tag, depth)?,
        }
    }
    Ok(m)
}

/// A position in a message's bytes; `base` is where they start in the request.
#[derive(Debug, Clone)]
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, pos: 0, base: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn err(&self, what: &'static str) -> WireError {
        WireError {
            offset: self.offset(),
            what,
        }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, WireError> {
        // Field keys and short lengths: one byte.
        if let Some(&byte) = self.b.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        self.varint_long()
    }

    #[inline(never)]
    fn varint_long(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.b.get(self.pos + i) else {
                return Err(self.err("truncated varint"));
            };
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte >= 2 {
                    return Err(self.err("varint overflows 64 bits"));
                }
                self.pos += i + 1;
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    #[inline]
    fn key(&mut self) -> Result<(u32, u8), WireError> {
        let at = self.pos;
        let k = self.varint()?;
        let fail = |what| WireError {
            offset: self.base + at,
            what,
        };
        if k > u64::from(u32::MAX) {
            return Err(fail("field key out of range"));
        }
        let wt = (k & 7) as u8;
        if wt > 5 {
            return Err(fail("unknown wire type"));
        }
        let tag = (k >> 3) as u32;
        if tag == 0 {
            return Err(fail("field number 0"));
        }
        Ok((tag, wt))
    }

    fn expect(&self, wt: u8, want: u8) -> Result<(), WireError> {
        if wt == want {
            Ok(())
        } else {
            Err(self.err("field has the wrong wire type"))
        }
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("length runs past the end of its message"))?;
        let out = &self.b[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A length-delimited field as a reader of its own.
    fn sub(&mut self) -> Result<Reader<'a>, WireError> {
        let b = self.bytes()?;
        Ok(Reader {
            b,
            pos: 0,
            base: self.base + self.pos - b.len(),
        })
    }

    fn fixed64(&mut self) -> Result<u64, WireError> {
        let b = self
            .b
            .get(self.pos..self.pos + 8)
            .ok_or_else(|| self.err("truncated fixed64"))?;
        self.pos += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips a field of wire type `wt` read at nesting depth `depth`, as
    /// `prost::encoding::skip_field` does.
    fn skip(&mut self, wt: u8, tag: u32, depth: u32) -> Result<(), WireError> {
        if depth == 0 {
            return Err(self.err("nesting too deep"));
        }
        let len = match wt {
            VARINT => {
                self.varint()?;
                0
            }
            FIXED64 => 8,
            FIXED32 => 4,
            LEN => self.varint()?,
            START_GROUP => loop {
                if self.done() {
                    return Err(self.err("unterminated group"));
                }
                let (inner, iwt) = self.key()?;
                if iwt == END_GROUP {
                    if inner != tag {
                        return Err(self.err("end group tag does not match"));
                    }
                    break 0;
                }
                self.skip(iwt, inner, depth - 1)?;
            },
            _ => return Err(self.err("unexpected end group")),
        };
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.err("field runs past the end of its message"))?;
        self.pos = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label(name: &[u8], value: &[u8]) -> Vec<u8> {
        let mut b = vec![0x0A, name.len() as u8];
        b.extend_from_slice(name);
        b.push(0x12);
        b.push(value.len() as u8);
        b.extend_from_slice(value);
        b
    }

    #[test]
    fn plain_labels_skip_the_walk_and_others_take_it() {
        assert!(is_plain_label(&label(b"job", b"node")));
        assert!(is_plain_label(&label(b"", b"")));
        assert!(!is_plain_label(b""));
        // Fields in the other order, a repeated field, a trailing field, long lengths.
        assert!(!is_plain_label(&[0x12, 1, b'v', 0x0A, 1, b'n']));
        assert!(!is_plain_label(
            &[&label(b"a", b"b")[..], &[0x12, 0]].concat()
        ));
        assert!(!is_plain_label(&[0x0A, 0x80, 0x01]));
        assert!(!is_plain_label(&label(b"a", b"b")[..5]));
        let r = Reader::new(&[0x12, 1, b'v', 0x0A, 1, b'n']);
        assert!(check_label_message(&r, 10).is_ok());
        let r = Reader::new(&[0x0A, 1, b'n', 0x12, 5, b'v']);
        assert!(
            check_label_message(&r, 10).is_err(),
            "a length past the end"
        );
    }

    proptest! {
        /// Whatever the fast check accepts, the field-by-field walk accepts too, reading
        /// the whole message.
        #[test]
        fn plain_labels_are_valid_labels(b in proptest::collection::vec(any::<u8>(), 0..24)) {
            if is_plain_label(&b) {
                let mut r = Reader::new(&b);
                prop_assert!(check_label(&mut r, 10).is_ok());
                prop_assert!(r.done());
            }
        }

        #[test]
        fn written_labels_are_plain(
            name in proptest::collection::vec(any::<u8>(), 0..127),
            value in proptest::collection::vec(any::<u8>(), 0..127),
        ) {
            let b = label(&name, &value);
            prop_assert!(is_plain_label(&b));
            prop_assert_eq!(read_label(&b), Ok((&name[..], &value[..])));
        }
    }
}
