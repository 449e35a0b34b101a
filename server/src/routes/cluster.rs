//! Cluster endpoints: the internal partial-result route members answer, the member list,
//! `/metrics/cluster` (the seed's JSON aggregate over nodes) and the cluster form of
//! `/metrics`; and the helpers the other routes use for `cluster=true`.
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `POST /internal/v1/partial/influxql` | a member's partial answer (binary, `strata_query::partial::select`) |
//! | `GET /api/v1/cluster/members` | the member list as this node sees it (JSON) |
//! | `GET /metrics/cluster?metric=&aggregation=&from=&to=&nodes=&step=&group_by=` | `/api/v1/aggregate` over the cluster (JSON) |
//! | `GET /metrics?cluster=true[&by=node]` | every member's `/metrics` page, samples summed (or one per node) |

use crate::app::{AppState, param, params};
use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use strata_cluster::ClusterInfo;
use strata_cluster::wire::InfluxqlRequest;
use strata_query::{Limits, QueryOptions};

/// Whether the request asks for a cluster answer (`cluster=true` or `cluster=1`).
pub fn wants_cluster(params: &[(String, String)]) -> bool {
    matches!(param(params, "cluster"), Some("true" | "1"))
}

/// The members named by `nodes=a,b` (None: every live member).
pub fn nodes_param(params: &[(String, String)]) -> Option<Vec<String>> {
    param(params, "nodes").map(|n| {
        n.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// The fields every cluster JSON answer carries.
pub fn info_json(info: &ClusterInfo) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("partial".into(), json!(info.partial()));
    m.insert("failed_nodes".into(), json!(info.failed_nodes));
    m.insert("nodes".into(), json!(info.nodes));
    if info.stale_membership {
        m.insert("stale_membership".into(), json!(true));
    }
    m
}

/// Headers that carry a cluster answer's outcome (for CSV and text answers too).
pub fn info_headers(h: &mut HeaderMap, info: &ClusterInfo) {
    h.insert("X-Strata-Cluster-Bytes", HeaderValue::from(info.bytes));
    h.insert(
        "X-Strata-Partial",
        HeaderValue::from_static(if info.partial() { "true" } else { "false" }),
    );
    if info.partial() {
        let names: Vec<&str> = info.failed_nodes.iter().map(|f| f.node.as_str()).collect();
        if let Ok(v) = HeaderValue::from_str(&names.join(",")) {
            h.insert("X-Strata-Failed-Nodes", v);
        }
    }
}

/// Inserts the cluster fields at the start of an InfluxDB-shaped JSON object.
pub fn splice_info(json_text: &str, info: &ClusterInfo) -> String {
    let fields = serde_json::to_string(&Value::Object(info_json(info))).unwrap_or_default();
    match (json_text.strip_prefix('{'), fields.strip_suffix('}')) {
        (Some(rest), Some(head)) if rest.trim_start().starts_with('}') => format!("{head}}}"),
        (Some(rest), Some(head)) => format!("{head},{rest}"),
        _ => json_text.to_owned(),
    }
}

fn binary(bytes: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(strata_cluster::CONTENT_TYPE),
    );
    r
}

/// `POST /internal/v1/partial/influxql`: this node's partial answer for a front-end.
pub async fn internal_influxql(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &params(&uri))?;
    let cluster = state.cluster()?;
    let req = InfluxqlRequest::decode(&body)
        .map_err(|e| ApiError::bad_request(format!("partial request: {e}")))?;
    let db = state.db()?;
    let cancel = state.request_cancel();
    let options = QueryOptions {
        now: Some(req.now),
        limits: Limits {
            timeout: Some(Duration::from_millis(req.timeout_ms).min(state.config.query_timeout)),
            ..state.config.limits()
        },
        database: None,
        cancel: cancel.token(),
        memory: Some(Arc::new(state.query_memory.account())),
    };
    let tag = (req.node_label, cluster.node().to_owned());
    let bytes = tokio::task::spawn_blocking(move || {
        strata_query::partial::select::node_answer(&db, &req.text, &options, tag)
    })
    .await?;
    drop(cancel);
    Ok(binary(bytes))
}

