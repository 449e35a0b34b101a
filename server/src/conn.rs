//! Connections: the accept loop, and the bounds on each connection.
//!
//! `axum::serve` has no settings, so the server accepts and drives hyper's HTTP/1
//! connections itself (the router is the same):
//!
//! - at most `server.max_connections` at once; one more is answered `503` with a JSON
//!   body and `Retry-After`, its request is drained a little and it is closed;
//! - `server.header_timeout`: a new connection, or a kept-alive one that has begun its
//!   next request, must deliver the whole request head within it, else it is answered
//!   `408` and closed (a slowloris client holds nothing for long);
//! - `server.idle_timeout`: a kept-alive connection with no request begun is closed after
//!   it. Together these are Go's `ReadHeaderTimeout` and `IdleTimeout`. hyper's own
//!   `header_read_timeout` is not used: its clock runs whenever hyper waits for a head,
//!   idle keep-alive included, so it cannot tell an idle connection from a slow head;
//! - the answers hyper writes by itself for a request it cannot parse (400, 414, 431,
//!   with an empty body) are replaced by the same status with an InfluxDB-style JSON body;
//! - at shutdown: stop accepting, ask every connection to finish its request and close,
//!   wait at most `server.shutdown_timeout`, then drop the connections still busy.
//!
//! - with TLS (`--web.config.file`): the handshake is part of the head phase (the header
//!   deadline counts from the accept); a client that speaks plain HTTP to the TLS port
//!   (its first byte is not a TLS handshake record) is answered `400` in plain HTTP with a
//!   JSON body, as Go's server does, and closed. Refused connections are answered over
//!   TLS too, after a handshake bounded by the refusal time.
//!
//! Invariant: a connection is in one phase, `Head` (bytes of a request arrived, or it is
//! new; header deadline), `Idle` (a request finished, nothing of the next arrived; idle
//! deadline) or `Busy` (a request is being served: no deadline here; the body and query
//! timeouts apply). The service counts requests begun and in flight; the response body
//! carries the in-flight guard, so a request is in flight until hyper dropped its body.

use crate::app::INFLUX_VERSION;
use crate::error::error_body;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

/// Where a connection's TLS settings come from: asked once per handshake, so that a changed
/// web configuration (a new certificate) applies to the next connection.
pub type TlsSource = Arc<dyn Fn() -> io::Result<TlsAcceptor> + Send + Sync>;

/// The bounds on connections, from [`crate::Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_timeout: Duration,
    pub retry_after_secs: u32,
}

