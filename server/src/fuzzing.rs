//! The entry point of the `remote_write` fuzz target (`fuzz/`), shared with the stand-in
//! test that runs it in `cargo test` on seeds and mutations (`server/tests/fuzz_standin.rs`),
//! as `strata_engine::fuzzing` does for the engine's decoders. Panics exactly when the
//! property is broken; on any input it must return.

use crate::remote_write::{decode_remote_write, encode_remote_write, to_points};
use strata_engine::model::FieldValue;

/// The server's default body limit.
const LIMIT: usize = 25 << 20;

fn check(body: &[u8]) {
    let Ok(req) = decode_remote_write(body, LIMIT) else {
        return;
    };
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

/// Remote-write fuzz target: the input as a request body (snappy block, then protobuf
/// `WriteRequest`) must decode or fail without panicking and without allocating past the
/// size bound; the input snappy-compressed reaches the protobuf decoder directly. Whatever
/// decodes must map to points with one float field `value` each, or to per-series errors,
/// and encode back to a body that decodes to as many series.
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
