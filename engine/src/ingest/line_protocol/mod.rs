//! InfluxDB 1.x line protocol: a zero-copy parser and a serializer.
//!
//! ```text
//! <measurement>[,<tag_key>=<tag_value>...] <field_key>=<field_value>[,...] [<timestamp>]
//! ```
//!
//! [`LineSplitter`] cuts a batch into logical lines, [`parse_line`] parses one line into a
//! reusable [`ParsedLine`] that borrows from the input wherever no escape is present, and
//! [`write_line`] / [`write_point`] serialize. [`parse_points`] is the allocating
//! convenience for tests and small callers.
//!
//! # Grammar, as in InfluxDB 1.x (`models/points.go`)
//!
//! - **Escapes** differ per element. Measurement: `\,` and `\ `. Tag keys, tag values and
//!   field keys: `\,`, `\=` and `\ `. String field values: `\"` and `\\`. A backslash
//!   before any other byte is a literal backslash. In names, a delimiter is escaped when
//!   the byte right before it is a backslash (1.x's rule), so `a\\,b` is the name `a\,b`.
//!   A consequence, shared with 1.x: a name cannot end with a backslash.
//! - **Whitespace**: leading spaces and tabs, trailing spaces and tabs, and a trailing
//!   `\r` (CRLF) are ignored. Sections are separated by one or more spaces (a tab there
//!   belongs to the next name; 1.x skips it). Blank lines and lines whose first non-blank
//!   byte is `#` are skipped by [`LineSplitter`].
//! - **Field values**: floats (`-1.5`, `.5`, `5.`, `1e16`, `1E-7`, `-0.0`, `5e-324`; a
//!   leading `-` only; `NaN`/`Inf` are rejected, and so is a literal that overflows to
//!   infinity), integers with `i` (i64 range), unsigned with `u` (u64 range, no sign),
//!   booleans (`t T true True TRUE f F false False FALSE`) and double-quoted strings,
//!   which may contain newlines.
//! - **Timestamp**: optional, a signed decimal integer in the request's [`Precision`],
//!   converted to nanoseconds; an overflow is an error. The parser takes the whole `i64`
//!   range; the write path then refuses, per line, what 1.x refuses too (`i64::MIN`,
//!   `i64::MIN + 1` and `i64::MAX`: outside [`crate::model::MIN_TIMESTAMP`]`..=`
//!   [`crate::model::MAX_TIMESTAMP`]), because queries cannot address those times.
//! - **Duplicate tag keys** in one line are an error ("duplicate tags"), as in 1.x's
//!   `scanKey`. **Duplicate field keys** are accepted and the last value wins, as in 1.x,
//!   where `Point::Fields()` is a map filled in order and the cache keeps the last write
//!   for one series, field and timestamp; the field keeps the position of its first
//!   occurrence.
//! - **Empty names** are errors: measurement, tag key, tag value ("missing tag value"; 1.x
//!   rejects it too) and field key. A tag value with an unescaped `=` is "invalid tag
//!   format", as in 1.x.
//! - Input must be UTF-8. An error's column is counted in characters and points at the
//!   offending element (or byte, for invalid UTF-8), or where a missing one was expected.
//! - Not checked here, left to the write path: 1.x's 64 KiB series-key limit and its
//!   refusal of fields and tags named `time`.
//!
//! Where 1.x is internally inconsistent, one rule is used everywhere: 1.x's field-key
//! scanner and its line scanner treat `\\` as an escaped pair while its tag scanner uses
//! the "previous byte" rule; here names always use the "previous byte" rule and string
//! values always use the pair rule. 1.x also unescapes `\=` and `\"` in measurements and
//! `\"` in field keys, against its reference documentation; here those stay literal, as
//! the reference says. A value that is neither quoted nor numeric nor a boolean is a
//! "invalid boolean" error (1.x) unless it starts with `n`, `N`, `i` or `I`, which reads
//! as an attempt at NaN or Inf and is an "invalid number".
//!
//! # Serializer
//!
//! [`write_line`] escapes each element by its own rules, writes floats in `ryu`'s
//! shortest form (which parses back bit for bit), integers with `i`, unsigned with `u`,
//! and the timestamp in nanoseconds. It refuses what line protocol cannot express: NaN and
//! infinite floats, empty names, names containing a newline or ending with a backslash,
//! a measurement starting with `#` or a tab, and a line without fields. On error nothing
//! is appended. [`write_line_exact`] writes those points too, in Strata's exact form
//! (`#!strata …`, a comment to other readers; see [`exact`]), which [`parse_line`] reads
//! back bit for bit: the form `strata export` uses.

