//! Authentication.
//!
//! **Token** (`server.auth_token`), in every form InfluxDB 1.x clients send it:
//! `Authorization: Token X`, `Authorization: Bearer X`, HTTP basic with password `X` (any
//! user name), or the `p=X` URL parameter (with `u=` any user). Checked by the handlers of
//! write, query and status endpoints ([`check`]).
//!
//! **Users** (`basic_auth_users` of `--web.config.file`): HTTP basic, or InfluxDB's
//! `u=USER&p=PASSWORD` parameters, against bcrypt hashes ([`crate::users`]). When users are
//! configured, [`layer`] checks every request before it is routed and before any body is
//! read: a user's credentials or the token (in any form above) pass; anything else is
//! 401 with a JSON body and `WWW-Authenticate: Basic realm="strata"`.
//!
//! **Open endpoints** ([`OPEN_PATHS`]: `/ping`, `/health`, `/ready`, `/metrics`,
//! `/-/healthy`, `/-/ready`) answer without credentials, as in Prometheus and InfluxDB,
//! unless `server.auth_open_endpoints` is set: then they need a user or the token too.
//!
//! **Repeated parameters**: `p=` (and `u=`) given more than once is 400, whichever values
//! they carry, rather than silently taking the first or the last. For `POST /query` the
//! form body counts too (a `p` in the URL and one in the body is two). With the
//! `Authorization` header present, it is used and the parameters are not looked at for
//! credentials (they are still refused when repeated).

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::sync::Arc;

/// Checks the request's credentials against `token` (no token configured: every request
/// passes). `params` are the URL's query parameters.
pub fn check(
    token: Option<&str>,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<(), ApiError> {
    let Some(token) = token else { return Ok(()) };
    let offered = offered(headers, params)?;
    match offered {
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(unauthorized(
            "authorization failed: the token does not match",
        )),
        None => Err(unauthorized(
            "authorization required: send Authorization: Token <token> (or Bearer, or HTTP \
             basic with the token as password, or the p=<token> parameter)",
        )),
    }
}

fn unauthorized(m: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, m)
}

/// The value of `key`, or 400 when it is given more than once.
pub fn single_param<'a>(
    params: &'a [(String, String)],
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    let mut found = params.iter().filter(|(k, _)| k == key);
    let first = found.next().map(|(_, v)| v.as_str());
    let more = found.count();
    if more > 0 {
        return Err(ApiError::bad_request(format!(
            "parameter {key:?} given {} times: give it once",
            more + 1
        )));
    }
    Ok(first)
}

/// The secret the request offers, if any; 400 when `p` is repeated.
fn offered(headers: &HeaderMap, params: &[(String, String)]) -> Result<Option<String>, ApiError> {
    let p = single_param(params, "p")?;
    Ok(header_secret(headers).or_else(|| p.map(str::to_owned)))
}

/// The secret of the `Authorization` header (token, bearer or basic password), if any.
fn header_secret(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
            return Some(rest.to_owned());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (_, password) = text.split_once(':')?;
            return Some(password.to_owned());
        }
    }
    None
}

/// A user name and password: from `Authorization: Basic`, else from `u=` and `p=`; 400
/// when either parameter is repeated.
pub fn user_credentials(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<Option<(String, String)>, ApiError> {
    let (u, p) = (single_param(params, "u")?, single_param(params, "p")?);
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let pair = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .and_then(|t| t.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
            return Ok(pair);
        }
        return Ok(None);
    }
    Ok(u.zip(p).map(|(u, p)| (u.to_owned(), p.to_owned())))
}

/// Endpoints that answer without credentials unless `server.auth_open_endpoints`.
pub const OPEN_PATHS: &[&str] = &[
    "/ping",
    "/health",
    "/ready",
    "/metrics",
    "/-/healthy",
    "/-/ready",
];

