//! Functions over instant vectors and scalars: math, clamping, dates, labels, sorting,
//! `absent`, `scalar`/`vector`/`time`, `timestamp` and `histogram_quantile`. Functions
//! with a range argument are in `range`.
//!
//! Floating-point helpers follow Go's `math` package where it differs from Rust's
//! (`math.Max`/`math.Min` return NaN when either side is NaN).

use super::labels::Labels;
use super::range::absent_labels;
use super::{Ev, PromError, Series, Steps, Val, exec_err, merge_same_labels};
use crate::plan::selection::METRIC_NAME;
use crate::promql::ast::{Call, Expr, ValueType};
use chrono::{DateTime, Datelike, Timelike};

/// Go's `math.Max`.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a > 0.0 || b.is_infinite() && b > 0.0 {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b { a } else { b }
}

/// Go's `math.Min`.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a < 0.0 || b.is_infinite() && b < 0.0 {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// The UTC time of `v` seconds, truncated toward zero as Go's `int64(v)`.
fn utc(v: f64) -> Option<DateTime<chrono::Utc>> {
    if !v.is_finite() {
        return None;
    }
    DateTime::from_timestamp(v.trunc() as i64, 0)
}

fn date_fn(name: &str) -> Option<fn(DateTime<chrono::Utc>) -> f64> {
    Some(match name {
        "day_of_month" => |t| f64::from(t.day()),
        "day_of_week" => |t| f64::from(t.weekday().num_days_from_sunday()),
        "day_of_year" => |t| f64::from(t.ordinal()),
        "days_in_month" => |t| {
            let (y, m) = (t.year(), t.month());
            let next = if m == 12 {
                chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(y, m + 1, 1)
            };
            let first = chrono::NaiveDate::from_ymd_opt(y, m, 1);
            match (first, next) {
                (Some(a), Some(b)) => (b - a).num_days() as f64,
                _ => f64::NAN,
            }
        },
        "hour" => |t| f64::from(t.hour()),
        "minute" => |t| f64::from(t.minute()),
        "month" => |t| f64::from(t.month()),
        "year" => |t| f64::from(t.year()),
        _ => return None,
    })
}

