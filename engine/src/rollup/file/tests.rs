use super::*;
use crate::model::{ColumnData, ColumnValues};
use crate::rollup::bucket::{RollupBucket, Scalar};
use crate::rollup::{Aggregates, Sketch, buckets_of, measurement_of};
use crate::segment::BlockStats;
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

fn entry(key: &[u8], field: &str, ty: FieldType, rows: &[RollupBucket]) -> RollupEntry {
    RollupEntry {
        key: key.to_vec(),
        field: field.into(),
        buckets: BucketColumns::from_rows(ty, rows).expect("rows of the type"),
    }
}

proptest! {
    /// Whatever the buckets, a file decodes to exactly what was encoded, through the
    /// whole-file, per-entry and per-stripe paths.
    #[test]
    fn files_round_trip(
        entries in proptest::collection::vec(
            (proptest::collection::btree_set(0i64..288, 0..40), 0u8..3, any::<i64>(), 1u64..50),
            0..8),
        quantile in any::<bool>(),
        zstd in any::<bool>(),
    ) {
        let aggregates = if quantile { Aggregates::ALL.0 } else { Aggregates::COUNT | Aggregates::SUM };
        let m = meta(aggregates);
        let entries: Vec<RollupEntry> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (slots, t, v, n))| {
                let ty = ty_of(t);
                let rows: Vec<RollupBucket> = slots
                    .into_iter()
                    .map(|s| bucket(s, ty, (v / 4).wrapping_add(s * 13), n + (s as u64 % 3), quantile))
                    .collect();
                entry(format!("\u{3}cpu{i}").as_bytes(), &format!("f{i}"), ty, &rows)
            })
            .collect();
        let bytes = encode(&m, &entries, if zstd { 3 } else { 0 }).expect("encodes");
        let on_three = encode_on(&m, &entries, if zstd { 3 } else { 0 }, 3).expect("encodes");
        prop_assert_eq!(&on_three, &bytes, "the bytes depend on the threads");
        let f = RollupFile::decode(Path::new("x"), &bytes).expect("decodes");
        prop_assert_eq!(&f.meta, &m);
        prop_assert_eq!(f.version, VERSION);
        prop_assert_eq!(&f.all_entries(Path::new("x")).expect("entries"), &entries);
        for e in &entries {
            let got = f.buckets(Path::new("x"), &e.key, &e.field).expect("reads");
            prop_assert_eq!(got.as_ref(), Some(&e.buckets));
        }
        prop_assert!(f.buckets(Path::new("x"), b"nope", "f0").expect("reads").is_none());
    }

    /// A directory cursor finds every column (and misses the absent ones) whatever the
    /// order the keys are sought in: ascending (the merge join), descending, or shuffled.
    #[test]
    fn cursor_seeks_in_any_order(
        keys in proptest::collection::btree_set(0u16..500, 1..60),
        asked in proptest::collection::vec((0u16..520, 0u8..3), 0..80),
    ) {
        let m = meta(Aggregates::COUNT | Aggregates::SUM);
        let k = |i: u16| format!("\u{3}cpu,host=h{i:04}").into_bytes();
        // Two fields per key, of two types (two stripes).
        let mut entries = Vec::new();
        for &i in &keys {
            let rows = [bucket(i64::from(i % 200), FieldType::Integer, i64::from(i), 2, false)];
            entries.push(entry(&k(i), "a", FieldType::Integer, &rows));
            let rows = [bucket(i64::from(i % 200), FieldType::Float, i64::from(i), 2, false)];
            entries.push(entry(&k(i), "b", FieldType::Float, &rows));
        }
        let f = RollupFile::decode(Path::new("x"), &encode(&m, &entries, 0).expect("encodes"))
            .expect("decodes");
        // Names compare equal for the same listing, not for one without the first key.
        let again = RollupFile::decode(Path::new("x"), &encode(&m, &entries, 0).expect("encodes"))
            .expect("decodes");
        prop_assert!(f.same_names(&again));
        let fewer = RollupFile::decode(Path::new("x"), &encode(&m, &entries[2..], 0).expect("encodes"))
            .expect("decodes");
        prop_assert!(!f.same_names(&fewer));
        let field = |j: u8| ["a", "b", "c"][usize::from(j)];
        let want = |i: u16, j: u8| keys.contains(&i) && j < 2;
        let mut sorted = asked.clone();
        sorted.sort_unstable();
        let mut reversed = sorted.clone();
        reversed.reverse();
        for order in [asked, sorted, reversed] {
            let mut c = f.cursor();
            for &(i, j) in &order {
                let got = c.seek(&k(i), field(j));
                prop_assert_eq!(got.is_some(), want(i, j), "key {} field {}", i, j);
                prop_assert_eq!(got.clone(), f.locate(&k(i), field(j)));
                if let Some((s, r)) = got {
                    let st = f.stripe(Path::new("x"), s).expect("stripe");
                    prop_assert_eq!(st.start[r.start], m.day * DAY + i64::from(i % 200) * m.interval);
                }
            }
        }
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
    let entries = vec![entry(
        b"\x03cpu",
        "usage",
        FieldType::Integer,
        &[
            bucket(0, FieldType::Integer, 5, 3, true),
            bucket(9, FieldType::Integer, 7, 2, true),
        ],
    )];
    for level in [0, 3] {
        let bytes = encode(&m, &entries, level).expect("encodes");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let got = RollupFile::decode(Path::new("x"), &bad)
                .and_then(|f| f.all_entries(Path::new("x")));
            assert!(got.is_err(), "flipping byte {i} went unnoticed");
        }
    }
}

