//! A version 2 stripe: the buckets of consecutive same-typed entries, column by column
//! (docs/FORMAT.md, "Rollup file"). The bucket grid and the counts are run lists; times
//! are offsets inside the bucket and every value column is one block of the engine's own
//! codecs (`crate::codec`), the same the cold segments' columns use.
//!
//! Invariants: a stripe holds at most [`MAX_STRIPE_BUCKETS`] buckets; every codec block
//! holds exactly that many values and fills its section; decoding checks what v1 checked
//! (counts above zero, first and last times inside their bucket, first ≤ last) and
//! never allocates for more buckets than the grid's runs describe.

use super::super::Aggregates;
use super::super::columns::{BucketColumns, TypedValues, Values};
use super::super::wire::{DecodeError, Reader, Writer, get_sketch, put_sketch};
use super::RollupMeta;
use crate::codec;
use crate::model::FieldType;
use std::ops::Range;

/// A stripe is closed once it holds this many buckets (an entry is never split, so one
/// may end up to a day's slots larger): big enough that the per-block headers vanish,
/// small enough that a query needing one series decodes little else.
pub const STRIPE_BUCKETS: usize = 1 << 14;
/// The most buckets a stripe may hold (the codecs' block limit).
pub const MAX_STRIPE_BUCKETS: usize = codec::MAX_BLOCK_POINTS;

/// Section order inside a stripe.
const GRID: usize = 0;
const COUNTS: usize = 1;
const FIRST_OFF: usize = 2;
const LAST_SPAN: usize = 3;
const SUM: usize = 4;
const MIN: usize = 5;
const MAX: usize = 6;
const FIRST: usize = 7;
const LAST: usize = 8;
const SKETCH: usize = 9;

/// Sections in a stripe of a file with `aggregates`.
pub(super) fn sections(aggregates: u8) -> usize {
    if aggregates & Aggregates::QUANTILE != 0 {
        10
    } else {
        9
    }
}

/// Where a stripe's parts lie in the body.
#[derive(Debug, Clone)]
pub(super) struct StripeRef {
    pub ty: FieldType,
    /// Buckets in the stripe.
    pub buckets: usize,
    /// Each section's byte range in the body.
    pub sections: Vec<Range<usize>>,
    /// Each entry's number of buckets, in order.
    pub entry_buckets: Vec<usize>,
}

fn section(out: &mut Writer, body: impl FnOnce(&mut Vec<u8>)) {
    let mut b = Vec::new();
    body(&mut b);
    out.bytes(&b);
}

