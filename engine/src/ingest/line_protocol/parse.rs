//! [`parse_line`]: one line into a [`ParsedLine`], on bytes, borrowing unless escaped.

use super::split::string_end;
use super::{ParseError, ParseErrorKind as Kind, ParsedLine, ParsedValue};
use crate::model::Precision;
use memchr::memchr;
use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::BuildHasher;

const SPACE: u8 = 1;
const COMMA: u8 = 2;
const EQUALS: u8 = 4;
const BACKSLASH: u8 = 8;

/// Byte classes for the name scanner.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = SPACE;
    t[b',' as usize] = COMMA;
    t[b'=' as usize] = EQUALS;
    t[b'\\' as usize] = BACKSLASH;
    t
};

const MEASUREMENT_STOPS: u8 = SPACE | COMMA | BACKSLASH;
const NAME_STOPS: u8 = SPACE | COMMA | EQUALS | BACKSLASH;

/// Bytes a backslash escapes in a measurement.
const MEASUREMENT_ESCAPES: &[u8] = b", ";
/// Bytes a backslash escapes in tag keys, tag values and field keys.
const NAME_ESCAPES: &[u8] = b",= ";
/// Bytes a backslash escapes in a string field value.
const STRING_ESCAPES: &[u8] = b"\"\\";

/// Parses one line (as yielded by [`super::LineSplitter`]) into `out`, which is cleared
/// first. On error `out` holds whatever was parsed before the error.
pub fn parse_line<'a>(
    line: &'a [u8],
    precision: Precision,
    out: &mut ParsedLine<'a>,
) -> Result<(), ParseError> {
    out.clear();
    let text = std::str::from_utf8(line)
        .map_err(|e| ParseError::at(line, e.valid_up_to(), Kind::InvalidUtf8))?;
    let len = line.len() - trailing_blanks(line);
    if let Some(from) = super::exact::after_marker(line) {
        let marker = from - super::exact::EXACT_MARKER.len();
        if from >= len {
            return Err(ParseError::at(line, from, Kind::MissingMeasurement));
        }
        let text = text.get(..len).unwrap_or(text);
        return super::exact::parse_exact(text, marker, from, precision, out)
            .map_err(|(offset, kind)| ParseError::at(line, offset, kind));
    }
    let p = Parser {
        text,
        b: line.get(..len).unwrap_or(line),
    };
    p.parse(precision, out)
        .map_err(|(offset, kind)| ParseError::at(line, offset, kind))
}

/// Where the series section (measurement and tags, exactly the bytes [`parse_line`] puts
/// in [`ParsedLine::raw_series`] when the line parses) of `line` starts and ends: from the
/// first byte that is not a blank to the first space that does not follow a backslash.
/// `None` for an exact-form line (`#!strata …`) or a line with no such space.
///
/// A caller that has seen these bytes parse before (a series-key cache hit) can skip the
/// series section with [`parse_after_series`].
#[inline]
pub fn series_span(line: &[u8]) -> Option<(usize, usize)> {
    let start = line
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    if matches!(line.get(start), None | Some(b'#')) {
        return None;
    }
    let mut from = start;
    loop {
        let k = from + memchr(b' ', line.get(from..)?)?;
        // `line[start]` is not a space, so `k > start`.
        if line.get(k.wrapping_sub(1)) != Some(&b'\\') {
            return Some((start, k));
        }
        from = k + 1;
    }
}

/// Parses only the fields and timestamp of `line`, whose series section ends at
/// `series_end` (from [`series_span`]), into `out` (cleared first; `measurement`, `tags`
/// and `raw_series` stay empty). For a line whose series section is known to parse, this
/// gives the fields and timestamp [`parse_line`] would give. `false` when the rest of the
/// line does not parse: call [`parse_line`] for the error and its column.
///
/// `text` is the line as text, when the caller has it (a batch checked as a whole): the
/// rest of the line is then not checked for UTF-8 again.
pub fn parse_after_series<'a>(
    line: &'a [u8],
    text: Option<&'a str>,
    series_end: usize,
    precision: Precision,
    out: &mut ParsedLine<'a>,
) -> bool {
    out.clear();
    let len = line.len() - trailing_blanks(line);
    let Some(b) = line.get(series_end..len) else {
        return false;
    };
    let text = match text.and_then(|t| t.get(series_end..len)) {
        Some(t) => t,
        None => match std::str::from_utf8(b) {
            Ok(t) => t,
            Err(_) => return false,
        },
    };
    Parser { text, b }.parse_tail(0, precision, out).is_ok()
}

