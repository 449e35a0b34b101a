//! Mergeable partial states: the one type in which every aggregate is computed before it
//! is finished into a value, with its compact binary form.
//!
//! The executor folds each series' points into per-bucket [`State`]s and merges the
//! states of a group's series (and threads) with [`State::merge`]; the cluster merges the
//! states of different nodes with the same call, after they travelled in the form of
//! [`codec`]. The states: count, sum (float and exact integer), mean as sum and count,
//! min/max with the time of the point, first/last with time, moments for stddev
//! (Welford/Chan), counters for rate and increase, histogram buckets, integrals, exact
//! value sets (median, mode, percentiles, top, bottom) and, on the wire, distinct-value
//! counts for mode and a [`Sketch`] with 1% relative error for percentiles over many
//! points.
//!
//! | file | job |
//! | --- | --- |
//! | [`state`] | the types and their merge |
//! | [`sketch`] | the quantile sketch (DDSketch) and its error bound |
//! | [`codec`] | the binary form |
//! | [`select`] | a node's partial answer to an InfluxQL statement and the front-end merge |

pub mod codec;
pub mod promql;
pub mod select;
pub use strata_engine::rollup::sketch;
pub mod state;

pub use codec::{DecodeError, decode_state, encode_state};
pub use sketch::Sketch;
pub use state::{AggKind, Num, State};
