//! Deletes over HTTP: InfluxQL `DELETE` / `DROP SERIES` through `/query`, and Prometheus'
//! admin API (`delete_series`, `clean_tombstones`) behind `--web.enable-admin-api`.

use crate::{Srv, enc, get, post, request, test_config};
use strata_engine::Options;

/// 2020-01-01T00:00:00Z in seconds.
const T: i64 = 1_577_836_800;

fn lp() -> String {
    let mut s = String::new();
    for i in 0..6 {
        let ns = (T + i * 10) * 1_000_000_000;
        for (h, dc) in [("a", "x"), ("ab", "x"), ("b", "y"), ("c", "y")] {
            s.push_str(&format!(
                "cpu,host={h},dc={dc} usage_user={i},usage_system={} {ns}\n",
                i * 2
            ));
        }
        s.push_str(&format!("up,job=node,instance=i1 value=1 {ns}\n"));
    }
    s
}

/// `SELECT count(field) FROM m GROUP BY host` as (host, count) pairs.
fn counts(s: &Srv, field: &str, m: &str) -> Vec<(String, i64)> {
    let j = s.query(&format!("SELECT count({field}) FROM {m} GROUP BY host"));
    let mut out = Vec::new();
    for series in j["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let host = series["tags"]["host"].as_str().unwrap_or("").to_owned();
        out.push((host, series["values"][0][1].as_i64().unwrap()));
    }
    out
}

fn pairs(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(h, n)| ((*h).to_owned(), *n)).collect()
}

fn show_series(s: &Srv) -> Vec<String> {
    let j = s.query("SHOW SERIES");
    j["results"][0]["series"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn influxql_delete_and_drop_series_through_query() {
    let s = Srv::start();
    s.write_ok(&lp());
    // Unanchored regex: /a/ matches "a" and "ab"; != removes "ab" again; a time range.
    let q = "DELETE FROM cpu WHERE host =~ /a/ AND host != 'ab' AND time >= '2020-01-01T00:00:10Z' AND time < '2020-01-01T00:00:30Z'";
    let r = post(
        &s.url("/query?db=test"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("q={}", enc(q)).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("error"), "{}", r.body);
    assert_eq!(
        counts(&s, "usage_user", "cpu"),
        pairs(&[("a", 4), ("ab", 6), ("b", 6), ("c", 6)])
    );
    // DROP SERIES with OR and parentheses; DELETE without FROM over every measurement.
    s.query("DROP SERIES FROM cpu WHERE (dc = 'y' AND host != 'c') OR host = 'ab'");
    s.query("DELETE WHERE job = 'node'");
    assert_eq!(
        show_series(&s),
        ["cpu,dc=x,host=a", "cpu,dc=y,host=c"],
        "dropped series and series without data leave SHOW SERIES"
    );
    let j = s.query("DROP SERIES FROM cpu WHERE time > 0");
    assert_eq!(
        j["results"][0]["error"],
        "DROP SERIES doesn't support time in WHERE clause"
    );
    let j = s.query("DELETE FROM cpu WHERE usage_user > 1");
    assert_eq!(
        j["results"][0]["error"],
        "fields not supported in WHERE clause during deletion"
    );
    // Everything holds across a restart and a purge.
    let dir = s.stop();
    let s = Srv::in_dir(dir, test_config(), Options::default());
    assert_eq!(show_series(&s), ["cpu,dc=x,host=a", "cpu,dc=y,host=c"]);
    assert_eq!(
        counts(&s, "usage_user", "cpu"),
        pairs(&[("a", 4), ("c", 6)])
    );
}

fn admin() -> Srv {
    let mut c = test_config();
    c.enable_admin_api = true;
    Srv::with(c, Options::default())
}

#[test]
fn admin_api_is_off_by_default_as_in_prometheus() {
    let s = Srv::start();
    for path in [
        "/api/v1/admin/tsdb/delete_series?match[]=up",
        "/api/v1/admin/tsdb/clean_tombstones",
        "/api/v1/admin/tsdb/snapshot",
        "/api/v1/admin/snapshot",
    ] {
        let r = post(&s.url(path), &[], b"");
        assert_eq!(r.status, 500, "{}", r.body);
        assert_eq!(
            r.body,
            r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#
        );
    }
}

#[test]
fn delete_series_selects_what_the_same_selector_queries() {
    let s = admin();
    s.write_ok(&lp());
    let delete = |q: &str| {
        post(
            &s.url("/api/v1/admin/tsdb/delete_series"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            q.as_bytes(),
        )
    };
    // Bad input, as Prometheus answers it.
    let r = delete("");
    assert_eq!(r.status, 400);
    assert_eq!(r.error(), "no match[] parameter provided");
    let r = delete(&format!("match[]={}", enc("up{")));
    assert_eq!(r.status, 400);
    assert!(
        r.error().starts_with("invalid parameter \"match[]\""),
        "{}",
        r.body
    );
    let r = delete(&format!("match[]={}", enc(r#"{a=""}"#)));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = delete("match[]=up&start=abc");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("start"), "{}", r.body);
    assert_eq!(
        request(
            "GET",
            &s.url("/api/v1/admin/tsdb/delete_series?match[]=up"),
            &[],
            None
        )
        .status,
        405
    );
    // Anchored regex: host=~"a" is host "a" only, not "ab"; one field (metric
    // cpu_usage_user) of the series, within [start, end] inclusive (seconds).
    let r = delete(&format!(
        "match[]={}&start={}&end={}",
        enc(r#"cpu_usage_user{host=~"a"}"#),
        T + 10,
        T + 30
    ));
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.body.is_empty());
    assert_eq!(
        counts(&s, "usage_user", "cpu"),
        pairs(&[("a", 3), ("ab", 6), ("b", 6), ("c", 6)])
    );
    assert_eq!(
        counts(&s, "usage_system", "cpu"),
        pairs(&[("a", 6), ("ab", 6), ("b", 6), ("c", 6)])
    );
    // Several match[] are OR'ed; `up` (field `value`) goes whole, and leaves the series
    // listing; != and a label regex over two metrics.
    let r = delete(&format!(
        "match[]=up&match[]={}",
        enc(r#"{__name__=~"cpu_usage_.*",dc!="x",host=~"b|c"}"#)
    ));
    assert_eq!(r.status, 204, "{}", r.body);
    let series = get(&s.url(&format!("/api/v1/series?match[]={}", enc("up"))));
    assert_eq!(series.json()["data"], serde_json::json!([]));
    let series = get(&s.url(&format!(
        "/api/v1/series?match[]={}",
        enc(r#"{__name__=~"cpu_.*"}"#)
    )));
    let hosts: std::collections::BTreeSet<String> = series.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["host"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hosts.into_iter().collect::<Vec<_>>(), ["a", "ab"]);
    assert_eq!(counts(&s, "value", "up"), pairs(&[]));
    let r = post(&s.url("/api/v1/admin/tsdb/clean_tombstones"), &[], b"");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        counts(&s, "usage_user", "cpu"),
        pairs(&[("a", 3), ("ab", 6)])
    );
}
