//! Prometheus' configuration file (`prometheus.yml`), read as Prometheus 2.42 reads it:
//! the same keys, the same defaults, the same checks.
//!
//! Supported: `global` (`scrape_interval` 1m, `scrape_timeout` 10s,
//! `evaluation_interval` 1m, `external_labels`), `rule_files` (globs, relative to the
//! file), `scrape_configs` (`job_name`, `scrape_interval`, `scrape_timeout`,
//! `metrics_path` `/metrics`, `scheme` `http`, `params`, `honor_labels` false,
//! `honor_timestamps` true, `sample_limit`, `label_limit`, `label_name_length_limit`,
//! `label_value_length_limit`, `target_limit`, `body_size_limit`, `basic_auth`,
//! `authorization`, `bearer_token[_file]`, `tls_config`, `follow_redirects`,
//! `static_configs`, `file_sd_configs`, `relabel_configs`, `metric_relabel_configs`),
//! `alerting` (`alert_relabel_configs`, `alertmanagers` with `static_configs`,
//! `file_sd_configs`, `scheme`, `path_prefix`, `timeout` 10s, `api_version` v2, auth,
//! `relabel_configs`). `remote_write`, `remote_read`, `storage` and `tracing` are
//! accepted and ignored (Strata is the storage). A key Prometheus does not know is an
//! error naming the key, its line and column; a key Prometheus knows but Strata does not
//! support (other service discoveries, `oauth2`, `proxy_url`) is an error saying so.

mod http;

pub use http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};

use crate::discovery::{FileSdConfig, StaticConfig};
use crate::duration::PromDuration;
use crate::relabel::{RelabelConfig, is_label_name};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use strata_query::promql::Labels;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key or a bad value (with its line).
    #[error("parsing YAML file {}: {reason}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// What and where.
        reason: String,
    },
    /// The file parsed but a setting is invalid.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A TLS file could not be used.
    #[error("TLS setup {}: {reason}", path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The whole file, validated, with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// `global`.
    pub global: GlobalConfig,
    /// `rule_files`, resolved against the file's directory (still globs).
    pub rule_files: Vec<String>,
    /// `scrape_configs`, with the global defaults applied.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `alerting`.
    pub alerting: AlertingConfig,
}

/// `global`.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    /// Default 1m.
    pub scrape_interval: PromDuration,
    /// Default 10s (or the interval, if shorter).
    pub scrape_timeout: PromDuration,
    /// Default 1m.
    pub evaluation_interval: PromDuration,
    /// Added to alerts sent to Alertmanager (and available to templates).
    pub external_labels: Labels,
}

/// One `scrape_configs` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfig {
    /// `job_name`: the `job` label and the scrape pool's name.
    pub job_name: String,
    /// How often.
    pub scrape_interval: PromDuration,
    /// Per scrape.
    pub scrape_timeout: PromDuration,
    /// Default `/metrics`.
    pub metrics_path: String,
    /// `http` or `https`.
    pub scheme: String,
    /// URL parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// Scraped labels win over target labels.
    pub honor_labels: bool,
    /// Use the page's timestamps (default true).
    pub honor_timestamps: bool,
    /// Most samples per scrape after metric relabelling (0: no limit).
    pub sample_limit: u64,
    /// Most labels per sample (0: no limit).
    pub label_limit: u64,
    /// Longest label name (0: no limit).
    pub label_name_length_limit: u64,
    /// Longest label value (0: no limit).
    pub label_value_length_limit: u64,
    /// Most targets after relabelling (0: no limit).
    pub target_limit: u64,
    /// Largest uncompressed body in bytes (0: no limit).
    pub body_size_limit: u64,
    /// Client settings.
    pub http: HttpClientConfig,
    /// Targets written in the file.
    pub static_configs: Vec<StaticConfig>,
    /// Targets read from files.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Applied to targets.
    pub relabel_configs: Vec<RelabelConfig>,
    /// Applied to scraped samples.
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// `alerting`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertingConfig {
    /// Applied to every alert before it is sent.
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// Where alerts go.
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// One `alertmanagers` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    /// `http` or `https`.
    pub scheme: String,
    /// Prefix of the API path (e.g. `/alertmanager`).
    pub path_prefix: String,
    /// Per request. Default 10s.
    pub timeout: PromDuration,
    /// Client settings.
    pub http: HttpClientConfig,
    /// Alertmanagers written in the file.
    pub static_configs: Vec<StaticConfig>,
    /// Alertmanagers read from files.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Applied to discovered Alertmanagers.
    pub relabel_configs: Vec<RelabelConfig>,
}

