//! Aggregate and selector functions over the mergeable partial states of
//! [`crate::partial`]: how a state is fed a batch at a time (a run of points inside one
//! bucket) or from a block's statistics, and how it is finished into a value.
//!
//! Invariants: within one series a state sees its points in time order (pieces arrive in
//! time order); [`State::merge`] combines the states of *different* series of a group and
//! is associative, so groups can be folded in any order.

use crate::ast::Expr;
use crate::error::{QueryError, Token};
use crate::result::Value;
use strata_engine::model::FieldType;
use strata_engine::segment::{BlockStats, ValuesView};

pub(crate) use crate::partial::state::merge_moments;
pub(crate) use crate::partial::{AggKind, Num, State};

impl AggKind {
    /// The function for `name(args…)`, if `name` is an aggregate or selector.
    pub fn from_call(name: &str, args: &[Expr]) -> Result<Option<AggKind>, QueryError> {
        let lower = name.to_ascii_lowercase();
        let n_args = |want: std::ops::RangeInclusive<usize>| {
            if want.contains(&args.len()) {
                Ok(())
            } else {
                Err(QueryError::invalid_at(
                    Token::Call(lower.clone()),
                    format!(
                        "invalid number of arguments for {lower}, expected {}, got {}",
                        if want.start() == want.end() {
                            want.start().to_string()
                        } else {
                            format!("{} to {}", want.start(), want.end())
                        },
                        args.len()
                    ),
                ))
            }
        };
        let kind = match lower.as_str() {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "mean" => AggKind::Mean,
            "median" => AggKind::Median,
            "mode" => AggKind::Mode,
            "spread" => AggKind::Spread,
            "stddev" => AggKind::Stddev,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "first" => AggKind::First,
            "last" => AggKind::Last,
            "p50" => AggKind::Percentile(50.0),
            "p90" => AggKind::Percentile(90.0),
            "p95" => AggKind::Percentile(95.0),
            "p99" => AggKind::Percentile(99.0),
            "increase" => AggKind::Increase,
            "histogram_quantile" => {
                n_args(2..=2)?;
                let q = match &args[0] {
                    Expr::Integer(i) => *i as f64,
                    Expr::Float(f) => *f,
                    other => {
                        return Err(QueryError::invalid_at(
                            Token::Call(lower.clone()),
                            format!(
                                "histogram_quantile() needs a quantile such as 0.95 as its first argument, got {other}"
                            ),
                        ));
                    }
                };
                return Ok(Some(AggKind::HistogramQuantile(q)));
            }
            "percentile" => {
                n_args(2..=2)?;
                let p = match &args[1] {
                    Expr::Integer(i) => *i as f64,
                    Expr::Float(f) => *f,
                    other => {
                        return Err(QueryError::invalid_at(
                            Token::Call(lower.clone()),
                            format!("expected float argument in percentile(), got {other}"),
                        ));
                    }
                };
                return Ok(Some(AggKind::Percentile(p)));
            }
            "integral" | "rate" => {
                n_args(1..=2)?;
                let unit = match args.get(1) {
                    None => 1_000_000_000,
                    Some(Expr::Duration(d)) if d.0 > 0 => d.0,
                    Some(other) => {
                        return Err(QueryError::invalid_at(
                            Token::Call(lower.clone()),
                            format!(
                                "second argument to {lower} must be a positive duration, got {other}"
                            ),
                        ));
                    }
                };
                return Ok(Some(if lower == "rate" {
                    AggKind::Rate(unit)
                } else {
                    AggKind::Integral(unit)
                }));
            }
            "top" | "bottom" => {
                if args.len() < 2 {
                    return Err(QueryError::invalid_at(
                        Token::Call(lower.clone()),
                        format!(
                            "invalid number of arguments for {lower}, expected at least 2, got {}",
                            args.len()
                        ),
                    ));
                }
                if args.len() > 3 {
                    return Err(QueryError::Unsupported(format!(
                        "{lower}() with more than one tag argument"
                    )));
                }
                // The count is the last argument; a middle one names a tag (planner).
                let n = match &args[args.len() - 1] {
                    Expr::Integer(i) if *i > 0 => *i as usize,
                    other => {
                        return Err(QueryError::invalid_at(
                            Token::Call(lower.clone()),
                            format!(
                                "expected a positive integer as the last argument of {lower}(), got {other}"
                            ),
                        ));
                    }
                };
                return Ok(Some(if lower == "top" {
                    AggKind::Top(n)
                } else {
                    AggKind::Bottom(n)
                }));
            }
            _ => return Ok(None),
        };
        n_args(1..=1)?;
        Ok(Some(kind))
    }