/// `POST /internal/v1/partial/promql`: this node's series or partial aggregates of one
/// sub-expression, for a front-end.
pub async fn internal_promql(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    use strata_query::partial::promql::{Mode, encode_answer, node_eval};
    state.authorize(&headers, &params(&uri))?;
    let cluster = state.cluster()?;
    let req = strata_cluster::wire::PromqlRequest::decode(&body)
        .map_err(|e| ApiError::bad_request(format!("partial request: {e}")))?;
    let n = usize::try_from(req.n)
        .ok()
        .filter(|n| (1..=1_000_000).contains(n) && req.step > 0)
        .ok_or_else(|| ApiError::bad_request("partial request: bad steps"))?;
    let db = state.db()?;
    let cancel = state.request_cancel();
    let mut opts = state.config.promql_options();
    opts.cancel = cancel.token();
    opts.timeout =
        Some(Duration::from_millis(req.timeout_ms).min(opts.timeout.unwrap_or(Duration::MAX)));
    opts.node_label = Some((req.node_label.clone(), cluster.node().to_owned()));
    let mode = if req.mode == 1 {
        Mode::Aggregate
    } else {
        Mode::Series
    };
    let steps = strata_query::promql::Steps {
        start: req.start,
        step: req.step,
        n,
    };
    let answer = tokio::task::spawn_blocking(move || {
        node_eval(
            &db,
            &req.expr,
            steps,
            req.query_start,
            req.query_end,
            &opts,
            mode,
        )
    })
    .await?;
    drop(cancel);
    match answer {
        Ok(a) => Ok(binary(encode_answer(&a))),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{}: {e}", e.error_type()),
        )),
    }
}

/// `GET /api/v1/cluster/members`.
pub async fn members(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &params(&uri))?;
    let cluster = state.cluster()?;
    let v = cluster.members();
    Ok(axum::Json(json!({
        "node": cluster.node(),
        "members": v.members.values().collect::<Vec<_>>(),
        "stale": v.stale,
        "error": v.error,
        "etcd": cluster.config.membership.etcd,
    }))
    .into_response())
}

/// `GET /metrics/cluster?metric=M&aggregation=sum|avg|min|max|p50|p95|p99&from=T&to=T&nodes=a,b`
/// (also `count`, `step`, `group_by`, `field` as `/api/v1/aggregate`).
pub async fn metrics_cluster(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = params(&uri);
    state.authorize(&headers, &params)?;
    let nodes = nodes_param(&params);
    super::aggregate::answer(&state, &params, Some(nodes)).await
}

/// `GET /metrics?cluster=true`: every member's page; each sample (name and labels)
/// summed over the members, or with `by=node` one sample per member with the node label.
pub async fn metrics_page(
    state: &Arc<AppState>,
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    let cluster = state.cluster()?;
    let by_node = param(params, "by") == Some(cluster.config.node_label.as_str())
        || param(params, "by") == Some("node");
    let nodes = nodes_param(params);
    let g = cluster.gather_get("/metrics", nodes.as_deref()).await;
    let pages: Vec<(String, String)> = g
        .answers
        .into_iter()
        .map(|(n, b)| (n, String::from_utf8_lossy(&b).into_owned()))
        .collect();
    let info = ClusterInfo {
        nodes: pages.iter().map(|(n, _)| n.clone()).collect(),
        failed_nodes: g.failed,
        stale_membership: g.stale,
        bytes: g.bytes,
    };
    cluster.count(&info);
    let label = by_node.then_some(cluster.config.node_label.as_str());
    let mut page = merge_pages(&pages, label);
    let _ = writeln!(
        page,
        "# HELP strata_cluster_answer_partial 1 when a member's page is missing from this cluster page.\n# TYPE strata_cluster_answer_partial gauge\nstrata_cluster_answer_partial {}",
        u8::from(info.partial())
    );
    for f in &info.failed_nodes {
        let _ = writeln!(
            page,
            "# failed node {}: {}",
            f.node,
            f.error.replace('\n', " ")
        );
    }
    let mut r = (StatusCode::OK, Body::from(page)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    info_headers(r.headers_mut(), &info);
    Ok(r)
}

/// A sample line's series (name and labels) and value; `None` for other lines.
fn split_sample(line: &str) -> Option<(&str, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    // The series ends at the first space outside the braces' quoted values.
    let mut in_braces = false;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' if in_braces => in_quotes = !in_quotes,
            '{' if !in_quotes => in_braces = true,
            '}' if !in_quotes => in_braces = false,
            ' ' if !in_braces => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let series = &line[..end];
    let value = line[end..].split_whitespace().next()?;
    let v = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        other => other.parse().ok()?,
    };
    Some((series, v))
}

