//! The serializer: points back into line protocol that [`super::parse_line`] reads back
//! exactly.

use crate::model::{FieldValueRef, Point};
use std::fmt;

/// The named parts of a line, for [`WriteError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// The measurement name.
    Measurement,
    /// A tag key.
    TagKey,
    /// A tag value.
    TagValue,
    /// A field key.
    FieldKey,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Element::Measurement => "measurement",
            Element::TagKey => "tag key",
            Element::TagValue => "tag value",
            Element::FieldKey => "field key",
        })
    }
}

/// Why a point cannot be written as line protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// NaN and ±Inf have no line-protocol spelling.
    #[error("field {field:?} is NaN or infinite, which line protocol cannot represent")]
    NonFiniteFloat {
        /// The field key.
        field: String,
    },
    /// Names must not be empty.
    #[error("{element} is empty")]
    EmptyName {
        /// Which name.
        element: Element,
    },
    /// A newline cannot be escaped in a name.
    #[error("{element} {name:?} contains a newline, which line protocol cannot represent")]
    Newline {
        /// Which name.
        element: Element,
        /// The name.
        name: String,
    },
    /// A backslash at the end of a name would escape the delimiter after it.
    #[error("{element} {name:?} ends with a backslash, which line protocol cannot represent")]
    TrailingBackslash {
        /// Which name.
        element: Element,
        /// The name.
        name: String,
    },
    /// A leading `#` would make a comment, a leading tab would be skipped as whitespace.
    #[error("measurement {name:?} starts with '#' or a tab, which line protocol cannot represent")]
    MeasurementStart {
        /// The measurement.
        name: String,
    },
    /// A line needs at least one field.
    #[error("a line needs at least one field")]
    NoFields,
}

/// Appends `point` as one line (with a trailing `\n`), timestamp in nanoseconds. On error
/// nothing is appended.
pub fn write_point(dst: &mut Vec<u8>, point: &Point) -> Result<(), WriteError> {
    write_line(
        dst,
        point.series.measurement(),
        point
            .series
            .tags()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
        point.fields.iter().map(|(k, v)| (k.as_str(), v.as_ref())),
        point.timestamp,
    )
}

/// Appends one line (with a trailing `\n`), timestamp in nanoseconds, tags in the order
/// given (InfluxDB recommends sorted; tag keys should be unique, or the parser rejects the
/// line). Floats are written in their shortest form that parses back bit for bit. On error
/// nothing is appended.
pub fn write_line<'a>(
    dst: &mut Vec<u8>,
    measurement: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    fields: impl IntoIterator<Item = (&'a str, FieldValueRef<'a>)>,
    timestamp: i64,
) -> Result<(), WriteError> {
    let mark = dst.len();
    let result = write_parts(dst, measurement, tags, fields, timestamp);
    if result.is_err() {
        dst.truncate(mark);
    }
    result
}

fn write_parts<'a>(
    dst: &mut Vec<u8>,
    measurement: &str,
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    fields: impl IntoIterator<Item = (&'a str, FieldValueRef<'a>)>,
    timestamp: i64,
) -> Result<(), WriteError> {
    if measurement.starts_with(['#', '\t']) {
        return Err(WriteError::MeasurementStart {
            name: measurement.to_owned(),
        });
    }
    put_name(dst, measurement, Element::Measurement, MEASUREMENT)?;
    for (key, value) in tags {
        dst.push(b',');
        put_name(dst, key, Element::TagKey, NAME)?;
        dst.push(b'=');
        put_name(dst, value, Element::TagValue, NAME)?;
    }
    let mut separator = b' ';
    for (key, value) in fields {
        dst.push(separator);
        separator = b',';
        put_name(dst, key, Element::FieldKey, NAME)?;
        dst.push(b'=');
        put_value(dst, key, value)?;
    }
    if separator == b' ' {
        return Err(WriteError::NoFields);
    }
    dst.push(b' ');
    dst.extend_from_slice(itoa::Buffer::new().format(timestamp).as_bytes());
    dst.push(b'\n');
    Ok(())
}

/// Byte classes: which bytes each element escapes, and the newline no name may hold.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b',' as usize] = MEASUREMENT | NAME;
    t[b' ' as usize] = MEASUREMENT | NAME;
    t[b'=' as usize] = NAME;
    t[b'"' as usize] = STRING;
    t[b'\\' as usize] = STRING;
    t[b'\n' as usize] = NEWLINE;
    t
};
/// Escaped in a measurement: comma, space.
const MEASUREMENT: u8 = 1;
/// Escaped in tag keys, tag values and field keys: comma, equals sign, space.
const NAME: u8 = 2;
/// Escaped in string field values: double quote, backslash.
const STRING: u8 = 4;
const NEWLINE: u8 = 8;