/// Damaged stripe bytes under a valid frame: every truncation and flip of the body
/// decodes to an error or to a file, never a panic, and errors name the body offset.
#[test]
fn damaged_bodies_are_errors_not_panics() {
    let m = meta(Aggregates::ALL.0);
    let rows: Vec<RollupBucket> = (0..40)
        .map(|s| bucket(s * 3, FieldType::Float, s * 11 - 70, 30, true))
        .collect();
    let entries = vec![entry(b"\x03cpu", "usage", FieldType::Float, &rows)];
    let bytes = encode(&m, &entries, 0).expect("encodes");
    let body = RollupFile::decode(Path::new("x"), &bytes)
        .expect("decodes")
        .body()
        .to_vec();
    let (mut errors, mut placed) = (0, 0);
    for i in 0..body.len() {
        for bad in [body[..i].to_vec(), {
            let mut b = body.clone();
            b[i] ^= 0x41;
            b
        }] {
            let framed = crate::fuzzing::rollup_file_framed(&bad, VERSION);
            match RollupFile::decode(Path::new("x"), &framed)
                .and_then(|f| f.all_entries(Path::new("x")))
            {
                Ok(_) => {}
                Err(Error::Corrupt { offset, what, .. }) => {
                    assert_eq!(offset, HEAD_LEN as u64);
                    errors += 1;
                    placed += usize::from(what.starts_with("body byte "));
                }
                Err(e) => panic!("not a corruption error: {e}"),
            }
        }
    }
    assert!(
        errors > body.len(),
        "most damage must be noticed ({errors})"
    );
    assert!(
        placed * 2 > errors,
        "most errors name their body byte ({placed})"
    );
}

/// A day whose first or last nanosecond does not fit an `i64` used to overflow the bucket
/// start arithmetic (a panic with overflow checks on, seen while writing the rollup fuzz
/// target); decoding now refuses the day itself.
#[test]
fn a_day_outside_the_timestamp_range_is_refused() {
    for day in [i64::MAX, i64::MIN, 106_752, -106_752] {
        let m = RollupMeta { day, ..meta(0) };
        let bytes = encode(&m, &[], 3).expect("no entries to check");
        let got = RollupFile::decode(Path::new("x"), &bytes);
        let Err(Error::Corrupt { what, .. }) = got else {
            panic!("day {day} was accepted: {got:?}");
        };
        assert!(what.contains("outside the nanosecond"), "{what}");
        let one = entry(
            b"\x03cpu",
            "usage",
            FieldType::Integer,
            &[bucket(0, FieldType::Integer, 1, 1, false)],
        );
        assert!(encode(&m, &[one], 3).is_err());
    }
    // The last whole day that fits is still a day.
    let last = RollupMeta {
        day: i64::MAX / DAY - 1,
        ..meta(0)
    };
    assert!(RollupFile::decode(Path::new("x"), &encode(&last, &[], 3).expect("encodes")).is_ok());
}

#[test]
fn buckets_off_the_grid_or_outside_the_day_are_not_written() {
    let m = meta(Aggregates::EXACT.0);
    let good = bucket(2, FieldType::Float, 3, 4, false);
    let mut shifted = good.clone();
    shifted.start += 1;
    let mut late = good.clone();
    late.start += DAY;
    let mut empty = good.clone();
    empty.count = 0;
    for bad in [shifted, late, empty] {
        let e = entry(b"\x03cpu", "f", FieldType::Float, &[bad]);
        assert!(matches!(encode(&m, &[e], 0), Err(Error::InvalidInput(_))));
    }
    let sub_second = RollupMeta {
        interval: 500_000_000,
        ..meta(0)
    };
    assert!(encode(&sub_second, &[], 0).is_err());
}

