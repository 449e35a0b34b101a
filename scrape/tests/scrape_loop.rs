//! A scrape loop against a page server on loopback whose answers the test sets: the
//! samples written, staleness markers when a series vanishes and when a scrape fails,
//! the report series, honor_labels, sample_limit, metric relabelling, OpenMetrics by
//! content type. Scrapes are driven one at a time (`scrape_and_report`), so nothing
//! depends on timing.

use parking_lot::Mutex;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use strata_engine::model::{ColumnValues, SeriesKey, TimeRange};
use strata_engine::{Db, Options};
use strata_query::promql::STALE_NAN_BITS;
use strata_scrape::config::parse;
use strata_scrape::scrape_loop::{Health, LoopMemory, ScrapeLoop, TargetStatus};
use strata_scrape::target::targets_from_groups;

/// Serves (status, content type, body) from `page`, one connection at a time.
fn page_server(page: Page) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let (code, ct, body) = page.lock().clone();
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn values(db: &Db, name: &str, tags: &[(&str, &str)]) -> Vec<(i64, f64)> {
    let key = SeriesKey::new(name, tags.iter().copied()).unwrap();
    match db.read_column(&key, "value", TimeRange::ALL).unwrap() {
        Some(c) => match c.values {
            ColumnValues::Float(v) => c.timestamps.into_iter().zip(v).collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

fn make_loop(yaml_job: &str, port: u16, db: Arc<Db>) -> ScrapeLoop {
    let cfg = parse(
        &format!(
            "scrape_configs:\n{}",
            yaml_job.replace("PORT", &port.to_string())
        ),
        std::path::Path::new("/x/prometheus.yml"),
    )
    .unwrap();
    let sc = cfg.scrape_configs[0].clone();
    let groups = strata_scrape::discovery::static_groups(&sc.static_configs).unwrap();
    let (targets, _, _) = targets_from_groups(&sc, &groups);
    ScrapeLoop {
        target: targets[0].clone(),
        client: sc.http.client(sc.scrape_timeout.std()).unwrap(),
        cfg: Arc::new(sc),
        db,
        status: Arc::new(Mutex::new(TargetStatus::default())),
        forced_error: Arc::new(Mutex::new(None)),
        jitter_seed: 0,
    }
}

type Page = Arc<Mutex<(u16, String, String)>>;

/// Scrapes are stamped in milliseconds: two in the same one would write the same
/// timestamp, and the later sample would replace the earlier.
async fn next_millisecond() {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
}

/// A database, a page server answering `body` as `content_type`, and a loop for the one
/// target of the job `yaml_job` (`PORT` stands for the server's port).
struct Fixture {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    page: Page,
    sl: ScrapeLoop,
    inst: String,
}

fn fixture(content_type: &str, body: &str, yaml_job: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    let page = Arc::new(Mutex::new((
        200u16,
        content_type.to_owned(),
        body.to_owned(),
    )));
    let port = page_server(page.clone());
    let sl = make_loop(yaml_job, port, db.clone());
    Fixture {
        _dir: dir,
        db,
        page,
        sl,
        inst: format!("127.0.0.1:{port}"),
    }
}

const DROP_JOB: &str = "  - job_name: j\n    static_configs: [{targets: ['127.0.0.1:PORT']}]\n    metric_relabel_configs:\n    - source_labels: [__name__]\n      regex: dropme\n      action: drop\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staleness_report_series_and_limits() {
    let Fixture {
        _dir,
        db,
        page,
        sl,
        inst,
    } = fixture(
        "text/plain; version=0.0.4",
        "a{x=\"1\"} 1\nb 2\njob 3\ndropme 4\n",
        DROP_JOB,
    );
    let t = [("instance", inst.as_str()), ("job", "j")];
    let mut mem = LoopMemory::default();

    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let st = sl.status.lock().clone();
    assert_eq!(st.health, Health::Up, "{}", st.last_error);
    assert_eq!(values(&db, "a", &[t[0], t[1], ("x", "1")]).len(), 1);
    assert_eq!(values(&db, "up", &t)[0].1, 1.0);
    assert_eq!(values(&db, "scrape_samples_scraped", &t)[0].1, 4.0);
    assert_eq!(
        values(&db, "scrape_samples_post_metric_relabeling", &t)[0].1,
        3.0
    );
    assert_eq!(values(&db, "scrape_series_added", &t)[0].1, 3.0);
    assert!(
        values(&db, "dropme", &t).is_empty(),
        "metric relabelling dropped it"
    );
    // The page's `job` label... here a metric named job; a page label clashing with a
    // target label is kept as exported_<name>.
    page.lock().2 = "a{x=\"1\"} 5\nc{job=\"inner\"} 6\n".into();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let b = values(&db, "b", &t);
    assert_eq!(b.len(), 2);
    assert_eq!(b[1].1.to_bits(), STALE_NAN_BITS, "b vanished: stale marker");
    assert_eq!(
        values(&db, "c", &[t[0], t[1], ("exported_job", "inner")]).len(),
        1
    );
    let added = values(&db, "scrape_series_added", &t);
    assert_eq!(added.last().unwrap().1, 1.0, "only c is new");

    // A failing scrape: up = 0, every series of the last scrape stale.
    page.lock().0 = 500;
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    assert_eq!(sl.status.lock().health, Health::Down);
    assert_eq!(
        sl.status.lock().last_error,
        "server returned HTTP status 500 Internal Server Error"
    );
    assert_eq!(values(&db, "up", &t).last().unwrap().1, 0.0);
    assert_eq!(
        values(&db, "a", &[t[0], t[1], ("x", "1")])
            .last()
            .unwrap()
            .1
            .to_bits(),
        STALE_NAN_BITS
    );
    assert_eq!(
        values(&db, "scrape_samples_scraped", &t).last().unwrap().1,
        0.0
    );

    // A parse error fails the scrape as well.
    *page.lock() = (200, "text/plain".into(), "a{ 1\n".into());
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    assert_eq!(sl.status.lock().health, Health::Down);
    assert!(!sl.status.lock().last_error.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honor_labels_sample_limit_and_openmetrics() {
    let Fixture {
        _dir,
        db,
        page,
        sl,
        inst,
    } = fixture(
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "# TYPE m gauge\nm{job=\"inner\"} 7 1700000000.250\n# EOF\n",
        "  - job_name: j\n    honor_labels: true\n    sample_limit: 2\n    static_configs: [{targets: ['127.0.0.1:PORT']}]\n",
    );
    let mut mem = LoopMemory::default();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let st = sl.status.lock().clone();
    assert_eq!(st.health, Health::Up, "{}", st.last_error);
    // honor_labels: the page's job wins; honor_timestamps: the page's time is kept.
    let m = values(&db, "m", &[("instance", inst.as_str()), ("job", "inner")]);
    assert_eq!(m, vec![(1_700_000_000_250_000_000, 7.0)]);
    page.lock().2 = "m 1\nn 2\no 3\n# EOF\n".into();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    assert_eq!(sl.status.lock().last_error, "sample limit exceeded");
    let t = [("instance", inst.as_str()), ("job", "j")];
    assert_eq!(values(&db, "up", &t).last().unwrap().1, 0.0);
    assert!(
        values(&db, "n", &t).is_empty(),
        "nothing of a refused scrape is stored"
    );
}

/// The loop remembers pages by their spelling; these are the cases where a spelling and
/// a series part ways: one series spelled two ways, a dropped series, a sample with its
/// own timestamp, and a page that fails half-way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spellings_drops_explicit_timestamps_and_half_pages() {
    let Fixture {
        _dir,
        db,
        page,
        sl,
        inst,
    } = fixture(
        "text/plain; version=0.0.4",
        "# TYPE a gauge\na{x=\"1\",y=\"2\"} 1\ndropme 4\nts_m 5 1700000000000\n",
        DROP_JOB,
    );
    let t = [("instance", inst.as_str()), ("job", "j")];
    let a = [t[0], t[1], ("x", "1"), ("y", "2")];
    let mut mem = LoopMemory::default();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let st = sl.status.lock().clone();
    assert_eq!(st.health, Health::Up, "{}", st.last_error);
    assert_eq!(values(&db, "scrape_samples_scraped", &t)[0].1, 3.0);
    assert_eq!(
        values(&db, "scrape_samples_post_metric_relabeling", &t)[0].1,
        2.0
    );

    // The same series spelled the other way round: the new sample, and no staleness
    // marker for the old spelling; the dropped series stays dropped; a series that had
    // its own timestamp leaves without a marker, as in Prometheus.
    page.lock().2 = "a{y=\"2\",x=\"1\"} 2\ndropme 5\n".into();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let st = sl.status.lock().clone();
    assert_eq!(st.health, Health::Up, "{}", st.last_error);
    let av = values(&db, "a", &a);
    assert_eq!(av.len(), 2, "{av:?}");
    assert_eq!(av[1].1, 2.0, "the live sample, not a staleness marker");
    assert!(values(&db, "dropme", &t).is_empty());
    assert_eq!(
        values(&db, "ts_m", &t),
        vec![(1_700_000_000_000_000_000, 5.0)]
    );
    assert_eq!(
        values(&db, "scrape_series_added", &t).last().unwrap().1,
        1.0,
        "a new spelling counts as a new series, as in Prometheus' scrape cache"
    );

    // A page that breaks on its third line stores none of its samples; the last
    // scrape's series go stale.
    page.lock().2 = "a{x=\"1\",y=\"2\"} 3\nb 1\nbad{ 2\n".into();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let st = sl.status.lock().clone();
    assert_eq!(st.health, Health::Down);
    assert!(st.last_error.contains("line 3"), "{}", st.last_error);
    assert!(values(&db, "b", &t).is_empty(), "nothing of a broken page");
    let av = values(&db, "a", &a);
    assert_eq!(av.len(), 3, "{av:?}");
    assert_eq!(av[2].1.to_bits(), STALE_NAN_BITS);
    assert_eq!(values(&db, "up", &t).last().unwrap().1, 0.0);

    // Back again: stored, and counted as scraped.
    page.lock().2 = "a{x=\"1\",y=\"2\"} 4\n".into();
    next_millisecond().await;
    sl.scrape_and_report(&mut mem).await;
    let av = values(&db, "a", &a);
    assert_eq!(av.last().unwrap().1, 4.0);
    assert_eq!(values(&db, "up", &t).last().unwrap().1, 1.0);
}
