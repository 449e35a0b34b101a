//! Arbitrary bytes through the Prometheus remote-write decoder (snappy block, then the
//! protobuf `WriteRequest`) must never panic nor allocate past the size bound; decoded
//! requests map to points and re-encode. The property lives in
//! `strata_server::fuzzing::remote_write`, which `cargo test` also runs on seeds and their
//! mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_server::fuzzing::remote_write(data));
