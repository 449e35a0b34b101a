//! Prometheus ingestion: `POST /api/v1/write` (remote write: snappy + protobuf, see
//! [`crate::remote_write`]) and `POST /api/v1/import/prometheus` (text exposition format,
//! optionally gzip, with `?timestamp=` for samples that carry none: RFC 3339 or Unix
//! seconds; default now). Both answer 204 when everything is stored; bad series or lines
//! give 400 naming each, while the good ones are stored.

use crate::app::{AppState, param, params};
use crate::body;
use crate::error::ApiError;
use crate::metrics::Protocol;
use crate::remote_write::{RemoteWriteError, decompress, wire, write_request};
use crate::timearg::parse_time;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::Arc;
use strata_engine::ingest::prom_text::sample_series_span;

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
        let refuse = |e: RemoteWriteError| match e {
            RemoteWriteError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            _ => ApiError::bad_request(e.to_string()),
        };
        let bytes = decompress(&raw, limit).map_err(refuse)?;
        // The whole request is read (and refused if malformed anywhere) before anything
        // is written.
        let req =
            wire::decode(&bytes).map_err(|e| refuse(RemoteWriteError::Protobuf(e.to_string())))?;
        for m in &req.metadata {
            st.prom_metadata.update(
                &m.metric_family_name,
                Some(metric_type_name(m.r#type)),
                Some(&m.help),
                Some(&m.unit),
            );
        }
        let (summary, problems) = write_request(&db, &req).map_err(ApiError::engine)?;
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
        let s = db
            .write_prom_text(&page, default_ts)
            .map_err(ApiError::engine)?;
        st.prom_metadata.update_all(
            s.metadata
                .iter()
                .map(|m| (m.name, m.kind, m.help.as_deref())),
        );
        let problems: Vec<String> = s
            .write
            .rejected
            .iter()
            .map(|r| match series_text(&page, r.line) {
                Some(series) => format!(
                    "line {}, column {} ({series}): {}",
                    r.line, r.column, r.reason
                ),
                None => r.to_string(),
            })
            .collect();
        Ok::<_, ApiError>((s.write.points, problems, page.len()))
    })
    .await??;
    state
        .metrics
        .wrote(Protocol::PromText, stored, problems.len(), bytes);
    finish(problems, stored)
}

/// The series (metric name and labels, as written) of line `number` of a page, for a
/// message; `None` when the line is not a sample.
fn series_text(page: &[u8], number: usize) -> Option<String> {
    let line = page.split(|&b| b == b'\n').nth(number.checked_sub(1)?)?;
    let (s, e) = sample_series_span(line)?;
    let text = String::from_utf8_lossy(&line[s..e]);
    Some(match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.into_owned(),
    })
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
