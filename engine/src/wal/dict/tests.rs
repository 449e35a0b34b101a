//! Dictionary tests: the writer's defined set, definition records (split, refused,
//! round-tripped) and the reader's per-file map.

use super::*;
use crate::wal::frame::{Frame, decode_record};
use proptest::prelude::*;
use std::collections::HashMap;

/// A key source over a map, as the engine's index is one.
struct Keys(HashMap<u32, Vec<u8>>);

impl SeriesKeys for Keys {
    fn keys(&self, ids: &[u32], each: &mut dyn FnMut(u32, &[u8])) -> Result<(), u32> {
        for &id in ids {
            each(id, self.0.get(&id).ok_or(id)?);
        }
        Ok(())
    }
}

/// Every (number, key) in the framed `SeriesDefs` records of `buf`, and how many records.
fn read_back(buf: &[u8]) -> (Vec<(u32, Vec<u8>)>, usize) {
    let (mut defs, mut records, mut pos) = (Vec::new(), 0, 0);
    while pos < buf.len() {
        match decode_record(&buf[pos..]) {
            Frame::Record {
                kind,
                payload,
                size,
            } => {
                assert_eq!(kind, RecordKind::SeriesDefs as u8);
                defs.extend(
                    decode_defs(payload)
                        .unwrap()
                        .into_iter()
                        .map(|(id, k)| (id, k.to_vec())),
                );
                records += 1;
                pos += size;
            }
            other => panic!("bad frame at {pos}: {other:?}"),
        }
    }
    (defs, records)
}

#[test]
fn defined_set_commits_rolls_back_and_clears() {
    let mut d = Defined::default();
    assert!(!d.contains(5));
    assert!(d.insert(5) && d.insert(1000) && !d.insert(5));
    d.commit();
    assert!(d.insert(64));
    assert_eq!(d.added(), [64]);
    d.rollback();
    assert!(d.contains(5) && d.contains(1000) && !d.contains(64));
    assert!(d.added().is_empty());
    d.clear();
    assert!(!d.contains(5) && !d.contains(1000));
    assert!(d.insert(1_000_000) && d.contains(1_000_000) && !d.contains(999_999));
}

#[test]
fn definitions_are_framed_split_and_read_back_in_order() {
    let keys = Keys(
        (0..5u32)
            .map(|i| (i * 3, vec![b'a' + i as u8; 1_500_000]))
            .chain([(1, b"\x03cpu".to_vec())])
            .collect(),
    );
    let ids = [1, 0, 3, 6, 9, 12];
    let mut buf = b"before".to_vec();
    encode_defs(&keys, &ids, &mut buf).unwrap();
    assert_eq!(&buf[..6], b"before");
    let (defs, records) = read_back(&buf[6..]);
    assert_eq!(defs.iter().map(|d| d.0).collect::<Vec<_>>(), ids);
    for (id, key) in &defs {
        assert_eq!(key, &keys.0[id]);
    }
    assert_eq!(records, 2, "a record stops growing past its size limit");
}

#[test]
fn an_unknown_number_leaves_the_buffer_as_it_was() {
    let keys = Keys([(1, b"\x01m".to_vec())].into_iter().collect());
    let mut buf = b"kept".to_vec();
    assert_eq!(encode_defs(&keys, &[1, 2], &mut buf), Err(2));
    assert_eq!(buf, b"kept");
    encode_defs(&keys, &[], &mut buf).unwrap();
    assert_eq!(buf, b"kept", "no record for no numbers");
}

#[test]
fn damaged_definitions_are_refused_with_their_offset() {
    assert_eq!(
        decode_defs(&[]),
        Err((0, "series definitions record without a definition"))
    );
    let mut p = Vec::new();
    put_def(&mut p, 300, b"\x03cpu");
    put_def(&mut p, 2, b"\x03mem");
    assert_eq!(
        decode_defs(&p).unwrap(),
        [(300, &b"\x03cpu"[..]), (2, &b"\x03mem"[..])]
    );
    for cut in 1..p.len() {
        if cut != 7 {
            assert!(decode_defs(&p[..cut]).is_err(), "cut {cut}");
        }
    }
    let mut big = Vec::new();
    put_uvarint(&mut big, 1 << 32);
    big.push(0);
    assert_eq!(decode_defs(&big), Err((0, "series number above 2^32 - 1")));
    assert_eq!(
        decode_defs(&[1, 9, b'x']),
        Err((1, "series key runs past the record"))
    );
}

#[test]
fn file_dictionaries_start_empty_and_refuse_a_second_definition() {
    let mut d: FileDict<u64> = FileDict::default();
    d.enter(1);
    d.define(7, 70).unwrap();
    assert_eq!(
        d.define(7, 71),
        Err("series number defined twice in one file")
    );
    d.enter(1);
    assert_eq!(d.get_mut(7).copied(), Some(70), "same file: kept");
    d.enter(2);
    assert!(
        d.is_empty() && d.get_mut(7).is_none(),
        "a new file starts empty"
    );
    d.define(7, 72).unwrap();
    assert_eq!(d.len(), 1);
}

proptest! {
    #[test]
    fn generated_definitions_round_trip(
        defs in proptest::collection::btree_map(any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40), 1..50)
    ) {
        let ids: Vec<u32> = defs.keys().copied().collect();
        let keys = Keys(defs.clone().into_iter().collect());
        let mut buf = Vec::new();
        encode_defs(&keys, &ids, &mut buf).unwrap();
        let (back, records) = read_back(&buf);
        prop_assert_eq!(records, 1);
        prop_assert_eq!(back, defs.into_iter().collect::<Vec<_>>());
    }
}
