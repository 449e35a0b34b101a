//! PromQL evaluation, vectorised over the query's steps: every node produces, for each
//! output series, one slot per evaluation timestamp (a value and whether it is present),
//! so a range query walks its data once per node rather than once per step.
//!
//! ```text
//! selectors ─► exec::scan (column reads, plan::selection) ─► windows (range functions)
//!           ─► per-step operators (functions, binary matching, aggregation) ─► Value
//! ```
//!
//! Semantics follow Prometheus 2.42: lookback delta (5 minutes by default, both ends of
//! the window included), stale markers end a series, range windows are closed
//! `[t - range, t]` and skip stale markers, `@` anchors a selector or subquery at a fixed
//! time, subquery steps are aligned to multiples of the step, the metric name is dropped
//! where Prometheus drops it, and duplicate label sets are errors where Prometheus raises
//! them.
//!
//! Invariants: a [`Series`] has exactly `steps.n` slots; a vector never holds two
//! series with equal labels present at the same step (checked by `merge_same_labels`).

// Step loops index several per-step arrays (values, presence, parameters) at once.
#![allow(clippy::needless_range_loop)]

pub(crate) mod aggregate;
mod binary;
mod funcs;
pub mod labels;
mod range;

use super::ast::*;
use crate::exec::scan::{Samples, read_samples};
use crate::plan::selection::{self, METRIC_NAME};
use labels::Labels;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use strata_engine::Db;

/// Below this many items (series), work runs on the calling thread: handing sub-millisecond
/// work to the thread pool costs more than it saves.
const PARALLEL_MIN: usize = 64;

/// Maps `items` with `f`, on the thread pool when there are enough of them.
pub(crate) fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    if items.len() < PARALLEL_MIN {
        items.into_iter().map(f).collect()
    } else {
        items.into_par_iter().map(f).collect()
    }
}

/// The stale marker's exact bits (Prometheus' `value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `v` is the stale marker (not any other NaN).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Why a PromQL query failed, with the HTTP API's error type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    /// Bad input: a parse error, a bad parameter (`bad_data`, HTTP 400).
    #[error("{0}")]
    BadData(String),
    /// A runtime error (`execution`, HTTP 422).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout (`timeout`, HTTP 503).
    #[error("{0}")]
    Timeout(String),
    /// The query was cancelled (`canceled`, HTTP 503 here: the server is shutting down).
    #[error("{0}")]
    Canceled(String),
    /// The storage failed (`internal`, HTTP 500).
    #[error("{0}")]
    Internal(String),
    /// The server's query memory budget had no room (`unavailable`, HTTP 503).
    #[error("{0}")]
    Unavailable(String),
}

impl PromError {
    /// The API's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromError::BadData(_) => "bad_data",
            PromError::Execution(_) => "execution",
            PromError::Timeout(_) => "timeout",
            PromError::Canceled(_) => "canceled",
            PromError::Internal(_) => "internal",
            PromError::Unavailable(_) => "unavailable",
        }
    }
}

impl From<crate::QueryError> for PromError {
    fn from(e: crate::QueryError) -> Self {
        match e {
            crate::QueryError::Limit(m) if m.contains("timeout") => {
                PromError::Timeout("query timed out in query execution".into())
            }
            crate::QueryError::Limit(m) if m.contains("cancel") => {
                PromError::Canceled("query was canceled in query execution".into())
            }
            crate::QueryError::Limit(m) => PromError::Execution(m),
            other => PromError::Internal(other.to_string()),
        }
    }
}

fn exec_err<T>(msg: impl Into<String>) -> Result<T, PromError> {
    Err(PromError::Execution(msg.into()))
}

