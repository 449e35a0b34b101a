//! Parser tests: every statement kind and clause, the TSBS queries, Display round trips.

use strata_query::ast::*;
use strata_query::parse;

fn one(text: &str) -> Statement {
    let mut all = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert_eq!(all.len(), 1, "{text:?}");
    all.remove(0)
}

fn select(text: &str) -> Select {
    match one(text) {
        Statement::Select(s) => *s,
        other => panic!("not a SELECT: {other:?}"),
    }
}

/// parse → Display → parse gives the same AST, and Display is a fixed point.
fn round_trip(text: &str) -> String {
    let first = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let printed: Vec<String> = first.iter().map(ToString::to_string).collect();
    let printed = printed.join(";\n");
    let second = parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(first, second, "{text:?} printed as {printed:?}");
    let again: Vec<String> = second.iter().map(ToString::to_string).collect();
    assert_eq!(printed, again.join(";\n"));
    printed
}

fn var(name: &str) -> Expr {
    Expr::Var {
        name: name.into(),
        cast: None,
    }
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Call {
        name: name.into(),
        args,
    }
}

const HOUR: i64 = 3_600_000_000_000;
const MINUTE: i64 = 60_000_000_000;
const SECOND: i64 = 1_000_000_000;

#[test]
fn simple_select() {
    let s = select("SELECT value FROM cpu");
    assert_eq!(
        s.fields,
        vec![Field {
            expr: var("value"),
            alias: None
        }]
    );
    assert_eq!(s.sources.len(), 1);
    assert_eq!(s.sources[0].name, MeasurementName::Name("cpu".into()));
    assert_eq!(s.to_string(), "SELECT value FROM cpu");
}

#[test]
fn keywords_are_case_insensitive() {
    let a = select("select Value from cpu where host = 'a' group by time(1m) limit 2");
    let b = select("SELECT Value FROM cpu WHERE host = 'a' GROUP BY TIME(1m) LIMIT 2");
    assert_eq!(a, b);
}

#[test]
fn all_select_clauses() {
    let s = select(
        "SELECT mean(usage_user) AS m, max(\"usage system\") FROM db.rp.cpu, /^disk/ \
         WHERE host =~ /web.*/ AND time > now() - 1h GROUP BY time(1h, -15m), host, * \
         FILL(previous) ORDER BY time DESC LIMIT 10 OFFSET 5 SLIMIT 3 SOFFSET 1 \
         tz('America/New_York')",
    );
    assert_eq!(s.fields[0].alias.as_deref(), Some("m"));
    assert_eq!(s.fields[1].expr, call("max", vec![var("usage system")]));
    assert_eq!(
        s.sources[0],
        Source {
            database: Some("db".into()),
            retention_policy: Some("rp".into()),
            name: MeasurementName::Name("cpu".into()),
        }
    );
    assert_eq!(s.sources[1].name, MeasurementName::Regex("^disk".into()));
    assert_eq!(
        s.group_by,
        vec![
            Dimension::Time {
                interval: Duration(HOUR),
                offset: Some(Duration(-15 * MINUTE)),
            },
            Dimension::Tag("host".into()),
            Dimension::All,
        ]
    );
    assert_eq!(s.fill, Some(Fill::Previous));
    assert_eq!(s.order, Some(Order::Desc));
    assert_eq!(
        (s.limit, s.offset, s.slimit, s.soffset),
        (Some(10), Some(5), Some(3), Some(1))
    );
    assert_eq!(s.tz.as_deref(), Some("America/New_York"));
    let cond = s.condition.unwrap();
    assert_eq!(
        cond,
        bin(
            BinaryOp::And,
            bin(
                BinaryOp::RegexMatch,
                var("host"),
                Expr::Regex("web.*".into())
            ),
            bin(
                BinaryOp::Gt,
                var("time"),
                bin(
                    BinaryOp::Sub,
                    call("now", vec![]),
                    Expr::Duration(Duration(HOUR))
                )
            )
        )
    );
}

#[test]
fn arithmetic_precedence() {
    let s = select("SELECT a + b * c, (a + b) * c, a - b - c, a / 2.5 FROM m");
    let f: Vec<&Expr> = s.fields.iter().map(|f| &f.expr).collect();
    assert_eq!(
        *f[0],
        bin(
            BinaryOp::Add,
            var("a"),
            bin(BinaryOp::Mul, var("b"), var("c"))
        )
    );
    assert_eq!(
        *f[1],
        bin(
            BinaryOp::Mul,
            bin(BinaryOp::Add, var("a"), var("b")),
            var("c")
        )
    );
    assert_eq!(
        *f[2],
        bin(
            BinaryOp::Sub,
            bin(BinaryOp::Sub, var("a"), var("b")),
            var("c")
        )
    );
    assert_eq!(*f[3], bin(BinaryOp::Div, var("a"), Expr::Float(2.5)));
    assert_eq!(
        s.to_string(),
        "SELECT a + b * c, (a + b) * c, a - b - c, a / 2.5 FROM m"
    );
}

