//! Prometheus' TSDB admin API: `POST|PUT /api/v1/admin/tsdb/delete_series` (`match[]`,
//! `start`, `end`; 204 on success) and `POST|PUT /api/v1/admin/tsdb/clean_tombstones`
//! (204), and `POST|PUT /api/v1/admin/tsdb/snapshot` (`skip_head`; also at
//! `/api/v1/admin/snapshot`): a consistent snapshot of the live directory in
//! `<data-dir>/snapshots/<YYYYMMDDTHHMMSSZ>-<16 hex>`, answered
//! `{"status":"success","data":{"name":"..."}}`. Off unless the server was started with `--web.enable-admin-api`; then both
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

/// An admin endpoint: `work`'s answer when the admin API is on (its error as Prometheus'
/// error JSON), Prometheus' refusal otherwise (`work` is then never run).
async fn admin(
    state: &AppState,
    work: impl std::future::Future<Output = Result<Response, PromResponse>>,
) -> Response {
    if !state.config.enable_admin_api {
        return disabled();
    }
    work.await.unwrap_or_else(IntoResponse::into_response)
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
    admin(&state, async {
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
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `clean_tombstones`.
pub async fn clean_tombstones(State(state): State<Arc<AppState>>) -> Response {
    admin(&state, async {
        let db = state.db()?;
        blocking(move || db.clean_tombstones().map_err(|e| e.to_string())).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// Prometheus' snapshot name: the UTC time to the second and 63 random bits in hex.
fn snapshot_name(now: chrono::DateTime<chrono::Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    let random = h.finish() & (u64::MAX >> 1);
    format!("{}-{random:016x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// Go's `strconv.ParseBool`, as Prometheus parses `skip_head`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `snapshot`.
pub async fn snapshot(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    admin(&state, async {
        let p = request_params(&state, &method, &uri, &headers, body).await?;
        let skip_head = match first(&p, "skip_head").unwrap_or("") {
            "" => false,
            v => parse_go_bool(v).ok_or_else(|| {
                PromResponse::invalid_param(
                    "skip_head",
                    format!(
                        "unable to parse boolean: strconv.ParseBool: parsing {v:?}: invalid syntax"
                    ),
                )
            })?,
        };
        let db = state.db()?;
        let name = snapshot_name(chrono::Utc::now());
        let out = db.dir().join("snapshots").join(&name);
        let opts = strata_engine::snapshot::SnapshotOptions {
            skip_wal: skip_head,
        };
        blocking(move || {
            db.snapshot(&out, opts)
                .map_err(|e| format!("create snapshot: {e}"))
        })
        .await?;
        let data = serde_json::json!({ "name": name }).to_string();
        Ok(PromResponse::data(&data, &[]).into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_prometheus_shaped_and_differ() {
        let now = chrono::DateTime::from_timestamp(1_512_940_344, 0).unwrap();
        let (a, b) = (snapshot_name(now), snapshot_name(now));
        assert!(a.starts_with("20171210T211224Z-"), "{a}");
        assert_eq!(a.len(), "20171210T211224Z-".len() + 16);
        assert_ne!(a, b);
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
