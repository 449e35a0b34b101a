//! One target's scrape loop: fetch the page on a fixed phase of the interval, parse it,
//! attach the target's labels, apply `metric_relabel_configs` and the limits, write the
//! samples, write staleness markers for series that vanished, and write the report
//! series (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`, `scrape_series_added`) — all as Prometheus
//! 2.42's `scrapeLoop` does.
//!
//! Each loop is its own task with its own HTTP timeout, so a slow target never delays
//! another. The loop's memory of the last scrape (for staleness and
//! `scrape_series_added`) is handed back when it stops so a reloaded loop carries on.

use crate::config::ScrapeConfig;
use crate::exposition::{self, ACCEPT, Sample};
use crate::relabel;
use crate::target::Target;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_engine::Db;
use strata_engine::model::{FieldValue, Point, SeriesKey};
use strata_query::promql::{Labels, STALE_NAN_BITS};
use tokio::sync::watch;

/// A target's health, as `/api/v1/targets` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape worked.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `up`, `down`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What the last scrape of a target did.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    /// Health.
    pub health: Health,
    /// Error of the last scrape ("" when it worked).
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<DateTime<Utc>>,
    /// How long it took, in seconds.
    pub last_duration: f64,
}

impl Default for TargetStatus {
    fn default() -> Self {
        TargetStatus {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: 0.0,
        }
    }
}

/// How a loop is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep going.
    Run,
    /// The server is stopping or the loop is being replaced: no staleness markers.
    Quietly,
    /// The target went away: mark its series stale at the next would-be scrape.
    Removed,
}

/// What a loop remembers between scrapes.
#[derive(Debug, Default, Clone)]
pub struct LoopMemory {
    /// Series written by the previous scrape without an explicit timestamp (staleness),
    /// by the hash of their labels.
    prev: FxHashMap<u64, Labels>,
    /// Hashes of the series of the last successful scrape (`scrape_series_added`).
    cache: FxHashSet<u64>,
}

/// A label set's identity within a scrape loop's memory.
fn label_hash(l: &Labels) -> u64 {
    let mut h = FxHasher::default();
    for (k, v) in &l.0 {
        k.hash(&mut h);
        v.hash(&mut h);
    }
    h.finish()
}

/// Everything a loop needs.
pub struct ScrapeLoop {
    /// The target.
    pub target: Target,
    /// Its job's settings.
    pub cfg: Arc<ScrapeConfig>,
    /// The job's HTTP client.
    pub client: reqwest::Client,
    /// Where samples go.
    pub db: Arc<Db>,
    /// Shared with the API.
    pub status: Arc<Mutex<TargetStatus>>,
    /// Set while the pool is over its `target_limit`: reported instead of scraping.
    pub forced_error: Arc<Mutex<Option<String>>>,
    /// The jitter seed of this server.
    pub jitter_seed: u64,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Why one scrape failed.
#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Append(String),
}

/// The counts a scrape reports.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    total: usize,
    added: usize,
    series_added: usize,
}