#[test]
fn and_binds_tighter_than_or() {
    let s = select("SELECT x FROM m WHERE a = 1 OR b = 2 AND c = 3");
    let eq = |n: &str, v| bin(BinaryOp::Eq, var(n), Expr::Integer(v));
    assert_eq!(
        s.condition.unwrap(),
        bin(
            BinaryOp::Or,
            eq("a", 1),
            bin(BinaryOp::And, eq("b", 2), eq("c", 3))
        )
    );
    let s = select("SELECT x FROM m WHERE (a = 1 OR b = 2) AND c = 3");
    assert_eq!(
        s.to_string(),
        "SELECT x FROM m WHERE (a = 1 OR b = 2) AND c = 3"
    );
}

#[test]
fn comparison_operators() {
    for (text, op) in [
        ("=", BinaryOp::Eq),
        ("!=", BinaryOp::NotEq),
        ("<>", BinaryOp::NotEq),
        ("<", BinaryOp::Lt),
        ("<=", BinaryOp::LtEq),
        (">", BinaryOp::Gt),
        (">=", BinaryOp::GtEq),
        ("=~", BinaryOp::RegexMatch),
        ("!~", BinaryOp::RegexNotMatch),
    ] {
        let s = select(&format!("SELECT x FROM m WHERE a {text} b"));
        assert_eq!(s.condition.unwrap(), bin(op, var("a"), var("b")), "{text}");
    }
}

#[test]
fn literals() {
    let s = select(
        "SELECT x FROM m WHERE a = 'it\\'s' AND b = true AND c = FALSE AND d = -3 \
         AND e = 1.5e3 AND f = -0.25 AND time > 1451606400s AND time < 1h30m",
    );
    let printed = s.to_string();
    assert!(printed.contains("a = 'it\\'s'"), "{printed}");
    assert!(
        printed.contains("b = true AND c = false AND d = -3"),
        "{printed}"
    );
    assert!(printed.contains("e = 1500.0 AND f = -0.25"), "{printed}");
    assert!(printed.contains("time > 2400w1d"), "{printed}");
    assert!(printed.contains("time < 1h30m"), "{printed}");
    round_trip(&printed);
}

#[test]
fn durations() {
    for (text, nanos) in [
        ("1ns", 1),
        ("2u", 2_000),
        ("2µ", 2_000),
        ("3ms", 3_000_000),
        ("4s", 4 * SECOND),
        ("5m", 5 * MINUTE),
        ("6h", 6 * HOUR),
        ("7d", 7 * 24 * HOUR),
        ("1w", 7 * 24 * HOUR),
        ("1h30m", HOUR + 30 * MINUTE),
        ("1m500ms", MINUTE + 500_000_000),
    ] {
        let s = select(&format!("SELECT x FROM m WHERE time > now() - {text}"));
        let Some(Expr::Binary { rhs, .. }) = s.condition else {
            panic!("{text}")
        };
        let Expr::Binary { rhs, .. } = *rhs else {
            panic!("{text}")
        };
        assert_eq!(*rhs, Expr::Duration(Duration(nanos)), "{text}");
    }
}

#[test]
fn functions_and_casts() {
    let s = select(
        "SELECT derivative(mean(x), 1s), count(*), percentile(v, 95), top(v, host, 3), \
         a::field, \"b c\"::tag, *::field, /^cpu_/ FROM m",
    );
    assert_eq!(
        s.fields[0].expr,
        call(
            "derivative",
            vec![
                call("mean", vec![var("x")]),
                Expr::Duration(Duration(SECOND))
            ]
        )
    );
    assert_eq!(s.fields[1].expr, call("count", vec![Expr::Wildcard(None)]));
    assert_eq!(
        s.fields[4].expr,
        Expr::Var {
            name: "a".into(),
            cast: Some(Cast::Field)
        }
    );
    assert_eq!(s.fields[6].expr, Expr::Wildcard(Some(Cast::Field)));
    assert_eq!(s.fields[7].expr, Expr::Regex("^cpu_".into()));
    round_trip(&s.to_string());
}

#[test]
fn fill_options() {
    for (text, fill) in [
        ("null", Fill::Null),
        ("none", Fill::None),
        ("previous", Fill::Previous),
        ("LINEAR", Fill::Linear),
        ("0", Fill::Integer(0)),
        ("-1", Fill::Integer(-1)),
        ("2.5", Fill::Float(2.5)),
    ] {
        let s = select(&format!(
            "SELECT mean(x) FROM m GROUP BY time(1m) fill({text})"
        ));
        assert_eq!(s.fill, Some(fill), "{text}");
    }
}

