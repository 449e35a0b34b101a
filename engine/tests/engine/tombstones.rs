//! Deletes by predicate (regex, `!=`, `OR`, field) as tombstones: exactly the covered
//! values disappear from every tier at once, block statistics never count them, compaction
//! purges them, restarts and crashes keep everything, and series left without data leave
//! the listings.

use crate::deletes::{DAY, MIN, T0, cpu, opts, setup, timestamps};
use strata_engine::model::predicate::{MatchOp, Matcher, Predicate, Subject};
use strata_engine::model::{FieldType, Precision, SeriesKey, TimeRange};
use strata_engine::options::Failpoint;
use strata_engine::segment::BlockStats;
use strata_engine::{Db, ManualClock, Piece};

const HOSTS: [(&str, &str); 4] = [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")];

fn tag(k: &str, op: MatchOp, v: &str) -> Predicate {
    Predicate::Match(Matcher::new(Subject::Tag(k.into()), op, v).unwrap())
}

/// Every (host, field) timestamp list, as the read path returns it.
fn all(db: &Db) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for (h, dc) in HOSTS {
        for f in ["v", "f"] {
            out.push(timestamps(db, &cpu(h, dc), f));
        }
    }
    out
}

/// What `all` must return when `covered(host, field, t)` says which values are gone.
fn expected(covered: &dyn Fn(&str, &str, i64) -> bool) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    for (h, _) in HOSTS {
        for f in ["v", "f"] {
            out.push(
                (0..(3 * 144))
                    .map(|i| T0 + i * 10 * MIN)
                    .filter(|&t| !covered(h, f, t))
                    .collect(),
            );
        }
    }
    out
}

/// Count and sum of column `field` of `key` through `scan_column`, taking block
/// statistics wherever offered, and how many blocks came as statistics.
fn scan_sum(db: &Db, key: &SeriesKey, field: &str, range: TimeRange) -> (u64, i128, usize) {
    let info = db
        .query_series(key.measurement())
        .into_iter()
        .find(|s| s.key == *key)
        .expect("series exists");
    let (_, col, ty) = info
        .columns
        .iter()
        .find(|(n, _, _)| n == field)
        .cloned()
        .expect("field exists");
    assert_eq!(ty, FieldType::Integer);
    let (mut count, mut sum, mut summaries) = (0u64, 0i128, 0usize);
    db.scan_column(col, ty, range, &mut |_, _| true, &mut |p| {
        match p {
            Piece::Summary {
                count: n, stats, ..
            } => {
                summaries += 1;
                count += n;
                if let BlockStats::Integer { sum: s, .. } = stats {
                    sum += s;
                }
            }
            Piece::Points { values, .. } => {
                if let strata_engine::segment::ValuesView::Integer(v) = values {
                    count += v.len() as u64;
                    sum += v.iter().map(|&x| i128::from(x)).sum::<i128>();
                }
            }
        }
        Ok(())
    })
    .unwrap();
    (count, sum, summaries)
}

#[test]
fn regex_not_equal_and_or_remove_exactly_the_covered_values_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    let before = db.tier_stats();
    // (host =~ /[ab]/ AND dc != 'x') OR host = 'c' : only c matches ...
    // ... plus, separately, an unanchored regex on the host that matches a and d.
    let range = TimeRange::new(T0 + DAY / 3, T0 + 2 * DAY + DAY / 2);
    let p = Predicate::And(vec![
        Predicate::measurement("cpu"),
        Predicate::Or(vec![
            Predicate::And(vec![
                tag("host", MatchOp::Regex, "[ab]"),
                tag("dc", MatchOp::NotEqual, "x"),
            ]),
            tag("host", MatchOp::Equal, "c"),
        ]),
    ]);
    let r = db.delete_where(p, range).unwrap();
    assert_eq!(r.series, 1, "{r:?}");
    assert!(r.hot_points > 0 && r.segments_covered >= 2, "{r:?}");
    let only_f = Predicate::And(vec![
        Predicate::measurement("cpu"),
        tag("host", MatchOp::NotRegex, "b|c"),
        Predicate::Match(Matcher::new(Subject::Field, MatchOp::Equal, "f").unwrap()),
    ]);
    let r2 = db
        .delete_where(only_f, TimeRange::new(T0, T0 + DAY + DAY / 2))
        .unwrap();
    assert_eq!(r2.series, 2, "{r2:?}");
    let covered = |h: &str, f: &str, t: i64| {
        (h == "c" && range.contains(t))
            || ((h == "a" || h == "d") && f == "f" && (T0..T0 + DAY + DAY / 2).contains(&t))
    };
    let want = expected(&covered);
    // Nothing was rewritten: the values are filtered at read time.
    assert!(db.pending_tombstones() >= 1);
    assert_eq!(db.tier_stats().cold.points, before.cold.points);
    assert_eq!(all(&db), want);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(all(&db), want, "after a restart");
    db.compact(true, true).unwrap();
    assert_eq!(all(&db), want, "after compaction");
    assert_eq!(
        db.pending_tombstones(),
        0,
        "compaction purged every tombstone"
    );
    let t = db.tier_stats();
    let gone: usize = want.iter().map(|v| 3 * 144 - v.len()).sum();
    let total_before = before.cold.points + before.warm.points + before.hot.points;
    assert_eq!(
        t.cold.points + t.warm.points + t.hot.points,
        total_before - gone as u64,
        "the purged values left the files: {t:?}"
    );
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(all(&db), want, "after compaction and a restart");
    assert_eq!(db.pending_tombstones(), 0);
}