impl ScrapeLoop {
    /// Runs until told to stop; returns its memory for a successor.
    pub async fn run(self, mut memory: LoopMemory, mut stop: watch::Receiver<Stop>) -> LoopMemory {
        let interval = self.target.interval.std();
        let now_ns = Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let first = Duration::from_nanos(
            u64::try_from(self.target.offset_ns(now_ns, self.jitter_seed)).unwrap_or(0),
        );
        let start = tokio::time::Instant::now() + first;
        let mut ticker = tokio::time::interval_at(start, interval.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                how = async { stop.wait_for(|s| *s != Stop::Run).await.map(|s| *s).unwrap_or(Stop::Quietly) } => {
                    if how == Stop::Removed {
                        // Prometheus waits for the next would-be scrape and marks the
                        // series stale at that time.
                        ticker.tick().await;
                        self.end_of_run_staleness(&mut memory, now_ms()).await;
                    }
                    return memory;
                }
                _ = ticker.tick() => {
                    self.scrape_and_report(&mut memory).await;
                }
            }
        }
    }

    /// One scrape at now: fetch, append, report.
    pub async fn scrape_and_report(&self, memory: &mut LoopMemory) {
        let started = Instant::now();
        let start_time = Utc::now();
        let t = start_time.timestamp_millis();
        let forced = self.forced_error.lock().clone();
        let fetched = match forced {
            Some(e) => Err(ScrapeError::Fetch(e)),
            None => self.fetch().await,
        };
        let mut points = Vec::new();
        let mut counts = Counts::default();
        let result = match fetched {
            Ok((body, content_type)) => {
                match self.append(&body, &content_type, t, memory, &mut points, &mut counts) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        points.clear();
                        self.append_empty(t, memory, &mut points);
                        Err(e)
                    }
                }
            }
            Err(e) => {
                self.append_empty(t, memory, &mut points);
                Err(e)
            }
        };
        let duration = started.elapsed().as_secs_f64();
        self.report(t, duration, counts, result.is_ok(), &mut points);
        self.write(points).await;
        let mut st = self.status.lock();
        st.last_scrape = Some(start_time);
        st.last_duration = duration;
        match result {
            Ok(()) => {
                st.health = Health::Up;
                st.last_error.clear();
            }
            Err(e) => {
                st.health = Health::Down;
                st.last_error = e.to_string();
            }
        }
    }

    async fn fetch(&self) -> Result<(Vec<u8>, String), ScrapeError> {
        let url = &self.target.url;
        let fail = |e: String| ScrapeError::Fetch(format!("Get {url:?}: {e}"));
        let mut req = self
            .client
            .get(url)
            .header("Accept", ACCEPT)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", self.target.timeout.secs_f64()),
            )
            .timeout(self.target.timeout.std());
        match self.cfg.http.auth_header() {
            Ok(Some(h)) => req = req.header("Authorization", h),
            Ok(None) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                fail("context deadline exceeded".into())
            } else {
                fail(error_chain(&e))
            }
        })?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(ScrapeError::Fetch(format!(
                "server returned HTTP status {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let limit = self.cfg.body_size_limit;
        let mut body = Vec::new();
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    body.extend_from_slice(&c);
                    if limit > 0 && body.len() as u64 > limit {
                        return Err(ScrapeError::Fetch("body size limit exceeded".into()));
                    }
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(fail("context deadline exceeded".into())),
                Err(e) => return Err(fail(error_chain(&e))),
            }
        }
        Ok((body, content_type))
    }

    /// Parses and relabels the page into `points`; updates the memory on success.
    fn append(
        &self,
        body: &[u8],
        content_type: &str,
        t: i64,
        memory: &mut LoopMemory,
        points: &mut Vec<Point>,
        counts: &mut Counts,
    ) -> Result<(), ScrapeError> {
        let samples = exposition::parse(body, content_type)
            .map_err(|e| ScrapeError::Append(e.to_string()))?;
        counts.total = samples.len();
        let target_labels = self.target.public_labels();
        let mut cur: FxHashMap<u64, Labels> =
            FxHashMap::with_capacity_and_hasher(memory.prev.len(), Default::default());
        let mut seen: FxHashSet<u64> =
            FxHashSet::with_capacity_and_hasher(samples.len(), Default::default());
        let mut series_added = 0;
        for Sample {
            labels,
            value,
            ts_ms,
        } in samples
        {
            let lset = mutate_sample_labels(labels, &target_labels, self.cfg.honor_labels);
            let Some(lset) = relabel::process(&lset, &self.cfg.metric_relabel_configs) else {
                continue;
            };
            self.check_label_limits(&lset)?;
            counts.added += 1;
            if self.cfg.sample_limit > 0 && counts.added as u64 > self.cfg.sample_limit {
                return Err(ScrapeError::Append("sample limit exceeded".into()));
            }
            let ts = match ts_ms {
                Some(ts) if self.cfg.honor_timestamps => ts,
                _ => t,
            };
            let h = label_hash(&lset);
            if !memory.cache.contains(&h) {
                series_added += 1;
            }
            if let Some(p) = point(&lset, value, ts) {
                points.push(p);
            }
            seen.insert(h);
            if ts_ms.is_none() || !self.cfg.honor_timestamps {
                cur.insert(h, lset);
            }
        }
        counts.series_added = series_added;
        for (h, gone) in &memory.prev {
            if !cur.contains_key(h)
                && let Some(p) = point(gone, f64::from_bits(STALE_NAN_BITS), t)
            {
                points.push(p);
            }
        }
        memory.prev = cur;
        memory.cache = seen;
        Ok(())
    }

    /// A failed scrape is an empty one: every series of the previous scrape goes stale.
    fn append_empty(&self, t: i64, memory: &mut LoopMemory, points: &mut Vec<Point>) {
        for (_, gone) in memory.prev.drain() {
            if let Some(p) = point(&gone, f64::from_bits(STALE_NAN_BITS), t) {
                points.push(p);
            }
        }
    }

    fn check_label_limits(&self, l: &Labels) -> Result<(), ScrapeError> {
        let name: String = l.get("__name__").unwrap_or("").chars().take(50).collect();
        let c = &self.cfg;
        if c.label_limit > 0 && l.0.len() as u64 > c.label_limit {
            return Err(ScrapeError::Append(format!(
                "label_limit exceeded (metric: {name}, number of labels: {}, limit: {})",
                l.0.len(),
                c.label_limit
            )));
        }
        for (k, v) in &l.0 {
            if c.label_name_length_limit > 0 && k.len() as u64 > c.label_name_length_limit {
                let short: String = k.chars().take(50).collect();
                return Err(ScrapeError::Append(format!(
                    "label_name_length_limit exceeded (metric: {name}, label name: {short}, length: {}, limit: {})",
                    k.len(),
                    c.label_name_length_limit
                )));
            }
            if c.label_value_length_limit > 0 && v.len() as u64 > c.label_value_length_limit {
                let short: String = v.chars().take(50).collect();
                return Err(ScrapeError::Append(format!(
                    "label_value_length_limit exceeded (metric: {name}, label value: {short}, length: {}, limit: {})",
                    v.len(),
                    c.label_value_length_limit
                )));
            }
        }
        Ok(())
    }

    fn report_labels(&self, name: &str) -> Labels {
        let mut l = self.target.public_labels();
        l.set("__name__", name);
        l
    }

    fn report(&self, t: i64, duration: f64, c: Counts, up: bool, points: &mut Vec<Point>) {
        for (name, v) in [
            ("up", if up { 1.0 } else { 0.0 }),
            ("scrape_duration_seconds", duration),
            ("scrape_samples_scraped", c.total as f64),
            ("scrape_samples_post_metric_relabeling", c.added as f64),
            ("scrape_series_added", c.series_added as f64),
        ] {
            if let Some(p) = point(&self.report_labels(name), v, t) {
                points.push(p);
            }
        }
    }

    async fn end_of_run_staleness(&self, memory: &mut LoopMemory, t: i64) {
        let mut points = Vec::new();
        self.append_empty(t, memory, &mut points);
        for name in [
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        ] {
            if let Some(p) = point(&self.report_labels(name), f64::from_bits(STALE_NAN_BITS), t) {
                points.push(p);
            }
        }
        self.write(points).await;
    }

    async fn write(&self, points: Vec<Point>) {
        if points.is_empty() {
            return;
        }
        let db = self.db.clone();
        let url = self.target.url.clone();
        let res = tokio::task::spawn_blocking(move || db.write_points(&points)).await;
        match res {
            Ok(Ok(summary)) => {
                if let Some(r) = summary.rejected.first() {
                    tracing::debug!(
                        "{url}: {} samples refused, first: {r}",
                        summary.rejected.len()
                    );
                }
            }
            Ok(Err(e)) => tracing::warn!("{url}: writing scraped samples failed: {e}"),
            Err(e) => tracing::warn!("{url}: write task failed: {e}"),
        }
    }
}