/// A key read only so that it is not an error.
type Ignored = Option<serde_yaml::Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: RawGlobal,
    #[serde(default)]
    rule_files: Option<Vec<String>>,
    #[serde(default)]
    scrape_configs: Option<Vec<RawScrape>>,
    #[serde(default)]
    alerting: Option<RawAlerting>,
    // Known to Prometheus, meaningless for Strata (it is the storage): ignored.
    #[serde(default)]
    remote_write: Ignored,
    #[serde(default)]
    remote_read: Ignored,
    #[serde(default)]
    storage: Ignored,
    #[serde(default)]
    tracing: Ignored,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    scrape_interval: Option<PromDuration>,
    scrape_timeout: Option<PromDuration>,
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default, rename = "query_log_file")]
    _query_log_file: Ignored,
}

/// Declares a raw struct with, besides its own fields, the keys Prometheus knows that
/// Strata does not implement (so that an error names them as unsupported rather than
/// unknown), and `unsupported()` giving the first one present.
macro_rules! with_unsupported {
    ($(#[$m:meta])* struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        struct $name {
            $($body)*
            #[serde(default)]
            oauth2: Ignored,
            #[serde(default)]
            proxy_url: Ignored,
            #[serde(default)]
            no_proxy: Ignored,
            #[serde(default)]
            proxy_from_environment: Ignored,
            #[serde(default)]
            proxy_connect_header: Ignored,
            #[serde(default)]
            kubernetes_sd_configs: Ignored,
            #[serde(default)]
            consul_sd_configs: Ignored,
            #[serde(default)]
            dns_sd_configs: Ignored,
            #[serde(default)]
            ec2_sd_configs: Ignored,
            #[serde(default)]
            http_sd_configs: Ignored,
            #[serde(default)]
            docker_sd_configs: Ignored,
            #[serde(default)]
            dockerswarm_sd_configs: Ignored,
            #[serde(default)]
            azure_sd_configs: Ignored,
            #[serde(default)]
            gce_sd_configs: Ignored,
            #[serde(default)]
            openstack_sd_configs: Ignored,
            #[serde(default)]
            digitalocean_sd_configs: Ignored,
            #[serde(default)]
            hetzner_sd_configs: Ignored,
            #[serde(default)]
            eureka_sd_configs: Ignored,
            #[serde(default)]
            kuma_sd_configs: Ignored,
            #[serde(default)]
            lightsail_sd_configs: Ignored,
            #[serde(default)]
            linode_sd_configs: Ignored,
            #[serde(default)]
            marathon_sd_configs: Ignored,
            #[serde(default)]
            nerve_sd_configs: Ignored,
            #[serde(default)]
            nomad_sd_configs: Ignored,
            #[serde(default)]
            serverset_sd_configs: Ignored,
            #[serde(default)]
            triton_sd_configs: Ignored,
            #[serde(default)]
            uyuni_sd_configs: Ignored,
            #[serde(default)]
            scaleway_sd_configs: Ignored,
            #[serde(default)]
            puppetdb_sd_configs: Ignored,
            #[serde(default)]
            ionos_sd_configs: Ignored,
            #[serde(default)]
            vultr_sd_configs: Ignored,
        }
        impl $name {
            fn unsupported(&self) -> Option<&'static str> {
                if self.oauth2.is_some() { return Some("oauth2"); }
                if self.proxy_url.is_some() { return Some("proxy_url"); }
                if self.no_proxy.is_some() { return Some("no_proxy"); }
                if self.proxy_from_environment.is_some() { return Some("proxy_from_environment"); }
                if self.proxy_connect_header.is_some() { return Some("proxy_connect_header"); }
                if self.kubernetes_sd_configs.is_some() { return Some("kubernetes_sd_configs"); }
                if self.consul_sd_configs.is_some() { return Some("consul_sd_configs"); }
                if self.dns_sd_configs.is_some() { return Some("dns_sd_configs"); }
                if self.ec2_sd_configs.is_some() { return Some("ec2_sd_configs"); }
                if self.http_sd_configs.is_some() { return Some("http_sd_configs"); }
                if self.docker_sd_configs.is_some() { return Some("docker_sd_configs"); }
                if self.dockerswarm_sd_configs.is_some() { return Some("dockerswarm_sd_configs"); }
                if self.azure_sd_configs.is_some() { return Some("azure_sd_configs"); }
                if self.gce_sd_configs.is_some() { return Some("gce_sd_configs"); }
                if self.openstack_sd_configs.is_some() { return Some("openstack_sd_configs"); }
                if self.digitalocean_sd_configs.is_some() { return Some("digitalocean_sd_configs"); }
                if self.hetzner_sd_configs.is_some() { return Some("hetzner_sd_configs"); }
                if self.eureka_sd_configs.is_some() { return Some("eureka_sd_configs"); }
                if self.kuma_sd_configs.is_some() { return Some("kuma_sd_configs"); }
                if self.lightsail_sd_configs.is_some() { return Some("lightsail_sd_configs"); }
                if self.linode_sd_configs.is_some() { return Some("linode_sd_configs"); }
                if self.marathon_sd_configs.is_some() { return Some("marathon_sd_configs"); }
                if self.nerve_sd_configs.is_some() { return Some("nerve_sd_configs"); }
                if self.nomad_sd_configs.is_some() { return Some("nomad_sd_configs"); }
                if self.serverset_sd_configs.is_some() { return Some("serverset_sd_configs"); }
                if self.triton_sd_configs.is_some() { return Some("triton_sd_configs"); }
                if self.uyuni_sd_configs.is_some() { return Some("uyuni_sd_configs"); }
                if self.scaleway_sd_configs.is_some() { return Some("scaleway_sd_configs"); }
                if self.puppetdb_sd_configs.is_some() { return Some("puppetdb_sd_configs"); }
                if self.ionos_sd_configs.is_some() { return Some("ionos_sd_configs"); }
                if self.vultr_sd_configs.is_some() { return Some("vultr_sd_configs"); }
                None
            }
        }
    };
}

