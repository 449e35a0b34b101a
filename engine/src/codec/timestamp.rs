//! Timestamp blocks: run-length for a constant interval, else delta-of-delta with
//! per-block variable bit buckets.
//!
//! A block whose successive differences are all equal (every block of one or two values,
//! every regular scrape) is stored as `first, delta, count` whatever its length, and
//! decodes at memory speed. Any other block stores the first value and first delta, then
//! each delta-of-delta divided by the block's common factor (a clock with millisecond
//! precision in nanosecond timestamps gives a factor of 10⁶), zigzagged, in one of four
//! bit widths chosen per block to minimise the size, each named by a prefix code word of
//! one to three bits (shortest for the most frequent). Arithmetic wraps, so any `i64`
//! sequence round-trips, sorted or not. Layout: docs/FORMAT.md, "Codecs".

use super::bits::{
    BitReader, BitWriter, ByteReader, PREFIX_CODE, PREFIX_DECODE, assign_slots, bit_width, mask,
    prefix_cost, put_varint, unzigzag, zigzag,
};
use super::{CodecError, all_or_nothing, check_encode_len};

/// Scheme tag: constant interval, `first, delta` (run-length).
pub const TAG_RUN: u8 = 0x11;
/// Scheme tag: delta-of-delta with variable bit buckets.
pub const TAG_DOD: u8 = 0x12;

/// Appends one timestamp block encoding `src` to `dst`.
///
/// Any `i64` sequence round-trips bit for bit; sorted, regular input is the cheap case.
///
/// # Panics
/// If `src` holds more than [`MAX_BLOCK_POINTS`](super::MAX_BLOCK_POINTS) values.
pub fn encode_timestamps(src: &[i64], dst: &mut Vec<u8>) {
    check_encode_len(src.len());
    let (first, delta) = match src {
        [] => {
            dst.extend_from_slice(&[TAG_RUN, 0]);
            return;
        }
        [a] => (*a, 0),
        [a, b, ..] => (*a, b.wrapping_sub(*a)),
    };
    if src.windows(2).all(|w| w[1].wrapping_sub(w[0]) == delta) {
        dst.push(TAG_RUN);
        put_varint(dst, src.len() as u64);
        dst.extend_from_slice(&first.to_le_bytes());
        put_varint(dst, zigzag(delta));
        return;
    }
    encode_dod(src, first, delta, dst);
}

/// The deltas-of-deltas of `src` (one fewer than its deltas), with wrapping arithmetic.
fn dods(src: &[i64]) -> impl Iterator<Item = i64> + '_ {
    src.windows(3).map(|w| {
        w[2].wrapping_sub(w[1])
            .wrapping_sub(w[1].wrapping_sub(w[0]))
    })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn encode_dod(src: &[i64], first: i64, delta: i64, dst: &mut Vec<u8>) {
    // The common factor of all deltas-of-deltas (1 if none, or if it does not fit i64).
    let mut g = 0u64;
    for dod in dods(src) {
        g = gcd(g, dod.unsigned_abs());
        if g == 1 {
            break;
        }
    }
    let scale = if g == 0 || g > i64::MAX as u64 {
        1
    } else {
        g as i64
    };
    let code = |dod: i64| zigzag(dod / scale);

    let mut hist = [0u64; 65];
    for dod in dods(src) {
        hist[bit_width(code(dod)) as usize] += 1;
    }
    let widths = choose_widths(&hist);

    dst.push(TAG_DOD);
    put_varint(dst, src.len() as u64);
    dst.extend_from_slice(&first.to_le_bytes());
    put_varint(dst, zigzag(delta));
    put_varint(dst, scale as u64);
    for w in widths {
        dst.push(w as u8);
    }

    // For each value width, the code word and the width of the bucket that holds it.
    let mut by_width = [(0u64, 0u32, 0u32); 65];
    for (vw, entry) in by_width.iter_mut().enumerate() {
        let slot = (0..4)
            .filter(|&s| widths[s] >= vw as u32)
            .min_by_key(|&s| (widths[s], s))
            .unwrap_or(0);
        let (cw, len) = PREFIX_CODE[slot];
        *entry = (cw, len, widths[slot]);
    }
    let mut bw = BitWriter::new(dst);
    for dod in dods(src) {
        let v = code(dod);
        let (cw, len, w) = by_width[bit_width(v) as usize];
        if len + w <= 64 {
            bw.write(cw | (v << len), len + w);
        } else {
            bw.write(cw, len);
            bw.write(v, w);
        }
    }
    bw.finish();
}

