//! `GET /api/v1/subscribe?query=Q&every=10s[&lang=promql|influxql][&cluster=true][&nodes=a,b]`:
//! Server-Sent Events. The query runs at once and then every `every`; each answer is one
//! `event: result` whose data is the answer as its endpoint gives it (PromQL: the
//! `/api/v1/query` body at the run's time, with `time`; InfluxQL: the `/query` body), plus
//! `partial` and `failed_nodes` for cluster answers. A run that fails is an
//! `event: error` and the subscription goes on.
//!
//! Memory is bounded: each subscriber has a buffer of `--subscribe.buffer` answers. A
//! subscriber that does not read fast enough for the buffer to hold what it has not
//! read is dropped: the buffer is freed and the stream ends with `event: dropped` saying
//! why. The same event ends the stream at server shutdown. Open subscriptions are the
//! `strata_subscribers` gauge in `/metrics`, drops `strata_subscribers_dropped_total`.

use crate::app::{AppState, param, params};
use crate::error::ApiError;
use crate::prom_api::parse_duration;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use strata_query::promql::{self, json as pjson};
use tokio::sync::mpsc;

/// Shortest interval a subscription may ask for.
pub const MIN_EVERY: Duration = Duration::from_millis(100);

/// The query language of a subscription.
#[derive(Debug, Clone)]
enum Query {
    Prom(promql::ast::Expr),
    Influx(String),
}

/// What one subscription runs.
#[derive(Debug, Clone)]
struct Spec {
    query: Query,
    cluster: bool,
    nodes: Option<Vec<String>>,
}

/// The handler.
pub async fn subscribe(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = params(&uri);
    state.authorize(&headers, &p)?;
    let text = param(&p, "query")
        .or_else(|| param(&p, "q"))
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("missing required parameter \"query\""))?;
    let every = match param(&p, "every").filter(|e| !e.is_empty()) {
        None => Duration::from_secs(10),
        Some(e) => {
            let ms = parse_duration(e)
                .map_err(|err| ApiError::bad_request(format!("invalid \"every\": {err}")))?;
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        }
    };
    if every < MIN_EVERY {
        return Err(ApiError::bad_request(format!(
            "\"every\" must be at least {} ms",
            MIN_EVERY.as_millis()
        )));
    }
    let query = match param(&p, "lang").unwrap_or("promql") {
        "promql" => Query::Prom(
            promql::parse_expr(text)
                .map_err(|e| ApiError::bad_request(format!("invalid \"query\": {e}")))?,
        ),
        "influxql" => {
            strata_query::parse(text)
                .map_err(|e| ApiError::bad_request(format!("invalid \"query\": {e}")))?;
            Query::Influx(text.to_owned())
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid \"lang\" {other:?}: use promql or influxql"
            )));
        }
    };
    let cluster = super::cluster::wants_cluster(&p);
    if cluster {
        state.cluster()?;
    }
    let spec = Spec {
        query,
        cluster,
        nodes: super::cluster::nodes_param(&p),
    };
    let (tx, rx) = mpsc::channel(state.config.subscribe_buffer.max(1));
    let dropped = Arc::new(Mutex::new(None));
    let guard = Subscriber::new(state.clone());
    tokio::spawn(produce(state, spec, every, tx, dropped.clone()));
    let stream = Events {
        rx,
        dropped,
        done: false,
        _guard: guard,
    };
    let mut r = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// Counts an open subscription while it lives.
struct Subscriber(Arc<AppState>);

