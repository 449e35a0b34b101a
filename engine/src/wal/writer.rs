//! The WAL writer thread and the submission handle (group commit). The writer thread also
//! keeps the current file's series dictionary (`wal::dict`): before a group's records it
//! writes the definitions of the series numbers they use that the file lacks.

use super::batch::WriteRecord;
use super::dict::{Defined, SeriesKeys, encode_defs};
use super::file_path;
use super::frame::{self, RecordKind};
use crate::error::{Error, Result};
use crate::fault::{self, Site};
use crate::metrics::{Section, SectionSnapshot, SectionTimer};
use crate::options::FsyncPolicy;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Most bytes gathered into one group write.
const MAX_GROUP_BYTES: usize = 32 << 20;

/// A file is rolled at `segment_bytes`, or later while series definitions make up more
/// than `1 / DEFS_SHARE` of it, up to `MAX_SEGMENT_FACTOR` × `segment_bytes`: every file
/// defines each series its records use, so with many series written often, small files
/// would be mostly definitions written again in every file (1,000,000 series scraped every
/// 15 s define about 90 MiB per file: 64 MiB files were more than half definitions, and
/// the WAL wrote four times the bytes of its samples).
const DEFS_SHARE: u64 = 4;

/// The most a file grows past `segment_bytes` for its definitions' sake (see
/// [`DEFS_SHARE`]): a WAL file is at most this many times `segment_bytes` (plus a group).
pub const MAX_SEGMENT_FACTOR: u64 = 8;

/// Under `fsync = always`, the longest a deferred record ([`Wal::submit_write_deferred`])
/// stays written but not fsynced.
pub const DEFERRED_SYNC: std::time::Duration = std::time::Duration::from_secs(1);

enum Request {
    Append {
        frame: Vec<u8>,
        /// Series numbers the record uses (a `Write` record's table; empty otherwise).
        series: Vec<u32>,
        max_ts: i64,
        /// Acknowledged once written, fsynced within [`DEFERRED_SYNC`] (under `always`):
        /// see [`Wal::submit_write_deferred`].
        deferred: bool,
        reply: Sender<Result<(), String>>,
    },
    Sync {
        reply: Sender<Result<(), String>>,
    },
    Roll {
        reply: Sender<Result<(), String>>,
    },
}

struct Submitter {
    next_seq: u64,
    tx: Option<Sender<Request>>,
}

/// Shared between the handle and the writer thread.
struct Shared {
    /// The failure not recovered from yet: set by a failed write or fsync, cleared when
    /// the writer has cut the file back to its last acknowledged record (`Writer::recover`).
    failed: Mutex<Option<String>>,
    /// Every live WAL file and the largest timestamp written to it (`i64::MIN` if none).
    /// The writer thread adds files and raises maxima; `delete_covered` removes files.
    files: Mutex<std::collections::BTreeMap<u64, i64>>,
    /// fsync latency, recorded by the writer thread.
    fsync_latency: crate::metrics::LatencyHistogram,
    /// The submission lock: waits for it and time holding it.
    submit_time: SectionTimer,
    /// The writer thread's time per commit group, fsyncs excluded.
    write_time: SectionTimer,
    /// Test hook: fsyncs left before one fails (negative: never); reset to -1 when it fires.
    #[cfg(feature = "failpoints")]
    fsyncs_before_failure: std::sync::atomic::AtomicI64,
}

/// The WAL handle: submit records, wait for them to be durable.
pub struct Wal {
    dir: PathBuf,
    submit: Mutex<Submitter>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A submitted record: its sequence number, and the wait for durability.
#[must_use = "a write is not acknowledged until its ticket is waited on"]
pub struct Ticket {
    /// Submission order: records are written, and must be applied, in this order.
    pub seq: u64,
    rx: crossbeam_channel::Receiver<Result<(), String>>,
}

impl Ticket {
    /// Blocks until the record is written under the fsync policy, or the WAL failed.
    pub fn wait(self) -> Result<()> {
        match self.rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(Error::WalFailed { reason }),
            Err(_) => Err(Error::WalFailed {
                reason: "the WAL writer stopped before writing the record".into(),
            }),
        }
    }
}

