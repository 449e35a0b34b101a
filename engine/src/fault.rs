//! I/O fault injection: every file operation of the engine that can lose or refuse data
//! (WAL appends, fsyncs and rolls, segment writes by rotation and compaction, manifest
//! publication, file deletes) goes through the functions here, each naming its [`Site`].
//!
//! With the `failpoints` feature a test arms a fault ([`arm`]): a [`Kind`] at a [`Site`],
//! for the files under one directory (so that tests running in parallel do not see each
//! other's faults), a number of times or until [`clear`]. The operation then fails as the
//! disk would make it fail: `EIO` from an fsync, `ENOSPC` from a write or a file creation,
//! a short write (half the bytes stored, then `ENOSPC`), a rename or a delete failing with
//! `EIO`. Without the feature the functions are the plain `std` calls (inlined; no state).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Where a file operation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    /// A WAL group commit: the append and its fsync.
    WalAppend,
    /// A new WAL file: its creation, header write, fsync and the directory's fsync.
    WalRoll,
    /// A segment written by rotation: creation, writes, fsync, rename, directory fsync.
    RotationSegment,
    /// A segment written by compaction (or a tombstone purge), with the same steps.
    CompactionSegment,
    /// A manifest published: temporary file, write, fsync, rename, directory fsync.
    Manifest,
    /// Deletes of files no longer needed (WAL files a checkpoint covers, compacted
    /// segments) and the directory fsync after them.
    Delete,
}

impl Site {
    /// Every site, for test matrices.
    pub const ALL: [Site; 6] = [
        Site::WalAppend,
        Site::WalRoll,
        Site::RotationSegment,
        Site::CompactionSegment,
        Site::Manifest,
        Site::Delete,
    ];
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An fsync (of a file or a directory) fails with `EIO`.
    FsyncEio,
    /// A write stores nothing and fails with `ENOSPC`.
    WriteEnospc,
    /// A write stores the first half of its bytes, then fails with `ENOSPC`.
    ShortWrite,
    /// Creating a file fails with `ENOSPC`.
    CreateEnospc,
    /// A rename fails with `EIO` (nothing renamed).
    RenameEio,
    /// A delete fails with `EIO` (nothing deleted).
    RemoveEio,
}

impl Kind {
    /// Every kind, for test matrices.
    pub const ALL: [Kind; 6] = [
        Kind::FsyncEio,
        Kind::WriteEnospc,
        Kind::ShortWrite,
        Kind::CreateEnospc,
        Kind::RenameEio,
        Kind::RemoveEio,
    ];

    /// Whether some operation at `site` can meet this kind.
    pub fn applies_to(self, site: Site) -> bool {
        match site {
            Site::WalAppend => {
                matches!(self, Kind::FsyncEio | Kind::WriteEnospc | Kind::ShortWrite)
            }
            Site::WalRoll => !matches!(self, Kind::RenameEio | Kind::RemoveEio),
            Site::RotationSegment | Site::CompactionSegment | Site::Manifest => {
                self != Kind::RemoveEio
            }
            Site::Delete => matches!(self, Kind::RemoveEio | Kind::FsyncEio),
        }
    }
}

#[cfg(feature = "failpoints")]
mod armed {
    use super::{Kind, Site};
    use parking_lot::Mutex;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(super) struct Fault {
        pub root: PathBuf,
        pub site: Site,
        pub kind: Kind,
        /// Matching operations let through before the first failure.
        pub skip: u64,
        /// Failures left (`None`: until cleared).
        pub left: Option<u64>,
        /// Times it fired.
        pub fired: u64,
    }

    static FAULTS: Mutex<Vec<Fault>> = Mutex::new(Vec::new());
    static ARMED: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn arm(root: &Path, site: Site, kind: Kind, skip: u64, times: Option<u64>) {
        let mut f = FAULTS.lock();
        f.retain(|x| !(x.root == root && x.site == site && x.kind == kind));
        f.push(Fault {
            root: root.to_path_buf(),
            site,
            kind,
            skip,
            left: times,
            fired: 0,
        });
        ARMED.store(f.len(), Ordering::Release);
    }

    pub(super) fn clear(root: &Path) -> u64 {
        let mut f = FAULTS.lock();
        let fired = f.iter().filter(|x| x.root == root).map(|x| x.fired).sum();
        f.retain(|x| x.root != root);
        ARMED.store(f.len(), Ordering::Release);
        fired
    }

    pub(super) fn fired(root: &Path) -> u64 {
        FAULTS
            .lock()
            .iter()
            .filter(|x| x.root == root)
            .map(|x| x.fired)
            .sum()
    }

