//! The executor against a real database: InfluxDB 1.x answers measured on a small data set
//! (benches/differential/INFLUXDB_SEMANTICS.md), the same answers from every tier, and a
//! model of the data for aggregates, limits, errors and meta statements.

use std::sync::Arc;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::{Epoch, QueryOptions, QueryResponse, execute};

/// 2020-01-02T00:00:00Z: after every point of the data sets below.
const NOW: i64 = 1_577_923_200_000_000_000;

fn options() -> Options {
    Options {
        clock: Arc::new(ManualClock::new(NOW)),
        rotation_interval: std::time::Duration::ZERO,
        ..Options::default()
    }
}

/// The data of INFLUXDB_SEMANTICS.md: `cpu` on 2020-01-01, T+N seconds.
const SEMANTICS: &str = "\
cpu,host=a,region=east usage=1.5,n=1i,s=\"x\",ok=true 1577836800000000000
cpu,host=b,region=west usage=5,n=3i 1577836805000000000
cpu,host=a,region=east usage=2.5,n=4i,s=\"y\",ok=false 1577836810000000000
cpu,host=a,region=east usage=4,n=9i,s=\"z\",ok=true 1577836820000000000
cpu,host=b,region=west usage=6,n=6i 1577836835000000000
cpu,host=a,region=east usage=3,n=2i,s=\"x\",ok=true 1577836865000000000
cpu,host=b,region=west usage=2,n=-5i 1577836910000000000
cpu,host=a,region=east usage=10,n=7i,s=\"w\",ok=false 1577836950000000000
cpu,host=c,region=west usage=7,n=8i 1577836980000000000
mem,host=a used=100i,free=50i 1577836800000000000
mem,host=b used=200i,free=20i 1577836860000000000
tie,host=x v=5,i=1i 1577836800000000000
tie,host=x v=3,i=1i 1577836810000000000
tie,host=x v=5,i=2i 1577836820000000000
tie,host=x v=3,i=2i 1577836830000000000
tie,host=x v=1,i=3i 1577836840000000000
tie,host=y v=4,i=7i 1577836800000000000
";

const R: &str = "time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:04:00Z'";

fn open_with(lp: &str) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let s = db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    (dir, db)
}

fn run(db: &Db, q: &str) -> QueryResponse {
    let opts = QueryOptions {
        now: Some(NOW),
        ..QueryOptions::default()
    };
    execute(db, q, &opts)
}

/// The JSON body with `epoch=s`, as the semantics file shows most answers.
fn json_s(db: &Db, q: &str) -> String {
    run(db, q).to_json(Epoch::Seconds)
}

/// The `values` of the only series of the only statement, as JSON text.
fn values(db: &Db, q: &str) -> String {
    let j: serde_json::Value = serde_json::from_str(&json_s(db, q)).unwrap();
    j["results"][0]["series"][0]["values"].to_string()
}

fn columns(db: &Db, q: &str) -> String {
    let j: serde_json::Value = serde_json::from_str(&json_s(db, q)).unwrap();
    j["results"][0]["series"][0]["columns"].to_string()
}

#[test]
fn column_names_follow_influxdb() {
    let (_d, db) = open_with(SEMANTICS);
    assert_eq!(
        columns(&db, "SELECT max(usage), max(usage), max(n) FROM cpu"),
        r#"["time","max","max_1","max_2"]"#
    );
    assert_eq!(
        columns(
            &db,
            "SELECT max(usage) AS m, max(usage), min(usage) AS m FROM cpu"
        ),
        r#"["time","m","max","m"]"#
    );
    assert_eq!(
        columns(
            &db,
            "SELECT max(usage) / min(usage), max(usage) * 2 FROM cpu"
        ),
        r#"["time","max_min","max"]"#
    );
    assert_eq!(
        columns(&db, &format!("SELECT max(*) FROM cpu WHERE {R}")),
        r#"["time","max_n","max_ok","max_usage"]"#
    );
    assert_eq!(
        columns(&db, &format!("SELECT count(*) FROM cpu WHERE {R}")),
        r#"["time","count_n","count_ok","count_s","count_usage"]"#
    );
    assert_eq!(
        columns(&db, "SELECT * FROM cpu"),
        r#"["time","host","n","ok","region","s","usage"]"#
    );
    assert_eq!(
        columns(&db, "SELECT * FROM cpu GROUP BY host"),
        r#"["time","n","ok","region","s","usage"]"#
    );
}

