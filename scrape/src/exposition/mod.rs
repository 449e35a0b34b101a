//! Scraped pages into samples: the text format 0.0.4 (through the engine's parser,
//! [`strata_engine::ingest::prom_text`]) and OpenMetrics 1.0 ([`openmetrics`]), chosen
//! by the response's `Content-Type` as Prometheus chooses.

pub mod openmetrics;

use strata_engine::model::FieldValue;
use strata_query::promql::Labels;

/// The `Accept` header Prometheus 2.42 sends.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// One sample of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, `__name__` included.
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// The page's own timestamp, in ms, if it gave one.
    pub ts_ms: Option<i64>,
}

/// Why a page could not be parsed (the whole scrape fails, as in Prometheus).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Parses `body` according to `content_type`.
pub fn parse(body: &[u8], content_type: &str) -> Result<Vec<Sample>, ParseError> {
    if content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/openmetrics-text")
    {
        openmetrics::parse(body)
    } else {
        parse_text(body)
    }
}

/// Text format 0.0.4. The first bad line fails the page.
pub fn parse_text(body: &[u8]) -> Result<Vec<Sample>, ParseError> {
    const NO_TS: i64 = i64::MIN;
    let (points, errors) = strata_engine::ingest::prom_text::parse_page(body, NO_TS);
    if let Some(e) = errors.first() {
        return Err(ParseError(e.to_string()));
    }
    let mut out = Vec::with_capacity(points.len());
    for p in points {
        let value = match p.fields.first().map(|f| &f.1) {
            Some(FieldValue::Float(v)) => *v,
            _ => continue,
        };
        let ts_ms = (p.timestamp != NO_TS).then_some(p.timestamp / 1_000_000);
        out.push(Sample {
            labels: crate::append::key_labels(&p.series),
            value,
            ts_ms,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_pages_keep_names_and_timestamps() {
        let page = b"# TYPE a counter\na_total{x=\"1\"} 3\nb 2.5 1700000000123\n";
        let s = parse(page, "text/plain; version=0.0.4").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].labels.to_string(), r#"{__name__="a_total", x="1"}"#);
        assert_eq!(s[0].ts_ms, None);
        assert_eq!(s[1].ts_ms, Some(1_700_000_000_123));
        assert!(parse(b"a{ 1\n", "text/plain").is_err());
    }

    #[test]
    fn content_type_picks_the_parser() {
        let om = b"a_total 1 1700000000.5\n# EOF\n";
        let s = parse(
            om,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
        .unwrap();
        assert_eq!(s[0].ts_ms, Some(1_700_000_000_500));
        // The same bytes as text format: the "# EOF" is a comment, and the timestamp is
        // not an integer, so the page fails.
        assert!(parse(om, "text/plain").is_err());
    }
}
