//! `/query` answered as a stream: the statements run on a blocking thread through
//! [`strata_query::execute_streamed`], whose JSON text arrives here in pieces of about
//! [`FLUSH_BYTES`] over a channel of [`CHANNEL_PIECES`] and goes out as a chunked body:
//! one JSON document, with `chunked=true` InfluxDB's JSON object per line of at most
//! `chunk_size` rows, or CSV ([`Shape`]).
//!
//! Invariants:
//! - the status is chosen from the first piece: a request that does not parse, or whose
//!   answer fits in one piece, is answered whole exactly as before (400 for a parse error,
//!   503 with `Retry-After` when the memory budget refused it, else 200); once a piece of
//!   a larger answer went out the status is 200, and an error that stops a statement
//!   later shows as that statement's `error` in the JSON, as InfluxDB's does;
//! - memory per request is bounded by the executor's slice, the writer's buffer and the
//!   channel (`CHANNEL_PIECES` × `FLUSH_BYTES`): a slow client slows the statement down
//!   (back-pressure) instead of growing a buffer;
//! - the query stops when the client goes away (the body, and with it the receiver and
//!   the request's cancel guard, is dropped), at shutdown, or at its deadline, also while
//!   it waits for a slow client.

use crate::app::{AppState, RequestCancel};
use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use strata_engine::Db;
use strata_query::stream::{ChunkedJson, CsvStream, JsonStream};
use strata_query::{Cancel, Epoch, QueryError, QueryOptions, StreamSettings, execute_streamed};
use tokio::sync::mpsc;

/// Text handed to the client at a time.
pub const FLUSH_BYTES: usize = 64 << 10;

/// Pieces in flight between the statement and the client.
const CHANNEL_PIECES: usize = 4;

enum Piece {
    Text(String),
    Done(Finished),
}

/// The end of a request's run.
struct Finished {
    /// The text not sent yet (all of it when nothing was sent).
    tail: String,
    parse_error: Option<String>,
    first_error: Option<String>,
}

/// The JSON shape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One JSON document (InfluxDB's default).
    Document,
    /// `chunked=true`: a JSON object per line, each a piece of at most this many rows of
    /// one series (InfluxDB's `chunk_size`, default [`DEFAULT_CHUNK_SIZE`]).
    Chunked(usize),
    /// CSV (`Accept: application/csv`).
    Csv,
}

impl Shape {
    fn content_type(self) -> &'static str {
        match self {
            Shape::Csv => "application/csv",
            Shape::Document | Shape::Chunked(_) => "application/json",
        }
    }
}

/// InfluxDB's default `chunk_size`.
pub const DEFAULT_CHUNK_SIZE: usize = 10_000;

/// Runs `q` and answers with its JSON, streamed once it passes one piece.
pub async fn answer(
    state: Arc<AppState>,
    db: Arc<Db>,
    q: String,
    options: QueryOptions,
    epoch: Epoch,
    shape: Shape,
    cancel: RequestCancel,
) -> Result<Response, ApiError> {
    let memory = options.memory.clone();
    let (tx, mut rx) = mpsc::channel::<Piece>(CHANNEL_PIECES);
    let started = Instant::now();
    let run_state = state.clone();
    let token = cancel.token();
    let settings = StreamSettings::for_budget(state.query_memory.limit());
    tokio::task::spawn_blocking(move || {
        let limit = options.limits.timeout.unwrap_or_default();
        let deadline = options.limits.timeout.and_then(|t| started.checked_add(t));
        let send = |p: Piece| send_blocking(&tx, p, deadline.map(|d| (d, limit)), &token);
        let flush = |text| send(Piece::Text(text));
        let ran = match shape {
            Shape::Document => {
                let mut sink = JsonStream::new(epoch, FLUSH_BYTES, flush);
                execute_streamed(&db, &q, &options, settings, &mut sink).map(|()| {
                    let first_error = sink.first_error().map(str::to_owned);
                    (sink.finish(), first_error)
                })
            }
            Shape::Chunked(rows) => {
                let mut sink = ChunkedJson::new(epoch, rows, FLUSH_BYTES, flush);
                execute_streamed(&db, &q, &options, settings, &mut sink).map(|()| {
                    let first_error = sink.first_error().map(str::to_owned);
                    (sink.finish(), first_error)
                })
            }
            Shape::Csv => {
                let mut sink = CsvStream::new(epoch, FLUSH_BYTES, flush);
                execute_streamed(&db, &q, &options, settings, &mut sink).map(|()| {
                    let first_error = sink.first_error().map(str::to_owned);
                    (sink.finish(), first_error)
                })
            }
        };
        let done = match ran {
            Err(parse_error) => Finished {
                tail: String::new(),
                parse_error: Some(parse_error),
                first_error: None,
            },
            Ok((tail, first_error)) => Finished {
                tail,
                parse_error: None,
                first_error,
            },
        };
        run_state.metrics.query_took(started.elapsed());
        // Nobody to tell when the client is gone.
        let _ = send(Piece::Done(done));
    });
    let first = rx
        .recv()
        .await
        .ok_or_else(|| ApiError::internal("the query stopped without an answer"))?;
    let text = match first {
        Piece::Done(f) => {
            if let Some(e) = f.parse_error {
                return Err(ApiError::bad_request(e));
            }
            // Refused by the query memory budget: busy, not a bad query.
            if memory.as_ref().is_some_and(|m| m.was_refused())
                && let Some(why) = f.first_error
            {
                return Err(ApiError::unavailable(why, 1));
            }
            return Ok(typed(Body::from(f.tail), shape));
        }
        Piece::Text(t) => t,
    };
    let body = Pieces {
        first: Some(text),
        rx,
        _cancel: cancel,
    };
    Ok(typed(Body::from_stream(body), shape))
}

fn typed(body: Body, shape: Shape) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(shape.content_type()),
    );
    r
}

/// Hands a piece to the client's side, waiting while the channel is full (a slow
/// client) but no longer than the statement's deadline, and not after cancellation.
fn send_blocking(
    tx: &mpsc::Sender<Piece>,
    mut piece: Piece,
    deadline: Option<(Instant, Duration)>,
    cancel: &Cancel,
) -> Result<(), QueryError> {
    loop {
        match tx.try_send(piece) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(QueryError::Cancelled),
            Err(mpsc::error::TrySendError::Full(back)) => {
                piece = back;
                if cancel.is_cancelled() {
                    return Err(QueryError::Cancelled);
                }
                if let Some((d, limit)) = deadline
                    && Instant::now() > d
                {
                    return Err(QueryError::Timeout { limit });
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// The body: the first piece, then the rest as the statement makes them.
struct Pieces {
    first: Option<String>,
    rx: mpsc::Receiver<Piece>,
    /// Cancels the statement when the body is dropped (the client went away).
    _cancel: RequestCancel,
}

impl Stream for Pieces {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(t) = self.first.take() {
            return Poll::Ready(Some(Ok(Bytes::from(t))));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Piece::Text(t))) => Poll::Ready(Some(Ok(Bytes::from(t)))),
            Poll::Ready(Some(Piece::Done(f))) => {
                self.rx.close();
                Poll::Ready(Some(Ok(Bytes::from(f.tail))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
