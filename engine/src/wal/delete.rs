//! The payload of a `Delete` WAL record. Layout: docs/FORMAT.md, "WAL delete".
//!
//! ```text
//! delete := id u64 LE | flags u8 (bit 0: drop the measurement) | start i64 LE | end i64 LE
//!           | uvarint(len) measurement | uvarint(n_tags) (uvarint(len) key uvarint(len) value)*
//! ```

use crate::model::TimeRange;
use crate::model::series::{put_uvarint, read_uvarint};

/// What a delete removes: every field of the series of `measurement` whose tags include
/// every `tags` pair, at timestamps in `range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSpec {
    /// Increasing id; the manifest remembers the last one applied to segments.
    pub id: u64,
    /// The measurement.
    pub measurement: String,
    /// Tag equalities the series must all have (none: every series of the measurement).
    pub tags: Vec<(String, String)>,
    /// The time range.
    pub range: TimeRange,
    /// `DROP MEASUREMENT`: also hide the measurement's series until written again.
    pub drop_measurement: bool,
}

impl DeleteSpec {
    /// Whether a series (measurement and sorted tags) is covered.
    pub fn matches(&self, measurement: &str, tags: &[(String, String)]) -> bool {
        measurement == self.measurement
            && self
                .tags
                .iter()
                .all(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v))
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&self.id.to_le_bytes());
        b.push(u8::from(self.drop_measurement));
        b.extend_from_slice(&self.range.start.to_le_bytes());
        b.extend_from_slice(&self.range.end.to_le_bytes());
        let put = |b: &mut Vec<u8>, s: &str| {
            put_uvarint(b, s.len() as u64);
            b.extend_from_slice(s.as_bytes());
        };
        put(&mut b, &self.measurement);
        put_uvarint(&mut b, self.tags.len() as u64);
        for (k, v) in &self.tags {
            put(&mut b, k);
            put(&mut b, v);
        }
        b
    }

    /// Decodes a payload; on damage, the offset and what is wrong.
    pub fn decode(src: &[u8]) -> Result<DeleteSpec, (usize, &'static str)> {
        if src.len() < 25 {
            return Err((0, "delete record too short"));
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&src[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if src[8] > 1 {
            return Err((8, "unknown delete flags"));
        }
        fn string(
            src: &[u8],
            pos: &mut usize,
            what: &'static str,
        ) -> Result<String, (usize, &'static str)> {
            let (n, used) = read_uvarint(&src[*pos..]).ok_or((*pos, what))?;
            let n = usize::try_from(n).map_err(|_| (*pos, what))?;
            let start = *pos + used;
            let end = start.checked_add(n).ok_or((*pos, what))?;
            let bytes = src.get(start..end).ok_or((*pos, what))?;
            let s = std::str::from_utf8(bytes)
                .map_err(|_| (*pos, what))?
                .to_owned();
            *pos = end;
            Ok(s)
        }
        let mut pos = 25;
        let measurement = string(src, &mut pos, "measurement")?;
        let (n_tags, used) = read_uvarint(&src[pos..]).ok_or((pos, "tag count"))?;
        if n_tags > src.len() as u64 {
            return Err((pos, "tag count larger than the record"));
        }
        pos += used;
        let mut tags = Vec::new();
        for _ in 0..n_tags {
            let k = string(src, &mut pos, "tag key")?;
            let v = string(src, &mut pos, "tag value")?;
            tags.push((k, v));
        }
        if pos != src.len() {
            return Err((pos, "trailing bytes in the delete record"));
        }
        Ok(DeleteSpec {
            id: u64_at(0),
            drop_measurement: src[8] == 1,
            range: TimeRange::new(u64_at(9) as i64, u64_at(17) as i64),
            measurement,
            tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let d = DeleteSpec {
            id: 7,
            measurement: "cpu".into(),
            tags: vec![("host".into(), "a b".into())],
            range: TimeRange::new(-5, 99),
            drop_measurement: true,
        };
        let b = d.encode();
        assert_eq!(DeleteSpec::decode(&b).unwrap(), d);
        for cut in 0..b.len() {
            assert!(DeleteSpec::decode(&b[..cut]).is_err());
        }
        assert!(d.matches(
            "cpu",
            &[("host".into(), "a b".into()), ("x".into(), "y".into())]
        ));
        assert!(!d.matches("cpu", &[("host".into(), "c".into())]));
        assert!(!d.matches("mem", &[("host".into(), "a b".into())]));
    }
}
