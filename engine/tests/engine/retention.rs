//! Retention: with `retention = 30d`, exactly the values older than now - 30 days are
//! gone (hidden at once, then their files dropped or trimmed), writes of such values are
//! refused per line, and time is driven, never slept. Retention rules do the same per
//! measurement: the first rule matching a measurement sets its period, files holding only
//! expired series are dropped, files holding some are trimmed, and a late write is refused
//! naming the rule.

use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::{Precision, TimeRange};
use strata_engine::{Db, ManualClock, Options, RejectReason, RetentionRule};

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

/// Global 30 d; `cpu_keep` kept forever by an exact rule placed before the `cpu_.*` rule
/// of 7 d, which it would match too (the first matching rule wins).
fn rule_opts(clock: &ManualClock) -> Options {
    Options {
        retention_rules: vec![
            RetentionRule::exact("cpu_keep", None),
            RetentionRule::regex("cpu_.*", Some(Duration::from_secs(7 * 86_400))).unwrap(),
        ],
        ..opts(clock)
    }
}

fn hours(range: std::ops::Range<i64>) -> Vec<i64> {
    range.map(|i| T0 + i * HOUR).collect()
}

#[test]
fn a_rule_hides_trims_and_drops_only_its_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 6 * DAY);
    let db = Db::open(dir.path(), rule_opts(&clock)).unwrap();
    // Five days, one point an hour: cpu_user from day 0, cpu_keep and mem from day 2, so
    // the files of days 0 and 1 hold cpu_user alone.
    let mut text = String::new();
    for i in 0..120i64 {
        text.push_str(&format!("cpu_user,host=h0 v={i}i {}\n", T0 + i * HOUR));
        if i >= 48 {
            for m in ["cpu_keep", "mem"] {
                text.push_str(&format!("{m},host=h0 v={i}i {}\n", T0 + i * HOUR));
            }
        }
    }
    let s = db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
    assert_eq!((s.lines, s.rejected.len()), (120 + 2 * 72, 0));
    maintain_fully(&db);
    let t = db.tier_stats();
    assert_eq!((t.cold.files, t.cold.points), (5, 264), "{t:?}");

    // Day 10: cpu_.* keeps from day 3 on; mem (30 d) and cpu_keep (forever) keep all.
    clock.set(T0 + 10 * DAY);
    let read_all = |db: &Db, m: &str| read(db, &host(m, 0), "v").timestamps;
    assert_eq!(
        read_all(&db, "cpu_user"),
        hours(72..120),
        "hidden at once, before any file changes"
    );
    assert_eq!(db.tier_stats().cold.files, 5);
    assert_eq!(read_all(&db, "mem"), hours(48..120));
    assert_eq!(read_all(&db, "cpu_keep"), hours(48..120));

    maintain_fully(&db);
    let t = db.tier_stats();
    assert_eq!(
        (t.cold.files, t.cold.points),
        (3, 48 + 2 * 72),
        "days 0 and 1 (cpu_user alone) dropped whole, day 2 trimmed: {t:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .count(),
        3
    );
    assert!(
        db.run_maintenance().unwrap().is_none(),
        "settled: nothing more to trim"
    );
    assert_eq!(read_all(&db, "cpu_user"), hours(72..120));
    assert_eq!(read_all(&db, "mem"), hours(48..120));
    assert_eq!(read_all(&db, "cpu_keep"), hours(48..120));

    // Late writes: refused per line by the rule of their measurement, naming it.
    let late = format!(
        "cpu_user,host=h0 v=1i {}\nmem,host=h0 v=1i {}\ncpu_keep,host=h0 v=1i {T0}\nmem,host=h0 v=1i {}\n",
        T0 + DAY,
        T0 + DAY,
        T0 - 25 * DAY,
    );
    let s = db.write_lp(late.as_bytes(), Precision::Nanosecond).unwrap();
    assert_eq!(s.lines, 2, "mem at day 1 and cpu_keep at day 0 land");
    assert_eq!(
        s.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        [1, 4]
    );
    match &s.rejected[0].reason {
        RejectReason::BeyondRetention { cutoff, rule, .. } => {
            assert_eq!(*cutoff, T0 + 3 * DAY);
            assert_eq!(
                rule.as_deref(),
                Some("retention rule 2 (match = \"cpu_.*\", raw = 7d)")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        s.rejected[0]
            .to_string()
            .contains("beyond the retention period of retention rule 2"),
        "{}",
        s.rejected[0]
    );
    assert!(
        matches!(
            &s.rejected[1].reason,
            RejectReason::BeyondRetention { rule: None, cutoff, .. } if *cutoff == T0 - 20 * DAY
        ),
        "{:?}",
        s.rejected[1]
    );
    // Prometheus samples: the metric name is the measurement.
    let page = format!("cpu_seconds 1 {}\n", (T0 + 2 * DAY) / 1_000_000);
    let s = db.write_prom_text(page.as_bytes(), T0 + 10 * DAY).unwrap();
    assert_eq!(s.write.lines, 0);
    assert!(
        s.write.rejected[0]
            .to_string()
            .contains("match = \"cpu_.*\""),
        "{}",
        s.write.rejected[0]
    );

    // The same after a restart, and the rule keeps cutting as time goes on.
    drop(db);
    let db = Db::open(dir.path(), rule_opts(&clock)).unwrap();
    assert_eq!(read_all(&db, "cpu_user"), hours(72..120));
    let mut mem = hours(48..120);
    mem.insert(0, T0 + DAY);
    assert_eq!(read_all(&db, "mem"), mem);
    let mut keep = hours(48..120);
    keep.insert(0, T0);
    assert_eq!(read_all(&db, "cpu_keep"), keep);
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(read_all(&db, "cpu_user"), hours(96..120));
    maintain_fully(&db);
    assert_eq!(read_all(&db, "cpu_user"), hours(96..120));
    assert_eq!(read_all(&db, "mem"), mem);
    assert_eq!(read_all(&db, "cpu_keep"), keep);
}

#[test]
fn without_a_matching_rule_the_global_retention_applies() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + DAY);
    let mut o = rule_opts(&clock);
    o.retention = None;
    let db = Db::open(dir.path(), o).unwrap();
    let text = format!("disk,host=h0 v=1i {T0}\ncpu_sys,host=h0 v=1i {T0}\n");
    assert_eq!(
        db.write_lp(text.as_bytes(), Precision::Nanosecond)
            .unwrap()
            .lines,
        2
    );
    clock.advance(Duration::from_secs(10 * 365 * 86_400));
    maintain_fully(&db);
    // disk matches no rule: kept forever like the global retention says; cpu_sys expired.
    assert_eq!(read(&db, &host("disk", 0), "v").timestamps, [T0]);
    assert!(read(&db, &host("cpu_sys", 0), "v").timestamps.is_empty());
    let t = db.tier_stats();
    assert_eq!(t.warm.points + t.cold.points, 1, "{t:?}");
}
