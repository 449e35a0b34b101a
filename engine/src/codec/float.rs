//! Float blocks: constant, XOR (Chimp-style) or ALP-like decimal scaling, whichever is
//! smallest, all bit-exact for every bit pattern (NaN payloads, -0.0, subnormals, ±Inf).
//!
//! **XOR** stores the first value's bits, then for each value the XOR with the previous one
//! as one of four cases: identical; a centre run of meaningful bits when the XOR has at
//! least 7 trailing zeros; or the XOR's low bits below its leading zeros (rounded down to
//! one of eight steps, as Chimp does), reusing the previous leading-zero step or giving a
//! new one. Unlike Chimp, each block gives the cases code words of one to three bits by
//! frequency, so repeated values cost one bit. A block is split into up to four contiguous
//! lanes with their own XOR chains, which the decoder advances in lockstep so that their
//! dependency chains overlap (about 1.5x the speed of one chain).
//!
//! **ALP-like**: when values are short decimals (`12.5`, `0.07`, `3.0`), each is
//! `n / 10^e` for a small integer `n` and one exponent `e` per block; the integers go
//! through the integer codec (deltas and bit-packing) and the few values that do not
//! round-trip are stored as exceptions. It is chosen only when smaller than XOR and every
//! value decodes to the exact same bits. Layout: docs/FORMAT.md, "Codecs".

use super::bits::{
    BitReader, BitWriter, ByteReader, PREFIX_CODE, PREFIX_DECODE, assign_slots, put_varint,
};
use super::int::{TAG_I64_CONST, TAG_I64_PACKED, decode_ints, encode_i64};
use super::{CodecError, all_or_nothing, check_encode_len};

/// Scheme tag: every value has the same bits.
pub const TAG_CONST: u8 = 0x21;
/// Scheme tag: XOR with the previous value, Chimp-style.
pub const TAG_XOR: u8 = 0x22;
/// Scheme tag: decimals scaled to integers, with exceptions.
pub const TAG_ALP: u8 = 0x23;
/// Scheme tag: the values' bits as little-endian `u64`s (noise that nothing compresses).
pub const TAG_RAW: u8 = 0x24;

/// Leading-zero counts representable in the XOR stream's 3-bit field.
const LEAD: [u32; 8] = [0, 8, 12, 16, 18, 20, 22, 24];
/// A XOR with at least this many trailing zeros is stored as a centre run.
const TRAIL_MIN: u32 = 7;
/// Most independent XOR lanes in one block (their decoding overlaps in the CPU).
const MAX_LANES: usize = 4;
/// No leading-zero step yet: the "same step" case is invalid.
const NO_LEAD: u32 = 64;

const ZERO: usize = 0;
const CENTRE: usize = 1;
const SAME: usize = 2;
const NEW: usize = 3;

