//! Range functions (`rate`, `*_over_time`, `deriv`, …): each step's window of each
//! series, found with two pointers that only move forward (windows rise with the step),
//! then a kernel over the window's samples. Series run in parallel.
//!
//! Kernels are Prometheus 2.42's, operation for operation (extrapolation of
//! `rate`/`increase`/`delta`, counter resets, the order of floating-point operations in
//! means and regressions), so results agree to the last bit where Prometheus is
//! deterministic.

use super::labels::Labels;
use super::{Ev, PromError, Series, Steps, exec_err, merge_same_labels};
use crate::exec::window::{Fold, WindowState, fold_windows};
use crate::plan::selection::METRIC_NAME;
use crate::promql::ast::{Call, Expr, MatchOp};

/// What a kernel knows of its step.
pub(crate) struct Win {
    /// Window start and end (inclusive), ms.
    pub lo: i64,
    pub hi: i64,
    /// The step's timestamp, ms.
    pub t: i64,
    /// The window length in seconds (`range_ms / 1000.0`, computed once per query).
    pub range_s: f64,
    /// Scalar arguments at this step (quantile, smoothing factors, prediction time).
    pub args: [f64; 2],
}

type Kernel = fn(&[i64], &[f64], &Win) -> Result<Option<f64>, PromError>;

/// Neumaier-compensated addition, as Prometheus' `kahanSumInc`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

fn extrapolated(ts: &[i64], vs: &[f64], w: &Win, counter: bool, rate: bool) -> Option<f64> {
    let d = window_delta(ts, vs, counter, false)?;
    Some(extrapolate(&d, w.lo, w.hi, w.range_s, counter, rate))
}

/// What extrapolation needs of a window's samples (at least two).
#[derive(Clone, Copy, Debug)]
struct Delta {
    first_t: i64,
    last_t: i64,
    /// Samples in the window.
    n: usize,
    first_v: f64,
    /// Last minus first, plus the value before each counter reset (counters).
    result: f64,
}

/// The window's [`Delta`], `None` under two samples. `no_resets` says the caller knows
/// the window has no counter reset (and no negative first value), so the reset scan
/// would add nothing.
fn window_delta(ts: &[i64], vs: &[f64], counter: bool, no_resets: bool) -> Option<Delta> {
    let n = ts.len();
    if n < 2 {
        return None;
    }
    let mut result = vs[n - 1] - vs[0];
    if counter && !no_resets {
        let mut last = 0.0;
        for &v in vs {
            if v < last {
                result += last;
            }
            last = v;
        }
    }
    Some(Delta {
        first_t: ts[0],
        last_t: ts[n - 1],
        n,
        first_v: vs[0],
        result,
    })
}

