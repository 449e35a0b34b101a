//! Arbitrary text through the PromQL parser: an expression or an error with a position,
//! never a panic; expressions print back to text that parses to the same expression. The
//! property lives in `strata_query::fuzzing::promql_parse`, which `cargo test` also runs
//! on seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_query::fuzzing::promql_parse(data));