impl Wal {
    /// Starts a WAL writing new file number `seq` in `dir` (which must exist), and the first
    /// record gets sequence number `first_seq`. `existing` lists the files already present
    /// (from replay) with the largest timestamp each holds. `keys` gives the key of each
    /// series number a `Write` record uses, for the file's definitions.
    pub fn start(
        dir: &Path,
        file_seq: u64,
        first_seq: u64,
        fsync: FsyncPolicy,
        segment_bytes: u64,
        existing: std::collections::BTreeMap<u64, i64>,
        keys: Arc<dyn SeriesKeys>,
    ) -> Result<Wal> {
        let file = create_file(dir, file_seq)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut files = existing;
        files.insert(file_seq, i64::MIN);
        let shared = Arc::new(Shared {
            failed: Mutex::new(None),
            files: Mutex::new(files),
            fsync_latency: Default::default(),
            submit_time: Default::default(),
            write_time: Default::default(),
            #[cfg(feature = "failpoints")]
            fsyncs_before_failure: std::sync::atomic::AtomicI64::new(-1),
        });
        let mut w = Writer {
            dir: dir.to_path_buf(),
            file,
            file_seq,
            file_len: frame::HEADER_LEN as u64,
            good_len: frame::HEADER_LEN as u64,
            defs_len: 0,
            fsync,
            segment_bytes: segment_bytes.max(frame::HEADER_LEN as u64 + 1),
            shared: shared.clone(),
            last_sync: Instant::now(),
            dirty: false,
            fsync_in_commit: std::time::Duration::ZERO,
            keys,
            defined: Defined::default(),
        };
        let thread = std::thread::Builder::new()
            .name("strata-wal".into())
            .spawn(move || w.run(rx))
            .map_err(|e| Error::io(dir, e))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            submit: Mutex::new(Submitter {
                next_seq: first_seq,
                tx: Some(tx),
            }),
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Frames `payload`, a record that names no series (a delete), and hands it to the
    /// writer thread. The returned ticket's sequence number fixes the record's place in
    /// the log. `max_ts` is the largest timestamp in the record, which decides when a
    /// checkpoint makes its file unnecessary. Write batches go through
    /// [`Wal::submit_write`], series definitions are the writer thread's alone.
    pub fn submit(&self, kind: RecordKind, payload: &[u8], max_ts: i64) -> Result<Ticket> {
        if matches!(
            kind,
            RecordKind::Write | RecordKind::SeriesDefs | RecordKind::WriteKeys
        ) {
            return Err(Error::Internal(format!(
                "{kind:?} records are not submitted with Wal::submit"
            )));
        }
        let mut framed = Vec::new();
        frame::encode_record(kind, payload, &mut framed);
        self.submit_frame(framed, Vec::new(), max_ts, false, "delete")
    }

    /// [`Wal::submit`] for a `Write` batch ([`BatchEncoder::finish_record`]): the writer
    /// thread defines the series numbers its table holds that the file has not defined yet
    /// ahead of the record.
    ///
    /// [`BatchEncoder::finish_record`]: super::batch::BatchEncoder::finish_record
    pub fn submit_write(&self, record: WriteRecord, max_ts: i64) -> Result<Ticket> {
        self.submit_frame(record.frame, record.series, max_ts, false, "write batch")
    }

    /// [`Wal::submit_write`] for a batch nobody waits to see acknowledged as durable (a
    /// scraped page): its ticket resolves once the record is written to the file, and the
    /// file is fsynced within [`DEFERRED_SYNC`] under `always` (under `interval`, at its
    /// interval; under `never`, not). Records stay in submission order, and a later
    /// record's fsync covers it. Power loss can take the last second of deferred records,
    /// as it takes Prometheus' unsynced WAL pages.
    pub fn submit_write_deferred(&self, record: WriteRecord, max_ts: i64) -> Result<Ticket> {
        self.submit_frame(record.frame, record.series, max_ts, true, "write batch")
    }

    /// Hands `framed` (a `what` record: "write batch", "delete") to the WAL thread.
    fn submit_frame(
        &self,
        framed: Vec<u8>,
        series: Vec<u32>,
        max_ts: i64,
        deferred: bool,
        what: &str,
    ) -> Result<Ticket> {
        if framed.len() > frame::MAX_RECORD_LEN {
            return Err(Error::InvalidInput(format!(
                "a {what} of {} bytes exceeds the WAL record limit of {} bytes; split it",
                framed.len(),
                frame::MAX_RECORD_LEN
            )));
        }
        let (reply, rx) = crossbeam_channel::bounded(1);
        let asked = Instant::now();
        let mut s = self.submit.lock();
        let entered = Instant::now();
        let tx = s.tx.as_ref().ok_or(Error::Closed)?;
        tx.send(Request::Append {
            frame: framed,
            series,
            max_ts,
            deferred,
            reply,
        })
        .map_err(|_| Error::Closed)?;
        let seq = s.next_seq;
        s.next_seq += 1;
        drop(s);
        self.shared.submit_time.record_since(asked, entered);
        Ok(Ticket { seq, rx })
    }

    /// Ends the current file and starts a new one. The ticket's sequence number is the
    /// boundary: every record with a smaller number is in an older file, every later one
    /// in the new file or after. Once the ticket resolves, [`Wal::current_file`] is the
    /// new file (or a later one).
    pub fn roll(&self) -> Result<Ticket> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        let ticket = {
            let mut s = self.submit.lock();
            let tx = s.tx.as_ref().ok_or(Error::Closed)?;
            tx.send(Request::Roll { reply })
                .map_err(|_| Error::Closed)?;
            let seq = s.next_seq;
            s.next_seq += 1;
            Ticket { seq, rx }
        };
        Ok(ticket)
    }