/// Refused connections answered at once; past this many, extra ones are closed unanswered
/// (each answer holds its socket for up to [`REFUSAL_TIME`]).
const MAX_REFUSALS: usize = 256;
/// Longest a refused connection is kept to answer it and drain its request.
const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// Bytes of a refused request read before closing, so that the close does not reset the
/// connection before the client has read the answer.
const REFUSAL_DRAIN: usize = 1 << 20;

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Accepts on `listener` and serves `app` (over TLS when `tls` is given) until `shutdown`
/// resolves, then shuts down gracefully within `bounds.shutdown_timeout`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    tls: Option<TlsSource>,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    if let Ok(permit) = permits.clone().try_acquire_owned() {
                        tasks.spawn(connection(stream, tls.clone(), app.clone(), bounds, closing_rx.clone(), permit));
                    } else if let Ok(permit) = refusals.clone().try_acquire_owned() {
                        tasks.spawn(refuse(stream, tls.clone(), bounds, permit));
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let finished = tokio::time::timeout(bounds.shutdown_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            "{} connections still busy after {:?} (server.shutdown_timeout): closing them",
            tasks.len(),
            bounds.shutdown_timeout
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Requests of one connection: begun, and in flight (begun, response body not dropped).
#[derive(Debug, Default)]
struct Shared {
    begun: AtomicU64,
    in_flight: AtomicUsize,
}

/// Keeps its connection's request in flight until dropped.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn begin(shared: &Arc<Shared>) -> InFlight {
        shared.begun.fetch_add(1, Ordering::AcqRel);
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request in flight until hyper drops it.
struct Guarded {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

async fn connection(
    stream: TcpStream,
    tls: Option<TlsSource>,
    app: Router,
    bounds: Bounds,
    closing: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let accepted = Instant::now();
    let Some(tls) = tls else {
        return drive(stream, accepted, app, bounds, closing, permit).await;
    };
    let handshake = async {
        if !first_byte_is_tls(&stream).await? {
            let mut stream = stream;
            let answer = error_response(
                400,
                "client sent an HTTP request to an HTTPS server (this server speaks TLS: use https://)",
                None,
            );
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            return Ok(None);
        }
        tls()?.accept(stream).await.map(Some)
    };
    match tokio::time::timeout_at(accepted + bounds.header_timeout, handshake).await {
        Ok(Ok(Some(stream))) => drive(stream, accepted, app, bounds, closing, permit).await,
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
        Err(_) => tracing::debug!("TLS handshake not done within server.header_timeout"),
    }
}

/// Whether the connection's first byte starts a TLS handshake (waits for it).
async fn first_byte_is_tls(stream: &TcpStream) -> io::Result<bool> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(first[0] == TLS_HANDSHAKE)
}

/// Serves HTTP/1 on a connection (plain or TLS) accepted at `accepted`.
async fn drive<S>(
    stream: S,
    accepted: Instant,
    app: Router,
    bounds: Bounds,
    mut closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::new(Shared::default());
    let io = hyper_util::rt::TokioIo::new(ConnIo::new(stream, bounds, shared.clone(), accepted));
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let in_flight = InFlight::begin(&shared);
        let mut app = app.clone();
        async move {
            // The router is always ready (axum's contract), so `call` needs no `poll_ready`.
            let resp = tower_service::Service::call(&mut app, req.map(Body::new)).await;
            resp.map(|r| {
                r.map(|b| {
                    Body::new(Guarded {
                        inner: b,
                        _in_flight: in_flight,
                    })
                })
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    let mut conn = std::pin::pin!(builder.serve_connection(io, service));
    let ended = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = closing.wait_for(|c| *c) => None,
    };
    let ended = match ended {
        Some(r) => r,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!("connection ended: {e}");
    }
}

/// Answers a connection over `server.max_connections` with 503 (over TLS when the server
/// speaks it), then drains a little of its request and closes it.
async fn refuse(
    stream: TcpStream,
    tls: Option<TlsSource>,
    bounds: Bounds,
    permit: OwnedSemaphorePermit,
) {
    let Some(tls) = tls else {
        return answer_refusal(stream, bounds, permit).await;
    };
    let started = Instant::now();
    let acceptor = match tls() {
        Ok(a) => a,
        Err(e) => return tracing::debug!("TLS settings: {e}"),
    };
    if let Ok(Ok(stream)) = tokio::time::timeout(REFUSAL_TIME, acceptor.accept(stream)).await {
        let left = REFUSAL_TIME.saturating_sub(started.elapsed());
        let _ = tokio::time::timeout(left, answer_refusal(stream, bounds, permit)).await;
    }
}

async fn answer_refusal<S>(mut stream: S, bounds: Bounds, _permit: OwnedSemaphorePermit)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let answer = error_response(
        503,
        &format!(
            "too many connections: the server serves at most {} at once (server.max_connections); try again shortly",
            bounds.max_connections
        ),
        Some(bounds.retry_after_secs),
    );
    let _ = tokio::time::timeout(REFUSAL_TIME, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut buf = vec![0u8; 16 << 10];
        let mut read = 0;
        while read < REFUSAL_DRAIN {
            match stream.read(&mut buf).await? {
                0 => break,
                n => read += n,
            }
        }
        io::Result::Ok(())
    })
    .await;
}

/// A complete HTTP/1.1 answer with a JSON error body, closing the connection.
fn error_response(status: u16, message: &str, retry_after: Option<u32>) -> Vec<u8> {
    let reason = axum::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let body = error_body(message);
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nx-influxdb-version: {INFLUX_VERSION}\r\nx-influxdb-build: OSS\r\nx-influxdb-error: {}\r\n",
        body.len(),
        crate::error::sanitize_header(message)
    );
    if let Some(s) = retry_after {
        out.push_str(&format!("retry-after: {s}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// For an answer hyper wrote by itself (a status of 400 or more without a body, the whole
/// head in `buf`), the same status with a JSON body.
fn replacement_for(buf: &[u8]) -> Option<Vec<u8>> {
    let head = buf.get(..memchr::memmem::find(buf, b"\r\n\r\n")?)?;
    let status_line = head.split(|&b| b == b'\r').next()?;
    let code = status_line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix(b"HTTP/1.0 "))?;
    let code: u16 = std::str::from_utf8(code.get(..3)?).ok()?.parse().ok()?;
    let bodiless = head
        .to_ascii_lowercase()
        .windows(b"\r\ncontent-length: 0".len())
        .any(|w| w == b"\r\ncontent-length: 0");
    if code < 400 || !bodiless {
        return None;
    }
    let message = match code {
        400 => "bad request: the request line or a header is malformed (expected HTTP/1.1)",
        414 => "request URI too long",
        431 => {
            "request header fields too large: a request may carry at most 100 headers and about 400 KiB of request line and headers"
        }
        _ => axum::http::StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error"),
    };
    Some(error_response(code, message, None))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head is arriving (or the connection is new), since then.
    Head(Instant),
    /// A request finished and nothing of the next arrived, since then.
    Idle(Instant),
    /// A request is being served.
    Busy,
}

/// The socket (plain or TLS) with the connection's deadlines and the rewrite of hyper's
/// own answers.
struct ConnIo<S> {
    inner: S,
    shared: Arc<Shared>,
    bounds: Bounds,
    phase: Phase,
    /// `shared.begun` when the phase was last updated.
    seen: u64,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// A replacement answer still to write.
    pending: Vec<u8>,
    /// Set once hyper's own answer was replaced: later writes are dropped.
    replaced: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ConnIo<S> {
    /// `accepted`: when the connection was accepted (the first head's deadline counts
    /// from there, a TLS handshake included).
    fn new(inner: S, bounds: Bounds, shared: Arc<Shared>, accepted: Instant) -> ConnIo<S> {
        ConnIo {
            inner,
            shared,
            bounds,
            phase: Phase::Head(accepted),
            seen: 0,
            timer: Box::pin(tokio::time::sleep_until(accepted + bounds.header_timeout)),
            armed: None,
            pending: Vec::new(),
            replaced: false,
        }
    }

    /// Updates the phase from the service's counters.
    fn refresh(&mut self) {
        let begun = self.shared.begun.load(Ordering::Acquire);
        if self.shared.in_flight.load(Ordering::Acquire) > 0 {
            self.phase = Phase::Busy;
            self.seen = begun;
        } else if begun != self.seen || self.phase == Phase::Busy {
            // A request was served since the last look: idle until the next byte.
            self.seen = begun;
            self.phase = Phase::Idle(Instant::now());
        }
    }

    /// Sets the timer to the phase's deadline and registers the task with it; whether
    /// the deadline has passed. Called from reads and from flushes: after answering a
    /// request hyper flushes and may not read again until the socket is readable, so the
    /// idle deadline must be armed there too, for its expiry to wake the connection.
    fn arm(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = match self.phase {
            Phase::Head(t) => t + self.bounds.header_timeout,
            Phase::Idle(t) => t + self.bounds.idle_timeout,
            Phase::Busy => return false,
        };
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// Answers 408 (best effort: the client is slow, so one try, no waiting) and gives
    /// the error that closes the connection.
    fn head_timed_out(&mut self, cx: &mut Context<'_>) -> io::Error {
        let answer = error_response(
            408,
            &format!(
                "request headers not received within {:?} (server.header_timeout)",
                self.bounds.header_timeout
            ),
            None,
        );
        let _ = Pin::new(&mut self.inner).poll_write(cx, &answer);
        io::Error::new(
            io::ErrorKind::TimedOut,
            "connection closed by server.header_timeout",
        )
    }

    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for ConnIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.refresh();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    match this.phase {
                        Phase::Idle(_) => this.phase = Phase::Head(Instant::now()),
                        // A head trickling in byte by byte is still bounded.
                        Phase::Head(t) if Instant::now() >= t + this.bounds.header_timeout => {
                            return Poll::Ready(Err(this.head_timed_out(cx)));
                        }
                        _ => {}
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if !this.arm(cx) {
                    return Poll::Pending;
                }
                if let Phase::Head(_) = this.phase {
                    return Poll::Ready(Err(this.head_timed_out(cx)));
                }
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection closed by server.idle_timeout",
                )))
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ConnIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replaced {
            ready!(this.poll_pending(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        this.refresh();
        // hyper answers a request it cannot parse itself, before any service call: the
        // connection is then in its head phase.
        if let Phase::Head(_) = this.phase
            && let Some(answer) = replacement_for(buf)
        {
            this.pending = answer;
            this.replaced = true;
            if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        // The expiry is acted on by the next read, which the timer's wake-up brings.
        this.refresh();
        this.arm(cx);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bare_error_answers_get_a_json_body() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement_for(bare).unwrap()).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{out}"
        );
        assert!(out.contains("content-type: application/json\r\n"), "{out}");
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("too large"), "{body}");
        assert!(out.contains(&format!("content-length: {}\r\n", body.len())));
        // Answers with a body, successes and partial heads are left alone.
        assert!(
            replacement_for(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n{\"error\":1}")
                .is_none()
        );
        assert!(replacement_for(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement_for(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n").is_none());
        assert!(replacement_for(b"garbage").is_none());
    }
}
