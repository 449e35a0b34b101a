//! The writer thread's series dictionary: definitions once per file ahead of the first
//! use, again in a rolled file, again after a failed group (whose definitions were cut),
//! and a group refused when a number has no key.

use super::*;
use crate::fault::{self, Kind};
use crate::model::FieldValueRef;
use crate::wal::batch::{BatchEncoder, SeriesNaming, SeriesTable, decode_batch};
use crate::wal::dict::decode_defs;
use crate::wal::{Recovery, replay, verify_file};

/// Keys `\x01s<id>` for ids below 100.
struct Keys;

impl SeriesKeys for Keys {
    fn keys(&self, ids: &[u32], each: &mut dyn FnMut(u32, &[u8])) -> std::result::Result<(), u32> {
        for &id in ids {
            if id >= 100 {
                return Err(id);
            }
            let name = format!("s{id}");
            let mut key = vec![name.len() as u8];
            key.extend_from_slice(name.as_bytes());
            each(id, &key);
        }
        Ok(())
    }
}

fn start(dir: &Path) -> Wal {
    Wal::start(
        dir,
        1,
        0,
        FsyncPolicy::Always,
        1 << 30,
        Default::default(),
        Arc::new(Keys),
    )
    .unwrap()
}

/// Writes a batch of one line per series in `ids` and waits for it.
fn write(wal: &Wal, ids: &[u32]) -> Result<()> {
    wal.submit_write(record(ids), 0)?.wait()
}

/// What the log holds, in order: (file, "D" + numbers defined | "W" + numbers used).
fn log(dir: &Path) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    replay(dir, 0, Recovery::Strict, |kind, payload, seq, _, _| {
        let text = match kind {
            RecordKind::SeriesDefs => {
                let defs = decode_defs(payload).unwrap();
                for (id, key) in &defs {
                    assert_eq!(key[1..], *format!("s{id}").as_bytes());
                }
                let ids: Vec<String> = defs.iter().map(|d| d.0.to_string()).collect();
                format!("D{}", ids.join(","))
            }
            RecordKind::Write => {
                let b = decode_batch(payload, SeriesNaming::Numbers).unwrap();
                let SeriesTable::Numbers(ids) = b.series else {
                    unreachable!("numbers were asked for")
                };
                let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
                format!("W{}", ids.join(","))
            }
            other => format!("{other:?}"),
        };
        out.push((seq, text));
        Ok(())
    })
    .unwrap();
    for f in super::super::list_files(dir).unwrap() {
        let check = verify_file(&file_path(dir, f), true).unwrap();
        assert!(check.problems.is_empty(), "{:?}", check.problems);
    }
    out
}

fn entries(items: &[(u64, &str)]) -> Vec<(u64, String)> {
    items.iter().map(|&(f, t)| (f, t.to_owned())).collect()
}

#[test]
fn each_file_defines_a_series_once_ahead_of_its_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let wal = start(dir.path());
    write(&wal, &[1, 2]).unwrap();
    write(&wal, &[2, 3]).unwrap();
    write(&wal, &[3, 2, 1]).unwrap();
    wal.roll().unwrap().wait().unwrap();
    write(&wal, &[2]).unwrap();
    wal.shutdown(true).unwrap();
    assert_eq!(
        log(dir.path()),
        entries(&[
            (1, "D1,2"),
            (1, "W1,2"),
            (1, "D3"),
            (1, "W2,3"),
            (1, "W3,2,1"),
            (2, "D2"),
            (2, "W2"),
        ])
    );
}

#[test]
fn a_failed_groups_definitions_are_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let wal = start(dir.path());
    write(&wal, &[1]).unwrap();
    fault::arm(dir.path(), Site::WalAppend, Kind::ShortWrite, Some(1));
    assert!(
        write(&wal, &[5, 1]).is_err(),
        "the short write fails the group"
    );
    fault::clear(dir.path());
    write(&wal, &[5]).unwrap();
    wal.shutdown(true).unwrap();
    assert_eq!(
        log(dir.path()),
        entries(&[(1, "D1"), (1, "W1"), (1, "D5"), (1, "W5")])
    );
}

#[test]
fn a_number_without_a_key_refuses_its_group_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let wal = start(dir.path());
    let err = write(&wal, &[4, 100]).unwrap_err();
    assert!(err.to_string().contains("series number 100"), "{err}");
    assert_eq!(wal.failure(), None, "the file was not touched");
    write(&wal, &[4]).unwrap();
    wal.shutdown(true).unwrap();
    assert_eq!(log(dir.path()), entries(&[(1, "D4"), (1, "W4")]));
}

#[test]
fn opaque_submissions_cannot_pose_as_batches_or_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let wal = start(dir.path());
    for kind in [
        RecordKind::Write,
        RecordKind::SeriesDefs,
        RecordKind::WriteKeys,
    ] {
        assert!(matches!(wal.submit(kind, b"x", 0), Err(Error::Internal(_))));
    }
    wal.shutdown(true).unwrap();
    assert!(log(dir.path()).is_empty());
}

