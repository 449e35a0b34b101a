//! String blocks: length-prefixed values, or a dictionary of the distinct values plus
//! bit-packed indices when that is smaller (repeated values). Layout: docs/FORMAT.md, "Codecs".

use rustc_hash::FxHashMap;

use super::bits::{BitWriter, ByteReader, bit_width, bits_at, put_varint, varint_len};
use super::{CodecError, all_or_nothing, check_encode_len};

/// Scheme tag: each value as a varint byte length and its UTF-8 bytes.
pub const TAG_PLAIN: u8 = 0x61;
/// Scheme tag: dictionary of distinct values, then one bit-packed index per value.
pub const TAG_DICT: u8 = 0x62;

/// Most bytes of text one dictionary block may expand to when decoded. The encoder falls
/// back to the plain scheme (whose output is never larger than its input) beyond this, so
/// a small corrupt block can never make a decoder allocate more.
pub const MAX_DICT_DECODED_BYTES: usize = 1 << 26;

/// Appends one string block encoding `src` to `dst`.
///
/// # Panics
/// If `src` holds more than [`MAX_BLOCK_POINTS`](super::MAX_BLOCK_POINTS) values.
pub fn encode_strings<S: AsRef<str>>(src: &[S], dst: &mut Vec<u8>) {
    check_encode_len(src.len());
    let mut plain_size = 0usize;
    let mut text = 0usize;
    let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
    let mut dict: Vec<&str> = Vec::new();
    let mut dict_size = 0usize;
    for s in src {
        let s = s.as_ref();
        plain_size += varint_len(s.len() as u64) + s.len();
        text += s.len();
        ids.entry(s).or_insert_with(|| {
            dict.push(s);
            dict_size += varint_len(s.len() as u64) + s.len();
            (dict.len() - 1) as u32
        });
    }
    let w = bit_width(dict.len().saturating_sub(1) as u64);
    let dict_total =
        varint_len(dict.len() as u64) + dict_size + (src.len() * w as usize).div_ceil(8);
    if src.is_empty() || dict_total >= plain_size || text > MAX_DICT_DECODED_BYTES {
        dst.push(TAG_PLAIN);
        put_varint(dst, src.len() as u64);
        for s in src {
            let s = s.as_ref();
            put_varint(dst, s.len() as u64);
            dst.extend_from_slice(s.as_bytes());
        }
        return;
    }
    dst.push(TAG_DICT);
    put_varint(dst, src.len() as u64);
    put_varint(dst, dict.len() as u64);
    for s in &dict {
        put_varint(dst, s.len() as u64);
        dst.extend_from_slice(s.as_bytes());
    }
    let mut bw = BitWriter::new(dst);
    for s in src {
        bw.write(u64::from(ids.get(s.as_ref()).copied().unwrap_or(0)), w);
    }
    bw.finish();
}

/// Reads one length-prefixed UTF-8 string.
fn read_str<'a>(r: &mut ByteReader<'a>) -> Result<&'a str, CodecError> {
    let len = r.varint()?;
    let at = r.pos();
    if len > r.remaining() as u64 {
        return Err(r.err("string length exceeds the block"));
    }
    std::str::from_utf8(r.bytes(len as usize)?)
        .map_err(|_| CodecError::new(at, "string is not valid UTF-8"))
}

/// Decodes one string block from the start of `src`, appending its values to `dst`.
///
/// Returns the number of bytes of `src` the block used. On error `dst` is unchanged.
pub fn decode_strings(src: &[u8], dst: &mut Vec<String>) -> Result<usize, CodecError> {
    all_or_nothing(dst, |dst| {
        let mut r = ByteReader::new(src);
        let (tag, n) = r.header(&[TAG_PLAIN, TAG_DICT])?;
        if n == 0 {
            return Ok(r.pos());
        }
        if tag == TAG_PLAIN {
            // Every value costs at least its length byte.
            if n > r.remaining() {
                return Err(r.err("value count exceeds the block"));
            }
            dst.reserve(n);
            for _ in 0..n {
                dst.push(read_str(&mut r)?.to_owned());
            }
            return Ok(r.pos());
        }
        let dict_at = r.pos();
        let d = r.varint()?;
        if d == 0 || d > n as u64 || d > r.remaining() as u64 {
            return Err(CodecError::new(dict_at, "bad dictionary size"));
        }
        let mut dict = Vec::with_capacity(d as usize);
        for _ in 0..d {
            dict.push(read_str(&mut r)?);
        }
        let w = bit_width(d - 1);
        let base = r.pos();
        let packed = r.bytes((n * w as usize).div_ceil(8))?;
        let mut total = 0usize;
        dst.reserve(n);
        for i in 0..n {
            let id = bits_at(packed, i * w as usize, w);
            let s = dict.get(id as usize).ok_or_else(|| {
                CodecError::new(base + i * w as usize / 8, "index past dictionary")
            })?;
            total += s.len();
            if total > MAX_DICT_DECODED_BYTES {
                return Err(CodecError::new(base, "dictionary block decodes too large"));
            }
            dst.push((*s).to_owned());
        }
        let used = n * w as usize;
        if !used.is_multiple_of(8) && bits_at(packed, used, 8 - (used % 8) as u32) != 0 {
            return Err(CodecError::new(r.pos() - 1, "nonzero padding bits"));
        }
        Ok(r.pos())
    })
}