/// The authentication layer (see the module's documentation): with users configured, every
/// request but the open endpoints' needs a user or the token; with
/// `server.auth_open_endpoints`, the open endpoints too (a user or the token, whichever
/// is configured). Without users, other requests pass on to their handler's token check.
pub(crate) async fn layer(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let open = OPEN_PATHS.contains(&req.uri().path());
    let token = state.config.auth_token.as_deref();
    let users = match state.users() {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let guarded = if open {
        state.config.auth_open_endpoints && (token.is_some() || users.is_some())
    } else {
        users.is_some()
    };
    if !guarded {
        return next.run(req).await;
    }
    let params = crate::app::params(req.uri());
    match authenticate(token, users.clone(), req.headers(), &params).await {
        Ok(()) => next.run(req).await,
        Err(e) => {
            let challenge = users.is_some() && e.status == StatusCode::UNAUTHORIZED;
            // Discard the body (bounded) before answering, so that a client still sending
            // reads the 401 rather than a reset connection; nothing of it is kept.
            let (parts, body) = req.into_parts();
            let e = crate::body::refuse(
                body,
                &parts.headers,
                state.config.max_body_bytes,
                state.config.body_timeout,
                e,
            )
            .await;
            let mut r = e.into_response();
            if challenge {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Basic realm=\"strata\""),
                );
            }
            r
        }
    }
}

/// Passes a request with the token (any form) or a user's credentials.
async fn authenticate(
    token: Option<&str>,
    users: Option<Arc<crate::users::Users>>,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<(), ApiError> {
    let token_result = token.map(|t| check(Some(t), headers, params));
    match &token_result {
        Some(Ok(())) => return Ok(()),
        Some(Err(e)) if e.status == StatusCode::BAD_REQUEST => return Err(e.clone()),
        _ => {}
    }
    let Some(users) = users else {
        return token_result.unwrap_or(Ok(()));
    };
    match user_credentials(headers, params)? {
        Some((user, password)) => {
            let ok = tokio::task::spawn_blocking(move || users.verify(&user, &password)).await?;
            if ok {
                Ok(())
            } else {
                Err(unauthorized(
                    "authorization failed: unknown user or wrong password",
                ))
            }
        }
        None => token_result.unwrap_or_else(|| {
            Err(unauthorized(
                "authorization required: send HTTP basic credentials of a user of the web configuration file (or u= and p=)",
            ))
        }),
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::AUTHORIZATION, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn every_form_is_accepted() {
        let none = HeaderMap::new();
        assert!(check(None, &none, &[]).is_ok());
        assert!(check(Some("s3"), &with("Token s3"), &[]).is_ok());
        assert!(check(Some("s3"), &with("Bearer s3"), &[]).is_ok());
        let basic = base64::engine::general_purpose::STANDARD.encode("admin:s3");
        assert!(check(Some("s3"), &with(&format!("Basic {basic}")), &[]).is_ok());
        let p = vec![
            ("u".to_owned(), "x".to_owned()),
            ("p".to_owned(), "s3".to_owned()),
        ];
        assert!(check(Some("s3"), &none, &p).is_ok());
    }

    #[test]
    fn wrong_or_missing_is_401() {
        let e = check(Some("s3"), &HeaderMap::new(), &[]).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.message.contains("authorization required"));
        let e = check(Some("s3"), &with("Token nope"), &[]).unwrap_err();
        assert!(e.message.contains("does not match"));
        assert!(check(Some("s3"), &with("Basic !!!"), &[]).is_err());
    }

    #[test]
    fn repeated_p_or_u_is_400_whatever_the_values() {
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let none = HeaderMap::new();
        for params in [
            vec![kv("p", "s3"), kv("p", "s3")],
            vec![kv("p", "s3"), kv("p", "nope")],
            vec![kv("p", "nope"), kv("q", "x"), kv("p", "s3")],
        ] {
            let e = check(Some("s3"), &none, &params).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{params:?}");
            assert!(e.message.contains("\"p\" given"), "{}", e.message);
            // With the header too: the parameters are still refused.
            assert_eq!(
                check(Some("s3"), &with("Token s3"), &params)
                    .unwrap_err()
                    .status,
                StatusCode::BAD_REQUEST
            );
        }
        let users = vec![kv("u", "a"), kv("u", "b"), kv("p", "x")];
        assert_eq!(
            user_credentials(&none, &users).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        // One each: the pair; Basic wins over the parameters.
        let one = vec![kv("u", "a"), kv("p", "x")];
        assert_eq!(
            user_credentials(&none, &one).unwrap(),
            Some(("a".to_owned(), "x".to_owned()))
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:pw:with:colons");
        assert_eq!(
            user_credentials(&with(&format!("Basic {basic}")), &one).unwrap(),
            Some(("alice".to_owned(), "pw:with:colons".to_owned()))
        );
        assert_eq!(user_credentials(&with("Token t"), &one).unwrap(), None);
    }
}
