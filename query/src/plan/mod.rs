//! The language-neutral part of a query plan: which series (label matchers resolved
//! through the index, [`selection`]) and the predicate they are chosen by ([`Matcher`]).
//! PromQL selectors lower to it directly; the column scans under both languages read
//! through `exec::scan` and [`strata_engine::Db::scan_column`].

pub mod matcher;
pub mod selection;

pub use matcher::{MatchOp, Matcher};
