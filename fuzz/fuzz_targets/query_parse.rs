//! Arbitrary text through the InfluxQL parser must never panic or overflow the stack; a
//! text that parses must print (Display) and parse again to an equal AST.
//! The property lives in `strata_query::fuzzing::query_parse`, which `cargo test` also
//! runs on seeds and their mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| strata_query::fuzzing::query_parse(data));
