//! Low-level primitives shared by the codecs: LEB128 varints, zigzag, a byte cursor, and a
//! 64-bit-word bit writer and reader.
//!
//! Bit streams are **LSB-first**: bit `i` of a stream is bit `i % 8` of byte `i / 8`, and a
//! value of width `w` written at bit `p` occupies bits `p .. p + w`, its least significant
//! bit first. Reading a value is therefore one unaligned little-endian 64-bit load, a shift
//! and a mask.

use super::{CodecError, MAX_BLOCK_POINTS};

/// Maps a signed integer to an unsigned one so that small magnitudes get small codes.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Number of significant bits of `v` (0 for 0, 64 for values with the top bit set).
#[inline]
pub(crate) fn bit_width(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// The low `w` bits set (`w` in `0..=64`).
#[inline]
pub(crate) fn mask(w: u32) -> u64 {
    if w >= 64 { u64::MAX } else { (1u64 << w) - 1 }
}

/// Appends `v` as an unsigned LEB128 varint (1 to 10 bytes).
#[inline]
pub(crate) fn put_varint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Length in bytes of `v` as an unsigned LEB128 varint.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    (bit_width(v | 1) as usize).div_ceil(7)
}

/// Loads up to 8 bytes starting at `at` as a little-endian word, zero-padded past the end.
#[inline]
pub(crate) fn load_le(src: &[u8], at: usize) -> u64 {
    match src.get(at..).and_then(|s| s.first_chunk::<8>()) {
        Some(word) => u64::from_le_bytes(*word),
        None => {
            let mut word = [0u8; 8];
            if let Some(tail) = src.get(at..) {
                word[..tail.len()].copy_from_slice(tail);
            }
            u64::from_le_bytes(word)
        }
    }
}

/// Reads the `w`-bit value (`w` in `0..=64`) at bit position `pos`, zero past the end.
#[inline]
pub(crate) fn bits_at(src: &[u8], pos: usize, w: u32) -> u64 {
    let shift = (pos & 7) as u32;
    let lo = load_le(src, pos >> 3) >> shift;
    if w + shift <= 64 {
        lo & mask(w)
    } else {
        // Only reached for w > 56: the top bits live in the ninth byte.
        let hi = load_le(src, (pos >> 3) + 8) << (64 - shift);
        (lo | hi) & mask(w)
    }
}

/// A cursor over the bytes of one block, producing [`CodecError`]s with offsets.
pub(crate) struct ByteReader<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        ByteReader { src, pos: 0 }
    }

    /// Bytes consumed so far.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.src.len() - self.pos
    }

    /// The unconsumed rest of the input.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.src[self.pos..]
    }

    pub(crate) fn err(&self, what: &'static str) -> CodecError {
        CodecError::new(self.pos, what)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .src
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end of block"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(self.err("unexpected end of block"));
        }
        let s = &self.src[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, CodecError> {
        let b = self.bytes(8)?;
        Ok(load_le(b, 0))
    }

    /// An unsigned LEB128 varint of at most 10 bytes whose value fits in 64 bits.
    pub(crate) fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return Err(CodecError::new(self.pos - 1, "varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(CodecError::new(self.pos - 1, "varint longer than 10 bytes"))
    }

    pub(crate) fn varint_i64(&mut self) -> Result<i64, CodecError> {
        self.varint().map(unzigzag)
    }

    /// A value count, at most [`MAX_BLOCK_POINTS`].
    pub(crate) fn count(&mut self) -> Result<usize, CodecError> {
        let at = self.pos;
        let n = self.varint()?;
        if n > MAX_BLOCK_POINTS as u64 {
            return Err(CodecError::new(at, "value count exceeds MAX_BLOCK_POINTS"));
        }
        Ok(n as usize)
    }

    /// A bit width in `0..=64`.
    pub(crate) fn width(&mut self) -> Result<u32, CodecError> {
        let w = self.u8()?;
        if w > 64 {
            return Err(CodecError::new(self.pos - 1, "bit width above 64"));
        }
        Ok(u32::from(w))
    }

    /// Reads the block header (tag and count) and checks the tag against `known`.
    pub(crate) fn header(&mut self, known: &[u8]) -> Result<(u8, usize), CodecError> {
        let tag = self.u8()?;
        if !known.contains(&tag) {
            return Err(CodecError::new(0, "unknown scheme tag"));
        }
        Ok((tag, self.count()?))
    }
}

/// Appends a bit stream to a byte vector, 64 bits at a time.
pub(crate) struct BitWriter<'a> {
    dst: &'a mut Vec<u8>,
    acc: u64,
    used: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(dst: &'a mut Vec<u8>) -> Self {
        BitWriter {
            dst,
            acc: 0,
            used: 0,
        }
    }

    /// Writes the low `w` bits of `v` (`w` in `0..=64`; higher bits of `v` are ignored).
    #[inline]
    pub(crate) fn write(&mut self, v: u64, w: u32) {
        if w == 0 {
            return;
        }
        let v = v & mask(w);
        self.acc |= v << self.used;
        let total = self.used + w;
        if total >= 64 {
            self.dst.extend_from_slice(&self.acc.to_le_bytes());
            self.acc = if self.used == 0 {
                0
            } else {
                v >> (64 - self.used)
            };
            self.used = total - 64;
        } else {
            self.used = total;
        }
    }

    /// Flushes the last partial word, padding the final byte with zero bits.
    pub(crate) fn finish(self) {
        let bytes = self.used.div_ceil(8) as usize;
        self.dst.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
    }
}

