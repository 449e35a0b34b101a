//! Deletes (`DELETE FROM … WHERE tags AND time`) and `DROP MEASUREMENT`: exactly the
//! covered values go, in every tier, across restarts and compactions; writes after a delete
//! stay; a crash between the WAL record and the segment rewrite is finished at the next open.

use crate::common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::{ColumnData, Precision, SeriesKey, TimeRange};
use strata_engine::options::Failpoint;
use strata_engine::{Db, ManualClock, Options};

pub(crate) const T0: i64 = 1_451_606_400_000_000_000;
pub(crate) const MIN: i64 = 60_000_000_000;
pub(crate) const DAY: i64 = 1_440 * MIN;

pub(crate) fn opts(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::ZERO,
        ..Options::default()
    }
}

pub(crate) fn cpu(h: &str, dc: &str) -> SeriesKey {
    SeriesKey::new("cpu", [("host", h), ("dc", dc)]).unwrap()
}

/// Three days of one-per-10-minutes points for 4 series in cold, warm and hot.
pub(crate) fn setup(dir: &std::path::Path, clock: &ManualClock, o: Options) -> Db {
    let db = Db::open(dir, o).unwrap();
    let mut text = String::new();
    for i in 0..(3 * 144) {
        for (h, dc) in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")] {
            text.push_str(&format!(
                "cpu,host={h},dc={dc} v={i}i,f={i}.5 {}\n",
                T0 + i * 10 * MIN
            ));
        }
        text.push_str(&format!("mem,host=a free={i}i {}\n", T0 + i * 10 * MIN));
    }
    db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
    // Day 0 cold, day 1 warm, day 2 hot.
    clock.set(T0 + DAY);
    db.rotate().unwrap();
    clock.set(T0 + 2 * DAY);
    db.run_maintenance().unwrap();
    let t = db.tier_stats();
    assert!(
        t.cold.files >= 1 && t.warm.files >= 1 && t.hot.points > 0,
        "{t:?}"
    );
    db
}

pub(crate) fn timestamps(db: &Db, k: &SeriesKey, f: &str) -> Vec<i64> {
    db.read_column(k, f, TimeRange::ALL)
        .unwrap()
        .map(|c| c.timestamps)
        .unwrap_or_default()
}

#[test]
fn delete_removes_exactly_the_covered_values_in_every_tier() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    // dc=x, from the middle of day 0 to the middle of day 2: cold, warm and hot data.
    let range = TimeRange::new(T0 + DAY / 2, T0 + 2 * DAY + DAY / 2);
    let r = db.delete("cpu", &[("dc", "x")], range).unwrap();
    assert_eq!(r.series, 2);
    assert!(r.hot_points > 0 && r.segments_covered >= 2, "{r:?}");
    // A write after the delete, inside its range, stays.
    db.write_lp(
        format!("cpu,host=a,dc=x v=-1i,f=0.5 {}\n", T0 + DAY).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    let check = |db: &Db| {
        for (h, dc) in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")] {
            for f in ["v", "f"] {
                let ts = timestamps(db, &cpu(h, dc), f);
                let want: Vec<i64> = (0..(3 * 144))
                    .map(|i| T0 + i * 10 * MIN)
                    .filter(|&t| dc == "y" || !range.contains(t) || (h == "a" && t == T0 + DAY))
                    .collect();
                assert_eq!(ts, want, "{h} {dc} {f}");
            }
        }
        assert_eq!(
            timestamps(db, &SeriesKey::new("mem", [("host", "a")]).unwrap(), "free").len(),
            3 * 144
        );
        let a = db
            .read_column(&cpu("a", "x"), "v", TimeRange::new(T0 + DAY, T0 + DAY + 1))
            .unwrap()
            .unwrap();
        assert_eq!(ints(&a), [-1]);
    };
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    check(&db);
    db.compact(true, true).unwrap();
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    check(&db);
}

