use super::*;
use crate::rollup::{Aggregates, Sketch};
use proptest::prelude::*;

const DAY: i64 = crate::compaction::DAY_NANOS;

fn meta(aggregates: u8) -> RollupMeta {
    RollupMeta {
        pattern: "cpu_.*".into(),
        interval: 300_000_000_000,
        day: 16_801,
        source: 42,
        no_raw: false,
        aggregates,
    }
}

fn bucket(slot: i64, ty: FieldType, v: i64, n: u64, sketch: bool) -> RollupBucket {
    let m = meta(0);
    let start = m.day * DAY + slot * m.interval;
    let s = |x: i64| match ty {
        FieldType::Float => Scalar::F(x as f64 / 3.0),
        FieldType::Integer => Scalar::I(x),
        _ => Scalar::U(x.unsigned_abs()),
    };
    let stats = match ty {
        FieldType::Float => BlockStats::Float {
            sum: v as f64 * 1.5,
            min: -(v as f64),
            max: v as f64,
        },
        FieldType::Integer => BlockStats::Integer {
            sum: i128::from(v) * 1_000_000_000_000,
            min: -v,
            max: v,
        },
        _ => BlockStats::Unsigned {
            sum: u128::from(v.unsigned_abs()) << 70,
            min: 0,
            max: v.unsigned_abs(),
        },
    };
    let sketch = sketch.then(|| {
        let mut k = Sketch::new();
        for i in 0..n {
            k.add((v + i as i64) as f64);
        }
        k
    });
    RollupBucket {
        start,
        count: n,
        stats,
        first: (start + 7, s(v)),
        last: (start + m.interval - 1, s(-v)),
        sketch,
    }
}

fn ty_of(i: u8) -> FieldType {
    [FieldType::Float, FieldType::Integer, FieldType::Unsigned][usize::from(i % 3)]
}

proptest! {
    /// Whatever the buckets, a file decodes to exactly what was encoded.
    #[test]
    fn files_round_trip(
        entries in proptest::collection::vec(
            (proptest::collection::btree_set(0i64..288, 0..20), 0u8..3, any::<i64>(), 1u64..50),
            0..6),
        quantile in any::<bool>(),
    ) {
        let aggregates = if quantile { Aggregates::ALL.0 } else { Aggregates::COUNT | Aggregates::SUM };
        let m = meta(aggregates);
        let entries: Vec<RollupEntry> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (slots, t, v, n))| {
                let ty = ty_of(t);
                RollupEntry {
                    key: format!("\u{3}cpu{i}").into_bytes(),
                    field: format!("f{i}"),
                    ty,
                    buckets: slots.into_iter().map(|s| bucket(s, ty, v / 4, n, quantile)).collect(),
                }
            })
            .collect();
        let bytes = encode(&m, &entries, 3).expect("encodes");
        let f = RollupFile::decode(Path::new("x"), &bytes).expect("decodes");
        prop_assert_eq!(&f.meta, &m);
        prop_assert_eq!(f.all_entries(Path::new("x")).expect("entries"), entries);
    }

    /// Any bytes decode to a file or an error, never a panic.
    #[test]
    fn any_bytes_are_refused_without_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(f) = RollupFile::decode(Path::new("x"), &b) {
            let _ = f.all_entries(Path::new("x"));
        }
    }
}

#[test]
fn every_flipped_byte_is_caught() {
    let m = meta(Aggregates::ALL.0);
    let entries = vec![RollupEntry {
        key: b"\x03cpu".to_vec(),
        field: "usage".into(),
        ty: FieldType::Integer,
        buckets: vec![
            bucket(0, FieldType::Integer, 5, 3, true),
            bucket(9, FieldType::Integer, 7, 2, true),
        ],
    }];
    let bytes = encode(&m, &entries, 3).expect("encodes");
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        let got =
            RollupFile::decode(Path::new("x"), &bad).and_then(|f| f.all_entries(Path::new("x")));
        assert!(got.is_err(), "flipping byte {i} went unnoticed");
    }
}

/// A day whose first or last nanosecond does not fit an `i64` used to overflow the bucket
/// start arithmetic (a panic with overflow checks on, seen while writing the rollup fuzz
/// target); decoding now refuses the day itself.
#[test]
fn a_day_outside_the_timestamp_range_is_refused() {
    for day in [i64::MAX, i64::MIN, 106_752, -106_752] {
        let m = RollupMeta { day, ..meta(0) };
        let entries: Vec<EncodedEntry> = vec![EncodedEntry {
            key: b"\x03cpu".to_vec(),
            field: "usage".into(),
            ty: FieldType::Integer,
            // One bucket at slot 0, written by hand: no start can be computed for it.
            payload: vec![1, 0, 1],
        }];
        let bytes = encode_encoded(&m, &entries, 3);
        let got = RollupFile::decode(Path::new("x"), &bytes);
        let Err(Error::Corrupt { what, .. }) = got else {
            panic!("day {day} was accepted: {got:?}");
        };
        assert!(what.contains("outside the nanosecond"), "{what}");
    }
    // The last whole day that fits is still a day.
    let last = RollupMeta {
        day: i64::MAX / DAY - 1,
        ..meta(0)
    };
    assert!(RollupFile::decode(Path::new("x"), &encode_encoded(&last, &[], 3)).is_ok());
}
