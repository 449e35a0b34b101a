//! `/query`: GET and POST, several statements, epoch, CSV, errors, limits, hostile input.

use crate::{Srv, enc, get, post, request, rows, test_config};
use strata_engine::Options;

fn seeded() -> Srv {
    let s = Srv::start();
    s.write_ok(
        "cpu,host=a usage=1 1700000000000000000\n\
         cpu,host=a usage=2 1700000060000000000\n\
         cpu,host=b usage=5 1700000000000000000\n",
    );
    s
}

#[test]
fn get_and_post_with_several_statements() {
    let s = seeded();
    let q = "SELECT usage FROM cpu WHERE host = 'a'; SELECT max(usage) FROM cpu";
    let v = s.query(q);
    assert_eq!(v["results"][0]["statement_id"], 0);
    assert_eq!(rows(&v, 0).len(), 2, "{v}");
    assert_eq!(rows(&v, 1)[0][1], 5.0, "{v}");
    // A form-encoded body, as the influx CLI and Grafana send it.
    let form = format!("q={}&db=test&epoch=s", enc(q));
    let r = post(
        &s.url("/query"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(rows(&v, 0)[0][0], 1_700_000_000, "{v}");
    // q in the URL of a POST.
    let r = post(
        &s.url(&format!(
            "/query?q={}&epoch=ms",
            enc("SELECT usage FROM cpu WHERE host = 'b'")
        )),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rows(&r.json(), 0)[0][0], 1_700_000_000_000i64);
    // pretty and chunked are accepted.
    let r = get(&s.url(&format!(
        "/query?q={}&pretty=true&chunked=true&chunk_size=100",
        enc("SELECT usage FROM cpu")
    )));
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("\n  "),
        "pretty JSON is indented: {}",
        r.body
    );
}

#[test]
fn csv_on_request() {
    let s = seeded();
    let r = request(
        "GET",
        &s.url(&format!(
            "/query?epoch=ns&q={}",
            enc("SELECT usage FROM cpu WHERE host = 'b'")
        )),
        &[("Accept", "application/csv")],
        None,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/csv"));
    assert!(r.body.starts_with("name,tags,time,usage"), "{}", r.body);
    assert!(r.body.contains("cpu,,1700000000000000000,5"), "{}", r.body);
}

#[test]
fn influx_meta_statements_for_clients() {
    let s = seeded();
    let v = s.query("CREATE DATABASE telegraf; SHOW DATABASES; SHOW RETENTION POLICIES ON telegraf; SHOW MEASUREMENTS");
    assert!(v["results"][0].get("error").is_none(), "{v}");
    assert_eq!(v["results"][1]["series"][0]["name"], "databases", "{v}");
    assert_eq!(v["results"][1]["series"][0]["columns"][0], "name", "{v}");
    assert!(
        v["results"][2]["series"][0]["columns"].as_array().is_some(),
        "{v}"
    );
    assert_eq!(rows(&v, 3)[0][0], "cpu", "{v}");
}

#[test]
fn parse_errors_are_400_with_the_parser_message() {
    let s = seeded();
    let r = get(&s.url(&format!("/query?q={}", enc("SELECT usage FROM cpu WHERE"))));
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert!(e.contains("line 1") && e.contains("column"), "{e}");
    let r = get(&s.url("/query"));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("missing required parameter \"q\""));
    let r = get(&s.url(&format!("/query?epoch=weeks&q={}", enc("SHOW DATABASES"))));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("invalid epoch"));
}

#[test]
fn statement_errors_are_per_statement() {
    let s = seeded();
    let v = s.query("SELECT nosuchfunc(usage) FROM cpu; SELECT count(usage) FROM cpu");
    assert!(v["results"][0]["error"].is_string(), "{v}");
    assert_eq!(rows(&v, 1)[0][1], 3, "{v}");
}