#[test]
fn time_column_of_aggregates() {
    let (_d, db) = open_with(SEMANTICS);
    // A lone selector shows its point's time, math around it too.
    assert_eq!(
        values(&db, "SELECT max(usage) FROM cpu"),
        "[[1577836950,10]]"
    );
    assert_eq!(
        values(&db, "SELECT max(usage) * 2 FROM cpu"),
        "[[1577836950,20]]"
    );
    // Other aggregates show the lower bound, or 0 without one.
    assert_eq!(
        values(&db, "SELECT max(usage), min(usage) FROM cpu"),
        "[[0,10,1.5]]"
    );
    assert_eq!(
        values(
            &db,
            "SELECT mean(usage) FROM cpu WHERE time >= '2020-01-01T00:00:03Z' AND time < '2020-01-02T00:00:00Z'"
        ),
        "[[1577836803,4.9375]]"
    );
    // Ties pick the earliest point.
    assert_eq!(
        values(&db, "SELECT max(v) FROM tie WHERE host = 'x'"),
        "[[1577836800,5]]"
    );
}

#[test]
fn group_by_time_buckets_fill_and_limits() {
    let (_d, db) = open_with(SEMANTICS);
    let w = "time >= '2020-01-01T00:00:03Z' AND time < '2020-01-01T00:03:30Z'";
    // The partial first bucket is reported at its aligned start.
    assert_eq!(
        values(
            &db,
            &format!("SELECT max(usage) FROM cpu WHERE {w} GROUP BY time(1m)")
        ),
        "[[1577836800,6],[1577836860,3],[1577836920,10],[1577836980,7]]"
    );
    assert_eq!(
        values(
            &db,
            &format!("SELECT count(usage) FROM cpu WHERE {w} GROUP BY time(1m, 20s)")
        ),
        "[[1577836760,2],[1577836820,3],[1577836880,1],[1577836940,2],[1577837000,0]]"
    );
    // Without a lower bound each group starts at its own first point.
    let j = json_s(
        &db,
        "SELECT count(usage) FROM cpu WHERE time < '2020-01-01T00:03:30Z' GROUP BY time(1m), host",
    );
    assert!(
        j.contains(r#""tags":{"host":"c"},"columns":["time","count"],"values":[[1577836980,1]]"#),
        "{j}"
    );
    assert!(
        j.contains(r#"[[1577836800,2],[1577836860,1],[1577836920,0],[1577836980,0]]"#),
        "{j}"
    );
    // fill modes, per group.
    let r5 = "time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:05:00Z'";
    let j = json_s(
        &db,
        &format!("SELECT mean(usage) FROM cpu WHERE {r5} GROUP BY time(1m), host fill(previous)"),
    );
    assert!(
        j.contains(
            "[[1577836800,null],[1577836860,null],[1577836920,null],[1577836980,7],[1577837040,7]]"
        ),
        "{j}"
    );
    let j = json_s(
        &db,
        &format!("SELECT mean(usage) FROM cpu WHERE {r5} GROUP BY time(1m), host fill(linear)"),
    );
    assert!(j.contains("[[1577836800,5.5],[1577836860,2],[1577836920,null],[1577836980,null],[1577837040,null]]"), "{j}");
    assert_eq!(
        values(
            &db,
            &format!("SELECT max(n) FROM cpu WHERE {R} AND host = 'b' GROUP BY time(1m) fill(2.5)")
        ),
        "[[1577836800,6],[1577836860,-5],[1577836920,2],[1577836980,2]]"
    );
    assert_eq!(
        values(
            &db,
            &format!(
                "SELECT max(usage) FROM cpu WHERE {R} GROUP BY time(1m) fill(none) LIMIT 2 OFFSET 3"
            )
        ),
        "[[1577836980,7]]"
    );
    // ORDER BY time DESC reverses rows and series; SLIMIT picks before the reversal.
    let j = json_s(
        &db,
        &format!("SELECT usage FROM cpu WHERE {R} GROUP BY host ORDER BY time DESC SLIMIT 2"),
    );
    let b = j.find(r#""host":"b""#).unwrap();
    let a = j.find(r#""host":"a""#).unwrap();
    assert!(b < a && !j.contains(r#""host":"c""#), "{j}");
}

#[test]
fn functions_match_influxdb() {
    let (_d, db) = open_with(SEMANTICS);
    assert_eq!(
        values(&db, "SELECT percentile(usage, 50) FROM cpu"),
        "[[1577836820,4]]"
    );
    // Out of range, InfluxDB 1.6's percentile emits no point: no series (checked against
    // influxd 1.6.7); beside another aggregate it is a null in the row.
    assert_eq!(values(&db, "SELECT percentile(usage, 0) FROM cpu"), "null");
    assert_eq!(
        values(&db, "SELECT percentile(usage, 200) FROM cpu"),
        "null"
    );
    assert_eq!(
        values(&db, "SELECT percentile(usage, 200) FROM cpu GROUP BY host"),
        "null"
    );
    assert_eq!(
        values(&db, "SELECT percentile(usage, 200), max(n) FROM cpu"),
        "[[0,null,9]]"
    );
    assert_eq!(
        values(&db, "SELECT median(n), spread(n), sum(n), mean(n) FROM cpu"),
        "[[0,4,14,35,3.888888888888889]]"
    );
    assert_eq!(
        values(&db, "SELECT stddev(usage) FROM cpu"),
        "[[0,2.7550458758027565]]"
    );
    assert_eq!(
        values(&db, "SELECT mode(v), mode(i) FROM tie WHERE host = 'x'"),
        "[[0,5,1]]"
    );
    assert_eq!(values(&db, "SELECT mode(n) FROM cpu"), "[[0,-5]]");
    assert_eq!(
        values(&db, &format!("SELECT top(usage, 2) FROM cpu WHERE {R}")),
        "[[1577836950,10],[1577836980,7]]"
    );
    assert_eq!(
        values(&db, "SELECT top(v, 3) FROM tie"),
        "[[1577836800,5],[1577836800,4],[1577836820,5]]"
    );
    assert_eq!(
        values(&db, &format!("SELECT bottom(usage, 3) FROM cpu WHERE {R}")),
        "[[1577836800,1.5],[1577836810,2.5],[1577836910,2]]"
    );
    assert_eq!(
        values(
            &db,
            "SELECT derivative(usage), derivative(usage, 1m), non_negative_derivative(usage), difference(usage), non_negative_difference(usage) FROM cpu WHERE host = 'a'"
        ),
        "[[1577836810,0.1,6,0.1,1,1],[1577836820,0.15,9,0.15,1.5,1.5],[1577836865,-0.022222222222222223,-1.3333333333333333,null,-1,null],[1577836950,0.08235294117647059,4.941176470588235,0.08235294117647059,7,7]]"
    );
    assert_eq!(
        values(
            &db,
            "SELECT moving_average(n, 3), cumulative_sum(n) FROM cpu WHERE host = 'a'"
        ),
        "[[1577836800,null,1],[1577836810,null,5],[1577836820,4.666666666666667,14],[1577836865,5,16],[1577836950,6,23]]"
    );
    assert_eq!(
        values(&db, "SELECT elapsed(usage, 1s) FROM cpu WHERE host = 'a'"),
        "[[1577836810,10],[1577836820,10],[1577836865,45],[1577836950,85]]"
    );
    let w = "time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:04:00Z' AND host = 'a'";
    assert_eq!(
        values(
            &db,
            &format!("SELECT derivative(mean(usage)) FROM cpu WHERE {w} GROUP BY time(1m)")
        ),
        "[[1577836860,0.3333333333333335],[1577836920,7]]"
    );
    assert_eq!(
        values(
            &db,
            &format!("SELECT derivative(mean(usage), 1s) FROM cpu WHERE {w} GROUP BY time(1m)")
        ),
        "[[1577836860,0.005555555555555558],[1577836920,0.11666666666666667]]"
    );
    assert_eq!(
        values(&db, &format!("SELECT integral(usage) FROM cpu WHERE {w}")),
        "[[1577836800,762.5]]"
    );
    assert_eq!(
        values(
            &db,
            &format!("SELECT sqrt(n), ln(usage), abs(n), n / 2 FROM cpu WHERE {R} AND host = 'b'")
        ),
        "[[1577836805,1.7320508075688772,1.6094379124341003,3,1.5],[1577836835,2.449489742783178,1.791759469228055,6,3],[1577836910,null,0.6931471805599453,5,-2.5]]"
    );
}

#[test]
fn descending_transformations_and_remainders() {
    let (_d, db) = open_with(SEMANTICS);
    // Transformations run over the rows in the order shown.
    assert_eq!(
        values(
            &db,
            "SELECT cumulative_sum(n) FROM cpu WHERE host = 'a' ORDER BY time DESC"
        ),
        "[[1577836950,7],[1577836865,9],[1577836820,18],[1577836810,22],[1577836800,23]]"
    );
    assert_eq!(
        values(
            &db,
            "SELECT derivative(usage) FROM cpu WHERE host = 'a' ORDER BY time DESC LIMIT 1"
        ),
        "[[1577836865,-0.08235294117647059]]"
    );
    assert_eq!(
        values(
            &db,
            "SELECT n % 4, usage % 4, n % 0 FROM cpu WHERE host = 'b'"
        ),
        "[[1577836805,3,1,0],[1577836835,2,2,0],[1577836910,-1,2,0]]"
    );
    // A repeated selector still shows its point's time.
    assert_eq!(
        values(&db, "SELECT max(usage), max(usage) * 2 FROM cpu"),
        "[[1577836950,10,20]]"
    );
}

#[test]
fn selectors_with_tag_and_field_columns() {
    let (_d, db) = open_with(SEMANTICS);
    assert_eq!(
        columns(
            &db,
            &format!("SELECT top(usage, host, 2), region FROM cpu WHERE {R}")
        ),
        r#"["time","top","host","region"]"#
    );
    assert_eq!(
        values(
            &db,
            &format!("SELECT top(usage, host, 2) FROM cpu WHERE {R}")
        ),
        r#"[[1577836950,10,"a"],[1577836980,7,"c"]]"#
    );
    assert_eq!(
        values(&db, "SELECT max(usage), usage, host FROM cpu"),
        r#"[[1577836950,10,10,"a"]]"#
    );
    assert_eq!(
        values(&db, "SELECT min(n), usage, region FROM cpu"),
        r#"[[1577836910,-5,2,"west"]]"#
    );
    assert_eq!(
        values(
            &db,
            &format!("SELECT bottom(usage, 2), host FROM cpu WHERE {R}")
        ),
        r#"[[1577836800,1.5,"a"],[1577836910,2,"b"]]"#
    );
    // With GROUP BY time the row is at its bucket, the columns from the point.
    assert_eq!(
        values(
            &db,
            &format!("SELECT max(usage), host FROM cpu WHERE {R} GROUP BY time(2m)")
        ),
        r#"[[1577836800,6,"b"],[1577836920,10,"a"]]"#
    );
    let r = run(&db, "SELECT max(usage), mean(usage), host FROM cpu");
    assert_eq!(
        r.first_error(),
        Some("mixing aggregate and non-aggregate queries is not supported")
    );
}

#[test]
fn field_conditions_and_raw_rows() {
    let (_d, db) = open_with(SEMANTICS);
    assert_eq!(
        values(
            &db,
            "SELECT usage, host FROM cpu WHERE usage > 5 OR host = 'b'"
        ),
        r#"[[1577836805,5,"b"],[1577836835,6,"b"],[1577836910,2,"b"],[1577836950,10,"a"],[1577836980,7,"c"]]"#
    );
    assert_eq!(
        values(
            &db,
            "SELECT count(usage) FROM cpu WHERE n > 1.5 AND region = 'east'"
        ),
        "[[0,4]]"
    );
    assert_eq!(
        values(&db, "SELECT s FROM cpu WHERE s = 'x'"),
        r#"[[1577836800,"x"],[1577836865,"x"]]"#
    );
    // Rows of equal time from several series follow the series keys.
    assert_eq!(
        values(&db, "SELECT v FROM tie WHERE time = '2020-01-01T00:00:00Z'"),
        "[[1577836800,5],[1577836800,4]]"
    );
}

#[test]
fn meta_statements() {
    let (_d, db) = open_with(SEMANTICS);
    let j = json_s(
        &db,
        "SHOW MEASUREMENTS; SHOW TAG KEYS FROM cpu; SHOW TAG VALUES FROM cpu WITH KEY IN (host, region); SHOW FIELD KEYS FROM cpu; SHOW SERIES FROM cpu WHERE host = 'a'; SHOW RETENTION POLICIES; SHOW DATABASES; CREATE DATABASE x",
    );
    for want in [
        r#"{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["mem"],["tie"]]}]}"#,
        r#"{"statement_id":1,"series":[{"name":"cpu","columns":["tagKey"],"values":[["host"],["region"]]}]}"#,
        r#"[["host","a"],["host","b"],["host","c"],["region","east"],["region","west"]]"#,
        r#"[["n","integer"],["ok","boolean"],["s","string"],["usage","float"]]"#,
        r#"{"statement_id":4,"series":[{"columns":["key"],"values":[["cpu,host=a,region=east"]]}]}"#,
        r#"{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","168h0m0s",1,true]]}"#,
        r#"{"name":"databases","columns":["name"],"values":[["strata"]]}"#,
        r#"{"statement_id":7}"#,
    ] {
        assert!(j.contains(want), "missing {want} in {j}");
    }
    // SHOW DATABASES names the database the request asked for too.
    let opts = QueryOptions {
        now: Some(NOW),
        database: Some("telegraf".into()),
        ..QueryOptions::default()
    };
    assert!(
        execute(&db, "SHOW DATABASES", &opts)
            .to_json(Epoch::Rfc3339)
            .contains(r#""values":[["strata"],["telegraf"]]"#)
    );
    // DELETE and DROP through the language.
    assert!(
        run(
            &db,
            "DELETE FROM cpu WHERE host = 'a' AND time < '2020-01-01T00:00:30Z'"
        )
        .first_error()
        .is_none()
    );
    assert_eq!(
        values(&db, "SELECT count(usage) FROM cpu WHERE host = 'a'"),
        "[[0,2]]"
    );
    assert!(run(&db, "DROP MEASUREMENT mem").first_error().is_none());
    assert_eq!(
        json_s(&db, "SELECT * FROM mem"),
        r#"{"results":[{"statement_id":0}]}"#
    );
    let e = run(&db, "DELETE FROM cpu WHERE usage > 3");
    assert_eq!(
        e.first_error().unwrap(),
        "fields not supported in WHERE clause during deletion"
    );
    let e = run(&db, "DROP SERIES FROM cpu WHERE time > 0");
    assert!(
        e.first_error().unwrap().contains("doesn't support time"),
        "{e:?}"
    );
    let e = run(&db, "DELETE FROM cpu WHERE host =~ /(/");
    assert!(e.first_error().unwrap().contains("invalid regex"), "{e:?}");
    // As InfluxDB 1.6: a tag compared with a number or a boolean is taken for a field; a
    // bare term is no condition, and that is checked over the whole condition first.
    for (q, want) in [
        (
            "DELETE FROM cpu WHERE host = 1",
            "fields not supported in WHERE clause during deletion",
        ),
        (
            "DELETE FROM cpu WHERE host != true",
            "fields not supported in WHERE clause during deletion",
        ),
        (
            "DELETE FROM cpu WHERE host",
            "invalid condition expression: host",
        ),
        (
            "DELETE FROM cpu WHERE usage > 1 AND (host = 'a' OR region)",
            "invalid condition expression: region",
        ),
        (
            "DROP SERIES FROM cpu WHERE host = 'a' AND 1",
            "invalid condition expression: 1",
        ),
    ] {
        assert_eq!(run(&db, q).first_error().unwrap(), want, "{q}");
    }
    // A time bound inside an OR is refused: nothing is deleted.
    let before = values(&db, "SELECT count(usage) FROM cpu");
    let e = run(
        &db,
        "DELETE FROM cpu WHERE host = 'b' OR time < '2020-01-01T00:00:30Z'",
    );
    assert!(
        e.first_error().unwrap().contains("invalid time condition"),
        "{e:?}"
    );
    assert_eq!(values(&db, "SELECT count(usage) FROM cpu"), before);
}

#[test]
fn deletes_with_regex_not_equal_or_and_drop_series() {
    let (_d, db) = open_with(SEMANTICS);
    let series = |db: &Db| values(db, "SHOW SERIES");
    // Unanchored regex (matches "x" and "y" of tie), OR, parentheses, and a time range.
    let r = run(
        &db,
        "DELETE FROM /ti/ WHERE ((host =~ /x|y/ AND host != 'y') OR host = 'nobody') AND time >= '2020-01-01T00:00:10Z' AND time < '2020-01-01T00:00:40Z'",
    );
    assert!(r.first_error().is_none(), "{r:?}");
    assert_eq!(
        values(&db, "SELECT v FROM tie"),
        "[[1577836800,5],[1577836800,4],[1577836840,1]]"
    );
    // DELETE without FROM: every measurement; !~ keeps hosts a.
    let r = run(
        &db,
        "DELETE WHERE host !~ /a/ AND time < '2020-01-01T00:00:30Z'",
    );
    assert!(r.first_error().is_none(), "{r:?}");
    assert_eq!(
        values(&db, "SELECT used FROM mem"),
        "[[1577836800,100],[1577836860,200]]"
    );
    assert_eq!(values(&db, "SELECT count(v) FROM tie"), "[[0,1]]");
    assert_eq!(
        values(&db, "SELECT n FROM cpu WHERE host = 'b'"),
        "[[1577836835,6],[1577836910,-5]]"
    );
    // tie,host=y had no value left: gone from SHOW SERIES.
    assert!(!series(&db).contains("tie,host=y"), "{}", series(&db));
    assert!(series(&db).contains("tie,host=x"));
    // DROP SERIES with OR of a regex and an equality, over two measurements.
    let r = run(
        &db,
        "DROP SERIES FROM cpu, mem WHERE host =~ /^b$/ OR host = 'c'",
    );
    assert!(r.first_error().is_none(), "{r:?}");
    assert_eq!(
        series(&db),
        r#"[["cpu,host=a,region=east"],["mem,host=a"],["tie,host=x"]]"#
    );
    assert_eq!(
        values(&db, "SHOW TAG VALUES FROM cpu WITH KEY = host"),
        r#"[["host","a"]]"#
    );
    assert_eq!(values(&db, "SELECT count(usage) FROM cpu"), "[[0,5]]");
    assert_eq!(values(&db, "SELECT count(used) FROM mem"), "[[0,1]]");
}

#[test]
fn errors_and_limits() {
    let (_d, db) = open_with(SEMANTICS);
    let r = run(&db, "SELEC x");
    assert!(
        r.error.as_deref().unwrap().contains("line 1, column 1"),
        "{r:?}"
    );
    // A failing statement does not stop the next.
    let r = run(
        &db,
        "SELECT mean(usage), usage FROM cpu; SELECT count(usage) FROM cpu",
    );
    assert_eq!(
        r.results[0].error.as_deref(),
        Some("mixing aggregate and non-aggregate queries is not supported")
    );
    assert!(r.results[1].error.is_none() && !r.results[1].series.is_empty());
    for (q, want) in [
        (
            "SELECT usage FROM cpu GROUP BY time(1m)",
            "GROUP BY requires at least one aggregate function",
        ),
        (
            "SELECT top(usage) FROM cpu",
            "invalid number of arguments for top, expected at least 2, got 1",
        ),
        (
            "SELECT top(usage, 2), max(usage) FROM cpu",
            "selector function top() cannot be combined with other functions",
        ),
        (
            "SELECT derivative(usage) FROM cpu WHERE time > 0 GROUP BY time(1m)",
            "GROUP BY requires at least one aggregate function",
        ),
        ("SELECT max(s) FROM cpu", "does not apply to string field s"),
        ("SELECT usage FROM cpu WHERE usage =~ /(/", "invalid regex"),
        (
            "SELECT usage FROM cpu WHERE time > 0 OR host = 'a'",
            "invalid time condition",
        ),
        (
            "SELECT nosuch(usage) FROM cpu",
            "undefined function nosuch()",
        ),
    ] {
        let r = run(&db, q);
        let e = r.first_error().unwrap_or_else(|| panic!("{q} should fail"));
        assert!(e.contains(want), "{q}: {e}");
    }
    let tight = QueryOptions {
        now: Some(NOW),
        limits: strata_query::Limits {
            max_rows: 3,
            max_series: 2,
            timeout: None,
        },
        ..QueryOptions::default()
    };
    let r = execute(&db, "SELECT usage FROM cpu", &tight);
    assert!(
        r.first_error().unwrap().contains("max-select-point"),
        "{r:?}"
    );
    let r = execute(&db, "SELECT count(usage) FROM cpu GROUP BY host", &tight);
    assert!(
        r.first_error().unwrap().contains("max-select-series"),
        "{r:?}"
    );
    let r = execute(
        &db,
        &format!("SELECT count(usage) FROM cpu WHERE {R} GROUP BY time(1s)"),
        &tight,
    );
    assert!(r.first_error().unwrap().contains("buckets"), "{r:?}");
    // A LIMIT within the limit is fine.
    assert!(
        execute(&db, "SELECT usage FROM cpu LIMIT 3", &tight)
            .first_error()
            .is_none()
    );
}

/// Deterministic pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Points over two days for 6 hosts: an integer and a float field (multiples of 0.25, so
/// every sum is exact whatever the order), irregular times, some written twice.
fn random_lp(seed: u64) -> (String, String) {
    let mut rng = Rng(seed);
    let (mut first, mut second) = (String::new(), String::new());
    let t0 = 1_577_836_800_000_000_000i64;
    for h in 0..6 {
        let mut t = t0 + rng.below(60) as i64 * 1_000_000_000;
        while t < t0 + 2 * 86_400_000_000_000 {
            let line = format!(
                "m,host=h{h},dc=d{} i={}i,f={} {t}\n",
                h % 2,
                rng.below(1000) as i64 - 300,
                (rng.below(4000) as f64 - 1000.0) / 4.0
            );
            first.push_str(&line);
            // Rewrites of some points with new values, applied later.
            if rng.below(50) == 0 {
                second.push_str(&format!(
                    "m,host=h{h},dc=d{} i={}i,f={} {t}\n",
                    h % 2,
                    rng.below(1000),
                    rng.below(100) as f64 / 4.0
                ));
            }
            t += (1 + rng.below(40)) as i64 * 1_000_000_000;
        }
    }
    (first, second)
}

const TIER_QUERIES: &[&str] = &[
    "SELECT count(i), sum(i), min(i), max(i), mean(i), spread(i) FROM m GROUP BY time(1h)",
    "SELECT count(f), sum(f), min(f), max(f), mean(f) FROM m WHERE time >= '2020-01-01T03:17:00Z' AND time < '2020-01-02T05:00:00Z' GROUP BY time(7m), host",
    "SELECT max(f), first(f), last(i), median(i), percentile(f, 90), stddev(i) FROM m WHERE dc = 'd1' AND time >= '2020-01-01T00:00:00Z' AND time < '2020-01-03T00:00:00Z' GROUP BY time(1d)",
    "SELECT sum(i) FROM m GROUP BY host",
    "SELECT max(i) FROM m WHERE host = 'h3'",
    "SELECT count(f) FROM m WHERE f > 100 AND time >= '2020-01-01T00:00:00Z' AND time < '2020-01-03T00:00:00Z' GROUP BY time(6h), dc",
    "SELECT * FROM m WHERE host =~ /h[12]/ ORDER BY time DESC LIMIT 5",
    "SELECT i, f FROM m WHERE host = 'h0' LIMIT 7 OFFSET 100",
    "SELECT derivative(mean(f), 1m) FROM m WHERE time >= '2020-01-01T10:00:00Z' AND time < '2020-01-01T12:00:00Z' GROUP BY time(10m) fill(none)",
    "SELECT max(i) FROM m WHERE time < '2020-01-01T10:00:00Z' GROUP BY time(1m) LIMIT 5",
];

fn answers(db: &Db) -> Vec<String> {
    TIER_QUERIES
        .iter()
        .map(|q| {
            let r = run(db, q);
            assert!(r.first_error().is_none(), "{q}: {r:?}");
            assert!(!r.results[0].series.is_empty(), "{q} returns data");
            r.to_json(Epoch::Nanoseconds)
        })
        .collect()
}

#[test]
fn every_tier_gives_the_same_answers() {
    let (first, second) = random_lp(0x9e37_79b9_7f4a_7c15);
    // Reference: everything in the hot tier.
    let (_d, reference) = open_with(&first);
    reference
        .write_lp(second.as_bytes(), Precision::Nanosecond)
        .unwrap();
    let want = answers(&reference);
    // Warm segments, with the rewrites still in the hot tier overlapping them.
    let (_d2, db) = open_with(&first);
    db.compact(false, true).unwrap();
    db.write_lp(second.as_bytes(), Precision::Nanosecond)
        .unwrap();
    assert!(db.tier_stats().warm.files > 0 && db.tier_stats().hot.points > 0);
    assert_eq!(answers(&db), want, "warm + hot");
    // Cold day files (block statistics cover whole days).
    db.compact(true, true).unwrap();
    assert!(db.tier_stats().cold.files > 0);
    assert_eq!(answers(&db), want, "cold");
    assert_eq!(answers(&db), want, "cold, blocks from the cache");
    // And after reopening.
    let dir = _d2.path().to_owned();
    db.close().unwrap();
    let db = Db::open(&dir, options()).unwrap();
    assert_eq!(answers(&db), want, "cold after reopen");
}

#[test]
fn aggregates_match_a_model() {
    let (first, _) = random_lp(42);
    let (_d, db) = open_with(&first);
    db.compact(false, true).unwrap();
    // Per host and hour: count and sum of `i` from the text itself.
    let mut model: std::collections::BTreeMap<(String, i64), (i64, i64)> = Default::default();
    for line in first.lines() {
        let host = line
            .split(',')
            .nth(1)
            .unwrap()
            .trim_start_matches("host=")
            .to_owned();
        let mut parts = line.split(' ');
        let fields = parts.nth(1).unwrap();
        let t: i64 = parts.next().unwrap().parse().unwrap();
        let i: i64 = fields.split(',').next().unwrap()[2..]
            .trim_end_matches('i')
            .parse()
            .unwrap();
        let e = model
            .entry((host, t.div_euclid(3_600_000_000_000) * 3_600))
            .or_default();
        e.0 += 1;
        e.1 += i;
    }
    let j: serde_json::Value = serde_json::from_str(
        &run(&db, "SELECT count(i), sum(i) FROM m WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-03T00:00:00Z' GROUP BY time(1h), host fill(none)")
            .to_json(Epoch::Seconds),
    )
    .unwrap();
    let mut got: std::collections::BTreeMap<(String, i64), (i64, i64)> = Default::default();
    for s in j["results"][0]["series"].as_array().unwrap() {
        let host = s["tags"]["host"].as_str().unwrap().to_owned();
        for row in s["values"].as_array().unwrap() {
            got.insert(
                (host.clone(), row[0].as_i64().unwrap()),
                (row[1].as_i64().unwrap(), row[2].as_i64().unwrap()),
            );
        }
    }
    assert_eq!(got, model);
}

#[test]
fn prometheus_extensions() {
    // Two scrapes of a histogram per job, a minute apart, and a counter with a reset.
    let mut lp = String::new();
    let t0 = 1_577_836_800_000_000_000i64;
    for (job, scale) in [("a", 1.0), ("b", 3.0)] {
        for (le, first, second) in [
            ("0.1", 1.0, 11.0),
            ("0.5", 2.0, 62.0),
            ("1", 3.0, 93.0),
            ("+Inf", 4.0, 104.0),
        ] {
            lp.push_str(&format!(
                "req_bucket,job={job},le={le} value={} {t0}\n",
                first * scale
            ));
            lp.push_str(&format!(
                "req_bucket,job={job},le={le} value={} {}\n",
                second * scale,
                t0 + 60_000_000_000
            ));
        }
    }
    for (i, v) in [10.0, 15.0, 3.0, 8.0].iter().enumerate() {
        lp.push_str(&format!(
            "reqs,job=a value={v} {}\n",
            t0 + i as i64 * 10_000_000_000
        ));
    }
    let (_d, db) = open_with(&lp);
    let w = "time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:02:00Z'";
    // Increases per le: 10, 60, 90, 100 (a), three times that (b). Median rank 50 of 100
    // lies in (0.1, 0.5]: 0.1 + 0.4 * 40/50.
    assert_eq!(
        values(
            &db,
            &format!(
                "SELECT histogram_quantile(0.5, value) FROM req_bucket WHERE {w} AND job = 'a'"
            )
        ),
        "[[1577836800,0.42000000000000004]]"
    );
    let j = json_s(
        &db,
        &format!("SELECT histogram_quantile(0.95, value) FROM req_bucket WHERE {w} GROUP BY job"),
    );
    assert!(j.contains(r#""tags":{"job":"b"},"columns":["time","histogram_quantile"],"values":[[1577836800,1]]"#), "{j}");
    // Summed over both jobs the shape is the same, so the quantile too.
    assert_eq!(
        values(
            &db,
            &format!("SELECT histogram_quantile(0.5, value) FROM req_bucket WHERE {w}")
        ),
        "[[1577836800,0.42000000000000004]]"
    );
    // Counter: 5 up, a reset to 3 (counts 3), 5 up.
    assert_eq!(
        values(&db, &format!("SELECT increase(value) FROM reqs WHERE {w}")),
        "[[1577836800,13]]"
    );
    assert_eq!(
        values(
            &db,
            "SELECT rate(value) FROM reqs WHERE time >= '2020-01-01T00:00:00Z' AND time < '2020-01-01T00:01:00Z' GROUP BY time(30s)"
        ),
        // [0, 30s): 10 → 15 → 3 (a reset) = 8; [30s, 60s): the rise from 3 to 8 across the
        // boundary belongs to the bucket of 8, so the buckets add up to the whole increase.
        "[[1577836800,0.26666666666666666],[1577836830,0.16666666666666666]]"
    );
    assert_eq!(
        values(&db, "SELECT p50(value), p99(value) FROM reqs"),
        "[[0,8,15]]"
    );
}
