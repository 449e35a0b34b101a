//! WAL tests: group commit, replay, torn tails at every byte, mid-log corruption.

use super::frame::RecordKind;
use super::*;
use crate::error::Error;
use crate::options::FsyncPolicy;
use std::path::Path;

/// A key source that knows no series: these tests submit opaque records only.
fn keys() -> std::sync::Arc<dyn dict::SeriesKeys> {
    struct NoKeys;
    impl dict::SeriesKeys for NoKeys {
        fn keys(&self, ids: &[u32], _: &mut dyn FnMut(u32, &[u8])) -> Result<(), u32> {
            ids.first().map_or(Ok(()), |&id| Err(id))
        }
    }
    std::sync::Arc::new(NoKeys)
}

fn write_records(dir: &Path, payloads: &[Vec<u8>], segment_bytes: u64) {
    let wal = Wal::start(
        dir,
        1,
        0,
        FsyncPolicy::Always,
        segment_bytes,
        Default::default(),
        keys(),
    )
    .unwrap();
    for p in payloads {
        wal.submit(RecordKind::Delete, p, 0)
            .unwrap()
            .wait()
            .unwrap();
    }
    wal.shutdown(true).unwrap();
}

fn read_all(dir: &Path) -> crate::error::Result<(Vec<Vec<u8>>, ReplayStats)> {
    let mut out = Vec::new();
    let stats = replay(dir, 0, Recovery::Strict, |_, p, _, _, _| {
        out.push(p.to_vec());
        Ok(())
    })?;
    Ok((out, stats))
}

fn payloads(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("record number {i}").repeat(i % 4 + 1).into_bytes())
        .collect()
}

#[test]
fn records_replay_in_order_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads(200);
    write_records(dir.path(), &ps, 1024);
    assert!(
        list_files(dir.path()).unwrap().len() > 3,
        "segments should rotate"
    );
    let (got, stats) = read_all(dir.path()).unwrap();
    assert_eq!(got, ps);
    assert_eq!(stats.truncated_bytes, 0);
}

#[test]
fn concurrent_writers_are_group_committed_in_sequence_order() {
    let dir = tempfile::tempdir().unwrap();
    let wal = std::sync::Arc::new(
        Wal::start(
            dir.path(),
            1,
            0,
            FsyncPolicy::Always,
            1 << 30,
            Default::default(),
            keys(),
        )
        .unwrap(),
    );
    let mut handles = Vec::new();
    for t in 0..4u8 {
        let wal = wal.clone();
        handles.push(std::thread::spawn(move || {
            let mut seqs = Vec::new();
            for i in 0..100u32 {
                let mut p = vec![t];
                p.extend_from_slice(&i.to_le_bytes());
                let ticket = wal.submit(RecordKind::Delete, &p, 0).unwrap();
                seqs.push((ticket.seq, p));
                ticket.wait().unwrap();
            }
            seqs
        }));
    }
    let mut by_seq: Vec<(u64, Vec<u8>)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    by_seq.sort();
    wal.shutdown(true).unwrap();
    let (got, _) = read_all(dir.path()).unwrap();
    let want: Vec<Vec<u8>> = by_seq.into_iter().map(|(_, p)| p).collect();
    assert_eq!(got, want, "log order must be sequence order");
}

#[test]
fn cut_at_every_byte_of_the_last_record_keeps_every_earlier_record() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads(5);
    write_records(dir.path(), &ps, 1 << 30);
    let path = file_path(dir.path(), 1);
    let full = std::fs::read(&path).unwrap();
    let last_len = 8 + 1 + ps[4].len();
    let last_start = full.len() - last_len;
    for cut in last_start..full.len() {
        std::fs::write(&path, &full[..cut]).unwrap();
        let (got, stats) = read_all(dir.path()).unwrap();
        assert_eq!(got, ps[..4], "cut at {cut}");
        assert_eq!(stats.truncated_bytes, (cut - last_start) as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), last_start as u64);
        // A second replay finds a clean log.
        let (again, stats) = read_all(dir.path()).unwrap();
        assert_eq!(again, ps[..4]);
        assert_eq!(stats.truncated_bytes, 0);
    }
}

#[test]
fn flipped_byte_in_a_middle_record_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads(5);
    write_records(dir.path(), &ps, 1 << 30);
    let path = file_path(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let offset_of_third = frame::HEADER_LEN + (0..2).map(|i| 9 + ps[i].len()).sum::<usize>();
    bytes[offset_of_third + 12] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    match read_all(dir.path()) {
        Err(Error::Corrupt { file, offset, .. }) => {
            assert_eq!(file, path);
            assert_eq!(offset, offset_of_third as u64);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    // Nothing was truncated: the damage is left for the operator to see.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn damage_in_an_older_file_is_corruption_not_a_tail() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), &payloads(50), 512);
    let first = file_path(dir.path(), 1);
    let mut bytes = std::fs::read(&first).unwrap();
    let n = bytes.len();
    bytes.truncate(n - 3);
    std::fs::write(&first, &bytes).unwrap();
    assert!(matches!(read_all(dir.path()), Err(Error::Corrupt { offset, .. }) if offset > 0));
}

/// A failed WAL recovers at the next write: the file is cut back to the end of its last
/// acknowledged record (here a torn half record follows it, as a short write leaves), the
/// write is accepted and stored after it, and replay reads exactly the acknowledged ones.
#[test]
fn failed_wal_cuts_the_unacknowledged_tail_and_recovers_at_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::start(
        dir.path(),
        1,
        0,
        FsyncPolicy::Always,
        1 << 30,
        Default::default(),
        keys(),
    )
    .unwrap();
    wal.submit(RecordKind::Delete, b"ok", 0)
        .unwrap()
        .wait()
        .unwrap();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(file_path(dir.path(), 1))
            .unwrap();
        f.write_all(&[7; 5]).unwrap();
    }
    *wal.shared_failed_for_test() = Some("injected".into());
    assert_eq!(wal.failure().as_deref(), Some("injected"));
    wal.submit(RecordKind::Delete, b"after", 0)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(wal.failure(), None);
    wal.shutdown(true).unwrap();
    let (got, stats) = read_all(dir.path()).unwrap();
    assert_eq!(got, vec![b"ok".to_vec(), b"after".to_vec()]);
    assert_eq!(stats.truncated_bytes, 0);
}

