//! Settings: defaults ← `strata.toml` ← command-line flags, into `engine::Options`.
//!
//! The file is `--config FILE`, or else `strata.toml` in the data directory if present.
//! Every key is optional:
//!
//! ```toml
//! retention = "30d"            # drop data older than this ("forever" by default)
//!                              # or, with per-measurement rules, a table (instead):
//!                              # [retention]
//!                              # default = "30d"         # measurements no rule matches
//!                              # [[retention.rule]]      # tried in order, first match wins
//!                              # match = "cpu_.*"        # anchored regex (or measurement = "cpu")
//!                              # raw = "7d"              # "forever" keeps everything
//! rotation_interval = "1m"     # how often hot data is checked for rotation
//! index_image_interval = "10m" # rewrite the index image after segments change (0s: at close only)
//! compaction_threads = 0       # threads of one compaction; 0: all cores (serve: half)
//! [hot]
//! max_age = "5m"               # hot data older than this moves to warm
//! max_bytes = "256MiB"         # above this, the oldest hot data moves to warm (default:
//!                              # an eighth of the memory, at least 256MiB)
//! [warm]
//! max_age = "24h"              # warm data older than this moves to cold
//! [cold]
//! zstd_level = 12              # zstd level of cold blocks (1..=22)
//! cache_bytes = "256MiB"       # decoded cold blocks kept in memory for queries (0: none)
//! rollup_cache_bytes = "256MiB" # decoded rollup stripes kept in memory for queries (0: none)
//! [wal]
//! fsync = "always"             # always | interval[:1s] | never
//! segment_bytes = "64MiB"      # size at which the WAL starts a new file (up to 8x later
//!                              # while series definitions are over a quarter of it)
//! recovery = "strict"          # strict | skip: WAL damage that is not a torn tail
//! [write]
//! max_fields_per_line = 10000  # wider lines are refused per line
//! max_tags_per_line = 1000     # lines with more tags are refused per line
//! max_series_per_metric = 0    # series per measurement (metric name); more are refused (0: no limit)
//! max_new_series_per_minute = 0  # series created per minute; more are refused (0: no limit)
//! [server]                     # `strata serve` only
//! listen = "127.0.0.1:8086"    # address and port
//! max_body_bytes = "25MiB"     # request body limit, after decompression
//! max_lines_per_request = 1000000
//! query_timeout = "60s"        # per statement
//! body_timeout = "60s"         # a request body must arrive within this (slow clients: 408)
//! header_timeout = "10s"       # request line and headers must arrive within this (408)
//! idle_timeout = "60s"         # a kept-alive connection idle this long is closed
//! max_connections = 4096       # one more is answered 503 with Retry-After
//! shutdown_timeout = "10s"     # at shutdown, longest wait for in-flight requests
//! max_series = 100000          # per statement
//! max_rows = 1000000           # per statement
//! query_max_memory = "1GiB"  # rows all running InfluxQL queries may hold (0: no limit)
//! lookback_delta = "5m"        # PromQL: how far back an instant selector looks
//! max_samples = 50000000       # PromQL: samples one query may load (422 above)
//! auth_token = "secret"        # unset: no auth
//! web_config_file = "web.yml"  # TLS and users, Prometheus' format (relative: to this file)
//! auth_open_endpoints = false  # true: /ping, /health, /ready, /metrics need auth too
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use strata_engine::options::humanish_duration;
use strata_engine::{FsyncPolicy, Options, RetentionRule};

