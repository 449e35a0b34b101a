//! Stand-in fuzzing inside `cargo test`: every fuzz target's property
//! (`strata_engine::fuzzing`) on its seed corpus (`fuzz/seeds/<target>`, plus seeds made
//! here from real files and encodings) and on a bounded number of deterministic mutations
//! of those seeds. CI runs this on every change without nightly Rust; `cargo fuzz` (see the
//! README) explores much further from the same entry points.

use std::time::Duration;
use strata_engine::fuzzing::{self, Mutator};
use strata_engine::model::Precision;
use strata_engine::wal::batch::BatchEncoder;
use strata_engine::wal::frame::{RecordKind, encode_record};
use strata_engine::{Db, Options};

/// Mutations tried per target.
const ROUNDS: usize = 3_000;

fn seeds_from(target: &str, limit: usize) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths
        .into_iter()
        .take(limit)
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

fn fuzz(target: &str, check: fn(&[u8]), mut corpus: Vec<Vec<u8>>) {
    corpus.extend(seeds_from(target, 300));
    corpus.push(Vec::new());
    for seed in &corpus {
        check(seed);
    }
    let mut m = Mutator::new(target.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }));
    for i in 0..ROUNDS {
        let a = &corpus[i % corpus.len()];
        let b = &corpus[(i * 7 + 3) % corpus.len()];
        let input = m.mutate(a, b);
        check(&input);
    }
}

/// A small database's files: its WAL (whole, and its first record), a warm segment, a
/// cold segment and its manifest.
struct Files {
    wal: Vec<Vec<u8>>,
    segments: Vec<Vec<u8>>,
    manifests: Vec<Vec<u8>>,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        rotation_interval: Duration::ZERO,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    let lp = "cpu,host=a usage=1.5,n=3i,s=\"x\",ok=true 1451606400000000000\n\
              cpu,host=b usage=2.25,n=-4i,u=7u 1451606410000000000\n\
              mem,host=a used=100i 1451606400000000000\n";
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    let read_dir = |sub: &str| -> Vec<Vec<u8>> {
        let mut v: Vec<_> = std::fs::read_dir(dir.path().join(sub))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v.into_iter()
            .filter_map(|p| std::fs::read(p).ok())
            .collect()
    };
    let mut wal = read_dir("wal");
    let records: Vec<Vec<u8>> = wal
        .iter()
        .filter(|w| w.len() > 16)
        .map(|w| w[16..].to_vec())
        .collect();
    wal.extend(records);
    db.compact(false, true).unwrap();
    let mut segments = read_dir("segments");
    db.compact(true, true).unwrap();
    segments.extend(read_dir("segments"));
    let manifest_files = || -> Vec<Vec<u8>> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("MANIFEST"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .collect()
    };
    let mut manifests = manifest_files();
    // A pending delete: a manifest with a tombstone.
    db.delete(
        "cpu",
        &[("host", "a")],
        strata_engine::model::TimeRange::new(0, i64::MAX),
    )
    .unwrap();
    manifests.extend(manifest_files());
    db.close().unwrap();
    Files {
        wal,
        segments,
        manifests,
    }
}

#[test]
fn wal_records_and_batches() {
    let mut batch = BatchEncoder::default();
    let s = batch.add_series(3);
    batch.begin_line(s, 1_451_606_400_000_000_000);
    batch.field("usage", strata_engine::model::FieldValueRef::Float(0.5));
    batch.end_line();
    let mut payload = Vec::new();
    batch.finish_into(&mut payload);
    let mut defs = Vec::new();
    strata_engine::wal::dict::put_def(&mut defs, 3, b"\x03cpu\x04host\x01a");
    // A whole file: a definition, then the batch that uses it.
    let mut file = strata_engine::wal::frame::header().to_vec();
    encode_record(RecordKind::SeriesDefs, &defs, &mut file);
    encode_record(RecordKind::Write, &payload, &mut file);
    let mut corpus = files().wal;
    corpus.push(file[16..].to_vec());
    corpus.push(file);
    corpus.push(payload);
    corpus.push(defs);
    // A version 1 file (series named by key in every batch), as that writer left it.
    let v1_file = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wal_v1/wal/00000000000000000001.wal"),
    )
    .unwrap();
    corpus.push(v1_file[16..].to_vec());
    corpus.push(v1_file);
    // Delete payloads: version 2 (a predicate tree) and version 1 (tag equalities).
    use strata_engine::model::predicate::{MatchOp, Matcher, Predicate, Subject};
    let spec = strata_engine::wal::delete::DeleteSpec {
        id: 3,
        predicate: Predicate::Or(vec![
            Predicate::And(vec![
                Predicate::measurement("cpu"),
                Predicate::Match(
                    Matcher::new(Subject::Tag("host".into()), MatchOp::Regex, "a|b").unwrap(),
                ),
            ]),
            Predicate::Match(Matcher::new(Subject::Field, MatchOp::NotEqual, "x").unwrap()),
        ]),
        range: strata_engine::model::TimeRange::new(5, 500),
        drop: false,
    };
    corpus.push(spec.encode());
    let mut v1 = vec![4, 0, 0, 0, 0, 0, 0, 0, 1];
    v1.extend_from_slice(&0i64.to_le_bytes());
    v1.extend_from_slice(&9i64.to_le_bytes());
    v1.extend_from_slice(b"\x03cpu\x01\x04host\x01a");
    corpus.push(v1);
    fuzz("wal", fuzzing::wal, corpus);
}

#[test]
fn segments_warm_and_cold() {
    fuzz("segment", fuzzing::segment, files().segments);
}