#[test]
fn sources() {
    let s = select("SELECT x FROM \"my db\"..cpu, autogen.mem, \"a.b\", db.rp./re/");
    assert_eq!(s.sources[0].database.as_deref(), Some("my db"));
    assert_eq!(s.sources[0].retention_policy, None);
    assert_eq!(s.sources[1].database, None);
    assert_eq!(s.sources[1].retention_policy.as_deref(), Some("autogen"));
    assert_eq!(s.sources[2].name, MeasurementName::Name("a.b".into()));
    assert_eq!(s.sources[3].name, MeasurementName::Regex("re".into()));
    assert_eq!(
        s.to_string(),
        "SELECT x FROM \"my db\"..cpu, autogen.mem, \"a.b\", db.rp./re/"
    );
}

#[test]
fn identifiers_and_escapes() {
    let s = select("SELECT \"say \\\"hi\\\"\", \"select\", _x1 FROM \"from\" WHERE r =~ /a\\/b/");
    assert_eq!(s.fields[0].expr, var("say \"hi\""));
    assert_eq!(s.fields[1].expr, var("select"));
    assert_eq!(s.sources[0].name, MeasurementName::Name("from".into()));
    let Some(Expr::Binary { rhs, .. }) = &s.condition else {
        panic!()
    };
    assert_eq!(**rhs, Expr::Regex("a/b".into()));
    round_trip(&s.to_string());
}

#[test]
fn comments_and_multiple_statements() {
    let text = "-- leading comment\nSELECT /* inline */ x FROM m;;\n\
                ; SHOW DATABASES -- trailing\n;/* only a comment */";
    let all = parse(text).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1], Statement::ShowDatabases);
    assert!(parse("").unwrap().is_empty());
    assert!(parse(" ; ;-- x").unwrap().is_empty());
}

#[test]
fn show_statements() {
    assert_eq!(
        one("SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu.*/ WHERE host = 'a' LIMIT 5 OFFSET 2"),
        Statement::ShowMeasurements {
            with: Some(MeasurementName::Regex("cpu.*".into())),
            filter: ShowFilter {
                from: vec![],
                condition: Some(bin(BinaryOp::Eq, var("host"), Expr::String("a".into()))),
                limit: Some(5),
                offset: Some(2),
            },
        }
    );
    let Statement::ShowMeasurements { with, .. } = one("show measurements with measurement = cpu")
    else {
        panic!()
    };
    assert_eq!(with, Some(MeasurementName::Name("cpu".into())));
    let Statement::ShowTagKeys(f) = one("SHOW TAG KEYS FROM cpu WHERE host = 'a'") else {
        panic!()
    };
    assert_eq!(f.from.len(), 1);
    assert!(f.condition.is_some());
    for (text, key) in [
        ("= host", TagKeyMatch::Eq("host".into())),
        ("!= host", TagKeyMatch::NotEq("host".into())),
        (
            "IN (host, region)",
            TagKeyMatch::In(vec!["host".into(), "region".into()]),
        ),
        ("=~ /h.*/", TagKeyMatch::Regex("h.*".into())),
        ("!~ /h.*/", TagKeyMatch::NotRegex("h.*".into())),
    ] {
        let Statement::ShowTagValues { key: k, filter } = one(&format!(
            "SHOW TAG VALUES FROM cpu WITH KEY {text} WHERE a = 'b' LIMIT 1"
        )) else {
            panic!()
        };
        assert_eq!(k, key);
        assert_eq!(filter.from.len(), 1);
        assert_eq!(filter.limit, Some(1));
    }
    assert_eq!(
        one("SHOW FIELD KEYS FROM cpu"),
        Statement::ShowFieldKeys {
            from: vec![Source {
                database: None,
                retention_policy: None,
                name: MeasurementName::Name("cpu".into())
            }]
        }
    );
    assert_eq!(
        one("SHOW FIELD KEYS"),
        Statement::ShowFieldKeys { from: vec![] }
    );
    let Statement::ShowSeries(f) = one("SHOW SERIES FROM cpu WHERE host = 'a'") else {
        panic!()
    };
    assert!(f.condition.is_some());
    assert_eq!(
        one("SHOW SERIES"),
        Statement::ShowSeries(ShowFilter::default())
    );
    assert_eq!(one("SHOW DATABASES"), Statement::ShowDatabases);
    assert_eq!(
        one("SHOW RETENTION POLICIES ON telegraf"),
        Statement::ShowRetentionPolicies {
            database: Some("telegraf".into())
        }
    );
    assert_eq!(
        one("SHOW RETENTION POLICIES"),
        Statement::ShowRetentionPolicies { database: None }
    );
    assert_eq!(one("show stats"), Statement::ShowStats);
}