/// Settings of PromQL evaluation.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// How far back an instant selector looks for a sample (ms); Prometheus' default 5m.
    pub lookback_ms: i64,
    /// Step of a subquery written without one (ms); Prometheus' default evaluation
    /// interval, 1m.
    pub default_subquery_step_ms: i64,
    /// Most samples a query may load from storage and hold in intermediate results.
    pub max_samples: usize,
    /// Longest a query may run.
    pub timeout: Option<Duration>,
    /// Stops a running query when set (server shutdown, a client that went away).
    pub cancel: crate::Cancel,
    /// A cluster member's label (name, value), added to every series it selects; a
    /// matcher on that label is decided against the value, not the index.
    pub node_label: Option<(String, String)>,
    /// A cluster front-end's hook: sub-expressions it claims are evaluated by the
    /// members (see [`crate::partial::promql`]).
    pub remote: Option<std::sync::Arc<dyn Remote>>,
    /// The request's share of the server's query memory budget: every sample counted
    /// against `max_samples` is also charged [`SAMPLE_BYTES`] there (the first charge
    /// waits for room, as an InfluxQL statement's admission does; a later one that does
    /// not fit fails with [`PromError::Unavailable`]). `None`: not counted.
    pub memory: Option<std::sync::Arc<crate::MemoryAccount>>,
}

/// Budget bytes one sample counted against `max_samples` is charged: a (time, value) pair.
/// At the default 1 GiB budget a single query reaches `max_samples` (50 M) first; the
/// budget bounds what concurrent queries hold together.
pub const SAMPLE_BYTES: u64 = 16;

/// Evaluates chosen sub-expressions elsewhere (a cluster front-end asks the members).
pub trait Remote: Send + Sync + std::fmt::Debug {
    /// The value of `e` at `steps` (an instant vector), or `None` to evaluate `e` here.
    /// `query_start` and `query_end` are the query's own (for `@ start()`/`@ end()`).
    fn eval(
        &self,
        e: &Expr,
        steps: &Steps,
        query_start: i64,
        query_end: i64,
    ) -> Option<Result<Vec<Series>, PromError>>;
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            lookback_ms: 300_000,
            default_subquery_step_ms: 60_000,
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            cancel: crate::Cancel::default(),
            node_label: None,
            remote: None,
            memory: None,
        }
    }
}

/// The evaluation timestamps: `start + i * step` for `i < n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// First timestamp, ms.
    pub start: i64,
    /// Distance between timestamps, ms (> 0).
    pub step: i64,
    /// Number of timestamps (≥ 1).
    pub n: usize,
}

impl Steps {
    /// The `i`-th timestamp.
    pub fn at(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }

    /// The last timestamp.
    pub fn end(&self) -> i64 {
        self.at(self.n - 1)
    }

    /// A single evaluation at `t`.
    pub fn instant(t: i64) -> Steps {
        Steps {
            start: t,
            step: 1,
            n: 1,
        }
    }
}

/// One output series: a value per step where present.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels.
    pub labels: Labels,
    /// One slot per step; meaningful where `has` is true.
    pub vals: Vec<f64>,
    /// Presence per step.
    pub has: Vec<bool>,
}

impl Series {
    fn empty(labels: Labels, n: usize) -> Series {
        Series {
            labels,
            vals: vec![0.0; n],
            has: vec![false; n],
        }
    }

    fn is_empty(&self) -> bool {
        !self.has.iter().any(|&h| h)
    }
}

/// A series' raw samples, as a range vector holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// Its labels.
    pub labels: Labels,
    /// Its samples (no stale markers).
    pub samples: Samples,
}

/// An intermediate value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A number per step.
    Scalar(Vec<f64>),
    /// A string.
    Str(String),
    /// Series with a slot per step.
    Vector(Vec<Series>),
    /// Raw windows (only at the top of an instant query).
    Matrix(Vec<RangeSeries>),
}

/// Everything a running query needs.
pub(crate) struct Ev<'a> {
    pub db: &'a Db,
    pub opts: &'a EvalOptions,
    /// The query's start and end, for `@ start()` and `@ end()`.
    pub query_start: i64,
    pub query_end: i64,
    deadline: Option<Instant>,
    samples: AtomicUsize,
}

/// The input of a range function: each series' samples, and how each step's window is
/// placed.
pub(crate) struct RangeInput {
    pub series: Vec<RangeSeries>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
    /// Label matchers of a selector (for `absent_over_time`).
    pub matchers: Option<Vec<Matcher>>,
}