    /// Which argument names the field.
    pub fn field_arg(self) -> usize {
        match self {
            AggKind::HistogramQuantile(_) => 1,
            _ => 0,
        }
    }

    /// Selectors return a point (and, alone, its time) rather than a computed value.
    pub fn is_selector(self) -> bool {
        matches!(
            self,
            AggKind::Min
                | AggKind::Max
                | AggKind::First
                | AggKind::Last
                | AggKind::Percentile(_)
                | AggKind::Top(_)
                | AggKind::Bottom(_)
        )
    }

    /// Whether the function can be served from the block statistics of a `ty` column.
    pub fn uses_stats(self, ty: FieldType) -> bool {
        let numeric = matches!(
            ty,
            FieldType::Float | FieldType::Integer | FieldType::Unsigned
        );
        match self {
            AggKind::Count => true,
            AggKind::Sum | AggKind::Mean | AggKind::Min | AggKind::Max | AggKind::Spread => numeric,
            _ => false,
        }
    }

    /// Whether the function accepts values of type `ty`.
    pub fn accepts(self, ty: FieldType) -> bool {
        match ty {
            FieldType::Float | FieldType::Integer | FieldType::Unsigned => true,
            FieldType::String => {
                matches!(
                    self,
                    AggKind::Count | AggKind::First | AggKind::Last | AggKind::Mode
                )
            }
            FieldType::Boolean => matches!(
                self,
                AggKind::Count
                    | AggKind::First
                    | AggKind::Last
                    | AggKind::Mode
                    | AggKind::Min
                    | AggKind::Max
            ),
        }
    }

    /// An empty state for a field of type `ty`.
    pub fn new_state(self) -> State {
        match self {
            AggKind::Count => State::Count(0),
            AggKind::Sum => State::Sum { f: 0.0, i: 0, n: 0 },
            AggKind::Mean => State::Mean { sum: 0.0, n: 0 },
            AggKind::Spread | AggKind::Min | AggKind::Max => State::MinMax {
                min: None,
                max: None,
            },
            AggKind::Stddev => State::Moments {
                n: 0,
                mean: 0.0,
                m2: 0.0,
            },
            AggKind::First | AggKind::Last => State::Point(None),
            AggKind::Rate(_) | AggKind::Increase | AggKind::HistogramQuantile(_) => {
                State::Counter {
                    first: None,
                    last: None,
                    prev: None,
                    inc: 0.0,
                    merged: None,
                }
            }
            AggKind::Median
            | AggKind::Mode
            | AggKind::Percentile(_)
            | AggKind::Integral(_)
            | AggKind::Top(_)
            | AggKind::Bottom(_) => State::Values(Vec::new()),
        }
    }
}

fn num_at(v: &ValuesView<'_>, i: usize) -> Num {
    match v {
        ValuesView::Float(x) => Num::F(x[i]),
        ValuesView::Integer(x) => Num::I(x[i]),
        ValuesView::Unsigned(x) => Num::U(x[i]),
        ValuesView::Boolean(x) => Num::B(x[i]),
        ValuesView::String(x) => Num::S(x[i].clone()),
    }
}

fn as_f64s(v: &ValuesView<'_>, r: std::ops::Range<usize>, out: &mut Vec<f64>) {
    out.clear();
    match v {
        ValuesView::Float(x) => out.extend_from_slice(&x[r]),
        ValuesView::Integer(x) => out.extend(x[r].iter().map(|&a| a as f64)),
        ValuesView::Unsigned(x) => out.extend(x[r].iter().map(|&a| a as f64)),
        ValuesView::Boolean(x) => out.extend(x[r].iter().map(|&a| f64::from(u8::from(a)))),
        ValuesView::String(_) => {}
    }
}

/// Index of the first smallest (or, with `max`, largest) value in `r`.
fn arg_extreme(v: &ValuesView<'_>, r: std::ops::Range<usize>, max: bool) -> usize {
    macro_rules! scan {
        ($x:expr) => {{
            let s = &$x[r.clone()];
            let mut best = 0;
            for (i, a) in s.iter().enumerate().skip(1) {
                let better = if max { *a > s[best] } else { *a < s[best] };
                if better || (s[best] != s[best] && *a == *a) {
                    best = i;
                }
            }
            r.start + best
        }};
    }
    match v {
        ValuesView::Float(x) => scan!(x),
        ValuesView::Integer(x) => scan!(x),
        ValuesView::Unsigned(x) => scan!(x),
        ValuesView::Boolean(x) => scan!(x),
        ValuesView::String(x) => scan!(x),
    }
}

