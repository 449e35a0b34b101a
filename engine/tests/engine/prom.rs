//! The Prometheus-shaped write paths: a known series through the raw-spelling caches (line
//! protocol, text format, samples), bit-exact stale markers, and the series limits.

use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::model::{Precision, SeriesKey, TimeRange};
use strata_engine::{Db, ManualClock, Options, RawKind, RejectReason};

const STALE: u64 = 0x7ff0_0000_0000_0002;

fn up(job: &str) -> SeriesKey {
    SeriesKey::new("up", [("job", job), ("instance", "h:9100")]).unwrap()
}

/// A known series takes the shortcut (only fields and timestamp parsed); what it stores,
/// and what it refuses, must be what the full path stores and refuses.
#[test]
fn known_line_protocol_series_store_and_refuse_as_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let first = b"up,job=a,instance=h:9100 value=1 10\n";
    db.write_lp(first, Precision::Nanosecond).unwrap();
    let s = db
        .write_lp(
            b"up,job=a,instance=h:9100 value=2 20\n\
              up,job=a,instance=h:9100 value=3i 30\n\
              up,job=a,instance=h:9100 time=3 40\n\
              up,job=a,instance=h:9100 value=4 -9223372036854775808\n\
              up,job=a,instance=h:9100 value= 50\n\
              up,instance=h:9100,job=a value=5 60\n",
            Precision::Nanosecond,
        )
        .unwrap();
    assert_eq!((s.lines, s.points), (2, 2), "{:?}", s.rejected);
    let lines: Vec<usize> = s.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    assert!(matches!(s.rejected[0].reason, RejectReason::FieldType(_)));
    assert!(
        s.rejected[1]
            .to_string()
            .contains("field \"time\" on measurement \"up\""),
        "{}",
        s.rejected[1]
    );
    assert!(matches!(
        s.rejected[2].reason,
        RejectReason::TimestampOutOfRange { .. }
    ));
    assert!(
        s.rejected[3].to_string().contains("line 5, column 32"),
        "{}",
        s.rejected[3]
    );
    let c = read(&db, &up("a"), "value");
    assert_eq!(c.timestamps, [10, 20, 60]);
    assert_eq!(floats(&c), [1.0, 2.0, 5.0]);
    assert_eq!(db.stats().series, 1);
}

/// Text format pages: the second page of the same series comes from the cache; values
/// (NaN, infinities), timestamps and metadata are as the full parse reads them, bad lines
/// are refused with line and column, and the rest is stored.
#[test]
fn text_format_pages_store_every_sample_once_cached() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let page = |ts: i64, v: &str| {
        format!(
            "# HELP up Whether the target is up.\n# TYPE up gauge\n\
             up{{job=\"a\",instance=\"h:9100\"}} {v} {ts}\n\
             up {{ instance=\"h:9100\" , job=\"b\" }} 2\n"
        )
    };
    let first = page(1000, "1");
    let s = db.write_prom_text(first.as_bytes(), 5_000_000_000).unwrap();
    assert!(s.write.rejected.is_empty(), "{:?}", s.write.rejected);
    assert_eq!(s.write.points, 2);
    assert_eq!(s.metadata.len(), 1);
    assert_eq!(s.metadata[0].name, "up");
    assert_eq!(s.metadata[0].kind, Some("gauge"));
    assert_eq!(
        s.metadata[0].help.as_deref(),
        Some("Whether the target is up.")
    );
    let second = format!(
        "{}up{{job=\"a\",instance=\"h:9100\"}} 1x 3000\n",
        page(2000, "NaN")
    );
    let s = db
        .write_prom_text(second.as_bytes(), 6_000_000_000)
        .unwrap();
    assert_eq!(s.write.points, 2);
    assert_eq!(s.write.rejected.len(), 1);
    assert_eq!(
        (s.write.rejected[0].line, s.write.rejected[0].column),
        (5, 31)
    );
    let a = read(&db, &up("a"), "value");
    assert_eq!(a.timestamps, [1_000_000_000, 2_000_000_000]);
    assert!(floats(&a)[1].is_nan());
    let b = read(&db, &up("b"), "value");
    assert_eq!(b.timestamps, [5_000_000_000, 6_000_000_000]);
}

/// Samples keep every bit (Prometheus' stale marker included), cached or not.
#[test]
fn samples_keep_stale_markers_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for round in 0..2 {
        let mut w = db.sample_writer();
        let h = w
            .series(RawKind::RemoteWrite, b"raw-up-a", || Ok(up("a")))
            .unwrap();
        w.sample(0, h, 10 + round, 1.0);
        w.sample(0, h, 20 + round, f64::from_bits(STALE));
        let s = w.finish().unwrap();
        assert_eq!(s.points, 2);
    }
    db.compact(true, true).unwrap();
    let c = db
        .read_column(&up("a"), "value", TimeRange::ALL)
        .unwrap()
        .unwrap();
    assert_eq!(c.timestamps, [10, 11, 20, 21]);
    let bits: Vec<u64> = floats(&c).iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [1f64.to_bits(), 1f64.to_bits(), STALE, STALE]);
}

