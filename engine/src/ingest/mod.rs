//! Ingest formats: text that arrives over the wire or from files, turned into points.

pub mod line_protocol;
pub mod prom_text;