impl RangeInput {
    /// The window `[start, end]` of step `t`.
    pub fn window(&self, t: i64) -> (i64, i64) {
        let end = self.at.unwrap_or(t) - self.offset;
        (end - self.range, end)
    }
}

impl<'a> Ev<'a> {
    pub fn new(db: &'a Db, opts: &'a EvalOptions, query_start: i64, query_end: i64) -> Ev<'a> {
        Ev {
            db,
            opts,
            query_start,
            query_end,
            deadline: opts.timeout.map(|t| Instant::now() + t),
            samples: AtomicUsize::new(0),
        }
    }

    /// What the query has cost so far.
    pub fn stats(&self) -> EvalStats {
        EvalStats {
            samples: self.samples.load(Ordering::Relaxed),
        }
    }

    /// Fails once the query is past its deadline or cancelled.
    pub fn check(&self) -> Result<(), PromError> {
        if let Some(d) = self.deadline
            && Instant::now() > d
        {
            return Err(PromError::Timeout(
                "query timed out in query execution".into(),
            ));
        }
        if self.opts.cancel.is_cancelled() {
            return Err(PromError::Canceled(
                "query was canceled in query execution".into(),
            ));
        }
        Ok(())
    }

    /// Counts `n` more samples held by the query, failing past the limit.
    pub(crate) fn account(&self, n: usize) -> Result<(), PromError> {
        let total = self.samples.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.opts.max_samples {
            return exec_err(
                "query processing would load too many samples into memory in query execution",
            );
        }
        if let Some(m) = &self.opts.memory {
            let bytes = (n as u64).saturating_mul(SAMPLE_BYTES);
            let still_wanted = || self.check().map_err(|_| crate::QueryError::Cancelled);
            if let Err(e) = m.admit(bytes, self.deadline, &still_wanted) {
                // A deadline or cancellation met while waiting is reported as such.
                self.check()?;
                return Err(match e {
                    crate::QueryError::Memory { .. } => PromError::Unavailable(e.to_string()),
                    other => PromError::from(other),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn resolve_at(&self, at: Option<At>) -> Option<i64> {
        at.map(|a| match a {
            At::Time(t) => t,
            At::Start => self.query_start,
            At::End => self.query_end,
        })
    }

    /// Evaluates `e` at every step.
    pub fn eval(&self, e: &Expr, steps: &Steps) -> Result<Val, PromError> {
        self.check()?;
        if let Some(r) = &self.opts.remote
            && let Some(v) = r.eval(e, steps, self.query_start, self.query_end)
        {
            let v = v?;
            self.account(v.len() * steps.n)?;
            return Ok(Val::Vector(v));
        }
        match e {
            Expr::Number(v) => Ok(Val::Scalar(vec![*v; steps.n])),
            Expr::String(s) => Ok(Val::Str(s.clone())),
            Expr::Paren(e) => self.eval(e, steps),
            Expr::Vector(vs) => Ok(Val::Vector(self.vector_selector(vs, steps)?)),
            Expr::Matrix(_) | Expr::Subquery(_) => {
                let input = self.range_input(e, steps)?;
                Ok(Val::Matrix(input.series))
            }
            Expr::Unary(op, e) => {
                let v = self.eval(e, steps)?;
                if *op == UnaryOp::Pos {
                    return Ok(v);
                }
                match v {
                    Val::Scalar(mut s) => {
                        s.iter_mut().for_each(|x| *x = -*x);
                        Ok(Val::Scalar(s))
                    }
                    Val::Vector(mut vs) => {
                        for s in &mut vs {
                            s.labels.del(METRIC_NAME);
                            s.vals.iter_mut().for_each(|x| *x = -*x);
                        }
                        Ok(Val::Vector(merge_same_labels(vs)?))
                    }
                    _ => exec_err("unary expression only allowed on scalar or instant vector"),
                }
            }
            Expr::Binary(b) => self.binary(b, steps),
            Expr::Aggregate(a) => self.aggregate(a, steps),
            Expr::Call(c) => self.call(c, steps),
        }
    }

    pub(crate) fn eval_scalar(&self, e: &Expr, steps: &Steps) -> Result<Vec<f64>, PromError> {
        match self.eval(e, steps)? {
            Val::Scalar(s) => Ok(s),
            _ => exec_err("expected a scalar"),
        }
    }

    pub(crate) fn eval_vector(&self, e: &Expr, steps: &Steps) -> Result<Vec<Series>, PromError> {
        match self.eval(e, steps)? {
            Val::Vector(v) => Ok(v),
            _ => exec_err("expected an instant vector"),
        }
    }

    /// The columns matching a selector with their labels.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
    ) -> Vec<(
        Labels,
        strata_engine::index::ColumnId,
        strata_engine::model::FieldType,
    )> {
        // A member's own label is decided here, not looked up in the index.
        let (own, rest): (Vec<&Matcher>, Vec<&Matcher>) = match &self.opts.node_label {
            Some((name, _)) => matchers.iter().partition(|m| m.name == *name),
            None => (Vec::new(), matchers.iter().collect()),
        };
        if let Some((_, value)) = &self.opts.node_label
            && !own.iter().all(|m| m.matches(value))
        {
            return Vec::new();
        }
        let rest: Vec<Matcher> = if own.is_empty() {
            matchers.to_vec()
        } else {
            rest.into_iter().cloned().collect()
        };
        selection::select(self.db, &rest)
            .into_iter()
            .map(|c| {
                // Tags are sorted already; the name goes in at its place. Moved, not
                // copied: the key is not needed after this.
                let (_, tags) = c.key.into_parts();
                let mut pairs: Vec<(String, String)> = Vec::with_capacity(tags.len() + 1);
                let at = tags.partition_point(|(k, _)| k.as_str() < METRIC_NAME);
                let mut tags = tags.into_iter();
                pairs.extend(tags.by_ref().take(at).filter(|(_, v)| !v.is_empty()));
                pairs.push((METRIC_NAME.to_owned(), c.metric));
                pairs.extend(tags.filter(|(k, v)| k != METRIC_NAME && !v.is_empty()));
                let mut labels = Labels(pairs);
                if let Some((name, value)) = &self.opts.node_label {
                    labels.set(name, value);
                }
                (labels, c.column, c.ty)
            })
            .collect()
    }

    /// Reads every selected column over `[lo, hi]`, in parallel.
    fn fetch(
        &self,
        matchers: &[Matcher],
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(Labels, Samples)>, PromError> {
        let cols = self.select(matchers);
        let check = || {
            self.check()
                .map_err(|e| crate::QueryError::Limit(e.to_string()))
        };
        let read: Vec<Result<(Labels, Samples), PromError>> =
            par_map(cols, |(labels, column, ty)| {
                let s = read_samples(self.db, column, ty, lo, hi, &check).map_err(storage_error)?;
                self.account(s.len())?;
                Ok((labels, s))
            });
        let mut out = Vec::with_capacity(read.len());
        for r in read {
            let (l, s) = r?;
            if !s.is_empty() {
                out.push((l, s));
            }
        }
        Ok(out)
    }

    /// An instant selector at every step: the last sample at or before the step's
    /// reference time, if within the lookback window and not a stale marker.
    fn vector_selector(
        &self,
        vs: &VectorSelector,
        steps: &Steps,
    ) -> Result<Vec<Series>, PromError> {
        let at = self.resolve_at(vs.at);
        let refs: Vec<i64> = (0..steps.n)
            .map(|i| at.unwrap_or(steps.at(i)) - vs.offset)
            .collect();
        let (lo, hi) = min_max(&refs);
        let data = self.fetch(&vs.matchers, lo - self.opts.lookback_ms, hi)?;
        self.account(data.len() * steps.n)?;
        let lookback = self.opts.lookback_ms;
        let out = par_map(data, |(labels, s)| {
            let mut out = Series::empty(labels, steps.n);
            // Reference times rise with the step (or stay fixed under `@`).
            let mut j = 0usize;
            for (i, &r) in refs.iter().enumerate() {
                while j < s.ts.len() && s.ts[j] <= r {
                    j += 1;
                }
                if j == 0 {
                    continue;
                }
                let (t, v) = (s.ts[j - 1], s.vals[j - 1]);
                if t >= r - lookback && !is_stale(v) {
                    out.vals[i] = v;
                    out.has[i] = true;
                }
            }
            out
        });
        Ok(out.into_iter().filter(|s| !s.is_empty()).collect())
    }

    /// The samples of a selector as `timestamp()` needs them: the sample's own time.
    pub(crate) fn selector_timestamps(
        &self,
        vs: &VectorSelector,
        steps: &Steps,
    ) -> Result<Vec<Series>, PromError> {
        let at = self.resolve_at(vs.at);
        let refs: Vec<i64> = (0..steps.n)
            .map(|i| at.unwrap_or(steps.at(i)) - vs.offset)
            .collect();
        let (lo, hi) = min_max(&refs);
        let data = self.fetch(&vs.matchers, lo - self.opts.lookback_ms, hi)?;
        let lookback = self.opts.lookback_ms;
        let mut out = Vec::new();
        for (labels, s) in data {
            let mut o = Series::empty(labels.without_name(), steps.n);
            let mut j = 0usize;
            for (i, &r) in refs.iter().enumerate() {
                while j < s.ts.len() && s.ts[j] <= r {
                    j += 1;
                }
                if j > 0 && s.ts[j - 1] >= r - lookback && !is_stale(s.vals[j - 1]) {
                    o.vals[i] = s.ts[j - 1] as f64 / 1000.0;
                    o.has[i] = true;
                }
            }
            if !o.is_empty() {
                out.push(o);
            }
        }
        merge_same_labels(out)
    }

    /// The samples a range function reads: from a range selector or a subquery, covering
    /// every step's window.
    pub(crate) fn range_input(&self, e: &Expr, steps: &Steps) -> Result<RangeInput, PromError> {
        match e.unparen() {
            Expr::Matrix(m) => {
                let at = self.resolve_at(m.vector.at);
                let mut input = RangeInput {
                    series: Vec::new(),
                    range: m.range,
                    offset: m.vector.offset,
                    at,
                    matchers: Some(m.vector.matchers.clone()),
                };
                let (lo, _) = input.window(steps.start);
                let (_, hi) = input.window(steps.end());
                for (labels, mut s) in self.fetch(&m.vector.matchers, lo, hi)? {
                    if s.vals.iter().any(|&v| is_stale(v)) {
                        let keep: Vec<bool> = s.vals.iter().map(|&v| !is_stale(v)).collect();
                        let mut k = keep.iter();
                        s.ts.retain(|_| *k.next().unwrap_or(&false));
                        let mut k = keep.iter();
                        s.vals.retain(|_| *k.next().unwrap_or(&false));
                    }
                    if !s.is_empty() {
                        input.series.push(RangeSeries { labels, samples: s });
                    }
                }
                Ok(input)
            }
            Expr::Subquery(sq) => {
                let at = self.resolve_at(sq.at);
                let step = sq.step.unwrap_or(self.opts.default_subquery_step_ms);
                if step <= 0 {
                    return Err(PromError::BadData(
                        "zero or negative step in subquery".into(),
                    ));
                }
                let (first, last) = match at {
                    Some(t) => (t, t),
                    None => (steps.start, steps.end()),
                };
                let lo = first - sq.offset - sq.range;
                let start =
                    lo.div_euclid(step) * step + if lo.rem_euclid(step) == 0 { 0 } else { step };
                let end = last - sq.offset;
                let mut input = RangeInput {
                    series: Vec::new(),
                    range: sq.range,
                    offset: sq.offset,
                    at,
                    matchers: None,
                };
                if start > end {
                    return Ok(input);
                }
                let n = ((end - start) / step) as usize + 1;
                let inner = Steps { start, step, n };
                self.account(n)?;
                let v = self.eval_vector(&sq.expr, &inner)?;
                for s in v {
                    let mut samples = Samples::default();
                    for i in 0..n {
                        if s.has[i] {
                            samples.ts.push(inner.at(i));
                            samples.vals.push(s.vals[i]);
                        }
                    }
                    if !samples.is_empty() {
                        input.series.push(RangeSeries {
                            labels: s.labels,
                            samples,
                        });
                    }
                }
                Ok(input)
            }
            _ => exec_err("expected a range vector"),
        }
    }
}

/// A failed read: the stop reason (timeout, cancel) when it was one, else the storage's.
pub(crate) fn storage_error(e: crate::QueryError) -> PromError {
    match e {
        crate::QueryError::Limit(m) if m.contains("timed out") => PromError::Timeout(m),
        crate::QueryError::Limit(m) if m.contains("canceled") => PromError::Canceled(m),
        other => PromError::Internal(other.to_string()),
    }
}

fn min_max(v: &[i64]) -> (i64, i64) {
    v.iter()
        .fold((i64::MAX, i64::MIN), |(a, b), &x| (a.min(x), b.max(x)))
}

/// Merges series that ended up with equal labels (after a function dropped the metric
/// name, say): allowed where they are present at different steps, an error where two are
/// present at the same step, as Prometheus checks each step's vector.
pub(crate) fn merge_same_labels(mut v: Vec<Series>) -> Result<Vec<Series>, PromError> {
    v.retain(|s| !s.is_empty());
    if v.len() < 2 {
        return Ok(v);
    }
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].labels.cmp(&v[b].labels));
    if idx.windows(2).all(|w| v[w[0]].labels != v[w[1]].labels) {
        return Ok(v);
    }
    let mut slots: Vec<Option<Series>> = v.into_iter().map(Some).collect();
    let mut out: Vec<Series> = Vec::new();
    let mut last: Option<usize> = None;
    for i in idx {
        let s = slots[i]
            .take()
            .unwrap_or_else(|| Series::empty(Labels::default(), 0));
        match last {
            Some(o) if out[o].labels == s.labels => {
                let target = &mut out[o];
                for k in 0..s.has.len() {
                    if s.has[k] {
                        if target.has[k] {
                            return exec_err(
                                "vector cannot contain metrics with the same labelset",
                            );
                        }
                        target.has[k] = true;
                        target.vals[k] = s.vals[k];
                    }
                }
            }
            _ => {
                out.push(s);
                last = Some(out.len() - 1);
            }
        }
    }
    Ok(out)
}

/// The value of a finished query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// A scalar at a time.
    Scalar {
        /// ms
        t: i64,
        /// value
        v: f64,
    },
    /// A string at a time.
    String {
        /// ms
        t: i64,
        /// value
        v: String,
    },
    /// An instant vector: labels and value, all at time `t`.
    Vector {
        /// ms
        t: i64,
        /// samples
        samples: Vec<(Labels, f64)>,
    },
    /// A matrix: labels and points (ms, value).
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
}

/// Whether the order of an instant query's result is part of its meaning.
fn ordered(e: &Expr) -> bool {
    match e.unparen() {
        Expr::Call(c) => matches!(c.func.name, "sort" | "sort_desc"),
        Expr::Aggregate(a) => matches!(a.op, AggOp::Topk | AggOp::Bottomk),
        _ => false,
    }
}

/// What evaluating a query cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalStats {
    /// Samples loaded from storage and held in intermediate results (what the sample
    /// limit counts; Prometheus' `totalQueryableSamples`).
    pub samples: usize,
}