#[test]
fn interval_policy_acknowledges_and_syncs_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::start(
        dir.path(),
        1,
        0,
        FsyncPolicy::Interval(writer::NEVER),
        1 << 30,
        Default::default(),
        keys(),
    )
    .unwrap();
    wal.submit(RecordKind::Delete, b"a", 0)
        .unwrap()
        .wait()
        .unwrap();
    wal.sync().unwrap();
    wal.shutdown(false).unwrap();
    let (got, _) = read_all(dir.path()).unwrap();
    assert_eq!(got, vec![b"a".to_vec()]);
}

#[test]
fn roll_starts_a_new_file_and_covered_files_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::start(
        dir.path(),
        1,
        0,
        FsyncPolicy::Always,
        1 << 30,
        Default::default(),
        keys(),
    )
    .unwrap();
    wal.submit(RecordKind::Delete, b"old", 100)
        .unwrap()
        .wait()
        .unwrap();
    let roll = wal.roll().unwrap();
    assert_eq!(roll.seq, 1);
    roll.wait().unwrap();
    assert_eq!(wal.current_file(), 2);
    wal.submit(RecordKind::Delete, b"new", 500)
        .unwrap()
        .wait()
        .unwrap();
    wal.roll().unwrap().wait().unwrap();
    assert_eq!(wal.current_file(), 3);
    // File 1 holds data up to 100, file 2 up to 500: a checkpoint at cutoff 200 covers 1 only.
    assert_eq!(wal.delete_covered(3, 200).unwrap(), vec![1]);
    assert_eq!(list_files(dir.path()).unwrap(), vec![2, 3]);
    assert_eq!(wal.delete_covered(3, 501).unwrap(), vec![2]);
    // The newest file is never deleted.
    assert_eq!(wal.delete_covered(10, i64::MAX).unwrap(), Vec::<u64>::new());
    wal.shutdown(true).unwrap();
    let (got, _) = read_all(dir.path()).unwrap();
    assert!(got.is_empty());
}

#[test]
fn skip_damaged_recovery_opens_past_a_middle_record() {
    let dir = tempfile::tempdir().unwrap();
    let ps = payloads(5);
    write_records(dir.path(), &ps, 1 << 30);
    let path = file_path(dir.path(), 1);
    let mut bytes = std::fs::read(&path).unwrap();
    let offset_of_third = frame::HEADER_LEN + (0..2).map(|i| 9 + ps[i].len()).sum::<usize>();
    bytes[offset_of_third + 12] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let mut got = Vec::new();
    let stats = replay(dir.path(), 0, Recovery::SkipDamaged, |_, p, _, _, _| {
        got.push(p.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(
        got,
        [ps[0].clone(), ps[1].clone(), ps[3].clone(), ps[4].clone()]
    );
    assert_eq!(stats.skipped_bytes, (9 + ps[2].len()) as u64);
    assert!(
        stats.skipped[0].contains(&format!("offset {offset_of_third}")),
        "{:?}",
        stats.skipped
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the damaged file is left as it is"
    );
}

/// Record kinds belong to format versions: a version 1 file holds by-key batches and
/// deletes, a version 2 file definitions, by-number batches and deletes. Anything else is
/// damage with its offset, in replay and in `verify`.
#[test]
fn a_record_kind_outside_its_files_version_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = file_path(dir.path(), 1);
    let mut v1 = frame::header();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32fast::hash(&v1[..12]);
    v1[12..].copy_from_slice(&crc.to_le_bytes());
    let cases = [
        (v1, RecordKind::Write, false),
        (v1, RecordKind::SeriesDefs, false),
        (v1, RecordKind::WriteKeys, true),
        (frame::header(), RecordKind::WriteKeys, false),
        (frame::header(), RecordKind::Write, true),
        (frame::header(), RecordKind::Delete, true),
    ];
    for (header, kind, allowed) in cases {
        let mut bytes = header.to_vec();
        frame::encode_record(kind, b"x", &mut bytes);
        frame::encode_record(RecordKind::Delete, b"after", &mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let got = read_all(dir.path());
        let check = verify_file(&path, true).unwrap();
        if allowed {
            assert_eq!(got.unwrap().0.len(), 2, "{kind:?}");
        } else {
            assert!(
                matches!(got, Err(Error::Corrupt { offset: 16, .. })),
                "{kind:?} in {header:?}: {got:?}"
            );
            assert_eq!(check.problems.len(), 1, "{kind:?}");
            assert!(
                check.problems[0].to_string().contains("offset 16"),
                "{}",
                check.problems[0]
            );
        }
    }
}
