//! The web page in a real headless Chromium driven over WebDriver (chromedriver): TSBS data
//! loaded, a query typed, the chart drawn with one line per series and a legend naming
//! them, the table's values equal to the API's, an invalid query's parse error shown, the
//! explore page's series count right, and the chart of 500 series × 240 points timed; a
//! server that scrapes itself shows its target, rules and firing alert on those pages; the
//! text of every page passes WCAG AA contrast.
//! Screenshots of each page go to `$CARGO_TARGET_TMPDIR/ui-screenshots` (and, with
//! `STRATA_UPDATE_SCREENSHOTS=1`, to docs/screenshots for the README).
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`;
//! `../shared/peers/install.sh --all` plus `apt-get install chromium-driver`). Without them
//! the test says so and passes, unless `STRATA_REQUIRE_PEERS=1` (as `.ci/run` sets).

use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strata_engine::Options;
use strata_server::{Config, RunningServer};

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn browser_present() -> bool {
    let ok = have("chromedriver") && std::path::Path::new("/usr/bin/chromium").exists();
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "chromium/chromedriver not found and STRATA_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: chromium and chromedriver are not installed");
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get_json(url: &str) -> Value {
    let mut s = String::new();
    ureq::get(url)
        .call()
        .expect("GET")
        .into_reader()
        .read_to_string(&mut s)
        .unwrap();
    serde_json::from_str(&s).unwrap()
}

/// The first hour of the 6-hour TSBS file (100 hosts, 10 s) through `/write`, and a
/// synthetic metric with 500 series for the render timing.
fn load(base: &str) -> (i64, i64) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/tsbs_cpu_only_scale100_6h.lp.zst");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8(zstd::stream::decode_all(file).expect("zstd")).expect("utf-8");
    let lines: Vec<&str> = text.lines().take(36_000).collect();
    for chunk in lines.chunks(6_000) {
        let body = chunk.join("\n");
        let r = ureq::post(&format!("{base}/write?db=t"))
            .send_string(&body)
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    let first: i64 = lines[0].rsplit(' ').next().unwrap().parse().unwrap();
    let start = first / 1_000_000_000;
    // 500 series × 240 points at 15 s.
    let mut lp = String::new();
    for s in 0..500 {
        for i in 0..240i64 {
            let t = (start + i * 15) * 1_000_000_000;
            lp.push_str(&format!("wide,s=s{s} value={} {t}\n", (s * 7 + i) % 97));
        }
    }
    let r = ureq::post(&format!("{base}/write?db=t"))
        .send_string(&lp)
        .unwrap();
    assert_eq!(r.status(), 204);
    (start, start + 3_590)
}

/// Percent-encodes a URL parameter value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn shots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn shot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), &png).unwrap();
    if std::env::var("STRATA_UPDATE_SCREENSHOTS").as_deref() == Ok("1") && name != "wide" {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
    }
}

/// Waits until the page has drawn `renders` charts (or shown an error) and returns its
/// record of the last render.
async fn wait_render(c: &fantoccini::Client, renders: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = c
            .execute(
                "return {renders: window.__strata.renders, last: window.__strata.lastRender, error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent, status: document.getElementById('status').textContent};",
                vec![],
            )
            .await
            .expect("script");
        if v["renders"].as_u64().unwrap_or(0) >= renders || !v["error"].is_null() {
            return v;
        }
        assert!(Instant::now() < deadline, "the chart was never drawn: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Distinct opaque stroke colours on the chart's canvas: one per line drawn.
const COLOURS_JS: &str = r#"
const cv = document.querySelector('#chart canvas');
const ctx = cv.getContext('2d');
const d = ctx.getImageData(0, 0, cv.width, cv.height).data;
const seen = new Set();
for (let i = 0; i < d.length; i += 4) {
  const [r, g, b, a] = [d[i], d[i+1], d[i+2], d[i+3]];
  if (a < 250) continue;
  if (Math.abs(r - g) < 12 && Math.abs(g - b) < 12) continue; // greys: axes, grid, text
  seen.add(r + ',' + g + ',' + b);
}
return seen.size;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_queries_charts_tables_and_explores_in_chromium() {
    if !browser_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let server =
        RunningServer::start(dir.path().to_path_buf(), Options::default(), config).unwrap();
    let base = format!("http://{}", server.addr());
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{base}/ready")).call().is_err() {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (start, end) = load(&base);

    let (_driver, c) = browser().await;

    // Query page: type a PromQL query over an absolute range, run it with Enter.
    let fmt = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .naive_utc()
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    // The page reads datetime-local inputs in the browser's zone; pass the range in the
    // URL instead, in UTC seconds, by opening it with `start`/`end` as the inputs expect.
    let tz_offset = c
        .execute("return new Date().getTimezoneOffset() * 60;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let url = format!(
        "{base}/ui/?tab=query&range=abs&start={}&end={}",
        fmt(start - tz_offset),
        fmt(end - tz_offset)
    );
    c.goto(&format!("{url}&lang=promql&step=60")).await.unwrap();
    let q = "max by (hostname) (cpu_usage_user{hostname=~\"host_1|host_2|host_3\"})";
    let expr = c.wait().for_element(Locator::Id("expr")).await.unwrap();
    expr.send_keys(q).await.unwrap();
    expr.send_keys("\u{E007}").await.unwrap(); // Enter
    let r = wait_render(&c, 1).await;
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["last"]["series"], 3, "{r}");
    // One line per series on the canvas, and the legend names each.
    let colours = c.execute(COLOURS_JS, vec![]).await.unwrap();
    assert!(
        colours.as_u64().unwrap_or(0) >= 3,
        "distinct line colours drawn: {colours}"
    );
    let legend = c
        .find(Locator::Css("#chart .u-legend"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for h in ["host_1", "host_2", "host_3"] {
        assert!(legend.contains(&format!("hostname=\"{h}\"")), "{legend}");
    }
    shot(&c, "query").await;

    // The table equals the API's instant answer at the range's end.
    c.find(Locator::Css("input[name=view][value=table]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let cells = loop {
        let rows = c
            .execute(
                "return [...document.querySelectorAll('#table tbody tr')].map(r => [...r.children].map(td => td.textContent));",
                vec![],
            )
            .await
            .unwrap();
        if rows.as_array().is_some_and(|a| a.len() == 3) {
            break rows;
        }
        assert!(Instant::now() < deadline, "table never filled: {rows}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let api = get_json(&format!("{base}/api/v1/query?query={}&time={end}", enc(q)));
    let want: Vec<(String, String)> = api["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["metric"]["hostname"].as_str().unwrap().to_owned(),
                x["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(want.len(), 3);
    for (host, value) in want {
        let row = cells
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0].as_str().unwrap().contains(&host))
            .unwrap_or_else(|| panic!("no row for {host}: {cells}"));
        assert_eq!(row[1].as_str().unwrap(), value, "{host}");
    }
    shot(&c, "table").await;

    // An invalid query shows the parse error with its position.
    c.goto(&format!(
        "{base}/ui/?tab=query&lang=promql&q=sum(cpu_usage_user"
    ))
    .await
    .unwrap();
    let r = wait_render(&c, u64::MAX).await;
    let err = r["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("1:19: parse error: unclosed left parenthesis"),
        "{r}"
    );

    // InfluxQL with the $timeFilter placeholder.
    let iq = "SELECT mean(usage_user) FROM cpu WHERE hostname = 'host_7' AND $timeFilter GROUP BY time(5m)";
    c.goto(&format!("{url}&lang=influxql&q={}", enc(iq)))
        .await
        .unwrap();
    let r = wait_render(&c, 1).await;
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["last"]["series"], 1, "{r}");

    // Explore: the series count the API gives.
    c.goto(&format!("{base}/ui/?tab=explore")).await.unwrap();
    let summary = c
        .wait()
        .for_element(Locator::Id("metrics-summary"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let t = summary.text().await.unwrap();
        if !t.is_empty() {
            break t;
        }
        assert!(Instant::now() < deadline, "explore never listed metrics");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let metrics = get_json(&format!("{base}/api/v1/status/metrics"));
    let total: u64 = metrics["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["series"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 10 * 100 + 500);
    assert_eq!(text, format!("11 metrics, {total} series"));
    shot(&c, "explore").await;

    // 500 series × 240 points: rendered, and how long it took.
    c.goto(&format!("{url}&lang=promql&step=15&q=wide"))
        .await
        .unwrap();
    let r = wait_render(&c, 1).await;
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["last"]["series"], 500, "{r}");
    assert_eq!(r["last"]["points"], 500 * 240, "{r}");
    eprintln!(
        "render of 500 series x 240 points: {:.1} ms",
        r["last"]["ms"].as_f64().unwrap_or(f64::NAN)
    );
    shot(&c, "wide").await;

    c.close().await.unwrap();
    server.stop().unwrap();
}

/// Starts chromedriver and a headless Chromium session.
async fn browser() -> (Proc, fantoccini::Client) {
    let port = free_port();
    let driver = Proc(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,900"],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The lowest WCAG 2 contrast ratio between a visible text element's colour and the
/// background it is drawn on (the first opaque background among it and its ancestors),
/// with the text that has it.
const CONTRAST: &str = r#"
function lum(c) {
  const m = c.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(',').map((x) => parseFloat(x));
  if (p.length === 4 && p[3] === 0) return null;
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(p[0]) + 0.7152 * f(p[1]) + 0.0722 * f(p[2]);
}
function bg(el) {
  for (let e = el; e; e = e.parentElement) {
    const l = lum(getComputedStyle(e).backgroundColor);
    if (l !== null) return l;
  }
  return 1; // the canvas is white
}
let worst = { ratio: 99, text: "", count: 0 };
for (const el of document.querySelectorAll('body *')) {
  const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
  const fg = lum(getComputedStyle(el).color);
  if (fg === null) continue;
  const b = bg(el);
  const r = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
  worst.count++;
  if (r < worst.ratio) worst = { ratio: r, text: el.textContent.trim().slice(0, 60), count: worst.count };
}
return worst;
"#;

async fn assert_contrast(c: &fantoccini::Client, page: &str) {
    let w = c.execute(CONTRAST, vec![]).await.unwrap();
    assert!(w["count"].as_u64().unwrap_or(0) > 0, "{page}: no text checked");
    let ratio = w["ratio"].as_f64().unwrap();
    assert!(
        ratio >= 4.5,
        "{page}: contrast {ratio:.2} < 4.5 (WCAG AA) for {:?}",
        w["text"]
    );
}

async fn wait_text(c: &fantoccini::Client, id: &str, needles: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = c
            .find(Locator::Id(id))
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default();
        if needles.iter().all(|n| text.contains(n)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "#{id} never showed {needles:?}: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.refresh().await.unwrap();
    }
}

/// The targets, rules and alerts pages of a server that scrapes itself and evaluates a
/// recording rule and an alert, as Prometheus' pages show them; and every page's text
/// passes WCAG AA contrast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_rules_and_alerts_pages_in_chromium() {
    if !browser_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: self\n  interval: 1s\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: SelfScraped\n    expr: up == 1\n    labels: {severity: page}\n    annotations: {summary: '{{ $labels.instance }} is up'}\n",
    )
    .unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: ['{}']\nscrape_configs:\n- job_name: self\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n",
            rules.display()
        ),
    )
    .unwrap();
    let config = Config {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        prometheus: Some(strata_server::prometheus::PrometheusSetup {
            config_file: cfg,
            enable_lifecycle: false,
            external_url: None,
        }),
        ..Config::default()
    };
    let server =
        RunningServer::start(dir.path().join("data"), Options::default(), config).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    // The alert fires once a scrape has landed and the group has run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = ureq::get(&format!("{base}/api/v1/alerts"))
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .is_some_and(|s| s.contains("\"firing\""));
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "the alert never fired");
        std::thread::sleep(Duration::from_millis(200));
    }

    let (_driver, c) = browser().await;
    c.goto(&format!("{base}/ui/?tab=targets")).await.unwrap();
    let t = wait_text(&c, "targets", &["self", "up", &format!("127.0.0.1:{port}/metrics")]).await;
    assert!(!t.contains("No targets"), "{t}");
    assert_contrast(&c, "targets").await;
    shot(&c, "targets").await;

    c.goto(&format!("{base}/ui/?tab=rules")).await.unwrap();
    wait_text(&c, "rules", &["job:up:sum", "SelfScraped", "sum by (job) (up)", "ok"]).await;
    assert_contrast(&c, "rules").await;
    shot(&c, "rules").await;

    c.goto(&format!("{base}/ui/?tab=alerts")).await.unwrap();
    wait_text(
        &c,
        "alerts",
        &["SelfScraped", "firing", &format!("summary: 127.0.0.1:{port} is up")],
    )
    .await;
    assert_contrast(&c, "alerts").await;
    shot(&c, "alerts").await;

    // The query and explore pages pass the same contrast check.
    c.goto(&format!("{base}/ui/?tab=query&lang=promql&q=up"))
        .await
        .unwrap();
    wait_render(&c, 1).await;
    assert_contrast(&c, "query").await;
    c.goto(&format!("{base}/ui/?tab=explore")).await.unwrap();
    wait_text(&c, "metrics-summary", &["metrics"]).await;
    assert_contrast(&c, "explore").await;

    c.close().await.unwrap();
    server.stop().unwrap();
}
