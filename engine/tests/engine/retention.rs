//! Retention: with `retention = 30d`, exactly the values older than now - 30 days are
//! gone (hidden at once, then their files dropped or trimmed), writes of such values are
//! refused per line, and time is driven, never slept.

use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::{Precision, TimeRange};
use strata_engine::{Db, ManualClock, Options, RejectReason};

const T0: i64 = 1_451_606_400_000_000_000; // 2016-01-01
const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;

fn opts(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::ZERO,
        retention: Some(Duration::from_secs(30 * 86_400)),
        ..Options::default()
    }
}

fn kept(db: &Db, h: usize) -> Vec<i64> {
    read(db, &host("m", h), "v").timestamps
}

fn maintain_fully(db: &Db) {
    for _ in 0..50 {
        if db.run_maintenance().unwrap().is_none() {
            return;
        }
    }
    panic!("maintenance never settled");
}

#[test]
fn retention_drops_exactly_the_expired_points() {
    let dir = tempfile::tempdir().unwrap();
    // "Now" is two days after the data, so maintenance moves it all to cold.
    let clock = ManualClock::new(T0 + 12 * DAY);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    // Ten days, one point an hour, two series.
    let mut text = String::new();
    for i in 0..240i64 {
        for h in 0..2 {
            text.push_str(&format!("m,host=h{h} v={i}i {}\n", T0 + i * HOUR));
        }
    }
    let s = db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
    assert_eq!(s.lines, 480);
    maintain_fully(&db);
    assert_eq!(db.tier_stats().cold.files, 10, "one cold file per day");

    // 35 days later than T0: everything before T0 + 5 days has expired.
    clock.set(T0 + 35 * DAY);
    let want: Vec<i64> = (120..240).map(|i| T0 + i * HOUR).collect();
    assert_eq!(
        kept(&db, 0),
        want,
        "hidden at once, before any file changes"
    );
    maintain_fully(&db);
    let t = db.tier_stats();
    assert_eq!(
        (t.cold.files, t.cold.points),
        (5, 240),
        "days 0..5 dropped whole: {t:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .count(),
        5
    );
    assert_eq!(kept(&db, 1), want);

    // Half a day more: the day-5 file straddles the cutoff and is trimmed.
    clock.advance(Duration::from_secs(12 * 3600));
    maintain_fully(&db);
    let want: Vec<i64> = (132..240).map(|i| T0 + i * HOUR).collect();
    assert_eq!(kept(&db, 0), want);
    let t = db.tier_stats();
    assert_eq!((t.cold.files, t.cold.points), (5, 2 * 108), "{t:?}");

    // Writes beyond the retention are refused per line; the others land.
    let s = db
        .write_lp(
            format!("m,host=h0 v=1i {}\nm,host=h0 v=2i {}\n", T0, T0 + 34 * DAY).as_bytes(),
            Precision::Nanosecond,
        )
        .unwrap();
    assert_eq!(s.lines, 1);
    assert!(matches!(
        s.rejected[0].reason,
        RejectReason::BeyondRetention { .. }
    ));
    assert!(
        s.rejected[0]
            .to_string()
            .contains("beyond the retention period"),
        "{}",
        s.rejected[0]
    );

    // Exactly the same after a restart.
    drop(db);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let mut want = want;
    want.push(T0 + 34 * DAY);
    assert_eq!(kept(&db, 0), want);
    assert_eq!(
        db.read_column(&host("m", 1), "v", TimeRange::new(T0, T0 + 5 * DAY))
            .unwrap()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn without_retention_nothing_is_ever_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 10 * DAY);
    let mut o = opts(&clock);
    o.retention = None;
    let db = Db::open(dir.path(), o).unwrap();
    db.write_lp(
        format!("m,host=h0 v=1i {T0}\n").as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    clock.advance(Duration::from_secs(10 * 365 * 86_400));
    maintain_fully(&db);
    assert_eq!(kept(&db, 0), [T0]);
}
