//! WAL fuzz target: arbitrary bytes as a record frame and as a write-batch payload must
//! decode to a value or an error, never a panic or an allocation beyond the input's size;
//! a decoded frame re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::wal::batch::decode_batch;
use strata_engine::wal::frame::{self, Frame, RecordKind};

fuzz_target!(|data: &[u8]| {
    if let Frame::Record { kind, payload, size } = frame::decode_record(data) {
        assert!(size <= data.len());
        if let Some(kind) = RecordKind::from_u8(kind) {
            let mut again = Vec::new();
            frame::encode_record(kind, payload, &mut again);
            assert_eq!(&again[..], &data[..size]);
        }
    }
    if let Ok(lines) = decode_batch(data) {
        assert!(lines.iter().all(|l| !l.fields.is_empty()));
    }
    let _ = frame::check_header(data);
});
