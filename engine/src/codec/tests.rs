//! Round-trip, robustness, concatenation and compression tests for every codec.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------------------
// Helpers

/// Encodes after a prefix, with garbage after the block, then decodes from the block start
/// and checks the values, the byte count, and that decoding appends to `dst`.
fn check_roundtrip<T: Clone, K: PartialEq + std::fmt::Debug>(
    values: &[T],
    enc: impl Fn(&[T], &mut Vec<u8>),
    dec: impl Fn(&[u8], &mut Vec<T>) -> Result<usize, CodecError>,
    key: impl Fn(&T) -> K,
    sentinel: T,
) -> usize {
    let mut buf = vec![0xA5, 0x5A];
    enc(values, &mut buf);
    let block_len = buf.len() - 2;
    buf.extend_from_slice(&[0xFF, 0x00, 0x13]);
    let mut out = vec![sentinel.clone()];
    let used = dec(&buf[2..], &mut out).expect("decoding a fresh block");
    assert_eq!(used, block_len, "decoder consumed a different byte count");
    assert_eq!(
        key(&out[0]),
        key(&sentinel),
        "decoder overwrote existing values"
    );
    let got: Vec<K> = out[1..].iter().map(&key).collect();
    let want: Vec<K> = values.iter().map(&key).collect();
    assert_eq!(got, want);
    block_len
}

fn rt_ts(v: &[i64]) -> usize {
    check_roundtrip(v, encode_timestamps, decode_timestamps, |x| *x, 7)
}
fn rt_f64(v: &[f64]) -> usize {
    check_roundtrip(v, encode_floats, decode_floats, |x| x.to_bits(), 7.0)
}
fn rt_i64(v: &[i64]) -> usize {
    check_roundtrip(v, encode_i64, decode_i64, |x| *x, 7)
}
fn rt_u64(v: &[u64]) -> usize {
    check_roundtrip(v, encode_u64, decode_u64, |x| *x, 7)
}
fn rt_bool(v: &[bool]) -> usize {
    check_roundtrip(v, encode_bools, decode_bools, |x| *x, true)
}
fn rt_str(v: &[String]) -> usize {
    check_roundtrip(
        v,
        encode_strings,
        decode_strings,
        |x| x.clone(),
        "sentinel".to_string(),
    )
}

/// Runs one decoder on arbitrary bytes: it must not panic, must report a plausible byte
/// count, and must leave `dst` untouched on error.
fn poke<T: Clone + std::fmt::Debug>(
    bytes: &[u8],
    sentinel: T,
    dec: impl Fn(&[u8], &mut Vec<T>) -> Result<usize, CodecError>,
) {
    let mut out = vec![sentinel];
    match dec(bytes, &mut out) {
        Ok(used) => {
            assert!(used <= bytes.len());
            assert!(used >= 2, "a block is at least a tag and a count");
            assert!(out.len() <= MAX_BLOCK_POINTS + 1);
        }
        Err(e) => {
            assert_eq!(out.len(), 1, "error after appending values: {e}");
            assert!(e.offset <= bytes.len(), "error offset past the input: {e}");
        }
    }
}

fn poke_all(bytes: &[u8]) {
    poke(bytes, 0i64, decode_timestamps);
    poke(bytes, 0.0f64, decode_floats);
    poke(bytes, 0i64, decode_i64);
    poke(bytes, 0u64, decode_u64);
    poke(bytes, false, decode_bools);
    poke(bytes, String::new(), decode_strings);
}

/// Deterministic generator for the fixed-shape tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

const T0: i64 = 1_451_606_400_000_000_000;
const SEC: i64 = 1_000_000_000;

// ---------------------------------------------------------------------------------------
// Strategies

fn extreme_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        Just(-1),
        Just(1),
        Just(i64::MIN + 1),
        Just(i64::MAX - 1),
    ]
}

