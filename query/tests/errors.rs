//! Error positions and messages, and the nesting limits.

use strata_query::{MAX_HEIGHT, MAX_NESTING, ParseError, parse};

fn err(text: &str) -> ParseError {
    match parse(text) {
        Ok(s) => panic!("{text:?} parsed: {s:?}"),
        Err(e) => e,
    }
}

fn check(text: &str, line: usize, column: usize, expected: &str, found: &str) {
    let e = err(text);
    assert_eq!(
        (e.line, e.column, e.expected.as_str(), e.found.as_str()),
        (line, column, expected, found),
        "{text:?}: {e}"
    );
}

#[test]
fn display_format() {
    let e = err("SELECT x FROM m GROUP time(1m)");
    assert_eq!(
        e.to_string(),
        "line 1, column 23: expected BY after GROUP, found \"time\""
    );
}

#[test]
fn positions_and_expectations() {
    check("SELECT a FROM", 1, 14, "measurement", "");
    check("SELECT a FROM WHERE x = 1", 1, 15, "measurement", "WHERE");
    check("SELECT a FROM m WHERE", 1, 22, "condition", "");
    check("SELECT a FROM m WHERE x = ", 1, 27, "expression", "");
    check("SELECT a", 1, 9, "FROM", "");
    check("SELECT FROM m", 1, 8, "field expression", "FROM");
    check("SELECT a, FROM m", 1, 11, "field expression", "FROM");
    check(
        "SELECT a FROM m ORDER time",
        1,
        23,
        "BY after ORDER",
        "time",
    );
    check(
        "SELECT a FROM m ORDER BY host",
        1,
        26,
        "time after ORDER BY",
        "host",
    );
    check(
        "SELECT a FROM m LIMIT x",
        1,
        23,
        "non-negative integer",
        "x",
    );
    check(
        "SELECT a FROM m LIMIT 1 WHERE x = 1",
        1,
        25,
        "';' or end of input",
        "WHERE",
    );
    check("SELECT a FROM m GROUP BY time(1x)", 1, 31, "duration", "1x");
    check("SELECT a FROM m GROUP BY time(1h", 1, 33, "')'", "");
    check(
        "SELECT a FROM m FILL(bogus)",
        1,
        22,
        "null, none, previous, linear or a number",
        "bogus",
    );
    check("SELECT mean(x FROM m", 1, 15, "',' or ')'", "FROM");
    check(
        "SELECT a::blob FROM m",
        1,
        11,
        "field, tag, float, integer, string or boolean after ::",
        "blob",
    );
    check("SELECT a FROM m tz(UTC)", 1, 20, "time zone string", "UTC");
    check(
        "UPDATE x",
        1,
        1,
        "SELECT, EXPLAIN, SHOW, CREATE, DELETE or DROP",
        "UPDATE",
    );
    check(
        "SHOW TABLES",
        1,
        6,
        "MEASUREMENTS, TAG, FIELD, SERIES, DATABASES, RETENTION or STATS after SHOW",
        "TABLES",
    );
    check("SHOW TAG VALUES FROM cpu", 1, 25, "WITH KEY", "");
    check(
        "SHOW TAG VALUES WITH KEY host",
        1,
        26,
        "= key, != key, IN (keys), =~ /re/ or !~ /re/",
        "host",
    );
    check(
        "SHOW RETENTION ON db",
        1,
        16,
        "POLICIES after SHOW RETENTION",
        "ON",
    );
    check("CREATE TABLE x", 1, 8, "DATABASE after CREATE", "TABLE");
    check("DELETE", 1, 7, "FROM or WHERE after DELETE", "");
    check("DROP SERIES", 1, 12, "FROM or WHERE after DROP SERIES", "");
    check(
        "DROP TABLE x",
        1,
        6,
        "MEASUREMENT or SERIES after DROP",
        "TABLE",
    );
}

#[test]
fn literal_errors() {
    check(
        "SELECT a FROM m WHERE s = 'open",
        1,
        27,
        "' closing the string",
        "'",
    );
    check(
        "SELECT \"open FROM m",
        1,
        8,
        "\" closing the identifier",
        "\"",
    );
    check(
        "SELECT a FROM m WHERE r =~ /open",
        1,
        28,
        "/ closing the regex",
        "/",
    );
    check(
        "SELECT a /* never closed",
        1,
        10,
        "*/ closing the comment",
        "/",
    );
    check(
        "SELECT 99999999999999999999 FROM m",
        1,
        8,
        "an integer within 64 bits",
        "99999999999999999999",
    );
    check("SELECT 1e999 FROM m", 1, 8, "a finite number", "1e999");
    check(
        "SELECT a FROM m WHERE time > 1h30",
        1,
        34,
        "duration unit (ns u µ ms s m h d w)",
        "",
    );
    check(
        "SELECT a FROM m WHERE time > 1hours",
        1,
        32,
        "duration unit (ns u µ ms s m h d w)",
        "ours",
    );
}

#[test]
fn multi_line_positions() {
    check(
        "SELECT a\nFROM m\nGROUP time(1m)",
        3,
        7,
        "BY after GROUP",
        "time",
    );
    check(
        "SHOW DATABASES;\n  SELECT µ FROM",
        2,
        10,
        "field expression",
        "µ",
    );
    check("SELECT 'µµ', a FROM m\nWHERE", 2, 6, "condition", "");
    check("SELECT 'µµµ' FRO m", 1, 14, "FROM", "FRO");
}

