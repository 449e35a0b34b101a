//! A running compaction holds the manifest lock only to claim its inputs and to publish its
//! outputs: rotations, writes, deletes and snapshots made while it merges go through at
//! once, and the result is what a compaction run before or after them would give — a delete
//! covering an input forces the compaction to be built again, never to resurrect values.
//! The background compaction has its own thread, so rotation goes on while it runs.

use crate::common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use strata_engine::model::{ColumnData, Precision, Predicate, TimeRange};
use strata_engine::options::CompactionHook;
use strata_engine::snapshot::SnapshotOptions;
use strata_engine::{Db, ManualClock, Options};

const T0: i64 = 1_451_606_400_000_000_000; // 2016-01-01
const DAY: i64 = 86_400_000_000_000;
const MIN: i64 = 60_000_000_000;
/// Long enough for any step on a loaded machine; a step that waits for the paused
/// compaction never finishes within it.
const PATIENCE: Duration = Duration::from_secs(60);

/// A hook that, on its first call, says so and waits to be released; later calls return
/// at once. Returns (hook, reached, release).
fn pause_once() -> (CompactionHook, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (reached_tx, reached) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let gate = parking_lot::Mutex::new(Some((reached_tx, release_rx)));
    let hook = CompactionHook(Arc::new(move |_closing: &dyn Fn() -> bool| {
        if let Some((reached, release)) = gate.lock().take() {
            let _ = reached.send(());
            let _ = release.recv_timeout(PATIENCE);
        }
    }));
    (hook, reached, release)
}

fn opts(clock: &ManualClock, hook: Option<CompactionHook>) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::ZERO,
        compaction_hook: hook,
        ..Options::default()
    }
}

fn contents(db: &Db) -> BTreeMap<(String, String), ColumnData> {
    let mut all = BTreeMap::new();
    for m in db.measurements() {
        for key in db.series(&m) {
            for (f, _) in db.series_fields(&key) {
                if let Some(c) = db.read_column(&key, &f, TimeRange::ALL).unwrap() {
                    all.insert((key.to_string(), f), c);
                }
            }
        }
    }
    all
}

/// Two days of `cpu` and `mem` for 4 hosts every minute, written and rotated to warm in
/// two segments, with the clock 3 days on so that everything is old.
fn history(db: &Db, clock: &ManualClock) {
    for half in 0..2 {
        let mut text = String::new();
        for i in 0..(24 * 60) {
            let t = T0 + half * DAY + i * MIN;
            for h in 0..4 {
                text.push_str(&format!(
                    "cpu,host=h{h} u={i}i {t}\nmem,host=h{h} f={h}.5 {t}\n"
                ));
            }
        }
        db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
        clock.set(T0 + 3 * DAY + half);
        db.rotate().unwrap().unwrap();
    }
}

/// Runs `f` on another thread and waits up to [`PATIENCE`] for it: `None` if it did not
/// finish (it waited for something it should not have).
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE).ok()
}

/// Pauses a to-cold compaction in its merge, runs `meanwhile` (which must not wait for
/// it), releases it, and returns the database with the compaction finished.
fn with_paused_compaction(
    dir: &std::path::Path,
    clock: &ManualClock,
    meanwhile: impl FnOnce(&Arc<Db>) + Send + 'static,
) -> Arc<Db> {
    let (hook, reached, release) = pause_once();
    let db = Arc::new(Db::open(dir, opts(clock, Some(hook))).unwrap());
    history(&db, clock);
    let compacting = {
        let db = db.clone();
        std::thread::spawn(move || db.compact(true, false))
    };
    reached
        .recv_timeout(PATIENCE)
        .expect("the compaction started merging");
    let during = db.clone();
    within(move || meanwhile(&during)).expect("the work done meanwhile waited for the compaction");
    release.send(()).unwrap();
    let report = compacting.join().unwrap().unwrap().unwrap();
    assert_eq!(report.files_in, 2, "{report:?}");
    db
}

