//! Codec fuzz target.
//!
//! 1. The input as an encoded block, handed to every decoder: no panic, a plausible byte
//!    count on success, nothing appended on error.
//! 2. The input as values (the first byte picks the type and shape): encode, then decode,
//!    must give back the same values bit for bit and consume exactly the block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::codec::{self, CodecError};

fn poke<T>(bytes: &[u8], dec: fn(&[u8], &mut Vec<T>) -> Result<usize, CodecError>) {
    let mut out = Vec::new();
    match dec(bytes, &mut out) {
        Ok(used) => assert!(used <= bytes.len() && out.len() <= codec::MAX_BLOCK_POINTS),
        Err(_) => assert!(out.is_empty()),
    }
}

fn roundtrip<T, K: PartialEq + std::fmt::Debug>(
    values: &[T],
    enc: fn(&[T], &mut Vec<u8>),
    dec: fn(&[u8], &mut Vec<T>) -> Result<usize, CodecError>,
    key: fn(&T) -> K,
) {
    let mut block = Vec::new();
    enc(values, &mut block);
    let len = block.len();
    block.extend_from_slice(&[0x22, 0x01, 0xFF]); // a following block must not be read
    let mut out = Vec::new();
    let used = dec(&block, &mut out).expect("a fresh block decodes");
    assert_eq!(used, len);
    let got: Vec<K> = out.iter().map(key).collect();
    let want: Vec<K> = values.iter().map(key).collect();
    assert_eq!(got, want);
}

fn words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(8).map(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    })
}

/// Small signed steps, accumulated: regular, jittered and walking shapes.
fn walk(bytes: &[u8], start: i64, scale: i64) -> Vec<i64> {
    let mut acc = start;
    bytes
        .iter()
        .map(|&b| {
            acc = acc.wrapping_add(i64::from(b as i8).wrapping_mul(scale));
            acc
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    poke(data, codec::decode_timestamps);
    poke(data, codec::decode_floats);
    poke(data, codec::decode_i64);
    poke(data, codec::decode_u64);
    poke(data, codec::decode_bools);
    poke(data, codec::decode_strings);

    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let ts = |v: &[i64]| {
        roundtrip(v, codec::encode_timestamps, codec::decode_timestamps, |x| {
            *x
        })
    };
    let fl = |v: &[f64]| {
        roundtrip(v, codec::encode_floats, codec::decode_floats, |x| {
            x.to_bits()
        })
    };
    let int = |v: &[i64]| roundtrip(v, codec::encode_i64, codec::decode_i64, |x| *x);
    match sel % 10 {
        0 => ts(&words(rest).map(|w| w as i64).collect::<Vec<_>>()),
        1 => {
            // Deltas of 10 s plus jitter in whole milliseconds, or exact steps.
            let mut v = walk(rest, 1_451_606_400_000_000_000, 1_000_000);
            for (i, t) in v.iter_mut().enumerate() {
                *t = t.wrapping_add(i as i64 * 10_000_000_000);
            }
            ts(&v);
        }
        2 => fl(&words(rest).map(f64::from_bits).collect::<Vec<_>>()),
        3 => fl(&walk(rest, 5000, 1)
            .iter()
            .map(|&n| n as f64 / 100.0)
            .collect::<Vec<_>>()),
        4 => {
            // Float runs: each word repeated per the following byte.
            let v: Vec<f64> = rest
                .chunks_exact(9)
                .flat_map(|c| {
                    let bits = words(&c[..8]).next().unwrap_or(0);
                    std::iter::repeat_n(f64::from_bits(bits), usize::from(c[8] % 16) + 1)
                })
                .collect();
            fl(&v);
        }
        5 => int(&words(rest).map(|w| w as i64).collect::<Vec<_>>()),
        6 => int(&walk(rest, 50, 1)),
        7 => roundtrip(
            &words(rest).collect::<Vec<_>>(),
            codec::encode_u64,
            codec::decode_u64,
            |x| *x,
        ),
        8 => roundtrip(
            &rest.iter().map(|b| b & 1 == 1).collect::<Vec<_>>(),
            codec::encode_bools,
            codec::decode_bools,
            |x| *x,
        ),
        _ => {
            let v: Vec<String> = rest
                .split(|&b| b == 0xFF)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            roundtrip(&v, codec::encode_strings, codec::decode_strings, |x| {
                x.clone()
            });
        }
    }
});
