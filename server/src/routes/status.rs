//! `/ping`, `/health`, `/ready`, `/metrics` (open to everyone) and `/api/v1/status`.

use crate::app::{AppState, DbSlot, INFLUX_VERSION, param, params};
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use strata_engine::TierStats;

/// `GET /ping`: 204 (the version is in `X-Influxdb-Version`, added to every response);
/// `?verbose=true`: 200 with `{"version": …}`.
pub async fn ping(uri: Uri) -> Response {
    let params = params(&uri);
    if param(&params, "verbose") == Some("true") {
        return Json(json!({ "version": INFLUX_VERSION })).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /health`: 200 while the process serves HTTP, with whether the database is open.
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let (db, message) = match &*state.db.read() {
        DbSlot::Opening => (
            "opening",
            "ready for queries and writes once the WAL is replayed",
        ),
        DbSlot::Open(_) => ("open", "ready for queries and writes"),
        DbSlot::Failed(_) => ("failed", "the database could not be opened"),
        DbSlot::Closed => ("closed", "shutting down"),
    };
    Json(json!({
        "name": "strata",
        "status": "pass",
        "message": message,
        "database": db,
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// `GET /ready`: 200 once the database is open (WAL replayed), 503 before.
pub async fn ready(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    state.db()?;
    Ok(Json(json!({ "status": "ready", "version": env!("CARGO_PKG_VERSION") })).into_response())
}

/// `GET /metrics`: Strata's own metrics in Prometheus text format (docs/SERVER.md).
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let params = crate::app::params(&uri);
    if super::cluster::wants_cluster(&params) {
        return super::cluster::metrics_page(&state, &params).await;
    }
    let db = state.db().ok();
    let overloaded = state.overload.read().is_some();
    let uptime = state.started.elapsed();
    let st = state.clone();
    let page =
        tokio::task::spawn_blocking(move || st.metrics.render(db.as_deref(), uptime, overloaded))
            .await?;
    let page = match state.agent.get() {
        Some(agent) => page + &agent.metrics_text(),
        None => page,
    };
    let page = page + &crate::metrics::cluster_text(&state);
    let mut r = page.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

fn tier_json(t: &TierStats) -> Value {
    let time = |f: fn(&(i64, i64)) -> i64| t.time_range.as_ref().map(f);
    json!({
        "files": t.files,
        "series": t.series,
        "points": t.points,
        "bytes": t.bytes,
        "min_time": time(|r| r.0),
        "max_time": time(|r| r.1),
        "min_time_rfc3339": time(|r| r.0).map(strata_query::result::format_rfc3339),
        "max_time_rfc3339": time(|r| r.1).map(strata_query::result::format_rfc3339),
    })
}

/// The retention in force: the global period and each rule, with the cutoff each gives
/// now (the oldest time kept; `null` when kept forever) and how many measurements it
/// holds.
fn retention_json(db: &strata_engine::Db) -> Value {
    use strata_engine::retention::{DurationText, MeasurementMatch, RetentionGroup};
    let r = db.retention();
    let now = db.options().clock.now_nanos();
    let counts = db.retention_measurement_counts();
    let period = |g: RetentionGroup| {
        let d = r.period(g);
        let cutoff = d.map(|_| r.cutoff(g, now));
        json!({
            "raw": DurationText(d).to_string(),
            "raw_seconds": d.map(|d| d.as_secs_f64()),
            "cutoff": cutoff,
            "cutoff_rfc3339": cutoff.map(strata_query::result::format_rfc3339),
            "measurements": counts.get(g.0 as usize).copied().unwrap_or(0),
        })
    };
    let rules: Vec<Value> = r
        .rules()
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let g = RetentionGroup(u32::try_from(i + 1).unwrap_or(u32::MAX));
            let mut v = period(g);
            v["rule"] = json!(i + 1);
            match rule.matcher() {
                MeasurementMatch::Exact(m) => v["measurement"] = json!(m),
                MeasurementMatch::Regex { pattern, .. } => v["match"] = json!(pattern),
            }
            v
        })
        .collect();
    json!({
        "default": period(RetentionGroup::GLOBAL),
        "rules": rules,
        "rollups": rollups_json(db),
    })
}

/// The rollup rules in force, in configuration order: what each keeps, for how long (its
/// own retention, independent of the raw one), and its live files.
fn rollups_json(db: &strata_engine::Db) -> Value {
    use strata_engine::retention::DurationText;
    let day_start = |d: i64| {
        d.checked_mul(86_400_000_000_000)
            .map(strata_query::result::format_rfc3339)
    };
    let rules: Vec<Value> = db
        .rollup_status()
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            let r = &st.rule;
            let interval = std::time::Duration::from_nanos(r.interval().unsigned_abs());
            let mut v = json!({
                "rule": i + 1,
                "interval": DurationText(Some(interval)).to_string(),
                "interval_seconds": interval.as_secs_f64(),
                "aggregates": r.aggregates().names(),
                "retention": DurationText(r.retention()).to_string(),
                "retention_seconds": r.retention().map(|d| d.as_secs_f64()),
                "cutoff": st.cutoff,
                "cutoff_rfc3339": st.cutoff.map(strata_query::result::format_rfc3339),
                "files": st.files,
                "bytes": st.bytes,
                "first_day": st.days.and_then(|(lo, _)| day_start(lo)),
                "last_day": st.days.and_then(|(_, hi)| day_start(hi)),
            });
            match r.measurement() {
                Some(m) => v["measurement"] = json!(m),
                None => v["match"] = json!(r.pattern()),
            }
            v
        })
        .collect();
    Value::Array(rules)
}

/// `GET /api/v1/status`: tiers, files, points, bytes and series, and the retention in
/// force, as JSON.
pub async fn status(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &params(&uri))?;
    let db = state.db()?;
    let uptime = state.started.elapsed().as_secs_f64();
    let overload = state.overload.read().clone();
    let body = tokio::task::spawn_blocking(move || {
        let tiers = db.tier_stats();
        let stats = db.stats();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "influxdb_version": INFLUX_VERSION,
            "uptime_seconds": uptime,
            "data_dir": db.dir().display().to_string(),
            "series": stats.series,
            "columns": stats.columns,
            "index_bytes": stats.index_bytes,
            "points": tiers.hot.points + tiers.warm.points + tiers.cold.points,
            "bytes": tiers.hot.bytes + tiers.warm.bytes + tiers.cold.bytes,
            "tiers": {
                "hot": tier_json(&tiers.hot),
                "warm": tier_json(&tiers.warm),
                "cold": tier_json(&tiers.cold),
            },
            "wal": { "files": tiers.wal_files, "bytes": tiers.wal_bytes },
            "retention": retention_json(&db),
            "overloaded": overload,
        })
    })
    .await?;
    Ok(Json(body).into_response())
}