#[test]
fn writes_rotations_and_snapshots_go_on_while_a_compaction_merges() {
    let dir = tempfile::tempdir().unwrap();
    let snap = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let snap_dir = snap.path().join("out");
    let snap_dir2 = snap_dir.clone();
    let clock2 = clock.clone();
    let db = with_paused_compaction(dir.path(), &clock, move |db| {
        let before_snapshot = contents(db);
        let report = db.snapshot(&snap_dir2, SnapshotOptions::default()).unwrap();
        assert!(report.segments >= 2, "{report:?}");
        // New data, rotated into its own warm segment while the compaction runs.
        let t = T0 + 2 * DAY + 5 * MIN;
        db.write_lp(
            format!(
                "cpu,host=h9 u=7i {t}\ncpu,host=h0 u=-1i {}\n",
                T0 + 10 * MIN
            )
            .as_bytes(),
            Precision::Nanosecond,
        )
        .unwrap();
        clock2.set(T0 + 3 * DAY + 10);
        db.rotate()
            .unwrap()
            .expect("a rotation while the compaction runs");
        // The snapshot is the source as it was when it was taken.
        let copy = Db::open(&snap_dir2, opts(&clock2, None)).unwrap();
        assert_eq!(contents(&copy), before_snapshot);
    });
    assert_eq!(
        db.metrics().compactions_redone,
        0,
        "nothing covered the inputs"
    );
    let t = db.tier_stats();
    assert_eq!(t.cold.files, 2, "one cold file per day: {t:?}");
    assert_eq!(t.warm.files, 1, "the rotation's segment stays warm: {t:?}");
    // The later write wins over the compacted value at the same timestamp, and the new
    // series is there: the rotation's segment is ordered after the outputs.
    let h0 = read(&db, &host("cpu", 0), "u");
    assert_eq!(h0.timestamps[10], T0 + 10 * MIN);
    assert_eq!(ints(&h0)[10], -1);
    assert_eq!(ints(&h0).len(), 2 * 24 * 60);
    assert_eq!(ints(&read(&db, &host("cpu", 9), "u")), &[7]);
    let expect = contents(&db);
    assert_eq!(expect.len(), 9);
    let db = Arc::try_unwrap(db).ok().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(&clock, None)).unwrap();
    assert_eq!(contents(&db), expect, "after a restart");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "no pending or replaced file left: {names:?}"
    );
}

#[test]
fn a_delete_of_compacted_values_made_meanwhile_is_never_undone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = with_paused_compaction(dir.path(), &clock, |db| {
        // `mem` of host h1 on the first day is in an input being merged.
        let r = db
            .delete_where(
                Predicate::And(vec![
                    Predicate::measurement("mem"),
                    Predicate::tag_eq("host", "h1"),
                ]),
                TimeRange::new(T0, T0 + DAY),
            )
            .unwrap();
        assert_eq!(r.series, 1);
        assert!(r.segments_covered >= 1, "{r:?}");
    });
    assert_eq!(
        db.metrics().compactions_redone,
        1,
        "the compaction was built again"
    );
    let check = |db: &Db| {
        let mem1 = read(db, &host("mem", 1), "f");
        assert_eq!(
            mem1.timestamps.len(),
            24 * 60,
            "only the second day is left"
        );
        assert!(mem1.timestamps.iter().all(|&t| t >= T0 + DAY));
        assert_eq!(read(db, &host("mem", 2), "f").timestamps.len(), 2 * 24 * 60);
        assert_eq!(db.pending_tombstones(), 0, "the rebuild purged the delete");
    };
    check(&db);
    assert_eq!(db.tier_stats().cold.files, 2);
    let db = Arc::try_unwrap(db).ok().unwrap();
    db.close().unwrap();
    check(&Db::open(dir.path(), opts(&clock, None)).unwrap());
}

