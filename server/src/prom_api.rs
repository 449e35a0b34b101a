//! What the Prometheus HTTP API endpoints share: parameters from the URL and from a
//! form-encoded POST body, Prometheus' time and duration formats, `match[]` selectors,
//! and answers in Prometheus' envelope (`{"status":"success","data":…}` or
//! `{"status":"error","errorType":…,"error":…}` with its status codes: 400 bad_data,
//! 422 execution, 503 timeout and unavailable, 499 canceled, 500 internal).

use crate::app::{AppState, params};
use crate::body;
use crate::error::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use strata_query::plan::Matcher;
use strata_query::promql::{self, PromError, json};

/// Milliseconds of Prometheus' `minTime` and `maxTime` (the defaults of `start`/`end`).
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974_000;
/// See [`MIN_TIME_MS`].
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974_999;

/// An answer in Prometheus' envelope.
#[derive(Debug)]
pub struct PromResponse {
    status: StatusCode,
    body: String,
}

impl PromResponse {
    /// `{"status":"success","data":<data>}` (data already JSON).
    pub fn data(data: &str, warnings: &[String]) -> PromResponse {
        PromResponse {
            status: StatusCode::OK,
            body: json::success(data, warnings),
        }
    }

    /// An error of `error_type` with Prometheus' status code for it.
    pub fn error(error_type: &str, message: &str) -> PromResponse {
        let status = match error_type {
            "bad_data" => StatusCode::BAD_REQUEST,
            "execution" => StatusCode::UNPROCESSABLE_ENTITY,
            "timeout" | "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "canceled" => StatusCode::from_u16(499).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "not_found" => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        PromResponse {
            status,
            body: json::error(error_type, message),
        }
    }

    /// `bad_data`, 400.
    pub fn bad_data(message: impl AsRef<str>) -> PromResponse {
        PromResponse::error("bad_data", message.as_ref())
    }

    /// `bad_data` for a parameter: `invalid parameter "name": why`.
    pub fn invalid_param(name: &str, why: impl std::fmt::Display) -> PromResponse {
        PromResponse::bad_data(format!("invalid parameter {name:?}: {why}"))
    }

    /// The answer for a failed query.
    pub fn query_error(e: &PromError) -> PromResponse {
        PromResponse::error(e.error_type(), &e.to_string())
    }

    /// The answer for a refusal of the server itself (auth, body, database not open).
    pub fn from_api(e: ApiError) -> PromResponse {
        let t = match e.status.as_u16() {
            400 | 413 | 408 => "bad_data",
            401 | 403 => "unauthorized",
            503 => "unavailable",
            _ => "internal",
        };
        PromResponse {
            status: e.status,
            body: json::error(t, &e.message),
        }
    }
}

impl IntoResponse for PromResponse {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }
}

impl From<ApiError> for PromResponse {
    fn from(e: ApiError) -> Self {
        PromResponse::from_api(e)
    }
}

/// The request's parameters: the URL's, then a form-encoded POST body's (as Go's
/// `r.FormValue` sees both), after checking credentials.
pub async fn request_params(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<(String, String)>, PromResponse> {
    let mut p = params(uri);
    state.authorize(headers, &p)?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if *method == Method::POST && is_form {
        let raw = body::read_raw(
            body,
            headers,
            state.config.max_body_bytes,
            state.config.body_timeout,
        )
        .await?;
        // Go's ParseForm puts body values before the URL's.
        let mut form: Vec<(String, String)> = form_urlencoded::parse(&raw)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        form.append(&mut p);
        p = form;
    }
    Ok(p)
}

/// The first value of `key` (Go's `FormValue`), if present.
pub fn first<'a>(p: &'a [(String, String)], key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Every value of `key`, in order.
pub fn all<'a>(p: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    p.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Prometheus' `parseTime`: Unix seconds with a fraction (rounded to ms), or RFC 3339.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>()
        && !s.eq_ignore_ascii_case("nan")
        && !s.to_ascii_lowercase().contains("inf")
    {
        let secs = f.trunc();
        let frac = ((f - secs) * 1000.0).round() / 1000.0;
        let ms = secs * 1000.0 + (frac * 1000.0).round();
        if !ms.is_finite() || ms.abs() > 9.2e18 {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        return Ok(ms as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    match s {
        "-292273086-05-16T16:47:06Z" => Ok(MIN_TIME_MS),
        "292277025-08-18T07:12:54.999999999Z" => Ok(MAX_TIME_MS),
        _ => Err(format!("cannot parse {s:?} to a valid timestamp")),
    }
}

/// A time parameter, or `default` when absent or empty.
pub fn time_param(p: &[(String, String)], key: &str, default: i64) -> Result<i64, PromResponse> {
    match first(p, key) {
        None | Some("") => Ok(default),
        Some(v) => parse_time(v).map_err(|e| {
            PromResponse::invalid_param(key, format!("Invalid time value for '{key}': {e}"))
        }),
    }
}

/// Prometheus' `parseDuration`: float seconds or a duration (`5m`), in ms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>()
        && !s.eq_ignore_ascii_case("nan")
    {
        let ms = f * 1000.0;
        if !ms.is_finite() || ms.abs() >= 9.2e15 {
            return Err(format!(
                "cannot parse {s:?} to a valid duration. It overflows int64"
            ));
        }
        return Ok(ms.round() as i64);
    }
    promql::parse_duration(s).ok_or_else(|| format!("cannot parse {s:?} to a valid duration"))
}

/// The `match[]` selectors, each parsed; at least one matcher of each must not match the
/// empty string.
pub fn matchers_param(p: &[(String, String)]) -> Result<Vec<Vec<Matcher>>, PromResponse> {
    let mut out = Vec::new();
    for s in all(p, "match[]") {
        let ms =
            promql::parse_selector(s).map_err(|e| PromResponse::invalid_param("match[]", e))?;
        if !ms.iter().any(|m| !m.matches("")) {
            return Err(PromResponse::invalid_param(
                "match[]",
                "match[] must contain at least one non-empty matcher",
            ));
        }
        out.push(ms);
    }
    Ok(out)
}

/// Now, in ms.
pub fn now_ms() -> i64 {
    crate::timearg::now_nanos().div_euclid(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_forms() {
        assert_eq!(parse_time("1.5"), Ok(1500));
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:01.250Z"), Ok(1250));
        assert_eq!(parse_time("-1"), Ok(-1000));
        assert!(
            parse_time("soon")
                .unwrap_err()
                .contains("cannot parse \"soon\"")
        );
        assert_eq!(
            parse_time("292277025-08-18T07:12:54.999999999Z"),
            Ok(MAX_TIME_MS)
        );
    }

    #[test]
    fn durations_in_both_forms() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("1e300").unwrap_err().contains("overflows"));
    }
}