/// A block's sum by column type (what count, sum and mean take from block statistics).
#[derive(Debug, Clone, Copy)]
pub enum BlockSum {
    /// Float column.
    Float(f64),
    /// Integer column: exact.
    Integer(i128),
    /// Unsigned column: exact.
    Unsigned(u128),
    /// Boolean column: the trues.
    Trues(u64),
    /// String column: no sum.
    None,
}

impl State {
    /// Folds in the points `ts[r]`, `v[r]` (one series, time order, one bucket).
    pub fn update(
        &mut self,
        kind: AggKind,
        ts: &[i64],
        v: &ValuesView<'_>,
        r: std::ops::Range<usize>,
        scratch: &mut Vec<f64>,
    ) {
        if r.is_empty() {
            return;
        }
        let len = r.len() as u64;
        match self {
            State::Count(n) => *n += len,
            State::Sum { f, i, n } => {
                *n += len;
                match v {
                    ValuesView::Integer(x) => {
                        *i += x[r].iter().map(|&a| i128::from(a)).sum::<i128>()
                    }
                    ValuesView::Unsigned(x) => {
                        *i += x[r].iter().map(|&a| i128::from(a)).sum::<i128>()
                    }
                    ValuesView::Float(x) => *f += strata_engine::scan::sum_f64(&x[r]),
                    _ => {}
                }
            }
            State::Mean { sum, n } => {
                *n += len;
                match v {
                    ValuesView::Float(x) => *sum += strata_engine::scan::sum_f64(&x[r]),
                    ValuesView::Integer(x) => {
                        *sum += strata_engine::scan::sum_i64(&x[r]) as f64;
                    }
                    _ => {
                        as_f64s(v, r, scratch);
                        *sum += scratch.iter().sum::<f64>();
                    }
                }
            }
            State::MinMax { min, max } => {
                let lo = arg_extreme(v, r.clone(), false);
                let hi = arg_extreme(v, r, true);
                let (lv, hv) = (num_at(v, lo), num_at(v, hi));
                if min.as_ref().is_none_or(|(m, _)| lv.order(m).is_lt()) {
                    *min = Some((lv, ts[lo]));
                }
                if max.as_ref().is_none_or(|(m, _)| hv.order(m).is_gt()) {
                    *max = Some((hv, ts[hi]));
                }
            }
            State::Moments { n, mean, m2 } => {
                as_f64s(v, r, scratch);
                let bn = scratch.len() as f64;
                let bmean = scratch.iter().sum::<f64>() / bn;
                let bm2: f64 = scratch.iter().map(|x| (x - bmean) * (x - bmean)).sum();
                merge_moments(n, mean, m2, scratch.len() as u64, bmean, bm2);
            }
            State::Point(p) => {
                let i = if kind == AggKind::First {
                    r.start
                } else {
                    r.end - 1
                };
                let better = match p {
                    None => true,
                    Some((t, _)) if kind == AggKind::First => ts[i] < *t,
                    Some((t, _)) => ts[i] >= *t,
                };
                if better {
                    *p = Some((ts[i], num_at(v, i)));
                }
            }
            State::Counter {
                first,
                last,
                prev: before,
                inc,
                ..
            } => {
                as_f64s(v, r.clone(), scratch);
                let mut prev = last.map(|(_, v)| v).or(*before);
                for &x in scratch.iter() {
                    if let Some(p) = prev {
                        *inc += if x >= p { x - p } else { x };
                    }
                    prev = Some(x);
                }
                if first.is_none() {
                    *first = Some((ts[r.start], scratch[0]));
                }
                *last = Some((ts[r.end - 1], scratch[scratch.len() - 1]));
            }
            // Histograms and areas are assembled from finished series states.
            State::Hist(_) | State::Area(_) => {}
            // Only the cluster codec makes these, after the nodes' executors finished.
            State::Counts(_) | State::Sketch(_) => {}
            State::Values(vals) => {
                vals.reserve(r.len());
                for i in r {
                    vals.push((ts[i], num_at(v, i)));
                }
            }
        }
    }