fn trailing_blanks(b: &[u8]) -> usize {
    b.iter()
        .rev()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count()
}

/// An error at a byte offset; turned into a column only when it happens.
type Failure = (usize, Kind);

struct Parser<'a> {
    /// The whole line, validated UTF-8.
    text: &'a str,
    /// The line without trailing blanks; every index below is into both.
    b: &'a [u8],
}

/// The end of a name: where it stopped, on which delimiter (`None` at the end of the
/// line), and whether it holds a backslash (and so may need unescaping).
struct Name {
    end: usize,
    delim: Option<u8>,
    backslash: bool,
}

impl<'a> Parser<'a> {
    fn parse(&self, precision: Precision, out: &mut ParsedLine<'a>) -> Result<(), Failure> {
        let b = self.b;
        let start = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
        if matches!(b.get(start), None | Some(b',')) {
            return Err((start, Kind::MissingMeasurement));
        }
        let m = self.scan_name(start, MEASUREMENT_STOPS);
        out.measurement = unescape(self.str(start, m.end)?, m.backslash, MEASUREMENT_ESCAPES);
        let i = match m.delim {
            None => return Err((m.end, Kind::MissingFields)),
            Some(b',') => self.parse_tags(m.end + 1, out)?,
            Some(_) => m.end,
        };
        out.raw_series = b.get(start..i).unwrap_or_default();
        self.parse_tail(i, precision, out)
    }

    /// Parses the fields and the timestamp from `i`, the end of the series section.
    fn parse_tail(
        &self,
        i: usize,
        precision: Precision,
        out: &mut ParsedLine<'a>,
    ) -> Result<(), Failure> {
        let b = self.b;
        let i = self.skip_spaces(i);
        if i >= b.len() {
            return Err((i, Kind::MissingFields));
        }
        let Some(after_fields) = self.parse_fields(i, out)? else {
            return Ok(());
        };
        let t = self.skip_spaces(after_fields);
        let t_end = memchr(b' ', b.get(t..).unwrap_or_default()).map_or(b.len(), |k| t + k);
        let ts = parse_timestamp(b.get(t..t_end).unwrap_or_default(), precision)
            .map_err(|kind| (t, kind))?;
        if t_end < b.len() {
            return Err((self.skip_spaces(t_end), Kind::ExtraData));
        }
        out.timestamp = Some(ts);
        Ok(())
    }

    /// Parses `key=value[,key=value...]` from `i`; returns the position of the space that
    /// ends the tag set.
    fn parse_tags(&self, mut i: usize, out: &mut ParsedLine<'a>) -> Result<usize, Failure> {
        let mut seen = Seen::default();
        loop {
            let k = self.scan_name(i, NAME_STOPS);
            if k.end == i {
                return Err((i, Kind::MissingTagKey));
            }
            if k.delim != Some(b'=') {
                return Err((k.end, Kind::MissingTagValue));
            }
            let v_start = k.end + 1;
            let v = self.scan_name(v_start, NAME_STOPS);
            if v.delim == Some(b'=') {
                return Err((v.end, Kind::InvalidTagFormat));
            }
            if v.end == v_start {
                return Err((v_start, Kind::MissingTagValue));
            }
            let key = unescape(self.str(i, k.end)?, k.backslash, NAME_ESCAPES);
            let value = unescape(self.str(v_start, v.end)?, v.backslash, NAME_ESCAPES);
            if seen.earlier(&out.tags, &key).is_some() {
                return Err((
                    i,
                    Kind::DuplicateTag {
                        key: key.into_owned(),
                    },
                ));
            }
            out.tags.push((key, value));
            match v.delim {
                None => return Err((v.end, Kind::MissingFields)),
                Some(b',') => i = v.end + 1,
                Some(_) => return Ok(v.end),
            }
        }
    }

