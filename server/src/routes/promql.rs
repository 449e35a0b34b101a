//! PromQL over Prometheus' HTTP API: `GET/POST /api/v1/query` (`query`, `time`,
//! `timeout`, `stats`), `/api/v1/query_range` (`query`, `start`, `end`, `step`, `timeout`,
//! `stats`: with any value, `data.stats` gives the time taken and the samples read) and
//! `/api/v1/query_exemplars` (no exemplars are stored: an empty list once the parameters
//! check out). Parameter errors, limits and status codes are Prometheus 2.42's.
//! `explain=1` (or `true`) on the two query endpoints answers what the query would read
//! instead of evaluating it (a Strata extension; docs/QUERY.md, "EXPLAIN for PromQL").

use crate::app::AppState;
use crate::blocking::QueryCosts;
use crate::prom_api::{
    PromResponse, first, now_ms, parse_duration, parse_time, request_params, time_param,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_query::promql::{self, EvalOptions, json};

/// Most points per series a range query may return (`end - start) / step`).
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// The evaluation settings for a request: the server's, with `timeout=` lowering the
/// timeout, and the request's account in the query memory budget.
fn options(state: &AppState, p: &[(String, String)]) -> Result<EvalOptions, PromResponse> {
    let mut opts = state.config.promql_options();
    // Samples held count against the server's query memory budget, as InfluxQL rows do.
    opts.memory = Some(Arc::new(state.query_memory.account()));
    if let Some(t) = first(p, "timeout").filter(|t| !t.is_empty()) {
        let ms = parse_duration(t).map_err(|e| PromResponse::invalid_param("timeout", e))?;
        let asked = Duration::from_millis(ms.max(0) as u64);
        opts.timeout = Some(opts.timeout.map_or(asked, |t| t.min(asked)));
    }
    Ok(opts)
}

/// The parsed `query`; a parse error is `invalid parameter "query": …` for instant
/// queries and the bare parse error for range queries, as Prometheus words them.
fn expr_param(p: &[(String, String)], prefixed: bool) -> Result<promql::ast::Expr, PromResponse> {
    let q = first(p, "query").unwrap_or("");
    promql::parse_expr(q).map_err(|e| {
        if prefixed {
            PromResponse::invalid_param("query", e)
        } else {
            PromResponse::bad_data(e.to_string())
        }
    })
}

/// Whether `explain=` asks for the plan: `1`/`true` yes, absent/empty/`0`/`false` no.
fn wants_explain(p: &[(String, String)]) -> Result<bool, PromResponse> {
    match first(p, "explain") {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(PromResponse::invalid_param(
            "explain",
            format!("cannot parse {other:?}: use 1, true, 0 or false"),
        )),
    }
}

/// The answer to `explain=1`: `data.resultType` "explain" and, in `data.result`, the
/// source (always the raw tiers, and why rollups are not used), every selector with the
/// series it matches and the range it reads, and the union of those ranges (seconds).
async fn explain_response(
    db: Arc<strata_engine::Db>,
    expr: promql::ast::Expr,
    (start, end, step): (i64, i64, Option<i64>),
    lookback_ms: i64,
) -> PromResponse {
    let text = expr.to_string();
    let res = tokio::task::spawn_blocking(move || {
        promql::explain::explain(&db, &expr, start, end, lookback_ms)
    })
    .await;
    let plan = match res {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return PromResponse::error("execution", &format!("explain: {e}")),
        Err(e) => return PromResponse::error("internal", &format!("explain task failed: {e}")),
    };
    let secs = |ms: i64| ms as f64 / 1000.0;
    let selectors: Vec<serde_json::Value> = plan
        .selectors
        .iter()
        .map(|s| {
            serde_json::json!({
                "selector": s.selector,
                "series": s.series,
                "start": secs(s.start_ms),
                "end": secs(s.end_ms),
            })
        })
        .collect();
    let data = serde_json::json!({
        "resultType": "explain",
        "result": {
            "query": text,
            "source": "raw tiers",
            "rollups": format!("not used: {}", promql::explain::ROLLUPS_NOT_USED),
            "start": secs(start),
            "end": secs(end),
            "step": step.map(secs),
            "lookback_seconds": secs(lookback_ms),
            "read": plan.range_ms.map(|(lo, hi)| serde_json::json!({"start": secs(lo), "end": secs(hi)})),
            "selectors": selectors,
        }
    });
    PromResponse::data(&data.to_string(), &[])
}

/// `/api/v1/query`.
/// With `cluster=true`, the hook that sends the query's node-local parts to the members
/// (all, or `nodes=`); `None` for a query on this node alone.
fn cluster_remote(
    state: &AppState,
    p: &[(String, String)],
    expr: &promql::ast::Expr,
    opts: &mut EvalOptions,
) -> Result<Option<Arc<strata_cluster::prom::PromRemote>>, PromResponse> {
    if !super::cluster::wants_cluster(p) {
        return Ok(None);
    }
    let c = state.cluster().map_err(PromResponse::from_api)?;
    let remote = c
        .prom_remote(expr, super::cluster::nodes_param(p))
        .map_err(|e| PromResponse::query_error(&e))?;
    opts.remote = Some(remote.clone());
    Ok(Some(remote))
}

/// The answer's warnings about left-out members, counted in `/metrics`.
fn cluster_warnings(
    state: &AppState,
    remote: Option<&strata_cluster::prom::PromRemote>,
) -> Vec<String> {
    let (Some(r), Some(c)) = (remote, state.cluster.read().clone()) else {
        return Vec::new();
    };
    c.count(&r.info());
    r.warnings()
}

pub async fn query(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let p = match request_params(&state, &method, &uri, &headers, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let run = || -> Result<_, PromResponse> {
        let t = time_param(&p, "time", now_ms())?;
        let opts = options(&state, &p)?;
        let expr = expr_param(&p, true)?;
        let db = state.db()?;
        Ok((t, opts, expr, db))
    };
    let (t, opts, expr, db) = match run() {
        Ok(x) => x,
        Err(r) => return r,
    };
    match wants_explain(&p) {
        Ok(true) => return explain_response(db, expr, (t, t, None), opts.lookback_ms).await,
        Ok(false) => {}
        Err(r) => return r,
    }
    // Cancelled if this handler is dropped (the client went away) or at shutdown.
    let cancel = state.request_cancel();
    let mut opts = opts;
    opts.cancel = cancel.token();
    let remote = match cluster_remote(&state, &p, &expr, &mut opts) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let with_stats = first(&p, "stats").is_some_and(|s| !s.is_empty());
    let started = Instant::now();
    let query = first(&p, "query").unwrap_or("").as_bytes();
    let shape = remote
        .is_none()
        .then(|| QueryCosts::shape(&[b"instant", query]));
    let res = crate::blocking::run_sized(&state.query_costs, shape, move || {
        promql::instant_with_stats(&db, &expr, t, &opts)
    })
    .await;
    drop(cancel);
    let took = started.elapsed();
    state.metrics.query_took(took);
    let warnings = cluster_warnings(&state, remote.as_deref());
    match res {
        Ok(Ok((v, st))) => {
            let stats = with_stats.then(|| json::stats_json(&st, took.as_secs_f64()));
            PromResponse::data(&json::data_json_with_stats(&v, stats.as_deref()), &warnings)
        }
        Ok(Err(e)) => PromResponse::query_error(&e),
        Err(e) => PromResponse::error("internal", &e.to_string()),
    }
}

/// `/api/v1/query_range`.
pub async fn query_range(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let p = match request_params(&state, &method, &uri, &headers, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let run = || -> Result<_, PromResponse> {
        let start = parse_time(first(&p, "start").unwrap_or(""))
            .map_err(|e| PromResponse::invalid_param("start", e))?;
        let end = parse_time(first(&p, "end").unwrap_or(""))
            .map_err(|e| PromResponse::invalid_param("end", e))?;
        if end < start {
            return Err(PromResponse::invalid_param(
                "end",
                "end timestamp must not be before start time",
            ));
        }
        let step = parse_duration(first(&p, "step").unwrap_or(""))
            .map_err(|e| PromResponse::invalid_param("step", e))?;
        if step <= 0 {
            return Err(PromResponse::invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step > MAX_POINTS_PER_SERIES {
            return Err(PromResponse::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let opts = options(&state, &p)?;
        let expr = expr_param(&p, false)?;
        let db = state.db()?;
        Ok((start, end, step, opts, expr, db))
    };
    let (start, end, step, opts, expr, db) = match run() {
        Ok(x) => x,
        Err(r) => return r,
    };
    match wants_explain(&p) {
        Ok(true) => {
            let lookback = opts.lookback_ms;
            return explain_response(db, expr, (start, end, Some(step)), lookback).await;
        }
        Ok(false) => {}
        Err(r) => return r,
    }
    let cancel = state.request_cancel();
    let mut opts = opts;
    opts.cancel = cancel.token();
    let remote = match cluster_remote(&state, &p, &expr, &mut opts) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let with_stats = first(&p, "stats").is_some_and(|s| !s.is_empty());
    let started = Instant::now();
    let query = first(&p, "query").unwrap_or("").as_bytes();
    let shape = remote.is_none().then(|| {
        QueryCosts::shape(&[
            b"range",
            query,
            &(end - start).to_le_bytes(),
            &step.to_le_bytes(),
        ])
    });
    let res = crate::blocking::run_sized(&state.query_costs, shape, move || {
        promql::range_with_stats(&db, &expr, start, end, step, &opts)
    })
    .await;
    drop(cancel);
    let took = started.elapsed();
    state.metrics.query_took(took);
    let warnings = cluster_warnings(&state, remote.as_deref());
    match res {
        Ok(Ok((v, st))) => {
            let stats = with_stats.then(|| json::stats_json(&st, took.as_secs_f64()));
            PromResponse::data(&json::data_json_with_stats(&v, stats.as_deref()), &warnings)
        }
        Ok(Err(e)) => PromResponse::query_error(&e),
        Err(e) => PromResponse::error("internal", &e.to_string()),
    }
}

/// `/api/v1/query_exemplars`: Strata stores no exemplars.
pub async fn query_exemplars(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let p = match request_params(&state, &method, &uri, &headers, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let check = || -> Result<(), PromResponse> {
        let start = time_param(&p, "start", crate::prom_api::MIN_TIME_MS)?;
        let end = time_param(&p, "end", crate::prom_api::MAX_TIME_MS)?;
        if end < start {
            return Err(PromResponse::invalid_param(
                "end",
                "end timestamp must not be before start timestamp",
            ));
        }
        expr_param(&p, true)?;
        Ok(())
    };
    match check() {
        Ok(()) => PromResponse::data("[]", &[]),
        Err(r) => r,
    }
}