mod exact;
mod parse;
mod split;
mod write;

#[cfg(test)]
mod tests;

use crate::model::{
    FieldType, FieldValue, FieldValueRef, Point, Precision, SeriesKey, SeriesKeyError,
};
use std::borrow::Cow;

pub use exact::{EXACT_MARKER, write_line_exact};
pub use parse::{parse_after_series, parse_line, series_span};
pub use split::LineSplitter;
pub use write::{Element, WriteError, write_line, write_point};

/// One parsed line. The `Vec`s are reused across [`parse_line`] calls, so a loop that
/// parses into the same `ParsedLine` does not allocate once they have grown (except for
/// names and strings that contain escapes, which are unescaped into owned strings).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedLine<'a> {
    /// The raw measurement and tag section exactly as written (the bytes before the first
    /// unescaped space, leading whitespace excluded). Callers use it as a cache key for
    /// series lookup.
    pub raw_series: &'a [u8],
    /// The measurement, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tag keys and values, unescaped, in input order (not sorted). Keys are unique.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Field keys (unescaped, unique) and values, in input order.
    pub fields: Vec<(Cow<'a, str>, ParsedValue<'a>)>,
    /// The timestamp in nanoseconds, already scaled by the precision; `None` if absent.
    pub timestamp: Option<i64>,
}

impl ParsedLine<'_> {
    /// Empties the line, keeping the capacity of its `Vec`s.
    pub fn clear(&mut self) {
        self.raw_series = b"";
        self.measurement = Cow::Borrowed("");
        self.tags.clear();
        self.fields.clear();
        self.timestamp = None;
    }
}

/// A parsed field value; strings borrow from the input unless they contained escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedValue<'a> {
    /// A float (no suffix).
    Float(f64),
    /// A signed integer (`i` suffix).
    Integer(i64),
    /// An unsigned integer (`u` suffix).
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string, unescaped.
    String(Cow<'a, str>),
}

impl ParsedValue<'_> {
    /// A borrowed view of this value.
    pub fn as_ref(&self) -> FieldValueRef<'_> {
        match self {
            ParsedValue::Float(v) => FieldValueRef::Float(*v),
            ParsedValue::Integer(v) => FieldValueRef::Integer(*v),
            ParsedValue::Unsigned(v) => FieldValueRef::Unsigned(*v),
            ParsedValue::Boolean(v) => FieldValueRef::Boolean(*v),
            ParsedValue::String(v) => FieldValueRef::String(v),
        }
    }

    /// An owned copy.
    pub fn to_owned_value(&self) -> FieldValue {
        self.as_ref().to_owned()
    }

    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        self.as_ref().field_type()
    }
}

