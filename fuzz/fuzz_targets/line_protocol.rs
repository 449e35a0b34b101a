//! Arbitrary bytes through `LineSplitter` + `parse_line` at every precision must never
//! panic; a line that parses must write back and parse again to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::ingest::line_protocol::{
    LineSplitter, ParsedLine, ParsedValue, parse_line, write_line,
};
use strata_engine::model::Precision;

const PRECISIONS: [Precision; 6] = [
    Precision::Nanosecond,
    Precision::Microsecond,
    Precision::Millisecond,
    Precision::Second,
    Precision::Minute,
    Precision::Hour,
];

fn same_value(a: &ParsedValue<'_>, b: &ParsedValue<'_>) -> bool {
    match (a, b) {
        (ParsedValue::Float(x), ParsedValue::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn check_round_trip(parsed: &ParsedLine<'_>, written: &mut Vec<u8>) {
    if parsed
        .fields
        .iter()
        .any(|(_, v)| matches!(v, ParsedValue::Float(f) if f.is_nan()))
    {
        return;
    }
    let timestamp = parsed.timestamp.unwrap_or(0);
    written.clear();
    let tags = parsed.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
    let fields = parsed.fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
    if let Err(e) = write_line(written, &parsed.measurement, tags, fields, timestamp) {
        panic!("a parsed line must be writable: {e}: {parsed:?}");
    }
    let mut lines = LineSplitter::new(written);
    let Some((_, line)) = lines.next() else {
        panic!(
            "written line vanished: {:?}",
            String::from_utf8_lossy(written)
        );
    };
    assert!(lines.next().is_none(), "one line written, several read");
    let mut again = ParsedLine::default();
    if let Err(e) = parse_line(line, Precision::Nanosecond, &mut again) {
        panic!(
            "{e} in {:?} written from {parsed:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(again.measurement, parsed.measurement);
    assert_eq!(again.tags, parsed.tags);
    assert_eq!(again.timestamp, Some(timestamp));
    assert_eq!(again.fields.len(), parsed.fields.len());
    for ((ka, va), (kb, vb)) in again.fields.iter().zip(&parsed.fields) {
        assert_eq!(ka, kb);
        assert!(same_value(va, vb), "{va:?} != {vb:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parsed = ParsedLine::default();
    let mut written = Vec::new();
    for precision in PRECISIONS {
        for (_, line) in LineSplitter::new(data) {
            if parse_line(line, precision, &mut parsed).is_ok() {
                check_round_trip(&parsed, &mut written);
            }
        }
    }
});
