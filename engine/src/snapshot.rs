//! Snapshots: a consistent copy of a data directory, live or not, made from its files
//! alone. The CLI uses it on a directory a running server holds (without its lock); the
//! server uses it on its own directory with the manifest lock held, so nothing moves.
//!
//! It relies on these invariants of the engine (see `db/rotate.rs`, `db/compact.rs`,
//! `manifest.rs`, `wal/mod.rs`):
//! - a segment file is immutable once written, and is deleted only after a newer manifest
//!   has stopped naming it;
//! - WAL files are only appended to, and a WAL file is deleted only after a manifest whose
//!   checkpoint covers it has been stored;
//! - manifest generation G together with the WAL files present while G is the newest is a
//!   complete state: replay rebuilds whatever G's segments do not hold.
//!
//! Procedure: read the newest manifest G; hard-link every segment G names (copy when the
//! target is on another filesystem) and every rollup file published at G (its source
//! segment id below G's next id; see `rollup/store.rs`); list the WAL files and their lengths, and copy each
//! up to that length. Only the newest WAL file grows and files only grow, so the copies
//! are the log up to the instant the lengths were read, whatever is written meanwhile; a
//! record the copy caught half-written is cut off its end (it was not acknowledged yet).
//! G plus every WAL file from G's checkpoint on is a complete state even if newer
//! manifests were stored meanwhile: their data is in the WAL too. Start over only when a
//! file G needs vanished (a segment compacted away, a WAL file deleted under a newer
//! checkpoint) before it was linked or copied.
//!
//! Pending tombstones and every other state live in the manifest and the WAL, so they
//! travel with the copy. The snapshot is a data directory: `strata verify` checks it and
//! `strata serve --data-dir` opens it; restoring is copying it back (README, "Snapshots and restore").

use crate::error::{Error, Result};
use crate::manifest;
use crate::rollup::store::ROLLUP_DIR;
use crate::segment::{self, SEGMENT_DIR};
use crate::wal::{self, WAL_DIR};
use std::path::{Path, PathBuf};

/// Attempts before giving up on a directory that keeps changing under the copy.
const MAX_ATTEMPTS: usize = 20;

/// What to include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotOptions {
    /// Leave the WAL out: only data already in segments (Prometheus' `skip_head`).
    pub skip_wal: bool,
}

/// What a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotReport {
    /// The directory written.
    pub dir: PathBuf,
    /// The manifest generation copied.
    pub generation: u64,
    /// Segment files linked (or copied).
    pub segments: usize,
    /// Of those, files that had to be copied (another filesystem).
    pub copied_segments: usize,
    /// Segment bytes.
    pub segment_bytes: u64,
    /// WAL files copied.
    pub wal_files: usize,
    /// WAL bytes copied.
    pub wal_bytes: u64,
    /// Rollup files linked (or copied).
    pub rollup_files: usize,
    /// Attempts it took (more than one when the directory changed under the copy).
    pub attempts: usize,
}

/// Takes a snapshot of data directory `src` into `out`, which must not exist or be an
/// empty directory. `out` must not be inside `src`'s `segments/` or `wal/`.
pub fn take(src: &Path, out: &Path, opts: SnapshotOptions) -> Result<SnapshotReport> {
    if !src.join(SEGMENT_DIR).is_dir() && !src.join(WAL_DIR).is_dir() {
        return Err(Error::InvalidInput(format!(
            "{} is not a Strata data directory (no {SEGMENT_DIR}/ or {WAL_DIR}/)",
            src.display()
        )));
    }
    prepare_out(out)?;
    for attempt in 1..=MAX_ATTEMPTS {
        clear_out(out)?;
        if let Some(mut report) = attempt_once(src, out, opts, &mut |_| {})? {
            report.attempts = attempt;
            sync_dirs(out)?;
            return Ok(report);
        }
    }
    Err(Error::Internal(format!(
        "{} kept changing during {MAX_ATTEMPTS} snapshot attempts; try again",
        src.display()
    )))
}

