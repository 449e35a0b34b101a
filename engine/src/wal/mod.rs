//! The write-ahead log: numbered append-only files of checksummed records.
//!
//! Invariants:
//! - Records are written in the order [`Wal::submit`] assigned their sequence numbers, by
//!   one writer thread that batches every waiting record into one write and (under
//!   [`FsyncPolicy::Always`]) one fsync: group commit.
//! - A [`Ticket`] resolves to `Ok` only after its record is in the file under the fsync
//!   policy. After a write or fsync error the WAL is *failed*: that group gets the error,
//!   and nothing is retried as if it had succeeded. Before the next group the writer cuts
//!   the current file back to the end of its last acknowledged record and fsyncs it; only
//!   when both succeed is the failure cleared and the group written, otherwise the group
//!   gets the error too (and the next one tries again). So no unacknowledged byte stays in
//!   a file that later records follow, and records stay in sequence order.
//! - A failed roll (the next file cannot be created) fails only the roll: its partial file
//!   is removed and the current file stays current.
//! - Files are never modified except by appending, by the writer cutting its own
//!   unacknowledged tail (above), and by replay truncating a torn tail of the newest file.
//!   Each open starts a new file.
//! - A file names each series by its key once, in a `SeriesDefs` record ahead of the first
//!   record that uses its number, and by number after that (`dict`); numbers are local to
//!   a file.

pub mod batch;
pub mod delete;
pub mod dict;
pub mod frame;
mod replay;
mod writer;

pub use replay::{FileCheck, Recovery, ReplayStats, replay, verify_bytes, verify_file};
pub use writer::{MAX_SEGMENT_FACTOR, Ticket, Wal};

use std::path::{Path, PathBuf};

/// The WAL's directory inside the data directory.
pub const WAL_DIR: &str = "wal";

/// The path of WAL file number `seq`.
pub fn file_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// Parses a WAL file name back into its number.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// WAL file numbers present in `dir`, ascending.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_file_name) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// fsyncs a directory so that file creations and renames in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
