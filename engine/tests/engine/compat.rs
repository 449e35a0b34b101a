//! Files written by earlier format versions open and read the same forever. The fixture
//! directories under `engine/tests/fixtures/` were written by those versions and are never
//! regenerated; tests copy them before opening (an open may cut or add files).

use crate::common::*;
use std::path::Path;
use strata_engine::model::{ColumnValues, Precision, SeriesKey};
use strata_engine::{Db, wal};

const T0: i64 = 1_451_606_400_000_000_000;
const S: i64 = 1_000_000_000;

fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        dir.path(),
    );
    dir
}

fn cpu(host: &str) -> SeriesKey {
    SeriesKey::new("cpu", [("host", host), ("region", "eu")]).unwrap()
}

/// What the version 1 writer stored in `fixtures/wal_v1` (WAL format version 1: every
/// write record names its series by key): three batches over three series, every field
/// type, a NaN with a payload, then a delete of `mem` at T0 and a write after it.
/// `later` values of host a's `usage` written since follow the fixture's.
fn check_wal_v1_data(db: &Db, later: usize) {
    let usage = read(db, &cpu("a"), "usage");
    assert_eq!(usage.timestamps.len(), 4 + later);
    assert_eq!(usage.timestamps[..4], [T0, T0 + S, T0 + 2 * S, T0 + 3 * S]);
    let bits: Vec<u64> = floats(&usage)[..4].iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits,
        [
            0.5f64.to_bits(),
            0.75f64.to_bits(),
            0.875f64.to_bits(),
            0x7ff8_0000_0000_0abc
        ]
    );
    assert_eq!(ints(&read(db, &cpu("a"), "n")), [-3]);
    assert!(matches!(read(db, &cpu("a"), "u").values, ColumnValues::Unsigned(v) if v == [7]));
    assert!(matches!(read(db, &cpu("a"), "ok").values, ColumnValues::Boolean(v) if v == [true]));
    assert!(matches!(read(db, &cpu("a"), "s").values, ColumnValues::String(v) if v == ["x y"]));
    let b = read(db, &cpu("b"), "usage");
    assert_eq!(b.timestamps, [T0, T0 + S]);
    assert_eq!(floats(&b), [1.25, 2.5]);
    let mem = SeriesKey::new("mem", [("host", "a")]).unwrap();
    let used = read(db, &mem, "used");
    assert_eq!(
        used.timestamps,
        [T0 + S],
        "the delete removed the value at T0"
    );
    assert_eq!(ints(&used), [200]);
}

#[test]
fn a_version_1_wal_replays_and_new_files_follow_it() {
    let dir = fixture("wal_v1");
    let v1 = wal::file_path(&dir.path().join(wal::WAL_DIR), 1);
    let check = wal::verify_file(&v1, true).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(check.records, 5);
    assert_eq!(&std::fs::read(&v1).unwrap()[8..12], &1u32.to_le_bytes());
    let db = Db::open(dir.path(), options()).unwrap();
    check_wal_v1_data(&db, 0);
    // New writes go to a version 2 file after the old one; both replay together.
    let lp = format!(
        "cpu,host=a,region=eu usage=9.5 {}\ncpu,host=c,region=eu usage=1 {T0}\n",
        T0 + 4 * S
    );
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    drop(db);
    let wal_dir = dir.path().join(wal::WAL_DIR);
    let files = wal::list_files(&wal_dir).unwrap();
    assert_eq!(files.first(), Some(&1));
    let newest = wal::file_path(&wal_dir, *files.last().unwrap());
    assert_eq!(&std::fs::read(&newest).unwrap()[8..12], &2u32.to_le_bytes());
    let db = Db::open(dir.path(), options()).unwrap();
    let usage = read(&db, &cpu("a"), "usage");
    assert_eq!(usage.timestamps.len(), 5);
    assert_eq!(floats(&usage)[4], 9.5);
    assert_eq!(floats(&read(&db, &cpu("c"), "usage")), [1.0]);
    db.close().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    check_wal_v1_data(&db, 1);
}
