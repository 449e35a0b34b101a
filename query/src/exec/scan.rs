//! The column scan: one column's points within a time range, as numbers, in time order.
//! Both languages read stored data through [`Db::scan_column`]; this operator is the
//! form the window functions of PromQL consume (millisecond timestamps, `f64` values).
//!
//! Invariants: timestamps strictly increase; where several nanosecond points fall in one
//! millisecond, the last one is kept (as a later write of the same Prometheus timestamp
//! would be); float values keep their exact bits (a stale marker stays a stale marker).

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
    /// Strictly increasing timestamps in ms.
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

    fn push(&mut self, t: i64, v: f64) {
        if self.ts.last() == Some(&t) {
            if let Some(last) = self.vals.last_mut() {
                *last = v;
            }
        } else {
            self.ts.push(t);
            self.vals.push(v);
        }
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
            out.ts.reserve(timestamps.len());
            out.vals.reserve(timestamps.len());
            let ms = |t: i64| t.div_euclid(NS_PER_MS);
            match values {
                ValuesView::Float(v) => {
                    for (&t, &x) in timestamps.iter().zip(v) {
                        out.push(ms(t), x);
                    }
                }
                ValuesView::Integer(v) => {
                    for (&t, &x) in timestamps.iter().zip(v) {
                        out.push(ms(t), x as f64);
                    }
                }
                ValuesView::Unsigned(v) => {
                    for (&t, &x) in timestamps.iter().zip(v) {
                        out.push(ms(t), x as f64);
                    }
                }
                ValuesView::Boolean(v) => {
                    for (&t, &x) in timestamps.iter().zip(v) {
                        out.push(ms(t), if x { 1.0 } else { 0.0 });
                    }
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

    #[test]
    fn points_in_one_millisecond_keep_the_last() {
        let mut s = Samples::default();
        s.push(1, 1.0);
        s.push(1, 2.0);
        s.push(2, 3.0);
        assert_eq!(s.ts, vec![1, 2]);
        assert_eq!(s.vals, vec![2.0, 3.0]);
    }
}