#[test]
fn block_statistics_never_count_deleted_values() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    let key = cpu("b", "x");
    let whole = TimeRange::new(T0, T0 + 2 * DAY);
    let (n0, s0, summaries0) = scan_sum(&db, &key, "v", whole);
    assert_eq!(n0, 288);
    assert!(
        summaries0 > 0,
        "the test needs blocks answered from statistics"
    );
    // Delete a few values in the middle of (what are) whole blocks.
    let gone = TimeRange::new(T0 + 5 * 60 * MIN, T0 + 5 * 60 * MIN + 30 * MIN);
    db.delete_where(
        Predicate::And(vec![
            Predicate::measurement("cpu"),
            tag("host", MatchOp::Regex, "^b$"),
        ]),
        gone,
    )
    .unwrap();
    assert_eq!(db.pending_tombstones(), 1);
    let removed: Vec<i64> = (0..288)
        .filter(|i| gone.contains(T0 + i * 10 * MIN))
        .collect();
    assert_eq!(removed.len(), 3);
    let (n1, s1, _) = scan_sum(&db, &key, "v", whole);
    assert_eq!(n1, n0 - 3);
    assert_eq!(
        s1,
        s0 - removed.iter().map(|&i| i128::from(i)).sum::<i128>()
    );
    // Other series keep their statistics shortcuts.
    let (_, _, other) = scan_sum(&db, &cpu("a", "x"), "v", whole);
    assert_eq!(other, summaries0);
    // Bounds used by GROUP BY time() without a lower bound skip deleted values too.
    db.delete_where(
        Predicate::And(vec![
            Predicate::measurement("cpu"),
            tag("host", MatchOp::Equal, "d"),
        ]),
        TimeRange::new(i64::MIN, T0 + DAY + 5 * MIN),
    )
    .unwrap();
    let info = db
        .query_series("cpu")
        .into_iter()
        .find(|s| s.key == cpu("d", "y"))
        .unwrap();
    let col = info.columns[0].1;
    let (lo, _) = db.column_bounds(col, TimeRange::ALL).unwrap().unwrap();
    assert_eq!(lo, T0 + DAY + 10 * MIN);
}

#[test]
fn series_without_data_leave_the_listings_and_come_back_when_written() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    let hosts = |db: &Db| db.tag_values("cpu", "host");
    // A time-bounded delete leaves data: the series stays.
    let keep = db
        .delete_where(
            Predicate::And(vec![
                Predicate::measurement("cpu"),
                tag("host", MatchOp::Equal, "a"),
            ]),
            TimeRange::new(T0, T0 + DAY),
        )
        .unwrap();
    assert_eq!(keep.series_removed, 0);
    // All of host b and of dc y's host c (two deletes covering everything).
    let r = db
        .delete_where(
            Predicate::And(vec![
                Predicate::measurement("cpu"),
                Predicate::Or(vec![
                    tag("host", MatchOp::Equal, "b"),
                    tag("host", MatchOp::Equal, "c"),
                ]),
            ]),
            TimeRange::ALL,
        )
        .unwrap();
    assert_eq!(r.series_removed, 2, "{r:?}");
    let check = |db: &Db| {
        assert_eq!(hosts(db), ["a", "d"]);
        let mut series: Vec<String> = db.series("cpu").iter().map(|k| k.to_string()).collect();
        series.sort();
        assert_eq!(series, ["cpu,dc=x,host=a", "cpu,dc=y,host=d"]);
        assert_eq!(db.tag_values("cpu", "dc"), ["x", "y"]);
    };
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    check(&db);
    db.clean_tombstones().unwrap();
    assert_eq!(db.pending_tombstones(), 0);
    check(&db);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    check(&db);
    // DROP SERIES with a regex on a tag that leaves dc=y without series.
    db.drop_series(Predicate::And(vec![
        Predicate::measurement("cpu"),
        tag("dc", MatchOp::Regex, "y"),
    ]))
    .unwrap();
    assert_eq!(db.tag_values("cpu", "dc"), ["x"]);
    assert_eq!(hosts(&db), ["a"]);
    // Written again: back, with only the new value.
    db.write_lp(
        format!("cpu,host=b,dc=x v=7i {}\n", T0 + 3 * DAY).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    assert_eq!(hosts(&db), ["a", "b"]);
    assert_eq!(timestamps(&db, &cpu("b", "x"), "v"), [T0 + 3 * DAY]);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(hosts(&db), ["a", "b"]);
    assert_eq!(db.tag_values("cpu", "dc"), ["x"]);
}