    /// Parses the field set from `i`; returns the position of the space after it, or
    /// `None` when the line ends with the fields.
    fn parse_fields(
        &self,
        mut i: usize,
        out: &mut ParsedLine<'a>,
    ) -> Result<Option<usize>, Failure> {
        let b = self.b;
        let mut seen = Seen::default();
        loop {
            let k = self.scan_name(i, NAME_STOPS);
            if k.end == i {
                return Err((i, Kind::MissingFieldKey));
            }
            if k.delim != Some(b'=') {
                return Err((k.end, Kind::InvalidFieldFormat));
            }
            let key = unescape(self.str(i, k.end)?, k.backslash, NAME_ESCAPES);
            let v = k.end + 1;
            let (value, after) = match b.get(v) {
                None | Some(b',' | b' ') => return Err((v, Kind::MissingFieldValue)),
                Some(b'"') => {
                    let close = string_end(b, v + 1).ok_or((v, Kind::UnbalancedQuotes))?;
                    let s = unescape(self.str(v + 1, close)?, true, STRING_ESCAPES);
                    (ParsedValue::String(s), close + 1)
                }
                Some(_) => {
                    let rest = b.get(v..).unwrap_or_default();
                    let e = rest
                        .iter()
                        .position(|&c| c == b',' || c == b' ')
                        .map_or(b.len(), |k| v + k);
                    let value =
                        parse_scalar(b.get(v..e).unwrap_or_default()).map_err(|kind| (v, kind))?;
                    (value, e)
                }
            };
            match seen
                .earlier(&out.fields, &key)
                .and_then(|at| out.fields.get_mut(at))
            {
                // A repeated field key: the last value wins, in the first one's place.
                Some(slot) => slot.1 = value,
                None => out.fields.push((key, value)),
            }
            match b.get(after) {
                None => return Ok(None),
                Some(b',') => i = after + 1,
                Some(b' ') => return Ok(Some(after)),
                Some(_) => return Err((after, Kind::InvalidFieldFormat)),
            }
        }
    }

    /// Scans a name from `start` to the first delimiter of class `stops` that does not
    /// follow a backslash.
    #[inline]
    fn scan_name(&self, start: usize, stops: u8) -> Name {
        let mut backslash = false;
        let mut i = start;
        while let Some(&c) = self.b.get(i) {
            let class = CLASS[usize::from(c)];
            if class & stops != 0 {
                if class == BACKSLASH {
                    backslash = true;
                } else if !(backslash && self.b.get(i.wrapping_sub(1)) == Some(&b'\\')) {
                    return Name {
                        end: i,
                        delim: Some(c),
                        backslash,
                    };
                }
            }
            i += 1;
        }
        Name {
            end: i,
            delim: None,
            backslash,
        }
    }

    fn skip_spaces(&self, mut i: usize) -> usize {
        while self.b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    }

    /// `text[start..end]`; the bounds always sit next to ASCII delimiters, so the `None`
    /// arm is unreachable, but input never gets to panic.
    fn str(&self, start: usize, end: usize) -> Result<&'a str, Failure> {
        self.text.get(start..end).ok_or((start, Kind::InvalidUtf8))
    }
}

/// Lines with up to this many tags (or fields) find repeated names with a 64-bit filter
/// and a linear scan on a hit; longer ones switch to a hash index, so that a line with
/// thousands of names stays linear.
const FEW_NAMES: usize = 32;

/// Finds repeated names among the tags (or fields) of one line.
#[derive(Default)]
struct Seen {
    filter: u64,
    /// Full hash → position, built when a line passes [`FEW_NAMES`]. Keyed with a random
    /// SipHash key, so crafted names cannot collide on purpose.
    index: Option<(RandomState, HashMap<u64, usize>)>,
}

