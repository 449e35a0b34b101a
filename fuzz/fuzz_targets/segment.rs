//! Segment fuzz target: arbitrary bytes as a segment file must open to an error or to a
//! segment whose every column reads (values or a corruption error) without a panic.
//! The property lives in `strata_engine::fuzzing::segment`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::segment(data));
