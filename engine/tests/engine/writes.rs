//! Write semantics: partial batches, type conflicts, last write wins, out-of-order data,
//! every field type, listings, the directory lock.

use crate::common::*;
use strata_engine::model::{
    ColumnValues, FieldType, FieldValue, MAX_TIMESTAMP, Point, Precision, SeriesKey, TimeRange,
};
use strata_engine::{Db, Error, RejectReason};

#[test]
fn a_bad_line_is_refused_and_the_rest_lands() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let s = db
        .write_lp(
            b"cpu,host=a usage=1.5 10\ncpu,host=a usage= 20\n\ncpu,host=a usage=2.5 30\n",
            Precision::Nanosecond,
        )
        .unwrap();
    assert_eq!((s.lines, s.points), (2, 2));
    assert_eq!(s.rejected.len(), 1);
    assert_eq!(s.rejected[0].line, 2);
    let msg = s.rejected[0].to_string();
    assert!(msg.starts_with("line 2, column "), "{msg}");
    let c = read(&db, &host_a(), "usage");
    assert_eq!(c.timestamps, [10, 30]);
    assert_eq!(floats(&c), [1.5, 2.5]);
}

fn host_a() -> SeriesKey {
    SeriesKey::new("cpu", [("host", "a")]).unwrap()
}

#[test]
fn field_type_conflict_refuses_only_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.write_lp(b"cpu,host=a usage=1.5 10\n", Precision::Nanosecond)
        .unwrap();
    let s = db
        .write_lp(
            b"cpu,host=b usage=3i,other=1 20\ncpu,host=b usage=2.0 30\n",
            Precision::Nanosecond,
        )
        .unwrap();
    assert_eq!(s.lines, 1);
    assert_eq!(s.rejected.len(), 1);
    assert_eq!(s.rejected[0].line, 1);
    match &s.rejected[0].reason {
        RejectReason::FieldType(c) => {
            assert_eq!(c.field, "usage");
            assert_eq!(c.existing, FieldType::Float);
            assert_eq!(c.attempted, FieldType::Integer);
        }
        other => panic!("{other:?}"),
    }
    // The refused line registered nothing: `other` does not exist.
    assert_eq!(
        db.fields("cpu"),
        vec![("usage".to_owned(), FieldType::Float)]
    );
    // Within one batch, the first line to introduce a field fixes its type.
    let s = db
        .write_lp(
            b"mem v=1i 1\nmem v=2.5 2\nmem v=3i 3\n",
            Precision::Nanosecond,
        )
        .unwrap();
    assert_eq!(s.lines, 2);
    assert_eq!(s.rejected[0].line, 2);
}

#[test]
fn last_write_wins_and_out_of_order_writes_read_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut text = String::new();
    for t in (0..1000).rev() {
        text.push_str(&format!("cpu,host=a v={t}i {t}\n"));
    }
    for t in (0..1000).step_by(3) {
        text.push_str(&format!("cpu,host=a v={}i {t}\n", -t));
    }
    db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
    db.write_lp(b"cpu,host=a v=77i 500\n", Precision::Nanosecond)
        .unwrap();
    let check = |db: &Db| {
        let c = read(db, &host_a(), "v");
        assert_eq!(c.timestamps, (0..1000).collect::<Vec<i64>>());
        for (t, &v) in ints(&c).iter().enumerate() {
            let want = if t == 500 {
                77
            } else if t % 3 == 0 {
                -(t as i64)
            } else {
                t as i64
            };
            assert_eq!(v, want, "t={t}");
        }
        let part = db
            .read_column(&host_a(), "v", TimeRange::new(10, 20))
            .unwrap()
            .unwrap();
        assert_eq!(part.timestamps, (10..20).collect::<Vec<i64>>());
    };
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check(&db);
}

