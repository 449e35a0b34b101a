//! Manifest fuzz target: arbitrary bytes decode to a manifest or an error, never a panic;
//! a decoded manifest re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_engine::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        assert_eq!(m.encode(), data);
    }
});
