//! Series keys: a measurement plus its tag set, sorted by tag key.
//!
//! Invariants kept by [`SeriesKey`]: the measurement is non-empty; tag keys are
//! non-empty, unique and sorted by byte order; tag values are non-empty (line protocol
//! cannot express an empty tag value, and InfluxDB drops such tags).
//!
//! The canonical byte encoding ([`SeriesKey::encode_into`]) is what the index hashes and
//! what the WAL stores: each part as a LEB128 length followed by its UTF-8 bytes,
//! measurement first, then key, value, key, value… in sorted order. It is described in
//! docs/FORMAT.md ("Series key").

use std::fmt;

/// Why a measurement and tag set do not form a valid series key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesKeyError {
    /// The measurement name is empty.
    #[error("measurement name is empty")]
    EmptyMeasurement,
    /// A tag key is empty.
    #[error("tag key is empty")]
    EmptyTagKey,
    /// A tag value is empty.
    #[error("tag {key:?} has an empty value")]
    EmptyTagValue {
        /// The tag key.
        key: String,
    },
    /// The same tag key appears twice.
    #[error("tag key {key:?} appears more than once")]
    DuplicateTagKey {
        /// The tag key.
        key: String,
    },
    /// Canonical bytes that do not decode.
    #[error("malformed series key bytes at offset {offset}")]
    Malformed {
        /// Byte offset in the encoded key.
        offset: usize,
    },
}

/// A measurement and its sorted tag set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    measurement: String,
    tags: Vec<(String, String)>,
}

impl SeriesKey {
    /// Builds a key, sorting the tags. Fails on empty names or duplicate tag keys.
    pub fn new(
        measurement: impl Into<String>,
        tags: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Result<SeriesKey, SeriesKeyError> {
        let measurement = measurement.into();
        if measurement.is_empty() {
            return Err(SeriesKeyError::EmptyMeasurement);
        }
        let mut tags: Vec<(String, String)> = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (k, v)) in tags.iter().enumerate() {
            if k.is_empty() {
                return Err(SeriesKeyError::EmptyTagKey);
            }
            if v.is_empty() {
                return Err(SeriesKeyError::EmptyTagValue { key: k.clone() });
            }
            if i > 0 && tags[i - 1].0 == *k {
                return Err(SeriesKeyError::DuplicateTagKey { key: k.clone() });
            }
        }
        Ok(SeriesKey { measurement, tags })
    }

    /// The measurement name.
    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// The tags, sorted by key.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// The value of tag `key`, if present.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.tags[i].1.as_str())
    }

    /// Appends the canonical encoding to `dst`.
    pub fn encode_into(&self, dst: &mut Vec<u8>) {
        encode_canonical(
            &self.measurement,
            self.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            dst,
        );
    }

    /// Decodes a canonical encoding produced by [`SeriesKey::encode_into`] or
    /// [`encode_canonical`], checking every invariant.
    pub fn decode(mut src: &[u8]) -> Result<SeriesKey, SeriesKeyError> {
        let total = src.len();
        // One length-prefixed string; `None` at the end of the input.
        let mut next = || -> Result<Option<String>, SeriesKeyError> {
            if src.is_empty() {
                return Ok(None);
            }
            let offset = total - src.len();
            let (len, used) = read_uvarint(src).ok_or(SeriesKeyError::Malformed { offset })?;
            let rest = &src[used..];
            let len = usize::try_from(len).map_err(|_| SeriesKeyError::Malformed { offset })?;
            if len > rest.len() {
                return Err(SeriesKeyError::Malformed { offset });
            }
            let s = std::str::from_utf8(&rest[..len])
                .map_err(|_| SeriesKeyError::Malformed { offset })?;
            src = &rest[len..];
            Ok(Some(s.to_owned()))
        };
        // A measurement, then key and value pairs: an odd number of strings.
        let odd = SeriesKeyError::Malformed { offset: total };
        let measurement = next()?.ok_or_else(|| odd.clone())?;
        let mut tags = Vec::new();
        while let Some(k) = next()? {
            let v = next()?.ok_or_else(|| odd.clone())?;
            tags.push((k, v));
        }
        // What the index writes is canonical (keys ascending and unique, nothing empty):
        // checked in one pass; anything else goes through `new`, which sorts and names
        // the fault.
        let canonical = !measurement.is_empty()
            && tags.iter().all(|(k, v)| !k.is_empty() && !v.is_empty())
            && tags.windows(2).all(|w| w[0].0 < w[1].0);
        if canonical {
            return Ok(SeriesKey { measurement, tags });
        }
        SeriesKey::new(measurement, tags)
    }

    /// The measurement and the sorted tags, moved out.
    pub fn into_parts(self) -> (String, Vec<(String, String)>) {
        (self.measurement, self.tags)
    }
}