#[test]
fn drop_measurement_removes_it_until_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    db.drop_measurement("cpu").unwrap();
    let gone = |db: &Db| {
        assert_eq!(db.measurements(), ["mem"]);
        assert!(db.series("cpu").is_empty());
        assert!(db.tag_keys("cpu").is_empty());
        assert!(db.fields("cpu").is_empty());
        assert!(timestamps(db, &cpu("c", "y"), "v").is_empty());
    };
    gone(&db);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    gone(&db);
    // The segments still hold cpu's values until a compaction purges the tombstone.
    assert_eq!(db.pending_tombstones(), 1);
    assert!(db.clean_tombstones().unwrap() >= 2);
    assert_eq!(db.pending_tombstones(), 0);
    gone(&db);
    let t = db.tier_stats();
    assert_eq!(
        t.hot.points + t.warm.points + t.cold.points,
        3 * 144,
        "only mem is left: {t:?}"
    );
    // Written again: it comes back with only the new data.
    db.write_lp(
        format!("cpu,host=z,dc=q v=1i {}\n", T0 + 3 * DAY).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    assert_eq!(db.measurements(), ["cpu", "mem"]);
    let series: Vec<String> = db.series("cpu").iter().map(|k| k.to_string()).collect();
    assert_eq!(series, ["cpu,dc=q,host=z"]);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let series: Vec<String> = db.series("cpu").iter().map(|k| k.to_string()).collect();
    assert_eq!(series, ["cpu,dc=q,host=z"]);
}

#[test]
fn a_crash_before_the_segment_rewrite_is_finished_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let mut o = opts(&clock);
    o.failpoint = Some(Failpoint::DeleteBeforeSegments);
    let db = setup(dir.path(), &clock, o);
    let range = TimeRange::new(T0, T0 + DAY + DAY / 2);
    let err = db.delete("cpu", &[("host", "c")], range).unwrap_err();
    assert!(err.to_string().contains("failpoint"), "{err}");
    drop(db); // crash: the WAL holds the delete, the segments still hold the values
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let ts = timestamps(&db, &cpu("c", "y"), "v");
    assert!(
        ts.iter().all(|&t| !range.contains(t)),
        "deleted values came back"
    );
    assert_eq!(ts.len(), 3 * 144 - 216);
    assert_eq!(timestamps(&db, &cpu("d", "y"), "v").len(), 3 * 144);
    // Later writes into the range, rotated into segments, survive later restarts: the
    // delete is not applied twice.
    db.write_lp(
        format!("cpu,host=c,dc=y v=5i {}\n", T0 + DAY).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    db.compact(true, true).unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(
        timestamps(&db, &cpu("c", "y"), "v").len(),
        3 * 144 - 216 + 1
    );
}

#[test]
fn compaction_equivalence_with_deletes_on_random_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut model: BTreeMap<(u64, i64), i64> = BTreeMap::new();
    for round in 0..8 {
        let mut text = String::new();
        for _ in 0..500 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = x % 4;
            let t = T0 + (x % 2_000) as i64 * MIN;
            let v = (x % 10_000) as i64;
            text.push_str(&format!("m,s=s{s} v={v}i {t}\n"));
            model.insert((s, t), v);
        }
        db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
        if round % 3 == 2 {
            let lo = T0 + round * 100 * MIN;
            let range = TimeRange::new(lo, lo + 300 * MIN);
            let s = round as u64 % 4;
            db.delete("m", &[("s", &format!("s{s}"))], range).unwrap();
            model.retain(|(ms, t), _| !(*ms == s && range.contains(*t)));
        }
        clock.set(T0 + 10 * DAY + round);
        db.rotate().unwrap();
    }
    let snapshot = |db: &Db| -> BTreeMap<(u64, i64), i64> {
        let mut out = BTreeMap::new();
        for s in 0..4u64 {
            let key = SeriesKey::new("m", [("s", format!("s{s}"))]).unwrap();
            let c: ColumnData = db.read_column(&key, "v", TimeRange::ALL).unwrap().unwrap();
            for (t, v) in c.timestamps.iter().zip(ints(&c)) {
                out.insert((s, *t), *v);
            }
        }
        out
    };
    assert_eq!(snapshot(&db), model);
    db.compact(true, true).unwrap();
    assert_eq!(snapshot(&db), model);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(snapshot(&db), model);
}
