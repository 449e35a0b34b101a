//! Prometheus ingestion: `POST /api/v1/write` (remote write: snappy + protobuf, see
//! [`crate::remote_write`]) and `POST /api/v1/import/prometheus` (text exposition format,
//! optionally gzip, with `?timestamp=` for samples that carry none: RFC 3339 or Unix
//! seconds; default now). Both answer 204 when everything is stored; bad series or lines
//! give 400 naming each, while the good ones are stored.

use crate::app::{AppState, param, params};
use crate::body;
use crate::error::ApiError;
use crate::metrics::Protocol;
use crate::remote_write::{RemoteWriteError, decode_remote_write, to_points};
use crate::timearg::parse_time;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::Arc;
use strata_engine::ingest::prom_text::parse_page;

/// Errors named in one message; the rest are counted.
const MAX_LISTED: usize = 20;

/// `POST /api/v1/write`.
pub async fn remote_write(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let params = params(&uri);
    let limit = state.config.max_body_bytes;
    let checked = state
        .authorize(&headers, &params)
        .and_then(|()| state.db_for_write());
    let db = match checked {
        Ok(db) => db,
        Err(e) => {
            return Err(body::refuse(body, &headers, limit, state.config.body_timeout, e).await);
        }
    };
    let raw = body::read_raw(body, &headers, limit, state.config.body_timeout).await?;
    let bytes = raw.len();
    let (stored, problems) = tokio::task::spawn_blocking(move || {
        let req = decode_remote_write(&raw, limit).map_err(|e| match e {
            RemoteWriteError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            _ => ApiError::bad_request(e.to_string()),
        })?;
        let (points, errors) = to_points(&req);
        let summary = db.write_points(&points).map_err(ApiError::engine)?;
        let mut problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
        problems.extend(summary.rejected.iter().map(|r| {
            let p = points.get(r.line - 1);
            let series = p.map(|p| p.series.measurement()).unwrap_or("?");
            format!("sample {} of {series}: {}", r.line, r.reason)
        }));
        Ok::<_, ApiError>((summary.points, problems))
    })
    .await??;
    state
        .metrics
        .wrote(Protocol::RemoteWrite, stored, problems.len(), bytes);
    finish(problems, stored)
}

/// `POST /api/v1/import/prometheus`.
pub async fn import_text(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let params = params(&uri);
    let limit = state.config.max_body_bytes;
    let checked = (|| {
        state.authorize(&headers, &params)?;
        let default_ts = match param(&params, "timestamp").filter(|t| !t.is_empty()) {
            Some(t) => {
                parse_time(t).map_err(|e| ApiError::bad_request(format!("timestamp: {e}")))?
            }
            None => crate::timearg::now_nanos(),
        };
        let db = state.db_for_write()?;
        Ok((default_ts, db, body::encoding(&headers)?))
    })();
    let (default_ts, db, encoding) = match checked {
        Ok(v) => v,
        Err(e) => {
            return Err(body::refuse(body, &headers, limit, state.config.body_timeout, e).await);
        }
    };
    let max_lines = state.config.max_lines_per_request;
    let raw = body::read_raw(body, &headers, limit, state.config.body_timeout).await?;
    let (stored, problems, bytes) = tokio::task::spawn_blocking(move || {
        let page = body::decode(raw, encoding, limit)?;
        body::check_lines(&page, max_lines)?;
        let (points, errors) = parse_page(&page, default_ts);
        let summary = db.write_points(&points).map_err(ApiError::engine)?;
        let mut problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
        problems.extend(summary.rejected.iter().map(|r| {
            let p = points.get(r.line - 1);
            let series = p.map(|p| p.series.measurement()).unwrap_or("?");
            format!("sample {} ({series}): {}", r.line, r.reason)
        }));
        Ok::<_, ApiError>((summary.points, problems, page.len()))
    })
    .await??;
    state
        .metrics
        .wrote(Protocol::PromText, stored, problems.len(), bytes);
    finish(problems, stored)
}

fn finish(problems: Vec<String>, stored: usize) -> Result<Response, ApiError> {
    if problems.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut m = String::from("partial write: ");
    m.push_str(
        &problems
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    );
    if problems.len() > MAX_LISTED {
        let _ = write!(m, "; and {} more", problems.len() - MAX_LISTED);
    }
    let _ = write!(m, " dropped={} stored={stored}", problems.len());
    Err(ApiError::bad_request(m))
}
