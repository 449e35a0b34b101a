//! The server's own counters and the `/metrics` page (Prometheus text format 0.0.4).
//! Every metric is listed, with its meaning, in docs/SERVER.md.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use strata_engine::metrics::HistogramSnapshot;
use strata_engine::{Db, TierStats};

/// Upper bounds (seconds) of the query latency buckets.
const QUERY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// What a write endpoint accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// `/write`.
    LineProtocol,
    /// `/api/v1/write`.
    RemoteWrite,
    /// `/api/v1/import/prometheus`.
    PromText,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::LineProtocol => "line_protocol",
            Protocol::RemoteWrite => "prometheus_remote_write",
            Protocol::PromText => "prometheus_text",
        }
    }
}

/// Counters shared by every request.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    /// (endpoint, status) → requests.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// protocol → (points stored, lines or series refused, bytes received after decoding).
    writes: Mutex<BTreeMap<Protocol, (u64, u64, u64)>>,
    query_buckets: [AtomicU64; QUERY_BUCKETS.len()],
    query_count: AtomicU64,
    query_sum_nanos: AtomicU64,
}

impl ServerMetrics {
    /// Counts one answered request.
    pub fn request(&self, endpoint: &str, status: u16) {
        let mut m = self.requests.lock();
        match m.get_mut(&(endpoint.to_owned(), status)) {
            Some(n) => *n += 1,
            None => {
                m.insert((endpoint.to_owned(), status), 1);
            }
        }
    }

    /// Counts a write: points stored, lines refused, body bytes.
    pub fn wrote(&self, p: Protocol, points: usize, refused: usize, bytes: usize) {
        let mut m = self.writes.lock();
        let e = m.entry(p).or_default();
        e.0 += points as u64;
        e.1 += refused as u64;
        e.2 += bytes as u64;
    }

