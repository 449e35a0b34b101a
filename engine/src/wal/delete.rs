//! The payload of a `Delete` WAL record (also stored in the manifest as a tombstone).
//! Layout: docs/FORMAT.md, "Delete payload".
//!
//! ```text
//! version 1 (flags bit 1 clear; still read, no longer written):
//! delete := id u64 LE | flags u8 (bit 0: drop) | start i64 LE | end i64 LE
//!           | uvarint(len) measurement | uvarint(n_tags) (uvarint(len) key uvarint(len) value)*
//! version 2 (flags bit 1 set):
//! delete := id u64 LE | flags u8 (bit 0: drop, bit 1: set) | start i64 LE | end i64 LE | pred
//! pred   := 0                                   true
//!         | 1 subject op uvarint(len) value     matcher
//!         | 2 uvarint(n) pred{n}                AND
//!         | 3 uvarint(n) pred{n}                OR
//! subject := 0 (measurement) | 1 (field) | 2 uvarint(len) key (tag)
//! op      := 0 (=) | 1 (!=) | 2 (=~) | 3 (!~)
//! ```

use crate::model::TimeRange;
use crate::model::predicate::{MatchOp, Matcher, Predicate, Subject};
use crate::model::series::{put_uvarint, read_uvarint};

/// Flag bit 0: the delete drops (hides the covered series at once).
const FLAG_DROP: u8 = 1;
/// Flag bit 1: the version 2 (predicate) layout.
const FLAG_V2: u8 = 2;
/// Deepest predicate nesting a decoder accepts (bounds its recursion).
pub const MAX_DEPTH: usize = 64;

/// What a delete removes: the values of every column the predicate covers, at timestamps
/// in `range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSpec {
    /// Increasing id; the manifest remembers the last one it recorded.
    pub id: u64,
    /// The columns covered.
    pub predicate: Predicate,
    /// The time range.
    pub range: TimeRange,
    /// `DROP MEASUREMENT` / `DROP SERIES`: hide the covered series at once, until written
    /// again.
    pub drop: bool,
}