/// Appends the stripe holding `entries` (same type as `ty`, each with its buckets inside
/// `meta`'s day on its grid, checked by the caller).
pub(super) fn encode(
    out: &mut Writer,
    meta: &RollupMeta,
    ty: FieldType,
    entries: &[&BucketColumns],
) {
    let day_start = meta.day.saturating_mul(crate::compaction::DAY_NANOS);
    let m: usize = entries.iter().map(|e| e.len()).sum();
    out.u8(super::type_tag(ty));
    out.u64(entries.len() as u64);
    out.u64(m as u64);
    section(out, |b| {
        let mut w = Writer::default();
        for e in entries {
            let slots: Vec<i64> = e
                .start
                .iter()
                .map(|s| (s - day_start) / meta.interval)
                .collect();
            let mut runs: Vec<(i64, i64)> = Vec::new();
            for s in slots {
                match runs.last_mut() {
                    Some((a, n)) if *a + *n == s => *n += 1,
                    _ => runs.push((s, 1)),
                }
            }
            w.u64(runs.len() as u64);
            let mut p = 0;
            for (a, n) in runs {
                w.u64((a - p) as u64);
                w.u64((n - 1) as u64);
                p = a + n;
            }
        }
        b.extend_from_slice(&w.buf);
    });
    let cat = |f: &dyn Fn(&BucketColumns) -> &[i64]| -> Vec<i64> {
        entries.iter().flat_map(|e| f(e).iter().copied()).collect()
    };
    section(out, |b| {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &c in entries.iter().flat_map(|e| e.count.iter()) {
            match runs.last_mut() {
                Some((v, n)) if *v == c => *n += 1,
                _ => runs.push((c, 1)),
            }
        }
        let mut w = Writer::default();
        w.u64(runs.len() as u64);
        for (v, n) in runs {
            w.u64(v - 1);
            w.u64(n - 1);
        }
        b.extend_from_slice(&w.buf);
    });
    let starts = cat(&|e| e.start.as_slice());
    let first_t = cat(&|e| e.first_t.as_slice());
    let last_t = cat(&|e| e.last_t.as_slice());
    let first_off: Vec<i64> = first_t.iter().zip(&starts).map(|(f, s)| f - s).collect();
    let last_span: Vec<i64> = last_t.iter().zip(&first_t).map(|(l, f)| l - f).collect();
    section(out, |b| codec::encode_i64(&first_off, b));
    section(out, |b| codec::encode_i64(&last_span, b));
    match ty {
        FieldType::Float => {
            let v: Vec<&Values<f64, f64>> = entries
                .iter()
                .filter_map(|e| match &e.values {
                    TypedValues::Float(v) => Some(v),
                    _ => None,
                })
                .collect();
            value_sections(out, &v, codec::encode_floats, |s, b| {
                codec::encode_floats(s, b)
            });
        }
        FieldType::Integer => {
            let v: Vec<Values<i64, i128>> = entries
                .iter()
                .filter_map(|e| match &e.values {
                    TypedValues::Integer(v) => Some(sums_relative(relative(v), v, &e.count)),
                    _ => None,
                })
                .collect();
            let v: Vec<&Values<i64, i128>> = v.iter().collect();
            value_sections(out, &v, codec::encode_i64, |s, b| {
                // Low halves, then the high halves beyond the low half's sign extension
                // (all zero while sums fit an i64).
                let lo: Vec<i64> = s.iter().map(|&x| x as i64).collect();
                let hi: Vec<i64> = s
                    .iter()
                    .map(|&x| ((x >> 64) as i64).wrapping_sub((x as i64) >> 63))
                    .collect();
                codec::encode_i64(&lo, b);
                codec::encode_i64(&hi, b);
            });
        }
        _ => {
            let v: Vec<Values<u64, u128>> = entries
                .iter()
                .filter_map(|e| match &e.values {
                    TypedValues::Unsigned(v) => Some(relative(v)),
                    _ => None,
                })
                .collect();
            let v: Vec<&Values<u64, u128>> = v.iter().collect();
            value_sections(out, &v, codec::encode_u64, |s, b| {
                let lo: Vec<u64> = s.iter().map(|&x| x as u64).collect();
                let hi: Vec<u64> = s.iter().map(|&x| (x >> 64) as u64).collect();
                codec::encode_u64(&lo, b);
                codec::encode_u64(&hi, b);
            });
        }
    }
    if meta.aggregates & Aggregates::QUANTILE != 0 {
        section(out, |b| {
            let mut w = Writer::default();
            let empty = super::super::Sketch::new();
            for e in entries {
                for i in 0..e.len() {
                    put_sketch(&mut w, e.sketches.get(i).unwrap_or(&empty));
                }
            }
            b.extend_from_slice(&w.buf);
        });
    }
}

/// Integers with wrapping arithmetic, for the relative forms of [`relative`].
trait Wrapping: Copy + Ord {
    fn minus(self, o: Self) -> Self;
    fn plus(self, o: Self) -> Self;
}

impl Wrapping for i64 {
    fn minus(self, o: i64) -> i64 {
        self.wrapping_sub(o)
    }
    fn plus(self, o: i64) -> i64 {
        self.wrapping_add(o)
    }
}

impl Wrapping for u64 {
    fn minus(self, o: u64) -> u64 {
        self.wrapping_sub(o)
    }
    fn plus(self, o: u64) -> u64 {
        self.wrapping_add(o)
    }
}

/// One integer entry's values as stored: each first value after the first bucket as
/// its distance from the bucket before's last (one step of the series, not a whole
/// bucket's drift), min as its distance below the lower of first and last, max above the
/// higher; all wrapping, so every value round-trips ([`absolute`]).
fn relative<T: Wrapping, S: Copy>(v: &Values<T, S>) -> Values<T, S> {
    let n = v.first.len();
    let mut out = v.clone();
    for i in 0..n {
        let (f, l) = (v.first[i], v.last[i]);
        out.min[i] = f.min(l).minus(v.min[i]);
        out.max[i] = v.max[i].minus(f.max(l));
        if i > 0 {
            out.first[i] = f.minus(v.last[i - 1]);
        }
    }
    out
}

