//! Arbitrary text through the InfluxQL parser must never panic or overflow the stack; a
//! text that parses must print (Display) and parse again to an equal AST.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_query::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(statements) = parse(text) else {
        return;
    };
    let printed: Vec<String> = statements.iter().map(ToString::to_string).collect();
    let printed = printed.join(";\n");
    match parse(&printed) {
        Ok(again) => assert_eq!(again, statements, "{text:?} printed as {printed:?}"),
        Err(e) => panic!("{text:?} printed as {printed:?} does not parse: {e}"),
    }
});
