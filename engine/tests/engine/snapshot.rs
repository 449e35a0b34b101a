//! Snapshots: a copy taken during a write load (with rotations, WAL rolls and
//! compactions going on) holds exactly the writes up to one instant, opens, and answers
//! as the source did; one taken of a closed directory answers identically.

use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use strata_engine::model::{Precision, SeriesKey, TimeRange};
use strata_engine::snapshot::{self, SnapshotOptions};
use strata_engine::{Db, FsyncPolicy, ManualClock, Options};

const T0: i64 = 1_451_606_400_000_000_000; // 2016-01-01T00:00:00Z
const SEC: i64 = 1_000_000_000;

fn opts(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::ZERO,
        fsync: FsyncPolicy::Never,
        wal_segment_bytes: 16 << 10, // WAL rolls during the load
        hot_max_age: Duration::from_secs(60),
        warm_max_age: Duration::from_secs(600),
        ..Options::default()
    }
}

fn counter_values(db: &Db) -> Vec<i64> {
    let key = SeriesKey::new("load", [("w", "0")]).unwrap();
    db.read_column(&key, "n", TimeRange::ALL)
        .unwrap()
        .map(|c| ints(&c).to_vec())
        .unwrap_or_default()
}

#[test]
fn a_snapshot_during_writes_rotations_and_compactions_is_one_instant_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Arc::new(Db::open(dir.path(), opts(&clock)).unwrap());
    // Writer: point n at T0 + n s with value n; `acked` is the last acknowledged n.
    let acked = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = String::new();
                for k in n..n + 50 {
                    batch.push_str(&format!("load,w=0 n={k}i {}\n", T0 + k * SEC));
                }
                db.write_lp(batch.as_bytes(), Precision::Nanosecond)
                    .unwrap();
                n += 50;
                acked.store(n - 1, Ordering::SeqCst);
            }
        })
    };
    // Background work: the clock moves, data rotates to warm and compacts to cold.
    let maint = {
        let (db, stop, clock) = (db.clone(), stop.clone(), clock.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                clock.advance(Duration::from_secs(120));
                db.run_maintenance().unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 3_000 {
        assert!(
            !writer.is_finished() && !maint.is_finished(),
            "a load thread died"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let snaps = tempfile::tempdir().unwrap();
    let mut bounds = Vec::new();
    for i in 0..4 {
        let out = snaps.path().join(format!("s{i}"));
        let before = acked.load(Ordering::SeqCst);
        let report = db.snapshot(&out, SnapshotOptions::default()).unwrap();
        let after = acked.load(Ordering::SeqCst);
        assert!(report.segments > 0 || report.wal_files > 0, "{report:?}");
        bounds.push((out, before, after));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    maint.join().unwrap();
    let mut segments_seen = false;
    for (out, before, after) in bounds {
        let snap = Db::open(&out, opts(&clock)).unwrap();
        segments_seen |= snap.tier_stats().warm.points + snap.tier_stats().cold.points > 0;
        let got = counter_values(&snap);
        // A prefix of the log: 0, 1, …, k with every acknowledged write before the
        // snapshot started, and nothing after it returned.
        let k = got.len() as i64 - 1;
        assert!(
            k >= before,
            "{}: lost acknowledged writes: {k} < {before}",
            out.display()
        );
        assert!(
            k <= after + 50,
            "{}: {k} from the future ({after})",
            out.display()
        );
        assert!(
            got.iter().enumerate().all(|(i, v)| *v == i as i64),
            "{}: not one instant: a gap or a duplicate in {} values",
            out.display(),
            got.len()
        );
        snap.close().unwrap();
    }
    assert!(
        segments_seen,
        "the load rotated into segments before the snapshots"
    );
}

#[test]
fn a_snapshot_of_a_closed_directory_answers_the_same_and_is_refused_into_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 3600 * SEC);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    db.write_lp(
        lp_batch(0, 3000, 10, 3, T0).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    db.compact(true, false).unwrap(); // some data cold, the rest in the WAL
    db.write_lp(
        lp_batch(3000, 200, 10, 3, T0 + 3500 * SEC).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    let expected: Vec<_> = (0..10).map(|h| read(&db, &host("m", h), "f1")).collect();
    db.close().unwrap();

    let out = tempfile::tempdir().unwrap();
    let full = snapshot::take(dir.path(), out.path(), SnapshotOptions::default()).unwrap();
    assert!(full.segments >= 1 && full.wal_files >= 1, "{full:?}");
    assert_eq!(full.attempts, 1);
    let only_segments = out.path().join("segments-only");
    let head_less = snapshot::take(
        dir.path(),
        &only_segments,
        SnapshotOptions { skip_wal: true },
    )
    .unwrap();
    assert_eq!(head_less.wal_files, 0);

    let err = snapshot::take(dir.path(), out.path(), SnapshotOptions::default()).unwrap_err();
    assert!(err.to_string().contains("is not empty"), "{err}");

    let snap = Db::open(out.path(), opts(&clock)).unwrap();
    for (h, want) in expected.iter().enumerate() {
        assert_eq!(&read(&snap, &host("m", h), "f1"), want, "host {h}");
    }
    snap.close().unwrap();
    // The source still opens and is unchanged by the snapshot's replay.
    let again = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(&read(&again, &host("m", 3), "f1"), &expected[3]);
    again.close().unwrap();
    let segs_only = Db::open(&only_segments, opts(&clock)).unwrap();
    let got = read(&segs_only, &host("m", 3), "f1");
    assert!(got.timestamps.len() < expected[3].timestamps.len());
    assert!(got.timestamps.iter().all(|t| *t < T0 + 3500 * SEC));
}
