//! One fetched page into the database, as Prometheus 2.42's `scrapeLoop.append` and
//! `report` do: samples with the target's labels and `metric_relabel_configs` applied,
//! the limits, staleness markers for series that left the page, and the report series
//! (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`, `scrape_series_added`).
//!
//! # The fast path
//!
//! A text-format (0.0.4) sample line is looked up by its *spelling*: the bytes of its
//! metric name and label set exactly as the page wrote them, behind a 16-byte
//! fingerprint of everything else that decides its final series (the target's labels,
//! `honor_labels`, `metric_relabel_configs` and the label limits). The engine keeps the
//! spelling → series map ([`RawKind::Scrape`]); a target repeats its page in the same
//! order each time, so a known sample costs a comparison with the bytes of the previous
//! one, the parse of its value and timestamp, and two copies of its spelling (the cache
//! key and this scrape's list). Label parsing, target labels, relabelling and the limits
//! run only for a spelling not seen before, and a spelling that relabelling drops is
//! remembered by the loop so it is not relabelled again. OpenMetrics pages take the full
//! path (parse, relabel, series key) for every sample.
//!
//! # Durability
//!
//! A page's batch goes through the WAL before it is applied, like every write, but the
//! loop does not wait for its fsync ([`SampleWriter::defer_sync`]): nobody is waiting for
//! an acknowledgement, and the fsync, which follows within a second under
//! `fsync = always`, was a fifth of a scraping server's CPU at 1,000 targets. A crash of
//! the process loses nothing; power loss can take the last second of scraped samples (the
//! same Prometheus risks with its unsynced WAL pages).
//!
//! # Invariants
//!
//! - A page is stored whole or not at all: a parse error, a label limit or the sample
//!   limit discards the batch, and only staleness markers and the report are written (as
//!   Prometheus rolls back its appender).
//! - A spelling names one final series for one fingerprint. A loop's memory recorded
//!   under another fingerprint is discarded before use, as Prometheus starts a fresh
//!   scrape cache when a target's configuration changes.
//! - A staleness marker is never written for a series that has a sample in the same
//!   batch (two spellings of one series: the live one wins).

use crate::config::ScrapeConfig;
use crate::exposition;
use crate::relabel;
use rustc_hash::FxHashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use strata_engine::ingest::prom_text::{
    self, PageLine, parse_comment_line, parse_page_line, parse_value_and_timestamp,
    sample_series_span,
};
use strata_engine::model::SeriesKey;
use strata_engine::write::RejectReason;
use strata_engine::{Db, RawKind};
use strata_engine::{SampleWriter, SeriesHandle};
use strata_query::promql::{Labels, STALE_NAN_BITS};

/// A timestamp no sample can have: "the page gave none".
const NO_TS: i64 = i64::MIN;

/// The report series' names, in the order [`Report`] holds their values.
pub(crate) const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// Why a scrape failed after its page was fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct AppendError(pub String);

/// The counts a scrape reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Samples on the page.
    pub total: usize,
    /// Samples left after relabelling.
    pub added: usize,
    /// Series not in the previous successful scrape.
    pub series_added: usize,
}

/// What a loop remembers between scrapes.
#[derive(Debug, Default, Clone)]
pub struct LoopMemory {
    /// The [`PageContext::fingerprint`] the rest was recorded under.
    fingerprint: [u8; 16],
    /// Every series of the last successful scrape.
    last: Seen,
    /// Whether the tracked series of `last` are still live: false after a failed scrape
    /// (their staleness markers were written then) or before the first scrape.
    live: bool,
    /// Spellings `metric_relabel_configs` dropped.
    dropped: FxHashSet<Box<[u8]>>,
}

impl LoopMemory {
    /// Series of the last successful scrape (for tests and status).
    pub fn last_len(&self) -> usize {
        self.last.entries.len()
    }
}

/// The series of one scrape, as spelled, in page order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Seen {
    arena: Vec<u8>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: u32,
    len: u32,
    /// Written without an explicit timestamp: goes stale when it leaves the page.
    tracked: bool,
    /// `true`: `arena` holds the final labels ([`encode_labels`]); `false`: the page's
    /// text spelling.
    labels: bool,
}

impl Seen {
    fn push(&mut self, spelling: &[u8], tracked: bool, labels: bool) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(spelling);
        self.entries.push(Entry {
            start,
            len: spelling.len() as u32,
            tracked,
            labels,
        });
    }

    fn spelling(&self, e: &Entry) -> &[u8] {
        &self.arena[e.start as usize..(e.start + e.len) as usize]
    }
}

