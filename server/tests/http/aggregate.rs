//! `/api/v1/aggregate`.

use crate::{Srv, get};

#[test]
fn aggregates_by_step_and_tag() {
    let s = Srv::start();
    let mut lp = String::new();
    for i in 0..120 {
        let t = 1_700_000_000_000_000_000i64 + i * 1_000_000_000;
        lp.push_str(&format!(
            "req,host=a value={i} {t}\nreq,host=b value={} {t}\n",
            i * 2
        ));
    }
    s.write_ok(&lp);
    let r = get(&s.url(
        "/api/v1/aggregate?metric=req&aggregation=avg&from=1700000000&to=1700000120&step=1m&group_by=host",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(
        v["query"]
            .as_str()
            .unwrap()
            .starts_with("SELECT mean(\"value\")"),
        "{v}"
    );
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 2, "{v}");
    assert_eq!(series[0]["tags"]["host"], "a");
    let points = series[0]["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        3,
        "22:13:20 to 22:15:20 touches three minutes: {v}"
    );
    assert_eq!(points[0]["time"], "2023-11-14T22:13:00Z", "{v}");
    let r = get(&s.url(
        "/api/v1/aggregate?metric=req&aggregation=max&from=1700000000&to=2023-11-14T22:15:20Z",
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["series"][0]["points"][0]["value"],
        238.0,
        "{}",
        r.body
    );
    for (agg, expect) in [
        ("sum", 119.0 * 120.0 / 2.0 * 3.0),
        ("count", 240.0),
        ("min", 0.0),
        ("p50", 79.0),
    ] {
        let r = get(&s.url(&format!(
            "/api/v1/aggregate?metric=req&aggregation={agg}&from=1700000000&to=1700000120"
        )));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.json()["series"][0]["points"][0]["value"],
            expect,
            "{agg}: {}",
            r.body
        );
    }
}

#[test]
fn bad_parameters_are_400() {
    let s = Srv::start();
    let r = get(&s.url("/api/v1/aggregate?metric=req&aggregation=median"));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("unknown aggregation"), "{}", r.body);
    let r = get(&s.url("/api/v1/aggregate?aggregation=sum"));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("metric"));
    let r = get(&s.url("/api/v1/aggregate?metric=req&aggregation=sum&from=tomorrow"));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("from"));
}
