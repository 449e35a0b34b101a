//! WAL byte layout: the file header and the record frame. Layout: docs/FORMAT.md, "WAL".
//!
//! ```text
//! file   := header record*
//! header := magic "STRATWAL" (8) | version u32 LE (4) | crc32 of the previous 12 bytes (4)
//! record := len u32 LE (4) | crc u32 LE (4) | kind u8 (1) | payload (len - 1)
//!           len counts kind + payload; crc = CRC-32 (IEEE) over len, kind and payload
//! ```
//! A record is valid only if its whole frame is present and its checksum matches; the
//! length is covered by the checksum, so a damaged length is detected too.
//!
//! Version 2 files name series through a per-file dictionary (`SeriesDefs` records, then
//! `Write` records that carry series numbers); version 1 files, whose `WriteKeys` records
//! carry full series keys, are still read.

/// The magic bytes that start every WAL file.
pub const MAGIC: &[u8; 8] = b"STRATWAL";
/// The WAL format version this build writes.
pub const VERSION: u32 = 2;
/// The oldest WAL format version this build still reads (version 1: every write record
/// carries full series keys).
pub const MIN_VERSION: u32 = 1;
/// Bytes in the file header.
pub const HEADER_LEN: usize = 16;
/// Bytes in a record frame before the kind byte.
pub const FRAME_PREFIX_LEN: usize = 8;
/// Largest `len` a reader accepts; larger means damage. Writers split batches below it.
pub const MAX_RECORD_LEN: usize = 256 << 20;

/// Kinds of WAL records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A batch of points naming its series by full key (see `wal::batch`): written by
    /// format version 1, still read.
    WriteKeys = 1,
    /// A delete (see `wal::delete`).
    Delete = 2,
    /// Series definitions: series numbers and their keys, for the rest of the file (see
    /// `wal::dict`).
    SeriesDefs = 3,
    /// A batch of points naming its series by the numbers the file's `SeriesDefs`
    /// records gave them (see `wal::batch`).
    Write = 4,
}

impl RecordKind {
    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<RecordKind> {
        match b {
            1 => Some(RecordKind::WriteKeys),
            2 => Some(RecordKind::Delete),
            3 => Some(RecordKind::SeriesDefs),
            4 => Some(RecordKind::Write),
            _ => None,
        }
    }

    /// Whether a file of format `version` may hold records of this kind: version 1 files
    /// hold `WriteKeys` and `Delete`, version 2 files `Delete`, `SeriesDefs` and `Write`.
    pub fn allowed_in(self, version: u32) -> bool {
        match self {
            RecordKind::Delete => true,
            RecordKind::WriteKeys => version == 1,
            RecordKind::SeriesDefs | RecordKind::Write => version >= 2,
        }
    }
}

/// The 16-byte file header.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a file header; returns its format version, or a description of what is wrong.
pub fn check_header(bytes: &[u8]) -> Result<u32, &'static str> {
    if bytes.len() < HEADER_LEN {
        return Err("file shorter than its header");
    }
    if &bytes[..8] != MAGIC {
        return Err("bad magic (not a Strata WAL file)");
    }
    let crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if crc != crc32fast::hash(&bytes[..12]) {
        return Err("header checksum mismatch");
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err("unsupported WAL format version");
    }
    Ok(version)
}

/// Appends one framed record to `dst`.
pub fn encode_record(kind: RecordKind, payload: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(FRAME_PREFIX_LEN + 1 + payload.len());
    let start = begin_record(kind, dst);
    dst.extend_from_slice(payload);
    end_record(dst, start);
}

/// Starts a record of `kind` at the end of `dst`, whose payload the caller then appends;
/// returns where the record starts, for [`end_record`].
pub fn begin_record(kind: RecordKind, dst: &mut Vec<u8>) -> usize {
    let start = dst.len();
    dst.extend_from_slice(&[0; FRAME_PREFIX_LEN]);
    dst.push(kind as u8);
    start
}

/// Ends the record begun at `start` (by [`begin_record`]) with everything appended to
/// `dst` since as its payload: fills in its length and checksum.
pub fn end_record(dst: &mut [u8], start: usize) {
    let len = u32::try_from(dst.len() - start - FRAME_PREFIX_LEN).unwrap_or(u32::MAX);
    dst[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&dst[start..start + 4]);
    h.update(&dst[start + FRAME_PREFIX_LEN..]);
    let crc = h.finalize();
    dst[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The outcome of reading one frame at the start of `src`.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A valid record and its total size in bytes.
    Record {
        /// The record kind byte (unknown kinds are reported by the caller).
        kind: u8,
        /// The payload.
        payload: &'a [u8],
        /// Bytes the whole frame takes.
        size: usize,
    },
    /// The frame runs past the end of `src`.
    Truncated,
    /// The frame is complete but damaged.
    Damaged(&'static str),
}

/// Reads the frame at the start of `src`.
pub fn decode_record(src: &[u8]) -> Frame<'_> {
    if src.len() < FRAME_PREFIX_LEN + 1 {
        return Frame::Truncated;
    }
    let len = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
    if len == 0 || len > MAX_RECORD_LEN {
        return Frame::Damaged("record length out of range");
    }
    let crc = u32::from_le_bytes([src[4], src[5], src[6], src[7]]);
    let Some(body) = src.get(FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + len) else {
        return Frame::Truncated;
    };
    let mut h = crc32fast::Hasher::new();
    h.update(&src[..4]);
    h.update(body);
    if h.finalize() != crc {
        return Frame::Damaged("record checksum mismatch");
    }
    Frame::Record {
        kind: body[0],
        payload: &body[1..],
        size: FRAME_PREFIX_LEN + len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        let h = header();
        assert_eq!(check_header(&h), Ok(VERSION));
        let mut v1 = h;
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        let crc = crc32fast::hash(&v1[..12]);
        v1[12..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&v1), Ok(1), "version 1 files are still read");
        let mut v3 = h;
        v3[8..12].copy_from_slice(&3u32.to_le_bytes());
        let crc = crc32fast::hash(&v3[..12]);
        v3[12..].copy_from_slice(&crc.to_le_bytes());
        assert!(check_header(&v3).is_err(), "a newer version is refused");
        for i in 0..HEADER_LEN {
            let mut bad = h;
            bad[i] ^= 0x10;
            assert!(check_header(&bad).is_err(), "flip at {i} not noticed");
        }
        assert!(check_header(&h[..10]).is_err());
    }

    #[test]
    fn record_round_trip_and_every_flip_is_noticed() {
        let mut buf = Vec::new();
        encode_record(RecordKind::Write, b"hello wal", &mut buf);
        assert_eq!(
            decode_record(&buf),
            Frame::Record {
                kind: 4,
                payload: b"hello wal",
                size: buf.len()
            }
        );
        for cut in 0..buf.len() {
            assert_eq!(decode_record(&buf[..cut]), Frame::Truncated, "cut {cut}");
        }
        for i in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    !matches!(decode_record(&bad), Frame::Record { .. }),
                    "flip of bit {bit} at {i} not noticed"
                );
            }
        }
    }
}
