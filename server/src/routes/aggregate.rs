//! `GET /api/v1/aggregate?metric=&aggregation=&from=&to=&group_by=&field=&step=`: one
//! aggregate for scripts, without InfluxQL. The parameters become an InfluxQL statement
//! (shown in the answer as `query`) run through the same executor as `/query`:
//!
//! ```text
//! SELECT <fn>("<field>") AS "value" FROM "<metric>"
//!   WHERE time >= <from> AND time < <to> [GROUP BY time(<step>)[, "<tag>"…]] fill(none)
//! ```
//!
//! - `metric` (required): the measurement (a Prometheus metric name);
//! - `aggregation` (required): `sum`, `avg` (InfluxQL `mean`), `min`, `max`, `count`,
//!   `p50`, `p95`, `p99` (`percentile(…, N)`);
//! - `from`, `to`: RFC 3339 or Unix seconds; default the last hour up to now; `to` is
//!   exclusive;
//! - `group_by`: comma-separated tag keys, one result series per tag-value combination;
//! - `field`: default `value` (the field Prometheus samples land in);
//! - `step`: an InfluxQL duration (`30s`, `5m`, `1h`); without it, one value per series
//!   for the whole range.
//!
//! The answer (200):
//!
//! ```json
//! {"metric": "cpu", "aggregation": "avg", "field": "value",
//!  "from": "2026-11-22T09:00:00Z", "to": "2026-11-22T10:00:00Z", "step": "5m",
//!  "query": "SELECT mean(\"value\") AS \"value\" FROM …",
//!  "series": [{"tags": {"host": "a"},
//!              "points": [{"time": "2026-11-22T09:00:00Z", "value": 0.5}, …]}]}
//! ```
//!
//! A bad parameter is 400 naming it; a statement error (e.g. over a query limit) is 400
//! with the executor's message.

use crate::app::{AppState, param, params};
use crate::error::ApiError;
use crate::timearg::{now_nanos, parse_time};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json_, json};
use std::sync::Arc;
use std::time::Instant;
use strata_query::result::format_rfc3339;
use strata_query::{QueryOptions, Value};

/// Parameters of one aggregate request, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRequest {
    /// Measurement.
    pub metric: String,
    /// As given (`avg`, `p95`…).
    pub aggregation: String,
    /// Field.
    pub field: String,
    /// Start, inclusive (ns).
    pub from: i64,
    /// End, exclusive (ns).
    pub to: i64,
    /// Bucket width, an InfluxQL duration literal.
    pub step: Option<String>,
    /// Tag keys to group by.
    pub group_by: Vec<String>,
}

