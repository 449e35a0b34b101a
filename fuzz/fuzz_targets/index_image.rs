//! Index image fuzz target: arbitrary bytes as the index part of an `INDEX` file decode to
//! an index or an error, never a panic; a decoded index answers every listing, and its own
//! image decodes to an index that lists the same.
//! The property lives in `strata_engine::fuzzing::index_image`, which `cargo test` also runs
//! on seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::index_image(data));
