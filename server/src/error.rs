//! Errors as HTTP responses: a status and an InfluxDB-shaped JSON body `{"error": "..."}`.
//! Every refusal goes through [`ApiError`], so the mapping from fault to status is here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refused request: its status, a message for a person, and for 503 a `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong and where.
    pub message: String,
    /// Seconds for `Retry-After` (sent with 503 and 413 for overload).
    pub retry_after: Option<u32>,
    /// Close the connection after the answer (`Connection: close`): set when the request
    /// body was not read to its end, so the connection cannot carry another request.
    pub close: bool,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
            close: false,
        }
    }

    /// 400: the client sent something wrong.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 413: the body is over a limit.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 503 with `Retry-After`: try again later.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    /// 500: a failure on our side (the engine, a panicked task).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// An engine error: a refused or failed write is ours (500), bad input is the
    /// client's (400).
    pub fn engine(e: strata_engine::Error) -> ApiError {
        match e {
            strata_engine::Error::InvalidInput(m) => ApiError::bad_request(m),
            other => ApiError::internal(format!("storage error: {other}")),
        }
    }
}

/// The JSON body InfluxDB sends with an error.
pub fn error_body(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            error_body(&self.message),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.close {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r.headers_mut().insert(
            "X-Influxdb-Error",
            HeaderValue::from_str(&sanitize_header(&self.message))
                .unwrap_or_else(|_| HeaderValue::from_static("error")),
        );
        r
    }
}

/// A header-safe copy of a message: visible ASCII and spaces, at most 200 characters.
pub(crate) fn sanitize_header(m: &str) -> String {
    m.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

impl ApiError {
    /// This error, closing the connection after the answer.
    pub fn closing(self) -> ApiError {
        ApiError {
            close: true,
            ..self
        }
    }
}

impl From<crate::blocking::TaskFailed> for ApiError {
    fn from(e: crate::blocking::TaskFailed) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(format!("request task failed: {e}"))
    }
}