#[test]
fn nesting_is_limited() {
    let ok = format!(
        "SELECT {}x{} FROM m",
        "(".repeat(MAX_NESTING - 1),
        ")".repeat(MAX_NESTING - 1)
    );
    parse(&ok).unwrap();
    let deep = format!(
        "SELECT {}x{} FROM m",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let e = err(&deep);
    assert_eq!(e.expected, "at most 64 nested parentheses or calls");
    assert_eq!(e.column, 8 + MAX_NESTING);
    let calls = format!(
        "SELECT {}x{} FROM m",
        "f(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert_eq!(
        err(&calls).expected,
        "at most 64 nested parentheses or calls"
    );
    let long = format!("SELECT x{} FROM m", " + x".repeat(MAX_HEIGHT));
    parse(&long).unwrap();
    let too_long = format!("SELECT x{} FROM m", " + x".repeat(100_000));
    assert_eq!(
        err(&too_long).expected,
        "an expression at most 256 operators deep"
    );
    let mixed = format!(
        "SELECT {} FROM m",
        "(x + ".repeat(60) + "x" + &")".repeat(60)
    );
    parse(&mixed).unwrap();
}

#[test]
fn large_inputs_parse_in_one_pass() {
    let statement = "SELECT max(usage_user), mean(usage_system) FROM cpu WHERE (hostname = 'host_6' \
                     OR hostname = 'host_67') AND time >= '2016-01-01T07:13:10Z' GROUP BY time(1m);\n";
    let text = statement.repeat(10_000);
    let started = std::time::Instant::now();
    assert_eq!(parse(&text).unwrap().len(), 10_000);
    let wide = format!("SELECT {}x FROM m", "max(x), ".repeat(50_000));
    assert!(parse(&wide).is_ok());
    let comments = format!("{}SELECT x FROM m", "/* c */ -- d\n".repeat(50_000));
    assert!(parse(&comments).is_ok());
    let junk = format!(
        "SELECT x FROM m WHERE {}",
        "(".repeat(63) + "'" + &"unterminated ".repeat(50_000)
    );
    assert_eq!(err(&junk).expected, "' closing the string");
    eprintln!("large inputs parsed in {:?}", started.elapsed());
}

/// Semantic errors, found after parsing, say where too: the line and column of the
/// offending token (a call of an undefined function, a time string that is not a time, an
/// unknown zone, a bad regex, `time` in a condition it cannot be in).
#[test]
fn semantic_errors_carry_the_position_of_their_token() {
    use std::sync::Arc;
    use strata_engine::model::Precision;
    use strata_engine::{Db, ManualClock, Options};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            clock: Arc::new(ManualClock::new(1_000_000_000_000)),
            rotation_interval: std::time::Duration::ZERO,
            ..Options::default()
        },
    )
    .unwrap();
    db.write_lp(b"m,host=a v=1 1\n", Precision::Nanosecond)
        .unwrap();
    let errors = |q: &str| -> Vec<String> {
        strata_query::execute(&db, q, &strata_query::QueryOptions::default())
            .results
            .into_iter()
            .filter_map(|r| r.error)
            .collect()
    };
    for (q, want) in [
        (
            "SELECT foo(v) FROM m",
            "line 1, column 8: undefined function foo()",
        ),
        (
            "SELECT v FROM m WHERE time > 'yesterday'",
            "line 1, column 30: invalid time \"yesterday\"",
        ),
        (
            "SELECT mean(v) FROM m WHERE time > 0 GROUP BY time(1h) tz('Mars/Base')",
            "line 1, column 59: unable to find time zone \"Mars/Base\"",
        ),
        (
            "SELECT v FROM m WHERE host =~ /(/",
            "line 1, column 31: invalid regex /(/",
        ),
        (
            "SELECT percentile(v, 'x') FROM m",
            "line 1, column 8: expected float argument in percentile()",
        ),
        (
            "SELECT moving_average(v) FROM m",
            "line 1, column 8: moving_average() needs a positive integer window",
        ),
        (
            "SELECT v FROM m WHERE v > 0 OR time > 0",
            "line 1, column 32: invalid time condition",
        ),
        // No single token at fault: InfluxDB's message as it is.
        (
            "SELECT mean(v), v FROM m",
            "mixing aggregate and non-aggregate queries is not supported",
        ),
    ] {
        let got = errors(q);
        assert_eq!(got.len(), 1, "{q}: {got:?}");
        assert!(got[0].starts_with(want), "{q}: {}", got[0]);
    }
    // Several statements over several lines: each error points into its own statement.
    let got = errors(
        "SELECT v FROM m;\nSELECT\n  mean(v), nosuch(v) FROM m;\n  SELECT mean(v), v FROM m",
    );
    assert_eq!(
        got,
        [
            "line 3, column 12: undefined function nosuch()",
            "mixing aggregate and non-aggregate queries is not supported",
        ]
    );
    // The one-call embedded API locates them too.
    let e = strata_query::query(&db, "SELECT  bogus(v) FROM m").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 1, column 9: undefined function bogus()"
    );
}
