//! Prometheus' TSDB admin API: `POST|PUT /api/v1/admin/tsdb/delete_series` (`match[]`,
//! `start`, `end`; 204 on success) and `POST|PUT /api/v1/admin/tsdb/clean_tombstones`
//! (204). Off unless the server was started with `--web.enable-admin-api`; then both
//! answer as Prometheus 2.42 does: HTTP 500 with
//! `{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}`.

use crate::app::AppState;
use crate::prom_api::{
    MAX_TIME_MS, MIN_TIME_MS, PromResponse, first, matchers_param, request_params, time_param,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn disabled() -> Response {
    // Prometheus 2.42 sends its `unavailable` error type here with status 500.
    let mut r = PromResponse::error("unavailable", "admin APIs disabled").into_response();
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, PromResponse> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PromResponse::error("internal", &e)),
        Err(e) => Err(PromResponse::error(
            "internal",
            &format!("task failed: {e}"),
        )),
    }
}

/// `delete_series`.
pub async fn delete_series(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.config.enable_admin_api {
        return disabled();
    }
    let run = async {
        let p = request_params(&state, &method, &uri, &headers, body).await?;
        if first(&p, "match[]").is_none() {
            return Err(PromResponse::bad_data("no match[] parameter provided"));
        }
        let start = time_param(&p, "start", MIN_TIME_MS)?;
        let end = time_param(&p, "end", MAX_TIME_MS)?;
        let sets = matchers_param(&p)?;
        let db = state.db_for_write()?;
        blocking(move || strata_query::promql::delete::delete_series(&db, &sets, start, end))
            .await?;
        Ok(())
    };
    match run.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r.into_response(),
    }
}

/// `clean_tombstones`.
pub async fn clean_tombstones(State(state): State<Arc<AppState>>) -> Response {
    if !state.config.enable_admin_api {
        return disabled();
    }
    let run = async {
        let db = state.db()?;
        blocking(move || db.clean_tombstones().map_err(|e| e.to_string())).await
    };
    match run.await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r.into_response(),
    }
}
