//! Arbitrary bytes as a gzip request body and as a snappy block (remote write and remote
//! read framing), under a small bound: inflate within the bound or a clean refusal, never
//! a panic; gzip and snappy round trips are exact. The property lives in
//! `strata_server::fuzzing::body_framing`, which `cargo test` also runs on seeds and their
//! mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_server::fuzzing::body_framing(data));
