//! Faults from the disk: a matrix of injected I/O faults (`strata_engine::fault`, feature
//! `failpoints`: every kind at every site it applies to), a full disk mid-ingest, and an
//! fsync that fails at each position of a run. While a fault lasts, the writes it meets
//! are refused with the OS error (or, for background work, maintenance reports it and
//! writes go on), reads keep answering, nothing unacknowledged is kept; when it clears,
//! writes and maintenance succeed again without a reopen, and a reopen holds every
//! acknowledged point exactly once.
//!
//! The full-disk test needs a small tmpfs (root and CAP_SYS_ADMIN, as on this project's
//! machines and CI); where mounting is refused it says so and does nothing.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use strata_engine::fault::{self, Kind, Site};
use strata_engine::model::{Precision, TimeRange};
use strata_engine::{Db, Error, Options};

struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(at: &std::path::Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .ok()?
            .success();
        ok.then(|| Mount(at.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount failed");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Hosts and fields of the matrix's batches.
const HOSTS: usize = 5;
const FIELDS: usize = 2;
/// Lines per batch.
const BATCH: usize = 100;

/// The acknowledged lines of a run, and the next line number to write.
#[derive(Default)]
struct Acked {
    lines: Vec<usize>,
    next: usize,
}

impl Acked {
    /// Writes the next batch (fresh line numbers); records its lines if acknowledged.
    fn write(&mut self, db: &Db) -> Result<(), Error> {
        let first = self.next;
        self.next += BATCH;
        let lp = lp_batch(first, BATCH, HOSTS, FIELDS, 0);
        let s = db.write_lp(lp.as_bytes(), Precision::Nanosecond)?;
        assert!(s.rejected.is_empty());
        self.lines.extend(first..first + BATCH);
        Ok(())
    }

    /// Reads hold exactly the acknowledged lines: each once, with its values, and no
    /// refused line.
    fn check(&self, db: &Db, when: &str) {
        for h in 0..HOSTS {
            let want: Vec<usize> = self
                .lines
                .iter()
                .copied()
                .filter(|l| l % HOSTS == h)
                .collect();
            for f in 0..FIELDS {
                let got = db
                    .read_column(&host("m", h), &format!("f{f}"), TimeRange::ALL)
                    .unwrap_or_else(|e| panic!("{when}: read failed: {e}"));
                let got = got.map_or_else(Vec::new, |c| {
                    c.timestamps
                        .iter()
                        .copied()
                        .zip(ints(&c).to_vec())
                        .collect()
                });
                let expect: Vec<(i64, i64)> = want
                    .iter()
                    .map(|&l| ((l / HOSTS) as i64 * 1_000_000_000, value(l, f)))
                    .collect();
                assert_eq!(got, expect, "{when}: host {h} f{f}");
            }
        }
    }
}

/// The OS error text an injected fault of `kind` carries.
fn os_text(kind: Kind) -> &'static str {
    match kind {
        Kind::WriteEnospc | Kind::ShortWrite | Kind::CreateEnospc => "No space left",
        Kind::FsyncEio | Kind::RenameEio | Kind::RemoveEio => "Input/output error",
    }
}

/// Names in a directory (sorted), without the ones that do not exist.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn matrix_options() -> Options {
    Options {
        rotation_interval: std::time::Duration::ZERO,
        wal_segment_bytes: 16 << 10,
        compaction_threads: 1,
        ..options()
    }
}

/// One cell of the matrix: a write load with acknowledgements, the fault armed (until
/// cleared), the site exercised, the fault cleared, more writes and maintenance without
/// a reopen, then a reopen that must hold every acknowledged line exactly once.
fn fault_case(site: Site, kind: Kind) {
    let when = format!("{kind:?} at {site:?}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, matrix_options()).unwrap();
    let mut acked = Acked::default();
    // History: rotated, compacted to cold, and more in the hot tier.
    for _ in 0..4 {
        acked.write(&db).unwrap();
    }
    db.run_maintenance().unwrap();
    for _ in 0..4 {
        acked.write(&db).unwrap();
    }
    if site == Site::CompactionSegment {
        // Leave the compaction alone to fail: the rotation before it has nothing to do.
        db.rotate().unwrap();
        assert!(db.rotate().unwrap().is_none());
    }
    let segments = dir.join("segments");
    let before = names(&segments);
    fault::arm(&dir, site, kind, None);
    match site {
        Site::WalAppend => {
            // Foreground: every write meets the fault and is refused with its reason.
            for _ in 0..3 {
                let err = acked.write(&db).unwrap_err();
                let msg = err.to_string();
                assert!(matches!(err, Error::WalFailed { .. }), "{when}: {msg}");
                assert!(msg.contains(os_text(kind)), "{when}: {msg}");
            }
        }
        _ => {
            // Background: maintenance reports the error; writes go on.
            let err = db.run_maintenance().unwrap_err().to_string();
            assert!(err.contains(os_text(kind)), "{when}: {err}");
            if site != Site::Delete {
                // The previous state: no new file left, named or temporary.
                assert_eq!(names(&segments), before, "{when}: segment files");
            }
            assert!(
                !names(&dir)
                    .iter()
                    .chain(&names(&segments))
                    .any(|n| n.ends_with("tmp")),
                "{when}: temporary files left: {:?} {:?}",
                names(&dir),
                names(&segments)
            );
            for _ in 0..3 {
                acked
                    .write(&db)
                    .unwrap_or_else(|e| panic!("{when}: write refused: {e}"));
            }
            let again = db.run_maintenance().unwrap_err().to_string();
            assert!(again.contains(os_text(kind)), "{when}: {again}");
        }
    }
    assert!(fault::fired(&dir) > 0, "{when}: the fault never fired");
    acked.check(&db, &format!("{when}, during the fault"));
    fault::clear(&dir);
    // Recovery without a reopen: writes and maintenance succeed again.
    for _ in 0..3 {
        acked
            .write(&db)
            .unwrap_or_else(|e| panic!("{when}: refused after the fault cleared: {e}"));
    }
    db.run_maintenance()
        .unwrap_or_else(|e| panic!("{when}: maintenance after the fault cleared: {e}"));
    acked.write(&db).unwrap();
    acked.check(&db, &format!("{when}, after the fault"));
    db.close().unwrap();
    let db = Db::open(&dir, matrix_options())
        .unwrap_or_else(|e| panic!("{when}: reopen needs repair: {e}"));
    acked.check(&db, &format!("{when}, after a reopen"));
    drop(db);
}

/// Every fault kind at every site it applies to (24 pairs over 6 kinds × 6 sites).
#[test]
fn injected_io_faults_refuse_or_report_keep_reads_and_recover_without_a_reopen() {
    let mut cells = Vec::new();
    for site in Site::ALL {
        for kind in Kind::ALL {
            if kind.applies_to(site) {
                fault_case(site, kind);
                cells.push((site, kind));
            }
        }
    }
    eprintln!("fault matrix, {} cells passed:", cells.len());
    for site in Site::ALL {
        let kinds: Vec<String> = cells
            .iter()
            .filter(|(s, _)| *s == site)
            .map(|(_, k)| format!("{k:?}"))
            .collect();
        eprintln!("  {site:?}: {}", kinds.join(", "));
    }
    assert_eq!(cells.len(), 24);
}

/// A fault armed for a number of times fails exactly that many operations, then the
/// database goes on by itself: one failed fsync refuses one write, the next is accepted.
#[test]
fn a_fault_armed_once_refuses_one_write_and_the_next_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let db = Db::open(&dir, matrix_options()).unwrap();
    let mut acked = Acked::default();
    acked.write(&db).unwrap();
    fault::arm(&dir, Site::WalAppend, Kind::ShortWrite, Some(1));
    let err = acked.write(&db).unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    acked.write(&db).unwrap();
    assert_eq!(fault::clear(&dir), 1);
    acked.check(&db, "after one short write");
    drop(db); // as a crash: only the WAL holds the data
    let db = Db::open(&dir, matrix_options()).unwrap();
    acked.check(&db, "after a reopen");
}

/// The manifest's directory fsync fails after the rename named the new generation: the
/// rotation reports the error, and since a restart may read that generation, neither its
/// number nor its segment id is used again. Whether the process goes on (next rotation
/// succeeds) or crashes right there, every acknowledged line is kept once.
#[test]
fn a_manifest_whose_directory_fsync_fails_is_never_overwritten() {
    for crash in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let db = Db::open(&dir, matrix_options()).unwrap();
        let mut acked = Acked::default();
        for _ in 0..3 {
            acked.write(&db).unwrap();
        }
        // The tmp file's fsync passes, the directory's fails (once).
        fault::arm_after(&dir, Site::Manifest, Kind::FsyncEio, 1, Some(1));
        let err = db.rotate().unwrap_err().to_string();
        assert!(err.contains("Input/output error"), "{err}");
        assert_eq!(fault::clear(&dir), 1);
        acked.check(&db, "after the failed publish");
        acked.write(&db).unwrap();
        if crash {
            drop(db);
        } else {
            db.rotate().unwrap().expect("a rotation");
            acked.write(&db).unwrap();
            db.close().unwrap();
        }
        let db = Db::open(&dir, matrix_options()).unwrap();
        acked.check(&db, &format!("after a reopen (crash: {crash})"));
        db.run_maintenance().unwrap();
        acked.check(&db, &format!("after maintenance (crash: {crash})"));
    }
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_when_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    let Some(mount) = Mount::tmpfs(&mnt, "4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        return;
    };
    let dir = mnt.join("data");
    let db = Db::open(&dir, options()).unwrap();
    // Batches reuse the line numbers of a refused one: a refused batch leaves nothing.
    let mut acked = 0usize;
    let write = |acked: &mut usize| -> Result<(), Error> {
        let s = db.write_lp(
            lp_batch(*acked, 500, 20, 4, 0).as_bytes(),
            Precision::Nanosecond,
        )?;
        assert!(s.rejected.is_empty());
        *acked += 500;
        Ok(())
    };
    let err = loop {
        if let Err(e) = write(&mut acked) {
            break e;
        }
        assert!(acked < 1_000_000, "the disk never filled");
    };
    assert!(acked > 0);
    let msg = err.to_string();
    assert!(matches!(err, Error::WalFailed { .. }), "{msg}");
    assert!(msg.contains("No space left"), "{msg}");
    // While the disk stays full, writes are refused with the same reason (one that
    // fits in the space the cut tail freed may be acknowledged: then it is kept).
    let mut refused = 0;
    for _ in 0..5 {
        match write(&mut acked) {
            Ok(()) => {}
            Err(e) => {
                assert!(e.to_string().contains("No space left"), "{e}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "a full disk took every write");
    // Reads keep working and hold every acknowledged point.
    let check = |db: &Db, acked: usize| {
        for h in 0..20 {
            let c = read(db, &host("m", h), "f3");
            assert_eq!(c.len(), acked / 20, "host {h}");
            for (k, &v) in ints(&c).iter().enumerate() {
                assert_eq!(v, value(k * 20 + h, 3));
            }
        }
    };
    check(&db, acked);
    // More space: writes are accepted again, without a reopen.
    mount.grow("64m");
    write(&mut acked).unwrap();
    write(&mut acked).unwrap();
    check(&db, acked);
    db.close().unwrap();
    let db = Db::open(&dir, options()).unwrap();
    check(&db, acked);
    db.close().unwrap();
    drop(mount);
}

/// A failing fsync (injected at every position of a run of batches): the batch whose fsync
/// failed is refused and cut from the WAL, the next write recovers the WAL and is
/// accepted (no reopen), reads answer exactly the acknowledged batches, and after a
/// restart every acknowledged batch is there exactly once and the refused one is not.
#[test]
fn a_failed_fsync_refuses_that_write_only_and_loses_nothing_acknowledged() {
    for fail_at in 0..6u64 {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path(), options()).unwrap();
        db.fail_wal_fsync_after(fail_at);
        let mut acked = Vec::new();
        for b in 0..8usize {
            match db.write_lp(
                lp_batch(b * 100, 100, 5, 2, 0).as_bytes(),
                Precision::Nanosecond,
            ) {
                Ok(s) => {
                    assert!(s.rejected.is_empty());
                    acked.push(b);
                }
                Err(e) => {
                    assert!(e.to_string().contains("fsync"), "{e}");
                    assert_eq!(b as u64, fail_at, "only the write whose fsync failed");
                }
            }
        }
        assert_eq!(acked.len(), 7);
        let check = |db: &Db| {
            for h in 0..5 {
                let c = db
                    .read_column(&host("m", h), "f0", TimeRange::ALL)
                    .unwrap()
                    .expect("column");
                let want: Vec<i64> = acked
                    .iter()
                    .flat_map(|&b| (b * 100..b * 100 + 100).filter(|l| l % 5 == h))
                    .map(|l| (l / 5) as i64 * 1_000_000_000)
                    .collect();
                assert_eq!(c.timestamps, want, "fsync {fail_at} fails, host {h}");
            }
        };
        check(&db);
        drop(db);
        let db = Db::open(tmp.path(), options()).unwrap();
        check(&db);
    }
}
