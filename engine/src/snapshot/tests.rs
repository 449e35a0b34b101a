use super::*;

#[test]
fn a_directory_that_is_not_strata_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let err = take(d.path(), &d.path().join("out"), SnapshotOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("not a Strata data directory"),
        "{err}"
    );
}

#[test]
fn a_segment_is_linked_and_a_vanished_one_reported_as_not_found() {
    let d = tempfile::tempdir().unwrap();
    let from = d.path().join("a");
    std::fs::write(&from, b"bytes").unwrap();
    let to = d.path().join("b");
    assert!(
        !link_or_copy(&from, &to).unwrap(),
        "same filesystem: a link"
    );
    assert_eq!(std::fs::read(&to).unwrap(), b"bytes");
    let missing = link_or_copy(&d.path().join("gone"), &d.path().join("c")).unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
}

/// A closed data directory with several WAL files and no segments.
fn directory_with_wal_files() -> (tempfile::TempDir, Vec<u64>) {
    let d = tempfile::tempdir().unwrap();
    let opts = crate::Options {
        wal_segment_bytes: 2048,
        rotation_interval: std::time::Duration::ZERO,
        ..crate::Options::default()
    };
    let db = crate::Db::open(d.path(), opts).unwrap();
    for k in 0..300 {
        let lp = format!("m,h=a v={k}i {}\nm,h=b v={k}i {}\n", k + 1, k + 1);
        db.write_lp(lp.as_bytes(), crate::model::Precision::Second)
            .unwrap();
    }
    drop(db); // as a crash: everything stays in the WAL
    let files = wal::list_files(&d.path().join(WAL_DIR)).unwrap();
    assert!(files.len() >= 3, "{files:?}");
    (d, files)
}

fn append(p: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn writes_rolls_and_new_manifests_during_the_copy_leave_the_prefix_listed() {
    let (d, files) = directory_with_wal_files();
    let wal_dir = d.path().join(WAL_DIR);
    let lengths: Vec<u64> = files
        .iter()
        .map(|s| {
            std::fs::metadata(wal::file_path(&wal_dir, *s))
                .unwrap()
                .len()
        })
        .collect();
    let (first, newest) = (files[0], *files.last().unwrap());
    let out = tempfile::tempdir().unwrap();
    let report = attempt_once(
        d.path(),
        out.path(),
        SnapshotOptions::default(),
        &mut |seq| {
            if seq == first {
                // The newest file grows, the log rolls to a new file, a manifest is stored.
                append(&wal::file_path(&wal_dir, newest), b"late bytes");
                std::fs::write(wal::file_path(&wal_dir, newest + 1), b"").unwrap();
                let mut m = manifest::load(d.path()).unwrap().manifest;
                m.generation += 1;
                manifest::store(d.path(), &m).unwrap();
            }
        },
    )
    .unwrap()
    .expect("one attempt");
    assert_eq!(report.wal_files, files.len());
    let out_wal = out.path().join(WAL_DIR);
    assert_eq!(
        wal::list_files(&out_wal).unwrap(),
        files,
        "no file from after the listing"
    );
    for (seq, len) in files.iter().zip(&lengths) {
        let got = std::fs::metadata(wal::file_path(&out_wal, *seq))
            .unwrap()
            .len();
        assert_eq!(got, *len, "file {seq} copied as long as it was when listed");
    }
}

#[test]
fn a_record_caught_half_written_is_cut_off_the_copy() {
    let (d, files) = directory_with_wal_files();
    let wal_dir = d.path().join(WAL_DIR);
    let newest = wal::file_path(&wal_dir, *files.last().unwrap());
    let whole = std::fs::metadata(&newest).unwrap().len();
    // The first 10 bytes of a copy of the file's last record, as a writer mid-append.
    let bytes = std::fs::read(wal::file_path(&wal_dir, files[0])).unwrap();
    append(
        &newest,
        &bytes[wal::frame::HEADER_LEN..wal::frame::HEADER_LEN + 10],
    );
    let out = tempfile::tempdir().unwrap();
    let report = take(d.path(), &out.path().join("s"), SnapshotOptions::default()).unwrap();
    let copy = wal::file_path(&report.dir.join(WAL_DIR), *files.last().unwrap());
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), whole);
    let check = wal::verify_file(&copy, true).unwrap();
    assert!(check.problems.is_empty() && check.torn_tail_at.is_none());
}

#[test]
fn a_wal_file_the_manifest_needs_gone_from_the_listing_means_another_attempt() {
    assert!(needed_files_present(&[(3, 1), (4, 1), (5, 1)], Some(3)));
    assert!(
        needed_files_present(&[(1, 1), (4, 1), (5, 1)], Some(4)),
        "1 is covered"
    );
    assert!(
        !needed_files_present(&[(4, 1), (5, 1)], Some(3)),
        "3 is needed"
    );
    assert!(!needed_files_present(&[(3, 1), (5, 1)], Some(3)), "a hole");
    assert!(!needed_files_present(&[(3, 1), (5, 1)], None), "a hole");
    assert!(needed_files_present(&[], None));
    let (d, files) = directory_with_wal_files();
    let wal_dir = d.path().join(WAL_DIR);
    std::fs::remove_file(wal::file_path(&wal_dir, files[1])).unwrap();
    let out = tempfile::tempdir().unwrap();
    let gap = attempt_once(
        d.path(),
        out.path(),
        SnapshotOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(gap.is_none());
}

#[test]
fn a_newest_wal_file_just_rolled_and_still_empty_is_left_out() {
    // The log rolled an instant before the listing: the newest file has no whole
    // header yet. The copy drops it (it holds nothing) instead of failing on it.
    let (d, files) = directory_with_wal_files();
    let wal_dir = d.path().join(WAL_DIR);
    let newest = *files.last().unwrap() + 1;
    std::fs::write(wal::file_path(&wal_dir, newest), b"").unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = take(d.path(), &out.path().join("s"), SnapshotOptions::default()).unwrap();
    assert_eq!(report.wal_files, files.len(), "{report:?}");
    assert_eq!(
        wal::list_files(&report.dir.join(WAL_DIR)).unwrap(),
        files,
        "the empty file is not in the copy"
    );
    let snap = crate::Db::open(&report.dir, crate::Options::default()).unwrap();
    assert_eq!(snap.tier_stats().hot.points, 600);
}
