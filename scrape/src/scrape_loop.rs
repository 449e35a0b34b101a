//! One target's scrape loop: fetch the page on a fixed phase of the interval and hand it
//! to [`crate::append`], which stores the samples, the staleness markers and the report
//! series as Prometheus 2.42's `scrapeLoop` does.
//!
//! Each loop is its own task with its own HTTP timeout, so a slow target never delays
//! another. The loop's memory of the last scrape (for staleness and
//! `scrape_series_added`) is handed back when it stops so a reloaded loop carries on.

use crate::append::{Counts, PageContext};
use crate::config::ScrapeConfig;
use crate::exposition::ACCEPT;
use crate::target::Target;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_engine::Db;
use strata_engine::model::{FieldValue, Point};
use strata_query::promql::Labels;
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

pub use crate::append::{LoopMemory, mutate_sample_labels};

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

/// The most a response's announced length reserves for its body up front.
const MAX_BODY_HINT: u64 = 64 << 20;

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
        // What decides how the page becomes series, and the URL, are fixed for the loop's
        // life (a new configuration starts a new loop): worked out once, not per scrape.
        let ctx = Arc::new(self.page_context());
        let url = reqwest::Url::parse(&self.target.url).ok();
        loop {
            tokio::select! {
                biased;
                how = async { stop.wait_for(|s| *s != Stop::Run).await.map(|s| *s).unwrap_or(Stop::Quietly) } => {
                    if how == Stop::Removed {
                        // Prometheus waits for the next would-be scrape and marks the
                        // series stale at that time.
                        ticker.tick().await;
                        self.end_of_run_staleness(&ctx, &mut memory, now_ms()).await;
                    }
                    return memory;
                }
                _ = ticker.tick() => {
                    self.scrape_with(&ctx, url.as_ref(), &mut memory).await;
                }
            }
        }
    }

    /// One scrape at now: fetch, append, report.
    pub async fn scrape_and_report(&self, memory: &mut LoopMemory) {
        let ctx = Arc::new(self.page_context());
        let url = reqwest::Url::parse(&self.target.url).ok();
        self.scrape_with(&ctx, url.as_ref(), memory).await;
    }

    /// [`ScrapeLoop::scrape_and_report`] with the loop's page context and its URL parsed
    /// (`None`: it does not parse, and the client says why at each scrape).
    async fn scrape_with(
        &self,
        ctx: &Arc<PageContext>,
        url: Option<&reqwest::Url>,
        memory: &mut LoopMemory,
    ) {
        let started = Instant::now();
        let start_time = Utc::now();
        let t = start_time.timestamp_millis();
        let forced = self.forced_error.lock().clone();
        let fetched = match forced {
            Some(e) => Err(ScrapeError::Fetch(e)),
            None => self.fetch(url).await,
        };
        let duration = started.elapsed().as_secs_f64();
        let ctx = ctx.clone();
        let db = self.db.clone();
        let mut mem = std::mem::take(memory);
        // Parsing and the WAL append (which may wait for fsync) run off the async workers.
        let job = move || {
            let result = match fetched {
                Ok((body, content_type)) => ctx
                    .write_page(&db, &body, &content_type, t, duration, &mut mem)
                    .1
                    .map_err(|e| ScrapeError::Append(e.0)),
                Err(e) => {
                    ctx.write_failed(&db, t, duration, Counts::default(), &mut mem);
                    Err(e)
                }
            };
            (mem, result)
        };
        let result = match tokio::task::spawn_blocking(job).await {
            Ok((mem, result)) => {
                *memory = mem;
                result
            }
            Err(e) => Err(ScrapeError::Append(format!("write task failed: {e}"))),
        };
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

    fn page_context(&self) -> PageContext {
        PageContext::new(self.cfg.clone(), self.target.public_labels())
    }

    async fn fetch(&self, parsed: Option<&reqwest::Url>) -> Result<(Vec<u8>, String), ScrapeError> {
        let url = &self.target.url;
        let fail = |e: String| ScrapeError::Fetch(format!("Get {url:?}: {e}"));
        let req = match parsed {
            Some(u) => self.client.get(u.clone()),
            None => self.client.get(url),
        };
        let mut req = req
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
        // Sized once from the announced length (a hint, capped), not regrown chunk by chunk.
        let cap = match limit {
            0 => MAX_BODY_HINT,
            l => l.saturating_add(1).min(MAX_BODY_HINT),
        };
        let hint = resp.content_length().unwrap_or(0).min(cap);
        let mut body = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
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

    async fn end_of_run_staleness(&self, ctx: &Arc<PageContext>, memory: &mut LoopMemory, t: i64) {
        let ctx = ctx.clone();
        let db = self.db.clone();
        let mut mem = std::mem::take(memory);
        let done = tokio::task::spawn_blocking(move || {
            ctx.write_end_of_run(&db, t, &mut mem);
            mem
        })
        .await;
        if let Ok(mem) = done {
            *memory = mem;
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
    let key = crate::append::series_key(l)?;
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
