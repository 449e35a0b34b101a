//! PromQL `explain`: what a query would read, without evaluating it. PromQL is always
//! answered from the raw tiers (never from rollups: see [`ROLLUPS_NOT_USED`]); the plan
//! lists every selector with the number of series it matches and the time range it reads.
//!
//! The ranges follow evaluation: an instant selector reads `[t − lookback, t]` for each
//! evaluation time `t`, a range selector `[t − range, t]`, both shifted by `offset` and
//! pinned by `@`; a subquery widens the evaluation times of its inner expression by its
//! range (and shifts them by its offset). Series count as matching when they have a sample
//! in the range read (block and in-memory bounds, nothing decoded).

use super::ast::{At, Expr, VectorSelector};
use super::meta;
use strata_engine::Db;

/// Why PromQL never reads rollups (docs/QUERY.md, "PromQL does not use rollups").
pub const ROLLUPS_NOT_USED: &str = "PromQL range functions take left-open windows (t - range, t] \
     that do not line up with rollup buckets [start, start + interval), and instant selectors \
     need the last raw sample within the lookback; PromQL is never answered from rollups";

/// One selector of the expression.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectorPlan {
    /// The selector as written back (`up{job="a"}[5m] offset 1m`).
    pub selector: String,
    /// Series with a sample in the range read.
    pub series: usize,
    /// First millisecond read (inclusive).
    pub start_ms: i64,
    /// Last millisecond read (inclusive).
    pub end_ms: i64,
}

/// What a query would read.
#[derive(Debug, Clone, PartialEq)]
pub struct Explain {
    /// Every selector, in the order written.
    pub selectors: Vec<SelectorPlan>,
    /// The union of the selectors' ranges (`None` without selectors).
    pub range_ms: Option<(i64, i64)>,
}

struct Walk<'a> {
    db: &'a Db,
    start: i64,
    end: i64,
    lookback: i64,
    out: Vec<SelectorPlan>,
}

impl Walk<'_> {
    /// The evaluation times `[a, b]` of a node under `at`.
    fn pinned(&self, at: Option<At>, a: i64, b: i64) -> (i64, i64) {
        match at {
            None => (a, b),
            Some(At::Time(t)) => (t, t),
            Some(At::Start) => (self.start, self.start),
            Some(At::End) => (self.end, self.end),
        }
    }

    fn selector(
        &mut self,
        vs: &VectorSelector,
        text: String,
        back: i64,
        (a, b): (i64, i64),
    ) -> Result<(), strata_engine::Error> {
        let (a, b) = self.pinned(vs.at, a, b);
        let lo = a.saturating_sub(vs.offset).saturating_sub(back);
        let hi = b.saturating_sub(vs.offset);
        let series = meta::series(self.db, std::slice::from_ref(&vs.matchers), lo, hi)?.len();
        self.out.push(SelectorPlan {
            selector: text,
            series,
            start_ms: lo,
            end_ms: hi,
        });
        Ok(())
    }

    fn walk(&mut self, e: &Expr, times: (i64, i64)) -> Result<(), strata_engine::Error> {
        match e {
            Expr::Number(_) | Expr::String(_) => Ok(()),
            Expr::Vector(vs) => self.selector(vs, e.to_string(), self.lookback, times),
            Expr::Matrix(m) => self.selector(&m.vector, e.to_string(), m.range, times),
            Expr::Subquery(sq) => {
                let (a, b) = self.pinned(sq.at, times.0, times.1);
                let inner = (
                    a.saturating_sub(sq.offset).saturating_sub(sq.range),
                    b.saturating_sub(sq.offset),
                );
                self.walk(&sq.expr, inner)
            }
            Expr::Paren(x) | Expr::Unary(_, x) => self.walk(x, times),
            Expr::Binary(b) => {
                self.walk(&b.lhs, times)?;
                self.walk(&b.rhs, times)
            }
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    self.walk(p, times)?;
                }
                self.walk(&a.expr, times)
            }
            Expr::Call(c) => c.args.iter().try_for_each(|x| self.walk(x, times)),
        }
    }
}

/// The plan of `expr` evaluated from `start_ms` to `end_ms` (equal for an instant query)
/// with a lookback of `lookback_ms`.
pub fn explain(
    db: &Db,
    expr: &Expr,
    start_ms: i64,
    end_ms: i64,
    lookback_ms: i64,
) -> Result<Explain, strata_engine::Error> {
    let mut w = Walk {
        db,
        start: start_ms,
        end: end_ms,
        lookback: lookback_ms,
        out: Vec::new(),
    };
    w.walk(expr, (start_ms, end_ms))?;
    let range_ms = w.out.iter().fold(None, |acc: Option<(i64, i64)>, s| {
        Some(match acc {
            None => (s.start_ms, s.end_ms),
            Some((lo, hi)) => (lo.min(s.start_ms), hi.max(s.end_ms)),
        })
    });
    Ok(Explain {
        selectors: w.out,
        range_ms,
    })
}
