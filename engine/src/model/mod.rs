//! The vocabulary shared by every part of Strata: points, field values, series keys and
//! time. Nothing here does I/O.

mod point;
mod series;
mod time;

pub use point::{FieldType, FieldValue, FieldValueRef, Point};
pub use series::{SeriesKey, SeriesKeyError};
pub use time::{Precision, TimeRange};
