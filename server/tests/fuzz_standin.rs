//! Stand-in fuzzing inside `cargo test` for the server's decoder of outside bytes: the
//! `remote_write` target's property (`strata_server::fuzzing::remote_write`) on its seeds
//! (`fuzz/seeds/remote_write`, plus encodings made here) and on deterministic mutations of
//! them, with the engine's mutator. `cargo fuzz run remote_write` explores much further.

use strata_engine::fuzzing::Mutator;
use strata_server::fuzzing::remote_write;
use strata_server::remote_write::{Label, Sample, TimeSeries, WriteRequest, encode_remote_write};

const ROUNDS: usize = 4_000;

#[test]
fn remote_write_decoder_on_seeds_and_mutations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/remote_write");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(!corpus.is_empty(), "no seeds in {}", dir.display());
    let label = |n: &str, v: &str| Label {
        name: n.into(),
        value: v.into(),
    };
    corpus.push(encode_remote_write(&WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "x"), label("a", "b")],
            samples: vec![Sample {
                value: 1.5,
                timestamp: i64::MAX,
            }],
            ..Default::default()
        }],
        metadata: vec![],
    }));
    corpus.push(Vec::new());
    // Hand-made wire shapes the zero-copy reader must read as prost does: labels split by
    // a sample, exemplars, histograms, metadata, unknown fields (groups too), a repeated
    // scalar, a label given a field twice.
    for raw in hand_made() {
        corpus.push(snap::raw::Encoder::new().compress_vec(&raw).unwrap());
    }
    for seed in &corpus {
        remote_write(seed);
    }
    let mut m = Mutator::new(0x5eed_f00d_7e40);
    for i in 0..ROUNDS {
        let a = &corpus[i % corpus.len()];
        let b = &corpus[(i * 7 + 3) % corpus.len()];
        remote_write(&m.mutate(a, b));
    }
}

#[test]
fn remote_read_decoder_on_seeds_and_mutations() {
    use strata_server::remote_read::{LabelMatcher, Query, ReadRequest, encode_snappy};
    let q = |t: i32, n: &str, v: &str| LabelMatcher {
        r#type: t,
        name: n.into(),
        value: v.into(),
    };
    let corpus: Vec<Vec<u8>> = vec![
        encode_snappy(&ReadRequest {
            queries: vec![
                Query {
                    start_timestamp_ms: 0,
                    end_timestamp_ms: 1_700_000_000_000,
                    matchers: vec![
                        q(0, "__name__", "up"),
                        q(2, "job", "node|api"),
                        q(3, "x", ".*y"),
                    ],
                    hints: None,
                },
                Query {
                    start_timestamp_ms: -5,
                    end_timestamp_ms: i64::MAX,
                    matchers: vec![q(1, "a", ""), q(9, "b", "(")],
                    hints: None,
                },
            ],
            accepted_response_types: vec![0, 1],
        }),
        encode_snappy(&ReadRequest::default()),
        Vec::new(),
    ];
    for seed in &corpus {
        strata_server::fuzzing::remote_read(seed);
    }
    let mut m = Mutator::new(0x7ead_5eed);
    for i in 0..ROUNDS {
        let a = &corpus[i % corpus.len()];
        let b = &corpus[(i * 5 + 1) % corpus.len()];
        strata_server::fuzzing::remote_read(&m.mutate(a, b));
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field(out: &mut Vec<u8>, tag: u64, bytes: &[u8]) {
    varint(out, tag << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn label(n: &str, v: &str) -> Vec<u8> {
    let mut l = Vec::new();
    field(&mut l, 1, n.as_bytes());
    field(&mut l, 2, v.as_bytes());
    l
}

fn sample(v: f64, ts: u64) -> Vec<u8> {
    let mut s = vec![0x09];
    s.extend_from_slice(&v.to_le_bytes());
    s.push(0x10);
    varint(&mut s, ts);
    s
}

fn hand_made() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Labels split by a sample; an exemplar; a histogram; an unknown group.
    let mut ts = Vec::new();
    field(&mut ts, 1, &label("__name__", "up"));
    field(&mut ts, 2, &sample(1.0, 1_700_000_000_000));
    field(&mut ts, 1, &label("job", "a"));
    let mut ex = Vec::new();
    field(&mut ex, 1, &label("trace_id", "x"));
    ex.push(0x11);
    ex.extend_from_slice(&2.5f64.to_le_bytes());
    field(&mut ts, 3, &ex);
    let mut h = vec![0x08];
    varint(&mut h, 7);
    h.push(0x19);
    h.extend_from_slice(&3.5f64.to_le_bytes());
    h.push(0x78);
    varint(&mut h, 1_700_000_000_000);
    field(&mut h, 9, b"buckets are skipped");
    field(&mut ts, 4, &h);
    ts.extend_from_slice(&[0x2b, 0x08, 0x01, 0x2c]); // group 5 { varint 1 }
    let mut req = Vec::new();
    field(&mut req, 1, &ts);
    // A second series: repeated sample fields (last wins), a label with two names.
    let mut ts = Vec::new();
    let mut l = label("__name__", "a");
    field(&mut l, 1, b"__name__");
    field(&mut ts, 1, &l);
    let mut s = sample(1.0, 5);
    s.extend_from_slice(&sample(f64::from_bits(0x7ff0_0000_0000_0002), 6));
    field(&mut ts, 2, &s);
    field(&mut req, 1, &ts);
    // Metadata, an unknown top-level field.
    let mut m = vec![0x08, 0x01];
    field(&mut m, 2, b"up");
    field(&mut m, 4, b"help");
    field(&mut req, 3, &m);
    req.extend_from_slice(&[0x45, 1, 2, 3, 4]); // field 8, fixed32
    out.push(req.clone());
    // Wrong wire type for a sample's value; an end-group with no start.
    let mut bad = Vec::new();
    let mut ts = Vec::new();
    field(&mut ts, 2, &[0x08, 0x01]);
    field(&mut bad, 1, &ts);
    out.push(bad);
    out.push(vec![0x0c]);
    // Deeply nested groups (prost's recursion limit).
    let mut deep = vec![0x2b; 120];
    deep.extend(std::iter::repeat_n(0x2c, 120));
    out.push(deep);
    out
}

#[test]
fn body_framing_on_seeds_and_mutations() {
    use std::io::Write;
    let text = b"cpu,host=a v=1 1\ncpu,host=b v=2 2\nno newline at the end".to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();
    // Two gzip members back to back, a bomb (1 MiB of zeros, past the 64 KiB bound), a
    // snappy block, and a snappy header announcing 4 GiB.
    let mut two = gz.clone();
    two.extend_from_slice(&gz);
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![0u8; 1 << 20]).unwrap();
    let bomb = bomb.finish().unwrap();
    let snappy = snap::raw::Encoder::new().compress_vec(&text).unwrap();
    let corpus: Vec<Vec<u8>> = vec![
        text,
        gz,
        two,
        bomb,
        snappy,
        vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x00],
        Vec::new(),
    ];
    for seed in &corpus {
        strata_server::fuzzing::body_framing(seed);
    }
    let mut m = Mutator::new(0xb0d7_f7a3);
    for i in 0..ROUNDS {
        let a = &corpus[i % corpus.len()];
        let b = &corpus[(i * 3 + 2) % corpus.len()];
        strata_server::fuzzing::body_framing(&m.mutate(a, b));
    }
}