#[test]
fn a_delete_of_other_data_made_meanwhile_keeps_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = with_paused_compaction(dir.path(), &clock, |db| {
        // Hot data only: no input holds it.
        let t = T0 + 3 * DAY;
        db.write_lp(
            format!("disk,host=h0 used=1i {t}\n").as_bytes(),
            Precision::Nanosecond,
        )
        .unwrap();
        let r = db
            .delete("disk", &[("host", "h0")], TimeRange::ALL)
            .unwrap();
        assert_eq!(r.hot_points, 1);
        assert_eq!(r.segments_covered, 0);
    });
    assert_eq!(db.metrics().compactions_redone, 0);
    assert_eq!(
        read(&db, &host("mem", 1), "f").timestamps.len(),
        2 * 24 * 60
    );
    assert!(db.series("disk").is_empty());
}

/// [`history`] written on `dir` without background work, then the directory opened with
/// it and `hook`: the first tick rotates and nudges the compaction, which calls the hook.
/// Returns once the hook said so on `reached`.
fn with_background_compaction(
    dir: &std::path::Path,
    clock: &ManualClock,
    hook: CompactionHook,
    reached: &mpsc::Receiver<()>,
) -> Db {
    {
        let db = Db::open(dir, opts(clock, None)).unwrap();
        history(&db, clock);
        db.close().unwrap();
    }
    let db = Db::open(
        dir,
        Options {
            rotation_interval: Duration::from_millis(20),
            ..opts(clock, Some(hook))
        },
    )
    .unwrap();
    reached
        .recv_timeout(PATIENCE)
        .expect("the background compaction started");
    db
}

#[test]
fn rotation_goes_on_while_the_background_compaction_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let (hook, reached, release) = pause_once();
    let db = with_background_compaction(dir.path(), &clock, hook, &reached);
    let rotations = db.metrics().rotations;
    // Old data keeps arriving; the rotation thread moves it to warm while the compaction
    // is paused.
    let t = T0 + 2 * DAY + MIN;
    db.write_lp(
        format!("cpu,host=h7 u=1i {t}\n").as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while db.metrics().rotations == rotations {
        assert!(
            std::time::Instant::now() < deadline,
            "no rotation while the compaction ran"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = db.tier_stats();
    assert_eq!(t.hot.points, 0, "{t:?}");
    assert_eq!(
        t.warm.files, 3,
        "two old warm segments and the new one: {t:?}"
    );
    assert_eq!(
        db.metrics().compactions,
        0,
        "the compaction is still paused"
    );
    release.send(()).unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while db.metrics().compactions == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the compaction finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(&clock, None)).unwrap();
    assert_eq!(ints(&read(&db, &host("cpu", 7), "u")), &[1]);
    assert_eq!(
        read(&db, &host("cpu", 3), "u").timestamps.len(),
        2 * 24 * 60
    );
}

#[test]
fn closing_stops_a_running_compaction_and_keeps_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    // The hook holds the first unit of the background compaction until the database is
    // closing; the merge must then give up instead of holding `close` to its end.
    let (reached_tx, reached) = mpsc::channel();
    let reached_tx = parking_lot::Mutex::new(Some(reached_tx));
    let hook = CompactionHook(Arc::new(move |closing: &dyn Fn() -> bool| {
        if let Some(tx) = reached_tx.lock().take() {
            let _ = tx.send(());
            let deadline = std::time::Instant::now() + PATIENCE;
            while !closing() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }));
    let db = with_background_compaction(dir.path(), &clock, hook, &reached);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(&clock, None)).unwrap();
    let t = db.tier_stats();
    assert_eq!((t.warm.files, t.cold.files), (2, 0), "inputs kept: {t:?}");
    assert_eq!(db.metrics().compactions, 0);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no pending output left: {names:?}");
    assert_eq!(
        read(&db, &host("cpu", 3), "u").timestamps.len(),
        2 * 24 * 60
    );
}
