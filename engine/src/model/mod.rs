//! The vocabulary shared by every part of Strata: points, field values, series keys,
//! column data and time. Nothing here does I/O.

mod column;
mod point;
pub mod predicate;
pub(crate) mod series;
mod time;

pub use column::{ColumnData, ColumnValues};
pub use point::{FieldType, FieldValue, FieldValueRef, Point};
pub use predicate::{MatchOp, Matcher, Predicate, PredicateError, Subject};
pub use series::{SeriesKey, SeriesKeyError, encode_canonical};
pub use time::{MAX_TIMESTAMP, MIN_TIMESTAMP, Precision, TimeRange, timestamp_in_range};