impl fmt::Display for SeriesKey {
    /// The InfluxDB `SHOW SERIES` form: `cpu,host=a,region=eu` (unescaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.measurement)?;
        for (k, v) in &self.tags {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

/// Appends the canonical series-key encoding of `measurement` and `sorted_tags` (which the
/// caller guarantees are sorted by key and unique) to `dst`.
pub fn encode_canonical<'a>(
    measurement: &str,
    sorted_tags: impl Iterator<Item = (&'a str, &'a str)>,
    dst: &mut Vec<u8>,
) {
    put_str(dst, measurement);
    for (k, v) in sorted_tags {
        put_str(dst, k);
        put_str(dst, v);
    }
}

fn put_str(dst: &mut Vec<u8>, s: &str) {
    put_uvarint(dst, s.len() as u64);
    dst.extend_from_slice(s.as_bytes());
}

/// Appends `v` as unsigned LEB128.
pub(crate) fn put_uvarint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Reads an unsigned LEB128 value; returns it and the bytes used, or `None` when the
/// input ends early or the value overflows 64 bits.
pub(crate) fn read_uvarint(src: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in src.iter().enumerate().take(10) {
        let low = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return None;
        }
        v |= low << (7 * i);
        if b < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_sorted_and_encoding_round_trips() {
        let k = SeriesKey::new("cpu", [("region", "eu"), ("host", "a")]).unwrap();
        assert_eq!(k.tags()[0].0, "host");
        assert_eq!(k.tag("region"), Some("eu"));
        assert_eq!(k.tag("zone"), None);
        let mut buf = Vec::new();
        k.encode_into(&mut buf);
        assert_eq!(SeriesKey::decode(&buf).unwrap(), k);
        assert_eq!(k.to_string(), "cpu,host=a,region=eu");
    }

    #[test]
    fn invalid_keys_are_rejected() {
        assert_eq!(
            SeriesKey::new("", Vec::<(String, String)>::new()),
            Err(SeriesKeyError::EmptyMeasurement)
        );
        assert!(matches!(
            SeriesKey::new("m", [("a", "1"), ("a", "2")]),
            Err(SeriesKeyError::DuplicateTagKey { .. })
        ));
        assert!(matches!(
            SeriesKey::new("m", [("a", "")]),
            Err(SeriesKeyError::EmptyTagValue { .. })
        ));
        assert!(SeriesKey::decode(&[5, b'a']).is_err());
        assert!(SeriesKey::decode(&[1, b'a', 1, b'k']).is_err());
    }

    #[test]
    fn decode_checks_what_new_checks_when_the_bytes_are_not_canonical() {
        let enc = |parts: &[&str]| {
            let mut b = Vec::new();
            for p in parts {
                put_uvarint(&mut b, p.len() as u64);
                b.extend_from_slice(p.as_bytes());
            }
            b
        };
        // Out of order: sorted on the way in, as `new` sorts.
        let k = SeriesKey::decode(&enc(&["m", "z", "1", "a", "2"])).unwrap();
        assert_eq!(k, SeriesKey::new("m", [("a", "2"), ("z", "1")]).unwrap());
        let canonical = SeriesKey::decode(&enc(&["m", "a", "2", "z", "1"])).unwrap();
        assert_eq!(canonical, k);
        assert_eq!(
            canonical.into_parts(),
            (
                "m".to_owned(),
                vec![("a".into(), "2".into()), ("z".into(), "1".into())]
            )
        );
        assert!(matches!(
            SeriesKey::decode(&enc(&["m", "a", "1", "a", "2"])),
            Err(SeriesKeyError::DuplicateTagKey { .. })
        ));
        assert!(matches!(
            SeriesKey::decode(&enc(&["m", "a", ""])),
            Err(SeriesKeyError::EmptyTagValue { .. })
        ));
        assert!(matches!(
            SeriesKey::decode(&enc(&["m", "", "1"])),
            Err(SeriesKeyError::EmptyTagKey)
        ));
        assert_eq!(
            SeriesKey::decode(&enc(&[""])),
            Err(SeriesKeyError::EmptyMeasurement)
        );
    }

    #[test]
    fn uvarint_round_trips_and_rejects_overflow() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(read_uvarint(&b), Some((v, b.len())));
        }
        assert_eq!(read_uvarint(&[0xff; 11]), None);
        assert_eq!(read_uvarint(&[0x80]), None);
    }
}