/// This scrape's [`Seen`], built against the last scrape's: while the page repeats the
/// last one (the usual case) nothing is copied, only compared; from the first difference
/// on, the matched prefix is copied and the rest pushed.
struct SeenBuilder<'a> {
    last: &'a Seen,
    /// Entries of `last` this page has repeated so far, in order.
    matched: usize,
    /// The diverged list, once the page differs from `last`.
    cur: Option<Seen>,
}

impl<'a> SeenBuilder<'a> {
    fn new(last: &'a Seen) -> SeenBuilder<'a> {
        SeenBuilder {
            last,
            matched: 0,
            cur: None,
        }
    }

    fn push(&mut self, spelling: &[u8], tracked: bool, labels: bool) {
        if self.cur.is_none() {
            if let Some(e) = self.last.entries.get(self.matched)
                && e.tracked == tracked
                && e.labels == labels
                && self.last.spelling(e) == spelling
            {
                self.matched += 1;
                return;
            }
            self.cur = Some(self.diverged());
        }
        if let Some(cur) = &mut self.cur {
            cur.push(spelling, tracked, labels);
        }
    }

    /// The matched prefix of `last` as a list of its own, with room for a page like it.
    fn diverged(&self) -> Seen {
        let entries = &self.last.entries[..self.matched];
        let end = entries.last().map_or(0, |e| (e.start + e.len) as usize);
        let mut cur = Seen {
            arena: Vec::with_capacity(self.last.arena.len().max(end)),
            entries: Vec::with_capacity(self.last.entries.len().max(self.matched)),
        };
        cur.arena.extend_from_slice(&self.last.arena[..end]);
        cur.entries.extend_from_slice(entries);
        cur
    }

    /// `None` when this scrape's list equals the last one's.
    fn finish(self) -> Option<Seen> {
        match self.cur {
            Some(cur) => Some(cur),
            None if self.matched == self.last.entries.len() => None,
            None => Some(self.diverged()),
        }
    }
}

/// Final labels as bytes: `name 0xff value 0xff` per label, in order. 0xff never occurs
/// in UTF-8, so the encoding is unambiguous.
fn encode_labels(l: &Labels, out: &mut Vec<u8>) {
    out.clear();
    for (k, v) in &l.0 {
        out.extend_from_slice(k.as_bytes());
        out.push(0xff);
        out.extend_from_slice(v.as_bytes());
        out.push(0xff);
    }
}

fn decode_labels(b: &[u8]) -> Labels {
    let mut parts = b.split(|&c| c == 0xff);
    let mut pairs = Vec::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        if k.is_empty() && v.is_empty() {
            break;
        }
        pairs.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    Labels(pairs)
}

/// A label set as the engine's series key: `__name__` is the measurement, the other
/// labels are the tags. `None` without a name or when the key is not valid.
pub fn series_key(l: &Labels) -> Option<SeriesKey> {
    let name = l.get("__name__")?;
    let tags =
        l.0.iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| (k.as_str(), v.as_str()));
    SeriesKey::new(name, tags).ok()
}

/// A page sample's labels: the metric name as `__name__` among the key's tags.
pub(crate) fn key_labels(key: &SeriesKey) -> Labels {
    let tags = key.tags();
    let mut pairs = Vec::with_capacity(tags.len() + 1);
    let at = tags.partition_point(|(k, _)| k.as_str() < "__name__");
    pairs.extend_from_slice(&tags[..at]);
    pairs.push(("__name__".to_owned(), key.measurement().to_owned()));
    pairs.extend_from_slice(&tags[at..]);
    Labels(pairs)
}

/// Everything that decides how a target's page becomes series.
#[derive(Debug)]
pub(crate) struct PageContext {
    cfg: Arc<ScrapeConfig>,
    target_labels: Labels,
    fingerprint: [u8; 16],
    report_keys: Vec<Option<SeriesKey>>,
    /// The raw-cache spelling of each report series: the fingerprint, 0xff and the
    /// series' number (a page's spelling never starts with 0xff, which is not a metric
    /// name character nor valid UTF-8).
    report_raw: Vec<[u8; 18]>,
}

/// The report of one scrape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report {
    pub up: bool,
    pub duration: f64,
    pub counts: Counts,
}

