//! Manifest fuzz target: arbitrary bytes decode to a manifest or an error, never a panic;
//! a decoded manifest re-encodes to the same bytes.
//! The property lives in `strata_engine::fuzzing::manifest`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::manifest(data));
