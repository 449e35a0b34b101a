//! Rollups: per series, per numeric field and per interval bucket, the mergeable summary
//! of the raw points (count, sum, min, max, first and last with their times, and a
//! quantile [`Sketch`]), written by compaction into rollup files beside the cold
//! segments, so that aggregates over long ranges read buckets instead of points and keep
//! answering after the raw data has expired. Layout: docs/FORMAT.md, "Rollup file".
//!
//! | file | job |
//! | --- | --- |
//! | [`sketch`] | the quantile sketch (DDSketch, 1 % relative error) |
//! | [`wire`] | the varint / float / sketch binary primitives shared with `strata-query` |

pub mod sketch;
pub mod wire;

pub use sketch::Sketch;