/// Applies `f` to every present value, dropping the metric name.
fn map_values(v: Vec<Series>, f: impl Fn(f64, usize) -> f64) -> Result<Vec<Series>, PromError> {
    let out = v
        .into_iter()
        .map(|mut s| {
            s.labels.del(METRIC_NAME);
            for i in 0..s.vals.len() {
                if s.has[i] {
                    s.vals[i] = f(s.vals[i], i);
                }
            }
            s
        })
        .collect();
    merge_same_labels(out)
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn string_arg(e: &Expr) -> Result<&str, PromError> {
    match e.unparen() {
        Expr::String(s) => Ok(s),
        _ => exec_err("expected a string literal"),
    }
}

impl Ev<'_> {
    pub(crate) fn call(&self, c: &Call, steps: &Steps) -> Result<Val, PromError> {
        let name = c.func.name;
        if c.func.args.contains(&ValueType::Matrix) {
            return Ok(Val::Vector(self.range_call(c, steps)?));
        }
        if let Some(f) = math_fn(name) {
            let v = self.eval_vector(&c.args[0], steps)?;
            return Ok(Val::Vector(map_values(v, |x, _| f(x))?));
        }
        if let Some(f) = date_fn(name) {
            if c.args.is_empty() {
                let vals: Vec<f64> = (0..steps.n)
                    .map(|i| utc(steps.at(i) as f64 / 1000.0).map_or(f64::NAN, f))
                    .collect();
                return Ok(Val::Vector(vec![Series {
                    labels: Labels::default(),
                    has: vec![true; steps.n],
                    vals,
                }]));
            }
            let v = self.eval_vector(&c.args[0], steps)?;
            return Ok(Val::Vector(map_values(v, |x, _| {
                utc(x).map_or(f64::NAN, f)
            })?));
        }
        Ok(match name {
            "time" => Val::Scalar((0..steps.n).map(|i| steps.at(i) as f64 / 1000.0).collect()),
            "pi" => Val::Scalar(vec![std::f64::consts::PI; steps.n]),
            "vector" => {
                let s = self.eval_scalar(&c.args[0], steps)?;
                Val::Vector(vec![Series {
                    labels: Labels::default(),
                    has: vec![true; steps.n],
                    vals: s,
                }])
            }
            "scalar" => {
                let v = self.eval_vector(&c.args[0], steps)?;
                Val::Scalar(
                    (0..steps.n)
                        .map(|i| {
                            let mut present = v.iter().filter(|s| s.has[i]);
                            match (present.next(), present.next()) {
                                (Some(s), None) => s.vals[i],
                                _ => f64::NAN,
                            }
                        })
                        .collect(),
                )
            }
            "timestamp" => match c.args[0].unparen() {
                Expr::Vector(vs) => Val::Vector(self.selector_timestamps(vs, steps)?),
                other => {
                    let v = self.eval_vector(other, steps)?;
                    Val::Vector(map_values(v, |_, i| steps.at(i) as f64 / 1000.0)?)
                }
            },
            "absent" => {
                let v = self.eval_vector(&c.args[0], steps)?;
                let matchers = match c.args[0].unparen() {
                    Expr::Vector(vs) => Some(vs.matchers.as_slice()),
                    _ => None,
                };
                let mut out = Series::empty(absent_labels(matchers), steps.n);
                for i in 0..steps.n {
                    if !v.iter().any(|s| s.has[i]) {
                        out.has[i] = true;
                        out.vals[i] = 1.0;
                    }
                }
                Val::Vector(if out.is_empty() {
                    Vec::new()
                } else {
                    vec![out]
                })
            }
            "clamp" | "clamp_min" | "clamp_max" => {
                let v = self.eval_vector(&c.args[0], steps)?;
                let a = self.eval_scalar(&c.args[1], steps)?;
                let b = match c.args.get(2) {
                    Some(e) => self.eval_scalar(e, steps)?,
                    None => Vec::new(),
                };
                let mut v = map_values(v, |x, i| match name {
                    "clamp" => go_max(a[i], go_min(b[i], x)),
                    "clamp_min" => go_max(a[i], x),
                    _ => go_min(a[i], x),
                })?;
                if name == "clamp" {
                    // max < min gives an empty vector at that step.
                    for s in &mut v {
                        for i in 0..steps.n {
                            if b[i] < a[i] {
                                s.has[i] = false;
                            }
                        }
                    }
                    v.retain(|s| !s.is_empty());
                }
                Val::Vector(v)
            }
            "round" => {
                let v = self.eval_vector(&c.args[0], steps)?;
                let to = match c.args.get(1) {
                    Some(e) => self.eval_scalar(e, steps)?,
                    None => vec![1.0; steps.n],
                };
                Val::Vector(map_values(v, |x, i| {
                    let inv = 1.0 / to[i];
                    (x * inv + 0.5).floor() / inv
                })?)
            }
            "sort" | "sort_desc" => {
                let mut v = self.eval_vector(&c.args[0], steps)?;
                if steps.n == 1 {
                    let desc = name == "sort_desc";
                    v.sort_by(|a, b| {
                        let (x, y) = (a.vals[0], b.vals[0]);
                        // NaN goes last either way, as in Prometheus.
                        if x.is_nan() && !y.is_nan() {
                            std::cmp::Ordering::Greater
                        } else if y.is_nan() && !x.is_nan() {
                            std::cmp::Ordering::Less
                        } else if desc {
                            y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal)
                        } else {
                            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                        }
                    });
                }
                Val::Vector(v)
            }
            "label_replace" => {
                let v = self.eval_vector(&c.args[0], steps)?;
                let dst = string_arg(&c.args[1])?;
                let repl = string_arg(&c.args[2])?;
                let src = string_arg(&c.args[3])?;
                let re_src = string_arg(&c.args[4])?;
                let re = crate::plan::matcher::compile_anchored(re_src).map_err(|_| {
                    PromError::Execution(format!(
                        "invalid regular expression in label_replace(): {re_src}"
                    ))
                })?;
                if !valid_label_name(dst) {
                    return exec_err(format!(
                        "invalid destination label name in label_replace(): {dst}"
                    ));
                }
                let out = v
                    .into_iter()
                    .map(|mut s| {
                        let value = s.labels.get(src).unwrap_or("").to_owned();
                        if let Some(caps) = re.captures(&value) {
                            let mut res = String::new();
                            caps.expand(repl, &mut res);
                            s.labels.set(dst, &res);
                        }
                        s
                    })
                    .collect();
                Val::Vector(merge_same_labels(out)?)
            }
            "label_join" => {
                let v = self.eval_vector(&c.args[0], steps)?;
                let dst = string_arg(&c.args[1])?;
                let sep = string_arg(&c.args[2])?;
                let mut srcs = Vec::new();
                for a in &c.args[3..] {
                    let s = string_arg(a)?;
                    if !valid_label_name(s) {
                        return exec_err(format!("invalid source label name in label_join(): {s}"));
                    }
                    srcs.push(s);
                }
                if !valid_label_name(dst) {
                    return exec_err(format!(
                        "invalid destination label name in label_join(): {dst}"
                    ));
                }
                let out = v
                    .into_iter()
                    .map(|mut s| {
                        let joined: Vec<&str> =
                            srcs.iter().map(|k| s.labels.get(k).unwrap_or("")).collect();
                        let joined = joined.join(sep);
                        s.labels.set(dst, &joined);
                        s
                    })
                    .collect();
                Val::Vector(merge_same_labels(out)?)
            }
            "histogram_quantile" => {
                let q = self.eval_scalar(&c.args[0], steps)?;
                let v = self.eval_vector(&c.args[1], steps)?;
                Val::Vector(histogram_quantile(&q, v, steps.n)?)
            }
            // Native histograms are not stored; float series have no histogram value.
            "histogram_count" | "histogram_sum" => {
                self.eval_vector(&c.args[0], steps)?;
                Val::Vector(Vec::new())
            }
            "histogram_fraction" => {
                self.eval_vector(&c.args[2], steps)?;
                Val::Vector(Vec::new())
            }
            other => return exec_err(format!("function {other:?} is not implemented")),
        })
    }
}

