//! The built-in web page at `/` and `/ui/`: query (PromQL or InfluxQL, chart and table),
//! explore (metrics, labels, cardinality, storage by tier), targets, rules and alerts.
//! Every asset is embedded in the binary (`server/ui/`, uPlot vendored with its license);
//! nothing is fetched from elsewhere and no build step runs. The page reads only the
//! HTTP APIs, with the same credentials as any client.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// (file name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/style.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/vendor/uplot/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../ui/vendor/uplot/LICENSE"),
    ),
];

const INDEX: &str = include_str!("../ui/index.html");

/// `GET /`, `/ui`, `/ui/`: the page.
pub async fn index() -> Response {
    let mut r = (StatusCode::OK, INDEX).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "Content-Security-Policy",
        HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'"),
    );
    r
}

/// `GET /ui/assets/<file>`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, ty, bytes)) => {
            let mut r = (StatusCode::OK, *bytes).into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        None => crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no asset {file:?} (the page's files are app.js, style.css and uPlot's)"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_embedded_assets() {
        for src in [
            "/ui/assets/app.js",
            "/ui/assets/style.css",
            "/ui/assets/uPlot.iife.min.js",
            "/ui/assets/uPlot.min.css",
        ] {
            assert!(INDEX.contains(src), "{src}");
            let name = src.rsplit('/').next().unwrap();
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "{name}");
        }
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
    }
}