/// Flags shared by every command that opens a data directory.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// The data directory (created if missing).
    #[arg(long, short = 'd', value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Settings file (default: DIR/strata.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// WAL fsync policy: always, interval[:DURATION] or never [default: always].
    #[arg(long, value_parser = parse_fsync)]
    pub fsync: Option<FsyncPolicy>,
    /// Hot data older than this moves to warm, e.g. 5m [default: 5m].
    #[arg(long, value_parser = parse_duration)]
    pub hot_max_age: Option<Duration>,
    /// Hot-tier memory bound, e.g. 4GiB [default: an eighth of the memory, at least 256MiB].
    #[arg(long, value_parser = parse_bytes)]
    pub hot_max_bytes: Option<u64>,
    /// How often rotation runs, e.g. 1m; 0s disables it [default: 1m].
    #[arg(long, value_parser = parse_duration)]
    pub rotation_interval: Option<Duration>,
    /// At most how often the index image is rewritten after the segments changed, so that
    /// an open after a crash loads it, e.g. 10m; 0s: only at a clean close [default: 10m].
    #[arg(long, value_parser = parse_duration)]
    pub index_image_interval: Option<Duration>,
    /// Drop data older than this, e.g. 30d; "forever" keeps everything [default: forever].
    #[arg(long, value_parser = parse_retention)]
    pub retention: Option<Retention>,
    /// A retention rule PATTERN=DURATION, e.g. 'cpu_.*=7d': measurements whose whole name
    /// matches the regex keep their data this long ("forever" keeps everything). Repeat
    /// it for more rules, tried in order; given, these replace the file's rules
    /// [default: none].
    #[arg(long = "retention-rule", value_name = "PATTERN=DURATION", value_parser = parse_retention_rule)]
    pub retention_rules: Vec<RetentionRule>,
    /// A rollup rule PATTERN=INTERVAL[,RETENTION], e.g. 'cpu_.*=5m,1y': compaction into
    /// cold keeps count, sum, min, max, first and last (no quantile sketch; the file's
    /// `aggregates` can add it) of measurements whose whole name matches, per INTERVAL
    /// bucket, for RETENTION (forever when left out). Repeat it for more rules; given,
    /// these replace the file's [[rollup]] rules [default: none].
    #[arg(long = "rollup", value_name = "PATTERN=INTERVAL[,RETENTION]", value_parser = parse_rollup_rule)]
    pub rollups: Vec<strata_engine::rollup::RollupRule>,
    /// Warm data older than this moves to cold, e.g. 24h [default: 24h].
    #[arg(long, value_parser = parse_duration)]
    pub warm_max_age: Option<Duration>,
    /// WAL damage that is not a torn tail: strict (refuse to open) or skip (log it, skip
    /// the damaged records, open) [default: strict].
    #[arg(long, value_parser = parse_recovery)]
    pub wal_recovery: Option<strata_engine::wal::Recovery>,
    /// zstd level of cold blocks, 1..=22 [default: 12].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub cold_zstd_level: Option<i32>,
    /// Memory for decoded cold blocks kept between queries, e.g. 256MiB; 0 disables
    /// [default: 256MiB].
    #[arg(long, value_parser = parse_bytes)]
    pub cold_cache_bytes: Option<u64>,
    /// Memory for decoded rollup stripes kept between queries, e.g. 256MiB; 0 disables
    /// [default: 256MiB].
    #[arg(long, value_parser = parse_bytes)]
    pub rollup_cache_bytes: Option<u64>,
    /// Most fields one line may carry; wider lines are refused per line [default: 10000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_fields_per_line: Option<u64>,
    /// Most tags one line may carry; lines with more are refused per line [default: 1000].
    #[arg(long)]
    pub max_tags_per_line: Option<u64>,
    /// Most series one measurement (Prometheus metric name) may have; a line or sample that
    /// would create one more is refused, naming the metric and the limit (0: no limit)
    /// [default: 0].
    #[arg(long)]
    pub max_series_per_metric: Option<u64>,
    /// Most series created per minute (a token bucket); a line or sample that would create
    /// one beyond it is refused, naming its metric and the limit (0: no limit) [default: 0].
    #[arg(long)]
    pub max_new_series_per_minute: Option<u64>,
    /// Threads of one compaction; the output is the same whatever the count [default: all
    /// cores; `serve`: half of them, at least 1, leaving the rest to ingest and queries].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub compaction_threads: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// A duration, or a table with `default` and `[[retention.rule]]` (see
    /// [`apply_retention`]).
    retention: Option<toml::Value>,
    /// `[[rollup]]` tables (see [`rollup_rule`]).
    rollup: Option<toml::Value>,
    rotation_interval: Option<String>,
    index_image_interval: Option<String>,
    compaction_threads: Option<u64>,
    #[serde(default)]
    hot: HotSection,
    #[serde(default)]
    wal: WalSection,
    #[serde(default)]
    warm: WarmSection,
    #[serde(default)]
    cold: ColdSection,
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    write: WriteSection,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct WriteSection {
    max_fields_per_line: Option<u64>,
    max_tags_per_line: Option<u64>,
    max_series_per_metric: Option<u64>,
    max_new_series_per_minute: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    listen: Option<String>,
    max_body_bytes: Option<toml::Value>,
    max_lines_per_request: Option<u64>,
    query_timeout: Option<String>,
    body_timeout: Option<String>,
    header_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections: Option<u64>,
    shutdown_timeout: Option<String>,
    max_series: Option<u64>,
    max_rows: Option<u64>,
    query_max_memory: Option<toml::Value>,
    lookback_delta: Option<String>,
    max_samples: Option<u64>,
    auth_token: Option<String>,
    web_config_file: Option<PathBuf>,
    auth_open_endpoints: Option<bool>,
}