/// The inverse of [`relative`] over the entries of a stripe (`entries`: each one's
/// bucket count, summing to the columns' length).
fn absolute<T: Wrapping, S: Copy>(mut v: Values<T, S>, entries: &[usize]) -> Values<T, S> {
    let mut at = 0;
    for &n in entries {
        for i in at..(at + n).min(v.first.len()) {
            if i > at {
                v.first[i] = v.first[i].plus(v.last[i - 1]);
            }
            let (f, l) = (v.first[i], v.last[i]);
            v.min[i] = f.min(l).minus(v.min[i]);
            v.max[i] = v.max[i].plus(f.max(l));
        }
        at += n;
    }
    v
}

/// What an integer bucket's sum is stored against: its count times the mean of its first
/// and last values (the sum a straight line between them would give; a series wanders
/// around that line far less than it drifts from bucket to bucket). Wrapping, so it
/// exists for any bytes.
fn sum_estimate(count: u64, first: i64, last: i64) -> i128 {
    i128::from(count)
        .wrapping_mul(i128::from(first) + i128::from(last))
        .div_euclid(2)
}

/// `stored` (from [`relative`]) with each sum as its distance from [`sum_estimate`] over
/// the absolute values `v`.
fn sums_relative(
    mut stored: Values<i64, i128>,
    v: &Values<i64, i128>,
    count: &[u64],
) -> Values<i64, i128> {
    for (i, s) in stored.sum.iter_mut().enumerate() {
        *s = v.sum[i].wrapping_sub(sum_estimate(count[i], v.first[i], v.last[i]));
    }
    stored
}

/// The inverse of [`sums_relative`], once first and last are absolute again.
fn sums_absolute(mut v: Values<i64, i128>, count: &[u64]) -> Values<i64, i128> {
    for (i, c) in count.iter().enumerate().take(v.sum.len()) {
        v.sum[i] = v.sum[i].wrapping_add(sum_estimate(*c, v.first[i], v.last[i]));
    }
    v
}

/// Picks one value column.
type Pick<T, S> = fn(&Values<T, S>) -> &Vec<T>;

/// Appends the sum, min, max, first and last sections of `vals`, concatenated.
fn value_sections<T: Copy, S: Copy>(
    out: &mut Writer,
    vals: &[&Values<T, S>],
    enc: fn(&[T], &mut Vec<u8>),
    sum: impl FnOnce(&[S], &mut Vec<u8>),
) {
    let sums: Vec<S> = vals.iter().flat_map(|v| v.sum.iter().copied()).collect();
    section(out, |b| sum(&sums, b));
    let cols: [Pick<T, S>; 4] = [|v| &v.min, |v| &v.max, |v| &v.first, |v| &v.last];
    for col in cols {
        let c: Vec<T> = vals.iter().flat_map(|v| col(v).iter().copied()).collect();
        section(out, |b| enc(&c, b));
    }
}

/// The grid runs of one entry: `(first slot, length)` pairs, checked against `slots` in
/// a day.
fn grid_runs(r: &mut Reader<'_>, slots: i64) -> Result<Vec<(i64, i64)>, DecodeError> {
    let n = r.len(2)?;
    let mut runs = Vec::with_capacity(n);
    let mut p: i64 = 0;
    for k in 0..n {
        let gap = r.u64()?;
        let len = r.u64()?;
        if k > 0 && gap == 0 {
            return Err(r.err("a gap between grid runs"));
        }
        let a = i64::try_from(gap)
            .ok()
            .and_then(|g| p.checked_add(g))
            .filter(|a| *a < slots)
            .ok_or(r.err("a grid run inside the day"))?;
        let len = i64::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(1))
            .filter(|l| a + l <= slots)
            .ok_or(r.err("a grid run inside the day"))?;
        runs.push((a, len));
        p = a + len;
    }
    Ok(runs)
}