/// Values the ALP-like scheme tries first to decide whether to try the whole block.
const SAMPLE: usize = 128;
/// Largest decimal exponent the ALP-like scheme uses.
const MAX_EXP: usize = 18;
const POW10: [f64; MAX_EXP + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// Index into [`LEAD`] of the largest step not above `lead`.
#[inline]
fn lead_index(lead: u32) -> usize {
    LEAD.iter().rposition(|&l| l <= lead).unwrap_or(0)
}

/// Appends one float block encoding `src` to `dst`.
///
/// # Panics
/// If `src` holds more than [`MAX_BLOCK_POINTS`](super::MAX_BLOCK_POINTS) values.
pub fn encode_floats(src: &[f64], dst: &mut Vec<u8>) {
    check_encode_len(src.len());
    let Some(first) = src.first().map(|v| v.to_bits()) else {
        dst.extend_from_slice(&[TAG_CONST, 0]);
        return;
    };
    if src.iter().all(|v| v.to_bits() == first) {
        dst.push(TAG_CONST);
        put_varint(dst, src.len() as u64);
        dst.extend_from_slice(&first.to_le_bytes());
        return;
    }
    let start = dst.len();
    encode_xor(src, dst);
    let mut alp = Vec::new();
    if encode_alp(src, dst.len() - start, &mut alp) {
        dst.truncate(start);
        dst.extend_from_slice(&alp);
    }
    // Noise: never pay more than the raw bits.
    let raw_len = 1 + super::bits::varint_len(src.len() as u64) + 8 * src.len();
    if dst.len() - start > raw_len {
        dst.truncate(start);
        dst.push(TAG_RAW);
        put_varint(dst, src.len() as u64);
        for v in src {
            dst.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
}

/// The case, leading-zero index and stored step after one value, for XOR `x`.
#[inline]
fn classify(x: u64, stored: u32) -> (usize, usize) {
    if x == 0 {
        return (ZERO, 0);
    }
    let li = lead_index(x.leading_zeros());
    if x.trailing_zeros() >= TRAIL_MIN {
        (CENTRE, li)
    } else if LEAD[li] == stored {
        (SAME, li)
    } else {
        (NEW, li)
    }
}

/// Lanes for a block of `n` values: one per 256 values, at most [`MAX_LANES`].
fn lane_count(n: usize) -> usize {
    (n / 256).clamp(1, MAX_LANES)
}

/// The values of lane `j` of `lanes`: lanes are contiguous, the first `n % lanes` one
/// value longer than the others.
fn lane_range(n: usize, lanes: usize, j: usize) -> std::ops::Range<usize> {
    let (short, extra) = (n / lanes, n % lanes);
    let start = j * short + j.min(extra);
    start..start + short + usize::from(j < extra)
}

fn encode_xor(src: &[f64], dst: &mut Vec<u8>) {
    let lanes = lane_count(src.len());
    let mut counts = [0u64; 4];
    for j in 0..lanes {
        let mut stored = NO_LEAD;
        for w in src[lane_range(src.len(), lanes, j)].windows(2) {
            let (case, li) = classify(w[0].to_bits() ^ w[1].to_bits(), stored);
            counts[case] += 1;
            if case == NEW {
                stored = LEAD[li];
            }
        }
    }
    let slot_of = assign_slots(counts);
    let mut map = 0u8;
    for (case, &slot) in slot_of.iter().enumerate() {
        map |= (case as u8) << (2 * slot);
    }
    dst.push(TAG_XOR);
    put_varint(dst, src.len() as u64);
    dst.push(lanes as u8);
    dst.push(map);
    let mut streams = Vec::new();
    let mut ends = [0usize; MAX_LANES];
    for (j, end) in ends.iter_mut().enumerate().take(lanes) {
        let lane = &src[lane_range(src.len(), lanes, j)];
        dst.extend_from_slice(&lane[0].to_bits().to_le_bytes());
        encode_lane(lane, &slot_of, &mut streams);
        *end = streams.len();
    }
    for j in 0..lanes - 1 {
        put_varint(dst, (ends[j] - if j == 0 { 0 } else { ends[j - 1] }) as u64);
    }
    dst.extend_from_slice(&streams);
}

/// Appends the XOR stream of one lane (all values after its first).
fn encode_lane(lane: &[f64], slot_of: &[usize; 4], dst: &mut Vec<u8>) {
    let mut bw = BitWriter::new(dst);
    let mut stored = NO_LEAD;
    for w in lane.windows(2) {
        let x = w[0].to_bits() ^ w[1].to_bits();
        let (case, li) = classify(x, stored);
        let (cw, len) = PREFIX_CODE[slot_of[case]];
        match case {
            ZERO => bw.write(cw, len),
            CENTRE => {
                let trail = x.trailing_zeros();
                let centre = 64 - LEAD[li] - trail;
                bw.write(
                    cw | (li as u64) << len | u64::from(centre) << (len + 3),
                    len + 9,
                );
                bw.write(x >> trail, centre);
            }
            SAME => {
                bw.write(cw, len);
                bw.write(x, 64 - stored);
            }
            _ => {
                stored = LEAD[li];
                bw.write(cw | (li as u64) << len, len + 3);
                bw.write(x, 64 - stored);
            }
        }
    }
    bw.finish();
}

/// Appends an ALP-like block for `src` to `dst` if it may beat `xor_len` bytes; returns
/// false when the values are not short decimals.
fn encode_alp(src: &[f64], xor_len: usize, dst: &mut Vec<u8>) -> bool {
    let mut ints = Vec::with_capacity(src.len());
    // Cheap rejection: encode a leading sample and compare its size per value with XOR.
    let sample = &src[..src.len().min(SAMPLE)];
    if sample.len() < src.len() {
        let mut out = Vec::new();
        alp_block(sample, best_exp(sample)[0], &mut ints, &mut out);
        if out.len() * src.len() >= xor_len * sample.len() {
            return false;
        }
    }
    let mut best: Option<Vec<u8>> = None;
    let [e_all, e_most] = best_exp(src);
    for e in [e_all, e_most] {
        if best.is_some() && e == e_all {
            break;
        }
        let mut out = Vec::new();
        alp_block(src, e, &mut ints, &mut out);
        if best.as_ref().is_none_or(|b| out.len() < b.len()) {
            best = Some(out);
        }
    }
    match best {
        Some(b) if b.len() < xor_len => {
            dst.extend_from_slice(&b);
            true
        }
        _ => false,
    }
}

/// Candidate exponents: the one that covers every decimal value of `src`, and the one
/// that covers 90% of them.
fn best_exp(src: &[f64]) -> [usize; 2] {
    let mut hist = [0usize; MAX_EXP + 1];
    for &v in src {
        if let Some(e) = min_exp(v) {
            hist[e] += 1;
        }
    }
    let total: usize = hist.iter().sum();
    let e_all = hist.iter().rposition(|&c| c > 0).unwrap_or(0);
    let mut acc = 0;
    let e_most = hist
        .iter()
        .position(|&c| {
            acc += c;
            acc * 10 >= total * 9
        })
        .unwrap_or(e_all);
    [e_all, e_most]
}

/// `n` such that `n / 10^e` gives back exactly `v`, if any.
#[inline]
fn scaled(v: f64, e: usize) -> Option<i64> {
    let x = v * POW10[e];
    // Also false for NaN: only magnitudes where every integer is exact.
    if x.abs().partial_cmp(&9_007_199_254_740_992.0) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    let n = x.round() as i64;
    ((n as f64 / POW10[e]).to_bits() == v.to_bits()).then_some(n)
}

/// The smallest exponent at which `v` round-trips.
fn min_exp(v: f64) -> Option<usize> {
    let limit = 9_007_199_254_740_992.0 / v.abs();
    (0..=MAX_EXP)
        .take_while(|&e| POW10[e] < limit)
        .find(|&e| scaled(v, e).is_some())
}

fn alp_block(src: &[f64], e: usize, ints: &mut Vec<i64>, out: &mut Vec<u8>) {
    ints.clear();
    let mut exceptions = Vec::new();
    let mut last = 0;
    for (i, &v) in src.iter().enumerate() {
        match scaled(v, e) {
            Some(n) => last = n,
            None => exceptions.push(i),
        }
        // An exception repeats the previous integer, which keeps the deltas small.
        ints.push(last);
    }
    out.push(TAG_ALP);
    put_varint(out, src.len() as u64);
    out.push(e as u8);
    encode_i64(ints, out);
    put_varint(out, exceptions.len() as u64);
    let mut prev = 0;
    for (k, &i) in exceptions.iter().enumerate() {
        put_varint(out, (i - prev - usize::from(k > 0)) as u64);
        out.extend_from_slice(&src[i].to_bits().to_le_bytes());
        prev = i;
    }
}

/// Decodes one float block from the start of `src`, appending its values to `dst`.
///
/// Returns the number of bytes of `src` the block used. On error `dst` is unchanged.
pub fn decode_floats(src: &[u8], dst: &mut Vec<f64>) -> Result<usize, CodecError> {
    all_or_nothing(dst, |dst| {
        let mut r = ByteReader::new(src);
        let (tag, n) = r.header(&[TAG_CONST, TAG_XOR, TAG_ALP, TAG_RAW])?;
        if n == 0 {
            return Ok(r.pos());
        }
        match tag {
            TAG_CONST => {
                let v = f64::from_bits(r.u64_le()?);
                dst.resize(dst.len() + n, v);
                Ok(r.pos())
            }
            TAG_XOR => decode_xor(r, n, dst),
            TAG_RAW => {
                let bytes = r.bytes(
                    n.checked_mul(8)
                        .ok_or_else(|| r.err("value count overflows"))?,
                )?;
                dst.extend(bytes.chunks_exact(8).map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    f64::from_bits(u64::from_le_bytes(a))
                }));
                Ok(r.pos())
            }
            _ => decode_alp(r, n, dst),
        }
    })
}

/// Decoding state of one XOR lane.
struct Lane<'a> {
    br: BitReader<'a>,
    prev: u64,
    stored: u32,
}

