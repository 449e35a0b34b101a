//! The partial states themselves and how two of them merge: the executor merges the
//! states of different series (and threads) of a group with [`State::merge`], and the
//! cluster merges the states of different nodes with the same call.

use crate::result::Value;

/// An aggregate or selector function and its constant arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggKind {
    /// `count`
    Count,
    /// `sum`
    Sum,
    /// `mean`
    Mean,
    /// `median`
    Median,
    /// `mode`
    Mode,
    /// `spread`
    Spread,
    /// `stddev`
    Stddev,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `first`
    First,
    /// `last`
    Last,
    /// Nearest-rank percentile, 0–100.
    Percentile(f64),
    /// Trapezoidal area, per `unit` nanoseconds.
    Integral(i64),
    /// `top(f, N)`
    Top(usize),
    /// `bottom(f, N)`
    Bottom(usize),
    /// Counter increase per `unit` nanoseconds of the bucket (or of the range).
    Rate(i64),
    /// Counter increase, resets handled.
    Increase,
    /// Prometheus' `histogram_quantile(q, field)` over `_bucket` series: the increase of
    /// each `le` bucket counter in the bucket of time, then linear interpolation.
    HistogramQuantile(f64),
}

/// A number of one of the three numeric types, or a string or boolean (for count, first,
/// last and mode).
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    /// A float.
    F(f64),
    /// A signed integer.
    I(i64),
    /// An unsigned integer.
    U(u64),
    /// A string.
    S(String),
    /// A boolean.
    B(bool),
}

impl Num {
    /// The value as a float (booleans 0 or 1, strings NaN).
    pub fn f64(&self) -> f64 {
        match self {
            Num::F(f) => *f,
            Num::I(i) => *i as f64,
            Num::U(u) => *u as f64,
            Num::B(b) => f64::from(u8::from(*b)),
            Num::S(_) => f64::NAN,
        }
    }

    /// Orders two values of one field: by value within a type, by their float value across.
    pub fn order(&self, o: &Num) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, o) {
            (Num::I(a), Num::I(b)) => a.cmp(b),
            (Num::U(a), Num::U(b)) => a.cmp(b),
            (Num::S(a), Num::S(b)) => a.cmp(b),
            (Num::B(a), Num::B(b)) => a.cmp(b),
            _ => self.f64().partial_cmp(&o.f64()).unwrap_or(Ordering::Equal),
        }
    }

    /// A result value as a `Num` (`None` for null and times).
    pub fn from_value(v: &Value) -> Option<Num> {
        Some(match v {
            Value::Float(f) => Num::F(*f),
            Value::Integer(i) => Num::I(*i),
            Value::Unsigned(u) => Num::U(*u),
            Value::String(s) => Num::S(s.clone()),
            Value::Boolean(b) => Num::B(*b),
            _ => return None,
        })
    }

    /// The value as a result value.
    pub fn value(&self) -> Value {
        match self {
            Num::F(f) => Value::Float(*f),
            Num::I(i) => Value::Integer(*i),
            Num::U(u) => Value::Unsigned(*u),
            Num::S(s) => Value::String(s.clone()),
            Num::B(b) => Value::Boolean(*b),
        }
    }
}