impl PageContext {
    pub(crate) fn new(cfg: Arc<ScrapeConfig>, target_labels: Labels) -> PageContext {
        let text = format!(
            "{:?}\u{0}{}\u{0}{:?}\u{0}{}\u{0}{}\u{0}{}",
            target_labels.0,
            cfg.honor_labels,
            cfg.metric_relabel_configs,
            cfg.label_limit,
            cfg.label_name_length_limit,
            cfg.label_value_length_limit,
        );
        let mut fingerprint = [0u8; 16];
        for (half, salt) in [(0usize, 0x5354_5241_5441_u64), (8, 0x5343_5241_5045_u64)] {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            salt.hash(&mut h);
            text.hash(&mut h);
            fingerprint[half..half + 8].copy_from_slice(&h.finish().to_le_bytes());
        }
        let report_keys = REPORT_NAMES
            .iter()
            .map(|name| {
                let mut l = target_labels.clone();
                l.set("__name__", name);
                series_key(&l)
            })
            .collect();
        let report_raw = (0..REPORT_NAMES.len())
            .map(|i| {
                let mut raw = [0xffu8; 18];
                raw[..16].copy_from_slice(&fingerprint);
                raw[17] = i as u8;
                raw
            })
            .collect();
        PageContext {
            cfg,
            target_labels,
            fingerprint,
            report_keys,
            report_raw,
        }
    }

    /// The memory of a loop with another configuration is of no use here.
    fn adopt(&self, memory: &mut LoopMemory) {
        if memory.fingerprint != self.fingerprint {
            *memory = LoopMemory {
                fingerprint: self.fingerprint,
                ..LoopMemory::default()
            };
        }
    }

    /// Stores a fetched page at `t_ms` with its report, or (when the page fails) the
    /// staleness markers of the last scrape and a report with `up` 0. Returns the counts
    /// and the page's error.
    pub(crate) fn write_page(
        &self,
        db: &Db,
        body: &[u8],
        content_type: &str,
        t_ms: i64,
        duration: f64,
        memory: &mut LoopMemory,
    ) -> (Counts, Result<(), AppendError>) {
        self.adopt(memory);
        let t_ns = t_ms.saturating_mul(1_000_000);
        let mut counts = Counts::default();
        // The last page's shape sizes this one's buffers.
        let n = memory.last.entries.len() + REPORT_NAMES.len();
        let mut w = db.sample_writer_with_capacity(n, n);
        w.defer_sync();
        let mut seen = SeenBuilder::new(&memory.last);
        let mut used = Vec::with_capacity(n);
        let openmetrics = content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text");
        let page = if openmetrics {
            self.append_openmetrics(&mut w, body, t_ns, &mut seen, &mut used, &mut counts)
        } else {
            let dropped = &mut memory.dropped;
            self.append_text(
                &mut w,
                body,
                t_ns,
                dropped,
                &mut seen,
                &mut used,
                &mut counts,
            )
        };
        if let Err(e) = page {
            drop(w);
            self.write_failed(db, t_ms, duration, counts, memory);
            return (counts, Err(e));
        }
        let cur = seen.finish();
        counts.series_added = match &cur {
            // The same series as the last scrape: nothing went stale, nothing was added.
            None => 0,
            Some(cur) => self.stale_and_added(&mut w, t_ns, memory, cur, &used),
        };
        self.report(
            &mut w,
            t_ns,
            Report {
                up: true,
                duration,
                counts,
            },
        );
        log_write(w.finish());
        if let Some(cur) = cur {
            memory.last = cur;
        }
        memory.live = true;
        (counts, Ok(()))
    }

    /// A failed scrape: every live series of the last one goes stale, `up` is 0.
    pub(crate) fn write_failed(
        &self,
        db: &Db,
        t_ms: i64,
        duration: f64,
        counts: Counts,
        memory: &mut LoopMemory,
    ) {
        self.adopt(memory);
        let t_ns = t_ms.saturating_mul(1_000_000);
        let mut w = db.sample_writer();
        w.defer_sync();
        self.all_stale(&mut w, t_ns, memory);
        self.report(
            &mut w,
            t_ns,
            Report {
                up: false,
                duration,
                counts,
            },
        );
        log_write(w.finish());
    }