impl Lane<'_> {
    /// Decodes the next value. Branch-free: one 121-bit peek holds the longest entry
    /// (3 + 9 + 64 bits), and every case's fields are computed and selected by table.
    /// Sets `bad` on an impossible entry.
    #[inline(always)]
    fn step(&mut self, table: &[(u32, usize); 8], bad: &mut bool) -> f64 {
        let p = self.br.peek128();
        let (len, case) = table[(p as usize) & 7];
        let lead = LEAD[((p >> len) as usize) & 7];
        let centre = ((p >> (len + 3)) as u32) & 63;
        self.stored = if case == NEW { lead } else { self.stored };
        let head = len + [0, 9, 0, 3][case];
        let w = [0, centre, 64 - self.stored, 64 - self.stored][case];
        let shift = [0, 64u32.wrapping_sub(lead + centre), 0, 0][case];
        *bad |= (case == CENTRE && lead + centre > 64) || (case == SAME && self.stored == NO_LEAD);
        let x = ((p >> head) as u64) & (((1u128 << w) - 1) as u64);
        self.prev ^= (u128::from(x) << (shift & 127)) as u64;
        self.br.skip(head + w);
        f64::from_bits(self.prev)
    }
}

/// Decodes `L` lanes into `out`, advancing them in lockstep so that their independent
/// dependency chains overlap in the CPU.
fn lockstep<const L: usize>(
    state: &mut [Lane<'_>; MAX_LANES],
    table: &[(u32, usize); 8],
    out: &mut [f64],
    bad: &mut bool,
) {
    let n = out.len();
    let offsets: [usize; L] = std::array::from_fn(|j| lane_range(n, L, j).start);
    for j in 0..L {
        out[offsets[j]] = f64::from_bits(state[j].prev);
    }
    let short = n / L;
    for i in 1..short {
        for j in 0..L {
            out[offsets[j] + i] = state[j].step(table, bad);
        }
    }
    for j in 0..n % L {
        out[offsets[j] + short] = state[j].step(table, bad);
    }
}

fn decode_xor(mut r: ByteReader<'_>, n: usize, dst: &mut Vec<f64>) -> Result<usize, CodecError> {
    let lanes_at = r.pos();
    let lanes = usize::from(r.u8()?);
    if lanes == 0 || lanes > MAX_LANES || lanes > n {
        return Err(CodecError::new(lanes_at, "bad XOR lane count"));
    }
    let map = r.u8()?;
    let case_of = [0, 1, 2, 3].map(|slot| usize::from((map >> (2 * slot)) & 3));
    let mut table = [(0u32, 0usize); 8];
    for (entry, &(len, slot)) in table.iter_mut().zip(PREFIX_DECODE.iter()) {
        *entry = (len, case_of[slot]);
    }
    let mut firsts = [0u64; MAX_LANES];
    for f in firsts.iter_mut().take(lanes) {
        *f = r.u64_le()?;
    }
    let mut lens = [0usize; MAX_LANES];
    for len in lens.iter_mut().take(lanes - 1) {
        let at = r.pos();
        *len = usize::try_from(r.varint()?)
            .ok()
            .filter(|&l| l <= r.remaining())
            .ok_or_else(|| CodecError::new(at, "XOR lane length exceeds the block"))?;
    }
    let mut state: [Lane<'_>; MAX_LANES] = [0, 1, 2, 3].map(|j| Lane {
        br: BitReader::new(&[], 0),
        prev: firsts[j],
        stored: NO_LEAD,
    });
    for (j, lane) in state.iter_mut().enumerate().take(lanes) {
        let base = r.pos();
        let stream = if j + 1 < lanes {
            r.bytes(lens[j])?
        } else {
            r.rest()
        };
        // Every value after a lane's first costs at least one bit.
        if lane_range(n, lanes, j).len() - 1 > stream.len().saturating_mul(8) {
            return Err(CodecError::new(base, "value count exceeds the bit stream"));
        }
        lane.br = BitReader::new(stream, base);
    }
    let start = dst.len();
    dst.resize(start + n, 0.0);
    let out = &mut dst[start..];
    let mut bad = false;
    match lanes {
        1 => lockstep::<1>(&mut state, &table, out, &mut bad),
        2 => lockstep::<2>(&mut state, &table, out, &mut bad),
        3 => lockstep::<3>(&mut state, &table, out, &mut bad),
        _ => lockstep::<4>(&mut state, &table, out, &mut bad),
    }
    let mut used = 0;
    for (j, lane) in state.iter().enumerate().take(lanes) {
        used = lane.br.finish()?;
        if j + 1 < lanes && used != lens[j] {
            return Err(CodecError::new(
                lane.br.offset(),
                "XOR lane length mismatch",
            ));
        }
    }
    if bad {
        return Err(CodecError::new(r.pos(), "bad XOR entry"));
    }
    Ok(r.pos() + used)
}