    /// Folds in a whole block from its statistics (only for [`AggKind::uses_stats`]).
    pub fn update_stats(&mut self, count: u64, min_ts: i64, stats: &BlockStats) {
        match self {
            State::Count(_) | State::Sum { .. } | State::Mean { .. } => {
                let sum = match *stats {
                    BlockStats::Float { sum, .. } => BlockSum::Float(sum),
                    BlockStats::Integer { sum, .. } => BlockSum::Integer(sum),
                    BlockStats::Unsigned { sum, .. } => BlockSum::Unsigned(sum),
                    BlockStats::Boolean { trues } => BlockSum::Trues(trues),
                    BlockStats::String => BlockSum::None,
                };
                self.update_sum(count, sum)
            }
            State::MinMax { min, max } => {
                // The time of the extreme is unknown here; stats are only offered when the
                // output does not show it, so the block's first time stands in.
                let (lv, hv) = match *stats {
                    BlockStats::Float { min, max, .. } => (Num::F(min), Num::F(max)),
                    BlockStats::Integer { min, max, .. } => (Num::I(min), Num::I(max)),
                    BlockStats::Unsigned { min, max, .. } => (Num::U(min), Num::U(max)),
                    _ => return,
                };
                if min.as_ref().is_none_or(|(m, _)| lv.order(m).is_lt()) {
                    *min = Some((lv, min_ts));
                }
                if max.as_ref().is_none_or(|(m, _)| hv.order(m).is_gt()) {
                    *max = Some((hv, min_ts));
                }
            }
            _ => debug_assert!(false, "statistics offered to a state that cannot use them"),
        }
    }

    /// [`State::update_stats`] for count, sum and mean, which need a block's count and
    /// sum alone (rollup buckets fold through it without reading their min and max).
    pub fn update_sum(&mut self, count: u64, sum: BlockSum) {
        match self {
            State::Count(n) => *n += count,
            State::Sum { f, i, n } => {
                *n += count;
                match sum {
                    BlockSum::Float(sum) => *f += sum,
                    BlockSum::Integer(sum) => *i += sum,
                    BlockSum::Unsigned(sum) => *i += i128::try_from(sum).unwrap_or(i128::MAX),
                    BlockSum::Trues(_) | BlockSum::None => {}
                }
            }
            State::Mean { sum: s, n } => {
                *n += count;
                *s += match sum {
                    BlockSum::Float(sum) => sum,
                    BlockSum::Integer(sum) => sum as f64,
                    BlockSum::Unsigned(sum) => sum as f64,
                    BlockSum::Trues(trues) => trues as f64,
                    BlockSum::None => f64::NAN,
                };
            }
            _ => debug_assert!(false, "a sum offered to a state that cannot use it"),
        }
    }

    /// The final value and, for selectors, the time of the selected point. `window` is
    /// the bucket width (0 without GROUP BY time).
    pub fn finish(&self, kind: AggKind, ty: FieldType, window: i64) -> (Value, Option<i64>) {
        let empty = (Value::Null, None);
        match self {
            State::Count(n) => (Value::Integer(*n as i64), None),
            State::Sum { f, i, n } => {
                if *n == 0 {
                    return empty;
                }
                match ty {
                    FieldType::Integer => (Value::Integer(*i as i64), None),
                    FieldType::Unsigned => (Value::Unsigned(*i as u64), None),
                    _ => (Value::Float(*f), None),
                }
            }
            State::Mean { sum, n } => {
                if *n == 0 {
                    empty
                } else {
                    (Value::Float(sum / *n as f64), None)
                }
            }
            State::MinMax { min, max } => match kind {
                AggKind::Min => min.as_ref().map_or(empty, |(v, t)| (v.value(), Some(*t))),
                AggKind::Max => max.as_ref().map_or(empty, |(v, t)| (v.value(), Some(*t))),
                _ => match (min, max) {
                    (Some((a, _)), Some((b, _))) => (
                        match (a, b) {
                            (Num::I(a), Num::I(b)) => Value::Integer(b.wrapping_sub(*a)),
                            (Num::U(a), Num::U(b)) => Value::Unsigned(b.wrapping_sub(*a)),
                            _ => Value::Float(b.f64() - a.f64()),
                        },
                        None,
                    ),
                    _ => empty,
                },
            },
            State::Moments { n, m2, .. } => {
                if *n < 2 {
                    // The sample standard deviation of one value is undefined: null.
                    return empty;
                }
                (Value::Float((m2 / (*n - 1) as f64).sqrt()), None)
            }
            State::Point(p) => p.as_ref().map_or(empty, |(t, v)| (v.value(), Some(*t))),
            State::Counter { .. } => match self.counter_value(kind, window) {
                Some(v) => (Value::Float(v), None),
                None => empty,
            },
            State::Values(vals) => finish_values(kind, vals),
            State::Counts(c) => match kind {
                AggKind::Mode => mode_of_counts(c),
                _ => empty,
            },
            State::Sketch(sk) => finish_sketch(kind, ty, sk),
            State::Area(a) => a.map_or(empty, |v| (Value::Float(v), None)),
            State::Hist(h) => match kind {
                AggKind::HistogramQuantile(q) => {
                    bucket_quantile(q, h).map_or(empty, |v| (Value::Float(v), None))
                }
                _ => empty,
            },
        }
    }