    /// The target went away: its series and its report series go stale.
    pub(crate) fn write_end_of_run(&self, db: &Db, t_ms: i64, memory: &mut LoopMemory) {
        self.adopt(memory);
        let t_ns = t_ms.saturating_mul(1_000_000);
        let mut w = db.sample_writer();
        w.defer_sync();
        self.all_stale(&mut w, t_ns, memory);
        let stale = f64::from_bits(STALE_NAN_BITS);
        for i in 0..self.report_keys.len() {
            if let Some(Ok(h)) = self.report_series(&mut w, i) {
                w.sample(0, h, t_ns, stale);
            }
        }
        log_write(w.finish());
    }

    /// Report series `i` (of [`REPORT_NAMES`]) for samples, found by its raw spelling
    /// after the first page; `None` when the target's labels make no valid key.
    fn report_series(
        &self,
        w: &mut SampleWriter<'_>,
        i: usize,
    ) -> Option<Result<SeriesHandle, RejectReason>> {
        let key = self.report_keys.get(i)?.as_ref()?;
        let raw = self.report_raw.get(i)?;
        Some(w.series(RawKind::Scrape, raw, || Ok(key.clone())))
    }

    fn all_stale(&self, w: &mut SampleWriter<'_>, t_ns: i64, memory: &mut LoopMemory) {
        if !memory.live {
            return;
        }
        memory.live = false;
        let stale = f64::from_bits(STALE_NAN_BITS);
        let mut done = FxHashSet::default();
        for e in memory.last.entries.iter().filter(|e| e.tracked) {
            let spelling = memory.last.spelling(e);
            if !done.insert(spelling) {
                continue;
            }
            if let Some(key) = self.final_key(spelling, e.labels)
                && let Ok(h) = w.series_key(&key)
            {
                w.sample(0, h, t_ns, stale);
            }
        }
    }

    fn report(&self, w: &mut SampleWriter<'_>, t_ns: i64, r: Report) {
        let values = [
            if r.up { 1.0 } else { 0.0 },
            r.duration,
            r.counts.total as f64,
            r.counts.added as f64,
            r.counts.series_added as f64,
        ];
        for (i, v) in values.into_iter().enumerate() {
            if let Some(Ok(h)) = self.report_series(w, i) {
                w.sample(0, h, t_ns, v);
            }
        }
    }

    /// Staleness markers for the tracked series of the last scrape that this one does not
    /// have; returns how many series this scrape has that the last successful one did not.
    fn stale_and_added(
        &self,
        w: &mut SampleWriter<'_>,
        t_ns: i64,
        memory: &LoopMemory,
        cur: &Seen,
        used: &[bool],
    ) -> usize {
        if memory.last == *cur {
            // The usual case: the same page as last time.
            return 0;
        }
        let last: FxHashSet<&[u8]> = memory
            .last
            .entries
            .iter()
            .map(|e| memory.last.spelling(e))
            .collect();
        let mut added = FxHashSet::default();
        for e in &cur.entries {
            let s = cur.spelling(e);
            if !last.contains(s) {
                added.insert(s);
            }
        }
        if memory.live {
            let now: FxHashSet<&[u8]> = cur
                .entries
                .iter()
                .filter(|e| e.tracked)
                .map(|e| cur.spelling(e))
                .collect();
            let stale = f64::from_bits(STALE_NAN_BITS);
            let mut done = FxHashSet::default();
            for e in memory.last.entries.iter().filter(|e| e.tracked) {
                let s = memory.last.spelling(e);
                if now.contains(s) || !done.insert(s) {
                    continue;
                }
                let Some(key) = self.final_key(s, e.labels) else {
                    continue;
                };
                if let Ok(h) = w.series_key(&key)
                    && !used.get(h.index()).copied().unwrap_or(false)
                {
                    w.sample(0, h, t_ns, stale);
                }
            }
        }
        added.len()
    }

    /// The final series a remembered spelling was written to.
    fn final_key(&self, spelling: &[u8], labels: bool) -> Option<SeriesKey> {
        let l = if labels {
            decode_labels(spelling)
        } else {
            let mut line = spelling.to_vec();
            line.extend_from_slice(b" 0");
            match parse_page_line(&line, 1, 0) {
                Ok(PageLine::Sample { series, .. }) => self.relabel(&series).ok()??,
                _ => return None,
            }
        };
        series_key(&l)
    }

