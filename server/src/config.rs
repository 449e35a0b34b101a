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
    /// Bytes of rows all running InfluxQL requests may hold at once
    /// (`server.query_max_memory`, `--query.max-memory`; 0: no limit). Default: 1 GiB.
    pub query_max_memory: u64,
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
    /// Longest a client may take to send a request's line and headers
    /// (`server.header_timeout`), counted from the connection's opening or from the first
    /// byte of a kept-alive connection's next request; a slower one gets 408 and is
    /// closed (slowloris). Default: 10 s.
    pub header_timeout: Duration,
    /// Longest a kept-alive connection may wait between requests (`server.idle_timeout`)
    /// before it is closed. Default: 60 s.
    pub idle_timeout: Duration,
    /// Most connections served at once (`server.max_connections`); one more is answered
    /// 503 with `Retry-After` and closed. Default: 4,096 (mind the process's file
    /// descriptor limit, often 1,024 by default: raise it with `ulimit -n`).
    pub max_connections: usize,
    /// At shutdown, longest the server waits for in-flight requests (queries are
    /// cancelled at once) before closing their connections (`server.shutdown_timeout`);
    /// then the database closes. Default: 10 s.
    pub shutdown_timeout: Duration,
    /// Scrape, evaluate rules and notify as a Prometheus server does, from this
    /// `prometheus.yml` (`--config.file`). Default: off.
    pub prometheus: Option<crate::prometheus::PrometheusSetup>,
    /// Prometheus' TSDB admin API (`delete_series`, `clean_tombstones`), as
    /// `--web.enable-admin-api` allows it in Prometheus. Default: off.
    pub enable_admin_api: bool,
    /// Membership in a cluster and the settings of cluster queries (`--cluster.etcd`,
    /// `--cluster.node`, …). Default: off (a single node).
    pub cluster: Option<strata_cluster::ClusterConfig>,
    /// TLS and users from a web configuration file in Prometheus' format
    /// (`server.web_config_file`, flag `--web.config.file`; see [`crate::web_config`]).
    /// Default: none (plain HTTP, no users).
    pub web_config_file: Option<std::path::PathBuf>,
    /// Require credentials (a user, or the token) on `/ping`, `/health`, `/ready`,
    /// `/metrics`, `/-/healthy` and `/-/ready` too (`server.auth_open_endpoints`, flag
    /// `--web.auth-open-endpoints`). Default: false (they stay open, as in Prometheus).
    pub auth_open_endpoints: bool,
    /// Results a subscriber's buffer holds before the subscriber is dropped as too slow
    /// (`--subscribe.buffer`). Default: 16.
    pub subscribe_buffer: usize,
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
            query_max_memory: 1 << 30,
            auth_token: None,
            retry_after_secs: 1,
            overload_check_every: Duration::from_millis(250),
            body_timeout: Duration::from_secs(60),
            lookback_delta: Duration::from_secs(300),
            promql_max_samples: 50_000_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            shutdown_timeout: Duration::from_secs(10),
            prometheus: None,
            enable_admin_api: false,
            cluster: None,
            subscribe_buffer: 16,
            web_config_file: None,
            auth_open_endpoints: false,
        }
    }
}

impl Config {
    /// The bounds on connections these settings give.
    pub(crate) fn connection_bounds(&self) -> crate::conn::Bounds {
        crate::conn::Bounds {
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            shutdown_timeout: self.shutdown_timeout,
            retry_after_secs: self.retry_after_secs,
        }
    }

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
