//! Integer blocks as one byte per value: the first value, then each zigzagged delta in
//! one byte. Larger than bit-packing on its own, but byte-aligned symbols are what zstd's
//! entropy stage compresses best, so cold blocks of small random walks (most gauges) end up
//! near the entropy of their deltas. Only for blocks whose every zigzagged delta is below
//! 256. Layout: docs/FORMAT.md, "Codecs".

use super::bits::{ByteReader, put_varint, unzigzag, zigzag};
use super::{CodecError, all_or_nothing, check_encode_len};

/// Scheme tag: `i64` deltas, one byte each.
pub const TAG_I64_BYTES: u8 = 0x33;
/// Scheme tag: `u64` deltas, one byte each.
pub const TAG_U64_BYTES: u8 = 0x43;

fn encode(bits: impl Iterator<Item = i64> + Clone, len: usize, tag: u8, dst: &mut Vec<u8>) -> bool {
    check_encode_len(len);
    if len == 0 {
        return false;
    }
    let mut prev = None;
    for v in bits.clone() {
        if let Some(p) = prev
            && zigzag(i64::wrapping_sub(v, p)) > 255
        {
            return false;
        }
        prev = Some(v);
    }
    dst.push(tag);
    put_varint(dst, len as u64);
    let mut prev = 0i64;
    for (i, v) in bits.enumerate() {
        if i == 0 {
            put_varint(dst, zigzag(v));
        } else {
            dst.push(zigzag(v.wrapping_sub(prev)) as u8);
        }
        prev = v;
    }
    true
}

/// Appends `src` as a one-byte-per-delta block, or returns `false` (appending nothing)
/// when `src` is empty or a delta does not fit.
pub fn encode_i64_bytewise(src: &[i64], dst: &mut Vec<u8>) -> bool {
    encode(src.iter().copied(), src.len(), TAG_I64_BYTES, dst)
}

/// [`encode_i64_bytewise`] for `u64` (deltas of the values' bits).
pub fn encode_u64_bytewise(src: &[u64], dst: &mut Vec<u8>) -> bool {
    encode(src.iter().map(|&v| v as i64), src.len(), TAG_U64_BYTES, dst)
}

/// Decodes a one-byte-per-delta block with tag `tag`, appending to `dst`.
pub(crate) fn decode<T>(
    src: &[u8],
    tag: u8,
    dst: &mut Vec<T>,
    map: impl Fn(i64) -> T,
) -> Result<usize, CodecError> {
    all_or_nothing(dst, |dst| {
        let mut r = ByteReader::new(src);
        let (_, n) = r.header(&[tag])?;
        if n == 0 {
            return Err(r.err("empty one-byte-delta block"));
        }
        let mut v = unzigzag(r.varint()?);
        let deltas = r.bytes(n - 1)?;
        dst.reserve(n);
        dst.push(map(v));
        for &d in deltas {
            v = v.wrapping_add(unzigzag(u64::from(d)));
            dst.push(map(v));
        }
        Ok(r.pos())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_i64, decode_u64};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_when_it_applies(start in any::<i64>(), steps in proptest::collection::vec(-128i64..=127, 0..3000)) {
            let mut v = vec![start];
            for s in &steps {
                let last = *v.last().unwrap();
                v.push(last.wrapping_add(*s));
            }
            let mut buf = Vec::new();
            prop_assert!(encode_i64_bytewise(&v, &mut buf));
            prop_assert_eq!(buf.len() <= 2 + 3 + 10 + v.len(), true);
            buf.push(0xEE); // a following byte is not read
            let mut out = Vec::new();
            let used = decode_i64(&buf, &mut out).unwrap();
            prop_assert_eq!(used, buf.len() - 1);
            prop_assert_eq!(out, v.clone());
            let u: Vec<u64> = v.iter().map(|&x| x as u64).collect();
            let mut buf = Vec::new();
            prop_assert!(encode_u64_bytewise(&u, &mut buf));
            let mut out = Vec::new();
            decode_u64(&buf, &mut out).unwrap();
            prop_assert_eq!(out, u);
        }

        #[test]
        fn truncation_is_an_error(v in proptest::collection::vec(0i64..50, 1..100)) {
            let mut buf = Vec::new();
            encode_i64_bytewise(&v, &mut buf);
            for cut in 0..buf.len() {
                let mut out = vec![7i64];
                prop_assert!(decode_i64(&buf[..cut], &mut out).is_err());
                prop_assert_eq!(out, vec![7i64]);
            }
        }
    }

    #[test]
    fn refuses_wide_deltas_and_empty_input() {
        let mut buf = Vec::new();
        assert!(!encode_i64_bytewise(&[0, 200], &mut buf));
        assert!(!encode_i64_bytewise(&[], &mut buf));
        assert!(buf.is_empty());
        assert!(encode_i64_bytewise(&[0, 127, -1], &mut buf));
    }
}
