//! zstd frames through one compression and one decompression context per thread, reused.
//!
//! `zstd::bulk::compress` / `decompress` create and free a context on every call: per block
//! that was an allocation and initialisation of hundreds of KiB, about 5 % of a cold
//! compaction's profile, and the same on every cold block a query decodes.
//!
//! Invariant: the bytes are exactly those of `zstd::bulk::compress` at the same level (a
//! context keeps nothing from one frame to the next but its parameters, and the level is
//! set on every call), so files stay the same bytes whatever thread wrote them.

use std::cell::RefCell;
use std::io;
use zstd::bulk::{Compressor, Decompressor};

thread_local! {
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// `plain` as one zstd frame at `level` (with its content size).
pub fn compress(plain: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return zstd::bulk::compress(plain, level); // re-entered: a context of its own
        };
        match slot.as_mut() {
            Some(c) => c.set_compression_level(level)?,
            None => *slot = Some(Compressor::new(level)?),
        }
        match slot.as_mut() {
            Some(c) => c.compress(plain),
            None => zstd::bulk::compress(plain, level),
        }
    })
}

/// The content of the zstd frame `frame`, at most `capacity` bytes (more is an error).
pub fn decompress(frame: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return zstd::bulk::decompress(frame, capacity);
        };
        if slot.is_none() {
            *slot = Some(Decompressor::new()?);
        }
        match slot.as_mut() {
            Some(d) => d.decompress(frame, capacity),
            None => zstd::bulk::decompress(frame, capacity),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Same bytes as a fresh context, whatever was compressed before on the thread and
        /// at whatever level; and the round trip.
        #[test]
        fn same_frames_as_a_fresh_context(
            inputs in prop::collection::vec(
                (prop::collection::vec(0u8..8, 0..4000), 1i32..=19), 1..6)
        ) {
            for (plain, level) in &inputs {
                let ours = compress(plain, *level).unwrap();
                prop_assert_eq!(&ours, &zstd::bulk::compress(plain, *level).unwrap());
                prop_assert_eq!(&decompress(&ours, plain.len()).unwrap(), plain);
            }
        }
    }

    #[test]
    fn a_frame_larger_than_the_capacity_is_an_error() {
        let frame = compress(&[7u8; 1000], 3).unwrap();
        assert!(decompress(&frame, 999).is_err());
        assert!(decompress(b"not zstd", 100).is_err());
        assert_eq!(decompress(&frame, 1000).unwrap(), vec![7u8; 1000]);
    }
}