fn timestamps() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        vec(any::<i64>(), 0..64),
        vec(extreme_i64(), 0..64),
        vec(prop_oneof![extreme_i64(), any::<i64>()], 0..300),
        (any::<i64>(), any::<i64>(), 0..5000usize).prop_map(|(s, d, n)| (0..n as i64)
            .map(|i| s.wrapping_add(i.wrapping_mul(d)))
            .collect()),
        (0..SEC * 60, vec(-5_000_000..5_000_000i64, 0..5000))
            .prop_map(|(d, j)| (0..j.len() as i64)
                .map(|i| T0 + i * d + j[i as usize])
                .collect()),
        (1..60i64, vec(-3..=3i64, 0..5000)).prop_map(|(d, j)| (0..j.len() as i64)
            .map(|i| T0 + i * d * SEC + j[i as usize] * 1_000_000)
            .collect()),
        (vec((1..SEC * 100, 1..200usize), 0..30)).prop_map(|runs| {
            // Regular runs separated by huge gaps.
            let mut t = T0;
            let mut out = vec![];
            for (i, (d, n)) in runs.into_iter().enumerate() {
                t = t.wrapping_add((i as i64) << 50);
                for _ in 0..n {
                    out.push(t);
                    t = t.wrapping_add(d);
                }
            }
            out
        }),
        vec(any::<i64>(), 0..2000).prop_map(|mut v| {
            v.sort_unstable();
            v
        }),
        (any::<i64>(), 0..3000usize).prop_map(|(v, n)| vec![v; n]),
        vec(0..10i64, 0..3000).prop_map(|v| v.iter().map(|x| T0 + x * SEC).collect()),
    ]
}

fn float_bits() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(f64::NAN.to_bits()),
        // Prometheus' stale marker.
        Just(0x7ff0_0000_0000_0002),
        Just((-0.0f64).to_bits()),
        Just(0u64),
        Just(f64::INFINITY.to_bits()),
        Just(f64::NEG_INFINITY.to_bits()),
        Just(f64::MIN_POSITIVE.to_bits()),
        Just(f64::MAX.to_bits()),
        Just(f64::MIN.to_bits()),
        (1u64..(1 << 52), any::<bool>()).prop_map(|(m, s)| m | (u64::from(s) << 63)),
        (1u64..(1 << 52), any::<bool>())
            .prop_map(|(m, s)| 0x7FF0_0000_0000_0000 | m | (u64::from(s) << 63)),
    ]
}

fn floats() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        vec(float_bits().prop_map(f64::from_bits), 0..300),
        (-1e3..1e3f64, vec(-1.0..1.0f64, 0..5000)).prop_map(|(s, steps)| steps
            .iter()
            .scan(s, |a, d| {
                *a += d;
                Some(*a)
            })
            .collect()),
        (0..3u32, -100_000..100_000i64, vec(-50..50i64, 0..5000)).prop_map(|(e, s, steps)| {
            let p = 10f64.powi(e as i32);
            steps
                .iter()
                .scan(s, |a, d| {
                    *a += d;
                    Some(*a as f64 / p)
                })
                .collect()
        }),
        (
            vec(-20..20i64, 0..3000),
            vec((any::<usize>(), float_bits()), 0..20)
        )
            .prop_map(|(ints, specials)| {
                let mut v: Vec<f64> = ints.iter().map(|&n| n as f64 / 100.0).collect();
                for (i, b) in specials {
                    if !v.is_empty() {
                        let k = i % v.len();
                        v[k] = f64::from_bits(b);
                    }
                }
                v
            }),
        vec((float_bits(), 1..60usize), 0..100).prop_map(|runs| runs
            .into_iter()
            .flat_map(|(b, n)| std::iter::repeat_n(f64::from_bits(b), n))
            .collect()),
        vec(any::<u32>().prop_map(f64::from), 0..2000),
        // Prometheus counters as exporters compute them: microseconds / 1000 / 1000 (so
        // some values are one ulp off the short decimal), with stale markers between.
        (0..1_000_000_000i64, vec((0..5_000i64, 0..40u8), 0..2000)).prop_map(|(s, steps)| {
            steps
                .iter()
                .scan(s, |a, &(d, k)| {
                    *a += d;
                    Some(if k == 0 {
                        f64::from_bits(0x7ff0_0000_0000_0002)
                    } else {
                        *a as f64 / 1000.0 / 1000.0
                    })
                })
                .collect()
        }),
    ]
}

