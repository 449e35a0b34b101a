//! WAL fuzz target: arbitrary bytes as a record frame and as a write-batch payload must
//! decode to a value or an error, never a panic or an allocation beyond the input's size;
//! a decoded frame re-encodes to the same bytes.
//! The property lives in `strata_engine::fuzzing::wal`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::wal(data));
