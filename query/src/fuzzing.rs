//! The entry point of the `query_parse` fuzz target (`fuzz/`), shared with the stand-in
//! test that runs it in `cargo test` on seeds and their mutations.

use crate::parse;

/// Any text parses to statements or to an error, never a panic; statements print as text
/// that parses back to the same statements.
pub fn query_parse(data: &[u8]) {
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
}

/// The entry point of the `promql_parse` fuzz target: any text parses to a type-checked
/// expression or to an error with a position inside the text, never a panic; an
/// expression prints as PromQL that parses back to the same expression.
pub fn promql_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::promql::parse_expr(text) {
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1, "{text:?}: {e}");
            assert!(e.line <= text.matches('\n').count() + 1, "{text:?}: {e}");
        }
        Ok(expr) => {
            let printed = expr.to_string();
            match crate::promql::parse_expr(&printed) {
                Ok(again) => assert_eq!(
                    again.to_string(),
                    printed,
                    "{text:?} printed as {printed:?}"
                ),
                Err(e) => panic!("{text:?} printed as {printed:?} does not parse: {e}"),
            }
        }
    }
}
