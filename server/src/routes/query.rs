//! `GET/POST /query?q=&db=&rp=&epoch=&pretty=&chunked=&chunk_size=`: InfluxQL, as InfluxDB 1.x serves
//! it. `q` comes from the URL or a form-encoded body (`application/x-www-form-urlencoded`);
//! several statements separated by `;` each get their own result. Times are RFC 3339
//! unless `epoch=` (ns, u, ms, s, m, h) asks for integers. `Accept: application/csv` gives
//! CSV. A text that does not parse is 400 with the parser's message (line and column); a
//! statement that fails (e.g. over a limit) is 200 with an `error` in its own result, as
//! InfluxDB does. `db` and `rp` are accepted and ignored (one directory is one database).
//! JSON answers are streamed ([`super::query_stream`]): a large raw `SELECT` goes out a
//! time slice at a time in a chunked body, as one JSON document or, with `chunked=true`,
//! as InfluxDB's JSON object per line of at most `chunk_size` rows (default 10,000), or
//! as CSV; `pretty=true` and cluster-wide answers are rendered whole.

use crate::app::{AppState, param, params};
use crate::body;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;
use strata_query::{Epoch, QueryOptions};

/// The handler.
pub async fn query(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut params = params(&uri);
    if method == Method::POST && is_form(&headers) {
        let raw = body::read_raw(
            body,
            &headers,
            state.config.max_body_bytes,
            state.config.body_timeout,
        )
        .await?;
        params.extend(form_urlencoded::parse(&raw).map(|(k, v)| (k.into_owned(), v.into_owned())));
    }
    state.authorize(&headers, &params)?;
    let q = param(&params, "q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("missing required parameter \"q\""))?
        .to_owned();
    let epoch = match param(&params, "epoch").filter(|e| !e.is_empty()) {
        None => Epoch::Rfc3339,
        Some(e) => Epoch::parse(e).ok_or_else(|| {
            ApiError::bad_request(format!("invalid epoch {e:?}: use ns, u, ms, s, m or h"))
        })?,
    };
    let pretty = param(&params, "pretty") == Some("true");
    let csv = wants_csv(&headers);
    let db = state.db()?;
    // Cancelled if this handler is dropped (the client went away) or at shutdown.
    let cancel = state.request_cancel();
    // Held until the answer is encoded: its reservation covers the rows and the text.
    let memory = Arc::new(state.query_memory.account());
    let options = QueryOptions {
        now: None,
        limits: state.config.limits(),
        database: param(&params, "db").map(str::to_owned),
        cancel: cancel.token(),
        memory: Some(memory.clone()),
    };
    let cluster = super::cluster::wants_cluster(&params);
    // The answer as it is made, in pieces (a large raw SELECT never holds its whole
    // answer); `pretty=true` and cluster-wide answers are rendered whole.
    if !cluster && !pretty {
        use super::query_stream::{DEFAULT_CHUNK_SIZE, Shape, answer};
        let shape = if csv {
            Shape::Csv
        } else if param(&params, "chunked") == Some("true") {
            // As InfluxDB: a chunk_size that is not a positive number means the default.
            let rows = param(&params, "chunk_size")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(DEFAULT_CHUNK_SIZE);
            Shape::Chunked(rows)
        } else {
            Shape::Document
        };
        return answer(state.clone(), db, q, options, epoch, shape, cancel).await;
    }
    let started = Instant::now();
    let (resp, info) = if cluster {
        let nodes = super::cluster::nodes_param(&params);
        let c = state.cluster()?;
        let (r, i) = c.influxql(db, q, options, nodes.as_deref()).await;
        (r, Some(i))
    } else {
        (
            crate::blocking::run(move || strata_query::execute(&db, &q, &options)).await?,
            None,
        )
    };
    drop(cancel);
    state.metrics.query_took(started.elapsed());
    if let Some(e) = &resp.error {
        return Err(ApiError::bad_request(e.clone()));
    }
    // Refused by the query memory budget: busy, not a bad query.
    if memory.was_refused()
        && let Some(why) = resp.results.iter().find_map(|r| r.error.clone())
    {
        return Err(ApiError::unavailable(why, 1));
    }
    if csv {
        let mut r = (StatusCode::OK, resp.to_csv(epoch)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/csv"),
        );
        if let Some(i) = &info {
            super::cluster::info_headers(r.headers_mut(), i);
        }
        return Ok(r);
    }
    let mut text = resp.to_json(epoch);
    if let Some(i) = &info {
        text = super::cluster::splice_info(&text, i);
    }
    if pretty && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        text = serde_json::to_string_pretty(&v).unwrap_or(text);
    }
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(i) = &info {
        super::cluster::info_headers(r.headers_mut(), i);
    }
    Ok(r)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/csv") || v.contains("text/csv"))
}
