//! Rollup file fuzz target: arbitrary bytes, as a rollup file and as a body framed with
//! valid checksums, must decode to an error or to a file whose every entry reads (buckets
//! or a corruption error) without a panic, and a decoded file must re-encode stably.
//! The property lives in `strata_engine::fuzzing::rollup_file`, which `cargo test` also
//! runs on seeds and their mutations (engine/tests/fuzz_standin.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::rollup_file(data));
