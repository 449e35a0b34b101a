//! Points and field values.
//!
//! A [`Point`] is one line of line protocol: a series, one or more fields and a
//! timestamp. In every figure Strata prints, a *point* means one field value, so a
//! `Point` with ten fields counts as ten points.

use super::SeriesKey;
use std::fmt;

/// The type of a field. A field keeps the type it was first written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    /// 64-bit IEEE-754 float.
    Float,
    /// Signed 64-bit integer (`i` suffix in line protocol).
    Integer,
    /// Unsigned 64-bit integer (`u` suffix in line protocol).
    Unsigned,
    /// Boolean.
    Boolean,
    /// UTF-8 string.
    String,
}

impl FieldType {
    /// The stable one-byte tag used in on-disk formats (docs/FORMAT.md).
    pub const fn tag(self) -> u8 {
        match self {
            FieldType::Float => 1,
            FieldType::Integer => 2,
            FieldType::Unsigned => 3,
            FieldType::Boolean => 4,
            FieldType::String => 5,
        }
    }

    /// Inverse of [`FieldType::tag`].
    pub const fn from_tag(tag: u8) -> Option<FieldType> {
        Some(match tag {
            1 => FieldType::Float,
            2 => FieldType::Integer,
            3 => FieldType::Unsigned,
            4 => FieldType::Boolean,
            5 => FieldType::String,
            _ => return None,
        })
    }

    /// The lowercase name InfluxDB uses in `SHOW FIELD KEYS`.
    pub const fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An owned field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A float. Every bit pattern, NaN payloads included, is stored exactly.
    Float(f64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
}

impl FieldValue {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::Boolean(_) => FieldType::Boolean,
            FieldValue::String(_) => FieldType::String,
        }
    }

    /// A borrowed view of this value.
    pub fn as_ref(&self) -> FieldValueRef<'_> {
        match self {
            FieldValue::Float(v) => FieldValueRef::Float(*v),
            FieldValue::Integer(v) => FieldValueRef::Integer(*v),
            FieldValue::Unsigned(v) => FieldValueRef::Unsigned(*v),
            FieldValue::Boolean(v) => FieldValueRef::Boolean(*v),
            FieldValue::String(v) => FieldValueRef::String(v),
        }
    }

    /// Equality that compares floats bit for bit (so NaN == NaN with the same payload,
    /// and 0.0 != -0.0). This is the equality round trips are checked with.
    pub fn bit_eq(&self, other: &FieldValue) -> bool {
        match (self, other) {
            (FieldValue::Float(a), FieldValue::Float(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

/// A borrowed field value, as the line-protocol parser produces it without allocating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValueRef<'a> {
    /// A float.
    Float(f64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string, already unescaped.
    String(&'a str),
}

impl FieldValueRef<'_> {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValueRef::Float(_) => FieldType::Float,
            FieldValueRef::Integer(_) => FieldType::Integer,
            FieldValueRef::Unsigned(_) => FieldType::Unsigned,
            FieldValueRef::Boolean(_) => FieldType::Boolean,
            FieldValueRef::String(_) => FieldType::String,
        }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> FieldValue {
        match *self {
            FieldValueRef::Float(v) => FieldValue::Float(v),
            FieldValueRef::Integer(v) => FieldValue::Integer(v),
            FieldValueRef::Unsigned(v) => FieldValue::Unsigned(v),
            FieldValueRef::Boolean(v) => FieldValue::Boolean(v),
            FieldValueRef::String(v) => FieldValue::String(v.to_owned()),
        }
    }
}

/// One measurement line: a series, its fields and a timestamp in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement and sorted tag set.
    pub series: SeriesKey,
    /// Field name → value, in the order given. At least one.
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the Unix epoch.
    pub timestamp: i64,
}

impl Point {
    /// A point with the given series, fields and timestamp.
    pub fn new(series: SeriesKey, fields: Vec<(String, FieldValue)>, timestamp: i64) -> Point {
        Point {
            series,
            fields,
            timestamp,
        }
    }
}
