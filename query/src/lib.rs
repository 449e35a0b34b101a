//! The Strata query language: an InfluxQL-compatible parser, planner and executor over
//! [`strata_engine`]. Filled in by the query-language issue; the crate exists now so the
//! dependency direction cli → server → query → engine holds from the start.

pub use strata_engine as engine;