/// One attempt: `None` when the directory changed under it. `after_wal_copy(seq)` runs
/// after each WAL file is copied (tests change the source there).
fn attempt_once(
    src: &Path,
    out: &Path,
    opts: SnapshotOptions,
    after_wal_copy: &mut dyn FnMut(u64),
) -> Result<Option<SnapshotReport>> {
    let loaded = manifest::load(src)?;
    if !loaded.trusted {
        let why = loaded
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::InvalidInput(format!(
            "the newest manifest of {} does not read ({why}); run `strata verify` first",
            src.display()
        )));
    }
    let m = loaded.manifest;
    let mut report = SnapshotReport {
        dir: out.to_path_buf(),
        generation: m.generation,
        segments: 0,
        copied_segments: 0,
        segment_bytes: 0,
        wal_files: 0,
        wal_bytes: 0,
        rollup_files: 0,
        attempts: 0,
    };
    // Segments.
    let (src_seg, out_seg) = (src.join(SEGMENT_DIR), out.join(SEGMENT_DIR));
    mkdir(&out_seg)?;
    for rec in &m.segments {
        let from = segment::file_path(&src_seg, rec.id);
        let to = segment::file_path(&out_seg, rec.id);
        match link_or_copy(&from, &to) {
            Ok(copied) => {
                if copied {
                    sync_file(&to)?;
                }
                report.segments += 1;
                report.copied_segments += usize::from(copied);
                report.segment_bytes += rec.bytes;
            }
            // Compacted away since the manifest was read: a newer manifest names its output.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&to, e)),
        }
    }
    // Rollup files published at G (their source segment id below G's next id): linked as
    // segments are. Files of later compactions would be deleted by open anyway. A file
    // replaced under a newer manifest may vanish before it is linked, or be gone before
    // the listing: either way the newest manifest is no longer G, so start over.
    let src_rup = src.join(ROLLUP_DIR);
    if src_rup.is_dir() {
        let out_rup = out.join(ROLLUP_DIR);
        mkdir(&out_rup)?;
        let entries = std::fs::read_dir(&src_rup).map_err(|e| Error::io(&src_rup, e))?;
        let mut linked = 0usize;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&src_rup, e))?;
            let name = entry.file_name();
            let Some(published) = name
                .to_str()
                .and_then(crate::rollup::store::parse_file_name)
                .map(|(_, _, source)| source < m.next_segment_id)
            else {
                continue;
            };
            if !published {
                continue;
            }
            match link_or_copy(&entry.path(), &out_rup.join(&name)) {
                Ok(copied) => {
                    if copied {
                        sync_file(&out_rup.join(&name))?;
                    }
                    linked += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::io(out_rup.join(&name), e)),
            }
        }
        if linked > 0 && manifest::load(src)?.manifest.generation != m.generation {
            return Ok(None);
        }
        report.rollup_files = linked;
    }
    // WAL, in order: each file listed now, up to its length now. Files are only
    // appended to and only the newest grows, so these prefixes are the log up to one
    // instant, whatever is written, rolled or rotated while they are copied.
    let (src_wal, out_wal) = (src.join(WAL_DIR), out.join(WAL_DIR));
    mkdir(&out_wal)?;
    if !opts.skip_wal && src_wal.is_dir() {
        let listed = wal::list_files(&src_wal).map_err(|e| Error::io(&src_wal, e))?;
        let mut files = Vec::with_capacity(listed.len());
        for seq in listed {
            match std::fs::metadata(wal::file_path(&src_wal, seq)) {
                Ok(md) => files.push((seq, md.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(wal::file_path(&src_wal, seq), e)),
            }
        }
        // Every file from G's checkpoint on must be there: one deleted under a newer
        // manifest's checkpoint would leave a hole that G's segments do not fill.
        if !needed_files_present(&files, m.checkpoint.map(|c| c.file)) {
            return Ok(None);
        }
        let newest = files.last().map(|f| f.0);
        for &(seq, len) in &files {
            let from = wal::file_path(&src_wal, seq);
            let to = wal::file_path(&out_wal, seq);
            match copy_prefix(&from, &to, len) {
                Ok(()) => {}
                // Deleted by a checkpoint: fine if G's checkpoint covers it, else retry.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if m.checkpoint.is_none_or(|c| seq >= c.file) {
                        return Ok(None);
                    }
                    continue;
                }
                Err(e) => return Err(Error::io(&from, e)),
            }
            // A newest file caught before its first whole record holds nothing: removed.
            if Some(seq) == newest && !cut_torn_tail(&to)? {
                continue;
            }
            sync_file(&to)?;
            report.wal_files += 1;
            report.wal_bytes += std::fs::metadata(&to).map_or(0, |md| md.len());
            after_wal_copy(seq);
        }
    }
    // The manifest last: a reader of `out` sees a data directory only once it is whole.
    manifest::store(out, &m)?;
    // Settings kept beside the data (strata.toml) travel too.
    let toml = src.join("strata.toml");
    if toml.is_file() {
        let to = out.join("strata.toml");
        std::fs::copy(&toml, &to).map_err(|e| Error::io(&to, e))?;
        sync_file(&to)?;
    }
    Ok(Some(report))
}