/// Flags of `strata serve` (each overrides the `[server]` key of the same name).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// Address and port to listen on [default: 127.0.0.1:8086].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Largest request body, after gzip/snappy decompression, e.g. 25MiB [default: 25MiB].
    #[arg(long, value_parser = parse_bytes)]
    pub max_body_bytes: Option<u64>,
    /// Most lines one write request may carry [default: 1000000].
    #[arg(long)]
    pub max_lines_per_request: Option<usize>,
    /// Longest one query statement may run, e.g. 60s [default: 60s].
    #[arg(long, value_parser = parse_duration)]
    pub query_timeout: Option<Duration>,
    /// Longest a client may take to send a request body, e.g. 60s [default: 60s].
    #[arg(long, value_parser = parse_duration)]
    pub body_timeout: Option<Duration>,
    /// Longest a client may take to send a request's line and headers, e.g. 10s
    /// [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,
    /// Longest a kept-alive connection may sit idle between requests, e.g. 60s
    /// [default: 60s].
    #[arg(long, value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Most connections served at once; one more gets 503 [default: 4096].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// At shutdown, longest wait for in-flight requests, e.g. 10s [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    pub shutdown_timeout: Option<Duration>,
    /// Most series one statement may return [default: 100000].
    #[arg(long)]
    pub max_series: Option<usize>,
    /// Most rows one statement may return [default: 1000000].
    #[arg(long)]
    pub max_rows: Option<usize>,
    /// Bytes of rows all running InfluxQL queries may hold at once; a query that would go
    /// past it is answered 503 [default: 1GiB; 0: no limit].
    #[arg(long = "query.max-memory", value_parser = parse_bytes)]
    pub query_max_memory: Option<u64>,
    /// Require this token on write, query and status endpoints [default: none].
    #[arg(long, value_name = "TOKEN")]
    pub auth_token: Option<String>,
    /// PromQL: how far back an instant selector looks for a sample, e.g. 5m
    /// [default: 5m] (Prometheus' flag of the same name).
    #[arg(long = "query.lookback-delta", value_parser = parse_duration)]
    pub lookback_delta: Option<Duration>,
    /// PromQL: most samples one query may load [default: 50000000] (Prometheus' flag of
    /// the same name).
    #[arg(long = "query.max-samples", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_samples: Option<u64>,
    /// TLS and users (bcrypt) from a web configuration file in Prometheus' format
    /// [default: none: plain HTTP, no users] (Prometheus' flag of the same name).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
    /// Require credentials (a user or the token) on /ping, /health, /ready, /metrics,
    /// /-/healthy and /-/ready too [default: they stay open].
    #[arg(long = "web.auth-open-endpoints")]
    pub auth_open_endpoints: bool,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct WarmSection {
    max_age: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct ColdSection {
    zstd_level: Option<i32>,
    cache_bytes: Option<toml::Value>,
    rollup_cache_bytes: Option<toml::Value>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct HotSection {
    max_age: Option<String>,
    max_bytes: Option<toml::Value>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct WalSection {
    fsync: Option<String>,
    recovery: Option<String>,
    segment_bytes: Option<toml::Value>,
}

/// Parses an fsync policy flag.
pub fn parse_fsync(s: &str) -> Result<FsyncPolicy, String> {
    FsyncPolicy::parse(s)
        .ok_or_else(|| format!("unknown fsync policy {s:?}: use always, interval[:1s] or never"))
}

/// Parses `strict` or `skip`.
pub fn parse_recovery(s: &str) -> Result<strata_engine::wal::Recovery, String> {
    match s {
        "strict" => Ok(strata_engine::wal::Recovery::Strict),
        "skip" => Ok(strata_engine::wal::Recovery::SkipDamaged),
        _ => Err(format!("unknown WAL recovery {s:?}: use strict or skip")),
    }
}

/// A retention setting: a duration, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<Duration>);

/// Parses `forever` (or `inf`, `0`) or a duration like `30d`.
pub fn parse_retention(s: &str) -> Result<Retention, String> {
    match s {
        "forever" | "inf" | "0" | "0s" => Ok(Retention(None)),
        _ => parse_duration(s).map(|d| Retention(Some(d))),
    }
}

/// Parses a `--retention-rule` flag: `PATTERN=DURATION` (the last `=` splits them).
pub fn parse_retention_rule(s: &str) -> Result<RetentionRule, String> {
    let (pattern, raw) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("{s:?}: use PATTERN=DURATION, e.g. 'cpu_.*=7d'"))?;
    let raw = parse_retention(raw)?.0;
    RetentionRule::regex(pattern, raw).map_err(|e| e.to_string())
}

/// Parses a `--rollup` flag: `PATTERN=INTERVAL[,RETENTION]`, every aggregate but the
/// quantile sketch kept.
pub fn parse_rollup_rule(s: &str) -> Result<strata_engine::rollup::RollupRule, String> {
    let (pattern, rest) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("expected PATTERN=INTERVAL[,RETENTION], got {s:?}"))?;
    let (interval, retention) = match rest.split_once(',') {
        Some((i, r)) => (i, parse_retention(r)?.0),
        None => (rest, None),
    };
    strata_engine::rollup::RollupRule::new(
        pattern,
        false,
        parse_duration(interval)?,
        strata_engine::rollup::Aggregates::EXACT,
        retention,
    )
    .map_err(|e| e.to_string())
}

/// Rule number `n` (from 1) of `[[rollup]]`: exactly one of `measurement` (an exact name)
/// or `match` (an anchored regex), `interval` (required), `aggregates` (names; default
/// all but `quantile`) and `retention` (how long the rollups are kept; default forever).
fn rollup_rule(n: usize, v: &toml::Value) -> Result<strata_engine::rollup::RollupRule, String> {
    use strata_engine::rollup::{Aggregates, RollupRule};
    let at = |key: &str, e: &str| format!("rollup #{n}: {key}: {e}");
    let toml::Value::Table(t) = v else {
        return Err(format!("rollup #{n}: expected a table"));
    };
    if let Some(k) = t.keys().find(|k| {
        !matches!(
            k.as_str(),
            "match" | "measurement" | "interval" | "aggregates" | "retention"
        )
    }) {
        return Err(at(
            k,
            "unknown key (use match or measurement, interval, aggregates, retention)",
        ));
    }
    let text = |key: &str| -> Result<Option<&str>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(at(key, "expected a string")),
        }
    };
    let interval = match text("interval")? {
        Some(s) => parse_duration(s).map_err(|e| at("interval", &e))?,
        None => return Err(at("interval", "missing: the bucket width, e.g. \"5m\"")),
    };
    let retention = match text("retention")? {
        Some(s) => parse_retention(s).map_err(|e| at("retention", &e))?.0,
        None => None,
    };
    let aggregates = match t.get("aggregates") {
        None => Aggregates::EXACT,
        Some(toml::Value::Array(a)) => {
            let names: Vec<&str> = a.iter().filter_map(|v| v.as_str()).collect();
            if names.len() != a.len() {
                return Err(at("aggregates", "expected names"));
            }
            Aggregates::parse(names).map_err(|e| at("aggregates", &e.to_string()))?
        }
        Some(_) => return Err(at("aggregates", "expected a list of names")),
    };
    let (pattern, exact) = match (text("match")?, text("measurement")?) {
        (Some(p), None) => (p, false),
        (None, Some(m)) => (m, true),
        _ => return Err(format!("rollup #{n}: exactly one of match or measurement")),
    };
    RollupRule::new(pattern, exact, interval, aggregates, retention)
        .map_err(|e| at("interval", &e.to_string()))
}

