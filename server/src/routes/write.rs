//! `POST /write?db=&rp=&precision=`: InfluxDB 1.x line protocol, gzip accepted.
//!
//! 204 when every line is stored. A bad line (syntax, a field type conflict, retention…)
//! is refused alone while the good lines are stored, and the answer is 400 with
//! `{"error": "partial write: line N, column C: reason; …"}`, as InfluxDB's partial
//! writes. The 204 (or 400) is sent only after the engine returned, i.e. after the WAL
//! holds the batch under the fsync policy. `db` and `rp` are accepted and ignored: one
//! data directory is one database.

use crate::app::{AppState, param, params};
use crate::body;
use crate::error::ApiError;
use crate::metrics::Protocol;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;
use std::sync::Arc;
use strata_engine::model::Precision;
use strata_engine::{RejectedLine, WriteSummary};

/// Bodies larger than this go to the engine in pieces (at line boundaries), so that one
/// WAL record stays well under its limit and memory per record stays bounded.
const CHUNK_BYTES: usize = 8 << 20;

/// Refused lines named in one error message; the rest are counted.
const MAX_LISTED: usize = 20;

/// The handler.
pub async fn write(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let params = params(&uri);
    let limit = state.config.max_body_bytes;
    let checked = (|| {
        state.authorize(&headers, &params)?;
        let precision = match param(&params, "precision").filter(|p| !p.is_empty()) {
            None => Precision::Nanosecond,
            Some(p) => Precision::parse(p).ok_or_else(|| {
                ApiError::bad_request(format!("invalid precision {p:?}: use ns, u, ms, s, m or h"))
            })?,
        };
        let db = state.db_for_write()?;
        Ok((precision, db, body::encoding(&headers)?))
    })();
    let (precision, db, encoding) = match checked {
        Ok(v) => v,
        Err(e) => {
            return Err(body::refuse(body, &headers, limit, state.config.body_timeout, e).await);
        }
    };
    let raw = body::read_raw(body, &headers, limit, state.config.body_timeout).await?;
    let max_lines = state.config.max_lines_per_request;
    let (summary, bytes) = tokio::task::spawn_blocking(move || {
        let text = body::decode(raw, encoding, limit)?;
        body::check_lines(&text, max_lines)?;
        write_chunked(&db, &text, precision).map(|s| (s, text.len()))
    })
    .await??;
    state.metrics.wrote(
        Protocol::LineProtocol,
        summary.points,
        summary.rejected.len(),
        bytes,
    );
    if summary.rejected.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Err(ApiError::bad_request(partial_write_message(
        &summary.rejected,
        summary.lines,
    )))
}

/// Writes `text` in pieces of about [`CHUNK_BYTES`], numbering lines across the pieces.
fn write_chunked(
    db: &strata_engine::Db,
    text: &[u8],
    precision: Precision,
) -> Result<WriteSummary, ApiError> {
    let mut total = WriteSummary::default();
    let mut start = 0;
    let mut first_line = 1;
    while start < text.len() {
        let mut end = (start + CHUNK_BYTES).min(text.len());
        if end < text.len() {
            end = match memchr::memchr(b'\n', &text[end..]) {
                Some(i) => end + i + 1,
                None => text.len(),
            };
        }
        let piece = &text[start..end];
        let s = db
            .write_lp_numbered(piece, precision, first_line)
            .map_err(ApiError::engine)?;
        total.lines += s.lines;
        total.points += s.points;
        total.rejected.extend(s.rejected);
        first_line += memchr::memchr_iter(b'\n', piece).count();
        start = end;
    }
    Ok(total)
}

/// `partial write: line 3, column 9: reason; line 7, …; dropped=2 stored=98`.
pub fn partial_write_message(rejected: &[RejectedLine], stored: usize) -> String {
    let mut m = String::from("partial write: ");
    for (i, r) in rejected.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            m.push_str("; ");
        }
        let _ = write!(m, "{r}");
    }
    if rejected.len() > MAX_LISTED {
        let _ = write!(m, "; and {} more", rejected.len() - MAX_LISTED);
    }
    let _ = write!(m, " dropped={} stored={stored}", rejected.len());
    m
}
