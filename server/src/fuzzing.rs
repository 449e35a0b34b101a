//! The entry points of the server's fuzz targets (`fuzz/`: `remote_write`, `remote_read`,
//! `body_framing`), shared with the stand-in
//! test that runs it in `cargo test` on seeds and mutations (`server/tests/fuzz_standin.rs`),
//! as `strata_engine::fuzzing` does for the engine's decoders. Panics exactly when the
//! property is broken; on any input it must return.

use crate::remote_write::{
    check_labels, decode_remote_write, decompress, encode_remote_write, to_points, wire,
};
use strata_engine::model::FieldValue;

/// The server's default body limit.
const LIMIT: usize = 25 << 20;

fn check(body: &[u8]) {
    let fast = decompress(body, LIMIT).map(|raw| wire::decode(&raw).map(|r| owned(&r)));
    let Ok(req) = decode_remote_write(body, LIMIT) else {
        assert!(
            !matches!(fast, Ok(Ok(_))),
            "the zero-copy reader accepts a request prost refuses"
        );
        return;
    };
    let Ok(Ok(fast)) = fast else {
        panic!("the zero-copy reader refuses a request prost accepts: {fast:?}");
    };
    same_request(&req, &fast);
    let (points, errors) = to_points(&req);
    for p in &points {
        assert_eq!(p.fields.len(), 1);
        assert_eq!(p.fields[0].0, "value");
        assert!(matches!(p.fields[0].1, FieldValue::Float(_)));
    }
    for e in &errors {
        assert!(e.index < req.timeseries.len(), "{e}");
    }
    let again = encode_remote_write(&req);
    let back = decode_remote_write(&again, LIMIT).expect("a re-encoded request decodes");
    assert_eq!(back.timeseries.len(), req.timeseries.len());
}

/// What the zero-copy reader read, owned: per series its labels, samples (value bits,
/// ms), histograms, whether it had a raw label spelling; and the metadata.
type Owned = (
    Vec<(
        Vec<(Vec<u8>, Vec<u8>)>,
        Vec<(u64, i64)>,
        Vec<wire::RawHistogram>,
        bool,
    )>,
    Vec<crate::remote_write::MetricMetadata>,
);

fn owned(r: &wire::Request<'_>) -> Owned {
    let series = r
        .series
        .iter()
        .map(|s| {
            (
                s.labels().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
                r.samples[s.samples.clone()]
                    .iter()
                    .map(|x| (x.value.to_bits(), x.timestamp))
                    .collect(),
                r.histograms[s.histograms.clone()].to_vec(),
                s.raw_labels().is_some(),
            )
        })
        .collect();
    (series, r.metadata.clone())
}

/// The zero-copy reader must read exactly what prost reads.
fn same_request(req: &crate::remote_write::WriteRequest, fast: &Owned) {
    let (series, metadata) = fast;
    assert_eq!(series.len(), req.timeseries.len());
    assert_eq!(metadata, &req.metadata);
    for (ts, (labels, samples, hists, _)) in req.timeseries.iter().zip(series) {
        let want: Vec<(Vec<u8>, Vec<u8>)> = ts
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        assert_eq!(&want, labels);
        let want: Vec<(u64, i64)> = ts
            .samples
            .iter()
            .map(|s| (s.value.to_bits(), s.timestamp))
            .collect();
        assert_eq!(&want, samples);
        assert_eq!(hists.len(), ts.histograms.len());
        for (h, w) in ts.histograms.iter().zip(hists) {
            assert_eq!(h.count_int, w.count_int);
            assert_eq!(
                h.count_float.map(f64::to_bits),
                w.count_float.map(f64::to_bits)
            );
            assert_eq!(h.sum.to_bits(), w.sum.to_bits());
            assert_eq!(h.timestamp, w.timestamp);
        }
        // Both readings validate to the same series (or the same refusal).
        let a = check_labels(ts.labels.iter().map(|l| (&l.name[..], &l.value[..])));
        let b = check_labels(labels.iter().map(|(n, v)| (&n[..], &v[..])));
        assert_eq!(a, b);
    }
}