/// Why a payload does not decode: the offset and what is wrong.
pub type DecodeError = (usize, &'static str);

impl DeleteSpec {
    /// The payload bytes (version 2).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&self.id.to_le_bytes());
        b.push(FLAG_V2 | if self.drop { FLAG_DROP } else { 0 });
        b.extend_from_slice(&self.range.start.to_le_bytes());
        b.extend_from_slice(&self.range.end.to_le_bytes());
        put_predicate(&mut b, &self.predicate);
        b
    }

    /// Decodes a payload of either version; on damage, the offset and what is wrong.
    pub fn decode(src: &[u8]) -> Result<DeleteSpec, DecodeError> {
        if src.len() < 25 {
            return Err((0, "delete record too short"));
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&src[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let flags = src[8];
        if flags & !(FLAG_DROP | FLAG_V2) != 0 {
            return Err((8, "unknown delete flags"));
        }
        let mut pos = 25;
        let predicate = if flags & FLAG_V2 != 0 {
            get_predicate(src, &mut pos, 0)?
        } else {
            v1_predicate(src, &mut pos)?
        };
        if pos != src.len() {
            return Err((pos, "trailing bytes in the delete record"));
        }
        Ok(DeleteSpec {
            id: u64_at(0),
            drop: flags & FLAG_DROP != 0,
            range: TimeRange::new(u64_at(9) as i64, u64_at(17) as i64),
            predicate,
        })
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_uvarint(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

fn put_predicate(b: &mut Vec<u8>, p: &Predicate) {
    match p {
        Predicate::True => b.push(0),
        Predicate::Match(m) => {
            b.push(1);
            match &m.subject {
                Subject::Measurement => b.push(0),
                Subject::Field => b.push(1),
                Subject::Tag(k) => {
                    b.push(2);
                    put_str(b, k);
                }
            }
            b.push(m.op.code());
            put_str(b, &m.value);
        }
        Predicate::And(ps) | Predicate::Or(ps) => {
            b.push(if matches!(p, Predicate::And(_)) { 2 } else { 3 });
            put_uvarint(b, ps.len() as u64);
            for q in ps {
                put_predicate(b, q);
            }
        }
    }
}

fn get_str(src: &[u8], pos: &mut usize, what: &'static str) -> Result<String, DecodeError> {
    let (n, used) = read_uvarint(src.get(*pos..).unwrap_or_default()).ok_or((*pos, what))?;
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

fn get_u8(src: &[u8], pos: &mut usize, what: &'static str) -> Result<u8, DecodeError> {
    let b = *src.get(*pos).ok_or((*pos, what))?;
    *pos += 1;
    Ok(b)
}

fn get_count(src: &[u8], pos: &mut usize, what: &'static str) -> Result<u64, DecodeError> {
    let (n, used) = read_uvarint(src.get(*pos..).unwrap_or_default()).ok_or((*pos, what))?;
    // Every item takes at least one byte.
    if n > (src.len() - *pos) as u64 {
        return Err((*pos, "count larger than the record"));
    }
    *pos += used;
    Ok(n)
}

fn get_predicate(src: &[u8], pos: &mut usize, depth: usize) -> Result<Predicate, DecodeError> {
    if depth > MAX_DEPTH {
        return Err((*pos, "predicate nested too deeply"));
    }
    let at = *pos;
    match get_u8(src, pos, "predicate tag")? {
        0 => Ok(Predicate::True),
        1 => {
            let subject = match get_u8(src, pos, "matcher subject")? {
                0 => Subject::Measurement,
                1 => Subject::Field,
                2 => Subject::Tag(get_str(src, pos, "tag key")?),
                _ => return Err((*pos - 1, "unknown matcher subject")),
            };
            let op_at = *pos;
            let op = MatchOp::from_code(get_u8(src, pos, "matcher op")?)
                .ok_or((op_at, "unknown matcher operator"))?;
            let value_at = *pos;
            let value = get_str(src, pos, "matcher value")?;
            Matcher::new(subject, op, &value)
                .map(Predicate::Match)
                .map_err(|_| (value_at, "matcher regex does not compile"))
        }
        t @ (2 | 3) => {
            let n = get_count(src, pos, "predicate part count")?;
            let mut parts = Vec::new();
            for _ in 0..n {
                parts.push(get_predicate(src, pos, depth + 1)?);
            }
            Ok(if t == 2 {
                Predicate::And(parts)
            } else {
                Predicate::Or(parts)
            })
        }
        _ => Err((at, "unknown predicate tag")),
    }
}

/// Version 1: a measurement and tag equalities, as a predicate.
fn v1_predicate(src: &[u8], pos: &mut usize) -> Result<Predicate, DecodeError> {
    let measurement = get_str(src, pos, "measurement")?;
    let n_tags = get_count(src, pos, "tag count")?;
    let mut parts = vec![Predicate::measurement(&measurement)];
    for _ in 0..n_tags {
        let k = get_str(src, pos, "tag key")?;
        let v = get_str(src, pos, "tag value")?;
        parts.push(Predicate::tag_eq(&k, &v));
    }
    Ok(Predicate::And(parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A version 1 payload, as the previous release wrote it.
    fn v1(id: u64, drop: bool, range: TimeRange, m: &str, tags: &[(&str, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&id.to_le_bytes());
        b.push(u8::from(drop));
        b.extend_from_slice(&range.start.to_le_bytes());
        b.extend_from_slice(&range.end.to_le_bytes());
        put_str(&mut b, m);
        put_uvarint(&mut b, tags.len() as u64);
        for (k, v) in tags {
            put_str(&mut b, k);
            put_str(&mut b, v);
        }
        b
    }

    #[test]
    fn version_1_records_still_decode() {
        let b = v1(7, true, TimeRange::new(-5, 99), "cpu", &[("host", "a b")]);
        let d = DeleteSpec::decode(&b).unwrap();
        assert_eq!(d.id, 7);
        assert!(d.drop);
        assert_eq!(d.range, TimeRange::new(-5, 99));
        let t = |h: &str| vec![("host".to_owned(), h.to_owned()), ("x".into(), "y".into())];
        assert!(d.predicate.matches("cpu", &t("a b"), Some("f")));
        assert!(!d.predicate.matches("cpu", &t("c"), Some("f")));
        assert!(!d.predicate.matches("mem", &t("a b"), Some("f")));
        for cut in 0..b.len() {
            assert!(DeleteSpec::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        // Re-encoded, it is a version 2 record that decodes to the same.
        assert_eq!(DeleteSpec::decode(&d.encode()).unwrap(), d);
    }

    #[test]
    fn damage_is_reported() {
        let d = DeleteSpec {
            id: 1,
            predicate: Predicate::Or(vec![Predicate::tag_eq("a", "b"), Predicate::True]),
            range: TimeRange::ALL,
            drop: false,
        };
        let b = d.encode();
        for cut in 0..b.len() {
            assert!(DeleteSpec::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = b.clone();
        bad[8] |= 0x80;
        assert_eq!(
            DeleteSpec::decode(&bad).unwrap_err().1,
            "unknown delete flags"
        );
        let mut long = b.clone();
        long.push(0);
        assert!(DeleteSpec::decode(&long).is_err());
        // A bad regex is damage, not a panic.
        let mut re = d.clone();
        re.predicate = Predicate::True;
        let mut rb = re.encode();
        rb.truncate(25);
        rb.extend_from_slice(&[1, 1, 2, 1, b'(']);
        assert_eq!(
            DeleteSpec::decode(&rb).unwrap_err().1,
            "matcher regex does not compile"
        );
        // Deep nesting is refused, not a stack overflow.
        let mut deep = rb[..25].to_vec();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[2, 1]);
        }
        deep.push(0);
        assert_eq!(
            DeleteSpec::decode(&deep).unwrap_err().1,
            "predicate nested too deeply"
        );
    }

    fn arb_matcher() -> impl Strategy<Value = Predicate> {
        let subject = prop_oneof![
            Just(Subject::Measurement),
            Just(Subject::Field),
            "[a-z]{0,4}".prop_map(Subject::Tag),
        ];
        (subject, 0u8..4, "[a-zé .*|]{0,6}").prop_filter_map("regex compiles", |(s, op, v)| {
            Matcher::new(s, MatchOp::from_code(op)?, &v)
                .ok()
                .map(Predicate::Match)
        })
    }

    fn arb_predicate() -> impl Strategy<Value = Predicate> {
        let leaf = prop_oneof![Just(Predicate::True), arb_matcher()];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Predicate::And),
                proptest::collection::vec(inner, 0..4).prop_map(Predicate::Or),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trip(id in any::<u64>(), drop in any::<bool>(), a in any::<i64>(),
                      b in any::<i64>(), p in arb_predicate()) {
            let d = DeleteSpec { id, predicate: p, range: TimeRange::new(a, b), drop };
            let bytes = d.encode();
            prop_assert_eq!(DeleteSpec::decode(&bytes).unwrap(), d);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut head in proptest::collection::vec(any::<u8>(), 25..26),
                                       tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            head[8] = FLAG_V2;
            head.extend(tail);
            let _ = DeleteSpec::decode(&head);
        }
    }
}
