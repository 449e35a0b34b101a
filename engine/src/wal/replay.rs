//! WAL replay: reads every file in order and hands each valid record to the caller.
//!
//! A damaged or incomplete record in the newest file with no valid record after it is a
//! torn tail left by a crash: it is cut off (with a warning) and the open goes on. Damage
//! anywhere else, or followed by valid records, means acknowledged data would be lost, so
//! replay stops with [`Error::Corrupt`] naming the file and the offset. A record of a kind
//! its file's format version does not hold is damage too.
//!
//! Replay hands records over as they are; the series dictionary of each file (`dict`) is
//! the caller's to keep, as [`verify_file`] does here.

use super::batch::{SeriesNaming, SeriesTable, decode_batch};
use super::dict::{FileDict, decode_defs};
use super::frame::{self, Frame, RecordKind};
use super::{file_path, list_files};
use crate::error::{Error, Result};
use std::fs::OpenOptions;
use std::path::Path;

/// What replay does with damage that is not a torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Stop with [`Error::Corrupt`] (the default): nothing acknowledged is silently lost.
    #[default]
    Strict,
    /// Log the damage, skip to the next valid record and go on; the damaged records'
    /// writes are lost. The file is left as it is, for inspection.
    SkipDamaged,
}

/// What replay found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayStats {
    /// Bytes of damaged records skipped under [`Recovery::SkipDamaged`].
    pub skipped_bytes: u64,
    /// The damage skipped, as messages naming file and offset.
    pub skipped: Vec<String>,
    /// WAL files read.
    pub files: usize,
    /// Records handed to the caller.
    pub records: u64,
    /// Bytes cut off a torn tail (0 when the log ended cleanly).
    pub truncated_bytes: u64,
    /// The number the next WAL file should get.
    pub next_file_seq: u64,
}

/// Replays every WAL file in `dir` with number `>= from_seq`, calling `apply(kind,
/// payload, file_number, file, offset)` for each valid record in log order.
pub fn replay(
    dir: &Path,
    from_seq: u64,
    recovery: Recovery,
    mut apply: impl FnMut(RecordKind, &[u8], u64, &Path, u64) -> Result<()>,
) -> Result<ReplayStats> {
    let seqs = list_files(dir).map_err(|e| Error::io(dir, e))?;
    let mut stats = ReplayStats {
        next_file_seq: seqs.last().map_or(from_seq.max(1), |s| s + 1),
        ..ReplayStats::default()
    };
    let live: Vec<u64> = seqs.into_iter().filter(|&s| s >= from_seq).collect();
    for (i, &seq) in live.iter().enumerate() {
        let is_last = i + 1 == live.len();
        let path = file_path(dir, seq);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        stats.files += 1;
        // The file's format version; unknown (any kind accepted) when a damaged header is
        // skipped.
        let mut version = None;
        match frame::check_header(&bytes) {
            Ok(v) => version = Some(v),
            Err(what) => {
                if is_last && bytes.len() < frame::HEADER_LEN && frame::header().starts_with(&bytes)
                {
                    // Created but the header never fully reached the disk: an empty torn file.
                    truncate(&path, 0, bytes.len() as u64, &mut stats)?;
                    continue;
                }
                if recovery == Recovery::Strict {
                    return Err(Error::Corrupt {
                        file: path,
                        offset: 0,
                        what: what.to_owned(),
                    });
                }
                let msg = format!("{}: offset 0: {what}; skipping the header", path.display());
                tracing::error!("{msg}");
                stats.skipped.push(msg);
            }
        }
        let mut pos = frame::HEADER_LEN.min(bytes.len());
        while pos < bytes.len() {
            match frame::decode_record(&bytes[pos..]) {
                Frame::Record {
                    kind,
                    payload,
                    size,
                } => {
                    let applied = match RecordKind::from_u8(kind) {
                        Some(k) if version.is_none_or(|v| k.allowed_in(v)) => {
                            apply(k, payload, seq, &path, pos as u64)
                        }
                        Some(_) => Err(Error::Corrupt {
                            file: path.clone(),
                            offset: pos as u64,
                            what: format!(
                                "WAL record kind {kind} does not belong in a version {} file",
                                version.unwrap_or_default()
                            ),
                        }),
                        None => Err(Error::Corrupt {
                            file: path.clone(),
                            offset: pos as u64,
                            what: format!("unknown WAL record kind {kind}"),
                        }),
                    };
                    match applied {
                        Ok(()) => stats.records += 1,
                        Err(e @ Error::Corrupt { .. }) if recovery == Recovery::SkipDamaged => {
                            tracing::error!("{e}; skipping the record");
                            stats.skipped_bytes += size as u64;
                            stats.skipped.push(e.to_string());
                        }
                        Err(e) => return Err(e),
                    }
                    pos += size;
                }
                damage => {
                    let what = match damage {
                        Frame::Damaged(w) => w,
                        _ => "record runs past the end of the file",
                    };
                    if is_last && !valid_record_after(&bytes, pos + 1) {
                        tracing::warn!(
                            "{}: torn tail at offset {pos} ({what}); cutting {} bytes",
                            path.display(),
                            bytes.len() - pos
                        );
                        truncate(&path, pos as u64, (bytes.len() - pos) as u64, &mut stats)?;
                        break;
                    }
                    if recovery == Recovery::SkipDamaged {
                        let next = next_valid_record(&bytes, pos + 1).unwrap_or(bytes.len());
                        let msg = format!(
                            "{}: offset {pos}: {what}; skipping {} damaged bytes",
                            path.display(),
                            next - pos
                        );
                        tracing::error!("{msg}");
                        stats.skipped_bytes += (next - pos) as u64;
                        stats.skipped.push(msg);
                        pos = next;
                        continue;
                    }
                    return Err(Error::Corrupt {
                        file: path,
                        offset: pos as u64,
                        what: format!("{what}; valid records follow, so this is not a torn tail"),
                    });
                }
            }
        }
    }
    Ok(stats)
}