    /// The newest WAL file's number.
    pub fn current_file(&self) -> u64 {
        self.shared
            .files
            .lock()
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
    }

    /// Deletes the WAL files numbered below `before` whose largest timestamp is below
    /// `cutoff` (a checkpoint `(before, cutoff)` says segments hold all of that data), as
    /// long as every file before them goes too: a file that stays is replayed, and the
    /// deletes recorded after it in later files must then be replayed as well, or the
    /// values they removed would come back. Returns the files deleted.
    pub fn delete_covered(&self, before: u64, cutoff: i64) -> Result<Vec<u64>> {
        let doomed: Vec<u64> = {
            let files = self.shared.files.lock();
            let newest = files.keys().next_back().copied().unwrap_or(0);
            files
                .iter()
                .take_while(|&(&f, &max)| f < before && f != newest && max < cutoff)
                .map(|(&f, _)| f)
                .collect()
        };
        for &f in &doomed {
            let path = super::file_path(&self.dir, f);
            match fault::remove(Site::Delete, &path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
            self.shared.files.lock().remove(&f);
        }
        if !doomed.is_empty() {
            fault::sync_dir(Site::Delete, &self.dir).map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(doomed)
    }

    /// Live WAL files and their sizes in bytes.
    pub fn files(&self) -> Vec<(u64, u64)> {
        let files: Vec<u64> = self.shared.files.lock().keys().copied().collect();
        files
            .into_iter()
            .map(|f| {
                let len = std::fs::metadata(super::file_path(&self.dir, f)).map_or(0, |m| m.len());
                (f, len)
            })
            .collect()
    }

    /// Latency of the fsyncs done so far.
    pub fn fsync_latency(&self) -> crate::metrics::HistogramSnapshot {
        self.shared.fsync_latency.snapshot()
    }

    /// The WAL's serialised sections: the submission lock, the writer thread's writes and
    /// its fsyncs (whose time is the fsync histogram's sum).
    pub fn sections(&self) -> [SectionSnapshot; 3] {
        let fsync = self.shared.fsync_latency.snapshot();
        [
            self.shared.submit_time.snapshot(Section::WalSubmit),
            self.shared.write_time.snapshot(Section::WalWrite),
            SectionSnapshot {
                section: Section::WalFsync,
                count: fsync.count,
                hold_seconds: fsync.sum_seconds,
                wait_seconds: 0.0,
            },
        ]
    }

    /// Forces an fsync of everything written so far (whatever the policy).
    pub fn sync(&self) -> Result<()> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        {
            let s = self.submit.lock();
            let tx = s.tx.as_ref().ok_or(Error::Closed)?;
            tx.send(Request::Sync { reply })
                .map_err(|_| Error::Closed)?;
        }
        Ticket { seq: 0, rx }.wait()
    }

    /// Stops the writer thread after it has written everything submitted. With `sync`,
    /// fsyncs first.
    pub fn shutdown(&self, sync: bool) -> Result<()> {
        let res = if sync { self.sync() } else { Ok(()) };
        self.submit.lock().tx = None;
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
        res
    }

    /// Test hook: after `n` more successful fsyncs, the next one fails with an I/O error
    /// (once).
    #[cfg(feature = "failpoints")]
    pub fn fail_fsync_after(&self, n: u64) {
        self.shared.fsyncs_before_failure.store(
            i64::try_from(n).unwrap_or(i64::MAX),
            std::sync::atomic::Ordering::Release,
        );
    }

    #[cfg(test)]
    pub(crate) fn shared_failed_for_test(&self) -> parking_lot::MutexGuard<'_, Option<String>> {
        self.shared.failed.lock()
    }

