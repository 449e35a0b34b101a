//! The shared state of a running server and the router.

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::ServerMetrics;
use crate::routes;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parking_lot::RwLock;
use std::sync::Arc;
use std::time::Instant;
use strata_engine::Db;
use strata_query::Cancel;

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
    /// Set at shutdown: every running statement stops at its next check.
    pub cancel: Cancel,
    /// The query memory budget every InfluxQL request charges (`query_max_memory`).
    pub query_memory: Arc<strata_query::MemoryBudget>,
    /// How long recent PromQL query shapes took, so that small ones run inline.
    pub query_costs: crate::blocking::QueryCosts,
    /// Scraping and rules, when `--config.file` is given.
    pub agent: crate::prometheus::AgentSlot,
    /// This node's cluster membership and fan-out client, when `--cluster.etcd` is given.
    pub cluster: RwLock<Option<Arc<strata_cluster::Cluster>>>,
    /// Open subscriptions (`/api/v1/subscribe`).
    pub subscribers: std::sync::atomic::AtomicI64,
    /// Subscribers dropped for reading too slowly.
    pub subscribers_dropped: std::sync::atomic::AtomicU64,
    /// The web configuration file (`--web.config.file`), kept current: its users
    /// (`basic_auth_users`), if any, have [`crate::auth::layer`] check every request
    /// before it is routed.
    pub web: Option<Arc<crate::web_reload::LiveWebConfig>>,
}

/// A request's cancellation flag (a child of the server's), set when dropped: a handler
/// that holds it across the query's `await` cancels the query if the handler is dropped
/// because the client went away.
pub struct RequestCancel(Cancel);

impl RequestCancel {
    /// The flag to hand to the query.
    pub fn token(&self) -> Cancel {
        self.0.clone()
    }
}

impl Drop for RequestCancel {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl AppState {
    /// A state whose database is still opening.
    pub fn new(config: Config) -> AppState {
        AppState {
            query_memory: strata_query::MemoryBudget::new(config.query_max_memory),
            query_costs: crate::blocking::QueryCosts::default(),
            config,
            db: RwLock::new(DbSlot::Opening),
            metrics: ServerMetrics::default(),
            started: Instant::now(),
            overload: RwLock::new(None),
            prom_metadata: crate::prom_metadata::MetadataStore::default(),
            cancel: Cancel::new(),
            agent: crate::prometheus::AgentSlot::default(),
            cluster: RwLock::new(None),
            subscribers: std::sync::atomic::AtomicI64::new(0),
            subscribers_dropped: std::sync::atomic::AtomicU64::new(0),
            web: None,
        }
    }

    /// The users of the web configuration file as it is now (`None`: no users). A
    /// changed file that does not load is a 500 that names the file, as Prometheus
    /// refuses every request while its web configuration is broken.
    pub fn users(&self) -> Result<Option<Arc<crate::users::Users>>, ApiError> {
        match &self.web {
            None => Ok(None),
            Some(w) => w.current().map(|s| s.users).map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the web configuration file does not load: {e}"),
                )
            }),
        }
    }

    /// A cancellation flag for one request's statements (see [`RequestCancel`]).
    pub fn request_cancel(&self) -> RequestCancel {
        RequestCancel(self.cancel.child())
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

    /// The cluster, or 400 when this node was started without `--cluster.etcd`.
    pub fn cluster(&self) -> Result<Arc<strata_cluster::Cluster>, ApiError> {
        self.cluster.read().clone().ok_or_else(|| {
            ApiError::bad_request(
                "cluster=true: this node is not in a cluster (start it with --cluster.etcd, --cluster.node and --cluster.advertise)",
            )
        })
    }

    /// Checks the request's credentials (see [`crate::auth`]). With users configured,
    /// [`crate::auth::layer`] has already checked every request that reaches a handler
    /// calling this (the open endpoints do not), so only repeated `p`/`u` are refused here
    /// (a `POST /query` form body can add them).
    pub fn authorize(
        &self,
        headers: &axum::http::HeaderMap,
        params: &[(String, String)],
    ) -> Result<(), ApiError> {
        if self.users()?.is_some() {
            crate::auth::single_param(params, "p")?;
            crate::auth::single_param(params, "u")?;
            return Ok(());
        }
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
        .route("/metrics/cluster", get(routes::cluster::metrics_cluster))
        .route("/api/v1/cluster/members", get(routes::cluster::members))
        .route(
            strata_cluster::INFLUXQL_PATH,
            post(routes::cluster::internal_influxql),
        )
        .route(
            strata_cluster::PROMQL_PATH,
            post(routes::cluster::internal_promql),
        )
        .route("/api/v1/status", get(routes::status::status))
        .route("/api/v1/write", post(routes::prom::remote_write))
        .route("/api/v1/import/prometheus", post(routes::prom::import_text))
        .route("/api/v1/aggregate", get(routes::aggregate::aggregate))
        .route("/api/v1/subscribe", get(routes::subscribe::subscribe))
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
            "/api/v1/admin/tsdb/delete_series",
            post(routes::prom_admin::delete_series).put(routes::prom_admin::delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/snapshot",
            post(routes::prom_admin::snapshot).put(routes::prom_admin::snapshot),
        )
        .route(
            "/api/v1/admin/snapshot",
            post(routes::prom_admin::snapshot).put(routes::prom_admin::snapshot),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(routes::prom_admin::clean_tombstones).put(routes::prom_admin::clean_tombstones),
        )
        .route(
            "/api/v1/status/buildinfo",
            get(routes::prom_meta::buildinfo),
        )
        .route("/api/v1/status/tsdb", get(routes::prom_meta::tsdb))
        .route(
            "/api/v1/status/metrics",
            get(routes::prom_meta::metrics_summary),
        )
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
        .route("/", get(crate::ui::index))
        .route("/ui", get(crate::ui::index))
        .route("/ui/", get(crate::ui::index))
        .route("/ui/assets/{file}", get(crate::ui::asset))
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count_and_tag))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// 404 for a path no endpoint serves.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        format!("not found: no endpoint {method} {}", uri.path()),
    )
}

/// Largest body of an error answer made elsewhere (axum's 405, an extractor's rejection)
/// that is carried into the JSON body; longer ones are cut.
const MAX_PLAIN_ERROR: usize = 4096;

/// Gives every error answer (status 400 or more) an InfluxDB-style JSON body: answers
/// from the handlers already have one; the router's own (405 with its `Allow` header,
/// say) get `{"error": "<their text, or the status' reason>"}`.
async fn json_errors(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // Prometheus' management endpoints (`/-/reload`, `/-/ready`, …) answer in plain text,
    // and clients of them expect that; their messages are kept as they are.
    let is_text = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if status.as_u16() < 400 || is_json || (is_text && path.starts_with("/-/")) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_ERROR)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match (status, text.is_empty()) {
        (axum::http::StatusCode::METHOD_NOT_ALLOWED, _) => {
            let allowed = parts
                .headers
                .get(axum::http::header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("method not allowed: {method} {path} (allowed: {allowed})")
        }
        (_, false) => text,
        (s, true) => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let mut fixed = ApiError::new(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
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
