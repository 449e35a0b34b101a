//! The shared state of a running server and the router.

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::ServerMetrics;
use crate::routes;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Instant;
use strata_engine::Db;

/// The version InfluxDB clients see in `X-Influxdb-Version`: the 1.x API Strata speaks,
/// then Strata's own version.
pub const INFLUX_VERSION: &str = concat!("1.8.10-strata-", env!("CARGO_PKG_VERSION"));

/// Where the database is in its life.
pub enum DbSlot {
    /// Being opened (WAL replay) in the background.
    Opening,
    /// Open and serving.
    Open(Arc<Db>),
    /// Opening failed; the server is stopping.
    Failed(String),
    /// Closed at shutdown.
    Closed,
}

/// What every handler shares.
pub struct AppState {
    /// Settings.
    pub config: Config,
    /// The database, once open.
    pub db: RwLock<DbSlot>,
    /// Counters for `/metrics`.
    pub metrics: ServerMetrics,
    /// When the server started.
    pub started: Instant,
    /// Why writes are refused right now, if they are (refreshed by the overload check).
    pub overload: RwLock<Option<String>>,
    /// Metric metadata pushed in, for `/api/v1/metadata`.
    pub prom_metadata: crate::prom_metadata::MetadataStore,
    /// Scraping and rules, when `--config.file` is given.
    pub agent: crate::prometheus::AgentSlot,
}

impl AppState {
    /// A state whose database is still opening.
    pub fn new(config: Config) -> AppState {
        AppState {
            config,
            db: RwLock::new(DbSlot::Opening),
            metrics: ServerMetrics::default(),
            started: Instant::now(),
            overload: RwLock::new(None),
            prom_metadata: crate::prom_metadata::MetadataStore::default(),
            agent: crate::prometheus::AgentSlot::default(),
        }
    }

    /// The open database, or 503 while it opens.
    pub fn db(&self) -> Result<Arc<Db>, ApiError> {
        match &*self.db.read() {
            DbSlot::Open(db) => Ok(db.clone()),
            DbSlot::Opening => Err(ApiError::unavailable(
                "the database is opening (replaying its WAL); try again shortly",
                self.config.retry_after_secs,
            )),
            DbSlot::Failed(e) => Err(ApiError::unavailable(
                format!("the database could not be opened: {e}"),
                self.config.retry_after_secs,
            )),
            DbSlot::Closed => Err(ApiError::unavailable(
                "the server is shutting down",
                self.config.retry_after_secs,
            )),
        }
    }

    /// The database for a write: 503 with `Retry-After` also while overloaded.
    pub fn db_for_write(&self) -> Result<Arc<Db>, ApiError> {
        let db = self.db()?;
        if let Some(why) = &*self.overload.read() {
            return Err(ApiError::unavailable(
                format!("overloaded, write refused: {why}"),
                self.config.retry_after_secs,
            ));
        }
        Ok(db)
    }

    /// Checks the request's credentials (see [`crate::auth`]).
    pub fn authorize(
        &self,
        headers: &axum::http::HeaderMap,
        params: &[(String, String)],
    ) -> Result<(), ApiError> {
        crate::auth::check(self.config.auth_token.as_deref(), headers, params)
    }
}

/// The router with every endpoint.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/write", post(routes::write::write))
        .route(
            "/query",
            get(routes::query::query).post(routes::query::query),
        )
        .route(
            "/ping",
            get(routes::status::ping).head(routes::status::ping),
        )
        .route("/health", get(routes::status::health))
        .route("/ready", get(routes::status::ready))
        .route("/metrics", get(routes::status::metrics))
        .route("/api/v1/status", get(routes::status::status))
        .route("/api/v1/write", post(routes::prom::remote_write))
        .route("/api/v1/import/prometheus", post(routes::prom::import_text))
        .route("/api/v1/aggregate", get(routes::aggregate::aggregate))
        .route(
            "/api/v1/query",
            get(routes::promql::query).post(routes::promql::query),
        )
        .route(
            "/api/v1/query_range",
            get(routes::promql::query_range).post(routes::promql::query_range),
        )
        .route(
            "/api/v1/query_exemplars",
            get(routes::promql::query_exemplars).post(routes::promql::query_exemplars),
        )
        .route(
            "/api/v1/series",
            get(routes::prom_meta::series).post(routes::prom_meta::series),
        )
        .route(
            "/api/v1/labels",
            get(routes::prom_meta::labels).post(routes::prom_meta::labels),
        )
        .route(
            "/api/v1/label/{name}/values",
            get(routes::prom_meta::label_values),
        )
        .route("/api/v1/metadata", get(routes::prom_meta::metadata))
        .route(
            "/api/v1/status/buildinfo",
            get(routes::prom_meta::buildinfo),
        )
        .route("/api/v1/status/tsdb", get(routes::prom_meta::tsdb))
        .route("/api/v1/read", post(routes::remote_read::remote_read))
        .route("/api/v1/targets", get(routes::prom_agent::targets))
        .route("/api/v1/rules", get(routes::prom_agent::rules))
        .route("/api/v1/alerts", get(routes::prom_agent::alerts))
        .route(
            "/api/v1/alertmanagers",
            get(routes::prom_agent::alertmanagers),
        )
        .route(
            "/-/healthy",
            get(routes::prom_agent::healthy).head(routes::prom_agent::healthy),
        )
        .route(
            "/-/ready",
            get(routes::prom_agent::ready).head(routes::prom_agent::ready),
        )
        .route(
            "/-/reload",
            post(routes::prom_agent::reload).put(routes::prom_agent::reload),
        )
        .layer(middleware::from_fn_with_state(state.clone(), count_and_tag))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// Counts each request by endpoint and status, and adds the headers InfluxDB sends with
/// every response.
async fn count_and_tag(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let mut resp = next.run(req).await;
    state.metrics.request(&endpoint, resp.status().as_u16());
    let h = resp.headers_mut();
    h.insert(
        "X-Influxdb-Version",
        HeaderValue::from_static(INFLUX_VERSION),
    );
    h.insert("X-Influxdb-Build", HeaderValue::from_static("OSS"));
    resp
}

/// The URL's query parameters, in order (a repeated key appears each time).
pub fn params(uri: &axum::http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of parameter `key`, the last one if repeated.
pub fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
