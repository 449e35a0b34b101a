//! Arbitrary bytes through `parse_page` and `metadata` must never panic, every error must
//! name a line of the page and a column of at least 1, and every point must carry exactly
//! one float field named `value`.
//! The property lives in `strata_engine::fuzzing::prom_text`, which `cargo test` also runs on
//! seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_engine::fuzzing::prom_text(data));