with_unsupported! {
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScrape {
    job_name: String,
    scrape_interval: Option<PromDuration>,
    scrape_timeout: Option<PromDuration>,
    metrics_path: Option<String>,
    scheme: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    honor_labels: bool,
    honor_timestamps: Option<bool>,
    #[serde(default)]
    sample_limit: u64,
    #[serde(default)]
    label_limit: u64,
    #[serde(default)]
    label_name_length_limit: u64,
    #[serde(default)]
    label_value_length_limit: u64,
    #[serde(default)]
    target_limit: u64,
    #[serde(default)]
    body_size_limit: Option<String>,
    basic_auth: Option<BasicAuth>,
    authorization: Option<Authorization>,
    bearer_token: Option<String>,
    bearer_token_file: Option<PathBuf>,
    tls_config: Option<TlsConfig>,
    follow_redirects: Option<bool>,
    #[serde(default, rename = "enable_http2")]
    _enable_http2: Ignored,
    #[serde(default)]
    static_configs: Vec<StaticConfig>,
    #[serde(default)]
    file_sd_configs: Vec<FileSdConfig>,
    #[serde(default)]
    relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    metric_relabel_configs: Vec<RelabelConfig>,
}
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerting {
    #[serde(default)]
    alert_relabel_configs: Vec<RelabelConfig>,
    #[serde(default)]
    alertmanagers: Vec<RawAlertmanager>,
}

with_unsupported! {
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertmanager {
    scheme: Option<String>,
    path_prefix: Option<String>,
    timeout: Option<PromDuration>,
    api_version: Option<String>,
    basic_auth: Option<BasicAuth>,
    authorization: Option<Authorization>,
    bearer_token: Option<String>,
    bearer_token_file: Option<PathBuf>,
    tls_config: Option<TlsConfig>,
    follow_redirects: Option<bool>,
    #[serde(default, rename = "enable_http2")]
    _enable_http2: Ignored,
    #[serde(default)]
    static_configs: Vec<StaticConfig>,
    #[serde(default)]
    file_sd_configs: Vec<FileSdConfig>,
    #[serde(default)]
    relabel_configs: Vec<RelabelConfig>,
}
}

/// Parses a size like Prometheus' `body_size_limit` (`10MB`, `1GiB`, `512KB`, `0`).
fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" | "KiB" => 1 << 10,
        "MB" | "MiB" => 1 << 20,
        "GB" | "GiB" => 1 << 30,
        "TB" | "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Reads and checks `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Checks `text` as if read from `path` (relative names resolve against its directory).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let yaml = |reason: String| ConfigError::Yaml {
        path: path.to_path_buf(),
        reason,
    };
    let invalid = |reason: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    // An empty file is a valid, empty configuration, as in Prometheus.
    let raw: RawConfig = if text.trim().is_empty() {
        serde_yaml::from_str("{}").map_err(|e| yaml(e.to_string()))?
    } else {
        serde_yaml::from_str(text).map_err(|e| yaml(yaml_error(&e)))?
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();

    let g = raw.global;
    let scrape_interval = g.scrape_interval.unwrap_or(PromDuration(60_000));
    if scrape_interval.ms() == 0 {
        return Err(invalid(
            "global scrape_interval must be greater than 0".into(),
        ));
    }
    if let Some(t) = g.scrape_timeout
        && t > scrape_interval
    {
        return Err(invalid(
            "global scrape timeout greater than scrape interval".into(),
        ));
    }
    let scrape_timeout = match g.scrape_timeout {
        Some(t) if t.ms() != 0 => t,
        _ => PromDuration(10_000).min(scrape_interval),
    };
    let evaluation_interval = match g.evaluation_interval {
        Some(d) if d.ms() != 0 => d,
        _ => PromDuration(60_000),
    };
    for (k, v) in &g.external_labels {
        if !is_label_name(k) || k == "__name__" {
            return Err(invalid(format!("{k:?} is not a valid label name")));
        }
        if v.is_empty() {
            return Err(invalid(format!("empty value for external label {k:?}")));
        }
    }
    let global = GlobalConfig {
        scrape_interval,
        scrape_timeout,
        evaluation_interval,
        external_labels: Labels::from_pairs(g.external_labels),
    };

    let mut rule_files = Vec::new();
    for f in raw.rule_files.unwrap_or_default() {
        if let Err(e) = glob::Pattern::new(&f) {
            return Err(invalid(format!("invalid rule file path {f:?}: {e}")));
        }
        let p = Path::new(&f);
        rule_files.push(if p.is_relative() {
            dir.join(p).to_string_lossy().into_owned()
        } else {
            f
        });
    }

    let mut scrape_configs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in raw.scrape_configs.unwrap_or_default() {
        let sc = scrape_config(s, &global, &dir).map_err(&invalid)?;
        if !seen.insert(sc.job_name.clone()) {
            return Err(invalid(format!(
                "found multiple scrape configs with job name {:?}",
                sc.job_name
            )));
        }
        scrape_configs.push(sc);
    }

    let mut alerting = AlertingConfig::default();
    if let Some(a) = raw.alerting {
        alerting.alert_relabel_configs = a.alert_relabel_configs;
        for am in a.alertmanagers {
            alerting
                .alertmanagers
                .push(alertmanager_config(am, &dir).map_err(&invalid)?);
        }
    }
    for (what, v) in [
        ("remote_write", &raw.remote_write),
        ("remote_read", &raw.remote_read),
        ("storage", &raw.storage),
        ("tracing", &raw.tracing),
    ] {
        if v.is_some() {
            tracing::warn!(
                "{}: {what} is ignored: Strata stores what it scrapes",
                path.display()
            );
        }
    }
    Ok(Config {
        path: path.to_path_buf(),
        global,
        rule_files,
        scrape_configs,
        alerting,
    })
}

