//! Rollups on a driven clock: compaction into cold writes buckets equal to the raw
//! aggregates (exactly, sketches included, since both are computed from the same points);
//! late data updates its day's buckets at the next compaction, never counted twice; a
//! delete makes the day answer raw until compaction folds it in; rollups keep answering
//! after raw retention dropped the raw files, and after a restart.

use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::{FieldType, Precision, SeriesKey, TimeRange};
use strata_engine::rollup::{Aggregates, RollupBucket, RollupRule, buckets_of};
use strata_engine::{Db, ManualClock, Options};

const T0: i64 = 1_451_606_400_000_000_000; // 2016-01-01
const MIN: i64 = 60_000_000_000;
const DAY: i64 = 1440 * MIN;
const FIVE_MIN: i64 = 5 * MIN;

fn opts(clock: &ManualClock, raw_days: Option<u64>) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::ZERO,
        retention: raw_days.map(|d| Duration::from_secs(d * 86_400)),
        rollups: vec![
            RollupRule::new("m", true, Duration::from_secs(300), Aggregates::ALL, None).unwrap(),
        ],
        ..Options::default()
    }
}

fn settle(db: &Db) {
    for _ in 0..50 {
        if db.run_maintenance().unwrap().is_none() {
            return;
        }
    }
    panic!("maintenance never settled");
}

/// Three days, two hosts, an integer and a float field every 10 s with gaps.
fn load(db: &Db) {
    let mut text = String::new();
    for i in 0..(3 * 8640i64) {
        if i % 97 == 13 {
            continue; // gaps: some buckets hold fewer points
        }
        for h in 0..2 {
            let t = T0 + i * 10_000_000_000 + h as i64 * 7;
            text.push_str(&format!(
                "m,host=h{h} u={}i,f={} {t}\n",
                (i * 7919 + h as i64) % 1000 - 300,
                (i as f64 * 0.37).sin() * 50.0 + h as f64
            ));
        }
    }
    let s = db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected.first());
}

fn rolled(
    db: &Db,
    key: &SeriesKey,
    field: &str,
    range: TimeRange,
) -> Option<(TimeRange, Vec<RollupBucket>)> {
    let info = db
        .query_series(key.measurement())
        .into_iter()
        .find(|s| s.key == *key)?;
    let (_, col, ty) = info
        .columns
        .iter()
        .find(|(n, _, _)| n == field)
        .unwrap()
        .clone();
    db.rollup_read(key, col, field, ty, range, Aggregates::ALL, &|_| true)
        .unwrap()
        .map(|r| (r.covered, rows_with_sketches(&r)))
}

/// The buckets of `r`, sketches included, as structs.
fn rows_with_sketches(r: &strata_engine::RollupRead) -> Vec<RollupBucket> {
    r.parts
        .iter()
        .flat_map(|p| p.range.clone().map(|i| p.cols.bucket(i)))
        .collect()
}

fn raw_buckets(db: &Db, key: &SeriesKey, field: &str, range: TimeRange) -> Vec<RollupBucket> {
    let data = db.read_column(key, field, range).unwrap().unwrap();
    buckets_of(&data, FIVE_MIN, true)
}