/// Evaluates `expr` at the single time `t` (ms).
pub fn instant(db: &Db, expr: &Expr, t: i64, opts: &EvalOptions) -> Result<QueryValue, PromError> {
    instant_with_stats(db, expr, t, opts).map(|(v, _)| v)
}

/// [`instant`], with what it cost.
pub fn instant_with_stats(
    db: &Db,
    expr: &Expr,
    t: i64,
    opts: &EvalOptions,
) -> Result<(QueryValue, EvalStats), PromError> {
    let ev = Ev::new(db, opts, t, t);
    let steps = Steps::instant(t);
    let value = match ev.eval(expr, &steps)? {
        Val::Scalar(s) => QueryValue::Scalar { t, v: s[0] },
        Val::Str(s) => QueryValue::String { t, v: s },
        Val::Vector(v) => {
            let mut samples: Vec<(Labels, f64)> = v
                .into_iter()
                .filter(|s| s.has[0])
                .map(|s| (s.labels, s.vals[0]))
                .collect();
            if !ordered(expr) {
                samples.sort_by(|a, b| a.0.cmp(&b.0));
            }
            QueryValue::Vector { t, samples }
        }
        Val::Matrix(m) => {
            let mut out: Vec<(Labels, Vec<(i64, f64)>)> = m
                .into_iter()
                .map(|s| {
                    let pts = s
                        .samples
                        .ts
                        .iter()
                        .copied()
                        .zip(s.samples.vals.iter().copied())
                        .collect();
                    (s.labels, pts)
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            QueryValue::Matrix(out)
        }
    };
    Ok((value, ev.stats()))
}

/// Evaluates `expr` at `start, start + step, …, ≤ end` (ms); the result is a matrix.
pub fn range(
    db: &Db,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    opts: &EvalOptions,
) -> Result<QueryValue, PromError> {
    range_with_stats(db, expr, start, end, step, opts).map(|(v, _)| v)
}

/// [`range`], with what it cost.
pub fn range_with_stats(
    db: &Db,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    opts: &EvalOptions,
) -> Result<(QueryValue, EvalStats), PromError> {
    let t = expr.value_type();
    if t != ValueType::Scalar && t != ValueType::Vector {
        return Err(PromError::BadData(format!(
            "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
            t.name()
        )));
    }
    if step <= 0 || end < start {
        return Err(PromError::BadData(
            "invalid range: end before start or step not positive".into(),
        ));
    }
    let n = ((end - start) / step) as usize + 1;
    let ev = Ev::new(db, opts, start, end);
    let steps = Steps { start, step, n };
    let to_points = |s: &Series| -> Vec<(i64, f64)> {
        (0..n)
            .filter(|&i| s.has[i])
            .map(|i| (steps.at(i), s.vals[i]))
            .collect()
    };
    let value = match ev.eval(expr, &steps)? {
        Val::Scalar(s) => QueryValue::Matrix(vec![(
            Labels::default(),
            s.iter()
                .enumerate()
                .map(|(i, &v)| (steps.at(i), v))
                .collect(),
        )]),
        Val::Vector(v) => {
            let mut out: Vec<(Labels, Vec<(i64, f64)>)> = v
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| (s.labels.clone(), to_points(s)))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            QueryValue::Matrix(out)
        }
        _ => return exec_err("range query must evaluate to a scalar or an instant vector"),
    };
    Ok((value, ev.stats()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(l: &str, vals: &[Option<f64>]) -> Series {
        Series {
            labels: Labels::from_pairs([("a".to_owned(), l.to_owned())]),
            vals: vals.iter().map(|v| v.unwrap_or(0.0)).collect(),
            has: vals.iter().map(Option::is_some).collect(),
        }
    }

    #[test]
    fn same_labels_merge_when_disjoint_and_fail_when_not() {
        let v = merge_same_labels(vec![s("x", &[Some(1.0), None]), s("x", &[None, Some(2.0)])])
            .unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].vals, vec![1.0, 2.0]);
        let e = merge_same_labels(vec![s("x", &[Some(1.0), None]), s("x", &[Some(3.0), None])]);
        assert!(matches!(e, Err(PromError::Execution(m)) if m.contains("same labelset")));
    }

    #[test]
    fn stale_marker_is_one_exact_nan() {
        assert!(is_stale(f64::from_bits(STALE_NAN_BITS)));
        assert!(!is_stale(f64::NAN));
    }
}
