//! The Strata HTTP server: InfluxDB- and Prometheus-compatible endpoints over the engine
//! and the query language. Filled in by the server issue; the crate exists now so the
//! dependency direction cli → server → query → engine holds from the start.

pub use strata_query as query;