/// Reads a stripe's header, sections and grid (not its columns) at `r`.
pub(super) fn read_ref(
    r: &mut Reader<'_>,
    body_len: usize,
    meta: &RollupMeta,
) -> Result<StripeRef, DecodeError> {
    let ty = super::type_of(r.u8()?).ok_or(r.err("a numeric type (1 to 3)"))?;
    let k = r.len(2)?;
    if k == 0 {
        return Err(r.err("a stripe of at least one entry"));
    }
    let m = usize::try_from(r.u64()?)
        .ok()
        .filter(|m| *m <= MAX_STRIPE_BUCKETS)
        .ok_or(r.err("at most 2^20 buckets in a stripe"))?;
    let mut sections = Vec::with_capacity(10);
    let mut grid = None;
    for s in 0..sections_of(meta) {
        let len = r.len(1)?;
        let at = body_len - r.left();
        let bytes = r.take(len, "a section")?;
        if s == GRID {
            grid = Some((bytes, at));
        }
        sections.push(at..at + len);
    }
    let Some((grid, at)) = grid else {
        return Err(r.err("a grid section"));
    };
    let slots = crate::compaction::DAY_NANOS / meta.interval;
    let mut g = Reader::new(grid);
    let mut entry_buckets = Vec::with_capacity(k);
    let mut total = 0usize;
    for _ in 0..k {
        let runs = grid_runs(&mut g, slots).map_err(|e| shift(e, at))?;
        let n: i64 = runs.iter().map(|r| r.1).sum();
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        total = total.saturating_add(n);
        entry_buckets.push(n);
    }
    if total != m || !g.is_empty() {
        return Err(DecodeError {
            offset: at,
            what: "a grid that fills its section and holds the stripe's buckets",
        });
    }
    Ok(StripeRef {
        ty,
        buckets: m,
        sections,
        entry_buckets,
    })
}

fn sections_of(meta: &RollupMeta) -> usize {
    sections(meta.aggregates)
}

fn shift(e: DecodeError, by: usize) -> DecodeError {
    DecodeError {
        offset: e.offset + by,
        what: e.what,
    }
}

/// A codec decoder's values: exactly `m`, filling `src`.
fn block<T>(
    src: &[u8],
    at: usize,
    m: usize,
    dec: fn(&[u8], &mut Vec<T>) -> Result<usize, codec::CodecError>,
) -> Result<(Vec<T>, usize), DecodeError> {
    let mut v = Vec::new();
    let used = dec(src, &mut v).map_err(|e| DecodeError {
        offset: at + e.offset,
        what: e.what,
    })?;
    if v.len() != m {
        return Err(DecodeError {
            offset: at,
            what: "a column of the stripe's bucket count",
        });
    }
    Ok((v, used))
}

fn whole<T>(
    body: &[u8],
    sec: &Range<usize>,
    m: usize,
    dec: fn(&[u8], &mut Vec<T>) -> Result<usize, codec::CodecError>,
) -> Result<Vec<T>, DecodeError> {
    let (v, used) = block(&body[sec.clone()], sec.start, m, dec)?;
    if used != sec.len() {
        return Err(DecodeError {
            offset: sec.start + used,
            what: "a column that fills its section",
        });
    }
    Ok(v)
}

fn pair<T>(
    body: &[u8],
    sec: &Range<usize>,
    m: usize,
    dec: fn(&[u8], &mut Vec<T>) -> Result<usize, codec::CodecError>,
) -> Result<(Vec<T>, Vec<T>), DecodeError> {
    let src = &body[sec.clone()];
    let (lo, used) = block(src, sec.start, m, dec)?;
    let rest = sec.start + used..sec.end;
    Ok((lo, whole(body, &rest, m, dec)?))
}