    /// A page sample's final labels: target labels attached, `metric_relabel_configs`
    /// applied (`None`: dropped), the label limits checked.
    fn relabel(&self, page: &SeriesKey) -> Result<Option<Labels>, AppendError> {
        self.relabel_labels(key_labels(page))
    }

    fn relabel_labels(&self, page: Labels) -> Result<Option<Labels>, AppendError> {
        let l = mutate_sample_labels(page, &self.target_labels, self.cfg.honor_labels);
        let Some(l) = relabel::process(&l, &self.cfg.metric_relabel_configs) else {
            return Ok(None);
        };
        self.check_label_limits(&l)?;
        Ok(Some(l))
    }

    fn count_added(&self, counts: &mut Counts) -> Result<(), AppendError> {
        counts.added += 1;
        if self.cfg.sample_limit > 0 && counts.added as u64 > self.cfg.sample_limit {
            return Err(AppendError("sample limit exceeded".into()));
        }
        Ok(())
    }

    fn timestamp(&self, page_ts_ns: i64, t_ns: i64) -> (i64, bool) {
        if page_ts_ns != NO_TS && self.cfg.honor_timestamps {
            (page_ts_ns, false)
        } else {
            (t_ns, true)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn append_text(
        &self,
        w: &mut SampleWriter<'_>,
        body: &[u8],
        t_ns: i64,
        dropped_spellings: &mut FxHashSet<Box<[u8]>>,
        cur: &mut SeenBuilder<'_>,
        used: &mut Vec<bool>,
        counts: &mut Counts,
    ) -> Result<(), AppendError> {
        let mut key_buf = Vec::with_capacity(128);
        key_buf.extend_from_slice(&self.fingerprint);
        for (no, line, text) in prom_text::lines_with_text(body) {
            match line.iter().find(|&&b| b != b' ' && b != b'\t') {
                None => continue,
                Some(b'#') => {
                    parse_comment_line(line, text, no).map_err(|e| AppendError(e.to_string()))?;
                    continue;
                }
                Some(_) => {}
            }
            let parsed = sample_series_span(line).and_then(|(start, end)| {
                parse_value_and_timestamp(line, text, end, NO_TS).map(|vt| (start, end, vt))
            });
            let Some((start, end, (value, page_ts))) = parsed else {
                // Not a well-formed sample: the full parse says why.
                return match parse_page_line(line, no, NO_TS) {
                    Err(e) => Err(AppendError(e.to_string())),
                    Ok(_) => Err(AppendError(format!("line {no}: sample could not be read"))),
                };
            };
            counts.total += 1;
            let spelling = &line[start..end];
            key_buf.truncate(self.fingerprint.len());
            key_buf.extend_from_slice(spelling);
            let mut dropped = false;
            let mut failed = None;
            let resolved = w.series(RawKind::Scrape, &key_buf, || {
                if dropped_spellings.contains(spelling) {
                    dropped = true;
                    return Err(RejectReason::Invalid("dropped by relabelling".into()));
                }
                let series = match parse_page_line(line, no, NO_TS) {
                    Ok(PageLine::Sample { series, .. }) => series,
                    Ok(PageLine::Nothing) => {
                        failed = Some(AppendError(format!("line {no}: not a sample")));
                        return Err(RejectReason::Invalid("not a sample".into()));
                    }
                    Err(e) => {
                        let reason = e.reason.clone();
                        failed = Some(AppendError(e.to_string()));
                        return Err(RejectReason::Invalid(reason));
                    }
                };
                match self.relabel(&series) {
                    Ok(Some(l)) => series_key(&l).ok_or_else(|| {
                        RejectReason::Invalid("no metric name after relabelling".into())
                    }),
                    Ok(None) => {
                        dropped = true;
                        Err(RejectReason::Invalid("dropped by relabelling".into()))
                    }
                    Err(e) => {
                        failed = Some(e);
                        Err(RejectReason::Invalid("label limit".into()))
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            if dropped {
                if !dropped_spellings.contains(spelling) {
                    dropped_spellings.insert(spelling.into());
                }
                continue;
            }
            self.count_added(counts)?;
            let (ts, tracked) = self.timestamp(page_ts, t_ns);
            cur.push(spelling, tracked, false);
            match resolved {
                Ok(h) => {
                    mark(used, h.index());
                    w.sample(no, h, ts, value);
                }
                Err(e) => w.reject(no, e),
            }
        }
        Ok(())
    }

    fn append_openmetrics(
        &self,
        w: &mut SampleWriter<'_>,
        body: &[u8],
        t_ns: i64,
        cur: &mut SeenBuilder<'_>,
        used: &mut Vec<bool>,
        counts: &mut Counts,
    ) -> Result<(), AppendError> {
        let samples =
            exposition::openmetrics::parse(body).map_err(|e| AppendError(e.to_string()))?;
        counts.total = samples.len();
        let mut spelling = Vec::new();
        for (i, s) in samples.into_iter().enumerate() {
            let Some(l) = self.relabel_labels(s.labels)? else {
                continue;
            };
            self.count_added(counts)?;
            let page_ts = s
                .ts_ms
                .and_then(|ms| ms.checked_mul(1_000_000))
                .unwrap_or(NO_TS);
            let (ts, tracked) = self.timestamp(page_ts, t_ns);
            encode_labels(&l, &mut spelling);
            cur.push(&spelling, tracked, true);
            let Some(key) = series_key(&l) else {
                continue;
            };
            match w.series_key(&key) {
                Ok(h) => {
                    mark(used, h.index());
                    w.sample(i + 1, h, ts, s.value);
                }
                Err(e) => w.reject(i + 1, e),
            }
        }
        Ok(())
    }

    fn check_label_limits(&self, l: &Labels) -> Result<(), AppendError> {
        let name: String = l.get("__name__").unwrap_or("").chars().take(50).collect();
        let c = &self.cfg;
        if c.label_limit > 0 && l.0.len() as u64 > c.label_limit {
            return Err(AppendError(format!(
                "label_limit exceeded (metric: {name}, number of labels: {}, limit: {})",
                l.0.len(),
                c.label_limit
            )));
        }
        for (k, v) in &l.0 {
            if c.label_name_length_limit > 0 && k.len() as u64 > c.label_name_length_limit {
                let short: String = k.chars().take(50).collect();
                return Err(AppendError(format!(
                    "label_name_length_limit exceeded (metric: {name}, label name: {short}, length: {}, limit: {})",
                    k.len(),
                    c.label_name_length_limit
                )));
            }
            if c.label_value_length_limit > 0 && v.len() as u64 > c.label_value_length_limit {
                let short: String = v.chars().take(50).collect();
                return Err(AppendError(format!(
                    "label_value_length_limit exceeded (metric: {name}, label value: {short}, length: {}, limit: {})",
                    v.len(),
                    c.label_value_length_limit
                )));
            }
        }
        Ok(())
    }
}

fn mark(used: &mut Vec<bool>, i: usize) {
    if i >= used.len() {
        used.resize(i + 1, false);
    }
    used[i] = true;
}

fn log_write(r: strata_engine::error::Result<strata_engine::write::WriteSummary>) {
    match r {
        Ok(summary) => {
            if let Some(r) = summary.rejected.first() {
                tracing::debug!(
                    "{} scraped samples refused, first: {r}",
                    summary.rejected.len()
                );
            }
        }
        Err(e) => tracing::warn!("writing scraped samples failed: {e}"),
    }
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

    fn seen(items: &[(&str, bool)]) -> Seen {
        let mut s = Seen::default();
        for (sp, tracked) in items {
            s.push(sp.as_bytes(), *tracked, false);
        }
        s
    }

    fn built(last: &Seen, items: &[(&str, bool)]) -> Option<Seen> {
        let mut b = SeenBuilder::new(last);
        for (sp, tracked) in items {
            b.push(sp.as_bytes(), *tracked, false);
        }
        b.finish()
    }

    #[test]
    fn seen_builder_copies_only_a_different_page() {
        let last = seen(&[("a", true), ("b", true), ("c", false)]);
        assert_eq!(
            built(&last, &[("a", true), ("b", true), ("c", false)]),
            None
        );
        for page in [
            &[("a", true), ("b", true)][..],
            &[("a", true), ("b", true), ("c", false), ("d", true)][..],
            &[("a", true), ("x", true), ("c", false)][..],
            &[("a", true), ("b", true), ("c", true)][..],
            &[("b", true), ("a", true), ("c", false)][..],
            &[][..],
        ] {
            assert_eq!(built(&last, page), Some(seen(page)), "{page:?}");
        }
        assert_eq!(built(&Seen::default(), &[]), None);
        assert_eq!(
            built(&Seen::default(), &[("a", true)]),
            Some(seen(&[("a", true)]))
        );
    }
}