/// Reads a bit stream written by [`BitWriter`], with the end of `src` as its bound.
///
/// Reads are unchecked for speed (past the end the stream reads as zeros); every decode
/// loop is bounded by its value count and calls [`finish`](Self::finish) at the end.
pub(crate) struct BitReader<'a> {
    src: &'a [u8],
    pos: usize,
    end: usize,
    /// Offset of `src` within the block, for error offsets.
    base: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(src: &'a [u8], base: usize) -> Self {
        BitReader {
            src,
            pos: 0,
            end: src.len() * 8,
            base,
        }
    }

    /// The next 64 bits of the stream; at least the low 57 are valid (zero past the end).
    #[inline]
    pub(crate) fn peek(&self) -> u64 {
        load_le(self.src, self.pos >> 3) >> (self.pos & 7)
    }

    /// The next 128 bits of the stream; at least the low 121 are valid (zero past the end).
    #[inline]
    pub(crate) fn peek128(&self) -> u128 {
        let at = self.pos >> 3;
        let word = u128::from(load_le(self.src, at)) | u128::from(load_le(self.src, at + 8)) << 64;
        word >> (self.pos & 7)
    }

    /// Advances by `n` bits. Past the end of the input the stream reads as zeros;
    /// [`finish`](Self::finish) reports whether the end was passed.
    #[inline]
    pub(crate) fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads a `w`-bit value (`w` in `0..=64`); zeros past the end, like [`skip`](Self::skip).
    #[inline]
    pub(crate) fn take(&mut self, w: u32) -> u64 {
        let v = if w <= 56 {
            self.peek() & mask(w)
        } else {
            bits_at(self.src, self.pos, w)
        };
        self.skip(w);
        v
    }

    /// Offset in the block of the byte being read, for errors.
    pub(crate) fn offset(&self) -> usize {
        self.base + (self.pos >> 3).min(self.src.len())
    }

    /// Ends the stream: fails if it ran past the end of the input or if the padding bits
    /// up to the next byte are not zero; else returns the bytes it used.
    pub(crate) fn finish(&self) -> Result<usize, CodecError> {
        if self.pos > self.end {
            return Err(CodecError::new(
                self.base + self.src.len(),
                "bit stream truncated",
            ));
        }
        let used = (self.pos & 7) as u32;
        if used != 0 && (self.peek() & mask(8 - used)) != 0 {
            return Err(CodecError::new(self.offset(), "nonzero padding bits"));
        }
        Ok(self.pos.div_ceil(8))
    }
}

/// The prefix code used by the timestamp and float streams to name one of four cases.
///
/// Code words, in the order bits are read: `0` → slot 0, `10` → slot 1, `110` → slot 2,
/// `111` → slot 3. As LSB-first values these are `0b0`, `0b01`, `0b011`, `0b111`.
pub(crate) const PREFIX_CODE: [(u64, u32); 4] = [(0b0, 1), (0b01, 2), (0b011, 3), (0b111, 3)];

/// `(length, slot)` of the code word at the start of the low three bits of a peek.
pub(crate) const PREFIX_DECODE: [(u32, usize); 8] = [
    (1, 0),
    (2, 1),
    (1, 0),
    (3, 2),
    (1, 0),
    (2, 1),
    (1, 0),
    (3, 3),
];

/// Given how often each of four cases occurs, the slot each case gets so that frequent
/// cases get short code words; returns `slot_of_case`.
pub(crate) fn assign_slots(counts: [u64; 4]) -> [usize; 4] {
    let mut order = [0usize, 1, 2, 3];
    // Stable: ties keep case order, so the result is deterministic.
    order.sort_by_key(|&c| std::cmp::Reverse(counts[c]));
    let mut slot_of_case = [0usize; 4];
    for (slot, &case) in order.iter().enumerate() {
        slot_of_case[case] = slot;
    }
    slot_of_case
}

/// Bits spent on code words when the cases occur `counts` times, best assignment.
pub(crate) fn prefix_cost(counts: [u64; 4]) -> u64 {
    let mut c = counts;
    c.sort_unstable_by(|a, b| b.cmp(a));
    c[0] + 2 * c[1] + 3 * (c[2] + c[3])
}