    /// Whether an operation of `kinds` on `path` at `site` fails now (and which kind).
    pub(super) fn hit(site: Site, path: &Path, kinds: &[Kind]) -> Option<Kind> {
        if ARMED.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut f = FAULTS.lock();
        let x = f.iter_mut().find(|x| {
            x.site == site
                && kinds.contains(&x.kind)
                && x.left != Some(0)
                && path.starts_with(&x.root)
        })?;
        if x.skip > 0 {
            x.skip -= 1;
            return None;
        }
        if let Some(n) = x.left.as_mut() {
            *n -= 1;
        }
        x.fired += 1;
        Some(x.kind)
    }
}

/// Arms `kind` at `site` for the files under `root`: the next `times` operations it
/// applies to fail (`None`: every one until [`clear`]). Replaces the same fault armed
/// before. Feature `failpoints`.
#[cfg(feature = "failpoints")]
pub fn arm(root: &Path, site: Site, kind: Kind, times: Option<u64>) {
    armed::arm(root, site, kind, 0, times);
}

/// [`arm`], letting the first `skip` operations it applies to succeed (to reach, say, the
/// directory fsync after a file's fsync).
#[cfg(feature = "failpoints")]
pub fn arm_after(root: &Path, site: Site, kind: Kind, skip: u64, times: Option<u64>) {
    armed::arm(root, site, kind, skip, times);
}

/// Clears every fault armed for `root`; returns how many operations they failed.
#[cfg(feature = "failpoints")]
pub fn clear(root: &Path) -> u64 {
    armed::clear(root)
}

/// How many operations the faults armed for `root` have failed so far.
#[cfg(feature = "failpoints")]
pub fn fired(root: &Path) -> u64 {
    armed::fired(root)
}

#[cfg(feature = "failpoints")]
#[inline]
fn hit(site: Site, path: &Path, kinds: &[Kind]) -> Option<Kind> {
    armed::hit(site, path, kinds)
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
fn hit(_site: Site, _path: &Path, _kinds: &[Kind]) -> Option<Kind> {
    None
}

fn injected(kind: Kind) -> io::Error {
    const EIO: i32 = 5;
    const ENOSPC: i32 = 28;
    let code = match kind {
        Kind::WriteEnospc | Kind::ShortWrite | Kind::CreateEnospc => ENOSPC,
        Kind::FsyncEio | Kind::RenameEio | Kind::RemoveEio => EIO,
    };
    io::Error::from_raw_os_error(code)
}

/// `out.write_all(buf)` for a file at `path`.
#[inline]
pub(crate) fn write_all(
    site: Site,
    path: &Path,
    out: &mut impl Write,
    buf: &[u8],
) -> io::Result<()> {
    match hit(site, path, &[Kind::WriteEnospc, Kind::ShortWrite]) {
        None => out.write_all(buf),
        Some(Kind::ShortWrite) => {
            out.write_all(&buf[..buf.len() / 2])?;
            out.flush()?;
            Err(injected(Kind::ShortWrite))
        }
        Some(k) => Err(injected(k)),
    }
}

/// `file.sync_all()` (or `sync_data()` with `data_only`) for the file at `path`.
#[inline]
pub(crate) fn sync(site: Site, path: &Path, file: &File, data_only: bool) -> io::Result<()> {
    if let Some(k) = hit(site, path, &[Kind::FsyncEio]) {
        return Err(injected(k));
    }
    if data_only {
        file.sync_data()
    } else {
        file.sync_all()
    }
}

/// fsyncs directory `dir`, so that creations, renames and deletes in it are durable.
#[inline]
pub(crate) fn sync_dir(site: Site, dir: &Path) -> io::Result<()> {
    if let Some(k) = hit(site, dir, &[Kind::FsyncEio]) {
        return Err(injected(k));
    }
    File::open(dir)?.sync_all()
}

/// Opens (creating) the file at `path` with `opts`.
#[inline]
pub(crate) fn create(site: Site, path: &Path, opts: &OpenOptions) -> io::Result<File> {
    if let Some(k) = hit(site, path, &[Kind::CreateEnospc]) {
        return Err(injected(k));
    }
    opts.open(path)
}

/// `std::fs::rename(from, to)`.
#[inline]
pub(crate) fn rename(site: Site, from: &Path, to: &Path) -> io::Result<()> {
    if let Some(k) = hit(site, to, &[Kind::RenameEio]) {
        return Err(injected(k));
    }
    std::fs::rename(from, to)
}

/// `std::fs::remove_file(path)`.
#[inline]
pub(crate) fn remove(site: Site, path: &Path) -> io::Result<()> {
    if let Some(k) = hit(site, path, &[Kind::RemoveEio]) {
        return Err(injected(k));
    }
    std::fs::remove_file(path)
}
