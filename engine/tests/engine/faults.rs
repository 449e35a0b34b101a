//! Faults from the disk: a full disk mid-ingest, and an fsync that fails (injected through
//! the `failpoints` feature at each position of a run). The write that meets the fault is
//! refused, every later write is refused (a failed write or fsync is never retried as if
//! it had succeeded), reads keep working, and a reopen holds every acknowledged point.
//!
//! The full-disk test needs a small tmpfs (root and CAP_SYS_ADMIN, as on this project's
//! machines and CI); where mounting is refused it says so and does nothing.

use crate::common::*;
use std::process::Command;
use strata_engine::model::{Precision, TimeRange};
use strata_engine::{Db, Error};

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

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    let Some(mount) = Mount::tmpfs(&mnt, "4m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)");
        return;
    };
    let dir = mnt.join("data");
    let db = Db::open(&dir, options()).unwrap();
    let mut acked = 0usize;
    let err = loop {
        match db.write_lp(
            lp_batch(acked, 500, 20, 4, 0).as_bytes(),
            Precision::Nanosecond,
        ) {
            Ok(s) => {
                assert!(s.rejected.is_empty());
                acked += 500;
            }
            Err(e) => break e,
        }
        assert!(acked < 1_000_000, "the disk never filled");
    };
    assert!(acked > 0);
    let msg = err.to_string();
    assert!(matches!(err, Error::WalFailed { .. }), "{msg}");
    assert!(
        msg.contains("No space left") || msg.contains("space"),
        "{msg}"
    );
    // Later writes are refused, even small ones that might fit now.
    let again = db
        .write_lp(b"m,host=h0 f0=1i 1\n", Precision::Nanosecond)
        .unwrap_err();
    assert!(matches!(again, Error::WalFailed { .. }), "{again}");
    // Reads keep working and hold every acknowledged point.
    let check = |db: &Db| {
        for h in 0..20 {
            let c = read(db, &host("m", h), "f3");
            assert_eq!(c.len(), acked / 20, "host {h}");
            for (k, &v) in ints(&c).iter().enumerate() {
                assert_eq!(v, value(k * 20 + h, 3));
            }
        }
    };
    check(&db);
    drop(db);
    // More space: reopen cuts the torn tail the failed write left and keeps the rest.
    mount.grow("64m");
    let db = Db::open(&dir, options()).unwrap();
    check(&db);
    db.write_lp(
        lp_batch(acked, 500, 20, 4, 0).as_bytes(),
        Precision::Nanosecond,
    )
    .unwrap();
    db.close().unwrap();
    drop(mount);
}

/// A failing fsync (injected at every position of a run of batches): the batch whose fsync
/// failed is refused, the WAL is never retried as if it had succeeded (every later write is
/// refused too), reads keep working, and after a restart every acknowledged batch is there
/// exactly once.
#[test]
fn a_failed_fsync_refuses_the_write_and_every_later_one_and_loses_nothing_acknowledged() {
    for fail_at in 0..6u64 {
        let tmp = tempfile::tempdir().unwrap();
        let db = Db::open(tmp.path(), options()).unwrap();
        db.fail_wal_fsync_after(fail_at);
        let mut acked = 0usize;
        let mut refused = 0usize;
        for b in 0..8usize {
            match db.write_lp(
                lp_batch(b * 100, 100, 5, 2, 0).as_bytes(),
                Precision::Nanosecond,
            ) {
                Ok(s) => {
                    assert_eq!(refused, 0, "a write succeeded after a failed fsync");
                    assert!(s.rejected.is_empty());
                    acked += 1;
                }
                Err(e) => {
                    assert!(e.to_string().contains("fsync"), "{e}");
                    refused += 1;
                }
            }
        }
        assert_eq!(acked as u64, fail_at, "fsync {fail_at} fails");
        assert_eq!(refused, 8 - acked);
        // Reads still answer, with exactly the acknowledged batches.
        let count = |db: &Db| -> usize {
            (0..5)
                .map(|h| {
                    db.read_column(&host("m", h), "f0", TimeRange::ALL)
                        .unwrap()
                        .map_or(0, |c| c.timestamps.len())
                })
                .sum()
        };
        assert_eq!(count(&db), acked * 100);
        drop(db);
        let db = Db::open(tmp.path(), options()).unwrap();
        // The refused batch may have reached the disk before its fsync failed; nothing
        // acknowledged may be missing.
        let after = count(&db);
        assert!(
            after == acked * 100 || after == (acked + 1) * 100,
            "{after} after {acked} acked"
        );
    }
}
