//! The data-directory lock: one process at a time may open a directory.
//!
//! The lock is an advisory `flock`-style lock on `LOCK` in the data directory, held for
//! as long as the [`DirLock`] lives; the operating system releases it when the process
//! dies, so a crash never leaves a stale lock. The file's content is the holder's pid,
//! only to name it in the error a second process gets.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held lock on a data directory; released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock on `dir`, or fails with [`Error::Locked`] naming the holder's pid.
    ///
    /// When the holder named is this process itself and nothing here holds the directory,
    /// the lock is most likely a just-closed descriptor still open in a child between
    /// `fork` and `exec`; that clears within milliseconds, so the attempt is repeated for
    /// up to a second before giving up.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            match Self::try_acquire(dir) {
                Err(Error::Locked { pid: Some(p), .. })
                    if p == std::process::id() && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    fn try_acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut s = String::new();
                // The pid is informational; a lock file we cannot read still means locked.
                let _ = file.read_to_string(&mut s);
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                    pid: s.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(DirLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        match DirLock::acquire(dir.path()) {
            Err(Error::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Locked, got {other:?}"),
        }
        let msg = DirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("process {}", std::process::id())),
            "{msg}"
        );
        drop(held);
        DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_damaged_lock_file_never_stops_an_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        for content in [
            &b"\xff\xfe garbage \x00"[..],
            b"",
            &[0u8; 64][..],
            b"99999999999999999999",
        ] {
            std::fs::write(&path, content).unwrap();
            let held = DirLock::acquire(dir.path()).unwrap();
            // The holder rewrote it with its pid.
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                std::process::id().to_string()
            );
            drop(held);
        }
        // Held, with a content that is no pid: still refused, the pid unknown.
        let held = DirLock::acquire(dir.path()).unwrap();
        let mut f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(0).unwrap();
        f.write_all(b"not a pid").unwrap();
        match DirLock::try_acquire(dir.path()) {
            Err(Error::Locked { pid: None, .. }) => {}
            other => panic!("expected Locked without a pid, got {other:?}"),
        }
        drop(held);
    }
}