impl Seen {
    /// The position of `name` in `names` (which are unique), if it is there; otherwise
    /// remembers it at position `names.len()`, where the caller pushes it.
    #[inline]
    fn earlier<V>(&mut self, names: &[(Cow<'_, str>, V)], name: &str) -> Option<usize> {
        if names.len() < FEW_NAMES {
            let bit = name_bit(name);
            let hit = self.filter & bit != 0;
            self.filter |= bit;
            return hit
                .then(|| names.iter().position(|(k, _)| k == name))
                .flatten();
        }
        let (state, index) = self.index.get_or_insert_with(|| {
            let state = RandomState::new();
            let index = names
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (state.hash_one(k.as_ref()), i))
                .collect();
            (state, index)
        });
        match index.entry(state.hash_one(name)) {
            Entry::Vacant(slot) => {
                slot.insert(names.len());
                None
            }
            Entry::Occupied(slot) => match names.get(*slot.get()) {
                Some((k, _)) if k == name => Some(*slot.get()),
                // Two names with one 64-bit hash: look the slow way.
                _ => names.iter().position(|(k, _)| k == name),
            },
        }
    }
}

/// One bit of a 64-bit filter per name, so that duplicate checks cost a comparison only
/// when two names share length, middle and last byte class.
#[inline]
fn name_bit(name: &str) -> u64 {
    let b = name.as_bytes();
    let last = b.last().copied().unwrap_or(0);
    let mid = b.get(b.len() / 2).copied().unwrap_or(0);
    let h = (b.len() as u64) ^ (u64::from(last) << 8) ^ (u64::from(mid) << 16);
    1u64 << (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

/// Removes the backslash of every `\c` with `c` in `escapes`; borrows when there is none.
#[inline(always)]
fn unescape<'a>(raw: &'a str, backslash: bool, escapes: &[u8]) -> Cow<'a, str> {
    if backslash {
        unescape_slow(raw, escapes)
    } else {
        Cow::Borrowed(raw)
    }
}

#[inline(never)]
fn unescape_slow<'a>(raw: &'a str, escapes: &[u8]) -> Cow<'a, str> {
    let bytes = raw.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(k) = memchr(b'\\', bytes.get(i..).unwrap_or_default()) {
        let at = i + k;
        match bytes.get(at + 1) {
            Some(c) if escapes.contains(c) => {
                out.push_str(raw.get(copied..at).unwrap_or_default());
                copied = at + 1;
                i = at + 2;
            }
            _ => i = at + 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(raw);
    }
    out.push_str(raw.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// A timestamp: an optional `-` and decimal digits in `precision`, in nanoseconds.
pub(super) fn parse_timestamp(t: &[u8], precision: Precision) -> Result<i64, Kind> {
    let ts = parse_i64(t).map_err(|e| match e {
        NumError::Invalid => Kind::InvalidTimestamp,
        NumError::Overflow => Kind::TimestampOutOfRange,
    })?;
    precision.to_nanos(ts).ok_or(Kind::TimestampOutOfRange)
}

/// A value that is not a string: number or boolean.
pub(super) fn parse_scalar<'a>(t: &[u8]) -> Result<ParsedValue<'a>, Kind> {
    match t.first() {
        Some(b'0'..=b'9' | b'-' | b'.' | b'+') => {}
        Some(_) => return parse_bool(t).map(ParsedValue::Boolean),
        None => return Err(Kind::MissingFieldValue),
    }
    match t.split_last() {
        Some((b'i', body)) => parse_i64(body)
            .map(ParsedValue::Integer)
            .map_err(|e| e.kind(Kind::IntegerOutOfRange)),
        Some((b'u', body)) => match body.strip_prefix(b"-") {
            Some(digits) => Err(match parse_u64(digits) {
                Err(NumError::Invalid) => Kind::InvalidNumber,
                _ => Kind::NegativeUnsigned,
            }),
            None => parse_u64(body)
                .map(ParsedValue::Unsigned)
                .map_err(|e| e.kind(Kind::UnsignedOutOfRange)),
        },
        _ => parse_float(t).map(ParsedValue::Float),
    }
}

fn parse_bool(t: &[u8]) -> Result<bool, Kind> {
    match t {
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => Ok(true),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => Ok(false),
        [b'n' | b'N' | b'i' | b'I', ..] => Err(Kind::InvalidNumber),
        _ => Err(Kind::InvalidBoolean),
    }
}

/// `-?(digits)?(.digits?)?([eE][+-]?digits)?` with at least one mantissa digit, then
/// std's correctly rounded conversion. Overflow to infinity is an error.
fn parse_float(t: &[u8]) -> Result<f64, Kind> {
    // The mantissa's digits are gathered as they are counted (wrapping: used only when
    // there are at most 19).
    let mut m: u64 = 0;
    let digits = |from: usize, m: &mut u64| {
        let run = t.get(from..).unwrap_or_default();
        let n = run.iter().take_while(|c| c.is_ascii_digit()).count();
        for &c in &run[..n] {
            *m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        }
        n
    };
    let negative = t.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let int_digits = digits(i, &mut m);
    i += int_digits;
    let mut frac_digits = 0;
    if t.get(i) == Some(&b'.') {
        frac_digits = digits(i + 1, &mut m);
        i += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return Err(Kind::InvalidNumber);
    }
    if i == t.len()
        && let Some(v) =
            crate::ingest::exact_decimal(m, int_digits + frac_digits, frac_digits, negative)
    {
        return Ok(v);
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = digits(i, &mut 0);
        if exp_digits == 0 {
            return Err(Kind::InvalidNumber);
        }
        i += exp_digits;
    }
    if i != t.len() {
        return Err(Kind::InvalidNumber);
    }
    let v: f64 = std::str::from_utf8(t)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(Kind::InvalidNumber)?;
    if v.is_infinite() {
        return Err(Kind::FloatOutOfRange);
    }
    Ok(v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumError {
    Invalid,
    Overflow,
}

impl NumError {
    fn kind(self, overflow: Kind) -> Kind {
        match self {
            NumError::Invalid => Kind::InvalidNumber,
            NumError::Overflow => overflow,
        }
    }
}

/// Decimal digits only, at least one. Invalid beats overflow.
#[inline]
fn parse_u64(d: &[u8]) -> Result<u64, NumError> {
    if d.is_empty() {
        return Err(NumError::Invalid);
    }
    if d.len() <= 19 {
        return crate::ingest::short_digits(d).ok_or(NumError::Invalid);
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for &c in d {
        let x = c.wrapping_sub(b'0');
        if x > 9 {
            return Err(NumError::Invalid);
        }
        match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(x))) {
            Some(n) => v = n,
            None => overflow = true,
        }
    }
    if overflow {
        Err(NumError::Overflow)
    } else {
        Ok(v)
    }
}

/// An optional `-` and decimal digits, in the i64 range.
#[inline]
fn parse_i64(d: &[u8]) -> Result<i64, NumError> {
    match d.strip_prefix(b"-") {
        Some(digits) => 0i64
            .checked_sub_unsigned(parse_u64(digits)?)
            .ok_or(NumError::Overflow),
        None => i64::try_from(parse_u64(d)?).map_err(|_| NumError::Overflow),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `parse_u64` as it was before the word-at-a-time path: invalid beats overflow.
    fn u64_reference(d: &[u8]) -> Result<u64, NumError> {
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return Err(NumError::Invalid);
        }
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(NumError::Overflow)
    }

    #[test]
    fn u64_edges() {
        for d in [
            &b"18446744073709551615"[..],
            b"18446744073709551616",
            b"99999999999999999999",
            b"9999999999999999999",
            b"0000000000000000000000001",
            b"1795329235375000000",
            b"",
            b"12a",
            b"1234567812345678x",
        ] {
            assert_eq!(
                parse_u64(d),
                u64_reference(d),
                "{:?}",
                String::from_utf8_lossy(d)
            );
        }
    }

    proptest! {
        #[test]
        fn u64_agrees_with_the_reference(n in any::<u64>(), zeros in 0usize..4, cut in any::<prop::sample::Index>()) {
            let d = format!("{}{n}", "0".repeat(zeros));
            prop_assert_eq!(parse_u64(d.as_bytes()), Ok(n));
            // Any one byte replaced: still what the reference says.
            let mut bad = d.into_bytes();
            let at = cut.index(bad.len());
            for b in [b'/', b':', b' ', b'a', 0x80] {
                bad[at] = b;
                prop_assert_eq!(parse_u64(&bad), u64_reference(&bad));
            }
        }

        #[test]
        fn u64_of_any_digits_agrees(d in "[0-9]{1,24}") {
            prop_assert_eq!(parse_u64(d.as_bytes()), u64_reference(d.as_bytes()));
        }

        #[test]
        fn floats_read_as_the_standard_parser(
            whole in "[0-9]{0,12}",
            fraction in proptest::option::of("[0-9]{0,12}"),
            negative in any::<bool>(),
            exponent in proptest::option::of(-30i32..30),
        ) {
            let mut t = String::new();
            if negative {
                t.push('-');
            }
            t.push_str(&whole);
            if let Some(f) = &fraction {
                t.push('.');
                t.push_str(f);
            }
            if let Some(e) = exponent {
                t.push_str(&format!("e{e}"));
            }
            let digits = whole.len() + fraction.as_ref().map_or(0, String::len);
            match parse_float(t.as_bytes()) {
                Ok(v) => {
                    let want: f64 = t.parse().unwrap();
                    prop_assert_eq!(v.to_bits(), want.to_bits(), "{}", t);
                }
                Err(k) => prop_assert!(digits == 0 && k == Kind::InvalidNumber, "{}: {:?}", t, k),
            }
        }
    }
}