/// Whether `files` (number, length; ascending) hold every WAL file from the checkpoint's
/// file (or the first present, with no checkpoint) to the newest, without a gap.
fn needed_files_present(files: &[(u64, u64)], checkpoint_file: Option<u64>) -> bool {
    let needed: Vec<u64> = files
        .iter()
        .map(|f| f.0)
        .filter(|s| checkpoint_file.is_none_or(|c| *s >= c))
        .collect();
    if let (Some(c), Some(first)) = (checkpoint_file, needed.first())
        && *first != c
    {
        return false;
    }
    needed.windows(2).all(|w| w[1] == w[0] + 1)
}

/// Copies the first `len` bytes of `from` to a new file `to`.
fn copy_prefix(from: &Path, to: &Path, len: u64) -> std::io::Result<()> {
    use std::io::Read;
    let mut src = std::fs::File::open(from)?.take(len);
    let mut dst = std::fs::File::create(to)?;
    let n = std::io::copy(&mut src, &mut dst)?;
    if n != len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "{} shrank to {n} bytes while {len} were copied",
                from.display()
            ),
        ));
    }
    Ok(())
}

/// Cuts a record the copy caught half-written off the end of the newest WAL file copied
/// (it was not acknowledged when the copy read it), so that the snapshot verifies clean.
/// Damage before the tail is the source's, reported as an error. `Ok(false)` when the
/// file held not even one whole header and was removed.
fn cut_torn_tail(path: &Path) -> Result<bool> {
    let check = wal::verify_file(path, true)?;
    if let Some(problem) = check.problems.into_iter().next() {
        return Err(problem);
    }
    match check.torn_tail_at {
        // Not even a whole header yet: the file holds nothing.
        Some(at) if at < wal::frame::HEADER_LEN as u64 => std::fs::remove_file(path)
            .map(|()| false)
            .map_err(|e| Error::io(path, e)),
        Some(at) => std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(at))
            .map(|()| true)
            .map_err(|e| Error::io(path, e)),
        None => Ok(true),
    }
}

/// Hard-links `from` to `to`, copying when a link is impossible. `Ok(true)` when copied.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<bool> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(e),
        Err(_) => std::fs::copy(from, to).map(|_| true),
    }
}

fn mkdir(d: &Path) -> Result<()> {
    std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))
}

/// `out` must be absent or an empty directory.
fn prepare_out(out: &Path) -> Result<()> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        if entries.next().is_some() {
            return Err(Error::InvalidInput(format!(
                "{} is not empty: a snapshot goes into a new directory",
                out.display()
            )));
        }
    }
    mkdir(out)
}

/// Empties `out` (written by this module only) before another attempt.
fn clear_out(out: &Path) -> Result<()> {
    for sub in [SEGMENT_DIR, WAL_DIR, ROLLUP_DIR] {
        let d = out.join(sub);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
    }
    Ok(())
}

/// fsyncs the snapshot's directories, so that it survives a power loss once `take`
/// returns. Copied files were synced as they were written; linked segments share the
/// source's inode, synced when the source wrote it.
fn sync_dirs(out: &Path) -> Result<()> {
    for sub in [SEGMENT_DIR, WAL_DIR, ROLLUP_DIR] {
        let d = out.join(sub);
        if d.is_dir() {
            wal::sync_dir(&d).map_err(|e| Error::io(&d, e))?;
        }
    }
    wal::sync_dir(out).map_err(|e| Error::io(out, e))
}

fn sync_file(p: &Path) -> Result<()> {
    std::fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(p, e))
}

#[cfg(test)]
mod tests;