#[test]
fn write_side_statements() {
    assert_eq!(
        one("CREATE DATABASE metrics"),
        Statement::CreateDatabase {
            name: "metrics".into()
        }
    );
    let Statement::Delete { from, condition } = one("DELETE FROM cpu WHERE time < '2020-01-01'")
    else {
        panic!()
    };
    assert!(from.is_some() && condition.is_some());
    let Statement::Delete { from, condition } = one("DELETE WHERE host = 'a'") else {
        panic!()
    };
    assert!(from.is_none() && condition.is_some());
    let Statement::Delete { from, condition } = one("DELETE FROM cpu") else {
        panic!()
    };
    assert!(from.is_some() && condition.is_none());
    assert_eq!(
        one("DROP MEASUREMENT cpu"),
        Statement::DropMeasurement { name: "cpu".into() }
    );
    let Statement::DropSeries { from, condition } = one("DROP SERIES FROM cpu WHERE host = 'a'")
    else {
        panic!()
    };
    assert_eq!(from.len(), 1);
    assert!(condition.is_some());
    let Statement::DropSeries { from, .. } = one("DROP SERIES WHERE host = 'a'") else {
        panic!()
    };
    assert!(from.is_empty());
}

const EXAMPLES: &[&str] = &[
    "SELECT * FROM cpu",
    "SELECT value FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < now() + 10m",
    "SELECT a * (b + c) / -2, a - (b - c), (a OR b) AND c, a = (b = c) FROM m",
    "SELECT count(*) AS n, first(v), moving_average(mean(v), 3) FROM a, b GROUP BY time(5m, 1m) FILL(-1.5)",
    "SELECT p99(latency) FROM http GROUP BY /^region/ ORDER BY time ASC LIMIT 1 tz('UTC')",
    "SELECT \"we ird\"::tag AS \"al ias\" FROM \"db\".\"rp\".\"m m\" WHERE \"true\" = true",
    "SELECT v FROM m WHERE s = 'line\\nbreak \\\\ \\x' AND r !~ /a\\/b\\d+/",
    "SELECT v FROM m WHERE time > -1h AND time < 9223372036854775807ns AND n > -9223372036854775808",
    "SELECT v FROM m WHERE x > 1e300 AND y < 1e-7 AND z = 0.1",
    "SELECT v FROM m SLIMIT 2 SOFFSET 3",
    "SHOW MEASUREMENTS WITH MEASUREMENT = \"a b\" WHERE x = 1 LIMIT 1 OFFSET 1",
    "SHOW TAG KEYS FROM a, b WHERE x = 1 LIMIT 2 OFFSET 3",
    "SHOW TAG VALUES FROM cpu WITH KEY IN (\"a\", b) WHERE c =~ /d/ LIMIT 4",
    "SHOW TAG VALUES WITH KEY = host",
    "SHOW FIELD KEYS FROM db..cpu",
    "SHOW SERIES FROM cpu WHERE host = 'a' LIMIT 5",
    "SHOW DATABASES; SHOW STATS; SHOW RETENTION POLICIES ON \"x y\"",
    "CREATE DATABASE \"my-db\"",
    "DELETE FROM cpu WHERE time < '2020-01-01T00:00:00Z' AND host = 'a'",
    "DELETE WHERE time < now() - 30d",
    "DROP MEASUREMENT \"old data\"",
    "DROP SERIES FROM cpu, mem WHERE host = 'a'",
];

#[test]
fn examples_round_trip() {
    for text in EXAMPLES {
        round_trip(text);
    }
}

#[test]
fn tsbs_queries_parse_and_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/peers/queries/influxql");
    let mut files = 0;
    let mut queries = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let statement = one(line);
            assert!(matches!(statement, Statement::Select(_)), "{line}");
            round_trip(line);
            queries += 1;
        }
    }
    assert_eq!(files, 10);
    assert!(queries >= 10);
}

#[test]
fn lastpoint_shape() {
    let s = select("SELECT * from cpu group by \"hostname\" order by time desc limit 1");
    assert_eq!(s.group_by, vec![Dimension::Tag("hostname".into())]);
    assert_eq!(s.order, Some(Order::Desc));
    assert_eq!(s.limit, Some(1));
}

#[test]
fn reference_examples_parse() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/QUERY.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc.find("```sql\n").expect("an sql block") + "```sql\n".len();
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    let statements = parse(block).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(statements.len(), 16);
    round_trip(block);
}