    /// Turns one series' per-bucket integral states (buckets `[starts[b], starts[b] +
    /// width)`) into areas, following InfluxDB's integral reducer step for step: a point
    /// in a later bucket closes the current one (the line to it is cut at the bucket's end
    /// and the rest, across any empty buckets, counts in the new bucket); at the end the
    /// last bucket is closed unless its only point sits at its start. Without buckets
    /// (`width == 0`) it is the plain sum of trapezoids.
    pub fn integrate_buckets(states: &mut [State], unit: i64, starts: &[i64], width: i64) {
        let mut pts: Vec<(usize, i64, f64)> = Vec::new();
        for (b, st) in states.iter().enumerate() {
            if let State::Values(v) = st {
                pts.extend(v.iter().map(|(t, n)| (b, *t, n.f64())));
            }
        }
        pts.sort_by_key(|p| p.1);
        let unit = unit as f64;
        let mut out: Vec<Option<f64>> = vec![None; states.len()];
        let mut prev: Option<(i64, f64)> = None;
        let mut cur = 0usize;
        let mut sum = 0.0;
        for &(b, t, v) in &pts {
            let Some((pt, pv)) = prev else {
                prev = Some((t, v));
                cur = b;
                continue;
            };
            if t == pt {
                prev = Some((t, v));
                continue;
            }
            let (mut pt, mut pv) = (pt, pv);
            if width > 0 && b != cur {
                let end = starts[cur].saturating_add(width);
                if pt != end {
                    let (to_end, step) = (span(pt, end), span(pt, t));
                    let value = pv + (v - pv) * to_end / step;
                    sum += 0.5 * (value + pv) * (to_end / unit);
                    (pt, pv) = (end, value);
                }
                out[cur] = Some(sum);
                cur = b;
                sum = 0.0;
            }
            sum += 0.5 * (v + pv) * (span(pt, t) / unit);
            prev = Some((t, v));
        }
        if let Some((pt, _)) = prev
            && (width == 0 || pt != starts[cur])
        {
            out[cur] = Some(sum);
        }
        for (st, a) in states.iter_mut().zip(out) {
            *st = State::Area(a);
        }
    }

    /// Every (time, value) a value-keeping state holds (percentile, median, top…).
    pub fn points(&self) -> Vec<(i64, Value)> {
        match self {
            State::Values(v) => v.iter().map(|(t, n)| (*t, n.value())).collect(),
            _ => Vec::new(),
        }
    }

    /// Top/bottom rows: (time, value), best first (ties: the earlier point).
    pub fn best_rows(&self, kind: AggKind) -> Vec<(i64, Value)> {
        let State::Values(vals) = self else {
            return Vec::new();
        };
        let n = match kind {
            AggKind::Top(n) | AggKind::Bottom(n) => n,
            _ => return Vec::new(),
        };
        let mut idx: Vec<usize> = (0..vals.len()).collect();
        idx.sort_by(|&a, &b| {
            let o = vals[a].1.order(&vals[b].1);
            let o = if matches!(kind, AggKind::Top(_)) {
                o.reverse()
            } else {
                o
            };
            o.then(vals[a].0.cmp(&vals[b].0))
        });
        idx.truncate(n);
        idx.into_iter()
            .map(|i| (vals[i].0, vals[i].1.value()))
            .collect()
    }

    /// Top/bottom rows: (time, value), in time order; points at one time keep best-first
    /// order.
    pub fn finish_rows(&self, kind: AggKind) -> Vec<(i64, Value)> {
        let mut ranked: Vec<(usize, (i64, Value))> =
            self.best_rows(kind).into_iter().enumerate().collect();
        ranked.sort_by_key(|(rank, (t, _))| (*t, *rank));
        ranked.into_iter().map(|(_, row)| row).collect()
    }
}

/// Prometheus' quantile of cumulative bucket counts `(le, count)`: `None` without a
/// `+Inf` bucket, without observations, or for `q` outside 0..=1.
fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let mut b: Vec<(f64, f64)> = buckets
        .iter()
        .copied()
        .filter(|(le, _)| !le.is_nan())
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    if b.len() < 2 || b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return None;
    }
    // Counts must not fall with the bound (scrapes can be torn); keep them monotonic.
    for i in 1..b.len() {
        b[i].1 = b[i].1.max(b[i - 1].1);
    }
    let total = b[b.len() - 1].1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return Some(b[b.len() - 2].0);
    }
    if i == 0 && b[0].0 <= 0.0 {
        return Some(b[0].0);
    }
    let (start, count_start) = if i == 0 { (0.0, 0.0) } else { b[i - 1] };
    let (end, count_end) = b[i];
    let in_bucket = count_end - count_start;
    if in_bucket <= 0.0 {
        return Some(end);
    }
    Some(start + (end - start) * ((rank - count_start) / in_bucket))
}

