//! Integer blocks (`i64` and `u64`): constant, or differences of order 0, 1 or 2 with
//! frame-of-reference bit-packing in miniblocks of 128.
//!
//! Order 0 packs the values themselves (bounded noise), order 1 their deltas (random walks
//! such as gauges), order 2 their deltas-of-deltas (steady counters). The encoder computes
//! the exact size of each and keeps the smallest. Each miniblock of 128 residuals stores its
//! own minimum and bit width, so an outlier such as a counter reset widens one miniblock
//! only. `u64` values are coded as the `i64` with the same bits, under their own tags.
//! Arithmetic wraps, so every value round-trips. Layout: docs/FORMAT.md, "Codecs".

use super::bits::{ByteReader, bit_width, load_le, mask, put_varint, varint_len, zigzag};
use super::{CodecError, all_or_nothing, check_encode_len};

/// Scheme tag: every `i64` equal.
pub const TAG_I64_CONST: u8 = 0x31;
/// Scheme tag: `i64` differences bit-packed in miniblocks.
pub const TAG_I64_PACKED: u8 = 0x32;
/// Scheme tag: every `u64` equal.
pub const TAG_U64_CONST: u8 = 0x41;
/// Scheme tag: `u64` differences bit-packed in miniblocks.
pub const TAG_U64_PACKED: u8 = 0x42;

/// Residuals per miniblock.
const MINI: usize = 128;

/// Appends one integer block encoding `src` to `dst`.
///
/// # Panics
/// If `src` holds more than [`MAX_BLOCK_POINTS`](super::MAX_BLOCK_POINTS) values.
pub fn encode_i64(src: &[i64], dst: &mut Vec<u8>) {
    encode_ints(src, [TAG_I64_CONST, TAG_I64_PACKED], dst);
}

/// Decodes one `i64` block from the start of `src`, appending its values to `dst`.
///
/// Returns the number of bytes of `src` the block used. On error `dst` is unchanged.
pub fn decode_i64(src: &[u8], dst: &mut Vec<i64>) -> Result<usize, CodecError> {
    if src.first() == Some(&super::int_bytes::TAG_I64_BYTES) {
        return super::int_bytes::decode(src, super::int_bytes::TAG_I64_BYTES, dst, |v| v);
    }
    decode_ints(src, [TAG_I64_CONST, TAG_I64_PACKED], dst, |v| v)
}

/// Appends one unsigned integer block encoding `src` to `dst`.
///
/// # Panics
/// If `src` holds more than [`MAX_BLOCK_POINTS`](super::MAX_BLOCK_POINTS) values.
pub fn encode_u64(src: &[u64], dst: &mut Vec<u8>) {
    encode_ints(src, [TAG_U64_CONST, TAG_U64_PACKED], dst);
}

/// Decodes one `u64` block from the start of `src`, appending its values to `dst`.
///
/// Returns the number of bytes of `src` the block used. On error `dst` is unchanged.
pub fn decode_u64(src: &[u8], dst: &mut Vec<u64>) -> Result<usize, CodecError> {
    if src.first() == Some(&super::int_bytes::TAG_U64_BYTES) {
        return super::int_bytes::decode(src, super::int_bytes::TAG_U64_BYTES, dst, |v| v as u64);
    }
    decode_ints(src, [TAG_U64_CONST, TAG_U64_PACKED], dst, |v| v as u64)
}

/// A 64-bit integer coded by its two's-complement bits.
pub(crate) trait Word: Copy {
    fn bits(self) -> i64;
}

impl Word for i64 {
    #[inline]
    fn bits(self) -> i64 {
        self
    }
}

impl Word for u64 {
    #[inline]
    fn bits(self) -> i64 {
        self as i64
    }
}

/// Fills `out` with the order-`order` residuals for indices `start..` (at most [`MINI`]);
/// returns how many. Index `i` must be at least `order`.
#[inline]
fn residuals<T: Word>(src: &[T], order: usize, start: usize, out: &mut [i64; MINI]) -> usize {
    let end = (start + MINI).min(src.len());
    let m = end - start;
    for (k, o) in out[..m].iter_mut().enumerate() {
        let i = start + k;
        let v = src[i].bits();
        *o = match order {
            0 => v,
            1 => v.wrapping_sub(src[i - 1].bits()),
            _ => {
                let d = v.wrapping_sub(src[i - 1].bits());
                d.wrapping_sub(src[i - 1].bits().wrapping_sub(src[i - 2].bits()))
            }
        };
    }
    m
}