/// A partial aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Points counted.
    Count(u64),
    /// Float sum `f` and exact integer sum `i` (one of them used per field type).
    Sum {
        /// Float sum.
        f: f64,
        /// Exact integer sum.
        i: i128,
        /// Points summed.
        n: u64,
    },
    /// Mean as sum and count.
    Mean {
        /// Sum.
        sum: f64,
        /// Count.
        n: u64,
    },
    /// Smallest and largest value with the time of their first occurrence.
    MinMax {
        /// Smallest value and its time.
        min: Option<(Num, i64)>,
        /// Largest value and its time.
        max: Option<(Num, i64)>,
    },
    /// Welford/Chan moments.
    Moments {
        /// Count.
        n: u64,
        /// Mean.
        mean: f64,
        /// Sum of squared differences from the mean.
        m2: f64,
    },
    /// First or last point (time, value).
    Point(Option<(i64, Num)>),
    /// Counter: first and last point of the series seen, increase so far; `merged` holds
    /// the finished rates or increases of other series folded in.
    Counter {
        /// The series' first point in the bucket.
        first: Option<(i64, f64)>,
        /// The series' last point in the bucket.
        last: Option<(i64, f64)>,
        /// The series' value just before this bucket, so that the rise across the bucket
        /// boundary counts in this bucket (the buckets' increases then add up exactly).
        prev: Option<f64>,
        /// Increase so far.
        inc: f64,
        /// Finished values of other series folded in.
        merged: Option<f64>,
    },
    /// Every point (time, value): median, mode, percentiles, top, bottom, integral. Exact;
    /// the cluster codec ships it as it is while small and turns it into [`State::Counts`]
    /// (mode), the best N (top, bottom) or a [`State::Sketch`] (percentiles, median).
    Values(Vec<(i64, Num)>),
    /// Distinct values with their count and earliest time, sorted by value: all that
    /// `mode` needs (InfluxDB's rule picks by count, then by earliest run start).
    Counts(Vec<(Num, u64, i64)>),
    /// A mergeable quantile sketch with a bounded relative error (see [`super::Sketch`]):
    /// percentiles and median over more points than the codec ships exactly.
    Sketch(super::Sketch),
    /// Histogram: per `le` bound, the summed increase of its bucket counters.
    Hist(Vec<(f64, f64)>),
    /// A finished integral of one or more series (summed across series).
    Area(Option<f64>),
}