/// Prometheus' `extrapolatedRate` arithmetic for a window `[lo, hi]` (ms) of `range_s`
/// seconds, operation for operation.
fn extrapolate(d: &Delta, lo: i64, hi: i64, range_s: f64, counter: bool, rate: bool) -> f64 {
    let result = d.result;
    let mut to_start = (d.first_t - lo) as f64 / 1000.0;
    let to_end = (hi - d.last_t) as f64 / 1000.0;
    let sampled = (d.last_t - d.first_t) as f64 / 1000.0;
    let avg_between = sampled / (d.n - 1) as f64;
    if counter && result > 0.0 && d.first_v >= 0.0 {
        let to_zero = sampled * (d.first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_between * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_between / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_between / 2.0
    };
    let mut factor = interval / sampled;
    if rate {
        factor /= range_s;
    }
    result * factor
}

/// The positions `j` where a counter drops (`vs[j] < vs[j - 1]`), ascending. Counters
/// rarely reset, so a branch-free count over the series comes first and the common
/// answer, none, costs no allocation.
fn counter_drops(vs: &[f64]) -> Vec<usize> {
    let pairs = || vs.iter().skip(1).zip(vs);
    let n: usize = pairs().map(|(b, a)| usize::from(b < a)).sum();
    if n == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(n);
    out.extend(
        pairs()
            .enumerate()
            .filter(|(_, (b, a))| b < a)
            .map(|(j, _)| j + 1),
    );
    out
}

fn instant_value(ts: &[i64], vs: &[f64], rate: bool) -> Option<f64> {
    let n = ts.len();
    if n < 2 {
        return None;
    }
    let (last, prev) = (vs[n - 1], vs[n - 2]);
    let mut result = if rate && last < prev {
        last
    } else {
        last - prev
    };
    let interval = ts[n - 1] - ts[n - 2];
    if interval == 0 {
        return None;
    }
    if rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// A window's values kept sorted as the window slides: values that left are removed and
/// new ones inserted, so a step costs the changed samples, not a sort of the window.
#[derive(Default)]
struct SortedWindow {
    vals: Vec<f64>,
    a: usize,
    b: usize,
}

impl SortedWindow {
    /// Moves to the window `vs[a..b]` (both ends never move back).
    fn advance(&mut self, vs: &[f64], a: usize, b: usize) {
        let overlap = self.b > a && b >= self.b && a >= self.a && !self.vals.is_empty();
        let changes = (a - self.a.min(a)) + (b - self.b.min(b));
        if !overlap || changes * 4 > b - a {
            self.vals.clear();
            self.vals.extend_from_slice(&vs[a..b]);
            self.vals.sort_by(nan_first);
        } else {
            for v in &vs[self.a..a] {
                if let Ok(p) = self.vals.binary_search_by(|x| nan_first(x, v)) {
                    self.vals.remove(p);
                }
            }
            for v in &vs[self.b..b] {
                let p = self.vals.partition_point(|x| nan_first(x, v).is_le());
                self.vals.insert(p, *v);
            }
        }
        self.a = a;
        self.b = b;
    }
}

/// Least squares fit of the samples, x in seconds relative to `intercept_t`.
pub(crate) fn linear_regression(ts: &[i64], vs: &[f64], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init = vs[0];
    let mut const_y = true;
    for (i, (&t, &v)) in ts.iter().zip(vs).enumerate() {
        if const_y && i > 0 && v != init {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

/// Prometheus' `quantile`: linear interpolation between closest ranks; NaN sorts first.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    values.sort_by(nan_first);
    quantile_sorted(q, values)
}

/// Prometheus' order for quantiles: NaN before every number.
fn nan_first(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// [`quantile`] of values already in [`nan_first`] order.
fn quantile_sorted(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Prometheus 2.42's `avg_over_time`: an incremental mean under Neumaier compensation,
/// with its rules for infinities.
fn avg_over_time(vs: &[f64]) -> f64 {
    let mut st = WindowState::default();
    for &v in vs {
        st.mean_exact(v);
    }
    st.mean_value()
}

fn variance_over_time(vs: &[f64]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

fn holt_winters(vs: &[f64], sf: f64, tf: f64) -> Result<Option<f64>, PromError> {
    if sf <= 0.0 || sf >= 1.0 {
        return exec_err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        ));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return exec_err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        ));
    }
    if vs.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1, mut b) = (0.0, vs[0], vs[1] - vs[0]);
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let x = sf * v;
        b = if i == 1 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        };
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

fn kernel(name: &str) -> Option<Kernel> {
    Some(match name {
        "rate" => |t, v, w| Ok(extrapolated(t, v, w, true, true)),
        "increase" => |t, v, w| Ok(extrapolated(t, v, w, true, false)),
        "delta" => |t, v, w| Ok(extrapolated(t, v, w, false, false)),
        "irate" => |t, v, _| Ok(instant_value(t, v, true)),
        "idelta" => |t, v, _| Ok(instant_value(t, v, false)),
        "avg_over_time" => |_, v, _| Ok(Some(avg_over_time(v))),
        "count_over_time" => |_, v, _| Ok(Some(v.len() as f64)),
        "sum_over_time" => |_, v, _| {
            let (mut s, mut c) = (0.0, 0.0);
            for &x in v {
                (s, c) = kahan_inc(x, s, c);
            }
            Ok(Some(if f64::is_infinite(s) { s } else { s + c }))
        },
        "min_over_time" => |_, v, _| {
            let mut m = v[0];
            for &x in v {
                if x < m || m.is_nan() {
                    m = x;
                }
            }
            Ok(Some(m))
        },
        "max_over_time" => |_, v, _| {
            let mut m = v[0];
            for &x in v {
                if x > m || m.is_nan() {
                    m = x;
                }
            }
            Ok(Some(m))
        },
        "last_over_time" => |_, v, _| Ok(v.last().copied()),
        "present_over_time" => |_, _, _| Ok(Some(1.0)),
        "stddev_over_time" => |_, v, _| Ok(Some(variance_over_time(v).sqrt())),
        "stdvar_over_time" => |_, v, _| Ok(Some(variance_over_time(v))),
        "quantile_over_time" => |_, v, w| {
            let mut c = v.to_vec();
            Ok(Some(quantile(w.args[0], &mut c)))
        },
        "changes" => |_, v, _| {
            let mut n = 0.0;
            for p in v.windows(2) {
                if p[1] != p[0] && !(p[1].is_nan() && p[0].is_nan()) {
                    n += 1.0;
                }
            }
            Ok(Some(n))
        },
        "resets" => |_, v, _| Ok(Some(v.windows(2).filter(|p| p[1] < p[0]).count() as f64)),
        "deriv" => |t, v, _| {
            if t.len() < 2 {
                return Ok(None);
            }
            Ok(Some(linear_regression(t, v, t[0]).0))
        },
        "predict_linear" => |t, v, w| {
            if t.len() < 2 {
                return Ok(None);
            }
            let (slope, intercept) = linear_regression(t, v, w.t);
            Ok(Some(slope * w.args[0] + intercept))
        },
        "holt_winters" => |_, v, w| holt_winters(v, w.args[0], w.args[1]),
        _ => return None,
    })
}

/// The labels `absent`/`absent_over_time` give: the selector's equality matchers, minus
/// the metric name and any label matched more than once or otherwise.
pub(crate) fn absent_labels(matchers: Option<&[crate::promql::ast::Matcher]>) -> Labels {
    let mut out = Labels::default();
    let Some(ms) = matchers else {
        return out;
    };
    let mut drop = Vec::new();
    for m in ms {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && out.get(&m.name).is_none() {
            out.set(&m.name, &m.value);
        } else {
            drop.push(m.name.clone());
        }
    }
    for d in drop {
        out.del(&d);
    }
    out
}

/// Functions answered from per-window partial states (one streaming read, block
/// statistics where exact) instead of each window's samples: the state's `Needs`, and the
/// value from the state (`Err(())` asks for the exact path, e.g. an overflowing mean).
type Finish = fn(&WindowState) -> Result<Option<f64>, ()>;

fn streamable(name: &str) -> Option<(Fold, Finish)> {
    let mean = Fold {
        mean: true,
        ..Fold::default()
    };
    let (count, sum, min_max, last) = (
        Fold::default(),
        Fold {
            sum: true,
            ..Fold::default()
        },
        Fold {
            min_max: true,
            ..Fold::default()
        },
        Fold {
            last: true,
            ..Fold::default()
        },
    );
    Some(match name {
        "count_over_time" => (count, |s| Ok(Some(s.count as f64))),
        "present_over_time" => (count, |_| Ok(Some(1.0))),
        "sum_over_time" => (sum, |s| Ok(Some(s.total()))),
        "min_over_time" => (min_max, |s| Ok(Some(s.min))),
        "max_over_time" => (min_max, |s| Ok(Some(s.max))),
        "last_over_time" => (last, |s| Ok(Some(s.last))),
        // The mean as sum / count while the sum stays finite (Prometheus' later, more
        // exact form); an overflowing window takes the incremental mean.
        // Prometheus 2.42's incremental mean, point by point, to the last bit.
        "avg_over_time" => (mean, |s| Ok(Some(s.mean_value()))),
        _ => return None,
    })
}

impl Ev<'_> {
    /// A streamable function over a range selector: each series' column folded into one
    /// state per step's window, in parallel across series.
    fn fold_call(
        &self,
        name: &str,
        m: &crate::promql::ast::MatrixSelector,
        steps: &Steps,
        fold: Fold,
        finish: Finish,
    ) -> Result<Vec<Series>, PromError> {
        let at = self.resolve_at(m.vector.at);
        let windows: Vec<(i64, i64)> = (0..steps.n)
            .map(|i| {
                let end = at.unwrap_or(steps.at(i)) - m.vector.offset;
                (end - m.range, end)
            })
            .collect();
        let cols = self.select(&m.vector.matchers);
        self.account(cols.len() * steps.n)?;
        let keep_name = name == "last_over_time";
        let check = || {
            self.check()
                .map_err(|e| crate::QueryError::Limit(e.to_string()))
        };
        let results: Vec<Result<Option<Series>, PromError>> =
            super::par_map(cols, |(labels, column, ty)| {
                let states = fold_windows(self.db, column, ty, &windows, fold, &check)
                    .map_err(super::storage_error)?;
                // Samples folded count as loaded, as Prometheus counts the samples of each
                // window it reads.
                self.account(states.iter().map(|s| s.count as usize).sum())?;
                let labels = if keep_name {
                    labels
                } else {
                    labels.without_name()
                };
                let mut out = Series::empty(labels, steps.n);
                for (i, st) in states.iter().enumerate() {
                    if st.count == 0 {
                        continue;
                    }
                    match finish(st) {
                        Ok(Some(v)) => {
                            out.vals[i] = v;
                            out.has[i] = true;
                        }
                        Ok(None) => {}
                        Err(()) => {
                            // The exact path for this window's samples.
                            let (lo, hi) = windows[i];
                            let s = crate::exec::scan::read_samples(
                                self.db, column, ty, lo, hi, &check,
                            )
                            .map_err(super::storage_error)?;
                            let vs: Vec<f64> = s
                                .vals
                                .iter()
                                .copied()
                                .filter(|v| !super::is_stale(*v))
                                .collect();
                            if !vs.is_empty() {
                                out.vals[i] = avg_over_time(&vs);
                                out.has[i] = true;
                            }
                        }
                    }
                }
                Ok((!out.is_empty()).then_some(out))
            });
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            if let Some(s) = r? {
                out.push(s);
            }
        }
        let mut labels: Vec<&Labels> = out.iter().map(|s| &s.labels).collect();
        labels.sort();
        if labels.windows(2).any(|w| w[0] == w[1]) {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
        Ok(out)
    }

    /// A function with a range-vector argument.
    pub(crate) fn range_call(&self, c: &Call, steps: &Steps) -> Result<Vec<Series>, PromError> {
        let name = c.func.name;
        if let (Some((fold, finish)), Expr::Matrix(m)) = (streamable(name), c.args[0].unparen()) {
            return self.fold_call(name, m, steps, fold, finish);
        }
        let m_idx = usize::from(name == "quantile_over_time");
        let mut scalar_args: Vec<Vec<f64>> = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if i != m_idx {
                scalar_args.push(self.eval_scalar(a, steps)?);
            }
        }
        let input = self.range_input(&c.args[m_idx], steps)?;
        if name == "absent_over_time" {
            let labels = absent_labels(input.matchers.as_deref());
            let mut out = Series::empty(labels, steps.n);
            for i in 0..steps.n {
                let (lo, hi) = input.window(steps.at(i));
                let any = input.series.iter().any(|s| {
                    let a = s.samples.ts.partition_point(|&t| t < lo);
                    a < s.samples.ts.len() && s.samples.ts[a] <= hi
                });
                if !any {
                    out.has[i] = true;
                    out.vals[i] = 1.0;
                }
            }
            return Ok(if out.is_empty() {
                Vec::new()
            } else {
                vec![out]
            });
        }
        let Some(k) = kernel(name) else {
            return exec_err(format!("function {name:?} is not a range function"));
        };
        let keep_name = name == "last_over_time";
        self.account(input.series.len() * steps.n)?;
        let sliding_quantile = name == "quantile_over_time";
        // rate and increase: drops counted once per series, so a window without a counter
        // reset skips the reset scan (overlapping windows would scan each sample again).
        let range_s = input.range as f64 / 1000.0;
        let counter_rate = match name {
            "rate" => Some(true),
            "increase" => Some(false),
            _ => None,
        };
        let results: Vec<Result<Series, PromError>> =
            super::par_map(input.series.iter().collect(), |s| {
                self.check()?;
                let mut sorted = SortedWindow::default();
                let drops = if counter_rate.is_some() {
                    counter_drops(&s.samples.vals)
                } else {
                    Vec::new()
                };
                let labels = if keep_name {
                    s.labels.clone()
                } else {
                    s.labels.without_name()
                };
                let mut out = Series::empty(labels, steps.n);
                let (ts, vs) = (&s.samples.ts, &s.samples.vals);
                let (mut a, mut b) = (0usize, 0usize);
                for i in 0..steps.n {
                    let t = steps.at(i);
                    let (lo, hi) = input.window(t);
                    if a > 0 && ts.get(a - 1).is_some_and(|&x| x >= lo) {
                        // Windows only move forward; restart if one moved back.
                        a = 0;
                        b = 0;
                    }
                    while a < ts.len() && ts[a] < lo {
                        a += 1;
                    }
                    if b < a {
                        b = a;
                    }
                    while b < ts.len() && ts[b] <= hi {
                        b += 1;
                    }
                    if a >= b {
                        continue;
                    }
                    let w = Win {
                        lo,
                        hi,
                        t,
                        range_s,
                        args: [
                            scalar_args.first().map_or(0.0, |v| v[i]),
                            scalar_args.get(1).map_or(0.0, |v| v[i]),
                        ],
                    };
                    let value = if sliding_quantile {
                        sorted.advance(vs, a, b);
                        Some(quantile_sorted(w.args[0], &sorted.vals))
                    } else if let Some(rate) = counter_rate {
                        // A drop at j lies inside the window when a < j < b.
                        let k = drops.partition_point(|&j| j <= a);
                        let no_resets = drops.get(k).is_none_or(|&j| j >= b)
                            && (vs[a] >= 0.0 || vs[a].is_nan());
                        window_delta(&ts[a..b], &vs[a..b], true, no_resets)
                            .map(|d| extrapolate(&d, lo, hi, range_s, true, rate))
                    } else {
                        k(&ts[a..b], &vs[a..b], &w)?
                    };
                    if let Some(v) = value {
                        out.vals[i] = v;
                        out.has[i] = true;
                    }
                }
                Ok(out)
            });
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            let s = r?;
            if !s.is_empty() {
                out.push(s);
            }
        }
        // Prometheus checks the whole result matrix of a range function for label sets
        // that occur twice.
        let mut labels: Vec<&Labels> = out.iter().map(|s| &s.labels).collect();
        labels.sort();
        if labels.windows(2).any(|w| w[0] == w[1]) {
            return exec_err("vector cannot contain metrics with the same labelset");
        }
        merge_same_labels(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_drops_lists_every_decrease() {
        assert!(counter_drops(&[]).is_empty());
        assert!(counter_drops(&[1.0]).is_empty());
        assert!(counter_drops(&[1.0, 1.0, 2.0, f64::NAN, 3.0]).is_empty());
        assert_eq!(
            counter_drops(&[5.0, 6.0, 1.0, 2.0, 0.5, 0.5, 0.1]),
            vec![2, 4, 6]
        );
    }

    proptest::proptest! {
        /// The reset scan skipped where `counter_drops` says a window has none gives the
        /// same bits as the scan over every window.
        #[test]
        fn windows_without_drops_skip_the_scan_exactly(
            steps in proptest::collection::vec((0u32..3, 0.0f64..10.0), 2..200),
            a in 0usize..200,
            len in 2usize..60,
        ) {
            let mut v = 0.0;
            let vs: Vec<f64> = steps
                .iter()
                .map(|&(reset, inc)| {
                    v = if reset == 0 { inc } else { v + inc };
                    v
                })
                .collect();
            let ts: Vec<i64> = (0..vs.len() as i64).map(|i| 1_000 + i * 15_000 + i % 7).collect();
            let a = a % (vs.len() - 1);
            let b = (a + len).min(vs.len());
            let drops = counter_drops(&vs);
            let k = drops.partition_point(|&j| j <= a);
            let no_resets = drops.get(k).is_none_or(|&j| j >= b) && vs[a] >= 0.0;
            let w = Win { lo: ts[a] - 5_000, hi: ts[b - 1] + 3_000, t: ts[b - 1] + 3_000, range_s: 60.0, args: [0.0; 2] };
            let fast = window_delta(&ts[a..b], &vs[a..b], true, no_resets)
                .map(|d| extrapolate(&d, w.lo, w.hi, w.range_s, true, true));
            let full = extrapolated(&ts[a..b], &vs[a..b], &w, true, true);
            proptest::prop_assert_eq!(fast.map(f64::to_bits), full.map(f64::to_bits));
        }
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &mut [1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.0, &mut [3.0, 1.0]), 1.0);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn a_sliding_sorted_window_equals_sorting_each_window() {
        // A deterministic walk of windows over values with NaN, repeats and -0.
        let vs: Vec<f64> = (0..400)
            .map(|i: i64| match i % 17 {
                0 => f64::NAN,
                5 => -0.0,
                _ => ((i * 7919) % 101) as f64 - 50.0,
            })
            .collect();
        let mut w = SortedWindow::default();
        let (mut a, mut b) = (0usize, 0usize);
        for step in 0..300usize {
            a = (a + step % 3).min(vs.len());
            b = (b + 1 + step % 5).clamp(a, vs.len());
            w.advance(&vs, a, b);
            let mut want = vs[a..b].to_vec();
            want.sort_by(nan_first);
            let bits = |x: &[f64]| {
                x.iter()
                    .map(|v| {
                        if v.is_nan() {
                            u64::MAX
                        } else {
                            v.abs().to_bits()
                        }
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&w.vals), bits(&want), "window {a}..{b}");
            for q in [0.0, 0.25, 0.5, 0.99, 1.0] {
                let (x, y) = (quantile_sorted(q, &w.vals), quantile_sorted(q, &want));
                assert!(x == y || (x.is_nan() && y.is_nan()), "{q}: {x} {y}");
            }
        }
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // Samples every 10 s from 0 to 50 s rising by 1 per 10 s, window [0, 60].
        let ts: Vec<i64> = (0..6).map(|i| i * 10_000).collect();
        let vs: Vec<f64> = (0..6).map(f64::from).collect();
        let w = Win {
            lo: 0,
            hi: 60_000,
            t: 60_000,
            range_s: 60_000.0 / 1000.0,
            args: [0.0; 2],
        };
        // 5 over 50 s, extrapolated by 10 s at the end (below 1.1 × 10 s): 6 over 60 s.
        let r = extrapolated(&ts, &vs, &w, true, true).unwrap();
        assert!((r - 0.1).abs() < 1e-12, "{r}");
    }

    #[test]
    fn regression_of_a_line_is_exact() {
        let ts = [0, 1000, 2000];
        let vs = [1.0, 3.0, 5.0];
        let (slope, intercept) = linear_regression(&ts, &vs, 0);
        assert_eq!(slope, 2.0);
        assert_eq!(intercept, 1.0);
    }
}