/// The points the v1 fixtures were made from (engine/tests/fuzz_standin.rs, `rollup_files`
/// at the commit that wrote them): 2016-01-01 and -02, every 5 min plus `i % 7` s,
/// `m,host=a f=sin(0.3 i),n=(i % 50 − 20)i,u=(3 i)u` and `n,host=b f=0.5 i`.
fn fixture_column(measurement: &str, field: &str, day: i64) -> ColumnData {
    let t0 = 1_451_606_400_000_000_000i64;
    let idx: Vec<i64> = (0..(2 * 24 * 12i64))
        .filter(|i| (t0 + i * 300_000_000_000).div_euclid(DAY) == day)
        .collect();
    let timestamps = idx
        .iter()
        .map(|i| t0 + i * 300_000_000_000 + (i % 7) * 1_000_000_000)
        .collect();
    let values = match (measurement, field) {
        ("m", "f") => ColumnValues::Float(idx.iter().map(|&i| (i as f64 * 0.3).sin()).collect()),
        ("m", "n") => ColumnValues::Integer(idx.iter().map(|&i| i % 50 - 20).collect()),
        ("m", "u") => ColumnValues::Unsigned(idx.iter().map(|&i| (i * 3) as u64).collect()),
        _ => ColumnValues::Float(idx.iter().map(|&i| i as f64 * 0.5).collect()),
    };
    ColumnData { timestamps, values }
}

/// Files written in version 1 (row-wise) are still read, bucket for bucket equal to the
/// raw aggregates of the points they were computed from, and carry into version 2
/// unchanged.
#[test]
fn version_1_files_are_still_read() {
    for (bytes, interval, sketches, fields) in [
        (
            &include_bytes!("fixtures/v1_hourly.rup")[..],
            3600,
            false,
            4,
        ),
        (
            &include_bytes!("fixtures/v1_5m_sketch.rup")[..],
            300,
            true,
            3,
        ),
    ] {
        let f = RollupFile::decode(Path::new("v1.rup"), bytes).expect("a v1 file decodes");
        assert_eq!(f.version, VERSION_1);
        assert_eq!(f.meta.interval, interval * 1_000_000_000);
        let entries = f.all_entries(Path::new("v1.rup")).expect("entries");
        assert_eq!(entries.len(), fields);
        for e in &entries {
            let m = measurement_of(&e.key).expect("a series key");
            let data = fixture_column(m, &e.field, f.meta.day);
            let want = buckets_of(&data, f.meta.interval, sketches);
            assert_eq!(e.buckets.rows(), want, "{m} {}", e.field);
            assert_eq!(e.buckets.len() as i64, DAY / f.meta.interval);
        }
        let v2 = encode(&f.meta, &entries, 12).expect("re-encodes");
        let again = RollupFile::decode(Path::new("v2.rup"), &v2).expect("decodes");
        assert_eq!(again.version, VERSION);
        assert_eq!(
            again.all_entries(Path::new("v2.rup")).expect("entries"),
            entries
        );
        assert!(
            v2.len() < bytes.len(),
            "v2 {} B, v1 {} B",
            v2.len(),
            bytes.len()
        );
    }
}

/// A day of many series spans several stripes (of every type); the bytes are the same
/// whether stripes are encoded on one thread or several, and every entry reads back.
#[test]
fn many_stripes_encode_alike_on_any_threads() {
    let m = meta(Aggregates::EXACT.0);
    let entries: Vec<RollupEntry> = (0..300)
        .map(|i| {
            let ty = ty_of(i as u8);
            let rows: Vec<RollupBucket> = (0..288)
                .filter(|s| (s + i) % 11 != 0)
                .map(|s| bucket(s, ty, s * 5 - i, 1 + (s as u64 % 4), false))
                .collect();
            entry(format!("\u{3}cpu{i}").as_bytes(), "usage", ty, &rows)
        })
        .collect();
    let one = encode(&m, &entries, 3).expect("encodes");
    let three = encode_on(&m, &entries, 3, 3).expect("encodes");
    assert_eq!(one, three);
    let f = RollupFile::decode(Path::new("x"), &one).expect("decodes");
    assert!(f.stripes() >= 4, "{} stripes", f.stripes());
    let mut want = entries.clone();
    want.sort_by(|a, b| (&a.key, &a.field).cmp(&(&b.key, &b.field)));
    assert_eq!(f.all_entries(Path::new("x")).expect("entries"), want);
}