impl State {
    /// Combines the state of another series of the same group and bucket.
    pub fn merge(&mut self, kind: AggKind, other: State, window: i64) {
        match (self, other) {
            (State::Count(a), State::Count(b)) => *a += b,
            (
                State::Sum { f, i, n },
                State::Sum {
                    f: f2,
                    i: i2,
                    n: n2,
                },
            ) => {
                *f += f2;
                *i += i2;
                *n += n2;
            }
            (State::Mean { sum, n }, State::Mean { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (State::MinMax { min, max }, State::MinMax { min: m2, max: x2 }) => {
                if let Some((v, t)) = m2
                    && min
                        .as_ref()
                        .is_none_or(|(m, mt)| v.order(m).is_lt() || (v.order(m).is_eq() && t < *mt))
                {
                    *min = Some((v, t));
                }
                if let Some((v, t)) = x2
                    && max
                        .as_ref()
                        .is_none_or(|(m, mt)| v.order(m).is_gt() || (v.order(m).is_eq() && t < *mt))
                {
                    *max = Some((v, t));
                }
            }
            (
                State::Moments { n, mean, m2 },
                State::Moments {
                    n: bn,
                    mean: bm,
                    m2: b2,
                },
            ) => merge_moments(n, mean, m2, bn, bm, b2),
            (State::Point(a), State::Point(b)) => {
                if let Some((t, v)) = b {
                    let take = match a {
                        None => true,
                        Some((ta, _)) if kind == AggKind::First => t < *ta,
                        Some((ta, _)) => t > *ta,
                    };
                    if take {
                        *a = Some((t, v));
                    }
                }
            }
            (a @ State::Counter { .. }, b @ State::Counter { .. }) => {
                let (av, bv) = (a.counter_value(kind, window), b.counter_value(kind, window));
                if av.is_some() || bv.is_some() {
                    *a = State::Counter {
                        first: None,
                        last: None,
                        prev: None,
                        inc: 0.0,
                        merged: Some(av.unwrap_or(0.0) + bv.unwrap_or(0.0)),
                    };
                }
            }
            (State::Values(a), State::Values(b)) => a.extend(b),
            // A group's fresh accumulator meets its first finished series.
            (a @ State::Values(_), State::Area(b)) => *a = State::Area(b),
            (State::Area(a), State::Area(b)) => {
                if let Some(b) = b {
                    *a = Some(a.unwrap_or(0.0) + b);
                }
            }
            // Across nodes: mode's distinct values, sketches, histograms.
            (State::Counts(a), State::Counts(b)) => merge_counts(a, b),
            (a @ State::Values(_), State::Counts(b)) => {
                let State::Values(v) = std::mem::replace(a, State::Count(0)) else {
                    return;
                };
                let mut c = super::codec::counts_of(v);
                merge_counts(&mut c, b);
                *a = State::Counts(c);
            }
            (State::Counts(a), State::Values(b)) => merge_counts(a, super::codec::counts_of(b)),
            (State::Sketch(a), State::Sketch(b)) => a.merge(&b),
            (State::Sketch(a), State::Values(b)) => {
                for (_, n) in &b {
                    a.add(n.f64());
                }
            }
            (a @ State::Values(_), State::Sketch(mut b)) => {
                if let State::Values(v) = a {
                    for (_, n) in v.iter() {
                        b.add(n.f64());
                    }
                }
                *a = State::Sketch(b);
            }
            (State::Hist(a), State::Hist(b)) => {
                for (le, inc) in b {
                    match a.iter_mut().find(|(x, _)| *x == le) {
                        Some(e) => e.1 += inc,
                        None => a.push((le, inc)),
                    }
                }
            }
            // A fresh histogram accumulator (a counter that saw nothing) meets a node's
            // histogram; a histogram meets a node's empty accumulator.
            (a @ State::Counter { .. }, State::Hist(b))
                if a.counter_value(kind, window).is_none() =>
            {
                *a = State::Hist(b)
            }
            (State::Hist(_), b @ State::Counter { .. })
                if b.counter_value(kind, window).is_none() => {}
            (a, b) => debug_assert!(false, "merging different states {a:?} and {b:?}"),
        }
    }

    /// Before the first point of a counter bucket: the series' previous value.
    pub fn set_counter_prev(&mut self, value: Option<f64>) {
        if let State::Counter {
            first: None, prev, ..
        } = self
        {
            *prev = value;
        }
    }

    /// A counter's rate or increase, `None` without a rise to measure.
    pub(crate) fn counter_value(&self, kind: AggKind, window: i64) -> Option<f64> {
        let State::Counter {
            first,
            last,
            prev,
            inc,
            merged,
        } = self
        else {
            return None;
        };
        let own = match (first, last) {
            // A rise needs two values: two points, or one and the value before the bucket.
            (Some((t0, _)), Some((t1, _))) if t0 != t1 || prev.is_some() => Some(match kind {
                AggKind::Rate(unit) => {
                    let span = if window > 0 { window } else { t1 - t0 };
                    if span <= 0 {
                        0.0
                    } else {
                        inc / (span as f64 / unit as f64)
                    }
                }
                _ => *inc,
            }),
            _ => None,
        };
        match (own, merged) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        }
    }

    /// Folds the counter state of one `_bucket` series whose `le` tag is `le` into a
    /// histogram state.
    pub fn merge_bucket(&mut self, le: f64, other: &State) {
        let Some(inc) = other.counter_value(AggKind::Increase, 0) else {
            return;
        };
        if !matches!(self, State::Hist(_)) {
            *self = State::Hist(Vec::new());
        }
        if let State::Hist(h) = self {
            match h.iter_mut().find(|(b, _)| *b == le) {
                Some(e) => e.1 += inc,
                None => h.push((le, inc)),
            }
        }
    }
}

/// Merges `b` into `a`, both distinct values sorted by value with count and earliest
/// time.
fn merge_counts(a: &mut Vec<(Num, u64, i64)>, b: Vec<(Num, u64, i64)>) {
    let old = std::mem::take(a);
    let mut x = old.into_iter().peekable();
    let mut y = b.into_iter().peekable();
    loop {
        let next = match (x.peek(), y.peek()) {
            (Some(p), Some(q)) => match p.0.order(&q.0) {
                std::cmp::Ordering::Less => x.next(),
                std::cmp::Ordering::Greater => y.next(),
                std::cmp::Ordering::Equal => {
                    let (Some((v, c1, t1)), Some((_, c2, t2))) = (x.next(), y.next()) else {
                        break;
                    };
                    Some((v, c1 + c2, t1.min(t2)))
                }
            },
            (Some(_), None) => x.next(),
            (None, Some(_)) => y.next(),
            (None, None) => None,
        };
        match next {
            Some(e) => a.push(e),
            None => break,
        }
    }
}

/// Chan et al.'s pairwise update: folds moments `(bn, bmean, bm2)` into `(n, mean, m2)`.
pub(crate) fn merge_moments(
    n: &mut u64,
    mean: &mut f64,
    m2: &mut f64,
    bn: u64,
    bmean: f64,
    bm2: f64,
) {
    if bn == 0 {
        return;
    }
    if *n == 0 {
        (*n, *mean, *m2) = (bn, bmean, bm2);
        return;
    }
    let (na, nb) = (*n as f64, bn as f64);
    let delta = bmean - *mean;
    let total = na + nb;
    *mean += delta * nb / total;
    *m2 += bm2 + delta * delta * na * nb / total;
    *n += bn;
}