#[test]
fn rollups_equal_raw_buckets_and_survive_retention_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 5 * DAY);
    let db = Db::open(dir.path(), opts(&clock, Some(10))).unwrap();
    load(&db);
    let all = TimeRange::new(T0, T0 + 3 * DAY);
    // Still warm: nothing rolled up yet, rollups answer nothing.
    assert!(rolled(&db, &host("m", 0), "u", all).is_none());
    settle(&db);
    assert!(
        std::fs::read_dir(dir.path().join("rollups"))
            .unwrap()
            .count()
            >= 3
    );
    let mut want = Vec::new();
    for h in 0..2 {
        for f in ["u", "f"] {
            let (covered, got) = rolled(&db, &host("m", h), f, all).expect("rolled up");
            assert_eq!(covered, all);
            let raw = raw_buckets(&db, &host("m", h), f, all);
            assert_eq!(got.len(), 3 * 288);
            assert_eq!(got, raw, "host {h} field {f}");
            want.push(got);
        }
    }
    // A range that is not bucket-aligned: only the whole buckets inside it.
    let odd = TimeRange::new(T0 + 7, T0 + DAY + 3 * MIN);
    let (covered, _) = rolled(&db, &host("m", 0), "u", odd).unwrap();
    assert_eq!(covered, TimeRange::new(T0 + FIVE_MIN, T0 + DAY));

    // Raw retention (10 days) drops every raw file; the rollups (forever) stay.
    clock.set(T0 + 20 * DAY);
    settle(&db);
    assert_eq!(db.tier_stats().cold.files, 0, "raw files dropped");
    assert_eq!(read(&db, &host("m", 0), "u").len(), 0);
    let (covered, got) = rolled(&db, &host("m", 0), "u", all).unwrap();
    assert_eq!((covered, &got), (all, &want[0]));

    // A snapshot of the live directory carries the rollup files: once raw data expired,
    // they are all the snapshot holds of those days.
    let snaps = tempfile::tempdir().unwrap();
    let report = db
        .snapshot(&snaps.path().join("s"), Default::default())
        .unwrap();
    assert!(report.rollup_files >= 3, "{report:?}");
    {
        let snap = Db::open(&report.dir, opts(&clock, Some(10))).unwrap();
        let (_, got) = rolled(&snap, &host("m", 0), "u", all).expect("in the snapshot");
        assert_eq!(got, want[0], "the snapshot answers as the source");
    }

    drop(db);
    let db = Db::open(dir.path(), opts(&clock, Some(10))).unwrap();
    let (_, got) = rolled(&db, &host("m", 1), "f", all).unwrap();
    assert_eq!(got, want[3], "a restart keeps them");
    // Series known only from rollup files are in the index image too.
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(&clock, Some(10))).unwrap();
    assert!(db.stats().index_from_image);
    let (_, got) = rolled(&db, &host("m", 1), "f", all).unwrap();
    assert_eq!(got, want[3], "a reopen from the index image keeps them");
}

#[test]
fn late_data_and_deletes_update_the_rollup_at_the_next_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 5 * DAY);
    let db = Db::open(dir.path(), opts(&clock, None)).unwrap();
    load(&db);
    settle(&db);
    let all = TimeRange::new(T0, T0 + 3 * DAY);
    let key = host("m", 0);
    let before = rolled(&db, &key, "u", all).unwrap().1;
    // A late point in day 1 (and an overwrite of an existing one).
    let late = T0 + DAY + 12 * MIN + 1;
    let over = T0 + DAY + 20 * MIN;
    db.write_lp(
        format!("m,host=h0 u=5000i {late}\nm,host=h0 u=-9000i {over}\n").as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    // Not compacted yet: the rollups stop where the new (hot) data begins.
    let (covered, _) = rolled(&db, &key, "u", all).unwrap();
    assert_eq!(covered.end, T0 + DAY + 10 * MIN);
    settle(&db);
    let (covered, after) = rolled(&db, &key, "u", all).unwrap();
    assert_eq!(covered, all);
    assert_eq!(after, raw_buckets(&db, &key, "u", all));
    let b = 288 + 2;
    assert_eq!(
        after[b].count,
        before[b].count + 1,
        "the late point counts once"
    );
    assert_eq!(
        after[b].stats,
        strata_engine::segment::BlockStats::Integer {
            sum: match before[b].stats {
                strata_engine::segment::BlockStats::Integer { sum, .. } => sum + 5000,
                _ => unreachable!(),
            },
            min: match before[b].stats {
                strata_engine::segment::BlockStats::Integer { min, .. } => min,
                _ => unreachable!(),
            },
            max: 5000,
        }
    );
    assert_eq!(
        after[b + 2].count,
        before[b + 2].count,
        "an overwrite replaces"
    );

    // A delete: its day answers raw until compaction rewrites it.
    db.delete(
        "m",
        &[("host", "h0")],
        TimeRange::new(T0 + 2 * DAY, T0 + 2 * DAY + 30 * MIN),
    )
    .unwrap();
    let (covered, _) = rolled(&db, &key, "u", all).unwrap();
    assert_eq!(covered.end, T0 + 2 * DAY);
    db.compact(true, false).unwrap();
    settle(&db);
    let (covered, got) = rolled(&db, &key, "u", all).unwrap();
    assert_eq!(covered, all);
    assert_eq!(got, raw_buckets(&db, &key, "u", all));
    assert_eq!(got.len(), 3 * 288 - 6);
    let _ = FieldType::Float;
}