/// `max_series_per_metric` refuses the series that would pass it, naming the metric and
/// the limit, keeps writing existing series, and is counted.
#[test]
fn series_per_metric_limit_refuses_new_series_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            max_series_per_metric: 2,
            ..options()
        },
    )
    .unwrap();
    let s = db
        .write_lp(
            b"up,job=a value=1 1\nup,job=b value=1 1\nup,job=c value=1 1\nother,job=c value=1 1\nup,job=a value=2 2\n",
            Precision::Nanosecond,
        )
        .unwrap();
    assert_eq!(s.lines, 4);
    assert_eq!(s.rejected.len(), 1);
    assert_eq!(s.rejected[0].line, 3);
    let msg = s.rejected[0].to_string();
    assert!(
        msg.contains("measurement \"up\" already has 2 series")
            && msg.contains("write.max_series_per_metric")
            && msg.contains("up,job=c"),
        "{msg}"
    );
    let m = db.metrics();
    assert_eq!((m.series_limit_per_metric, m.series_created), (1, 3));
    // The same through the sample writer.
    let mut w = db.sample_writer();
    let e = w
        .series(RawKind::PromText, b"up{job=\"d\"}", || {
            Ok(SeriesKey::new("up", [("job", "d")]).unwrap())
        })
        .unwrap_err();
    assert!(matches!(
        e,
        RejectReason::SeriesPerMetricLimit { max: 2, .. }
    ));
    w.finish().unwrap();
    assert_eq!(db.metrics().series_limit_per_metric, 2);
}

/// `max_new_series_per_minute` is a token bucket on the database's clock.
#[test]
fn new_series_rate_limit_follows_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000_000_000);
    let db = Db::open(
        dir.path(),
        Options {
            max_new_series_per_minute: 2,
            clock: Arc::new(clock.clone()),
            ..options()
        },
    )
    .unwrap();
    let lp = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("m,s={n} value=1 1\n"))
            .collect::<String>()
    };
    let s = db
        .write_lp(lp(&["a", "b", "c", "a"]).as_bytes(), Precision::Nanosecond)
        .unwrap();
    assert_eq!(s.lines, 3);
    assert_eq!(s.rejected.len(), 1);
    let msg = s.rejected[0].to_string();
    assert!(
        msg.contains("at most 2 new series per minute") && msg.contains("m,s=c"),
        "{msg}"
    );
    clock.advance(Duration::from_secs(30));
    let s = db
        .write_lp(lp(&["c", "d"]).as_bytes(), Precision::Nanosecond)
        .unwrap();
    assert_eq!(
        (s.lines, s.rejected.len()),
        (1, 1),
        "one token back after 30 s"
    );
    assert_eq!(db.metrics().series_limit_per_minute, 2);
}

/// The comment-line shortcut (a HELP or TYPE line equal to the one that last set its
/// family is skipped unparsed) must give the metadata the full parse gives, whatever the
/// order, repeats and changes of the lines, and leave the samples alone.
mod comment_lines {
    use super::*;
    use proptest::prelude::*;
    use strata_engine::ingest::prom_text;

    const POOL: [&str; 12] = [
        "# HELP a First.",
        "# HELP a Second.",
        "# TYPE a gauge",
        "# TYPE a counter",
        "# HELP b Escaped \\\\ and \\n.",
        "# TYPE b summary",
        "#  HELP  c   Spaced.",
        "# TYPE c untyped",
        "# TYPE c bogus",
        "# a plain comment",
        "a 1",
        "c{x=\"y\"} 2",
    ];

    fn metadata_of(page: &str) -> Vec<(String, Option<String>, Option<String>)> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), options()).unwrap();
        let s = db.write_prom_text(page.as_bytes(), 1_000_000).unwrap();
        let samples = page.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(s.write.points, samples, "{page}");
        s.metadata
            .iter()
            .map(|m| {
                (
                    m.name.to_owned(),
                    m.kind.map(str::to_owned),
                    m.help.as_deref().map(str::to_owned),
                )
            })
            .collect()
    }

    #[test]
    fn scrapes_repeated_in_one_body() {
        let scrape = "# HELP a First.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b counter\n";
        let mut page = scrape.repeat(3);
        page.push_str("# HELP a Second.\n# TYPE b gauge\n");
        page.push_str(scrape);
        page.push_str("# HELP a Second.\n");
        assert_eq!(metadata_of(&page), prom_text::metadata(page.as_bytes()));
        assert_eq!(metadata_of(&page)[0].2.as_deref(), Some("Second."));
        assert_eq!(metadata_of(&page)[1].1.as_deref(), Some("counter"));
    }

    proptest! {
        #[test]
        fn any_sequence_gives_the_full_parse_metadata(
            picks in proptest::collection::vec(0..POOL.len(), 0..40),
        ) {
            let page: String = picks.iter().map(|&i| format!("{}\n", POOL[i])).collect();
            prop_assert_eq!(metadata_of(&page), prom_text::metadata(page.as_bytes()));
        }
    }
}