    /// The failure the WAL has not recovered from yet, if any (the next write tries).
    pub fn failure(&self) -> Option<String> {
        self.shared.failed.lock().clone()
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown(false);
    }
}

/// Creates WAL file `seq` holding its header, durably (file and directory fsynced). On a
/// failure the partial file is removed (best effort: a file without records is also
/// removed by the next open), so that a later attempt can create it again.
fn create_file(dir: &Path, seq: u64) -> Result<File> {
    let path = file_path(dir, seq);
    let mut opts = OpenOptions::new();
    opts.create_new(true).append(true);
    let mut f = fault::create(Site::WalRoll, &path, &opts).map_err(|e| Error::io(&path, e))?;
    let written = fault::write_all(Site::WalRoll, &path, &mut f, &frame::header())
        .and_then(|_| fault::sync(Site::WalRoll, &path, &f, false))
        .map_err(|e| Error::io(&path, e))
        .and_then(|_| fault::sync_dir(Site::WalRoll, dir).map_err(|e| Error::io(dir, e)));
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(f)
}

struct Writer {
    dir: PathBuf,
    file: File,
    file_seq: u64,
    file_len: u64,
    /// The end of the last record acknowledged (under `always`: fsynced) in the current
    /// file: recovery after a failure cuts the file back to it.
    good_len: u64,
    /// Bytes of `SeriesDefs` records in the current file (up to `good_len`).
    defs_len: u64,
    fsync: FsyncPolicy,
    segment_bytes: u64,
    shared: Arc<Shared>,
    last_sync: Instant,
    dirty: bool,
    /// Time spent in fsync during the current commit group (kept out of its write time).
    fsync_in_commit: std::time::Duration,
    /// Where the keys of series numbers to define are looked up.
    keys: Arc<dyn SeriesKeys>,
    /// The series numbers the current file defines (up to `good_len`, plus the group
    /// being written); cleared when a new file starts.
    defined: Defined,
}

impl Writer {
    /// The longest written records stay unsynced: the `interval`, or [`DEFERRED_SYNC`]
    /// under `always` (where only deferred records leave the file dirty).
    fn sync_every(&self) -> Option<std::time::Duration> {
        match self.fsync {
            FsyncPolicy::Interval(every) => Some(every),
            FsyncPolicy::Always => Some(DEFERRED_SYNC),
            FsyncPolicy::Never => None,
        }
    }

    /// The size at which the current file is rolled: see [`DEFS_SHARE`].
    fn roll_at(&self) -> u64 {
        let for_defs = self.defs_len.saturating_mul(DEFS_SHARE);
        let most = self.segment_bytes.saturating_mul(MAX_SEGMENT_FACTOR);
        self.segment_bytes.max(for_defs.min(most))
    }