fn ints() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        vec(any::<i64>(), 0..300),
        vec(prop_oneof![extreme_i64(), any::<i64>()], 0..300),
        (0..100i64, vec(-3..=3i64, 0..5000)).prop_map(|(s, steps)| steps
            .iter()
            .scan(s, |a, d| {
                *a = (*a + d).clamp(0, 100);
                Some(*a)
            })
            .collect()),
        vec((0..1000i64, 0..40u8), 0..5000).prop_map(|steps| steps
            .iter()
            .scan(0i64, |a, &(d, reset)| {
                *a = if reset == 0 { 0 } else { *a + d };
                Some(*a)
            })
            .collect()),
        vec((extreme_i64(), 1..300usize), 0..40).prop_map(|runs| runs
            .into_iter()
            .flat_map(|(v, n)| std::iter::repeat_n(v, n))
            .collect()),
        vec(0..100i64, 0..5000),
        (any::<i64>(), any::<i64>(), 0..3000usize).prop_map(|(s, d, n)| (0..n as i64)
            .map(|i| s.wrapping_add(i.wrapping_mul(d)))
            .collect()),
    ]
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        vec(".{0,40}", 0..200),
        vec(
            prop::sample::select(vec!["", "ok", "warning", "critical", "ünïcødé ✓"]),
            0..3000
        )
        .prop_map(|v| v.into_iter().map(String::from).collect()),
        (
            vec("[a-z]{0,12}", 1..40),
            vec(any::<prop::sample::Index>(), 0..2000)
        )
            .prop_map(|(pool, picks)| picks.iter().map(|i| i.get(&pool).clone()).collect()),
    ]
}

// ---------------------------------------------------------------------------------------
// Round trips

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn timestamps_roundtrip(v in timestamps()) {
        rt_ts(&v);
    }

    #[test]
    fn floats_roundtrip(v in floats()) {
        rt_f64(&v);
    }

    #[test]
    fn i64_roundtrip(v in ints()) {
        rt_i64(&v);
    }

    #[test]
    fn u64_roundtrip(v in ints(), extra in vec(prop_oneof![Just(u64::MAX), Just(0), any::<u64>()], 0..50)) {
        let mut u: Vec<u64> = v.iter().map(|&x| x as u64).collect();
        u.extend(extra);
        rt_u64(&u);
    }

    #[test]
    fn bools_roundtrip(v in prop_oneof![
        vec(any::<bool>(), 0..5000),
        (any::<bool>(), 0..5000usize).prop_map(|(b, n)| vec![b; n]),
    ]) {
        rt_bool(&v);
    }

    #[test]
    fn strings_roundtrip(v in strings()) {
        rt_str(&v);
    }

    #[test]
    fn concatenated_blocks(a in timestamps(), b in timestamps(), x in floats(), y in floats()) {
        let mut buf = Vec::new();
        encode_timestamps(&a, &mut buf);
        encode_floats(&x, &mut buf);
        encode_timestamps(&b, &mut buf);
        encode_floats(&y, &mut buf);
        let (mut ts, mut fs) = (Vec::new(), Vec::new());
        let mut at = decode_timestamps(&buf, &mut ts).unwrap();
        at += decode_floats(&buf[at..], &mut fs).unwrap();
        at += decode_timestamps(&buf[at..], &mut ts).unwrap();
        at += decode_floats(&buf[at..], &mut fs).unwrap();
        prop_assert_eq!(at, buf.len());
        prop_assert_eq!(ts, [a, b].concat());
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&fs), bits(&[x, y].concat()));
    }
}

// ---------------------------------------------------------------------------------------
// Robustness: arbitrary, truncated and corrupted input

const TAGS: [u8; 13] = [
    0x11, 0x12, 0x21, 0x22, 0x23, 0x31, 0x32, 0x41, 0x42, 0x51, 0x52, 0x61, 0x62,
];

