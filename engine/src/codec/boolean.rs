//! Boolean blocks: constant, or a bitmap of one bit per value. Layout: docs/FORMAT.md, "Codecs".

use super::bits::{ByteReader, put_varint};
use super::{CodecError, all_or_nothing, check_encode_len};

/// Scheme tag: every value equal; one byte (0 or 1) gives it.
pub const TAG_CONST: u8 = 0x51;
/// Scheme tag: bitmap, LSB-first.
pub const TAG_BITMAP: u8 = 0x52;

/// Appends one boolean block encoding `src` to `dst`.
///
/// # Panics
/// If `src` holds more than [`MAX_BLOCK_POINTS`](super::MAX_BLOCK_POINTS) values.
pub fn encode_bools(src: &[bool], dst: &mut Vec<u8>) {
    check_encode_len(src.len());
    let Some(&first) = src.first() else {
        dst.extend_from_slice(&[TAG_CONST, 0]);
        return;
    };
    if src.iter().all(|&b| b == first) {
        dst.push(TAG_CONST);
        put_varint(dst, src.len() as u64);
        dst.push(u8::from(first));
        return;
    }
    dst.push(TAG_BITMAP);
    put_varint(dst, src.len() as u64);
    for chunk in src.chunks(8) {
        let byte = chunk
            .iter()
            .enumerate()
            .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i));
        dst.push(byte);
    }
}

/// Decodes one boolean block from the start of `src`, appending its values to `dst`.
///
/// Returns the number of bytes of `src` the block used. On error `dst` is unchanged.
pub fn decode_bools(src: &[u8], dst: &mut Vec<bool>) -> Result<usize, CodecError> {
    all_or_nothing(dst, |dst| {
        let mut r = ByteReader::new(src);
        let (tag, n) = r.header(&[TAG_CONST, TAG_BITMAP])?;
        if n == 0 {
            return Ok(r.pos());
        }
        if tag == TAG_CONST {
            let v = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(CodecError::new(r.pos() - 1, "boolean byte not 0 or 1")),
            };
            dst.resize(dst.len() + n, v);
            return Ok(r.pos());
        }
        let bytes = r.bytes(n.div_ceil(8))?;
        let tail_bits = n % 8;
        if tail_bits != 0 && bytes.last().is_some_and(|&b| b >> tail_bits != 0) {
            return Err(CodecError::new(r.pos() - 1, "nonzero padding bits"));
        }
        dst.reserve(n);
        let (whole, tail) = bytes.split_at(n / 8);
        for &byte in whole {
            dst.extend((0..8).map(|i| (byte >> i) & 1 == 1));
        }
        if let Some(&byte) = tail.first() {
            dst.extend((0..tail_bits).map(|i| (byte >> i) & 1 == 1));
        }
        Ok(r.pos())
    })
}
