//! Compaction: every column reads the same before and after, on random data with
//! out-of-order writes and duplicates spread over several segments and on the devops data;
//! a crash at each compaction step leaves the data exactly once; background promotion of
//! old warm data to cold day files.

use crate::common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::manifest::Tier;
use strata_engine::model::{ColumnData, Precision, SeriesKey, TimeRange};
use strata_engine::options::Failpoint;
use strata_engine::{Db, ManualClock, Options};

const T0: i64 = 1_451_606_400_000_000_000; // 2016-01-01
const DAY: i64 = 86_400_000_000_000;

fn opts(clock: &ManualClock) -> Options {
    Options {
        clock: Arc::new(clock.clone()),
        rotation_interval: Duration::ZERO,
        ..Options::default()
    }
}

fn snapshot(db: &Db) -> BTreeMap<(String, String), ColumnData> {
    let mut all = BTreeMap::new();
    for m in db.measurements() {
        for key in db.series(&m) {
            for (f, _) in db.series_fields(&key) {
                let c = db.read_column(&key, &f, TimeRange::ALL).unwrap().unwrap();
                all.insert((key.to_string(), f), c);
            }
        }
    }
    all
}

fn total_points(db: &Db) -> u64 {
    let t = db.tier_stats();
    t.hot.points + t.warm.points + t.cold.points
}

/// Three days of data for 5 series, written in a shuffled order with duplicates, rotated
/// into several warm segments along the way. Returns the distinct point count.
fn messy_history(db: &Db, clock: &ManualClock) -> u64 {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut distinct = std::collections::HashSet::new();
    for round in 0..6 {
        let mut text = String::new();
        for _ in 0..2_000 {
            let s = rnd() % 5;
            let t = T0 + (rnd() % (3 * 24 * 360)) as i64 * 10_000_000_000; // 10 s grid, 3 days
            let v = rnd() % 1000;
            text.push_str(&format!(
                "m,s=s{s} i={v}i,f={}.25,b={} {t}\n",
                v as i64 - 500,
                v % 2 == 0
            ));
            distinct.insert((s, t));
        }
        db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
        clock.set(T0 + 4 * DAY + round * 1_000);
        db.rotate().unwrap();
    }
    distinct.len() as u64 * 3
}

#[test]
fn compaction_to_cold_preserves_every_column_with_duplicates_and_out_of_order_data() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    let distinct = messy_history(&db, &clock);
    // A little recent data stays hot.
    db.write_lp(
        format!("m,s=s0 i=1i,f=1.5,b=true {}\n", T0 + 4 * DAY).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    let before = snapshot(&db);
    let t = db.tier_stats();
    assert!(t.warm.files >= 5, "{t:?}");
    assert!(
        t.warm.points > distinct,
        "duplicates across segments are counted before compaction"
    );
    let r = db.compact(true, false).unwrap().unwrap();
    assert_eq!(r.files_in, t.warm.files);
    assert_eq!(r.files_out, 3, "one cold file per day");
    assert!(r.bytes_out < r.bytes_in / 3, "{r:?}");
    assert_eq!(r.points_out, distinct, "duplicates folded");
    let t = db.tier_stats();
    assert_eq!((t.warm.files, t.cold.files), (0, 3));
    assert_eq!(snapshot(&db), before);
    // Old files are gone once no reader holds them.
    let files = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .count();
    assert_eq!(files, 3);
    // And everything again after a restart; a second to-cold compaction has nothing to do.
    db.close().unwrap();
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    assert_eq!(snapshot(&db), before);
    assert!(db.compact(true, false).unwrap().is_none());
    // Late writes into a cold day, rotated and compacted again, win over cold data.
    db.write_lp(
        format!("m,s=s1 i=-7i,f=0.5,b=false {}\n", T0 + DAY + 10_000_000_000).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    db.compact(true, true).unwrap().unwrap();
    let c = db
        .read_column(
            &SeriesKey::new("m", [("s", "s1")]).unwrap(),
            "i",
            TimeRange::new(T0 + DAY + 10_000_000_000, T0 + DAY + 10_000_000_001),
        )
        .unwrap()
        .unwrap();
    assert_eq!(ints(&c), [-7]);
}

#[test]
fn compaction_of_the_devops_data_preserves_every_column() {
    let lp = zstd::stream::decode_all(
        std::fs::File::open(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data/tsbs_cpu_only_scale100_6h.lp.zst"),
        )
        .unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 10 * DAY);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    // Two halves, rotated separately, so that compaction has several inputs.
    let half = lp.len() / 2;
    let cut = half + lp[half..].iter().position(|&b| b == b'\n').unwrap() + 1;
    for part in [&lp[..cut], &lp[cut..]] {
        let s = db.write_lp(part, Precision::Nanosecond).unwrap();
        assert!(s.rejected.is_empty());
        db.rotate().unwrap().unwrap();
    }
    let before = snapshot(&db);
    assert_eq!(before.len(), 1000);
    let r = db.compact(true, false).unwrap().unwrap();
    assert_eq!((r.files_in, r.files_out, r.points_out), (2, 1, 2_160_000));
    assert_eq!(snapshot(&db), before);
    let bpp = r.bytes_out as f64 / r.points_out as f64;
    assert!(bpp < 1.0, "cold bytes per point {bpp}");
}

#[test]
fn a_crash_at_each_compaction_step_leaves_the_data_exactly_once() {
    for fp in [
        Failpoint::CompactionAfterOutputs,
        Failpoint::CompactionAfterManifest,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0);
        let db = Db::open(dir.path(), opts(&clock)).unwrap();
        let distinct = messy_history(&db, &clock);
        let before = snapshot(&db);
        drop(db);
        let mut o = opts(&clock);
        o.failpoint = Some(fp);
        let db = Db::open(dir.path(), o).unwrap();
        let err = db.compact(true, false).unwrap_err();
        assert!(err.to_string().contains("failpoint"), "{err}");
        assert_eq!(
            snapshot(&db),
            before,
            "{fp:?}: reads complete after the failure"
        );
        drop(db); // crash
        let db = Db::open(dir.path(), opts(&clock)).unwrap();
        assert_eq!(snapshot(&db), before, "{fp:?}");
        let t = db.tier_stats();
        match fp {
            Failpoint::CompactionAfterOutputs => {
                assert_eq!(t.cold.files, 0, "outputs were not named")
            }
            _ => {
                assert_eq!(t.warm.files, 0, "inputs were replaced");
                assert_eq!(total_points(&db), distinct, "exactly once");
            }
        }
        let names = std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .count();
        assert_eq!(
            names,
            t.warm.files + t.cold.files,
            "{fp:?}: no orphaned file"
        );
        db.compact(true, false).unwrap();
        assert_eq!(snapshot(&db), before);
        assert_eq!(total_points(&db), distinct);
    }
}