    /// Records one query's latency.
    pub fn query_took(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (b, &le) in self.query_buckets.iter().zip(&QUERY_BUCKETS) {
            if s <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.query_count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.query_sum_nanos.fetch_add(ns, Ordering::Relaxed);
    }

    fn query_histogram(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: QUERY_BUCKETS
                .iter()
                .zip(&self.query_buckets)
                .map(|(&le, b)| (le, b.load(Ordering::Relaxed)))
                .collect(),
            count: self.query_count.load(Ordering::Relaxed),
            sum_seconds: self.query_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    /// The `/metrics` page. `db` is `None` while the database is opening.
    pub fn render(&self, db: Option<&Db>, uptime: Duration, overloaded: bool) -> String {
        let mut out = String::with_capacity(4096);
        let o = &mut out;
        header(
            o,
            "strata_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
        );
        let _ = writeln!(o, "strata_uptime_seconds {}", uptime.as_secs_f64());
        header(
            o,
            "strata_ready",
            "gauge",
            "1 once the database is open (WAL replayed), else 0.",
        );
        let _ = writeln!(o, "strata_ready {}", u8::from(db.is_some()));
        header(
            o,
            "strata_overloaded",
            "gauge",
            "1 while writes are refused with 503 for overload.",
        );
        let _ = writeln!(o, "strata_overloaded {}", u8::from(overloaded));

        header(
            o,
            "strata_http_requests_total",
            "counter",
            "HTTP requests answered, by endpoint and status.",
        );
        for ((endpoint, status), n) in self.requests.lock().iter() {
            let _ = writeln!(
                o,
                "strata_http_requests_total{{endpoint=\"{}\",status=\"{status}\"}} {n}",
                escape(endpoint)
            );
        }
        let writes = self.writes.lock().clone();
        header(
            o,
            "strata_points_written_total",
            "counter",
            "Points (field values) stored, by protocol.",
        );
        for (p, (points, _, _)) in &writes {
            let _ = writeln!(
                o,
                "strata_points_written_total{{protocol=\"{}\"}} {points}",
                p.label()
            );
        }
        header(
            o,
            "strata_lines_rejected_total",
            "counter",
            "Lines (remote write: series) refused, by protocol.",
        );
        for (p, (_, refused, _)) in &writes {
            let _ = writeln!(
                o,
                "strata_lines_rejected_total{{protocol=\"{}\"}} {refused}",
                p.label()
            );
        }
        header(
            o,
            "strata_write_bytes_total",
            "counter",
            "Write body bytes after decompression, by protocol.",
        );
        for (p, (_, _, bytes)) in &writes {
            let _ = writeln!(
                o,
                "strata_write_bytes_total{{protocol=\"{}\"}} {bytes}",
                p.label()
            );
        }
        histogram(
            o,
            "strata_query_duration_seconds",
            "Time to run one /query request (all its statements).",
            &self.query_histogram(),
        );

        let Some(db) = db else { return out };
        let tiers = db.tier_stats();
        let stats = db.stats();
        let m = db.metrics();
        let each = |o: &mut String, name: &str, help: &str, f: &dyn Fn(&TierStats) -> u64| {
            header(o, name, "gauge", help);
            for (t, s) in [
                ("hot", &tiers.hot),
                ("warm", &tiers.warm),
                ("cold", &tiers.cold),
            ] {
                let _ = writeln!(o, "{name}{{tier=\"{t}\"}} {}", f(s));
            }
        };
        each(
            o,
            "strata_tier_bytes",
            "Bytes per tier: heap bytes for hot, file bytes for warm and cold.",
            &|s| s.bytes,
        );
        each(
            o,
            "strata_tier_points",
            "Points (field values) per tier.",
            &|s| s.points,
        );
        each(
            o,
            "strata_tier_files",
            "Segment files per tier (0 for hot).",
            &|s| s.files as u64,
        );
        each(
            o,
            "strata_tier_series",
            "Series with data in each tier.",
            &|s| s.series as u64,
        );
        header(o, "strata_series", "gauge", "Series known to the index.");
        let _ = writeln!(o, "strata_series {}", stats.series);
        header(
            o,
            "strata_index_bytes",
            "gauge",
            "Approximate heap bytes of the series index.",
        );
        let _ = writeln!(o, "strata_index_bytes {}", stats.index_bytes);
        header(o, "strata_wal_files", "gauge", "Live WAL files.");
        let _ = writeln!(o, "strata_wal_files {}", tiers.wal_files);
        header(
            o,
            "strata_wal_bytes",
            "gauge",
            "Bytes in live WAL files (not yet checkpointed into segments).",
        );
        let _ = writeln!(o, "strata_wal_bytes {}", tiers.wal_bytes);
        histogram(
            o,
            "strata_wal_fsync_duration_seconds",
            "Latency of each WAL fsync (one per commit group under fsync=always).",
            &m.wal_fsync,
        );
        header(
            o,
            "strata_rotations_total",
            "counter",
            "Rotations of hot data into warm segments since the database opened.",
        );
        let _ = writeln!(o, "strata_rotations_total {}", m.rotations);
        header(
            o,
            "strata_compactions_total",
            "counter",
            "Compactions (warm merges, warm to cold) since the database opened.",
        );
        let _ = writeln!(o, "strata_compactions_total {}", m.compactions);
        header(
            o,
            "strata_compactions_redone_total",
            "counter",
            "Compactions built again under the manifest lock because a delete covering their inputs came while they ran.",
        );
        let _ = writeln!(
            o,
            "strata_compactions_redone_total {}",
            m.compactions_redone
        );
        header(
            o,
            "strata_series_limit_rejected_total",
            "counter",
            "Lines or samples refused because they would create a series beyond a limit (write.max_series_per_metric, write.max_new_series_per_minute).",
        );
        let _ = writeln!(
            o,
            "strata_series_limit_rejected_total{{limit=\"max_series_per_metric\"}} {}",
            m.series_limit_per_metric
        );
        let _ = writeln!(
            o,
            "strata_series_limit_rejected_total{{limit=\"max_new_series_per_minute\"}} {}",
            m.series_limit_per_minute
        );
        header(
            o,
            "strata_series_created_total",
            "counter",
            "Series created by writes since the database opened.",
        );
        let _ = writeln!(o, "strata_series_created_total {}", m.series_created);
        write_path(o, &m.write_path);
        out
    }
}

/// The write path's serialised sections (docs/SERVER.md, "Write path sections").
fn write_path(o: &mut String, w: &strata_engine::metrics::WritePathSnapshot) {
    header(
        o,
        "strata_write_batches_total",
        "counter",
        "Write batches committed by the engine (one per write request; a line-protocol body over 8 MiB is several).",
    );
    let _ = writeln!(o, "strata_write_batches_total {}", w.batches);
    header(
        o,
        "strata_write_batch_seconds_total",
        "counter",
        "Wall seconds write batches spent in the engine (parse, lookup, waits and serialised sections), summed over batches.",
    );
    let _ = writeln!(o, "strata_write_batch_seconds_total {}", w.batch_seconds);
    header(
        o,
        "strata_write_durable_wait_seconds_total",
        "counter",
        "Seconds write batches waited for the WAL thread to write their record under the fsync policy, summed.",
    );
    let _ = writeln!(
        o,
        "strata_write_durable_wait_seconds_total {}",
        w.durable_wait_seconds
    );
    type Value = fn(&strata_engine::metrics::SectionSnapshot) -> String;
    let kinds: [(&str, &str, Value); 3] = [
        (
            "strata_write_serial_seconds_total",
            "Seconds spent inside each serialised section of the write path (a lock or a single thread one write passes at a time).",
            |s| s.hold_seconds.to_string(),
        ),
        (
            "strata_write_lock_wait_seconds_total",
            "Seconds writes waited to enter each serialised section of the write path, summed over waiters.",
            |s| s.wait_seconds.to_string(),
        ),
        (
            "strata_write_serial_passes_total",
            "Passes through each serialised section: batches, or commit groups and fsyncs for the WAL thread's sections.",
            |s| s.count.to_string(),
        ),
    ];
    for (name, help, value) in kinds {
        header(o, name, "counter", help);
        for s in &w.sections {
            let _ = writeln!(o, "{name}{{section=\"{}\"}} {}", s.section.name(), value(s));
        }
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

fn histogram(o: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    header(o, name, "histogram", help);
    for (le, n) in &h.buckets {
        let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(o, "{name}_sum {}", h.sum_seconds);
    let _ = writeln!(o, "{name}_count {}", h.count);
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The cluster's and the subscriptions' part of `/metrics`.
pub fn cluster_text(state: &crate::app::AppState) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = String::new();
    let o = &mut out;
    header(
        o,
        "strata_subscribers",
        "gauge",
        "Open subscriptions (/api/v1/subscribe).",
    );
    let _ = writeln!(o, "strata_subscribers {}", state.subscribers.load(Relaxed));
    header(
        o,
        "strata_subscribers_dropped_total",
        "counter",
        "Subscribers dropped because their buffer (--subscribe.buffer) filled up unread.",
    );
    let _ = writeln!(
        o,
        "strata_subscribers_dropped_total {}",
        state.subscribers_dropped.load(Relaxed)
    );
    let Some(c) = state.cluster.read().clone() else {
        return out;
    };
    let view = c.members();
    header(
        o,
        "strata_cluster_members",
        "gauge",
        "Members in the cluster's member list as this node sees it.",
    );
    let _ = writeln!(o, "strata_cluster_members {}", view.members.len());
    header(
        o,
        "strata_cluster_membership_stale",
        "gauge",
        "1 while etcd cannot be reached and the last known member list is used.",
    );
    let _ = writeln!(
        o,
        "strata_cluster_membership_stale {}",
        u8::from(view.stale)
    );
    let m = &c.metrics;
    for (name, help, v) in [
        (
            "strata_cluster_queries_total",
            "Cluster queries answered by this node as front-end.",
            m.queries.load(Relaxed),
        ),
        (
            "strata_cluster_partial_answers_total",
            "Cluster answers that left a member out.",
            m.partial.load(Relaxed),
        ),
        (
            "strata_cluster_stale_answers_total",
            "Cluster answers given over the last known member list (etcd unreachable).",
            m.stale.load(Relaxed),
        ),
        (
            "strata_cluster_received_bytes_total",
            "Bytes of partial results received from members.",
            m.bytes_received.load(Relaxed),
        ),
    ] {
        header(o, name, "counter", help);
        let _ = writeln!(o, "{name} {v}");
    }
    header(
        o,
        "strata_cluster_member_failures_total",
        "counter",
        "Members left out of a cluster answer (down, past the deadline, or an error), by node.",
    );
    for (node, n) in m.failures() {
        let _ = writeln!(
            o,
            "strata_cluster_member_failures_total{{node=\"{}\"}} {n}",
            node.replace('\\', "\\\\").replace('"', "\\\"")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parses_as_prometheus_text() {
        let m = ServerMetrics::default();
        m.request("/write", 204);
        m.request("/write", 204);
        m.wrote(Protocol::LineProtocol, 10, 1, 100);
        m.query_took(Duration::from_millis(3));
        let page = m.render(None, Duration::from_secs(2), false);
        assert!(page.contains("strata_http_requests_total{endpoint=\"/write\",status=\"204\"} 2"));
        assert!(page.contains("strata_points_written_total{protocol=\"line_protocol\"} 10"));
        assert!(page.contains("strata_query_duration_seconds_bucket{le=\"0.005\"} 1"));
        let (_, errors) = strata_engine::ingest::prom_text::parse_page(page.as_bytes(), 0);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