#[test]
fn a_crash_between_the_wal_record_and_the_manifest_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let mut o = opts(&clock);
    o.failpoint = Some(Failpoint::DeleteBeforeSegments);
    let db = setup(dir.path(), &clock, o);
    let range = TimeRange::new(T0, T0 + DAY + DAY / 2);
    let p = Predicate::And(vec![
        Predicate::measurement("cpu"),
        tag("host", MatchOp::NotRegex, "[abd]"),
    ]);
    let err = db.delete_where(p, range).unwrap_err();
    assert!(err.to_string().contains("failpoint"), "{err}");
    drop(db); // crash: the WAL holds the delete, the manifest does not
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(db.pending_tombstones(), 1, "replay recorded the tombstone");
    let want = expected(&|h, _, t| h == "c" && range.contains(t));
    assert_eq!(all(&db), want);
    // A write into the range after the delete, rotated into a segment, stays through
    // restarts and purges: the tombstone does not apply to later segments.
    db.write_lp(
        format!("cpu,host=c,dc=y v=5i,f=1 {}\n", T0 + DAY).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    db.rotate().unwrap();
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let with_new = |db: &Db| {
        let ts = timestamps(db, &cpu("c", "y"), "v");
        assert_eq!(ts.len(), 3 * 144 - 216 + 1);
        assert!(ts.contains(&(T0 + DAY)));
    };
    with_new(&db);
    db.clean_tombstones().unwrap();
    assert_eq!(db.pending_tombstones(), 0);
    with_new(&db);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    with_new(&db);
    assert_eq!(all(&db)[0], expected(&|_, _, _| false)[0]);
}

#[test]
fn offline_compaction_purges_even_when_its_plan_has_nothing_to_merge() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    db.compact(true, true).unwrap();
    let files = db.tier_stats().cold.files;
    db.delete_where(
        Predicate::And(vec![
            Predicate::measurement("cpu"),
            tag("host", MatchOp::Regex, "^[cd]$"),
        ]),
        TimeRange::new(T0, T0 + DAY),
    )
    .unwrap();
    assert_eq!(db.pending_tombstones(), 1);
    // Warm-only compaction: nothing warm to merge, the tombstone is purged all the same.
    db.compact(false, false).unwrap();
    assert_eq!(db.pending_tombstones(), 0);
    assert_eq!(db.tier_stats().cold.files, files);
    let want = expected(&|h, _, t| (h == "c" || h == "d") && t < T0 + DAY);
    assert_eq!(all(&db), want);
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(all(&db), want);
}

#[test]
fn background_compaction_purges_one_covered_segment_per_round() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3 * DAY);
    let db = setup(dir.path(), &clock, opts(&clock));
    // Nothing is due by age now: every round that purges is a purge.
    while db.run_maintenance().unwrap().is_some() {}
    db.delete_where(
        Predicate::And(vec![
            Predicate::measurement("cpu"),
            tag("dc", MatchOp::Equal, "y"),
        ]),
        TimeRange::new(T0, T0 + 2 * DAY),
    )
    .unwrap();
    assert_eq!(db.pending_tombstones(), 1);
    let want = expected(&|h, _, t| (h == "c" || h == "d") && t < T0 + 2 * DAY);
    let mut rounds = 0;
    while db.pending_tombstones() > 0 {
        let r = db.run_maintenance().unwrap();
        assert!(r.is_some_and(|r| r.files_in == 1), "{r:?}");
        assert_eq!(all(&db), want);
        rounds += 1;
        assert!(rounds < 10, "the purge does not end");
    }
    assert!(rounds >= 2, "cold and warm segments were both covered");
    assert!(db.run_maintenance().unwrap().is_none());
}

#[test]
fn a_checkpoint_never_drops_a_delete_that_older_kept_wal_files_still_need() {
    let dir = tempfile::tempdir().unwrap();
    let now = T0 + 3 * DAY;
    let clock = ManualClock::new(now);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let key = SeriesKey::new("m", [("k", "v")]).unwrap();
    let w = |t: i64, v: i64| {
        db.write_lp(
            format!("m,k=v x={v}i {t}\n").as_bytes(),
            Precision::Nanosecond,
        )
        .unwrap();
    };
    // WAL file 1: a recent value (stays hot, so file 1 stays) and an old one.
    w(now - MIN, 1);
    w(T0, 2);
    db.rotate().unwrap(); // WAL file 2 from here
    // The delete of the recent value, in file 2, with old data beside it.
    db.delete_where(
        Predicate::And(vec![
            Predicate::measurement("m"),
            tag("k", MatchOp::Equal, "v"),
        ]),
        TimeRange::new(now - 2 * MIN, now),
    )
    .unwrap();
    w(T0 + 1, 3);
    db.rotate().unwrap(); // file 2 holds only old data and the delete
    assert_eq!(timestamps(&db, &key, "x"), [T0, T0 + 1]);
    drop(db); // crash
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(
        timestamps(&db, &key, "x"),
        [T0, T0 + 1],
        "the deleted value came back from WAL file 1"
    );
}