#[test]
fn maintenance_promotes_warm_older_than_a_day_to_cold() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0 + 2 * 3600 * 1_000_000_000);
    let db = Db::open(dir.path(), opts(&clock)).unwrap();
    db.write_lp(
        crate::common::lp_batch(0, 100, 2, 2, T0).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    assert!(
        db.run_maintenance().unwrap().is_none(),
        "young warm data stays warm"
    );
    assert_eq!(db.tier_stats().warm.files, 1);
    clock.advance(Duration::from_secs(25 * 3600));
    let r = db.run_maintenance().unwrap().unwrap();
    assert_eq!((r.files_in, r.files_out), (1, 1));
    let t = db.tier_stats();
    assert_eq!((t.warm.files, t.cold.files, t.cold.points), (0, 1, 200));
    let segs = db.tier_stats().cold.paths;
    assert_eq!(segs.len(), 1);
    let _ = Tier::Cold;
}

/// Every segment file of a directory, by name, with its bytes.
fn segment_files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join(strata_engine::segment::SEGMENT_DIR))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn compaction_writes_the_same_bytes_on_any_number_of_threads() {
    // Messy data (random timestamps, duplicates, several warm segments) beside regular
    // series that share their timestamps (the cold writer's shared-timestamp blocks, the
    // one decision that depends on series order), over three days (three cold files).
    let source = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    {
        let db = Db::open(source.path(), opts(&clock)).unwrap();
        messy_history(&db, &clock);
        for day in 0..3 {
            let mut text = String::new();
            for host in 0..40 {
                for k in 0..400 {
                    let t = T0 + day * DAY + k * 10_000_000_000;
                    // Two scrape groups: even hosts every 10 s, odd ones from 5 s on.
                    let t = t + (host % 2) * 5_000_000_000;
                    text.push_str(&format!(
                        "cpu,host=h{host} usage={}i,idle={}.5 {t}\n",
                        (k * 7 + host) % 100,
                        k % 13
                    ));
                }
            }
            db.write_lp(text.as_bytes(), Precision::Nanosecond).unwrap();
            db.rotate().unwrap();
        }
        db.close().unwrap();
    }
    let mut results = Vec::new();
    for threads in [1, 2, 4, 7] {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(source.path(), dir.path());
        let db = Db::open(
            dir.path(),
            Options {
                compaction_threads: threads,
                ..opts(&clock)
            },
        )
        .unwrap();
        let before = snapshot(&db);
        let report = db.compact(true, true).unwrap().unwrap();
        assert_eq!(
            report.files_out, 3,
            "{threads} threads: one cold file per day"
        );
        let p = db.compaction_progress();
        assert!(p.total > 0 && p.done == p.total, "{threads} threads: {p:?}");
        assert_eq!(snapshot(&db), before, "{threads} threads: data unchanged");
        db.close().unwrap();
        results.push((threads, segment_files(dir.path())));
    }
    let (_, one) = &results[0];
    assert_eq!(one.len(), 3);
    for (threads, files) in &results[1..] {
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            one.keys().collect::<Vec<_>>(),
            "{threads} threads: file names"
        );
        for (name, bytes) in files {
            assert!(
                *bytes == one[name],
                "{threads} threads: {name} differs from one thread's"
            );
        }
    }
}
