//! Arbitrary bytes through `parse_page` and `metadata` must never panic, every error must
//! name a line of the page and a column of at least 1, and every point must carry exactly
//! one float field named `value`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::ingest::prom_text::{VALUE_FIELD, metadata, parse_page};
use strata_engine::model::FieldValue;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    let (points, errors) = parse_page(data, 42);
    assert!(points.len() + errors.len() <= lines);
    for e in &errors {
        assert!(e.line >= 1 && e.line <= lines, "{e}");
        assert!(e.column >= 1 && e.column <= data.len() + 1, "{e}");
    }
    for p in &points {
        assert_eq!(p.fields.len(), 1);
        assert_eq!(p.fields[0].0, VALUE_FIELD);
        assert!(matches!(p.fields[0].1, FieldValue::Float(_)));
    }
    let _ = metadata(data);
});
