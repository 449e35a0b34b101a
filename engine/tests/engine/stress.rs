//! Concurrent stress with the real background thread: writers, readers, rotation,
//! compaction and retention at once for a bounded time, while the clock runs forward.
//! Afterwards (and after a restart) every column holds exactly what was written and not
//! expired: counts, sums, no duplicates, no gaps.

use crate::common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};
use strata_engine::model::{ColumnValues, Precision, SeriesKey, TimeRange};
use strata_engine::{Db, ManualClock, Options};

const T0: i64 = 1_451_606_400_000_000_000;
const SEC: i64 = 1_000_000_000;
const WRITERS: usize = 3;

fn key(w: usize) -> SeriesKey {
    SeriesKey::new("stress", [("w", format!("w{w}"))]).unwrap()
}

#[test]
fn writers_readers_rotation_compaction_and_retention_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let options = Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::from_millis(15),
        hot_max_age: Duration::from_secs(60),
        warm_max_age: Duration::from_secs(600),
        retention: Some(Duration::from_secs(3 * 3600)),
        ..Options::default()
    };
    let db = Arc::new(Db::open(dir.path(), options.clone()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Writers append one point a "second" each, at the clock's time, in batches.
    let written: Vec<Arc<AtomicI64>> = (0..WRITERS).map(|_| Arc::new(AtomicI64::new(0))).collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, stop, clock, n) =
                (db.clone(), stop.clone(), clock.clone(), written[w].clone());
            std::thread::spawn(move || {
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let mut text = String::new();
                    for _ in 0..50 {
                        text.push_str(&format!("stress,w=w{w} v={i}i {}\n", T0 + i * SEC));
                        i += 1;
                    }
                    let s = db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
                    assert!(s.rejected.is_empty(), "{:?}", s.rejected.first());
                    n.store(i, Ordering::Release);
                    // Keep the clock just ahead of the newest point.
                    let now = T0 + i * SEC;
                    if clock_now(&clock) < now {
                        clock.set(now);
                    }
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for w in 0..WRITERS {
                        if let Some(c) = db.read_column(&key(w), "v", TimeRange::ALL).unwrap() {
                            let ColumnValues::Integer(v) = &c.values else {
                                panic!()
                            };
                            // A contiguous run of values, each at its own second: no gap, no
                            // duplicate, whatever tier each part is in at the moment.
                            for (k, (&t, &x)) in c.timestamps.iter().zip(v).enumerate() {
                                assert_eq!(t, T0 + x * SEC);
                                if k > 0 {
                                    assert_eq!(x, v[k - 1] + 1, "a reader saw a gap");
                                }
                            }
                        }
                    }
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2_500) {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let during = db.tier_stats();
    assert!(
        during.warm.files + during.cold.files > 0,
        "background rotation ran: {during:?}"
    );
    // Put the retention cutoff inside the written data, whatever the throughput was, and
    // let maintenance finish.
    let n_min = written
        .iter()
        .map(|n| n.load(Ordering::Acquire))
        .min()
        .unwrap();
    let now = clock_now(&clock).max(T0 + (n_min / 2) * SEC + 3 * 3600 * SEC);
    clock.set(now);
    for _ in 0..100 {
        if db.run_maintenance().unwrap().is_none() {
            break;
        }
    }
    let check = |db: &Db| {
        let cutoff = clock_now(&clock) - 3 * 3600 * SEC;
        for (w, n) in written.iter().enumerate() {
            let n = n.load(Ordering::Acquire);
            let first = ((cutoff - T0 + SEC - 1) / SEC).clamp(0, n);
            let c = read(db, &key(w), "v");
            let want: Vec<i64> = (first..n).collect();
            assert_eq!(
                ints(&c),
                &want[..],
                "writer {w}: exactly the unexpired points"
            );
        }
        let t = db.tier_stats();
        for tier in [&t.hot, &t.warm, &t.cold] {
            if let Some((lo, _)) = tier.time_range {
                assert!(
                    lo >= cutoff - 3600 * SEC,
                    "expired data kept beyond the trim slack: {t:?}"
                );
            }
        }
    };
    check(&db);
    eprintln!("after the stress run: {during:?}, {n_min} points per writer at least");
    assert!(
        db.tier_stats().cold.files > 0,
        "background compaction to cold ran"
    );
    drop(db);
    let db = Db::open(dir.path(), options).unwrap();
    check(&db);
}

fn clock_now(c: &ManualClock) -> i64 {
    use strata_engine::Clock;
    c.now_nanos()
}
