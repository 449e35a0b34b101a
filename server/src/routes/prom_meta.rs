//! The metadata endpoints of Prometheus' HTTP API: `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/<name>/values` (each with `match[]`, `start`, `end`),
//! `/api/v1/metadata` (`metric`, `limit`), `/api/v1/status/buildinfo` and
//! `/api/v1/status/tsdb`.

use crate::app::AppState;
use crate::prom_api::{
    MAX_TIME_MS, MIN_TIME_MS, PromResponse, first, matchers_param, request_params, time_param,
};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use serde_json::json;
use std::sync::Arc;
use strata_query::promql::{json as pjson, meta};

/// The Prometheus version whose API Strata answers as; clients such as Grafana read it
/// from `buildinfo` to decide which features to use.
pub const PROMETHEUS_API_VERSION: &str = "2.42.0";

type Params = Vec<(String, String)>;

async fn params(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Params, PromResponse> {
    request_params(state, method, uri, headers, body).await
}

fn range(p: &Params) -> Result<(i64, i64), PromResponse> {
    let start = time_param(p, "start", MIN_TIME_MS)?;
    let end = time_param(p, "end", MAX_TIME_MS)?;
    Ok((start, end))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, strata_engine::Error> + Send + 'static,
) -> Result<T, PromResponse> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PromResponse::error("internal", &e.to_string())),
        Err(e) => Err(PromResponse::error(
            "internal",
            &format!("task failed: {e}"),
        )),
    }
}

/// `/api/v1/series`.
pub async fn series(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let run = async {
        let p = params(&state, &method, &uri, &headers, body).await?;
        if first(&p, "match[]").is_none() {
            return Err(PromResponse::bad_data("no match[] parameter provided"));
        }
        let (start, end) = range(&p)?;
        let sets = matchers_param(&p)?;
        let db = state.db()?;
        let found = blocking(move || meta::series(&db, &sets, start, end)).await?;
        let mut out = String::from("[");
        for (i, l) in found.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&pjson::labels_json(l));
        }
        out.push(']');
        Ok(PromResponse::data(&out, &[]))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `/api/v1/labels`.
pub async fn labels(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let run = async {
        let p = params(&state, &method, &uri, &headers, body).await?;
        let (start, end) = range(&p)?;
        let sets = matchers_param(&p)?;
        let db = state.db()?;
        let names = blocking(move || meta::label_names(&db, &sets, start, end)).await?;
        Ok(PromResponse::data(&json!(names).to_string(), &[]))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `/api/v1/label/<name>/values`.
pub async fn label_values(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let run = async {
        let p = params(&state, &method, &uri, &headers, body).await?;
        let valid = {
            let mut c = name.chars();
            matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
                && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        };
        if !valid {
            return Err(PromResponse::bad_data(format!(
                "invalid label name: {name:?}"
            )));
        }
        let (start, end) = range(&p)?;
        let sets = matchers_param(&p)?;
        let db = state.db()?;
        let values = blocking(move || meta::label_values(&db, &name, &sets, start, end)).await?;
        Ok(PromResponse::data(&json!(values).to_string(), &[]))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `/api/v1/metadata`: HELP, TYPE and UNIT seen on pushed exposition pages and in remote
/// write metadata, per metric family.
pub async fn metadata(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> PromResponse {
    let run = async {
        let p = params(&state, &method, &uri, &headers, body).await?;
        let limit = match first(&p, "limit").filter(|s| !s.is_empty()) {
            None => -1,
            Some(s) => s
                .parse::<i64>()
                .map_err(|_| PromResponse::bad_data("limit must be a number"))?,
        };
        let metric = first(&p, "metric").unwrap_or("").to_owned();
        let all = state.prom_metadata.snapshot();
        let mut out = serde_json::Map::new();
        for (name, m) in all {
            if !metric.is_empty() && name != metric {
                continue;
            }
            if limit >= 0 && out.len() as i64 >= limit {
                break;
            }
            out.insert(
                name,
                json!([{ "type": m.kind, "help": m.help, "unit": m.unit }]),
            );
        }
        Ok(PromResponse::data(
            &serde_json::Value::Object(out).to_string(),
            &[],
        ))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `/api/v1/status/buildinfo`.
pub async fn buildinfo() -> PromResponse {
    let data = json!({
        "version": PROMETHEUS_API_VERSION,
        "revision": concat!("strata-", env!("CARGO_PKG_VERSION")),
        "branch": "strata",
        "buildUser": "strata",
        "buildDate": "",
        "goVersion": "none (Strata is written in Rust)",
    });
    PromResponse::data(&data.to_string(), &[])
}

/// `/api/v1/status/metrics` (Strata's): every metric name with its series count,
/// `[{"name":…,"series":N},…]`, sorted by name.
pub async fn metrics_summary(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> PromResponse {
    let run = async {
        let p = crate::app::params(&uri);
        state.authorize(&headers, &p)?;
        let db = state.db()?;
        let list = blocking(move || Ok(meta::metric_series(&db))).await?;
        let data: serde_json::Value = list
            .into_iter()
            .map(|(n, c)| json!({ "name": n, "series": c }))
            .collect();
        Ok::<_, PromResponse>(PromResponse::data(&data.to_string(), &[]))
    };
    run.await.unwrap_or_else(|r| r)
}

/// `/api/v1/status/tsdb`.
pub async fn tsdb(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> PromResponse {
    let run = async {
        let p = crate::app::params(&uri);
        state.authorize(&headers, &p)?;
        let db = state.db()?;
        let (st, bounds) = blocking(move || {
            let st = meta::tsdb_status(&db);
            let t = db.tier_stats();
            let ranges = [t.hot.time_range, t.warm.time_range, t.cold.time_range];
            let lo = ranges.iter().flatten().map(|r| r.0).min();
            let hi = ranges.iter().flatten().map(|r| r.1).max();
            Ok((st, (lo, hi)))
        })
        .await?;
        let pairs = |v: &[(String, usize)]| -> serde_json::Value {
            v.iter()
                .map(|(n, c)| json!({ "name": n, "value": c }))
                .collect()
        };
        let ms = |t: Option<i64>| t.map_or(0, |ns| ns.div_euclid(1_000_000));
        let data = json!({
            "headStats": {
                "numSeries": st.num_series,
                "numLabelPairs": st.num_label_pairs,
                "chunkCount": 0,
                "minTime": ms(bounds.0),
                "maxTime": ms(bounds.1),
            },
            "seriesCountByMetricName": pairs(&st.series_by_metric),
            "labelValueCountByLabelName": pairs(&st.values_by_label),
            "memoryInBytesByLabelName": pairs(&st.bytes_by_label),
            "seriesCountByLabelValuePair": pairs(&st.series_by_pair),
        });
        Ok::<_, PromResponse>(PromResponse::data(&data.to_string(), &[]))
    };
    run.await.unwrap_or_else(|r| r)
}