/// `series` with `label="value"` added.
fn with_label(series: &str, label: &str, value: &str) -> String {
    let v = value.replace('\\', "\\\\").replace('"', "\\\"");
    match series.strip_suffix('}') {
        Some(head) if head.ends_with('{') => format!("{head}{label}=\"{v}\"}}"),
        Some(head) => format!("{head},{label}=\"{v}\"}}"),
        None => format!("{series}{{{label}=\"{v}\"}}"),
    }
}

/// Merges text-format pages: families in order of first appearance with their HELP and
/// TYPE, then each series summed over the pages (or, with `node_label`, one sample per
/// page with that label).
pub fn merge_pages(pages: &[(String, String)], node_label: Option<&str>) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut meta: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut samples: std::collections::HashMap<String, Vec<(String, f64)>> = Default::default();
    let family_of = |series: &str| -> String {
        let name = series.split('{').next().unwrap_or(series);
        for suffix in ["_bucket", "_count", "_sum", "_total", "_created"] {
            if let Some(base) = name.strip_suffix(suffix)
                && !base.is_empty()
            {
                return base.to_owned();
            }
        }
        name.to_owned()
    };
    for (node, page) in pages {
        for line in page.lines() {
            if let Some(rest) = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
            {
                let name = rest.split_whitespace().next().unwrap_or("").to_owned();
                let fam = family_of(&name);
                let m = meta.entry(fam.clone()).or_default();
                if !order.contains(&fam) {
                    order.push(fam);
                }
                if !m.iter().any(|l| l == line) {
                    m.push(line.to_owned());
                }
                continue;
            }
            let Some((series, v)) = split_sample(line) else {
                continue;
            };
            let fam = family_of(series);
            if !order.contains(&fam) {
                order.push(fam.clone());
            }
            let list = samples.entry(fam).or_default();
            let key = match node_label {
                Some(l) => with_label(series, l, node),
                None => series.to_owned(),
            };
            match list.iter_mut().find(|(k, _)| *k == key) {
                Some(e) => e.1 += v,
                None => list.push((key, v)),
            }
        }
    }
    let mut out = String::new();
    for fam in order {
        for l in meta.get(&fam).into_iter().flatten() {
            out.push_str(l);
            out.push('\n');
        }
        for (k, v) in samples.get(&fam).into_iter().flatten() {
            let _ = writeln!(out, "{k} {}", strata_query::promql::json::format_go_f(*v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_sum_per_series_or_split_by_node() {
        let a = "# HELP up Up.\n# TYPE up gauge\nup 1\nreq_total{code=\"200\",path=\"/a b\"} 3\n";
        let b = "# HELP up Up.\n# TYPE up gauge\nup 1\nreq_total{code=\"200\",path=\"/a b\"} 4\nreq_total{code=\"500\"} 1\n";
        let pages = vec![
            ("a".to_owned(), a.to_owned()),
            ("b".to_owned(), b.to_owned()),
        ];
        let sum = merge_pages(&pages, None);
        assert!(sum.contains("# TYPE up gauge\nup 2\n"), "{sum}");
        assert!(
            sum.contains("req_total{code=\"200\",path=\"/a b\"} 7\n"),
            "{sum}"
        );
        assert!(sum.contains("req_total{code=\"500\"} 1\n"), "{sum}");
        assert_eq!(sum.matches("# HELP up").count(), 1);
        let split = merge_pages(&pages, Some("node"));
        assert!(
            split.contains("up{node=\"a\"} 1\nup{node=\"b\"} 1\n"),
            "{split}"
        );
        assert!(
            split.contains("req_total{code=\"500\",node=\"b\"} 1\n"),
            "{split}"
        );
    }

    #[test]
    fn cluster_fields_lead_the_influx_json() {
        let info = ClusterInfo {
            nodes: vec!["a".into(), "b".into()],
            failed_nodes: vec![strata_cluster::Failed {
                node: "b".into(),
                error: "down".into(),
            }],
            stale_membership: false,
            bytes: 10,
        };
        let s = splice_info("{\"results\":[]}", &info);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["partial"], json!(true));
        assert_eq!(v["failed_nodes"][0]["node"], json!("b"));
        assert_eq!(v["results"], json!([]));
        let empty: Value = serde_json::from_str(&splice_info("{}", &info)).unwrap();
        assert_eq!(empty["nodes"], json!(["a", "b"]));
    }
}
