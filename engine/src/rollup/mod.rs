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
//! | [`rule`] | the rules from the configuration |
//! | [`bucket`] | one bucket's summary, computed from column data (the reference, row by row) |
//! | [`columns`] | buckets column-wise: computed in one pass, stored, cached and read that way |
//! | [`file`] | the rollup file's bytes (docs/FORMAT.md, "Rollup file") |
//! | [`cache`] | the bounded cache of decoded stripes |
//! | [`store`] | the live rollup files of a database, which to use, which to drop |

pub mod sketch;
pub mod wire;

pub use sketch::Sketch;
pub mod bucket;
pub mod cache;
pub mod columns;
pub mod file;
pub mod rule;

pub use bucket::{RollupBucket, Scalar, buckets_of, rolls_up};
pub use columns::BucketColumns;
pub use file::{RollupEntry, RollupFile, RollupMeta};
pub mod store;
pub use rule::{Aggregates, RollupRule, RuleError, measurement_of};