/// Picks four bucket widths, in code-word slot order, that minimise the stream size for a
/// histogram of value widths. The widest bucket is always the widest value.
fn choose_widths(hist: &[u64; 65]) -> [u32; 4] {
    let present: Vec<u32> = (0..=64u32).filter(|&w| hist[w as usize] > 0).collect();
    let max = present.last().copied().unwrap_or(0);
    let mut cum = [0u64; 65];
    let mut acc = 0;
    for (w, c) in cum.iter_mut().enumerate() {
        acc += hist[w];
        *c = acc;
    }
    let total = acc;
    let mut best = (u64::MAX, [max; 4], [0u64; 4]);
    for (i, &a) in present.iter().enumerate() {
        for (j, &b) in present.iter().enumerate().skip(i) {
            for &c in &present[j..] {
                let n = [
                    cum[a as usize],
                    cum[b as usize] - cum[a as usize],
                    cum[c as usize] - cum[b as usize],
                    total - cum[c as usize],
                ];
                let bits = n[0] * u64::from(a)
                    + n[1] * u64::from(b)
                    + n[2] * u64::from(c)
                    + n[3] * u64::from(max)
                    + prefix_cost(n);
                if bits < best.0 {
                    best = (bits, [a, b, c, max], n);
                }
            }
        }
    }
    let (_, bucket, counts) = best;
    let slot_of = assign_slots(counts);
    let mut widths = [0u32; 4];
    for k in 0..4 {
        widths[slot_of[k]] = bucket[k];
    }
    widths
}

/// Decodes one timestamp block from the start of `src`, appending its values to `dst`.
///
/// Returns the number of bytes of `src` the block used. On error `dst` is unchanged.
pub fn decode_timestamps(src: &[u8], dst: &mut Vec<i64>) -> Result<usize, CodecError> {
    all_or_nothing(dst, |dst| {
        let mut r = ByteReader::new(src);
        let (tag, n) = r.header(&[TAG_RUN, TAG_DOD])?;
        if n == 0 {
            return Ok(r.pos());
        }
        let first = r.u64_le()? as i64;
        let delta = r.varint_i64()?;
        if tag == TAG_RUN {
            dst.reserve(n);
            dst.extend((0..n as i64).map(|i| first.wrapping_add(i.wrapping_mul(delta))));
            return Ok(r.pos());
        }
        let scale_at = r.pos();
        let scale = r.varint()?;
        if scale == 0 || scale > i64::MAX as u64 {
            return Err(CodecError::new(
                scale_at,
                "delta-of-delta scale out of range",
            ));
        }
        let scale = scale as i64;
        let mut widths = [0u32; 4];
        for w in &mut widths {
            *w = r.width()?;
        }
        // Every value after the second costs at least one bit.
        let coded = n.saturating_sub(2);
        if coded > r.remaining().saturating_mul(8) {
            return Err(r.err("value count exceeds the bit stream"));
        }
        let mut table = [(0u32, 0u32); 8];
        for (entry, &(len, slot)) in table.iter_mut().zip(PREFIX_DECODE.iter()) {
            *entry = (len, widths[slot]);
        }
        dst.reserve(n);
        dst.push(first);
        if n > 1 {
            dst.push(first.wrapping_add(delta));
        }
        let mut br = BitReader::new(r.rest(), r.pos());
        let (mut t, mut d) = (first.wrapping_add(delta), delta);
        for _ in 0..coded {
            let p = br.peek();
            let (len, w) = table[(p & 7) as usize];
            let v = if len + w <= 57 {
                br.skip(len + w);
                (p >> len) & mask(w)
            } else {
                br.skip(len);
                br.take(w)
            };
            d = d.wrapping_add(unzigzag(v).wrapping_mul(scale));
            t = t.wrapping_add(d);
            dst.push(t);
        }
        Ok(r.pos() + br.finish()?)
    })
}