/// Why a line does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The line starts with a comma, or is empty.
    #[error("missing measurement")]
    MissingMeasurement,
    /// A comma in the tag section is not followed by a tag key.
    #[error("missing tag key")]
    MissingTagKey,
    /// A tag key without `=`, or with an empty value.
    #[error("missing tag value")]
    MissingTagValue,
    /// An unescaped `=` inside a tag value.
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// The same tag key appears twice.
    #[error("duplicate tags: {key:?}")]
    DuplicateTag {
        /// The repeated key, unescaped.
        key: String,
    },
    /// No field section.
    #[error("missing fields")]
    MissingFields,
    /// A field with an empty key.
    #[error("missing field key")]
    MissingFieldKey,
    /// A field key not followed by `=`, or junk after a string value.
    #[error("invalid field format")]
    InvalidFieldFormat,
    /// `key=` with nothing after the `=`.
    #[error("missing field value")]
    MissingFieldValue,
    /// A string value without its closing quote.
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    /// A malformed number, or NaN / Inf.
    #[error("invalid number")]
    InvalidNumber,
    /// An `i` value outside the i64 range.
    #[error("integer out of range")]
    IntegerOutOfRange,
    /// A `u` value above u64::MAX.
    #[error("unsigned integer out of range")]
    UnsignedOutOfRange,
    /// A `u` value with a minus sign.
    #[error("unsigned integer cannot be negative")]
    NegativeUnsigned,
    /// A float literal too large for f64.
    #[error("float out of range")]
    FloatOutOfRange,
    /// A value that is not a valid boolean spelling.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// The timestamp is not a decimal integer.
    #[error("invalid timestamp")]
    InvalidTimestamp,
    /// The timestamp does not fit i64 nanoseconds (before or after precision scaling).
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    /// Anything but whitespace after the timestamp.
    #[error("extra data after timestamp")]
    ExtraData,
    /// Bytes that are not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
}

/// An error within one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {reason}")]
pub struct ParseError {
    /// 1-based column, counted in characters: where the offending element starts, or
    /// where a missing one was expected.
    pub column: usize,
    /// What is wrong.
    pub reason: ParseErrorKind,
}

impl ParseError {
    /// An error at byte `offset` of `line`.
    pub(crate) fn at(line: &[u8], offset: usize, reason: ParseErrorKind) -> ParseError {
        let prefix = line.get(..offset).unwrap_or(line);
        // Characters are the bytes that are not UTF-8 continuation bytes.
        let chars = prefix.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        ParseError {
            column: chars + 1,
            reason,
        }
    }
}

/// A [`ParseError`] tied to its line number in the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {}: {}", .error.column, .error.reason)]
pub struct LineError {
    /// 1-based line number in the batch (physical lines, as an editor counts them).
    pub line: usize,
    /// The error within the line.
    pub error: ParseError,
}

/// The series key of a parsed line: its measurement and its tags, sorted.
pub fn series_key(line: &ParsedLine) -> Result<SeriesKey, SeriesKeyError> {
    SeriesKey::new(
        line.measurement.as_ref(),
        line.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
    )
}

/// Parses a whole batch into owned points (allocates; for tests, the embedded API and the
/// fuzz target). Lines without a timestamp get `default_timestamp` (nanoseconds, used as
/// given). Returns the good points and the errors of the bad lines; a bad line never stops
/// the batch.
pub fn parse_points(
    batch: &[u8],
    precision: Precision,
    default_timestamp: i64,
) -> (Vec<Point>, Vec<LineError>) {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    let mut parsed = ParsedLine::default();
    for (line_number, line) in LineSplitter::new(batch) {
        let result = parse_line(line, precision, &mut parsed).and_then(|()| {
            series_key(&parsed).map_err(|e| ParseError {
                column: 1,
                reason: series_error_kind(e),
            })
        });
        match result {
            Ok(series) => {
                let fields = parsed
                    .fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_owned_value()))
                    .collect();
                let timestamp = parsed.timestamp.unwrap_or(default_timestamp);
                points.push(Point::new(series, fields, timestamp));
            }
            Err(error) => errors.push(LineError {
                line: line_number,
                error,
            }),
        }
    }
    (points, errors)
}

/// [`parse_line`] already rejects everything [`SeriesKey::new`] rejects; this mapping only
/// keeps [`parse_points`] total.
fn series_error_kind(e: SeriesKeyError) -> ParseErrorKind {
    match e {
        SeriesKeyError::EmptyTagKey => ParseErrorKind::MissingTagKey,
        SeriesKeyError::EmptyTagValue { .. } => ParseErrorKind::MissingTagValue,
        SeriesKeyError::DuplicateTagKey { key } => ParseErrorKind::DuplicateTag { key },
        SeriesKeyError::EmptyMeasurement | SeriesKeyError::Malformed { .. } => {
            ParseErrorKind::MissingMeasurement
        }
    }
}