fn valid_block() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        timestamps().prop_map(|v| {
            let mut b = vec![];
            encode_timestamps(&v, &mut b);
            b
        }),
        floats().prop_map(|v| {
            let mut b = vec![];
            encode_floats(&v, &mut b);
            b
        }),
        ints().prop_map(|v| {
            let mut b = vec![];
            encode_i64(&v, &mut b);
            b
        }),
        ints().prop_map(|v| {
            let mut b = vec![];
            encode_u64(&v.iter().map(|&x| x as u64).collect::<Vec<_>>(), &mut b);
            b
        }),
        vec(any::<bool>(), 0..500).prop_map(|v| {
            let mut b = vec![];
            encode_bools(&v, &mut b);
            b
        }),
        strings().prop_map(|v| {
            let mut b = vec![];
            encode_strings(&v, &mut b);
            b
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        poke_all(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_tag(tag in prop::sample::select(TAGS.to_vec()),
                                       rest in vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![tag];
        bytes.extend(rest);
        poke_all(&bytes);
    }

    #[test]
    fn truncated_blocks_never_panic(block in valid_block(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(block.len() + 1);
        poke_all(&block[..cut]);
    }

    #[test]
    fn corrupted_blocks_never_panic(
        mut block in valid_block(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        for (i, x) in flips {
            let k = i.index(block.len());
            block[k] ^= x;
        }
        poke_all(&block);
    }
}

#[test]
fn huge_counts_are_rejected_or_bounded() {
    // A count above MAX_BLOCK_POINTS is an error for every codec.
    for tag in TAGS {
        let mut b = vec![tag];
        bits::put_varint(&mut b, MAX_BLOCK_POINTS as u64 + 1);
        b.extend_from_slice(&[0; 16]);
        poke_all(&b);
        let mut out = Vec::<i64>::new();
        assert!(decode_timestamps(&b, &mut out).is_err());
    }
    // An overlong varint is an error, not an overflow.
    poke_all(&[
        0x11, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
    ]);
}

// ---------------------------------------------------------------------------------------
// Edge cases

#[test]
fn empty_and_single_values() {
    assert_eq!(rt_ts(&[]), 2);
    assert_eq!(rt_f64(&[]), 2);
    assert_eq!(rt_i64(&[]), 2);
    assert_eq!(rt_u64(&[]), 2);
    assert_eq!(rt_bool(&[]), 2);
    assert_eq!(rt_str(&[]), 2);
    rt_ts(&[i64::MIN]);
    rt_f64(&[f64::from_bits(0x7FF0_0000_0000_0001)]);
    rt_i64(&[i64::MAX]);
    rt_u64(&[u64::MAX]);
    rt_bool(&[false]);
    rt_str(&["x".to_string()]);
}

#[test]
fn extremes_adjacent() {
    rt_ts(&[i64::MIN, i64::MAX, i64::MIN, 0, i64::MAX, i64::MAX, -1]);
    rt_i64(&[i64::MIN, i64::MAX, i64::MIN, 0, i64::MAX, i64::MAX, -1]);
    rt_u64(&[0, u64::MAX, 0, u64::MAX, 1 << 63, (1 << 63) - 1]);
    let specials = [
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        f64::from_bits(0x7FF8_DEAD_BEEF_0001),
        f64::from_bits(0xFFF0_0000_0000_0001),
        f64::INFINITY,
        f64::NEG_INFINITY,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1.5,
        1.5,
        -0.0,
    ];
    rt_f64(&specials);
    // Decimals with special values mixed in take the decimal path with exceptions.
    let mut v: Vec<f64> = (0..1000).map(|i| f64::from(i % 97) / 10.0).collect();
    v[10] = -0.0;
    v[500] = f64::NAN;
    v[999] = f64::from_bits(0x7FF4_0000_0000_0042);
    let len = rt_f64(&v);
    assert!(len < 1500, "{len}");
}

// ---------------------------------------------------------------------------------------
// Compression sanity: these fail if a scheme is broken or never chosen.

#[test]
fn regular_timestamps_are_nearly_free() {
    let v: Vec<i64> = (0..1000).map(|i| T0 + i * 10 * SEC).collect();
    assert!(rt_ts(&v) < 32);
    let v: Vec<i64> = (0..MAX_BLOCK_POINTS as i64).map(|i| T0 + i).collect();
    assert!(rt_ts(&v) < 32);
}

#[test]
fn jittered_timestamps_compress() {
    let mut rng = Rng(1);
    // Millisecond jitter on nanosecond timestamps: the common factor is found.
    let v: Vec<i64> = (0..1000)
        .map(|i| T0 + i * SEC + rng.range(-3, 3) * 1_000_000)
        .collect();
    let len = rt_ts(&v);
    assert!(len < 700, "ms-jittered: {len} bytes");
    // Nanosecond jitter of up to ±1 ms.
    let v: Vec<i64> = (0..1000)
        .map(|i| T0 + i * 10 * SEC + rng.range(-1_000_000, 1_000_000))
        .collect();
    let len = rt_ts(&v);
    assert!(len < 3300, "ns-jittered: {len} bytes");
    // Regular with a few missing points: mostly one bit per value.
    let v: Vec<i64> = (0..1000)
        .filter(|i| i % 97 != 5)
        .map(|i| T0 + i * 10 * SEC)
        .collect();
    let len = rt_ts(&v);
    assert!(len < 200, "gaps: {len} bytes");
}

#[test]
fn integer_shapes_compress() {
    let mut rng = Rng(2);
    let mut x = 50i64;
    let walk: Vec<i64> = (0..1000)
        .map(|_| {
            x = (x + rng.range(-2, 2)).clamp(0, 100);
            x
        })
        .collect();
    let len = rt_i64(&walk);
    assert!(len < 500, "random walk: {len} bytes");
    let noise: Vec<i64> = (0..1000).map(|_| rng.range(0, 100)).collect();
    let len = rt_i64(&noise);
    assert!(len < 900, "0..100 noise: {len} bytes");
    let mut c = 0i64;
    let counter: Vec<i64> = (0..1000)
        .map(|i| {
            c = if i == 600 {
                0
            } else {
                c + 1000 + rng.range(0, 15)
            };
            c
        })
        .collect();
    let len = rt_i64(&counter);
    assert!(len < 700, "counter with a reset: {len} bytes");
    let steady: Vec<u64> = (0..1000).map(|i| 1_000_000 + i * 4096).collect();
    assert!(rt_u64(&steady) < 40);
    assert!(rt_i64(&[42; 1000]) < 8);
}

#[test]
fn float_shapes_compress() {
    assert!(rt_f64(&[0.1 + 0.2; 1000]) < 16);
    let mut rng = Rng(3);
    // A gauge of two-decimal values: the decimal scheme.
    let mut x = 5000i64;
    let gauge: Vec<f64> = (0..1000)
        .map(|_| {
            x += rng.range(-20, 20);
            x as f64 / 100.0
        })
        .collect();
    let len = rt_f64(&gauge);
    assert!(len < 1000, "decimal gauge: {len} bytes");
    // A counter stored as float: integers.
    let mut c = 0.0;
    let counter: Vec<f64> = (0..1000)
        .map(|_| {
            c += rng.range(0, 300) as f64;
            c
        })
        .collect();
    let len = rt_f64(&counter);
    assert!(len < 1300, "float counter: {len} bytes");
    // A mostly constant gauge: XOR at about one bit per repeat.
    let stepwise: Vec<f64> = (0..1000).map(|i| f64::from(i / 100) * 1.1).collect();
    let len = rt_f64(&stepwise);
    assert!(len < 250, "stepwise: {len} bytes");
    // Full-precision noise still round-trips and stays near 8 bytes per value.
    let noise: Vec<f64> = (0..1000).map(|_| rng.next() as f64 / 3.0).collect();
    let len = rt_f64(&noise);
    assert!(len < 8300, "noise: {len} bytes");
}

#[test]
fn bools_and_strings_compress() {
    let mut rng = Rng(4);
    let b: Vec<bool> = (0..1000).map(|_| rng.next() & 1 == 1).collect();
    assert!(rt_bool(&b) <= 128);
    assert!(rt_bool(&[true; 1000]) <= 4);
    let pool = ["ok", "warning", "critical", "unknown"];
    let s: Vec<String> = (0..1000)
        .map(|_| pool[(rng.next() % 4) as usize].to_string())
        .collect();
    let len = rt_str(&s);
    assert!(len < 300, "dictionary strings: {len} bytes");
    let unique: Vec<String> = (0..1000).map(|i| format!("request-{i}")).collect();
    let len = rt_str(&unique);
    let plain: usize = unique.iter().map(|s| s.len() + 1).sum();
    assert!(len <= plain + 4, "unique strings: {len} bytes");
}

#[test]
fn xor_lane_boundaries() {
    let mut rng = Rng(5);
    for n in [
        255, 256, 257, 511, 512, 513, 767, 768, 769, 1023, 1024, 1025, 4099,
    ] {
        // Arbitrary bit patterns (NaNs, subnormals, infinities included) force XOR.
        let v: Vec<f64> = (0..n).map(|_| f64::from_bits(rng.next())).collect();
        rt_f64(&v);
        let mut x = 1.0f64;
        let walk: Vec<f64> = (0..n)
            .map(|i| {
                x *= 1.0 + (rng.next() % 1000) as f64 * 1e-9;
                if i % 37 == 0 { x } else { x.sqrt() }
            })
            .collect();
        rt_f64(&walk);
    }
}
