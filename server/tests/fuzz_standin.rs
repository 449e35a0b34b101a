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
