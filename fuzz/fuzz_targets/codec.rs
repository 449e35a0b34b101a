//! Codec fuzz target.
//!
//! 1. The input as an encoded block, handed to every decoder: no panic, a plausible byte
//!    count on success, nothing appended on error.
//! 2. The input as values (the first byte picks the type and shape): encode, then decode,
//!    must give back the same values bit for bit and consume exactly the block.
//! The property lives in `strata_engine::fuzzing::codec`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::codec(data));