/// The error and its causes, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A sample as a point: measurement = `__name__`, tags = the other labels.
pub fn point(l: &Labels, v: f64, t_ms: i64) -> Option<Point> {
    let name = l.get("__name__")?;
    let tags =
        l.0.iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| (k.as_str(), v.as_str()));
    let key = SeriesKey::new(name, tags).ok()?;
    let ns = t_ms.checked_mul(1_000_000)?;
    Some(Point::new(
        key,
        vec![(
            strata_engine::ingest::prom_text::VALUE_FIELD.to_owned(),
            FieldValue::Float(v),
        )],
        ns,
    ))
}

/// Prometheus' `mutateSampleLabels` without the relabelling: target labels are
/// attached; with `honor_labels` the page's win, otherwise the target's win and a
/// clashing page label is kept as `exported_<name>`.
pub fn mutate_sample_labels(mut l: Labels, target: &Labels, honor: bool) -> Labels {
    if honor {
        for (k, v) in &target.0 {
            if l.get(k).is_none() {
                l.set(k, v);
            }
        }
        return l;
    }
    // Without a clash (the usual case) the target's labels just go in.
    if !target.0.iter().any(|(k, _)| l.get(k).is_some()) {
        for (k, v) in &target.0 {
            l.set(k, v);
        }
        return l;
    }
    let exposed = l.clone();
    let mut conflicting: Vec<(String, String)> = Vec::new();
    for (k, v) in &target.0 {
        if let Some(existing) = exposed.get(k) {
            conflicting.push((k.clone(), existing.to_owned()));
        }
        l.set(k, v);
    }
    if conflicting.is_empty() {
        return l;
    }
    conflicting.sort_by_key(|(k, _)| k.len());
    for i in 0..conflicting.len() {
        let mut name = conflicting[i].0.clone();
        loop {
            name = format!("exported_{name}");
            let taken = exposed.get(&name).is_some()
                || target.get(&name).is_some()
                || conflicting[..i].iter().any(|(k, _)| *k == name);
            if !taken {
                conflicting[i].0 = name;
                break;
            }
        }
    }
    for (k, v) in conflicting {
        l.set(&k, &v);
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn target_labels_win_unless_honored() {
        let target = l(&[("instance", "h:1"), ("job", "j")]);
        let page = l(&[("__name__", "m"), ("job", "inner"), ("exported_job", "x")]);
        let got = mutate_sample_labels(page.clone(), &target, false);
        assert_eq!(
            got,
            l(&[
                ("__name__", "m"),
                ("exported_exported_job", "inner"),
                ("exported_job", "x"),
                ("instance", "h:1"),
                ("job", "j")
            ])
        );
        let got = mutate_sample_labels(page, &target, true);
        assert_eq!(got.get("job"), Some("inner"));
        assert_eq!(got.get("instance"), Some("h:1"));
    }

    #[test]
    fn points_need_a_name() {
        assert!(point(&l(&[("a", "b")]), 1.0, 1).is_none());
        let p = point(&l(&[("__name__", "m"), ("a", "b")]), 2.0, 3).unwrap();
        assert_eq!(p.series.measurement(), "m");
        assert_eq!(p.timestamp, 3_000_000);
    }
}