#[test]
fn every_type_round_trips_through_write_points_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let key = SeriesKey::new("weird name, with=chars", [("tag key", "tag,value=x")]).unwrap();
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let points = vec![
        Point::new(
            key.clone(),
            vec![
                ("f".into(), FieldValue::Float(nan)),
                ("i".into(), FieldValue::Integer(i64::MIN)),
                ("u".into(), FieldValue::Unsigned(u64::MAX)),
                ("b".into(), FieldValue::Boolean(true)),
                (
                    "s".into(),
                    FieldValue::String("multi\nline \"quoted\" \\".into()),
                ),
            ],
            -1,
        ),
        Point::new(
            key.clone(),
            vec![("f".into(), FieldValue::Float(-0.0))],
            // The latest time a point may have (`i64::MAX` itself is refused: queries
            // cannot address it).
            MAX_TIMESTAMP,
        ),
        Point::new(key.clone(), vec![], 5),
    ];
    let s = db.write_points(&points).unwrap();
    assert_eq!((s.lines, s.points), (2, 6));
    assert!(matches!(s.rejected[0].reason, RejectReason::NoFields));
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    let f = read(&db, &key, "f");
    assert_eq!(f.timestamps, [-1, MAX_TIMESTAMP]);
    let bits: Vec<u64> = floats(&f).iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [nan.to_bits(), (-0.0f64).to_bits()]);
    assert_eq!(
        read(&db, &key, "u").values,
        ColumnValues::Unsigned(vec![u64::MAX])
    );
    assert_eq!(
        read(&db, &key, "b").values,
        ColumnValues::Boolean(vec![true])
    );
    assert_eq!(
        read(&db, &key, "s").values,
        ColumnValues::String(vec!["multi\nline \"quoted\" \\".into()])
    );
    assert_eq!(ints(&read(&db, &key, "i")), [i64::MIN]);
}

#[test]
fn missing_timestamps_take_the_clock_truncated_to_the_precision() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options();
    let clock = strata_engine::ManualClock::new(1_451_606_400_123_456_789);
    o.clock = std::sync::Arc::new(clock);
    let db = Db::open(dir.path(), o).unwrap();
    db.write_lp(b"cpu,host=a v=1i\n", Precision::Millisecond)
        .unwrap();
    db.write_lp(b"cpu,host=a v=2i 1451606401\n", Precision::Second)
        .unwrap();
    let c = read(&db, &host_a(), "v");
    assert_eq!(
        c.timestamps,
        [1_451_606_400_123_000_000, 1_451_606_401_000_000_000]
    );
}

#[test]
fn listings_describe_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    db.write_lp(
        b"cpu,host=a,region=eu usage=1 1\ncpu,region=us,host=b usage=2,idle=3i 1\nmem,host=a free=1u 1\n",
        Precision::Nanosecond,
    )
    .unwrap();
    assert_eq!(db.measurements(), ["cpu", "mem"]);
    assert_eq!(db.tag_keys("cpu"), ["host", "region"]);
    assert_eq!(db.tag_values("cpu", "region"), ["eu", "us"]);
    assert_eq!(
        db.fields("cpu"),
        vec![
            ("idle".to_owned(), FieldType::Integer),
            ("usage".to_owned(), FieldType::Float)
        ]
    );
    let series: Vec<String> = db.series("cpu").iter().map(|k| k.to_string()).collect();
    assert_eq!(series, ["cpu,host=a,region=eu", "cpu,host=b,region=us"]);
    assert!(
        db.read_column(&host_a(), "usage", TimeRange::ALL)
            .unwrap()
            .is_none()
    );
    assert!(db.tag_keys("nope").is_empty());
}

#[test]
fn a_second_open_of_the_same_directory_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    match Db::open(dir.path(), options()) {
        Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("expected Locked, got {other:?}"),
    }
    db.close().unwrap();
    Db::open(dir.path(), options()).unwrap();
}

#[test]
fn concurrent_writers_of_the_same_points_agree_before_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Db::open(dir.path(), options()).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for round in 0..50 {
                    let mut s = String::new();
                    for t in 0..20 {
                        s.push_str(&format!("cpu,host=a v={}i {t}\n", w * 1000 + round));
                    }
                    db.write_lp(s.as_bytes(), Precision::Nanosecond).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let before = read(&db, &host_a(), "v");
    assert_eq!(before.len(), 20);
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(read(&db, &host_a(), "v"), before);
}

#[test]
fn time_as_a_field_or_tag_name_and_huge_series_keys_are_refused_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let long = "x".repeat(70_000);
    let text = format!(
        "cpu,host=a time=1i 1\ncpu,time=a v=1i 1\ncpu,host=a v=2i 2\ncpu,host={long} v=1i 1\n"
    );
    let s = db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
    assert_eq!(s.lines, 1);
    let reasons: Vec<String> = s.rejected.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        s.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 2, 4]
    );
    assert!(
        reasons[0].contains("invalid field name: field \"time\""),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("invalid tag name"), "{reasons:?}");
    assert!(
        reasons[2].contains("exceeds the limit of 65535 bytes"),
        "{reasons:?}"
    );
}
