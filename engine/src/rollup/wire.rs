//! The hand-written binary primitives shared by every mergeable-state encoding (the
//! cluster's partial states in `strata-query`, the rollup blocks of cold files here):
//! unsigned integers as LEB128 varints, signed ones zigzagged first, floats as their 8
//! little-endian IEEE-754 bytes (bit-exact), strings as a varint length and UTF-8 bytes,
//! and the quantile [`Sketch`].
//!
//! Invariants: decoding any bytes returns a value or a [`DecodeError`] naming the offset,
//! never panics and never allocates more than the input can describe (lengths are checked
//! against the bytes left before anything is reserved).

use super::sketch::Sketch;
use std::collections::BTreeMap;

/// Bytes that are not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt partial-state encoding at byte {offset}: {what}")]
pub struct DecodeError {
    /// Offset of the bad byte in the input.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

/// Writes the encoding of values into a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An unsigned varint.
    pub fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A zigzagged signed varint.
    pub fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    /// An i128 as two halves (low unsigned, high signed).
    pub fn i128(&mut self, v: i128) {
        self.u64(v as u64);
        self.i64((v >> 64) as i64);
    }

    /// A float, bit-exact.
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A length-prefixed string.
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
}

/// Reads values back, checking every length against the bytes left.
#[derive(Debug)]
pub struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `src`.
    pub fn new(src: &'a [u8]) -> Reader<'a> {
        Reader { src, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn left(&self) -> usize {
        self.src.len() - self.pos
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.src.len()
    }

    /// The error for the current offset.
    pub fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.src.get(self.pos).ok_or(self.err("a byte"))?;
        self.pos += 1;
        Ok(b)
    }

    /// An unsigned varint (at most 10 bytes).
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(self.err("a varint that fits 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("the end of a varint"))
    }

    /// A zigzagged signed varint.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let u = self.u64()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// An i128 written by [`Writer::i128`].
    pub fn i128(&mut self) -> Result<i128, DecodeError> {
        let lo = self.u64()?;
        let hi = self.i64()?;
        Ok((i128::from(hi) << 64) | i128::from(lo))
    }

    /// A float.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.take(8, "8 bytes of a float")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    /// A count of items that each take at least `min_item` bytes: refused when the bytes
    /// left cannot hold that many, so nothing is reserved beyond the input's size.
    pub fn len(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        let left = (self.src.len() - self.pos) as u64;
        if n.saturating_mul(min_item.max(1) as u64) > left {
            return Err(self.err("a count the bytes left can hold"));
        }
        Ok(n as usize)
    }

    /// `n` raw bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.src.len() - self.pos < n {
            return Err(self.err(what));
        }
        let b = &self.src[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len(1)?;
        self.take(n, "bytes")
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError {
                offset: start,
                what: "a UTF-8 string",
            })
    }

    /// A presence byte: 0 absent, 1 present.
    pub fn opt(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError {
                offset: self.pos - 1,
                what: "0 or 1 (absent or present)",
            }),
        }
    }
}

fn put_store(w: &mut Writer, s: &BTreeMap<i32, u64>) {
    w.u64(s.len() as u64);
    let mut prev = 0i64;
    for (i, c) in s {
        w.i64(i64::from(*i) - prev);
        prev = i64::from(*i);
        w.u64(*c);
    }
}

fn get_store(r: &mut Reader<'_>) -> Result<BTreeMap<i32, u64>, DecodeError> {
    let n = r.len(2)?;
    if n > super::sketch::MAX_BUCKETS {
        return Err(r.err("at most 2048 sketch buckets"));
    }
    let mut s = BTreeMap::new();
    let mut prev = 0i64;
    for _ in 0..n {
        let d = r.i64()?;
        let i = prev
            .checked_add(d)
            .and_then(|i| i32::try_from(i).ok())
            .ok_or(r.err("a sketch bucket index"))?;
        if !s.is_empty() && i64::from(i) <= prev {
            return Err(r.err("increasing sketch bucket indices"));
        }
        prev = i64::from(i);
        s.insert(i, r.u64()?);
    }
    Ok(s)
}

/// Appends the encoding of a sketch.
pub fn put_sketch(w: &mut Writer, s: &Sketch) {
    put_store(w, &s.pos);
    put_store(w, &s.neg);
    for c in [s.zeros, s.neg_inf, s.pos_inf, s.nan] {
        w.u64(c);
    }
    w.f64(s.min);
    w.f64(s.max);
}

/// Reads a sketch.
pub fn get_sketch(r: &mut Reader<'_>) -> Result<Sketch, DecodeError> {
    Ok(Sketch {
        pos: get_store(r)?,
        neg: get_store(r)?,
        zeros: r.u64()?,
        neg_inf: r.u64()?,
        pos_inf: r.u64()?,
        nan: r.u64()?,
        min: r.f64()?,
        max: r.f64()?,
    })
}
