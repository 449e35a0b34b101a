//! What one line may hold: its timestamp within the addressable range, a bounded number
//! of fields and tags, and a wide line that stays cheap through rotation and compaction.

use crate::common::{options, read};
use strata_engine::model::{
    ColumnValues, FieldValue, MAX_TIMESTAMP, MIN_TIMESTAMP, Point, Precision, SeriesKey, TimeRange,
};
use strata_engine::{Db, Options, RejectReason};

fn wide_line(fields: usize, ts: i64) -> String {
    let mut s = String::from("wide,host=a ");
    for f in 0..fields {
        if f > 0 {
            s.push(',');
        }
        s.push_str(&format!("f{f}={f}i"));
    }
    s.push_str(&format!(" {ts}\n"));
    s
}

/// Bug: a line with 100,000 fields was accepted, and the next rotation spent minutes
/// (quadratic in the fields of a series) inside the index with its lock held, so writes
/// creating series, queries, `/api/v1/status` and shutdown all waited. Cause: each column
/// of the rotating series looked its name up by listing every column of the series. Fix:
/// the index gives a column's name in constant time; rotation and compaction are linear.
/// Timing this is the bench's job (`benches/benches/rotation.rs`, `wide_line`); here the
/// line must land, rotate, compact to cold, reopen and read back exactly.
#[test]
fn a_line_with_100k_fields_rotates_compacts_and_reads_back() {
    const FIELDS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        max_fields_per_line: FIELDS,
        ..options()
    };
    let ts = 1_451_606_400_000_000_000 - 3_600_000_000_000;
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let w = db
        .write_lp(wide_line(FIELDS, ts).as_bytes(), Precision::Nanosecond)
        .unwrap();
    assert!(w.rejected.is_empty(), "{:?}", w.rejected);
    assert_eq!(w.points, FIELDS);
    let r = db.rotate().unwrap().expect("the hour-old line rotates");
    assert_eq!(r.segment.points, FIELDS as u64);
    assert_eq!(db.tier_stats().hot.points, 0);
    let key = SeriesKey::new("wide", [("host", "a")]).unwrap();
    let check = |db: &Db| {
        assert_eq!(db.series_fields(&key).len(), FIELDS);
        for f in [0, 1, FIELDS / 2, FIELDS - 1] {
            let c = read(db, &key, &format!("f{f}"));
            assert_eq!(c.timestamps, [ts]);
            assert_eq!(c.values, ColumnValues::Integer(vec![f as i64]));
        }
    };
    check(&db);
    db.compact(true, true)
        .unwrap()
        .expect("compaction to cold runs");
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    check(&db);
    assert_eq!(db.tier_stats().cold.points, FIELDS as u64);
}

#[test]
fn too_many_fields_or_tags_are_refused_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_fields_per_line: 3,
            max_tags_per_line: 2,
            ..options()
        },
    )
    .unwrap();
    let batch = "\
ok,a=1,b=2 x=1,y=2,z=3 1
wide,a=1 w=1,x=2,y=3,z=4 2
tagged,a=1,b=2,c=3 x=1 3
ok,a=1,b=2 x=4 4
";
    let w = db
        .write_lp(batch.as_bytes(), Precision::Nanosecond)
        .unwrap();
    assert_eq!(w.lines, 2);
    let refused: Vec<(usize, RejectReason)> = w
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    assert_eq!(
        refused,
        [
            (2, RejectReason::TooManyFields { count: 4, max: 3 }),
            (3, RejectReason::TooManyTags { count: 3, max: 2 }),
        ]
    );
    assert_eq!(
        w.rejected[0].to_string(),
        "line 2, column 1: 4 fields in one line, more than the limit of 3 (write.max_fields_per_line)"
    );
    assert_eq!(
        w.rejected[1].to_string(),
        "line 3, column 1: 3 tags in one line, more than the limit of 2 (write.max_tags_per_line)"
    );
    // A refused line creates nothing.
    assert_eq!(db.measurements(), ["ok"]);
    // The same through points.
    let key = SeriesKey::new("pts", [("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
    let fields = |n: usize| -> Vec<(String, FieldValue)> {
        (0..n)
            .map(|i| (format!("f{i}"), FieldValue::Float(i as f64)))
            .collect()
    };
    let w = db
        .write_points(&[
            Point::new(key.clone(), fields(1), 1),
            Point::new(SeriesKey::new("pts", [("a", "1")]).unwrap(), fields(4), 1),
            Point::new(SeriesKey::new("pts", [("a", "1")]).unwrap(), fields(3), 1),
            Point::new(
                SeriesKey::new("pts", [("a", "1")]).unwrap(),
                vec![(String::new(), FieldValue::Float(1.0))],
                1,
            ),
        ])
        .unwrap();
    assert_eq!(w.lines, 1);
    let reasons: Vec<_> = w
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, RejectReason::TooManyTags { count: 3, max: 2 }),
            (2, RejectReason::TooManyFields { count: 4, max: 3 }),
            (4, RejectReason::EmptyFieldKey),
        ]
    );
}

/// Bug: points at `i64::MAX`, `i64::MIN` and `i64::MIN + 1` were acknowledged and counted
/// but no query could return them (queries address `MIN + 2 ..= MAX - 1`, as InfluxDB's).
/// Fix: every write path refuses exactly the times queries cannot address, per line.
#[test]
fn timestamps_outside_the_addressable_range_are_refused_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let accepted = [
        MIN_TIMESTAMP,
        MIN_TIMESTAMP + 1,
        -1,
        0,
        MAX_TIMESTAMP - 1,
        MAX_TIMESTAMP,
    ];
    let refused = [i64::MIN, i64::MIN + 1, i64::MAX];
    let mut lp = String::new();
    for t in accepted.iter().chain(&refused) {
        lp.push_str(&format!("m v={t}i {t}\n"));
    }
    let w = db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    assert_eq!(w.lines, accepted.len());
    let lines: Vec<usize> = w.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [7, 8, 9]);
    assert!(
        w.rejected[0]
            .to_string()
            .starts_with("line 7, column 1: timestamp -9223372036854775808 is out of range: points must lie between -9223372036854775806 and 9223372036854775806"),
        "{}",
        w.rejected[0]
    );
    // The same through points.
    let key = SeriesKey::new("p", [("a", "1")]).unwrap();
    let pts: Vec<Point> = accepted
        .iter()
        .chain(&refused)
        .map(|&t| Point::new(key.clone(), vec![("v".into(), FieldValue::Integer(t))], t))
        .collect();
    let w = db.write_points(&pts).unwrap();
    assert_eq!(w.lines, accepted.len());
    assert!(
        w.rejected
            .iter()
            .all(|r| matches!(r.reason, RejectReason::TimestampOutOfRange { .. }))
    );
    // Every accepted time reads back from every tier.
    let m = SeriesKey::new("m", Vec::<(String, String)>::new()).unwrap();
    let mut want = accepted.to_vec();
    want.sort_unstable();
    let check = |db: &Db| {
        for k in [&m, &key] {
            let c = db.read_column(k, "v", TimeRange::ALL).unwrap().unwrap();
            assert_eq!(c.timestamps, want);
            assert_eq!(c.values, ColumnValues::Integer(want.clone()));
        }
    };
    check(&db);
    db.compact(false, true).unwrap();
    check(&db);
    db.compact(true, true).unwrap();
    check(&db);
    assert_eq!(db.tier_stats().hot.points, 0);
}
