//! The WAL's per-file series dictionary seen from a database: numbers of different files
//! (and so of different process lifetimes) never mix, a torn tail anywhere in a group's
//! definitions or batch loses only that group, and a use without a definition is damage
//! reported with file and offset.

use crate::common::*;
use std::path::Path;
use std::sync::Arc;
use strata_engine::model::{FieldValueRef, Precision, SeriesKey};
use strata_engine::wal::batch::BatchEncoder;
use strata_engine::wal::dict::SeriesKeys;
use strata_engine::wal::frame::{self, Frame, RecordKind};
use strata_engine::wal::{self, Recovery, Wal};
use strata_engine::{Db, Error, FsyncPolicy, Options};

const T0: i64 = 1_451_606_400_000_000_000;

fn key(host: &str) -> SeriesKey {
    SeriesKey::new("cpu", [("host", host)]).unwrap()
}

/// The keys one writing process knew: number → series.
struct Keys(Vec<(u32, SeriesKey)>);

impl SeriesKeys for Keys {
    fn keys(&self, ids: &[u32], each: &mut dyn FnMut(u32, &[u8])) -> Result<(), u32> {
        for &id in ids {
            let (_, k) = self.0.iter().find(|(n, _)| *n == id).ok_or(id)?;
            let mut bytes = Vec::new();
            k.encode_into(&mut bytes);
            each(id, &bytes);
        }
        Ok(())
    }
}

/// Writes WAL file `seq` of `dir` as one process would: `lines` of (number, value) at
/// T0 + i, with `keys` as that process's numbering.
fn write_file(dir: &Path, seq: u64, keys: Vec<(u32, SeriesKey)>, lines: &[(u32, f64)]) {
    let wal = Wal::start(
        dir,
        seq,
        0,
        FsyncPolicy::Always,
        1 << 30,
        Default::default(),
        Arc::new(Keys(keys)),
    )
    .unwrap();
    for (i, &(id, v)) in lines.iter().enumerate() {
        let mut e = BatchEncoder::default();
        let s = e.add_series(id);
        e.begin_line(s, T0 + i as i64);
        e.field("usage", FieldValueRef::Float(v));
        e.end_line();
        wal.submit_write(e.finish_record(), T0)
            .unwrap()
            .wait()
            .unwrap();
    }
    wal.shutdown(true).unwrap();
}

/// Offsets and kinds of the records of a WAL file's bytes.
fn records(bytes: &[u8]) -> Vec<(usize, usize, u8)> {
    let mut out = Vec::new();
    let mut pos = frame::HEADER_LEN;
    while let Frame::Record { kind, size, .. } = frame::decode_record(&bytes[pos..]) {
        out.push((pos, size, kind));
        pos += size;
    }
    assert_eq!(pos, bytes.len());
    out
}

#[test]
fn numbers_of_different_files_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join(wal::WAL_DIR);
    std::fs::create_dir_all(&wal_dir).unwrap();
    // Two process lifetimes numbered the same series differently: 0 is host a in the
    // first file and host b in the second, where 1 is host a.
    write_file(
        &wal_dir,
        1,
        vec![(0, key("a")), (1, key("b"))],
        &[(0, 1.0), (1, 2.0)],
    );
    write_file(
        &wal_dir,
        2,
        vec![(0, key("b")), (1, key("a"))],
        &[(0, 3.0), (1, 4.0), (0, 5.0)],
    );
    let db = Db::open(dir.path(), options()).unwrap();
    let a = read(&db, &key("a"), "usage");
    assert_eq!(a.timestamps, [T0, T0 + 1]);
    assert_eq!(floats(&a), [1.0, 4.0]);
    let b = read(&db, &key("b"), "usage");
    assert_eq!(b.timestamps, [T0, T0 + 1, T0 + 2]);
    assert_eq!(floats(&b), [3.0, 2.0, 5.0]);
}