/// serde_yaml's message, which names the key (`unknown field \`x\``) and where it is
/// (`at line N column C`).
fn yaml_error(e: &serde_yaml::Error) -> String {
    let msg = e.to_string();
    match e.location() {
        Some(loc) if !msg.contains(" at line ") => {
            format!("{msg} at line {} column {}", loc.line(), loc.column())
        }
        _ => msg,
    }
}

fn scrape_config(s: RawScrape, g: &GlobalConfig, dir: &Path) -> Result<ScrapeConfig, String> {
    if s.job_name.is_empty() {
        return Err("job_name is empty".into());
    }
    let job = s.job_name.clone();
    if let Some(k) = s.unsupported() {
        return Err(format!(
            "scrape config with job name {job:?}: {k} is not supported by Strata \
             (static_configs and file_sd_configs are)"
        ));
    }
    let interval = match s.scrape_interval {
        Some(d) if d.ms() != 0 => d,
        _ => g.scrape_interval,
    };
    if let Some(t) = s.scrape_timeout
        && t > interval
    {
        return Err(format!(
            "scrape timeout greater than scrape interval for scrape config with job name {job:?}"
        ));
    }
    let timeout = match s.scrape_timeout {
        Some(t) if t.ms() != 0 => t,
        _ => g.scrape_timeout.min(interval),
    };
    let scheme = s.scheme.unwrap_or_else(|| "http".into());
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "scrape config with job name {job:?}: invalid scheme {scheme:?} (http or https)"
        ));
    }
    let mut metrics_path = s.metrics_path.unwrap_or_else(|| "/metrics".into());
    if !metrics_path.starts_with('/') {
        metrics_path.insert(0, '/');
    }
    let body_size_limit = match &s.body_size_limit {
        None => 0,
        Some(v) => parse_size(v).ok_or_else(|| {
            format!("scrape config with job name {job:?}: body_size_limit {v:?} is not a size")
        })?,
    };
    let mut http = HttpClientConfig::from_parts(
        s.basic_auth,
        s.authorization,
        s.bearer_token,
        s.bearer_token_file,
        s.tls_config,
        s.follow_redirects,
    )
    .map_err(|e| format!("scrape config with job name {job:?}: {e}"))?;
    http.resolve_paths(dir);
    let mut file_sd_configs = s.file_sd_configs;
    for f in &mut file_sd_configs {
        f.check()
            .map_err(|e| format!("scrape config with job name {job:?}: {e}"))?;
        f.resolve_paths(dir);
    }
    crate::discovery::static_groups(&s.static_configs)
        .map_err(|e| format!("scrape config with job name {job:?}: {e}"))?;
    Ok(ScrapeConfig {
        job_name: s.job_name,
        scrape_interval: interval,
        scrape_timeout: timeout,
        metrics_path,
        scheme,
        params: s.params,
        honor_labels: s.honor_labels,
        honor_timestamps: s.honor_timestamps.unwrap_or(true),
        sample_limit: s.sample_limit,
        label_limit: s.label_limit,
        label_name_length_limit: s.label_name_length_limit,
        label_value_length_limit: s.label_value_length_limit,
        target_limit: s.target_limit,
        body_size_limit,
        http,
        static_configs: s.static_configs,
        file_sd_configs,
        relabel_configs: s.relabel_configs,
        metric_relabel_configs: s.metric_relabel_configs,
    })
}

