//! Arbitrary bytes through the Prometheus remote-write decoder (snappy block, then the
//! protobuf `WriteRequest`) must never panic nor allocate past the size bound; the same
//! bytes snappy-compressed reach the protobuf decoder directly. Whatever decodes must map
//! to points with one float field `value` each, or to per-series errors, and encode back
//! to a body that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::model::FieldValue;
use strata_server::remote_write::{decode_remote_write, encode_remote_write, to_points};

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
    let back = decode_remote_write(&again, LIMIT).expect("re-encoded request decodes");
    assert_eq!(back.timeseries.len(), req.timeseries.len());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(compressed) = snap::raw::Encoder::new().compress_vec(data) {
        check(&compressed);
    }
});
