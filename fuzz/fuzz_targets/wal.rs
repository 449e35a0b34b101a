//! WAL fuzz target: arbitrary bytes as a record frame, as each record kind's payload
//! (write batches by series number and by key, series definitions, deletes) and as a
//! whole WAL file with its series dictionary must decode or be checked to a value or an
//! error, never a panic or an allocation beyond the input's size; what decodes re-encodes
//! stably.
//! The property lives in `strata_engine::fuzzing::wal`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::wal(data));