/// Decodes the columns of stripe `s` of `body`.
pub(super) fn decode(
    body: &[u8],
    meta: &RollupMeta,
    s: &StripeRef,
) -> Result<BucketColumns, DecodeError> {
    let m = s.buckets;
    let day_start = super::day_bounds(meta.day)
        .ok_or(DecodeError {
            offset: 0,
            what: "a day inside the nanosecond timestamp range",
        })?
        .0;
    let slots = crate::compaction::DAY_NANOS / meta.interval;
    let grid = &s.sections[GRID];
    let mut g = Reader::new(&body[grid.clone()]);
    let mut start = Vec::with_capacity(m);
    for _ in &s.entry_buckets {
        for (a, n) in grid_runs(&mut g, slots).map_err(|e| shift(e, grid.start))? {
            start.extend((a..a + n).map(|x| day_start + x * meta.interval));
        }
    }
    let cs = &s.sections[COUNTS];
    let mut r = Reader::new(&body[cs.clone()]);
    let runs = r.len(2).map_err(|e| shift(e, cs.start))?;
    let mut count = Vec::with_capacity(m);
    for _ in 0..runs {
        let v = r.u64().map_err(|e| shift(e, cs.start))?;
        let n = r.u64().map_err(|e| shift(e, cs.start))?;
        let (Some(v), Some(n)) = (v.checked_add(1), n.checked_add(1)) else {
            return Err(shift(r.err("a count run"), cs.start));
        };
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > m - count.len() {
            return Err(shift(
                r.err("count runs that hold the stripe's buckets"),
                cs.start,
            ));
        }
        count.extend(std::iter::repeat_n(v, n));
    }
    if count.len() != m || !r.is_empty() {
        return Err(DecodeError {
            offset: cs.start,
            what: "count runs that hold the stripe's buckets and fill their section",
        });
    }
    let first_off = whole(body, &s.sections[FIRST_OFF], m, codec::decode_i64)?;
    let last_span = whole(body, &s.sections[LAST_SPAN], m, codec::decode_i64)?;
    let mut first_t = Vec::with_capacity(m);
    let mut last_t = Vec::with_capacity(m);
    for i in 0..m {
        let f = first_off[i];
        let l = last_span[i];
        if f < 0 || f >= meta.interval || l < 0 || l >= meta.interval - f {
            return Err(DecodeError {
                offset: s.sections[FIRST_OFF].start,
                what: "first and last times inside their bucket",
            });
        }
        first_t.push(start[i] + f);
        last_t.push(start[i] + f + l);
    }
    let sec = |i: usize| &s.sections[i];
    let values = match s.ty {
        FieldType::Float => TypedValues::Float(Values {
            sum: whole(body, sec(SUM), m, codec::decode_floats)?,
            min: whole(body, sec(MIN), m, codec::decode_floats)?,
            max: whole(body, sec(MAX), m, codec::decode_floats)?,
            first: whole(body, sec(FIRST), m, codec::decode_floats)?,
            last: whole(body, sec(LAST), m, codec::decode_floats)?,
        }),
        FieldType::Integer => {
            let (lo, hi) = pair(body, sec(SUM), m, codec::decode_i64)?;
            let sum = lo
                .iter()
                .zip(&hi)
                .map(|(&l, &h)| {
                    let h = h.wrapping_add(l >> 63);
                    (i128::from(h) << 64) | i128::from(l as u64)
                })
                .collect();
            TypedValues::Integer(sums_absolute(
                absolute(
                    Values {
                        sum,
                        min: whole(body, sec(MIN), m, codec::decode_i64)?,
                        max: whole(body, sec(MAX), m, codec::decode_i64)?,
                        first: whole(body, sec(FIRST), m, codec::decode_i64)?,
                        last: whole(body, sec(LAST), m, codec::decode_i64)?,
                    },
                    &s.entry_buckets,
                ),
                &count,
            ))
        }
        _ => {
            let (lo, hi) = pair(body, sec(SUM), m, codec::decode_u64)?;
            let sum = lo
                .iter()
                .zip(&hi)
                .map(|(&l, &h)| (u128::from(h) << 64) | u128::from(l))
                .collect();
            TypedValues::Unsigned(absolute(
                Values {
                    sum,
                    min: whole(body, sec(MIN), m, codec::decode_u64)?,
                    max: whole(body, sec(MAX), m, codec::decode_u64)?,
                    first: whole(body, sec(FIRST), m, codec::decode_u64)?,
                    last: whole(body, sec(LAST), m, codec::decode_u64)?,
                },
                &s.entry_buckets,
            ))
        }
    };
    let mut sketches = Vec::new();
    if meta.aggregates & Aggregates::QUANTILE != 0 {
        let ss = sec(SKETCH);
        let mut r = Reader::new(&body[ss.clone()]);
        // Each sketch takes at least 18 bytes: refuse counts the section cannot hold
        // before reserving anything.
        if m.saturating_mul(18) > ss.len() {
            return Err(DecodeError {
                offset: ss.start,
                what: "a sketch per bucket",
            });
        }
        sketches.reserve(m);
        for _ in 0..m {
            sketches.push(get_sketch(&mut r).map_err(|e| shift(e, ss.start))?);
        }
        if !r.is_empty() {
            return Err(DecodeError {
                offset: ss.start,
                what: "sketches that fill their section",
            });
        }
    }
    Ok(BucketColumns {
        start,
        count,
        first_t,
        last_t,
        values,
        sketches,
    })
}
