//! `SELECT`: planning per measurement and execution.
//!
//! Plan: the time range comes out of `WHERE` ([`super::time`]); the rest is partially
//! evaluated against each series' tags ([`super::cond`]) so that series are chosen before
//! any data is read; projections compile into [`Proj`] trees over aggregate slots
//! (aggregate queries) or fields and tags (raw queries).
//!
//! Execution of an aggregate query: one task per (series, field) — or per series when a
//! field condition must join its fields row by row — streams the column's
//! pieces into per-bucket [`State`]s (a block lying inside one bucket is answered from its
//! statistics when every function on that field allows it), and the tasks' states are
//! merged per group. Raw queries read each series' columns, join them by time, filter,
//! and merge the rows of a group by time. Tasks run on rayon only when the plan's
//! estimated points reach [`super::parallel::PARALLEL_MIN_POINTS`]; smaller queries run
//! on the calling thread.
//!
//! One file per stage, in the order a statement goes through them:
//!
//! | stage | file |
//! | --- | --- |
//! | time range, measurements, series chosen and grouped | [`run`] |
//! | projections compiled, fields expanded, bucket interval | [`plan`] |
//! | bucket layout (`GROUP BY time()`, offsets, zones) | [`buckets`] |
//! | aggregate queries: columns folded into per-bucket states | [`aggregate`] |
//! | aggregate queries: buckets to rows (fill, selectors, transformations) | [`rows`] |
//! | raw queries: columns joined by time and filtered | [`raw`] |
//! | projections evaluated over rows, OFFSET/LIMIT | [`project`] |
//!
//! Invariants: output series are ordered by measurement, then by group tag values;
//! groups without any point are not output; limits are checked before rows are built.

use super::agg::{AggKind, State};
use super::cond::{self, Names, Regexes, Residual, Scalar, partial};
use super::parallel::use_pool;
use super::time::{Bounds, split_time};
use super::transform::{MathFn, Transform};
use super::{Ctx, count, limit_plus_offset};
use crate::ast::{BinaryOp, Cast, Dimension, Expr, Fill, MeasurementName, Order, Select};
use crate::error::{QueryError, Token};
use crate::result::{Series, Value};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashSet};
use strata_engine::index::ColumnId;
use strata_engine::model::{FieldType, TimeRange};
use strata_engine::segment::ValuesView;
use strata_engine::{Piece, RollupAsk, RollupRead, SeriesInfo};

mod aggregate;
mod buckets;
pub(crate) mod cluster;
mod plan;
mod project;
mod raw;
mod rollup;
mod rows;
mod run;
pub(crate) mod stream;

use aggregate::*;
use buckets::*;
pub(crate) use plan::ty_name;
use plan::*;
use project::*;
use raw::*;
use rows::*;
pub(crate) use run::run;
use run::*;

#[cfg(test)]
mod tests {
    use super::aggregate::run_end;

    #[test]
    fn run_end_finds_the_first_time_at_or_after_the_end() {
        let ts: Vec<i64> = (0..1000).map(|i| i * 10).collect();
        for from in [0usize, 1, 5, 500, 998, 999] {
            // The piece's time at `from` is always inside the bucket: below its end.
            for end in [ts[from] + 1, ts[from] + 10, ts[from] + 95, 5_005, 20_000] {
                if end <= ts[from] {
                    continue;
                }
                let want = from + ts[from..].partition_point(|&t| t < end);
                assert_eq!(run_end(&ts, from, end), want, "from {from} end {end}");
            }
        }
        assert_eq!(run_end(&[5], 0, 6), 1);
    }
}