/// A batch of one line per series in `ids`.
fn record(ids: &[u32]) -> WriteRecord {
    let mut e = BatchEncoder::default();
    for &id in ids {
        let s = e.add_series(id);
        e.begin_line(s, i64::from(id));
        e.field("v", FieldValueRef::Integer(1));
        e.end_line();
    }
    e.finish_record()
}

/// Waits up to 5 s for `wal`'s fsync count to reach `n`.
fn await_fsyncs(wal: &Wal, n: u64) -> u64 {
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let c = wal.fsync_latency().count;
        if c >= n || Instant::now() > deadline {
            return c;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Under `always`, a deferred batch is acknowledged once written, without an fsync of its
/// own; the file is fsynced within `DEFERRED_SYNC` all the same, and a batch that waits
/// for its fsync covers the deferred ones before it.
#[test]
fn deferred_batches_are_written_at_once_and_synced_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let wal = start(dir.path());
    let started = Instant::now();
    wal.submit_write_deferred(record(&[1]), 0)
        .unwrap()
        .wait()
        .unwrap();
    wal.submit_write_deferred(record(&[2]), 0)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(
        wal.fsync_latency().count,
        0,
        "acknowledged before any fsync"
    );
    assert_eq!(await_fsyncs(&wal, 1), 1, "synced by the idle timer");
    assert!(
        started.elapsed() >= DEFERRED_SYNC.mul_f64(0.9),
        "not before the bound"
    );
    wal.submit_write_deferred(record(&[3]), 0)
        .unwrap()
        .wait()
        .unwrap();
    write(&wal, &[4]).unwrap();
    assert_eq!(
        wal.fsync_latency().count,
        2,
        "the waiting batch synced both"
    );
    wal.shutdown(true).unwrap();
    assert_eq!(
        log(dir.path()),
        entries(&[
            (1, "D1"),
            (1, "W1"),
            (1, "D2"),
            (1, "W2"),
            (1, "D3"),
            (1, "W3"),
            (1, "D4"),
            (1, "W4")
        ])
    );
}

/// A steady stream of batches never leaves the writer idle long enough for its timer:
/// the fsync still comes, from the first group that finds it overdue (under `interval`,
/// and for deferred batches under `always`).
#[test]
fn a_steady_stream_does_not_postpone_the_fsync() {
    for policy in [
        FsyncPolicy::Interval(std::time::Duration::from_millis(100)),
        FsyncPolicy::Always,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::start(
            dir.path(),
            1,
            0,
            policy,
            1 << 30,
            Default::default(),
            Arc::new(Keys),
        )
        .unwrap();
        let until = Instant::now() + DEFERRED_SYNC * 3;
        let mut tickets = Vec::new();
        while Instant::now() < until {
            // Many submissions in flight, so that the queue is rarely empty.
            for _ in 0..8 {
                tickets.push(wal.submit_write_deferred(record(&[1]), 0).unwrap());
            }
            for t in tickets.drain(..) {
                t.wait().unwrap();
            }
        }
        assert!(
            wal.fsync_latency().count >= 2,
            "{policy:?}: {} fsyncs in {:?} of steady writes",
            wal.fsync_latency().count,
            DEFERRED_SYNC * 3
        );
        wal.shutdown(true).unwrap();
    }
}

/// Keys of 300 bytes: definitions outweigh the lines that use them.
struct LongKeys;

impl SeriesKeys for LongKeys {
    fn keys(&self, ids: &[u32], each: &mut dyn FnMut(u32, &[u8])) -> std::result::Result<(), u32> {
        for &id in ids {
            each(id, &[b'k'; 300]);
        }
        Ok(())
    }
}

#[test]
fn a_file_mostly_definitions_rolls_later_up_to_a_bound() {
    // The sizes of the files a 1000-byte-segment WAL leaves after `writes` writes of ten
    // series whose keys `keys` gives.
    let sizes = |keys: Arc<dyn SeriesKeys>, writes: usize| -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::start(
            dir.path(),
            1,
            0,
            FsyncPolicy::Never,
            1000,
            Default::default(),
            keys,
        )
        .unwrap();
        let ids: Vec<u32> = (0..10).collect();
        for _ in 0..writes {
            write(&wal, &ids).unwrap();
        }
        wal.shutdown(true).unwrap();
        super::super::list_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| std::fs::metadata(file_path(dir.path(), f)).unwrap().len())
            .collect()
    };
    // Definitions a small part of each file: rolled at `segment_bytes`.
    let s = sizes(Arc::new(Keys), 20);
    assert!(s.len() > 2, "{s:?}");
    assert!(
        s[..s.len() - 1].iter().all(|&n| (1000..1400).contains(&n)),
        "{s:?}"
    );
    // Definitions of 3 KB per file: it grows to 4 × theirs, bounded by 8 × 1000 bytes.
    let s = sizes(Arc::new(LongKeys), 60);
    assert!(s.len() > 2, "{s:?}");
    let most = 1000 * MAX_SEGMENT_FACTOR;
    assert!(
        s[..s.len() - 1]
            .iter()
            .all(|&n| (most..most + 400).contains(&n)),
        "{s:?}"
    );
}