fn decode_alp(mut r: ByteReader<'_>, n: usize, dst: &mut Vec<f64>) -> Result<usize, CodecError> {
    let e = usize::from(r.u8()?);
    let Some(&p) = POW10.get(e) else {
        return Err(CodecError::new(r.pos() - 1, "decimal exponent above 18"));
    };
    let start = dst.len();
    let base = r.pos();
    let used = decode_ints(r.rest(), [TAG_I64_CONST, TAG_I64_PACKED], dst, |v| {
        v as f64 / p
    })
    .map_err(|e| e.shifted(base))?;
    if dst.len() - start != n {
        return Err(CodecError::new(base, "decimal block count mismatch"));
    }
    r.bytes(used)?;
    let x = r.count()?;
    if x > n {
        return Err(r.err("more exceptions than values"));
    }
    let mut next = 0usize;
    for _ in 0..x {
        let at = r.pos();
        let i = next.saturating_add(usize::try_from(r.varint()?).unwrap_or(usize::MAX));
        let bits = r.u64_le()?;
        let slot = dst
            .get_mut(start.saturating_add(i))
            .filter(|_| i < n)
            .ok_or_else(|| CodecError::new(at, "exception position past the block"))?;
        *slot = f64::from_bits(bits);
        next = i + 1;
    }
    Ok(r.pos())
}

#[cfg(test)]
mod raw_tests {
    use super::*;

    #[test]
    fn noise_never_costs_more_than_raw_bits() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let v: Vec<f64> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                f64::from_bits(x)
            })
            .collect();
        let mut buf = Vec::new();
        encode_floats(&v, &mut buf);
        assert!(buf.len() <= 1 + 2 + 8 * v.len(), "{} bytes", buf.len());
        let mut out = Vec::new();
        assert_eq!(decode_floats(&buf, &mut out).unwrap(), buf.len());
        assert!(out.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()));
        for cut in [0, 1, 2, 10, buf.len() - 1] {
            assert!(decode_floats(&buf[..cut], &mut Vec::new()).is_err());
        }
    }
}