#[test]
fn index_images() {
    let seed = fuzzing::index_image_seed();
    let mut corpus = vec![seed.clone()];
    corpus.push(seed[..seed.len() / 2].to_vec());
    fuzz("index_image", fuzzing::index_image, corpus);
}

#[test]
fn manifests() {
    fuzz("manifest", fuzzing::manifest, files().manifests);
}

#[test]
fn codecs() {
    let mut corpus = Vec::new();
    for sel in 0u8..10 {
        let mut v = vec![sel];
        v.extend((0u8..64).map(|i| i.wrapping_mul(37).wrapping_add(sel)));
        corpus.push(v);
    }
    let mut block = Vec::new();
    strata_engine::codec::encode_timestamps(
        &(0..100)
            .map(|i| 1_451_606_400_000_000_000 + i * 10_000_000_000)
            .collect::<Vec<i64>>(),
        &mut block,
    );
    corpus.push(block.clone());
    block.clear();
    strata_engine::codec::encode_floats(
        &(0..100).map(|i| f64::from(i) * 0.25).collect::<Vec<f64>>(),
        &mut block,
    );
    corpus.push(block);
    fuzz("codec", fuzzing::codec, corpus);
}

#[test]
fn line_protocol() {
    let corpus = vec![
        b"cpu,host=a,region=us\\ west usage=0.5,n=3i,u=4u,ok=t,s=\"a \\\"q\\\"\" 1451606400000000000\n".to_vec(),
        b"# comment\r\nm v=1\n\nm,t=1 v=-1.5e3 -1\n".to_vec(),
    ];
    fuzz("line_protocol", fuzzing::line_protocol, corpus);
}

#[test]
fn prometheus_text() {
    let page = b"# HELP http_requests_total Requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
# TYPE rpc_duration_seconds summary\n\
rpc_duration_seconds{quantile=\"0.5\"} 4773\n\
rpc_duration_seconds_sum 1.7560473e+07\n\
rpc_duration_seconds_count 2693\n\
# TYPE http_request_duration_seconds histogram\n\
http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n\
http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n\
node_load1 NaN\n\
weird_metric -Inf\n";
    fuzz("prom_text", fuzzing::prom_text, vec![page.to_vec()]);
}

/// Real rollup files: two days of a float, an integer and an unsigned field rolled up by
/// 5 m (sketches kept) and by 1 h (no sketches), compacted into cold.
fn rollup_files() -> Vec<Vec<u8>> {
    use strata_engine::rollup::{Aggregates, RollupRule};
    let dir = tempfile::tempdir().unwrap();
    let all = RollupRule::new("m", true, Duration::from_secs(300), Aggregates::ALL, None).unwrap();
    let some = Aggregates::parse(["min", "max", "sum"]).unwrap();
    let hourly = RollupRule::new("m|n", false, Duration::from_secs(3600), some, None).unwrap();
    let options = Options {
        rotation_interval: Duration::ZERO,
        rollups: vec![all, hourly],
        ..Options::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    let mut lp = String::new();
    for i in 0..(2 * 24 * 12i64) {
        let t = 1_451_606_400_000_000_000 + i * 300_000_000_000 + (i % 7) * 1_000_000_000;
        lp.push_str(&format!(
            "m,host=a f={},n={}i,u={}u {t}\nn,host=b f={} {t}\n",
            (i as f64 * 0.3).sin(),
            i % 50 - 20,
            i * 3,
            i as f64 * 0.5
        ));
    }
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    db.compact(true, true).unwrap();
    let mut paths: Vec<_> = std::fs::read_dir(dir.path().join("rollups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rup"))
        .collect();
    paths.sort();
    db.close().unwrap();
    let files: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    // Two rules × two days.
    assert_eq!(files.len(), 4, "{paths:?}");
    files
}

/// The stand-in runs on rollup files of both versions: version 2 made here, version 1
/// from the committed seeds (`fuzz/seeds/rollup_file/v1_*`, real files written before
/// version 2), and their bodies. `STRATA_WRITE_SEEDS=1` rewrites the version 2 seeds.
#[test]
fn rollup_files_decode_or_fail() {
    let mut corpus = rollup_files();
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/rollup_file");
    if std::env::var_os("STRATA_WRITE_SEEDS").is_some() {
        for (i, f) in corpus.iter().enumerate() {
            std::fs::write(seeds.join(format!("v2_file{i}.rup")), f).unwrap();
            let body = fuzzing::rollup_file_body(f).unwrap();
            std::fs::write(seeds.join(format!("v2_body{i}")), body).unwrap();
        }
    }
    for f in &corpus {
        let file = strata_engine::rollup::RollupFile::decode(std::path::Path::new("x"), f)
            .expect("a real rollup file decodes");
        assert_eq!(file.version, strata_engine::rollup::file::VERSION);
        assert!(file.entries() > 0);
    }
    let mut v1 = 0;
    for i in 0..4 {
        let f = std::fs::read(seeds.join(format!("v1_file{i}.rup"))).unwrap();
        let file = strata_engine::rollup::RollupFile::decode(std::path::Path::new("x"), &f)
            .expect("a version 1 seed decodes");
        assert_eq!(file.version, strata_engine::rollup::file::VERSION_1);
        corpus.push(f);
        v1 += 1;
    }
    assert_eq!(v1, 4);
    let bodies: Vec<Vec<u8>> = corpus
        .iter()
        .filter_map(|f| fuzzing::rollup_file_body(f))
        .collect();
    assert_eq!(bodies.len(), corpus.len());
    corpus.extend(bodies);
    fuzz("rollup_file", fuzzing::rollup_file, corpus);
}