fn finish_values(kind: AggKind, vals: &[(i64, Num)]) -> (Value, Option<i64>) {
    if vals.is_empty() {
        return (Value::Null, None);
    }
    match kind {
        AggKind::Median => {
            let mut v: Vec<&Num> = vals.iter().map(|(_, v)| v).collect();
            v.sort_by(|a, b| a.order(b));
            let n = v.len();
            if n % 2 == 1 {
                // An odd count selects the middle value, keeping its type.
                return (v[n / 2].value(), None);
            }
            let (a, b) = (v[n / 2 - 1].f64(), v[n / 2].f64());
            (Value::Float(a + (b - a) / 2.0), None)
        }
        AggKind::Mode => {
            // InfluxDB's reduction, step for step: values sorted (then by time); a run
            // replaces the best once it is at least as long and started no later; runs of
            // one value never replace the first value.
            let mut v: Vec<&(i64, Num)> = vals.iter().collect();
            v.sort_by(|a, b| a.1.order(&b.1).then(a.0.cmp(&b.0)));
            let (mut most_freq, mut curr_freq) = (0usize, 0usize);
            let mut curr = &v[0].1;
            let (mut most, mut most_time, mut curr_time) = (&v[0].1, v[0].0, v[0].0);
            for p in &v {
                if !p.1.order(curr).is_eq() {
                    curr_freq = 1;
                    curr = &p.1;
                    curr_time = p.0;
                    continue;
                }
                curr_freq += 1;
                if most_freq > curr_freq || (most_freq == curr_freq && curr_time > most_time) {
                    continue;
                }
                most_freq = curr_freq;
                most = &p.1;
                most_time = curr_time;
            }
            (most.value(), None)
        }
        AggKind::Percentile(p) => {
            let mut idx: Vec<usize> = (0..vals.len()).collect();
            idx.sort_by(|&a, &b| vals[a].1.order(&vals[b].1).then(vals[a].0.cmp(&vals[b].0)));
            let rank = (vals.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
            if rank < 0 || rank as usize >= vals.len() {
                return (Value::Null, None);
            }
            let (t, v) = &vals[idx[rank as usize]];
            (v.value(), Some(*t))
        }
        AggKind::Integral(unit) => {
            let mut pts: Vec<(i64, f64)> = vals.iter().map(|(t, v)| (*t, v.f64())).collect();
            pts.sort_by_key(|p| p.0);
            let mut area = 0.0;
            for w in pts.windows(2) {
                let dt = (w[1].0 - w[0].0) as f64 / unit as f64;
                area += (w[0].1 + w[1].1) / 2.0 * dt;
            }
            (Value::Float(area), None)
        }
        _ => (Value::Null, None),
    }
}

/// InfluxDB's `mode` over distinct values sorted by value, each with its count and
/// earliest time: the reduction of [`finish_values`] run by run. A run replaces the best
/// when it is at least as long and starts no later; a run of one value is never compared
/// (InfluxDB's loop compares from a run's second point), except the very first.
fn mode_of_counts(counts: &[(Num, u64, i64)]) -> (Value, Option<i64>) {
    let mut best: Option<(&Num, u64, i64)> = None;
    for (i, (v, c, t)) in counts.iter().enumerate() {
        if i > 0 && *c < 2 {
            continue;
        }
        match best {
            Some((_, bc, bt)) if bc > *c || (bc == *c && *t > bt) => {}
            _ => best = Some((v, *c, *t)),
        }
    }
    best.map_or((Value::Null, None), |(v, _, _)| (v.value(), None))
}

/// Percentile or median from a sketch (within [`crate::partial::sketch::ALPHA`]), typed
/// like the field: integers round to the nearest integer.
fn finish_sketch(kind: AggKind, ty: FieldType, s: &crate::partial::Sketch) -> (Value, Option<i64>) {
    let n = s.count();
    let typed = |v: f64| match ty {
        FieldType::Integer => Value::Integer(v.round() as i64),
        FieldType::Unsigned => Value::Unsigned(v.round().max(0.0) as u64),
        _ => Value::Float(v),
    };
    match kind {
        AggKind::Percentile(p) => {
            let rank = (n as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
            match u64::try_from(rank).ok().and_then(|k| s.rank_value(k)) {
                Some(v) => (typed(v), None),
                None => (Value::Null, None),
            }
        }
        AggKind::Median if n > 0 => {
            if n % 2 == 1 {
                return s
                    .rank_value(n / 2)
                    .map_or((Value::Null, None), |v| (typed(v), None));
            }
            match (s.rank_value(n / 2 - 1), s.rank_value(n / 2)) {
                (Some(a), Some(b)) => (Value::Float(a + (b - a) / 2.0), None),
                _ => (Value::Null, None),
            }
        }
        _ => (Value::Null, None),
    }
}

/// `to - from` as a float, without overflowing an i64 first.
fn span(from: i64, to: i64) -> f64 {
    (i128::from(to) - i128::from(from)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: AggKind, ts: &[i64], v: &[f64]) -> (Value, Option<i64>) {
        let mut s = kind.new_state();
        let mut scratch = Vec::new();
        // Feed in two batches to exercise merging within a series.
        let mid = ts.len() / 2;
        s.update(kind, ts, &ValuesView::Float(v), 0..mid, &mut scratch);
        s.update(kind, ts, &ValuesView::Float(v), mid..ts.len(), &mut scratch);
        s.finish(kind, FieldType::Float, 0)
    }

    #[test]
    fn influx_semantics() {
        let ts = [1, 2, 3, 4, 5, 6];
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0];
        assert_eq!(run(AggKind::Count, &ts, &v).0, Value::Integer(6));
        assert_eq!(run(AggKind::Sum, &ts, &v).0, Value::Float(23.0));
        assert_eq!(run(AggKind::Max, &ts, &v), (Value::Float(9.0), Some(6)));
        assert_eq!(run(AggKind::Min, &ts, &v), (Value::Float(1.0), Some(2)));
        assert_eq!(run(AggKind::First, &ts, &v), (Value::Float(3.0), Some(1)));
        assert_eq!(run(AggKind::Last, &ts, &v), (Value::Float(9.0), Some(6)));
        assert_eq!(run(AggKind::Median, &ts, &v).0, Value::Float(3.5));
        assert_eq!(run(AggKind::Mode, &ts, &v).0, Value::Float(1.0));
        assert_eq!(run(AggKind::Spread, &ts, &v).0, Value::Float(8.0));
        // Nearest rank: ceil-like rounding of n*p/100.
        assert_eq!(
            run(AggKind::Percentile(50.0), &ts, &v),
            (Value::Float(3.0), Some(1))
        );
        assert_eq!(
            run(AggKind::Percentile(100.0), &ts, &v).0,
            Value::Float(9.0)
        );
        assert_eq!(run(AggKind::Percentile(1.0), &ts, &v).0, Value::Null);
        let Value::Float(sd) = run(AggKind::Stddev, &ts, &v).0 else {
            panic!()
        };
        // Sample standard deviation: sqrt(44.8333 / 5).
        assert!(
            (sd - (44.833_333_333_333_33f64 / 5.0).sqrt()).abs() < 1e-9,
            "{sd}"
        );
        // Trapezoids over 1 ns steps, per second.
        let Value::Float(a) = run(AggKind::Integral(1), &ts, &v).0 else {
            panic!()
        };
        assert_eq!(
            a,
            (3.0 + 1.0) / 2.0
                + (1.0 + 4.0) / 2.0
                + (4.0 + 1.0) / 2.0
                + (1.0 + 5.0) / 2.0
                + (5.0 + 9.0) / 2.0
        );
    }

    #[test]
    fn counters_handle_resets() {
        let ts = [0, 10, 20, 30, 40];
        let v = [10.0, 15.0, 3.0, 8.0, 20.0];
        // 5 + 3 (reset) + 5 + 12
        assert_eq!(run(AggKind::Increase, &ts, &v).0, Value::Float(25.0));
        let (r, _) = run(AggKind::Rate(10), &ts, &v);
        assert_eq!(r, Value::Float(25.0 / 4.0));
    }

    #[test]
    fn merging_series_and_stats() {
        let mut a = AggKind::Max.new_state();
        a.update_stats(
            3,
            100,
            &BlockStats::Integer {
                sum: 6,
                min: 1,
                max: 3,
            },
        );
        let mut b = AggKind::Max.new_state();
        b.update(
            AggKind::Max,
            &[5],
            &ValuesView::Integer(&[7]),
            0..1,
            &mut Vec::new(),
        );
        a.merge(AggKind::Max, b, 0);
        assert_eq!(
            a.finish(AggKind::Max, FieldType::Integer, 0).0,
            Value::Integer(7)
        );
        let mut s = AggKind::Sum.new_state();
        s.update_stats(
            3,
            0,
            &BlockStats::Integer {
                sum: 6,
                min: 1,
                max: 3,
            },
        );
        assert_eq!(
            s.finish(AggKind::Sum, FieldType::Integer, 0).0,
            Value::Integer(6)
        );
        let mut inc = AggKind::Increase.new_state();
        inc.update(
            AggKind::Increase,
            &[0, 1],
            &ValuesView::Float(&[1.0, 4.0]),
            0..2,
            &mut Vec::new(),
        );
        let mut inc2 = AggKind::Increase.new_state();
        inc2.update(
            AggKind::Increase,
            &[0, 1],
            &ValuesView::Float(&[2.0, 4.0]),
            0..2,
            &mut Vec::new(),
        );
        inc.merge(AggKind::Increase, inc2, 0);
        assert_eq!(
            inc.finish(AggKind::Increase, FieldType::Float, 0).0,
            Value::Float(5.0)
        );
    }

    #[test]
    fn histogram_quantiles_interpolate_like_prometheus() {
        let h = [
            (0.1, 10.0),
            (0.5, 60.0),
            (1.0, 90.0),
            (f64::INFINITY, 100.0),
        ];
        // rank 50 of 100 lies in (0.1, 0.5]: 0.1 + 0.4 * (40 / 50)
        assert!((bucket_quantile(0.5, &h).unwrap() - 0.42).abs() < 1e-12);
        // rank 95 is in the +Inf bucket: the largest finite bound
        assert_eq!(bucket_quantile(0.95, &h), Some(1.0));
        assert_eq!(bucket_quantile(0.05, &h), Some(0.05));
        assert_eq!(bucket_quantile(0.5, &h[..3]), None);
        assert_eq!(bucket_quantile(1.5, &h), None);
        let mut s = State::Hist(Vec::new());
        let mut c = AggKind::Increase.new_state();
        c.update(
            AggKind::Increase,
            &[0, 1],
            &ValuesView::Float(&[5.0, 15.0]),
            0..2,
            &mut Vec::new(),
        );
        s.merge_bucket(f64::INFINITY, &c);
        s.merge_bucket(1.0, &c);
        let q = AggKind::HistogramQuantile(0.5);
        assert_eq!(s.finish(q, FieldType::Float, 0).0, Value::Float(0.5));
    }

    #[test]
    fn integrals_interpolate_at_bucket_edges() {
        // Points (5 s, 10), (15 s, 20), (25 s, 0) in 10 s buckets at 0, 10, 20 s; unit 1 s.
        let s = 1_000_000_000i64;
        let mut states: Vec<State> = (0..3).map(|_| AggKind::Integral(s).new_state()).collect();
        for (b, (t, v)) in [(5 * s, 10.0), (15 * s, 20.0), (25 * s, 0.0)]
            .into_iter()
            .enumerate()
        {
            states[b].update(
                AggKind::Integral(s),
                &[t],
                &ValuesView::Float(&[v]),
                0..1,
                &mut Vec::new(),
            );
        }
        State::integrate_buckets(&mut states, s, &[0, 10 * s, 20 * s], 10 * s);
        let area = |st: &State| match st {
            State::Area(Some(a)) => *a,
            other => panic!("{other:?}"),
        };
        // Bucket 0: from 5 s (no point before) to 10 s, along 10 → 15 (value 15 at 10 s).
        assert_eq!(area(&states[0]), (10.0 + 15.0) / 2.0 * 5.0);
        // Bucket 1: 10 s (15) → 15 s (20) → 20 s (10).
        assert_eq!(
            area(&states[1]),
            (15.0 + 20.0) / 2.0 * 5.0 + (20.0 + 10.0) / 2.0 * 5.0
        );
        // Bucket 2: 20 s (10) → 25 s (0); the end closes it.
        assert_eq!(area(&states[2]), (10.0 + 0.0) / 2.0 * 5.0);
    }

    #[test]
    fn top_and_bottom_keep_time_order() {
        let mut s = AggKind::Top(2).new_state();
        let ts = [1, 2, 3, 4];
        s.update(
            AggKind::Top(2),
            &ts,
            &ValuesView::Integer(&[5, 9, 1, 9]),
            0..4,
            &mut Vec::new(),
        );
        assert_eq!(
            s.finish_rows(AggKind::Top(2)),
            vec![(2, Value::Integer(9)), (4, Value::Integer(9))]
        );
        assert_eq!(
            s.finish_rows(AggKind::Bottom(1)),
            vec![(3, Value::Integer(1))]
        );
    }
}