/// Whether any complete, checksummed record starts at or after `from`.
fn valid_record_after(bytes: &[u8], from: usize) -> bool {
    next_valid_record(bytes, from).is_some()
}

/// The offset of the first complete, checksummed record at or after `from`.
fn next_valid_record(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&p| {
        matches!(frame::decode_record(&bytes[p..]), Frame::Record { kind, .. } if RecordKind::from_u8(kind).is_some())
    })
}

fn truncate(path: &Path, at: u64, cut: u64, stats: &mut ReplayStats) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.set_len(at)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(path, e))?;
    stats.truncated_bytes += cut;
    Ok(())
}

/// What [`verify_file`] found in one WAL file.
#[derive(Debug, Default)]
pub struct FileCheck {
    /// Valid records.
    pub records: u64,
    /// Damage that replay would refuse (with file and offset).
    pub problems: Vec<Error>,
    /// Offset of a torn tail that replay would cut (only in the newest file).
    pub torn_tail_at: Option<u64>,
}

/// Checks one WAL file without changing it: the header, every record's checksum and kind,
/// and every write batch and series definitions record: that it decodes, and that each
/// series number a batch uses was defined earlier in the file. `newest` says whether it
/// is the newest file, where a torn tail is expected after a crash and is not damage.
pub fn verify_file(path: &Path, newest: bool) -> Result<FileCheck> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(verify_bytes(path, &bytes, newest))
}

/// [`verify_file`] on the bytes of the file `path` names (used in messages only).
pub fn verify_bytes(path: &Path, bytes: &[u8], newest: bool) -> FileCheck {
    let mut check = FileCheck::default();
    let corrupt = |offset: usize, what: String| Error::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        what,
    };
    let version = match frame::check_header(bytes) {
        Ok(v) => v,
        Err(what) => {
            if newest && bytes.len() < frame::HEADER_LEN && frame::header().starts_with(bytes) {
                check.torn_tail_at = Some(0);
            } else {
                check.problems.push(corrupt(0, what.to_owned()));
            }
            return check;
        }
    };
    let mut dict: FileDict<()> = FileDict::default();
    let mut pos = frame::HEADER_LEN;
    while pos < bytes.len() {
        match frame::decode_record(&bytes[pos..]) {
            Frame::Record {
                kind,
                payload,
                size,
            } if RecordKind::from_u8(kind).is_some_and(|k| k.allowed_in(version)) => {
                check.records += 1;
                let body = pos + frame::FRAME_PREFIX_LEN + 1;
                if let Err((at, what)) = check_payload(kind, payload, &mut dict) {
                    check.problems.push(corrupt(body + at, what));
                }
                pos += size;
            }
            damage => {
                let what = match damage {
                    Frame::Damaged(w) => w,
                    Frame::Record { kind, .. } if RecordKind::from_u8(kind).is_some() => {
                        "record kind does not belong in this file's format version"
                    }
                    Frame::Record { .. } => "unknown record kind",
                    Frame::Truncated => "record runs past the end of the file",
                };
                if newest && !valid_record_after(bytes, pos + 1) {
                    check.torn_tail_at = Some(pos as u64);
                } else {
                    check.problems.push(corrupt(pos, what.to_owned()));
                }
                break;
            }
        }
    }
    check
}

/// Checks one record's payload against the file's dictionary so far (which it extends):
/// on damage, the offset in the payload and what is wrong.
fn check_payload(
    kind: u8,
    payload: &[u8],
    dict: &mut FileDict<()>,
) -> std::result::Result<(), (usize, String)> {
    let own = |(at, what): (usize, &str)| (at, what.to_owned());
    match RecordKind::from_u8(kind) {
        Some(RecordKind::SeriesDefs) => {
            for (id, _) in decode_defs(payload).map_err(own)? {
                dict.define(id, ())
                    .map_err(|what| (0, format!("{what} (number {id})")))?;
            }
        }
        Some(RecordKind::Write) => {
            let batch = decode_batch(payload, SeriesNaming::Numbers).map_err(own)?;
            if let SeriesTable::Numbers(ids) = &batch.series
                && let Some(id) = ids.iter().find(|&&id| dict.get_mut(id).is_none())
            {
                return Err((0, format!("series number {id} used before its definition")));
            }
        }
        Some(RecordKind::WriteKeys) => {
            decode_batch(payload, SeriesNaming::Keys).map_err(own)?;
        }
        Some(RecordKind::Delete) => {
            super::delete::DeleteSpec::decode(payload).map_err(own)?;
        }
        None => {}
    }
    Ok(())
}
