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
use strata_engine::ingest::prom_text::{metadata, parse_page};

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
    let st = state.clone();
    let (stored, problems) = tokio::task::spawn_blocking(move || {
        let meta = &st.prom_metadata;
        let req = decode_remote_write(&raw, limit).map_err(|e| match e {
            RemoteWriteError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            _ => ApiError::bad_request(e.to_string()),
        })?;
        for m in &req.metadata {
            meta.update(
                &m.metric_family_name,
                Some(metric_type_name(m.r#type)),
                Some(&m.help),
                Some(&m.unit),
            );
        }
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
    let st = state.clone();
    let (stored, problems, bytes) = tokio::task::spawn_blocking(move || {
        let page = body::decode(raw, encoding, limit)?;
        body::check_lines(&page, max_lines)?;
        for (name, kind, help) in metadata(&page) {
            st.prom_metadata
                .update(&name, kind.as_deref(), help.as_deref(), None);
        }
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

/// Prometheus' name for a remote-write `MetricType`.
fn metric_type_name(t: i32) -> &'static str {
    match t {
        1 => "counter",
        2 => "gauge",
        3 => "summary",
        4 => "histogram",
        5 => "gaugehistogram",
        6 => "info",
        7 => "stateset",
        _ => "unknown",
    }
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