#[test]
fn query_over_its_limits_gets_a_clear_error() {
    let config = strata_server::Config {
        max_rows: 2,
        max_series: 1,
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    s.write_ok(
        "cpu,host=a usage=1 1\ncpu,host=a usage=2 2\ncpu,host=a usage=3 3\ncpu,host=b usage=4 4\n",
    );
    let v = s.query("SELECT usage FROM cpu WHERE host = 'a'");
    let e = v["results"][0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(e.contains("max_rows") || e.contains("rows"), "{e}");
    let v = s.query("SELECT last(usage) FROM cpu GROUP BY host");
    let e = v["results"][0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(e.contains("series"), "{e}");
    assert_eq!(get(&s.url("/ping")).status, 204);
}

#[test]
fn deeply_nested_expression_and_huge_regex_are_refused_cleanly() {
    let s = seeded();
    let depth = 5_000;
    let nested = format!(
        "SELECT {}usage{} FROM cpu",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let r = post(
        &s.url("/query"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("q={}", enc(&nested)).as_bytes(),
    );
    assert_eq!(r.status, 400, "{}", &r.body[..r.body.len().min(300)]);
    assert!(
        r.error().contains("nest") || r.error().contains("deep"),
        "{}",
        r.error()
    );
    // A regex whose compiled program is enormous: refused with an error, not a hang.
    let huge = format!(
        "SELECT usage FROM cpu WHERE host =~ /{}/",
        "(a|b|c|d){1000}".repeat(20)
    );
    let r = post(
        &s.url("/query"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("q={}", enc(&huge)).as_bytes(),
    );
    let message = if r.status == 400 {
        r.error()
    } else {
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["results"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        message.contains("regex") || message.contains("regular expression"),
        "{message}"
    );
    assert_eq!(get(&s.url("/ping")).status, 204, "still serving");
}

/// A large raw SELECT is streamed: a chunked body that is the same JSON document the
/// whole rendering gives (`pretty=true` renders whole), within a query memory budget that
/// the whole answer would not fit.
#[test]
fn a_large_raw_select_streams_the_same_json_within_the_budget() {
    let s = Srv::with(
        crate::Config {
            query_max_memory: 4 << 20, // the whole answer needs about 46 MB
            ..test_config()
        },
        Options::default(),
    );
    let mut lp = String::new();
    for i in 0..120_000i64 {
        lp.push_str(&format!(
            "big,host=h{} a={i},b={}i,c=\"x{}\" {}\n",
            i % 3,
            i * 2,
            i % 11,
            1_600_000_000_000_000_000i64 + i * 1_000_000
        ));
    }
    s.write_ok(&lp);
    let q = enc("SELECT * FROM big WHERE a >= 10");
    let r = get(&s.url(&format!("/query?db=test&epoch=ms&q={q}")));
    assert_eq!(
        r.status,
        200,
        "{}",
        r.body.chars().take(500).collect::<String>()
    );
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let streamed = r.json();
    let rows = streamed["results"][0]["series"][0]["values"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), 119_990);
    assert_eq!(rows[0][0], 1_600_000_000_010i64);
    // CSV streams the same way: every row, one header.
    let csv = request(
        "GET",
        &s.url(&format!("/query?db=test&epoch=ms&q={q}")),
        &[("Accept", "application/csv")],
        None,
    );
    assert_eq!(
        csv.status,
        200,
        "{}",
        csv.body.chars().take(300).collect::<String>()
    );
    assert_eq!(csv.header("content-type"), Some("application/csv"));
    assert_eq!(csv.header("transfer-encoding"), Some("chunked"));
    assert_eq!(csv.body.lines().count(), 1 + 119_990);
    assert!(
        csv.body
            .starts_with("name,tags,time,a,b,c,host\nbig,,1600000000010,10,20,x10,h1\n"),
        "{}",
        csv.body.chars().take(200).collect::<String>()
    );
    // The whole path (pretty) cannot hold this answer in a 4 MiB budget: a readable 503.
    let whole = get(&s.url(&format!("/query?db=test&epoch=ms&pretty=true&q={q}")));
    assert_eq!(whole.status, 503, "{}", whole.body);
    // With room, the whole path answers the same document.
    let s2_dir = s.stop();
    let s2 = Srv::in_dir(s2_dir, test_config(), Options::default());
    let whole = get(&s2.url(&format!("/query?db=test&epoch=ms&pretty=true&q={q}")));
    assert_eq!(whole.status, 200);
    assert_eq!(whole.json(), streamed);
}