/// Applies the file's `retention` key: a duration (the global retention), or a table of
/// `default` (the global retention) and `rule`, an array of tables each with exactly one
/// of `measurement` (an exact name) or `match` (an anchored regex), and `raw` (how long
/// its raw data is kept). Errors name the key; rules count from 1, as refusals of late
/// writes number them.
fn apply_retention(o: &mut Options, v: &toml::Value) -> Result<(), String> {
    let table = match v {
        toml::Value::String(s) => {
            o.retention = parse_retention(s).map_err(|e| format!("retention: {e}"))?.0;
            return Ok(());
        }
        toml::Value::Table(t) => t,
        _ => {
            return Err(
                "retention: expected a duration such as \"30d\" or a table with default and [[retention.rule]]"
                    .into(),
            );
        }
    };
    for (key, value) in table {
        match (key.as_str(), value) {
            ("default", toml::Value::String(s)) => {
                o.retention = parse_retention(s)
                    .map_err(|e| format!("retention.default: {e}"))?
                    .0;
            }
            ("default", _) => {
                return Err("retention.default: expected a duration such as \"30d\"".into());
            }
            ("rule", toml::Value::Array(rules)) => {
                o.retention_rules = rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| retention_rule(i + 1, r))
                    .collect::<Result<_, _>>()?;
            }
            ("rule", _) => return Err("retention.rule: expected [[retention.rule]] tables".into()),
            (other, _) => {
                return Err(format!(
                    "retention.{other}: unknown key (use default and [[retention.rule]])"
                ));
            }
        }
    }
    Ok(())
}

/// Rule number `n` (from 1) of `[[retention.rule]]`.
fn retention_rule(n: usize, v: &toml::Value) -> Result<RetentionRule, String> {
    let at = |key: &str, e: &str| format!("retention.rule #{n}: {key}: {e}");
    let toml::Value::Table(t) = v else {
        return Err(format!("retention.rule #{n}: expected a table"));
    };
    let text = |key: &str| -> Result<Option<&str>, String> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(at(key, "expected a string")),
        }
    };
    if let Some(k) = t
        .keys()
        .find(|k| !matches!(k.as_str(), "match" | "measurement" | "raw"))
    {
        return Err(at(k, "unknown key (use match or measurement, and raw)"));
    }
    let raw = match text("raw")? {
        Some(s) => parse_retention(s).map_err(|e| at("raw", &e))?.0,
        None => {
            return Err(at(
                "raw",
                "missing: how long the raw data is kept, e.g. \"7d\"",
            ));
        }
    };
    match (text("match")?, text("measurement")?) {
        (Some(p), None) => RetentionRule::regex(p, raw).map_err(|e| at("match", &e.to_string())),
        (None, Some(m)) if !m.is_empty() => Ok(RetentionRule::exact(m, raw)),
        (None, Some(_)) => Err(at("measurement", "must not be empty")),
        (None, None) => Err(at(
            "match",
            "missing: give match (a regex) or measurement (a name)",
        )),
        (Some(_), Some(_)) => Err(at("match", "give match or measurement, not both")),
    }
}

/// Parses a duration like `500ms`, `30s`, `5m`, `1h`, `7d` (or `0`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humanish_duration(s).ok_or_else(|| {
        format!("{s:?} is not a duration: use e.g. 500ms, 30s, 5m, 1h, 7d, 2w or 1y")
    })
}

/// Parses a size like `256MiB`, `1GiB`, `500MB`, `4096` (bytes).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size: use e.g. 256MiB"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}: use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn toml_bytes(v: &toml::Value, key: &str) -> Result<u64, String> {
    match v {
        toml::Value::Integer(n) => {
            u64::try_from(*n).map_err(|_| format!("{key}: must not be negative"))
        }
        toml::Value::String(s) => parse_bytes(s).map_err(|e| format!("{key}: {e}")),
        _ => Err(format!("{key}: expected a size such as \"256MiB\"")),
    }
}

