//! Arbitrary bytes through `LineSplitter` + `parse_line` at every precision must never
//! panic; a line that parses must write back and parse again to the same values.
//! The property lives in `strata_engine::fuzzing::line_protocol`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::line_protocol(data));
