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

/// The magic bytes that start every WAL file.
pub const MAGIC: &[u8; 8] = b"STRATWAL";
/// The WAL format version this build writes and reads.
pub const VERSION: u32 = 1;
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
    /// A batch of points (see `wal::batch`).
    Write = 1,
    /// A delete (see `wal::delete`).
    Delete = 2,
}

impl RecordKind {
    /// Decodes a kind byte.
    pub fn from_u8(b: u8) -> Option<RecordKind> {
        match b {
            1 => Some(RecordKind::Write),
            2 => Some(RecordKind::Delete),
            _ => None,
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

/// Checks a file header; returns a description of what is wrong.
pub fn check_header(bytes: &[u8]) -> Result<(), &'static str> {
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
    if version != VERSION {
        return Err("unsupported WAL format version");
    }
    Ok(())
}

/// Appends one framed record to `dst`.
pub fn encode_record(kind: RecordKind, payload: &[u8], dst: &mut Vec<u8>) {
    let len = u32::try_from(payload.len() + 1).unwrap_or(u32::MAX);
    let start = dst.len();
    dst.extend_from_slice(&len.to_le_bytes());
    dst.extend_from_slice(&[0; 4]);
    dst.push(kind as u8);
    dst.extend_from_slice(payload);
    let mut h = crc32fast::Hasher::new();
    h.update(&dst[start..start + 4]);
    h.update(&dst[start + 8..]);
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
        assert_eq!(check_header(&h), Ok(()));
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
                kind: 1,
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
