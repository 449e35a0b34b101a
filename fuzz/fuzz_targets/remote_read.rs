//! Arbitrary bytes through the Prometheus remote-read decoder (snappy block, then the
//! protobuf `ReadRequest`) and its matcher checks: never a panic nor an allocation past
//! the size bound. The property lives in `strata_server::fuzzing::remote_read`, which
//! `cargo test` also runs on seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_server::fuzzing::remote_read(data));
