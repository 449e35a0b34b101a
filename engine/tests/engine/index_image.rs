//! The index image (`INDEX`): a close writes it, the next open loads it instead of
//! rebuilding the index from the segments, and the database it gives answers exactly as
//! a rebuilt one; an image made for another state, or damaged, is not used (the open
//! rebuilds and removes it), and writes after an image open replay on top of it.

use crate::common::*;
use std::time::Duration;
use strata_engine::model::{Precision, TimeRange};
use strata_engine::{Db, FsyncPolicy, Options};

fn opts() -> Options {
    Options {
        rotation_interval: Duration::ZERO,
        fsync: FsyncPolicy::Always,
        ..options()
    }
}

fn write(db: &Db, text: &str) {
    let s = db.write_lp(text.as_bytes(), Precision::Second).unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected.first());
}

/// Three segments with overlapping and distinct series, four field types, a measurement
/// whose only series loses all its data to a delete, and a field only one series has.
fn load(db: &Db) {
    for round in 0..3i64 {
        let mut text = String::new();
        for h in 0..40 {
            if (h + round) % 3 == 0 {
                continue; // each segment misses some series
            }
            let t = 1000 + round * 100 + h;
            text.push_str(&format!(
                "cpu,host=h{h},dc=d{} usage={}.5,n={}i,ok={},s=\"v{h}\" {t}\n",
                h % 4,
                h + round,
                h * round,
                h % 2 == 0
            ));
            text.push_str(&format!("mem,host=h{h} used={}u {t}\n", h * 10 + round));
        }
        text.push_str(&format!(
            "cpu,host=odd,dc=d9 rare={round}i {}\n",
            1000 + round
        ));
        text.push_str(&format!("gone,k=v x=1 {}\n", 1000 + round));
        write(db, &text);
        db.rotate().unwrap().expect("a rotation");
    }
    db.delete("gone", &[], TimeRange::ALL).unwrap();
}

/// Everything the listings and reads say, in a stable order.
fn describe(db: &Db) -> Vec<String> {
    let mut out = vec![format!("measurements {:?}", db.measurements())];
    for m in db.measurements() {
        out.push(format!(
            "{m} fields {:?} tag keys {:?}",
            db.fields(&m),
            db.tag_keys(&m)
        ));
        for k in db.tag_keys(&m) {
            out.push(format!("{m} {k} = {:?}", db.tag_values(&m, &k)));
        }
        let mut series = db.series(&m);
        series.sort_by_key(|s| s.to_string());
        for s in series {
            for (f, ty) in db.series_fields(&s) {
                let c = read(db, &s, &f);
                out.push(format!("{s} {f} {ty:?} {:?} {:?}", c.timestamps, c.values));
            }
        }
    }
    out
}

#[test]
fn a_closed_database_reopens_from_its_image_and_answers_as_a_rebuilt_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    load(&db);
    let live = describe(&db);
    assert!(!db.stats().index_from_image);
    db.close().unwrap();
    assert!(dir.path().join("INDEX").exists(), "close writes the image");

    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.stats().index_from_image);
    let from_image = describe(&db);
    let stats = db.stats();
    assert_eq!(from_image, live);
    assert!(
        !from_image.iter().any(|l| l.contains("gone")),
        "{from_image:?}"
    );
    drop(db);

    std::fs::remove_file(dir.path().join("INDEX")).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(!db.stats().index_from_image);
    assert_eq!(describe(&db), from_image, "a rebuild answers as the image");
    assert_eq!(
        (db.stats().series, db.stats().columns),
        (stats.series, stats.columns)
    );
    // Writes to series the image knows and to new ones land where they should.
    write(
        &db,
        "cpu,host=h1,dc=d1 usage=99.5 5000\ncpu,host=new,dc=d0 usage=1.5 5000\n",
    );
    db.rotate().unwrap();
    let c = read(&db, &host_dc("h1", "d1"), "usage");
    assert_eq!(c.timestamps.last(), Some(&5_000_000_000_000));
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.stats().index_from_image);
    assert_eq!(read(&db, &host_dc("new", "d0"), "usage").len(), 1);
    assert_eq!(read(&db, &host_dc("h1", "d1"), "usage").len(), 3);
}

fn host_dc(h: &str, dc: &str) -> strata_engine::model::SeriesKey {
    strata_engine::model::SeriesKey::new("cpu", [("host", h), ("dc", dc)]).unwrap()
}

#[test]
fn writes_after_an_image_open_replay_on_top_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    load(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.stats().index_from_image);
    write(
        &db,
        "cpu,host=late,dc=d1 usage=7.5 6000\nmem,host=h2 used=5u 6000\n",
    );
    let want = describe(&db);
    drop(db); // a crash: the WAL holds the writes, the manifest did not change

    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(
        db.stats().index_from_image,
        "the image still names this state"
    );
    assert_eq!(describe(&db), want);
}

#[test]
fn an_image_of_another_state_or_damaged_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    load(&db);
    db.close().unwrap();
    let image = dir.path().join("INDEX");

    // Another state: a rotation after the image, then a crash.
    let db = Db::open(dir.path(), opts()).unwrap();
    write(&db, "cpu,host=after,dc=d2 usage=3.5 7000\n");
    db.rotate().unwrap().expect("a rotation");
    let want = describe(&db);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(!db.stats().index_from_image);
    assert!(!image.exists(), "a stale image is removed");
    assert_eq!(describe(&db), want);
    db.close().unwrap();

    // Damage anywhere: the checksum catches it and the open rebuilds.
    let good = std::fs::read(&image).unwrap();
    for at in [0, 9, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        std::fs::write(&image, &bad).unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        assert!(!db.stats().index_from_image, "byte {at}");
        assert!(!image.exists());
        assert_eq!(describe(&db), want, "byte {at}");
        drop(db);
    }
    // Cut short.
    std::fs::write(&image, &good[..good.len() / 3]).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(!db.stats().index_from_image);
    assert_eq!(describe(&db), want);
    drop(db);
    // The good image is used again.
    std::fs::write(&image, &good).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(db.stats().index_from_image);
    assert_eq!(describe(&db), want);
}

#[test]
fn the_rotation_thread_writes_the_image_so_an_open_after_a_crash_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        rotation_interval: Duration::from_millis(20),
        index_image_interval: Duration::from_millis(1),
        ..opts()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    // Ten minutes before the fixed clock: past `hot_max_age`, so the next age rotation
    // moves it into a warm segment (and, being young, no compaction follows).
    let t = 1_451_606_400 - 600;
    let mut text = String::new();
    for h in 0..50 {
        text.push_str(&format!(
            "cpu,host=h{h} usage={h}.5 {t}\nmem,host=h{h} used={h}i {t}\n"
        ));
    }
    write(&db, &text);
    let image = dir.path().join("INDEX");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(image.exists() && db.tier_stats().hot.points == 0) {
        assert!(std::time::Instant::now() < deadline, "no image written");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Written after the rotation that emptied the hot tier: let a tick pass, then crash.
    std::thread::sleep(Duration::from_millis(100));
    let want = describe(&db);
    drop(db);
    let db = Db::open(dir.path(), o).unwrap();
    assert!(db.stats().index_from_image);
    assert_eq!(describe(&db), want);
    assert_eq!(db.stats().series, 100);
}