impl AggregateRequest {
    /// Reads and checks the URL parameters; `now` is the default `to`.
    pub fn from_params(p: &[(String, String)], now: i64) -> Result<AggregateRequest, String> {
        let metric = param(p, "metric")
            .filter(|m| !m.is_empty())
            .ok_or("missing required parameter \"metric\"")?;
        let aggregation = param(p, "aggregation").filter(|m| !m.is_empty()).ok_or(
            "missing required parameter \"aggregation\" (sum, avg, min, max, count, p50, p95, p99)",
        )?;
        function(aggregation, "x")?;
        let to = match param(p, "to").filter(|t| !t.is_empty()) {
            Some(t) => parse_time(t).map_err(|e| format!("to: {e}"))?,
            None => now,
        };
        let from = match param(p, "from").filter(|t| !t.is_empty()) {
            Some(t) => parse_time(t).map_err(|e| format!("from: {e}"))?,
            None => to.saturating_sub(3_600_000_000_000),
        };
        if from >= to {
            return Err(format!("from ({from} ns) must be before to ({to} ns)"));
        }
        let step = match param(p, "step").filter(|s| !s.is_empty()) {
            Some(s) if is_duration(s) => Some(s.to_owned()),
            Some(s) => {
                return Err(format!(
                    "step: {s:?} is not a duration: use e.g. 30s, 5m, 1h (units ns, u, ms, s, m, h, d, w)"
                ));
            }
            None => None,
        };
        let group_by = param(p, "group_by")
            .map(|g| {
                g.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(AggregateRequest {
            metric: metric.to_owned(),
            aggregation: aggregation.to_owned(),
            field: param(p, "field")
                .filter(|f| !f.is_empty())
                .unwrap_or("value")
                .to_owned(),
            from,
            to,
            step,
            group_by,
        })
    }

    /// The InfluxQL statement.
    pub fn influxql(&self) -> String {
        let f = function(&self.aggregation, &quote(&self.field)).unwrap_or_default();
        let mut q = format!(
            "SELECT {f} AS \"value\" FROM {} WHERE time >= {} AND time < {}",
            quote(&self.metric),
            self.from,
            self.to
        );
        let mut groups: Vec<String> = Vec::new();
        if let Some(s) = &self.step {
            groups.push(format!("time({s})"));
        }
        groups.extend(self.group_by.iter().map(|t| quote(t)));
        if !groups.is_empty() {
            q.push_str(" GROUP BY ");
            q.push_str(&groups.join(", "));
        }
        if self.step.is_some() {
            q.push_str(" fill(none)");
        }
        q
    }
}

/// The InfluxQL call for an aggregation name over `arg`.
fn function(aggregation: &str, arg: &str) -> Result<String, String> {
    Ok(match aggregation {
        "sum" | "min" | "max" | "count" => format!("{aggregation}({arg})"),
        "avg" | "mean" => format!("mean({arg})"),
        "p50" | "p95" | "p99" => format!("percentile({arg}, {})", &aggregation[1..]),
        other => {
            return Err(format!(
                "unknown aggregation {other:?}: use sum, avg, min, max, count, p50, p95 or p99"
            ));
        }
    })
}

/// A double-quoted InfluxQL identifier.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('\\', "\\\\").replace('"', "\\\""))
}

fn is_duration(s: &str) -> bool {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    !n.is_empty()
        && n.len() <= 15
        && n.bytes().any(|b| b != b'0')
        && matches!(unit, "ns" | "u" | "µ" | "ms" | "s" | "m" | "h" | "d" | "w")
}

/// The handler (`cluster=true` and `nodes=` ask the cluster).
pub async fn aggregate(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = params(&uri);
    state.authorize(&headers, &params)?;
    let cluster =
        super::cluster::wants_cluster(&params).then(|| super::cluster::nodes_param(&params));
    answer(&state, &params, cluster).await
}

/// Runs the aggregate the parameters describe, on this node (`cluster` None) or over the
/// cluster's members (`Some(None)`: every live member; `Some(Some(names))`: those).
pub async fn answer(
    state: &Arc<AppState>,
    params: &[(String, String)],
    cluster: Option<Option<Vec<String>>>,
) -> Result<Response, ApiError> {
    let req = AggregateRequest::from_params(params, now_nanos()).map_err(ApiError::bad_request)?;
    let db = state.db()?;
    let text = req.influxql();
    let cancel = state.request_cancel();
    let options = QueryOptions {
        now: None,
        limits: state.config.limits(),
        database: None,
        cancel: cancel.token(),
        memory: Some(Arc::new(state.query_memory.account())),
    };
    let started = Instant::now();
    let q = text.clone();
    let (resp, info) = match cluster {
        None => (
            crate::blocking::run(move || strata_query::execute(&db, &q, &options)).await?,
            None,
        ),
        Some(nodes) => {
            let c = state.cluster()?;
            let (r, i) = c.influxql(db, q, options, nodes.as_deref()).await;
            (r, Some(i))
        }
    };
    drop(cancel);
    state.metrics.query_took(started.elapsed());
    if let Some(e) = resp.first_error() {
        return Err(ApiError::bad_request(format!("{e} (query: {text})")));
    }
    let series: Vec<Json_> = resp
        .results
        .iter()
        .flat_map(|r| &r.series)
        .map(|s| {
            let t = s.columns.iter().position(|c| c == "time");
            let v = s.columns.iter().position(|c| c == "value");
            let points: Vec<Json_> = s
                .values
                .iter()
                .map(|row| {
                    let time = t.and_then(|i| match row.get(i) {
                        Some(Value::Time(ns)) => Some(format_rfc3339(*ns)),
                        _ => None,
                    });
                    let value = v.and_then(|i| row.get(i)).and_then(Value::as_f64);
                    json!({ "time": time, "value": value })
                })
                .collect();
            json!({ "tags": s.tags.clone().unwrap_or_default(), "points": points })
        })
        .collect();
    let mut body = json!({
        "metric": req.metric,
        "aggregation": req.aggregation,
        "field": req.field,
        "from": format_rfc3339(req.from),
        "to": format_rfc3339(req.to),
        "step": req.step,
        "group_by": req.group_by,
        "query": text,
        "series": series,
    });
    let mut r = match (&info, body.as_object_mut()) {
        (Some(i), Some(obj)) => {
            obj.extend(super::cluster::info_json(i));
            Json(body).into_response()
        }
        _ => Json(body).into_response(),
    };
    if let Some(i) = &info {
        super::cluster::info_headers(r.headers_mut(), i);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builds_influxql() {
        let r = AggregateRequest::from_params(
            &p(&[
                ("metric", "node_cpu"),
                ("aggregation", "p95"),
                ("from", "1700000000"),
                ("to", "1700003600"),
                ("step", "5m"),
                ("group_by", "host, mode"),
            ]),
            0,
        )
        .unwrap();
        assert_eq!(
            r.influxql(),
            "SELECT percentile(\"value\", 95) AS \"value\" FROM \"node_cpu\" WHERE time >= \
             1700000000000000000 AND time < 1700003600000000000 GROUP BY time(5m), \"host\", \
             \"mode\" fill(none)"
        );
        let r = AggregateRequest::from_params(
            &p(&[("metric", "a\"b"), ("aggregation", "avg")]),
            7_200_000_000_000,
        )
        .unwrap();
        assert_eq!(
            r.influxql(),
            "SELECT mean(\"value\") AS \"value\" FROM \"a\\\"b\" WHERE time >= 3600000000000 AND time < 7200000000000"
        );
        strata_query::parse(&r.influxql()).unwrap();
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = |pairs: &[(&str, &str)]| AggregateRequest::from_params(&p(pairs), 10).unwrap_err();
        assert!(e(&[("aggregation", "sum")]).contains("metric"));
        assert!(e(&[("metric", "m"), ("aggregation", "median")]).contains("unknown aggregation"));
        assert!(
            e(&[
                ("metric", "m"),
                ("aggregation", "sum"),
                ("step", "5 minutes")
            ])
            .contains("step")
        );
        assert!(e(&[("metric", "m"), ("aggregation", "sum"), ("from", "soon")]).contains("from"));
        assert!(
            e(&[
                ("metric", "m"),
                ("aggregation", "sum"),
                ("from", "20"),
                ("to", "10")
            ])
            .contains("before")
        );
    }
}
