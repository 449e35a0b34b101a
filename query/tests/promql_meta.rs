//! `/api/v1/labels` and `/api/v1/label/<name>/values` without `match[]` are answered from
//! the index, probing each tag value for one series with data in the range; the answer
//! must be the one the general path gives (every series found, then each checked), which
//! a `match[]` of `{__name__=~".+"}` (every metric) still takes. `/api/v1/status/metrics`
//! and `/api/v1/status/tsdb` are counted in the index too, and must equal a walk over every
//! selected column's labels. Compared over ranges that cut the data, with string fields,
//! a dropped (hidden) measurement, deleted data, in the hot tier and after compaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::Precision;
use strata_engine::{Db, ManualClock, Options};
use strata_query::plan::selection;
use strata_query::plan::{MatchOp, Matcher};
use strata_query::promql::meta;
use strata_query::{QueryOptions, execute};

const T0: i64 = 1_700_000_000_000; // ms
const MIN: i64 = 60_000;

fn load(db: &Db) {
    let mut lp = String::new();
    for i in 0..60i64 {
        let t = (T0 + i * MIN) * 1_000_000;
        // Early hosts stop at 20 minutes, late ones start at 40.
        for h in 0..6 {
            if (h < 2 && i >= 20) || (h >= 4 && i < 40) {
                continue;
            }
            lp.push_str(&format!(
                "cpu,host=h{h},dc=d{} usage_user={i},usage_idle={}i {t}\n",
                h % 3,
                100 - i
            ));
        }
        // Only a string field: no PromQL metric, its tags are not listed.
        lp.push_str(&format!("notes,author=ann,topic=x text=\"hi\" {t}\n"));
        // A tag key that only one late series carries.
        if i >= 50 {
            lp.push_str(&format!("mem,host=h9,rack=r1 used={i} {t}\n"));
        }
        lp.push_str(&format!("up,job=api,instance=i{} value=1 {t}\n", i % 4));
        lp.push_str(&format!("gone,zone=z{} value=2 {t}\n", i % 2));
    }
    db.write_lp(lp.as_bytes(), Precision::Nanosecond).unwrap();
    let opts = QueryOptions::default();
    let r = execute(db, "DROP MEASUREMENT gone", &opts);
    assert!(r.first_error().is_none(), "{r:?}");
    // Every point of instance i3 deleted: its value is no longer listed.
    let sets = vec![strata_query::promql::parse_selector(r#"up{instance="i3"}"#).unwrap()];
    strata_query::promql::delete::delete_series(db, &sets, T0 - MIN, T0 + 61 * MIN).unwrap();
}

fn every_metric() -> Vec<Vec<Matcher>> {
    vec![vec![
        Matcher::new("__name__", MatchOp::Regex, ".+").unwrap(),
    ]]
}

fn check(db: &Db, tier: &str) {
    let ranges = [
        (i64::MIN / 2, i64::MAX / 2),
        (T0, T0 + 10 * MIN),
        (T0 + 25 * MIN, T0 + 35 * MIN),
        (T0 + 45 * MIN, T0 + 70 * MIN),
        (T0 + 55 * MIN, T0 + 70 * MIN),
        (T0 + 100 * MIN, T0 + 200 * MIN),
    ];
    let names = [
        "__name__", "host", "dc", "rack", "job", "instance", "zone", "author", "none",
    ];
    for (s, e) in ranges {
        let fast = meta::label_names(db, &[], s, e).unwrap();
        let slow = meta::label_names(db, &every_metric(), s, e).unwrap();
        assert_eq!(fast, slow, "{tier}: label names in [{s}, {e}]");
        for n in names {
            let fast = meta::label_values(db, n, &[], s, e).unwrap();
            let slow = meta::label_values(db, n, &every_metric(), s, e).unwrap();
            assert_eq!(fast, slow, "{tier}: values of {n} in [{s}, {e}]");
        }
    }
    // The cardinality figures, against a walk over every selected column's labels.
    let cols = selection::select(db, &every_metric()[0]);
    let mut by_metric: BTreeMap<String, usize> = BTreeMap::new();
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut bytes: HashMap<String, usize> = HashMap::new();
    let mut pairs: HashMap<String, usize> = HashMap::new();
    for c in &cols {
        *by_metric.entry(c.metric.clone()).or_default() += 1;
        let mut labels = c.key.tags().to_vec();
        labels.push(("__name__".to_owned(), c.metric.clone()));
        for (k, v) in labels {
            *bytes.entry(k.clone()).or_default() += v.len();
            *pairs.entry(format!("{k}={v}")).or_default() += 1;
            values.entry(k).or_default().insert(v);
        }
    }
    let want_metrics: Vec<(String, usize)> = by_metric.clone().into_iter().collect();
    assert_eq!(
        meta::metric_series(db),
        want_metrics,
        "{tier}: status/metrics"
    );
    let top10 = |m: HashMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(10);
        v
    };
    let st = meta::tsdb_status(db);
    assert_eq!(st.num_series, cols.len(), "{tier}");
    assert_eq!(
        st.num_label_pairs,
        values.values().map(BTreeSet::len).sum::<usize>(),
        "{tier}"
    );
    assert_eq!(
        st.series_by_metric,
        top10(by_metric.into_iter().collect()),
        "{tier}"
    );
    assert_eq!(
        st.values_by_label,
        top10(values.into_iter().map(|(k, v)| (k, v.len())).collect()),
        "{tier}"
    );
    assert_eq!(st.bytes_by_label, top10(bytes), "{tier}");
    assert_eq!(st.series_by_pair, top10(pairs), "{tier}");
    assert_eq!(
        st.num_series,
        6 * 2 + 1 + 3,
        "{tier}: cpu x2 fields, mem, up i0-i2"
    );

    // What the data says, spelled out once.
    let all = (i64::MIN / 2, i64::MAX / 2);
    assert_eq!(
        meta::label_names(db, &[], all.0, all.1).unwrap(),
        ["__name__", "dc", "host", "instance", "job", "rack"]
    );
    assert_eq!(
        meta::label_values(db, "__name__", &[], all.0, all.1).unwrap(),
        ["cpu_usage_idle", "cpu_usage_user", "mem_used", "up"]
    );
    assert_eq!(
        meta::label_values(db, "instance", &[], all.0, all.1).unwrap(),
        ["i0", "i1", "i2"]
    );
    assert_eq!(
        meta::label_values(db, "host", &[], T0, T0 + 10 * MIN).unwrap(),
        ["h0", "h1", "h2", "h3"]
    );
    assert_eq!(
        meta::label_names(db, &[], T0, T0 + 10 * MIN).unwrap(),
        ["__name__", "dc", "host", "instance", "job"]
    );
}

#[test]
fn listings_without_match_equal_the_general_path() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new((T0 + 2 * 3_600_000) * 1_000_000));
    let options = || Options {
        clock: clock.clone(),
        rotation_interval: Duration::ZERO,
        ..Options::default()
    };
    let db = Db::open(dir.path(), options()).unwrap();
    load(&db);
    check(&db, "hot");
    db.compact(false, true).unwrap();
    check(&db, "warm");
    db.compact(true, true).unwrap();
    check(&db, "cold");
}