    fn run(&mut self, rx: Receiver<Request>) {
        let mut group: Vec<Request> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let first = match self.sync_every() {
                Some(every) if self.dirty => {
                    let wait = every.saturating_sub(self.last_sync.elapsed());
                    match rx.recv_timeout(wait) {
                        Ok(r) => r,
                        Err(RecvTimeoutError::Timeout) => {
                            let _ = self.sync_now();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                _ => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            let first_is_roll = matches!(first, Request::Roll { .. });
            group.push(first);
            let mut bytes = 0;
            while !first_is_roll && bytes < MAX_GROUP_BYTES {
                match rx.try_recv() {
                    Ok(r) => {
                        let roll = matches!(r, Request::Roll { .. });
                        if let Request::Append { frame, .. } = &r {
                            bytes += frame.len();
                        }
                        group.push(r);
                        if roll {
                            // Records after a roll belong to the new file: commit now.
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            self.commit(&mut group, &mut buf);
        }
        // Disconnected: everything submitted has been handled. Under `interval`, leave
        // nothing unsynced behind on a clean stop.
        if self.dirty && self.fsync != FsyncPolicy::Never {
            let _ = self.sync_now();
        }
    }

    fn commit(&mut self, group: &mut Vec<Request>, buf: &mut Vec<u8>) {
        let started = Instant::now();
        self.fsync_in_commit = std::time::Duration::ZERO;
        let (result, rolled) = self.commit_group(group, buf);
        let busy = started.elapsed().saturating_sub(self.fsync_in_commit);
        // Recorded before the replies: a writer that got its acknowledgement finds its
        // pass counted in `/metrics`.
        self.shared
            .write_time
            .record(std::time::Duration::ZERO, busy);
        for r in group.drain(..) {
            let (reply, res) = match r {
                Request::Append { reply, .. } | Request::Sync { reply } => (reply, &result),
                Request::Roll { reply } => (reply, &rolled),
            };
            let _ = reply.send(res.clone());
        }
        if result.is_ok()
            && self.file_len >= self.roll_at()
            && let Err(reason) = self.rotate()
        {
            tracing::warn!("WAL file roll failed (retried after the next write): {reason}");
        }
    }

    /// Writes (and syncs, per the policy) a group and rolls the file if the group asked:
    /// the group's result and the roll's.
    fn commit_group(
        &mut self,
        group: &[Request],
        buf: &mut Vec<u8>,
    ) -> (Result<(), String>, Result<(), String>) {
        buf.clear();
        let always = self.fsync == FsyncPolicy::Always;
        let mut want_sync = false;
        let mut max_ts = i64::MIN;
        let mut roll = false;
        for r in group.iter() {
            match r {
                Request::Append {
                    max_ts: m,
                    deferred,
                    ..
                } => {
                    max_ts = max_ts.max(*m);
                    want_sync |= always && !deferred;
                }
                Request::Sync { .. } => want_sync = true,
                Request::Roll { .. } => {
                    roll = true;
                    want_sync |= always;
                }
            }
        }
        // A steady stream of groups never lets the idle timer in `run` fire: a group that
        // finds the last fsync overdue syncs itself.
        want_sync |= self.dirty
            && self
                .sync_every()
                .is_some_and(|every| self.last_sync.elapsed() >= every);
        let failed = self.shared.failed.lock().is_some();
        let mut result = if failed { self.recover() } else { Ok(()) };
        if result.is_ok() {
            // Definitions first: every record of the group comes after them.
            result = self.define(group, buf);
        }
        let defs_len = buf.len() as u64;
        if result.is_ok() {
            for r in group.iter() {
                if let Request::Append { frame, .. } = r {
                    buf.extend_from_slice(frame);
                }
            }
            result = self.write_and_sync(buf, want_sync);
        }
        if result.is_err() {
            // Nothing of the group stays in the file (recovery cuts it back to
            // `good_len`), so neither do its definitions.
            self.defined.rollback();
        }
        if result.is_ok() {
            self.defined.commit();
            self.good_len = self.file_len;
            self.defs_len += defs_len;
            if max_ts > i64::MIN {
                let mut files = self.shared.files.lock();
                let m = files.entry(self.file_seq).or_insert(i64::MIN);
                *m = (*m).max(max_ts);
            }
        }
        // A roll that cannot create the new file fails alone: the current file is intact
        // and stays current, the records of the group are acknowledged, and the rotation
        // that asked for the roll reports the error and is retried later.
        let rolled = match &result {
            Ok(()) if roll => self.rotate(),
            other => other.clone(),
        };
        (result, rolled)
    }

    /// Appends to `buf` the definitions of the series numbers the group's records use
    /// that the current file has not defined (marking them defined by the group).
    fn define(&mut self, group: &[Request], buf: &mut Vec<u8>) -> Result<(), String> {
        for r in group {
            if let Request::Append { series, .. } = r {
                for &id in series {
                    self.defined.insert(id);
                }
            }
        }
        encode_defs(&*self.keys, self.defined.added(), buf).map_err(|id| {
            format!(
                "internal error: series number {id} has no key to define it with; nothing written"
            )
        })
    }

    /// Recovery after a failed write or fsync, tried before the next group: cut the file
    /// back to the end of its last acknowledged record (dropping whatever the failure left
    /// after it: a partial record, or records whose fsync failed and that were refused)
    /// and fsync it. Only if that succeeds is the failure cleared; otherwise the group is
    /// refused with both reasons and the next one tries again. Bytes before `good_len`
    /// were fsynced by an earlier successful fsync (under `always`), so they are intact
    /// whatever the failed fsync dropped.
    fn recover(&mut self) -> Result<(), String> {
        let path = file_path(&self.dir, self.file_seq);
        let reason = self.shared.failed.lock().clone().unwrap_or_default();
        let cut = self
            .file
            .set_len(self.good_len)
            .and_then(|_| fault::sync(Site::WalAppend, &path, &self.file, false));
        match cut {
            Ok(()) => {
                tracing::warn!(
                    "WAL recovered from \"{reason}\": {} cut back to {} bytes",
                    path.display(),
                    self.good_len
                );
                self.file_len = self.good_len;
                self.dirty = false;
                self.last_sync = Instant::now();
                *self.shared.failed.lock() = None;
                Ok(())
            }
            Err(e) => Err(format!(
                "{reason} (recovery, cutting {} back to {} bytes, failed too: {e})",
                path.display(),
                self.good_len
            )),
        }
    }

    fn write_and_sync(&mut self, buf: &[u8], want_sync: bool) -> Result<(), String> {
        if !buf.is_empty() {
            let path = file_path(&self.dir, self.file_seq);
            if let Err(e) = fault::write_all(Site::WalAppend, &path, &mut self.file, buf) {
                return Err(self.fail(format!(
                    "write to {} failed: {e}",
                    file_path(&self.dir, self.file_seq).display()
                )));
            }
            self.file_len += buf.len() as u64;
            self.dirty = true;
        }
        if want_sync {
            self.sync_now()?;
        }
        Ok(())
    }

    fn sync_now(&mut self) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        #[cfg(feature = "failpoints")]
        {
            use std::sync::atomic::Ordering;
            let left = self.shared.fsyncs_before_failure.load(Ordering::Acquire);
            if left == 0 {
                // One failure, then fsyncs work again.
                self.shared
                    .fsyncs_before_failure
                    .store(-1, Ordering::Release);
                return Err(self.fail(format!(
                    "fsync of {} failed: injected I/O error",
                    file_path(&self.dir, self.file_seq).display()
                )));
            }
            if left > 0 {
                self.shared
                    .fsyncs_before_failure
                    .store(left - 1, Ordering::Release);
            }
        }
        let started = Instant::now();
        let path = file_path(&self.dir, self.file_seq);
        let synced = fault::sync(Site::WalAppend, &path, &self.file, true);
        let took = started.elapsed();
        self.shared.fsync_latency.observe(took);
        self.fsync_in_commit += took;
        if let Err(e) = synced {
            // A failed fsync may have dropped dirty pages: the file's content is unknown.
            return Err(self.fail(format!(
                "fsync of {} failed: {e}",
                file_path(&self.dir, self.file_seq).display()
            )));
        }
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), String> {
        if self.fsync != FsyncPolicy::Never {
            self.sync_now()?;
        }
        let next = self.file_seq + 1;
        self.file = create_file(&self.dir, next).map_err(|e| e.to_string())?;
        self.file_seq = next;
        self.file_len = frame::HEADER_LEN as u64;
        self.good_len = self.file_len;
        self.defs_len = 0;
        // Numbers mean nothing across files: the new file defines its own.
        self.defined.clear();
        self.shared.files.lock().insert(next, i64::MIN);
        Ok(())
    }

    fn fail(&self, reason: String) -> String {
        let mut f = self.shared.failed.lock();
        if f.is_none() {
            tracing::error!("WAL failed: {reason}");
            *f = Some(reason.clone());
        }
        reason
    }
}

#[cfg(test)]
mod tests;

/// Used by tests: an interval long enough never to fire.
#[cfg(test)]
pub(crate) const NEVER: std::time::Duration = std::time::Duration::from_secs(3600);
