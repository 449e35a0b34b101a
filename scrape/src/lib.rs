//! Prometheus-compatible scraping for Strata: `strata serve --config.file prometheus.yml`
//! reads Prometheus' own configuration and scrapes as Prometheus 2.42 does.
//!
//! ```text
//! config ─► discovery (static, file) ─► target (relabel_configs) ─► manager (one pool per job)
//!        ─► scrape_loop (fetch) ─► append (exposition parse, metric_relabel_configs, limits,
//!           staleness, up/scrape_* series) ─► strata_engine::Db::sample_writer
//! ```
//!
//! | module | job |
//! | --- | --- |
//! | [`config`] | `prometheus.yml`: keys, defaults, checks, errors with line numbers |
//! | [`duration`] | Prometheus' duration syntax and printing |
//! | [`relabel`] | every relabel action, Prometheus' defaults and checks |
//! | [`discovery`] | `static_configs`, `file_sd_configs` (re-read on change) |
//! | [`target`] | labels → targets (`PopulateLabels`), the hash-based scrape offset |
//! | [`exposition`] | text format 0.0.4 and OpenMetrics, by `Content-Type` |
//! | [`scrape_loop`] | one target's loop: fetch on its phase of the interval |
//! | [`append`] | a fetched page into the database: relabelling, limits, staleness, report series |
//! | [`manager`] | pools per job, reload, shutdown |
//! | [`api`] | `/api/v1/targets` JSON |
//!
//! The rules crate uses [`config`] (rule files, alerting) and [`relabel`] (alert
//! relabelling) from here; nothing here knows about rules.

pub mod api;
pub mod append;
pub mod config;
pub mod discovery;
pub mod duration;
pub mod exposition;
pub mod gotime;
pub mod manager;
pub mod relabel;
pub mod scrape_loop;
pub mod target;

pub use config::{Config, ConfigError};
pub use manager::ScrapeManager;
