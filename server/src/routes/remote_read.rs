//! `POST /api/v1/read`: Prometheus remote read (see [`crate::remote_read`]). Each query's
//! matching series are read raw over its time range and returned as one snappy
//! `ReadResponse` (response type SAMPLES, which every Prometheus client accepts). Over
//! the query sample limit is 400 with Prometheus' message.

use crate::app::{AppState, params};
use crate::body;
use crate::error::ApiError;
use crate::remote_read::{
    QueryResult, ReadResponse, decode_remote_read, encode_snappy, matchers, series,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::Uri;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use strata_query::promql::meta;

/// The handler.
pub async fn remote_read(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = params(&uri);
    state.authorize(&headers, &p)?;
    let db = state.db()?;
    let limit = state.config.max_body_bytes;
    let raw = body::read_raw(body, &headers, limit, state.config.body_timeout).await?;
    let max_samples = state.config.promql_max_samples;
    let out = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let req =
            decode_remote_read(&raw, limit).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut resp = ReadResponse::default();
        let mut budget = max_samples;
        for (i, q) in req.queries.iter().enumerate() {
            let ms = matchers(i, q).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let found =
                meta::raw_samples(&db, &ms, q.start_timestamp_ms, q.end_timestamp_ms, budget)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut result = QueryResult::default();
            for (labels, s) in found {
                budget = budget.saturating_sub(s.len());
                result.timeseries.push(series(&labels.0, &s.ts, &s.vals));
            }
            resp.results.push(result);
        }
        Ok(encode_snappy(&resp))
    })
    .await??;
    let mut r = (StatusCode::OK, out).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    Ok(r)
}