/// Remote-write fuzz target: the input as a request body (snappy block, then protobuf
/// `WriteRequest`) must decode or fail without panicking and without allocating past the
/// size bound; the input snappy-compressed reaches the protobuf decoder directly. The
/// server's zero-copy reader ([`wire::decode`]) must accept exactly what the prost types
/// accept and read the same labels, samples (bit for bit), histograms and metadata.
/// Whatever decodes must map to points with one float field `value` each, or to
/// per-series errors, and encode back to a body that decodes to as many series.
pub fn remote_write(data: &[u8]) {
    check(data);
    if let Ok(compressed) = snap::raw::Encoder::new().compress_vec(data) {
        check(&compressed);
    }
}

fn check_read(body: &[u8]) {
    use crate::remote_read::{decode_remote_read, encode_snappy, matchers};
    let Ok(req) = decode_remote_read(body, LIMIT) else {
        return;
    };
    for (i, q) in req.queries.iter().enumerate() {
        if let Ok(ms) = matchers(i, q) {
            assert_eq!(ms.len(), q.matchers.len());
            assert!(ms.iter().any(|m| !m.matches("")));
        }
    }
    let back =
        decode_remote_read(&encode_snappy(&req), LIMIT).expect("a re-encoded request decodes");
    assert_eq!(back.queries.len(), req.queries.len());
}

/// Remote-read fuzz target: the input as a request body (snappy block, then protobuf
/// `ReadRequest`) must decode or fail without panicking or allocating past the bound; the
/// input snappy-compressed reaches the protobuf decoder directly. Decoded queries'
/// matchers are checked (regexes compiled, bounded) and the request re-encodes.
pub fn remote_read(data: &[u8]) {
    check_read(data);
    if let Ok(compressed) = snap::raw::Encoder::new().compress_vec(data) {
        check_read(&compressed);
    }
}

/// The bound the framing target decodes under: small, so that bombs reach it quickly.
const FRAMING_LIMIT: usize = 64 << 10;

/// Body-framing fuzz target: the compressed framings a body arrives in, each under a
/// small bound. The input as a `Content-Encoding: gzip` body ([`crate::body::decode`],
/// multi-member) and as a snappy block (remote write's and remote read's framing,
/// [`decompress`]) must inflate to at most the bound or be refused (400 for gzip that
/// does not decompress, 413 past the bound; a snappy error), never panic nor allocate
/// past the bound. The input gzip- and snappy-compressed must come back exactly (or, over
/// the bound, be refused as too large), and the line count of whatever came out must be
/// the newlines plus one for an unterminated last line.
pub fn body_framing(data: &[u8]) {
    use crate::body::{Encoding, decode};
    use axum::http::StatusCode;
    use std::io::Write;
    match decode(
        bytes::Bytes::copy_from_slice(data),
        Encoding::Gzip,
        FRAMING_LIMIT,
    ) {
        Ok(out) => {
            assert!(out.len() <= FRAMING_LIMIT);
            lines_agree(&out);
        }
        Err(e) => assert!(
            e.status == StatusCode::BAD_REQUEST || e.status == StatusCode::PAYLOAD_TOO_LARGE,
            "{e:?}"
        ),
    }
    if let Ok(out) = decompress(data, FRAMING_LIMIT) {
        assert!(out.len() <= FRAMING_LIMIT);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("writing to a Vec");
    let gz = gz.finish().expect("writing to a Vec");
    match decode(bytes::Bytes::from(gz), Encoding::Gzip, FRAMING_LIMIT) {
        Ok(out) => assert_eq!(&out[..], data, "gzip round trip"),
        Err(e) => {
            assert!(data.len() > FRAMING_LIMIT, "{e:?}");
            assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        }
    }
    let snappy = snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy compresses any input under 4 GiB");
    match decompress(&snappy, FRAMING_LIMIT) {
        Ok(out) => assert_eq!(&out[..], data, "snappy round trip"),
        Err(e) => assert!(data.len() > FRAMING_LIMIT, "{e}"),
    }
    lines_agree(data);
}

fn lines_agree(body: &[u8]) {
    let newlines = body.iter().filter(|&&b| b == b'\n').count();
    let want = newlines + usize::from(body.last().is_some_and(|&b| b != b'\n'));
    assert_eq!(crate::body::count_lines(body), want);
    assert!(crate::body::check_lines(body, want).is_ok());
    if want > 0 {
        assert!(crate::body::check_lines(body, want - 1).is_err());
    }
}