/// Most outliers one miniblock stores apart from its packed frame.
const MAX_EXCEPTIONS: usize = 8;
/// Flag in a miniblock's width byte: a list of exceptions follows the packed values.
const HAS_EXCEPTIONS: u8 = 0x80;

/// How one miniblock is packed: residuals in `min..=max` are packed in `width` bits, the
/// others are exceptions.
struct Frame {
    min: i64,
    max: i64,
    width: u32,
    size: usize,
}

/// Cost in bytes of one exception entry (index byte and zigzag varint).
fn exception_cost(v: i64) -> usize {
    1 + varint_len(zigzag(v))
}

/// Chooses the frame of one miniblock: up to [`MAX_EXCEPTIONS`] of the smallest and
/// largest residuals may be left out of the frame, if that makes the miniblock smaller.
fn plan(res: &[i64]) -> Frame {
    let m = res.len();
    let (lo_v, hi_v) = (res.iter().min(), res.iter().max());
    let (min, max) = (lo_v.copied().unwrap_or(0), hi_v.copied().unwrap_or(0));
    let width = bit_width(max.wrapping_sub(min) as u64);
    if width <= 1 {
        // Nothing to gain from exceptions.
        let size = varint_len(zigzag(min)) + 1 + (m * width as usize).div_ceil(8);
        return Frame {
            min,
            max,
            width,
            size,
        };
    }
    // Only the k + 1 smallest and largest residuals matter: select them, then sort them.
    let k = MAX_EXCEPTIONS.min(m - 1);
    let mut sorted = [0i64; MINI];
    let s = &mut sorted[..m];
    s.copy_from_slice(res);
    if m <= 4 * (k + 1) {
        s.sort_unstable();
    } else {
        s.select_nth_unstable(k);
        s[..k].sort_unstable();
        let rest = &mut s[k + 1..];
        let j = rest.len() - 1 - k;
        rest.select_nth_unstable(j);
        rest[j + 1..].sort_unstable();
    }
    let mut low_cost = [0usize; MAX_EXCEPTIONS + 1];
    let mut high_cost = [0usize; MAX_EXCEPTIONS + 1];
    for i in 0..k {
        low_cost[i + 1] = low_cost[i] + exception_cost(s[i]);
        high_cost[i + 1] = high_cost[i] + exception_cost(s[m - 1 - i]);
    }
    let mut best = Frame {
        min: 0,
        max: 0,
        width: 0,
        size: usize::MAX,
    };
    for lo in 0..=k {
        for hi in 0..=(k - lo) {
            let (min, max) = (s[lo], s[m - 1 - hi]);
            let width = bit_width(max.wrapping_sub(min) as u64);
            let listed = if lo + hi > 0 {
                1 + low_cost[lo] + high_cost[hi]
            } else {
                0
            };
            let size = varint_len(zigzag(min)) + 1 + listed + (m * width as usize).div_ceil(8);
            if size < best.size {
                best = Frame {
                    min,
                    max,
                    width,
                    size,
                };
            }
        }
    }
    best
}

/// Exact encoded size of the packed miniblocks for one order.
fn packed_size<T: Word>(src: &[T], order: usize) -> usize {
    let mut buf = [0i64; MINI];
    let mut size = 0;
    let mut start = order;
    while start < src.len() {
        let m = residuals(src, order, start, &mut buf);
        size += plan(&buf[..m]).size;
        start += m;
    }
    size
}

pub(crate) fn encode_ints<T: Word>(src: &[T], tags: [u8; 2], dst: &mut Vec<u8>) {
    check_encode_len(src.len());
    let Some(first) = src.first().map(|v| v.bits()) else {
        dst.extend_from_slice(&[tags[0], 0]);
        return;
    };
    if src.iter().all(|v| v.bits() == first) {
        dst.push(tags[0]);
        put_varint(dst, src.len() as u64);
        put_varint(dst, zigzag(first));
        return;
    }
    // Orders below the length only (a constant block was handled above, so len >= 2).
    let order = (0..src.len().min(3))
        .min_by_key(|&k| (packed_size(src, k), k))
        .unwrap_or(0);
    dst.push(tags[1]);
    put_varint(dst, src.len() as u64);
    dst.push(order as u8);
    if order >= 1 {
        put_varint(dst, zigzag(first));
    }
    if order == 2 {
        put_varint(dst, zigzag(src[1].bits().wrapping_sub(first)));
    }
    let mut buf = [0i64; MINI];
    let mut start = order;
    while start < src.len() {
        let m = residuals(src, order, start, &mut buf);
        write_miniblock(&buf[..m], &plan(&buf[..m]), dst);
        start += m;
    }
}