impl EngineArgs {
    /// The engine options these flags and the settings file give.
    pub fn options(&self) -> Result<Options, String> {
        let mut o = Options {
            hot_max_bytes: crate::machine::default_hot_max_bytes(crate::machine::memory_bytes()),
            ..Options::default()
        };
        if let Some(path) = self.config_path() {
            apply_file(&mut o, &path)?;
        }
        if let Some(f) = self.fsync {
            o.fsync = f;
        }
        if let Some(d) = self.hot_max_age {
            o.hot_max_age = d;
        }
        if let Some(b) = self.hot_max_bytes {
            o.hot_max_bytes = usize::try_from(b).unwrap_or(usize::MAX);
        }
        if let Some(d) = self.rotation_interval {
            o.rotation_interval = d;
        }
        if let Some(d) = self.index_image_interval {
            o.index_image_interval = d;
        }
        if let Some(r) = self.retention {
            o.retention = r.0;
        }
        if !self.retention_rules.is_empty() {
            o.retention_rules = self.retention_rules.clone();
        }
        if !self.rollups.is_empty() {
            o.rollups = self.rollups.clone();
        }
        if let Some(d) = self.warm_max_age {
            o.warm_max_age = d;
        }
        if let Some(r) = self.wal_recovery {
            o.wal_recovery = r;
        }
        if let Some(l) = self.cold_zstd_level {
            o.cold_zstd_level = l;
        }
        if let Some(b) = self.cold_cache_bytes {
            o.cold_cache_bytes = usize::try_from(b).unwrap_or(usize::MAX);
        }
        if let Some(b) = self.rollup_cache_bytes {
            o.rollup_cache_bytes = usize::try_from(b).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.max_fields_per_line {
            o.max_fields_per_line = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.max_tags_per_line {
            o.max_tags_per_line = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.max_series_per_metric {
            o.max_series_per_metric = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.max_new_series_per_minute {
            o.max_new_series_per_minute = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.compaction_threads {
            o.compaction_threads = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(o)
    }
}

impl EngineArgs {
    /// The settings file in force, if any.
    fn config_path(&self) -> Option<PathBuf> {
        match &self.config {
            Some(p) => Some(p.clone()),
            None => Some(self.data_dir.join("strata.toml")).filter(|p| p.is_file()),
        }
    }

    /// The server settings: defaults ← the file's `[server]` section ← `flags`.
    pub fn server_config(&self, flags: &ServerArgs) -> Result<strata_server::Config, String> {
        let mut c = strata_server::Config::default();
        if let Some(path) = self.config_path() {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let f: FileConfig =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let at = |e: String| format!("{}: {e}", path.display());
            let s = f.server;
            if let Some(l) = &s.listen {
                c.listen = l
                    .parse()
                    .map_err(|e| at(format!("server.listen: {l:?}: {e} (use ADDR:PORT)")))?;
            }
            if let Some(v) = &s.max_body_bytes {
                c.max_body_bytes =
                    usize::try_from(toml_bytes(v, "server.max_body_bytes").map_err(at)?)
                        .unwrap_or(usize::MAX);
            }
            if let Some(n) = s.max_lines_per_request {
                c.max_lines_per_request = usize::try_from(n).unwrap_or(usize::MAX);
            }
            if let Some(t) = &s.query_timeout {
                c.query_timeout =
                    parse_duration(t).map_err(|e| at(format!("server.query_timeout: {e}")))?;
            }
            if let Some(t) = &s.body_timeout {
                c.body_timeout =
                    parse_duration(t).map_err(|e| at(format!("server.body_timeout: {e}")))?;
            }
            if let Some(t) = &s.header_timeout {
                c.header_timeout =
                    parse_duration(t).map_err(|e| at(format!("server.header_timeout: {e}")))?;
            }
            if let Some(t) = &s.idle_timeout {
                c.idle_timeout =
                    parse_duration(t).map_err(|e| at(format!("server.idle_timeout: {e}")))?;
            }
            if let Some(n) = s.max_connections {
                if n == 0 {
                    return Err(at("server.max_connections: must be at least 1".into()));
                }
                c.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
            }
            if let Some(t) = &s.shutdown_timeout {
                c.shutdown_timeout =
                    parse_duration(t).map_err(|e| at(format!("server.shutdown_timeout: {e}")))?;
            }
            if let Some(n) = s.max_series {
                c.max_series = usize::try_from(n).unwrap_or(usize::MAX);
            }
            if let Some(n) = s.max_rows {
                c.max_rows = usize::try_from(n).unwrap_or(usize::MAX);
            }
            if let Some(v) = &s.query_max_memory {
                c.query_max_memory = toml_bytes(v, "server.query_max_memory").map_err(at)?;
            }
            if let Some(t) = &s.lookback_delta {
                c.lookback_delta =
                    parse_duration(t).map_err(|e| at(format!("server.lookback_delta: {e}")))?;
                if c.lookback_delta.is_zero() {
                    return Err(at("server.lookback_delta: must be more than 0".into()));
                }
            }
            if let Some(n) = s.max_samples {
                if n == 0 {
                    return Err(at("server.max_samples: must be at least 1".into()));
                }
                c.promql_max_samples = usize::try_from(n).unwrap_or(usize::MAX);
            }
            if let Some(t) = s.auth_token {
                c.auth_token = Some(t).filter(|t| !t.is_empty());
            }
            if let Some(f) = s.web_config_file {
                // Relative to the file that names it.
                c.web_config_file = Some(path.parent().unwrap_or(Path::new("")).join(f));
            }
            if let Some(b) = s.auth_open_endpoints {
                c.auth_open_endpoints = b;
            }
        }
        if let Some(l) = flags.listen {
            c.listen = l;
        }
        if let Some(b) = flags.max_body_bytes {
            c.max_body_bytes = usize::try_from(b).unwrap_or(usize::MAX);
        }
        if let Some(n) = flags.max_lines_per_request {
            c.max_lines_per_request = n;
        }
        if let Some(t) = flags.query_timeout {
            c.query_timeout = t;
        }
        if let Some(t) = flags.body_timeout {
            c.body_timeout = t;
        }
        if let Some(t) = flags.header_timeout {
            c.header_timeout = t;
        }
        if let Some(t) = flags.idle_timeout {
            c.idle_timeout = t;
        }
        if let Some(n) = flags.max_connections {
            c.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(t) = flags.shutdown_timeout {
            c.shutdown_timeout = t;
        }
        if let Some(t) = flags.lookback_delta {
            if t.is_zero() {
                return Err("--query.lookback-delta: must be more than 0".into());
            }
            c.lookback_delta = t;
        }
        if let Some(n) = flags.max_samples {
            c.promql_max_samples = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = flags.max_series {
            c.max_series = n;
        }
        if let Some(n) = flags.max_rows {
            c.max_rows = n;
        }
        if let Some(n) = flags.query_max_memory {
            c.query_max_memory = n;
        }
        if let Some(t) = &flags.auth_token {
            c.auth_token = Some(t.clone()).filter(|t| !t.is_empty());
        }
        if let Some(f) = &flags.web_config_file {
            c.web_config_file = Some(f.clone());
        }
        if flags.auth_open_endpoints {
            c.auth_open_endpoints = true;
        }
        Ok(c)
    }
}

fn apply_file(o: &mut Options, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let f: FileConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let at = |e: String| format!("{}: {e}", path.display());
    if let Some(v) = &f.retention {
        apply_retention(o, v).map_err(at)?;
    }
    match &f.rollup {
        None => {}
        Some(toml::Value::Array(rules)) => {
            o.rollups = rules
                .iter()
                .enumerate()
                .map(|(i, r)| rollup_rule(i + 1, r))
                .collect::<Result<_, _>>()
                .map_err(at)?;
        }
        Some(_) => return Err(at("rollup: expected [[rollup]] tables".into())),
    }
    if let Some(n) = f.compaction_threads {
        o.compaction_threads = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(s) = &f.rotation_interval {
        o.rotation_interval =
            parse_duration(s).map_err(|e| at(format!("rotation_interval: {e}")))?;
    }
    if let Some(s) = &f.index_image_interval {
        o.index_image_interval =
            parse_duration(s).map_err(|e| at(format!("index_image_interval: {e}")))?;
    }
    if let Some(s) = &f.hot.max_age {
        o.hot_max_age = parse_duration(s).map_err(|e| at(format!("hot.max_age: {e}")))?;
    }
    if let Some(v) = &f.hot.max_bytes {
        o.hot_max_bytes =
            usize::try_from(toml_bytes(v, "hot.max_bytes").map_err(at)?).unwrap_or(usize::MAX);
    }
    if let Some(s) = &f.wal.fsync {
        o.fsync = parse_fsync(s).map_err(|e| at(format!("wal.fsync: {e}")))?;
    }
    if let Some(s) = &f.warm.max_age {
        o.warm_max_age = parse_duration(s).map_err(|e| at(format!("warm.max_age: {e}")))?;
    }
    if let Some(l) = f.cold.zstd_level {
        if !(1..=22).contains(&l) {
            return Err(at(format!("cold.zstd_level: {l} is outside 1..=22")));
        }
        o.cold_zstd_level = l;
    }
    if let Some(v) = &f.cold.cache_bytes {
        o.cold_cache_bytes =
            usize::try_from(toml_bytes(v, "cold.cache_bytes").map_err(at)?).unwrap_or(usize::MAX);
    }
    if let Some(v) = &f.cold.rollup_cache_bytes {
        o.rollup_cache_bytes =
            usize::try_from(toml_bytes(v, "cold.rollup_cache_bytes").map_err(at)?)
                .unwrap_or(usize::MAX);
    }
    if let Some(s) = &f.wal.recovery {
        o.wal_recovery = parse_recovery(s).map_err(|e| at(format!("wal.recovery: {e}")))?;
    }
    if let Some(v) = &f.wal.segment_bytes {
        o.wal_segment_bytes = toml_bytes(v, "wal.segment_bytes").map_err(at)?;
    }
    if let Some(n) = f.write.max_fields_per_line {
        if n == 0 {
            return Err(at("write.max_fields_per_line: must be at least 1".into()));
        }
        o.max_fields_per_line = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = f.write.max_tags_per_line {
        o.max_tags_per_line = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = f.write.max_series_per_metric {
        o.max_series_per_metric = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = f.write.max_new_series_per_minute {
        o.max_new_series_per_minute = usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path) -> EngineArgs {
        EngineArgs {
            data_dir: dir.to_path_buf(),
            config: None,
            fsync: None,
            hot_max_age: None,
            hot_max_bytes: None,
            rotation_interval: None,
            index_image_interval: None,
            retention: None,
            retention_rules: Vec::new(),
            rollups: Vec::new(),
            warm_max_age: None,
            wal_recovery: None,
            cold_zstd_level: None,
            cold_cache_bytes: None,
            rollup_cache_bytes: None,
            max_fields_per_line: None,
            max_tags_per_line: None,
            max_series_per_metric: None,
            max_new_series_per_minute: None,
            compaction_threads: None,
        }
    }

    #[test]
    fn series_limits_defaults_then_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(
            (o.max_series_per_metric, o.max_new_series_per_minute),
            (0, 0)
        );
        std::fs::write(
            dir.path().join("strata.toml"),
            "[write]\nmax_series_per_metric = 1000\nmax_new_series_per_minute = 600\n",
        )
        .unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(
            (o.max_series_per_metric, o.max_new_series_per_minute),
            (1000, 600)
        );
        let mut a = args(dir.path());
        a.max_series_per_metric = Some(5);
        a.max_new_series_per_minute = Some(0);
        let o = a.options().unwrap();
        assert_eq!(
            (o.max_series_per_metric, o.max_new_series_per_minute),
            (5, 0)
        );
    }

    #[test]
    fn defaults_then_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(o.hot_max_age, Duration::from_secs(300));
        assert_eq!(o.rotation_interval, Duration::from_secs(60));
        assert_eq!(
            o.hot_max_bytes,
            crate::machine::default_hot_max_bytes(crate::machine::memory_bytes())
        );
        assert!(o.hot_max_bytes >= 256 << 20);
        std::fs::write(
            dir.path().join("strata.toml"),
            "rotation_interval = \"10s\"\nindex_image_interval = \"0s\"\n[hot]\nmax_age = \"1h\"\nmax_bytes = \"1GiB\"\n[wal]\nfsync = \"never\"\n",
        )
        .unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(o.hot_max_age, Duration::from_secs(3600));
        assert_eq!(o.hot_max_bytes, 1 << 30);
        assert_eq!(o.rotation_interval, Duration::from_secs(10));
        assert_eq!(o.index_image_interval, Duration::ZERO);
        assert_eq!(o.fsync, FsyncPolicy::Never);
        assert_eq!(o.retention, None);
        std::fs::write(dir.path().join("strata.toml"), "retention = \"30d\"\n").unwrap();
        assert_eq!(
            args(dir.path()).options().unwrap().retention,
            Some(Duration::from_secs(30 * 86_400))
        );
        let mut a = args(dir.path());
        a.hot_max_age = Some(Duration::from_secs(60));
        assert_eq!(a.options().unwrap().hot_max_age, Duration::from_secs(60));
        assert_eq!(a.options().unwrap().cold_cache_bytes, 256 << 20);
        std::fs::write(
            dir.path().join("strata.toml"),
            "[cold]\ncache_bytes = \"64MiB\"\n",
        )
        .unwrap();
        assert_eq!(
            args(dir.path()).options().unwrap().cold_cache_bytes,
            64 << 20
        );
        let mut a = args(dir.path());
        a.cold_cache_bytes = Some(0);
        assert_eq!(a.options().unwrap().cold_cache_bytes, 0);
        assert_eq!(a.options().unwrap().rollup_cache_bytes, 256 << 20);
        std::fs::write(
            dir.path().join("strata.toml"),
            "[cold]\nrollup_cache_bytes = \"8MiB\"\n",
        )
        .unwrap();
        assert_eq!(
            args(dir.path()).options().unwrap().rollup_cache_bytes,
            8 << 20
        );
        let mut a = args(dir.path());
        a.rollup_cache_bytes = Some(0);
        assert_eq!(a.options().unwrap().rollup_cache_bytes, 0);
    }

    #[test]
    fn write_limits_defaults_then_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(
            (o.max_fields_per_line, o.max_tags_per_line),
            (10_000, 1_000)
        );
        std::fs::write(
            dir.path().join("strata.toml"),
            "[write]
max_fields_per_line = 500
max_tags_per_line = 20
",
        )
        .unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!((o.max_fields_per_line, o.max_tags_per_line), (500, 20));
        let mut a = args(dir.path());
        a.max_fields_per_line = Some(100_000);
        assert_eq!(a.options().unwrap().max_fields_per_line, 100_000);
        std::fs::write(
            dir.path().join("strata.toml"),
            "[write]
max_fields_per_line = 0
",
        )
        .unwrap();
        let e = args(dir.path()).options().unwrap_err();
        assert!(e.contains("write.max_fields_per_line"), "{e}");
    }

    #[test]
    fn server_settings_defaults_then_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let c = args(dir.path())
            .server_config(&ServerArgs::default())
            .unwrap();
        assert_eq!(c, strata_server::Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8086");
        assert_eq!(c.max_body_bytes, 25 << 20);
        std::fs::write(
            dir.path().join("strata.toml"),
            "[server]\nlisten = \"0.0.0.0:9000\"\nmax_body_bytes = \"1MiB\"\nmax_lines_per_request = 10\n\
             query_timeout = \"5s\"\nbody_timeout = \"2s\"\nmax_series = 7\nmax_rows = 8\nauth_token = \"t\"\n\
             header_timeout = \"3s\"\nidle_timeout = \"4s\"\nmax_connections = 5\nshutdown_timeout = \"6s\"\n\
             lookback_delta = \"2m\"\nmax_samples = 1000\nweb_config_file = \"web.yml\"\n\
             auth_open_endpoints = true\n",
        )
        .unwrap();
        let c = args(dir.path())
            .server_config(&ServerArgs::default())
            .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.max_body_bytes, 1 << 20);
        assert_eq!(c.max_lines_per_request, 10);
        assert_eq!(c.query_timeout, Duration::from_secs(5));
        assert_eq!(c.body_timeout, Duration::from_secs(2));
        assert_eq!((c.max_series, c.max_rows), (7, 8));
        assert_eq!(c.auth_token.as_deref(), Some("t"));
        assert_eq!(
            (c.header_timeout, c.idle_timeout, c.shutdown_timeout),
            (
                Duration::from_secs(3),
                Duration::from_secs(4),
                Duration::from_secs(6)
            )
        );
        assert_eq!(c.max_connections, 5);
        assert_eq!(c.lookback_delta, Duration::from_secs(120));
        assert_eq!(c.promql_max_samples, 1000);
        assert_eq!(c.promql_options().lookback_ms, 120_000);
        // Relative to the strata.toml that names it.
        assert_eq!(c.web_config_file, Some(dir.path().join("web.yml")));
        assert!(c.auth_open_endpoints);
        args(dir.path()).options().unwrap();
        let flags = ServerArgs {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            max_rows: Some(9),
            header_timeout: Some(Duration::from_secs(1)),
            max_connections: Some(100),
            lookback_delta: Some(Duration::from_secs(30)),
            max_samples: Some(5),
            web_config_file: Some(PathBuf::from("/etc/strata/web.yml")),
            ..ServerArgs::default()
        };
        let c = args(dir.path()).server_config(&flags).unwrap();
        assert_eq!(
            c.web_config_file.as_deref(),
            Some(Path::new("/etc/strata/web.yml"))
        );
        assert_eq!(c.listen.port(), 0);
        assert_eq!((c.max_series, c.max_rows), (7, 9));
        assert_eq!(c.header_timeout, Duration::from_secs(1));
        assert_eq!(c.max_connections, 100);
        assert_eq!(
            (c.lookback_delta, c.promql_max_samples),
            (Duration::from_secs(30), 5)
        );
    }

    #[test]
    fn rollup_rules_keep_the_exact_aggregates_unless_quantile_is_named() {
        use strata_engine::rollup::Aggregates;
        let plain: toml::Value =
            toml::from_str("measurement = \"cpu\"\ninterval = \"5m\"").unwrap();
        let r = rollup_rule(1, &plain).unwrap();
        assert_eq!(r.aggregates(), Aggregates::EXACT);
        assert!(!r.aggregates().has(Aggregates::QUANTILE));
        let with: toml::Value = toml::from_str(
            "match = \"cpu_.*\"\ninterval = \"1h\"\naggregates = [\"max\", \"quantile\"]",
        )
        .unwrap();
        let r = rollup_rule(2, &with).unwrap();
        assert!(r.aggregates().has(Aggregates::QUANTILE | Aggregates::MAX));
        assert!(!r.aggregates().has(Aggregates::SUM));
        let flag = parse_rollup_rule("cpu=5m,1y").unwrap();
        assert_eq!(flag.aggregates(), Aggregates::EXACT);
        let bad: toml::Value =
            toml::from_str("measurement = \"cpu\"\ninterval = \"5m\"\naggregates = [\"p42\"]")
                .unwrap();
        let e = rollup_rule(3, &bad).unwrap_err();
        assert!(e.contains("rollup #3: aggregates"), "{e}");
    }

    #[test]
    fn retention_rules_from_the_file_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("strata.toml"),
            "[retention]\ndefault = \"30d\"\n\
             [[retention.rule]]\nmeasurement = \"cpu_total\"\nraw = \"forever\"\n\
             [[retention.rule]]\nmatch = \"cpu_.*\"\nraw = \"7d\"\n",
        )
        .unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(o.retention, Some(Duration::from_secs(30 * 86_400)));
        let rules: Vec<String> = o.retention_rules.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            rules,
            [
                "measurement = \"cpu_total\", raw = forever",
                "match = \"cpu_.*\", raw = 7d"
            ]
        );
        assert!(o.retention_rules[1].matches("cpu_user"));
        assert!(!o.retention_rules[1].matches("mycpu_user"), "anchored");
        // Flags replace the file's rules; the file's default stays.
        let mut a = args(dir.path());
        a.retention_rules = vec![parse_retention_rule("mem|swap=12h").unwrap()];
        let o = a.options().unwrap();
        assert_eq!(o.retention_rules.len(), 1);
        assert_eq!(
            o.retention_rules[0].raw(),
            Some(Duration::from_secs(43_200))
        );
        assert!(o.retention_rules[0].matches("swap"));
        assert_eq!(o.retention, Some(Duration::from_secs(30 * 86_400)));
        assert!(parse_retention_rule("cpu").is_err());
        assert!(
            parse_retention_rule("cpu(=7d")
                .unwrap_err()
                .contains("cpu(")
        );
    }

    #[test]
    fn the_readme_example_file_is_valid() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n# strata.toml")
            .expect("README has the example strata.toml");
        let body = &readme[start + "```toml\n".len()..];
        let body = &body[..body.find("```").expect("closed code block")];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("strata.toml"), body).unwrap();
        let o = args(dir.path()).options().unwrap();
        assert_eq!(o.retention, Some(Duration::from_secs(30 * 86_400)));
        args(dir.path())
            .server_config(&ServerArgs::default())
            .unwrap();
    }

    #[test]
    fn bad_retention_rules_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = |text: &str| {
            std::fs::write(dir.path().join("strata.toml"), text).unwrap();
            args(dir.path()).options().unwrap_err()
        };
        let rule = |body: &str| {
            format!("[[retention.rule]]\nmatch = \"a\"\nraw = \"1d\"\n[[retention.rule]]\n{body}")
        };
        for (text, want) in [
            (
                rule("match = \"cpu_(\"\nraw = \"7d\"\n"),
                "retention.rule #2: match: invalid retention pattern \"cpu_(\"",
            ),
            (
                rule("match = \"cpu\"\nraw = \"7x\"\n"),
                "retention.rule #2: raw: \"7x\" is not a duration",
            ),
            (rule("match = \"cpu\"\n"), "retention.rule #2: raw: missing"),
            (rule("raw = \"7d\"\n"), "retention.rule #2: match: missing"),
            (
                rule("match = \"a\"\nmeasurement = \"b\"\nraw = \"7d\"\n"),
                "retention.rule #2: match: give match or measurement, not both",
            ),
            (
                rule("match = \"a\"\nraw = \"7d\"\nkeep = 1\n"),
                "retention.rule #2: keep: unknown key",
            ),
            (
                rule("match = 5\nraw = \"7d\"\n"),
                "retention.rule #2: match: expected a string",
            ),
            (
                "[retention]\ndefault = \"soon\"\n".to_owned(),
                "retention.default: \"soon\" is not a duration",
            ),
            (
                "[retention]\nrules = []\n".to_owned(),
                "retention.rules: unknown key",
            ),
            (
                "retention = 30\n".to_owned(),
                "retention: expected a duration",
            ),
        ] {
            let e = err(&text);
            assert!(
                e.contains("strata.toml: ") && e.contains(want),
                "{text}\n=> {e}"
            );
        }
    }

    #[test]
    fn bad_settings_say_where() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("strata.toml"),
            "[hot]\nmax_age = \"soon\"\n",
        )
        .unwrap();
        let e = args(dir.path()).options().unwrap_err();
        assert!(e.contains("strata.toml: hot.max_age"), "{e}");
        std::fs::write(dir.path().join("strata.toml"), "[hot]\nmax_agee = \"5m\"\n").unwrap();
        let e = args(dir.path()).options().unwrap_err();
        assert!(e.contains("unknown field") && e.contains("line 2"), "{e}");
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        std::fs::write(
            dir.path().join("strata.toml"),
            "[server]\nlisten = \"nowhere\"\n",
        )
        .unwrap();
        let e = args(dir.path())
            .server_config(&ServerArgs::default())
            .unwrap_err();
        assert!(e.contains("strata.toml: server.listen"), "{e}");
        assert!(parse_bytes("64 parsecs").is_err());
    }
}