/// Appends `name` with a backslash before each byte of class `escapes`.
fn put_name(
    dst: &mut Vec<u8>,
    name: &str,
    element: Element,
    escapes: u8,
) -> Result<(), WriteError> {
    let bytes = name.as_bytes();
    let err = |make: fn(Element, String) -> WriteError| Err(make(element, name.to_owned()));
    match bytes.last() {
        None => return Err(WriteError::EmptyName { element }),
        Some(b'\\') => return err(|element, name| WriteError::TrailingBackslash { element, name }),
        Some(_) => {}
    }
    if !bytes
        .iter()
        .any(|&c| CLASS[usize::from(c)] & (escapes | NEWLINE) != 0)
    {
        dst.extend_from_slice(bytes);
        return Ok(());
    }
    if memchr::memchr(b'\n', bytes).is_some() {
        return err(|element, name| WriteError::Newline { element, name });
    }
    put_escaped(dst, bytes, escapes);
    Ok(())
}

fn put_escaped(dst: &mut Vec<u8>, bytes: &[u8], escapes: u8) {
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if CLASS[usize::from(c)] & escapes != 0 {
            dst.extend_from_slice(bytes.get(start..i).unwrap_or_default());
            dst.push(b'\\');
            start = i;
        }
    }
    dst.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

fn put_value(dst: &mut Vec<u8>, key: &str, value: FieldValueRef<'_>) -> Result<(), WriteError> {
    match value {
        FieldValueRef::Float(v) => {
            if !v.is_finite() {
                return Err(WriteError::NonFiniteFloat {
                    field: key.to_owned(),
                });
            }
            dst.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        }
        FieldValueRef::Integer(v) => {
            dst.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            dst.push(b'i');
        }
        FieldValueRef::Unsigned(v) => {
            dst.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
            dst.push(b'u');
        }
        FieldValueRef::Boolean(v) => {
            dst.extend_from_slice(if v { b"true" } else { b"false" });
        }
        FieldValueRef::String(s) => {
            dst.push(b'"');
            put_escaped(dst, s.as_bytes(), STRING);
            dst.push(b'"');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_escapes_each_element_and_formats_each_type() {
        let mut out = b"prefix\n".to_vec();
        let fields = [
            ("f=k", FieldValueRef::Float(1.5)),
            ("big", FieldValueRef::Float(1e16)),
            ("neg0", FieldValueRef::Float(-0.0)),
            ("i", FieldValueRef::Integer(i64::MIN)),
            ("u", FieldValueRef::Unsigned(u64::MAX)),
            ("b", FieldValueRef::Boolean(false)),
            ("s", FieldValueRef::String("q\"\\\n")),
        ];
        write_line(
            &mut out,
            "c p,u=",
            [("t k=", "v,a l"), ("x", "\"")],
            fields,
            -42,
        )
        .unwrap();
        let want = "prefix\nc\\ p\\,u=,t\\ k\\==v\\,a\\ l,x=\" f\\=k=1.5,big=1e16,neg0=-0.0,\
                    i=-9223372036854775808i,u=18446744073709551615u,b=false,s=\"q\\\"\\\\\n\" -42\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn writer_refuses_what_line_protocol_cannot_say() {
        let f = |v| [("v", FieldValueRef::Float(v))];
        let no_tags = || std::iter::empty::<(&str, &str)>();
        let mut out = b"keep".to_vec();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = write_line(&mut out, "m", no_tags(), f(v), 0).unwrap_err();
            assert_eq!(err, WriteError::NonFiniteFloat { field: "v".into() });
            assert!(err.to_string().contains("\"v\""));
        }
        let cases: [(&str, &str, &str, &str); 8] = [
            ("", "k", "v", "f"),
            ("m", "", "v", "f"),
            ("m", "k", "", "f"),
            ("m\\", "k", "v", "f"),
            ("m", "k", "v\\", "f"),
            ("m", "k", "v", "f\n"),
            ("#m", "k", "v", "f"),
            ("\tm", "k", "v", "f"),
        ];
        for (m, k, v, fk) in cases {
            let r = write_line(
                &mut out,
                m,
                [(k, v)],
                [(fk, FieldValueRef::Boolean(true))],
                0,
            );
            assert!(r.is_err(), "{m:?} {k:?} {v:?} {fk:?}");
        }
        let r = write_line(&mut out, "m", no_tags(), std::iter::empty(), 0);
        assert_eq!(r, Err(WriteError::NoFields));
        assert_eq!(out, b"keep", "nothing appended on error");
        // Inner `#`, tabs, `\r` and a leading space are fine.
        let r = write_line(
            &mut out,
            " m#\t\r",
            [("k\r", "\tv")],
            [("\tf", FieldValueRef::Integer(1))],
            0,
        );
        assert_eq!(r, Ok(()));
    }
}