/// Appends one miniblock: minimum, width byte, packed values padded to a whole byte, then
/// the exceptions if any.
fn write_miniblock(res: &[i64], f: &Frame, dst: &mut Vec<u8>) {
    let outside = |r: i64| r < f.min || r > f.max;
    let exceptions = res.iter().filter(|&&r| outside(r)).count();
    put_varint(dst, zigzag(f.min));
    dst.push(f.width as u8 | if exceptions > 0 { HAS_EXCEPTIONS } else { 0 });
    let mut bw = super::bits::BitWriter::new(dst);
    for &r in res {
        let v = if outside(r) {
            0
        } else {
            r.wrapping_sub(f.min) as u64
        };
        bw.write(v, f.width);
    }
    bw.finish();
    if exceptions > 0 {
        dst.push(exceptions as u8);
        for (i, &r) in res.iter().enumerate().filter(|&(_, &r)| outside(r)) {
            dst.push(i as u8);
            put_varint(dst, zigzag(r));
        }
    }
}

/// Decodes an integer block with the given `[const, packed]` tags, mapping each decoded
/// `i64` through `map` (the float codec uses this to decode scaled decimals in place).
pub(crate) fn decode_ints<T>(
    src: &[u8],
    tags: [u8; 2],
    dst: &mut Vec<T>,
    map: impl Fn(i64) -> T,
) -> Result<usize, CodecError> {
    all_or_nothing(dst, |dst| {
        let mut r = ByteReader::new(src);
        let (tag, n) = r.header(&tags)?;
        if n == 0 {
            return Ok(r.pos());
        }
        if tag == tags[0] {
            let v = r.varint_i64()?;
            dst.reserve(n);
            dst.extend((0..n).map(|_| map(v)));
            return Ok(r.pos());
        }
        let order_at = r.pos();
        let order = usize::from(r.u8()?);
        if order > 2 || order >= n {
            return Err(CodecError::new(order_at, "bad difference order"));
        }
        let mut acc = if order >= 1 { r.varint_i64()? } else { 0 };
        let mut delta = if order == 2 { r.varint_i64()? } else { 0 };
        // Every miniblock costs at least two bytes.
        let minis = (n - order).div_ceil(MINI);
        if minis > r.remaining() / 2 {
            return Err(r.err("value count exceeds the block"));
        }
        dst.reserve(n);
        if order >= 1 {
            dst.push(map(acc));
        }
        if order == 2 {
            acc = acc.wrapping_add(delta);
            dst.push(map(acc));
        }
        let mut buf = [0i64; MINI];
        let mut left = n - order;
        while left > 0 {
            let m = left.min(MINI);
            left -= m;
            let min = r.varint_i64()?;
            let flags_at = r.pos();
            let flags = r.u8()?;
            let w = u32::from(flags & !HAS_EXCEPTIONS);
            if w > 64 {
                return Err(CodecError::new(flags_at, "bit width above 64"));
            }
            let payload = r.bytes((m * w as usize).div_ceil(8))?;
            unpack(payload, min, w, &mut buf[..m]);
            if flags & HAS_EXCEPTIONS != 0 {
                let count = usize::from(r.u8()?);
                for _ in 0..count {
                    let at = r.pos();
                    let slot = buf[..m]
                        .get_mut(usize::from(r.u8()?))
                        .ok_or_else(|| CodecError::new(at, "exception index past the miniblock"))?;
                    *slot = r.varint_i64()?;
                }
            }
            match order {
                0 => dst.extend(buf[..m].iter().map(|&v| map(v))),
                1 => dst.extend(buf[..m].iter().map(|&v| {
                    acc = acc.wrapping_add(v);
                    map(acc)
                })),
                _ => dst.extend(buf[..m].iter().map(|&v| {
                    delta = delta.wrapping_add(v);
                    acc = acc.wrapping_add(delta);
                    map(acc)
                })),
            }
        }
        Ok(r.pos())
    })
}

/// Unpacks `out.len()` values of `w` bits from `payload`, adding `min` to each.
#[inline]
fn unpack(payload: &[u8], min: i64, w: u32, out: &mut [i64]) {
    let mk = mask(w);
    if w == 0 {
        out.fill(min);
    } else if w <= 56 {
        for (j, o) in out.iter_mut().enumerate() {
            let pos = j * w as usize;
            let u = (load_le(payload, pos >> 3) >> (pos & 7)) & mk;
            *o = min.wrapping_add(u as i64);
        }
    } else {
        for (j, o) in out.iter_mut().enumerate() {
            let u = super::bits::bits_at(payload, j * w as usize, w);
            *o = min.wrapping_add(u as i64);
        }
    }
}