#[test]
fn a_use_without_a_definition_is_damage_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let lp = format!("cpu,host=a usage=1 {T0}\ncpu,host=b usage=2 {T0}\n");
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    let lp = format!("cpu,host=a usage=3 {}\n", T0 + 1);
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    drop(db);
    let path = wal::file_path(&dir.path().join(wal::WAL_DIR), 1);
    let bytes = std::fs::read(&path).unwrap();
    let recs = records(&bytes);
    let kinds: Vec<u8> = recs.iter().map(|r| r.2).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::SeriesDefs as u8,
            RecordKind::Write as u8,
            RecordKind::Write as u8
        ],
        "one definitions record for the first batch, none for the second"
    );
    // Remove the definitions: both batches now use numbers the file never defined.
    let (defs_at, defs_len, _) = recs[0];
    let mut damaged = bytes[..defs_at].to_vec();
    damaged.extend_from_slice(&bytes[defs_at + defs_len..]);
    std::fs::write(&path, &damaged).unwrap();
    let Err(err) = Db::open(dir.path(), options()) else {
        panic!("the open must refuse a use without a definition");
    };
    match &err {
        Error::Corrupt { file, offset, what } => {
            assert_eq!(file, &path);
            assert_eq!(*offset, (defs_at + 9) as u64, "{what}");
            assert!(what.contains("used before its definition"), "{what}");
        }
        other => panic!("expected corruption, got {other}"),
    }
    let check = wal::verify_file(&path, true).unwrap();
    assert_eq!(check.problems.len(), 2, "{:?}", check.problems);
    // Skipping damage opens, without the batches whose series are unknown.
    let o = Options {
        wal_recovery: Recovery::SkipDamaged,
        ..options()
    };
    let db = Db::open(dir.path(), o).unwrap();
    assert_eq!(db.stats().series, 0);
}

/// A crash can leave any prefix of a group's write, definitions included: every cut
/// from the first byte of the second group's definitions to the end of its batch keeps
/// the first group and loses the second, silently (a torn tail).
#[test]
fn a_torn_tail_in_a_groups_definitions_or_batch_loses_only_that_group() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let lp = format!("cpu,host=a usage=1 {T0}\n");
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    let lp = format!(
        "cpu,host=a usage=2 {}\ncpu,host=b usage=3 {}\n",
        T0 + 1,
        T0 + 1
    );
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    drop(db);
    let path = wal::file_path(&dir.path().join(wal::WAL_DIR), 1);
    let full = std::fs::read(&path).unwrap();
    let recs = records(&full);
    assert_eq!(recs.len(), 4, "defs, batch, defs (host b), batch");
    assert_eq!(recs[2].2, RecordKind::SeriesDefs as u8);
    let wal_dir = dir.path().join(wal::WAL_DIR);
    for cut in recs[2].0..full.len() {
        // File 1 must be the newest for its tail to be a torn tail: remove the files the
        // opens of earlier rounds started.
        for f in wal::list_files(&wal_dir).unwrap() {
            std::fs::remove_file(wal::file_path(&wal_dir, f)).unwrap();
        }
        std::fs::write(&path, &full[..cut]).unwrap();
        let db = Db::open(dir.path(), options()).unwrap();
        assert_eq!(
            floats(&read(&db, &key("a"), "usage")),
            [1.0],
            "cut at {cut}"
        );
        assert!(
            db.read_column(&key("b"), "usage", strata_engine::model::TimeRange::ALL)
                .unwrap()
                .is_none_or(|c| c.timestamps.is_empty()),
            "cut at {cut}"
        );
        drop(db);
        // Cut back to the first incomplete record: the definitions, or the batch after
        // complete definitions (which then define a series no record uses).
        let kept = if cut < recs[3].0 {
            recs[2].0
        } else {
            recs[3].0
        };
        assert_eq!(std::fs::metadata(&path).unwrap().len(), kept as u64);
    }
}
