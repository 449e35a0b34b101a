//! Restart: everything written comes back after close + reopen, and after a drop without
//! close (the WAL alone, as after a crash).

use crate::common::*;
use strata_engine::model::Precision;
use strata_engine::{Db, FsyncPolicy};

const HOSTS: usize = 100;
const FIELDS: usize = 10;
const LINES: usize = 100_000; // 1,000,000 points

fn write_million(db: &Db) {
    for first in (0..LINES).step_by(5_000) {
        let s = db
            .write_lp(
                lp_batch(first, 5_000, HOSTS, FIELDS, 0).as_bytes(),
                Precision::Nanosecond,
            )
            .unwrap();
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.points, 5_000 * FIELDS);
    }
}

fn check_million(db: &Db) {
    let mut total = 0;
    for h in 0..HOSTS {
        let key = host("m", h);
        for f in 0..FIELDS {
            let c = read(db, &key, &format!("f{f}"));
            assert_eq!(c.len(), LINES / HOSTS, "host {h} field {f}");
            for (k, (&t, &v)) in c.timestamps.iter().zip(ints(&c)).enumerate() {
                let l = k * HOSTS + h;
                assert_eq!(t, k as i64 * 1_000_000_000);
                assert_eq!(v, value(l, f), "host {h} field {f} line {l}");
            }
            total += c.len();
        }
    }
    assert_eq!(total, 1_000_000);
}

#[test]
fn million_points_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    write_million(&db);
    check_million(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check_million(&db);
    assert_eq!(db.stats().series, HOSTS);
    assert_eq!(db.stats().columns, HOSTS * FIELDS);
}

#[test]
fn million_points_survive_a_drop_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options();
    o.fsync = FsyncPolicy::Always;
    let db = Db::open(dir.path(), o).unwrap();
    write_million(&db);
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    check_million(&db);
}

#[test]
fn reopen_twice_and_keep_writing() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let db = Db::open(dir.path(), options()).unwrap();
        db.write_lp(
            lp_batch(round * 100, 100, 10, 2, 0).as_bytes(),
            Precision::Nanosecond,
        )
        .unwrap();
        drop(db);
    }
    let db = Db::open(dir.path(), options()).unwrap();
    for h in 0..10 {
        let c = read(&db, &host("m", h), "f1");
        assert_eq!(c.len(), 30);
        for (k, &v) in ints(&c).iter().enumerate() {
            assert_eq!(v, value(k * 10 + h, 1));
        }
    }
}
