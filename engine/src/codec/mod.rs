//! Compression codecs for column blocks: pure functions from slices to bytes and back.
//!
//! Every encoder **appends** one self-describing block to a caller's `Vec<u8>`: the block
//! starts with a one-byte scheme tag and its value count, so a reader needs nothing else
//! to decode it. Every decoder **appends** the decoded values to a caller's `Vec` and
//! returns how many bytes of its input the block used, so blocks can be concatenated and
//! read back one after the other.
//!
//! | values | schemes (chosen per block, smallest wins) | file |
//! | --- | --- | --- |
//! | timestamps (`i64`) | run-length for a constant interval; delta-of-delta with per-block variable bit buckets | [`timestamp`] |
//! | floats (`f64`) | constant; XOR (Chimp-style, bit-exact); ALP-like decimal scaling over the integer codec | [`float`] |
//! | integers (`i64`, `u64`) | constant; delta order 0, 1 or 2 + frame-of-reference bit-packing in miniblocks of 128 | [`int`] |
//! | booleans | constant; bitmap | [`boolean`] |
//! | strings | length-prefixed; dictionary | [`string`] |
//!
//! The byte layout of every scheme is specified in docs/FORMAT.md, "Codecs".
//!
//! Decoders treat their input as untrusted: on any input they return either an error or
//! values, never panic, never loop without bound and never allocate more than
//! [`MAX_BLOCK_POINTS`] values (or, for strings, more than the input or a fixed cap) for
//! one block. On error nothing is appended to `dst`.

mod bits;
pub mod boolean;
pub mod float;
pub mod int;
pub mod int_bytes;
pub mod string;
pub mod timestamp;
pub mod zstd_ctx;

#[cfg(test)]
mod tests;

pub use boolean::{decode_bools, encode_bools};
pub use float::{decode_floats, encode_floats};
pub use int::{decode_i64, decode_u64, encode_i64, encode_u64};
pub use int_bytes::{encode_i64_bytewise, encode_u64_bytewise};
pub use string::{decode_strings, encode_strings};
pub use timestamp::{decode_timestamps, encode_timestamps};

/// Upper bound on values per encoded block; decoders reject larger counts.
///
/// Encoders panic when handed more values than this: split longer columns into blocks.
pub const MAX_BLOCK_POINTS: usize = 1 << 20;

/// A block could not be decoded: it is truncated, corrupt, or not a block of this kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset} of the encoded block")]
pub struct CodecError {
    /// Byte offset, from the start of the decoder's input, where the problem was found.
    pub offset: usize,
    /// What was wrong, e.g. "unknown scheme tag".
    pub what: &'static str,
}

impl CodecError {
    pub(crate) fn new(offset: usize, what: &'static str) -> Self {
        CodecError { offset, what }
    }

    /// The same error for a block embedded at `base` inside an outer block.
    pub(crate) fn shifted(self, base: usize) -> Self {
        CodecError {
            offset: self.offset.saturating_add(base),
            what: self.what,
        }
    }
}

/// Panics when an encoder is handed more values than one block may hold.
fn check_encode_len(len: usize) {
    assert!(
        len <= MAX_BLOCK_POINTS,
        "codec block of {len} values exceeds MAX_BLOCK_POINTS ({MAX_BLOCK_POINTS})"
    );
}

/// Runs a decoder body and, if it fails, removes whatever it appended to `dst`.
fn all_or_nothing<T>(
    dst: &mut Vec<T>,
    body: impl FnOnce(&mut Vec<T>) -> Result<usize, CodecError>,
) -> Result<usize, CodecError> {
    let start = dst.len();
    let result = body(dst);
    if result.is_err() {
        dst.truncate(start);
    }
    result
}