/// Prometheus' `bucketQuantile` over one group's buckets `(upper bound, count)`.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce equal bounds.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(ub, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    // Make counts monotonic.
    let mut max = f64::NEG_INFINITY;
    for b in merged.iter_mut() {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = merged.len() - 1;
    let b = merged[..n].partition_point(|x| x.1 < rank);
    if b == n {
        return merged[n - 1].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let mut start = 0.0;
    let end = merged[b].0;
    let mut count = merged[b].1;
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

/// `histogram_quantile` per step: series grouped by their labels without `le`, each
/// group's buckets interpolated.
fn histogram_quantile(q: &[f64], v: Vec<Series>, n: usize) -> Result<Vec<Series>, PromError> {
    use rustc_hash::FxHashMap as HashMap;
    let mut groups: Vec<(Labels, Vec<(f64, usize)>)> = Vec::new();
    let mut by_key: HashMap<Labels, usize> = HashMap::default();
    for (i, s) in v.iter().enumerate() {
        let Some(ub) = s.labels.get("le").and_then(parse_go_float) else {
            continue;
        };
        let mut key = s.labels.clone();
        key.del("le");
        let g = match by_key.get(&key) {
            Some(&g) => g,
            None => {
                let mut out = key.clone();
                out.del(METRIC_NAME);
                groups.push((out, Vec::new()));
                by_key.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        groups[g].1.push((ub, i));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, members) in groups {
        let mut s = Series::empty(labels, n);
        let mut buckets = Vec::with_capacity(members.len());
        for step in 0..n {
            buckets.clear();
            for &(ub, i) in &members {
                if v[i].has[step] {
                    buckets.push((ub, v[i].vals[step]));
                }
            }
            if buckets.is_empty() {
                continue;
            }
            s.vals[step] = bucket_quantile(q[step], &mut buckets);
            s.has[step] = true;
        }
        out.push(s);
    }
    merge_same_labels(out)
}

/// Parses a float as Go's `strconv.ParseFloat` does for bucket bounds (`+Inf`, `1e3`).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches('+');
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|x| x as f64);
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_min_max_propagate_nan() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert!(go_min(f64::NAN, 1.0).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert_eq!(go_min(2.0, 1.0), 1.0);
    }

    #[test]
    fn bucket_quantile_interpolates() {
        let mut b = vec![(0.1, 50.0), (0.2, 100.0), (f64::INFINITY, 100.0)];
        assert!((bucket_quantile(0.5, &mut b) - 0.1).abs() < 1e-12);
        let mut b = vec![(0.1, 0.0), (f64::INFINITY, 0.0)];
        assert!(bucket_quantile(0.5, &mut b).is_nan());
        let mut b = vec![(1.0, 10.0)];
        assert!(bucket_quantile(0.5, &mut b).is_nan());
    }

    #[test]
    fn dates_are_utc() {
        let t = utc(1_456_790_400.0).unwrap(); // 2016-03-01
        assert_eq!(
            date_fn("days_in_month").unwrap()(utc(1_454_284_800.0).unwrap()),
            29.0
        );
        assert_eq!(date_fn("month").unwrap()(t), 3.0);
        assert_eq!(date_fn("day_of_week").unwrap()(t), 2.0);
    }
}