impl Subscriber {
    fn new(state: Arc<AppState>) -> Subscriber {
        state.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscriber(state)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One SSE event.
pub fn event(name: &str, data: &str) -> Bytes {
    let mut out = format!("event: {name}\n");
    for line in data.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// Runs the query every `every` and offers each answer to the subscriber's buffer; stops
/// when the subscriber leaves, when the buffer is full (the subscriber is too slow) or at
/// shutdown, leaving the reason in `dropped`.
async fn produce(
    state: Arc<AppState>,
    spec: Spec,
    every: Duration,
    tx: mpsc::Sender<Bytes>,
    dropped: Arc<Mutex<Option<String>>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let shutdown = state.request_cancel();
    let capacity = tx.max_capacity();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = tx.closed() => return,
        }
        if shutdown.token().is_cancelled() || state.db().is_err() {
            *dropped.lock() = Some("the server is shutting down".into());
            return;
        }
        let ev = match run_once(&state, &spec).await {
            Ok(data) => event("result", &data),
            Err(e) => event("error", &json!({ "error": e }).to_string()),
        };
        match tx.try_send(ev) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                state.subscribers_dropped.fetch_add(1, Ordering::Relaxed);
                *dropped.lock() = Some(format!(
                    "too slow: {capacity} answers were waiting unread (--subscribe.buffer)"
                ));
                return;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// The subscriber's stream: buffered answers, then the reason it was dropped, if it was.
struct Events {
    rx: mpsc::Receiver<Bytes>,
    dropped: Arc<Mutex<Option<String>>>,
    done: bool,
    _guard: Subscriber,
}

impl Events {
    fn final_event(&mut self) -> Option<Bytes> {
        let reason = self.dropped.lock().take()?;
        self.done = true;
        // What was buffered is discarded with the subscriber.
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        Some(event("dropped", &json!({ "reason": reason }).to_string()))
    }
}

impl Stream for Events {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(ev) = self.final_event() {
            return Poll::Ready(Some(Ok(ev)));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(None) => {
                let ev = self.final_event();
                self.done = true;
                Poll::Ready(ev.map(Ok))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One run of the subscription's query: the answer's JSON.
async fn run_once(state: &Arc<AppState>, spec: &Spec) -> Result<String, String> {
    let db = state.db().map_err(|e| e.message)?;
    let cancel = state.request_cancel();
    match &spec.query {
        Query::Prom(expr) => {
            let mut opts = state.config.promql_options();
            opts.cancel = cancel.token();
            let remote = if spec.cluster {
                let c = state.cluster().map_err(|e| e.message)?;
                let r = c
                    .prom_remote(expr, spec.nodes.clone())
                    .map_err(|e| e.to_string())?;
                opts.remote = Some(r.clone());
                Some((c, r))
            } else {
                None
            };
            let t = db.options().clock.now_nanos() / 1_000_000;
            let expr = expr.clone();
            let res = tokio::task::spawn_blocking(move || promql::instant(&db, &expr, t, &opts))
                .await
                .map_err(|e| format!("query task failed: {e}"))?
                .map_err(|e| format!("{}: {e}", e.error_type()))?;
            let (warnings, info) = match &remote {
                Some((c, r)) => {
                    let info = r.info();
                    c.count(&info);
                    (r.warnings(), Some(info))
                }
                None => (Vec::new(), None),
            };
            let body = pjson::success(&pjson::data_json(&res), &warnings);
            let mut v: Value =
                serde_json::from_str(&body).map_err(|e| format!("answer is not JSON: {e}"))?;
            if let Value::Object(m) = &mut v {
                m.insert("time".into(), json!(t as f64 / 1000.0));
                if let Some(i) = &info {
                    m.extend(super::cluster::info_json(i));
                }
            }
            Ok(v.to_string())
        }
        Query::Influx(text) => {
            let options = strata_query::QueryOptions {
                now: None,
                limits: state.config.limits(),
                database: None,
                cancel: cancel.token(),
                // A subscription's answer is one small aggregate per tick.
                memory: None,
            };
            let text = text.clone();
            let (resp, info) = if spec.cluster {
                let c = state.cluster().map_err(|e| e.message)?;
                let (r, i) = c.influxql(db, text, options, spec.nodes.as_deref()).await;
                (r, Some(i))
            } else {
                let r = tokio::task::spawn_blocking(move || {
                    strata_query::execute(&db, &text, &options)
                })
                .await
                .map_err(|e| format!("query task failed: {e}"))?;
                (r, None)
            };
            if let Some(e) = &resp.error {
                return Err(e.clone());
            }
            let mut out = resp.to_json(strata_query::Epoch::Rfc3339);
            if let Some(i) = &info {
                out = super::cluster::splice_info(&out, i);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll(ev: &mut Events) -> Poll<Option<Bytes>> {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(ev)
            .poll_next(&mut cx)
            .map(|o| o.map(|r| r.unwrap_or_default()))
    }

    #[test]
    fn events_are_framed_line_by_line() {
        assert_eq!(
            &event("result", "{\"a\":1}")[..],
            b"event: result\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(&event("x", "a\nb")[..], b"event: x\ndata: a\ndata: b\n\n");
    }

    #[tokio::test]
    async fn a_full_buffer_drops_the_subscriber_with_a_final_event() {
        let state = Arc::new(AppState::new(crate::Config::default()));
        let (tx, rx) = mpsc::channel(2);
        let dropped = Arc::new(Mutex::new(None));
        let mut ev = Events {
            rx,
            dropped: dropped.clone(),
            done: false,
            _guard: Subscriber::new(state.clone()),
        };
        assert_eq!(state.subscribers.load(Ordering::Relaxed), 1);
        assert_eq!(poll(&mut ev), Poll::Pending);
        tx.try_send(event("result", "1")).unwrap();
        assert_eq!(poll(&mut ev), Poll::Ready(Some(event("result", "1"))));
        // The subscriber stops reading; the buffer takes two answers, not a third.
        tx.try_send(event("result", "2")).unwrap();
        tx.try_send(event("result", "3")).unwrap();
        assert!(matches!(
            tx.try_send(event("result", "4")),
            Err(mpsc::error::TrySendError::Full(_))
        ));
        *dropped.lock() = Some("too slow".into());
        drop(tx);
        let Poll::Ready(Some(last)) = poll(&mut ev) else {
            panic!("a final event")
        };
        let last = String::from_utf8_lossy(&last).into_owned();
        assert!(
            last.starts_with("event: dropped\n") && last.contains("too slow"),
            "{last}"
        );
        assert_eq!(poll(&mut ev), Poll::Ready(None));
        drop(ev);
        assert_eq!(state.subscribers.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_subscriber_that_leaves_ends_without_a_drop_event() {
        let state = Arc::new(AppState::new(crate::Config::default()));
        let (tx, rx) = mpsc::channel(2);
        let mut ev = Events {
            rx,
            dropped: Arc::new(Mutex::new(None)),
            done: false,
            _guard: Subscriber::new(state),
        };
        tx.try_send(event("result", "1")).unwrap();
        drop(tx);
        assert_eq!(poll(&mut ev), Poll::Ready(Some(event("result", "1"))));
        assert_eq!(poll(&mut ev), Poll::Ready(None));
    }
}
