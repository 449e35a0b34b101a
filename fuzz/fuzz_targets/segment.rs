//! Segment fuzz target: arbitrary bytes as a segment file must open to an error or to a
//! segment whose every column reads (values or a corruption error) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::model::TimeRange;
use strata_engine::segment::Segment;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("strata-fuzz-segment-{}.seg", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(seg) = Segment::open(&path, 1) {
        for s in seg.series() {
            for c in &s.columns {
                let _ = seg.read_column(c, TimeRange::ALL);
            }
        }
        let _ = seg.verify();
    }
});
