//! Optional token auth, in every form InfluxDB 1.x clients send it:
//! `Authorization: Token X`, `Authorization: Bearer X`, HTTP basic with password `X` (any
//! user name), or the `p=X` URL parameter (with `u=` any user). Checked on write, query and
//! status endpoints; `/ping`, `/health`, `/ready` and `/metrics` stay open.

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;

/// Checks the request's credentials against `token` (no token configured: every request
/// passes). `params` are the URL's query parameters.
pub fn check(
    token: Option<&str>,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<(), ApiError> {
    let Some(token) = token else { return Ok(()) };
    let offered = offered(headers, params);
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

/// The secret the request offers, if any.
fn offered(headers: &HeaderMap, params: &[(String, String)]) -> Option<String> {
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
    params
        .iter()
        .find(|(k, _)| k == "p")
        .map(|(_, v)| v.clone())
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
}
