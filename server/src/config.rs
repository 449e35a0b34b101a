//! Server settings: plain data with documented defaults. The CLI fills them from
//! `strata.toml` (`[server]`) and flags; tests build them directly.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the server needs besides the engine's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to listen on (`server.listen`). Default: `127.0.0.1:8086`, InfluxDB's port,
    /// loopback only.
    pub listen: SocketAddr,
    /// Largest request body accepted, measured after gzip or snappy decompression
    /// (`server.max_body_bytes`). Default: 25 MiB, InfluxDB's limit.
    pub max_body_bytes: usize,
    /// Most lines (line protocol or text exposition) one request may carry
    /// (`server.max_lines_per_request`). Default: 1,000,000.
    pub max_lines_per_request: usize,
    /// Longest one query statement may run (`server.query_timeout`). Default: 60 s.
    pub query_timeout: Duration,
    /// Most series one statement may return (`server.max_series`). Default: 100,000.
    pub max_series: usize,
    /// Most rows one statement may return (`server.max_rows`). Default: 1,000,000.
    pub max_rows: usize,
    /// When set, write and query endpoints need this token (`server.auth_token`), given as
    /// `Authorization: Token X`, `Authorization: Bearer X`, HTTP basic with password X, or
    /// the `p=X` URL parameter. Default: none (no auth).
    pub auth_token: Option<String>,
    /// Seconds a client is told to wait (`Retry-After`) when writes are refused for
    /// overload. Default: 1.
    pub retry_after_secs: u32,
    /// How often the overload check runs. Default: 250 ms.
    pub overload_check_every: Duration,
    /// Longest a client may take to send a request body (`server.body_timeout`); a slower
    /// one gets 408 and its connection is closed, so slow clients cannot pin memory or
    /// workers. Default: 60 s.
    pub body_timeout: Duration,
    /// How far back a PromQL instant selector looks for a sample
    /// (`server.lookback_delta`, flag `--query.lookback-delta`). Default: 5 min, as
    /// Prometheus.
    pub lookback_delta: Duration,
    /// Most samples one PromQL query (or remote read) may load
    /// (`server.max_samples`, flag `--query.max-samples`). Default: 50,000,000, as
    /// Prometheus.
    pub promql_max_samples: usize,
    /// Scrape, evaluate rules and notify as a Prometheus server does, from this
    /// `prometheus.yml` (`--config.file`). Default: off.
    pub prometheus: Option<crate::prometheus::PrometheusSetup>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8086)),
            max_body_bytes: 25 << 20,
            max_lines_per_request: 1_000_000,
            query_timeout: Duration::from_secs(60),
            max_series: 100_000,
            max_rows: 1_000_000,
            auth_token: None,
            retry_after_secs: 1,
            overload_check_every: Duration::from_millis(250),
            body_timeout: Duration::from_secs(60),
            lookback_delta: Duration::from_secs(300),
            promql_max_samples: 50_000_000,
            prometheus: None,
        }
    }
}

impl Config {
    /// The query limits these settings give.
    pub fn limits(&self) -> strata_query::Limits {
        strata_query::Limits {
            max_series: self.max_series,
            max_rows: self.max_rows,
            timeout: Some(self.query_timeout),
        }
    }

    /// The PromQL evaluation settings these settings give.
    pub fn promql_options(&self) -> strata_query::promql::EvalOptions {
        strata_query::promql::EvalOptions {
            lookback_ms: i64::try_from(self.lookback_delta.as_millis()).unwrap_or(i64::MAX),
            max_samples: self.promql_max_samples,
            timeout: Some(self.query_timeout),
            ..strata_query::promql::EvalOptions::default()
        }
    }
}