fn alertmanager_config(a: RawAlertmanager, dir: &Path) -> Result<AlertmanagerConfig, String> {
    if let Some(k) = a.unsupported() {
        return Err(format!(
            "alertmanager config: {k} is not supported by Strata (static_configs and file_sd_configs are)"
        ));
    }
    match a.api_version.as_deref() {
        None | Some("v2") => {}
        Some("v1") => return Err("alertmanager api_version v1 is not supported: use v2".into()),
        Some(v) => {
            return Err(format!(
                "expected Alertmanager api version to be one of [v1 v2] but got {v}"
            ));
        }
    }
    let scheme = a.scheme.unwrap_or_else(|| "http".into());
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "alertmanager config: invalid scheme {scheme:?} (http or https)"
        ));
    }
    let mut http = HttpClientConfig::from_parts(
        a.basic_auth,
        a.authorization,
        a.bearer_token,
        a.bearer_token_file,
        a.tls_config,
        a.follow_redirects,
    )?;
    http.resolve_paths(dir);
    let mut file_sd_configs = a.file_sd_configs;
    for f in &mut file_sd_configs {
        f.check()?;
        f.resolve_paths(dir);
    }
    crate::discovery::static_groups(&a.static_configs)?;
    Ok(AlertmanagerConfig {
        scheme,
        path_prefix: a.path_prefix.unwrap_or_default(),
        timeout: a.timeout.unwrap_or(PromDuration(10_000)),
        http,
        static_configs: a.static_configs,
        file_sd_configs,
        relabel_configs: a.relabel_configs,
    })
}

#[cfg(test)]
mod tests;
