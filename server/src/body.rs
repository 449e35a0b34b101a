//! Request bodies under the size limit. The limit applies to the bytes the server works
//! on, after decompression: a compressed body is read (itself at most the limit), then
//! inflated through a reader that stops one byte past the limit, so a gzip bomb costs at
//! most `limit` bytes of memory and is answered 413.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::io::Read;

/// How the body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// The `Content-Encoding` of a request; anything but identity and gzip is refused.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Ok(Encoding::Identity),
        Some("gzip") | Some("x-gzip") => Ok(Encoding::Gzip),
        Some(other) => Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other:?}: send identity or gzip"),
        )),
    }
}

fn over_limit(limit: usize, what: &str) -> ApiError {
    ApiError::too_large(format!(
        "request body too large: {what} exceeds the limit of {limit} bytes (server.max_body_bytes)"
    ))
}

/// Answers `error` to a request refused before its body was read (auth, overload, a bad
/// parameter), after reading and discarding the body: at most `limit` bytes within
/// `timeout`. A client still sending then reads the answer; otherwise closing a socket
/// with unread bytes makes the kernel reset the connection, and the client sees a broken
/// pipe instead of, say, 503 with `Retry-After`. A body larger than that is not waited
/// for: the answer closes the connection.
pub async fn refuse(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: std::time::Duration,
    error: ApiError,
) -> ApiError {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return error.closing();
    }
    let drained = tokio::time::timeout(timeout, async {
        let mut body = body;
        let mut read = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            if let Some(data) = frame.data_ref() {
                read += data.len();
                if read > limit {
                    return false;
                }
            }
        }
        true
    })
    .await;
    match drained {
        Ok(true) => error,
        _ => error.closing(),
    }
}

/// Reads the raw body, refusing it (413) once it passes `limit` bytes, and (408) when
/// it has not fully arrived within `timeout`; both close the connection (the rest of the
/// body is not read).
pub async fn read_raw(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(over_limit(limit, &format!("Content-Length {len}")).closing());
    }
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await
    else {
        return Err(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {timeout:?} (server.body_timeout): the client is too slow"
            ),
        )
        .closing());
    };
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(over_limit(limit, "the body").closing())
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// The body's content: `raw` itself, or for gzip its inflated bytes, at most `limit`.
/// Blocking (CPU-bound for gzip): call it off the async workers.
pub fn decode(raw: Bytes, encoding: Encoding, limit: usize) -> Result<Bytes, ApiError> {
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => {
            let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit));
            let reader = flate2::read::MultiGzDecoder::new(&raw[..]);
            reader
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    ApiError::bad_request(format!("gzip body does not decompress: {e}"))
                })?;
            if out.len() > limit {
                return Err(over_limit(limit, "the decompressed gzip body"));
            }
            Ok(Bytes::from(out))
        }
    }
}

/// Lines in `body`: newlines, plus one for a last line without one.
pub fn count_lines(body: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', body).count() + usize::from(body.last().is_some_and(|&b| b != b'\n'))
}

/// Refuses (413) a body of more than `max` lines. A body of at most `max` bytes cannot
/// have more (every line but the last ends with its own newline byte), so only a longer
/// one is counted.
pub fn check_lines(body: &[u8], max: usize) -> Result<(), ApiError> {
    if body.len() <= max {
        return Ok(());
    }
    let n = count_lines(body);
    if n > max {
        return Err(ApiError::too_large(format!(
            "too many lines: the body has {n} lines, over the limit of {max} per request \
             (server.max_lines_per_request); split it into smaller batches"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    #[test]
    fn gzip_inflates_within_the_limit_and_refuses_a_bomb() {
        let z = gzip(b"cpu v=1\n");
        assert_eq!(&decode(z, Encoding::Gzip, 100).unwrap()[..], b"cpu v=1\n");
        let bomb = gzip(&vec![0u8; 1 << 20]);
        let e = decode(bomb, Encoding::Gzip, 1000).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.message.contains("decompressed"), "{}", e.message);
        let e = decode(Bytes::from_static(b"not gzip"), Encoding::Gzip, 1000).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn lines_are_counted_and_bounded() {
        assert_eq!(count_lines(b"a\nb\n"), 2);
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"\n\n"), 2);
        assert!(check_lines(b"a\nb\n", 2).is_ok());
        assert!(check_lines(b"a\nb", 2).is_ok());
        assert!(check_lines(b"", 0).is_ok());
        assert!(check_lines(b"a\nb\nc", 2).is_err());
        assert!(check_lines(b"\n\n\n", 2).is_err());
        // Long lines: more bytes than the limit, but not more lines.
        assert!(check_lines(b"aaaa\nbbbb\n", 2).is_ok());
    }
}
