//! The column scan: one column's points within a time range, as numbers, in time order.
//! Both languages read stored data through [`Db::scan_column`]; this operator is the
//! form the window functions of PromQL consume (millisecond timestamps, `f64` values).
//!
//! Invariants: timestamps never decrease (several nanosecond points within one millisecond
//! keep their order and share its timestamp, as each point is read at its stored time);
//! float values keep their exact bits (a stale marker stays a stale marker).

use crate::error::QueryError;
use strata_engine::Db;
use strata_engine::Piece;
use strata_engine::index::ColumnId;
use strata_engine::model::{FieldType, TimeRange};
use strata_engine::segment::ValuesView;

const NS_PER_MS: i64 = 1_000_000;

/// Samples of one column: millisecond timestamps and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    /// Non-decreasing timestamps in ms.
    pub ts: Vec<i64>,
    /// Values, one per timestamp.
    pub vals: Vec<f64>,
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// The nanosecond range that holds every point of milliseconds `start..=end`.
pub fn ns_range(start_ms: i64, end_ms: i64) -> TimeRange {
    TimeRange::new(
        start_ms.saturating_mul(NS_PER_MS),
        end_ms.saturating_add(1).saturating_mul(NS_PER_MS),
    )
}

/// Reads `column` in milliseconds `start..=end`, numbers as `f64` (booleans as 1 and 0),
/// calling `check` between pieces so a long read can be stopped.
pub fn read_samples(
    db: &Db,
    column: ColumnId,
    ty: FieldType,
    start_ms: i64,
    end_ms: i64,
    check: &dyn Fn() -> Result<(), QueryError>,
) -> Result<Samples, QueryError> {
    let mut out = Samples::default();
    if start_ms > end_ms {
        return Ok(out);
    }
    let mut stop: Option<QueryError> = None;
    let res = db.scan_column(
        column,
        ty,
        ns_range(start_ms, end_ms),
        &mut |_, _| false,
        &mut |piece| {
            if let Err(e) = check() {
                stop = Some(e);
                return Err(strata_engine::Error::Internal("query stopped".into()));
            }
            let Piece::Points { timestamps, values } = piece else {
                return Ok(());
            };
            if matches!(values, ValuesView::String(_)) {
                return Ok(());
            }
            // Unsigned division by the constant is a multiply and a shift; times before
            // 1970 take the signed (flooring) path.
            if timestamps.iter().fold(0, |m, &t| m | t) >= 0 {
                out.ts.extend(
                    timestamps
                        .iter()
                        .map(|&t| (t as u64 / NS_PER_MS as u64) as i64),
                );
            } else {
                out.ts
                    .extend(timestamps.iter().map(|&t| t.div_euclid(NS_PER_MS)));
            }
            match values {
                ValuesView::Float(v) => out.vals.extend_from_slice(v),
                ValuesView::Integer(v) => out.vals.extend(v.iter().map(|&x| x as f64)),
                ValuesView::Unsigned(v) => out.vals.extend(v.iter().map(|&x| x as f64)),
                ValuesView::Boolean(v) => {
                    out.vals
                        .extend(v.iter().map(|&x| if x { 1.0 } else { 0.0 }));
                }
                ValuesView::String(_) => {}
            }
            Ok(())
        },
    );
    if let Some(e) = stop {
        return Err(e);
    }
    res?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_range_covers_whole_milliseconds() {
        let r = ns_range(5, 7);
        assert!(r.contains(5_000_000));
        assert!(r.contains(7_999_999));
        assert!(!r.contains(8_000_000));
        assert!(!r.contains(4_999_999));
    }
}
