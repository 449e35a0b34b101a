//! The Strata HTTP server: InfluxDB 1.x- and Prometheus-compatible endpoints over the
//! engine and the query language (a thin layer: no storage or query logic lives here).
//!
//! | endpoint | module |
//! | --- | --- |
//! | `POST /write` | [`routes::write`] |
//! | `GET/POST /query` | [`routes::query`] |
//! | `GET /ping`, `/health`, `/ready`, `/metrics`, `/api/v1/status` | [`routes::status`] |
//! | `POST /api/v1/write`, `POST /api/v1/import/prometheus` | [`routes::prom`], [`remote_write`] |
//! | `GET /api/v1/aggregate` | [`routes::aggregate`] |
//! | `GET/POST /api/v1/query`, `/query_range`, `/query_exemplars` (PromQL) | [`routes::promql`] |
//! | `/api/v1/series`, `/labels`, `/label/<name>/values`, `/metadata`, `/status/buildinfo`, `/status/tsdb` | [`routes::prom_meta`] |
//! | `POST /api/v1/read` (remote read) | [`routes::remote_read`], [`remote_read`] |
//! | `GET /`, `/ui/`, `/ui/assets/*` (the web page) | [`ui`] |
//! | `/api/v1/targets`, `/rules`, `/alerts`, `/alertmanagers`, `/-/healthy`, `/-/ready`, `/-/reload` | [`routes::prom_agent`], [`prometheus`] |
//!
//! Life of a server ([`serve`]): bind the listener, open the database in the background
//! (`/ready` answers 503 until WAL replay is done), serve (connections bounded in number,
//! header and idle time: `conn`); on the shutdown signal stop accepting, cancel running
//! queries, give in-flight requests at most `server.shutdown_timeout`, then close the
//! database (last rotation and WAL fsync). Engine calls run on tokio's blocking pool, never on the async workers; a
//! write is answered only after the engine returned, i.e. after the WAL holds it under
//! the fsync policy.

pub mod app;
pub mod auth;
pub mod blocking;
pub mod body;
pub mod config;
mod conn;
pub mod error;
pub mod fuzzing;
pub mod metrics;
pub mod prom_api;
pub mod prom_metadata;
pub mod prometheus;
pub mod remote_read;
pub mod remote_write;
pub mod routes;
mod run;
pub mod timearg;
pub mod ui;
pub mod users;
pub mod web_config;
pub mod web_reload;

pub use config::Config;
pub use error::ApiError;
pub use remote_write::decode_remote_write;
pub use run::{RUNTIME_SHUTDOWN, RunningServer, ServeError, serve};
pub use strata_query as query;
