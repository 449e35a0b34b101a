//! The compact binary form of partial states (docs/CLUSTER.md, "Wire format"), written by
//! hand like every Strata format: unsigned integers as LEB128 varints, signed ones
//! zigzagged first, floats as their 8 little-endian IEEE-754 bytes (bit-exact, NaN
//! payloads and stale markers included), strings as a varint length and UTF-8 bytes.
//!
//! Invariants: `decode(encode(s)) == s` for every state (a property test); decoding any
//! bytes returns a state or a [`DecodeError`] naming the offset, never panics and never
//! allocates more than the input can describe (lengths are checked against the bytes
//! left before anything is reserved).

use super::sketch::Sketch;
use super::state::{AggKind, Num, State};
pub use strata_engine::rollup::wire::{DecodeError, Reader, Writer, get_sketch, put_sketch};

/// Values a value-keeping state ships exactly; a percentile or median over more points
/// travels as a [`Sketch`] (1% relative error, see [`super::sketch`]).
pub const EXACT_VALUES_MAX: usize = 1024;

fn put_num(w: &mut Writer, n: &Num) {
    match n {
        Num::F(f) => {
            w.u8(0);
            w.f64(*f);
        }
        Num::I(i) => {
            w.u8(1);
            w.i64(*i);
        }
        Num::U(u) => {
            w.u8(2);
            w.u64(*u);
        }
        Num::S(s) => {
            w.u8(3);
            w.str(s);
        }
        Num::B(b) => {
            w.u8(4);
            w.u8(u8::from(*b));
        }
    }
}

fn get_num(r: &mut Reader<'_>) -> Result<Num, DecodeError> {
    Ok(match r.u8()? {
        0 => Num::F(r.f64()?),
        1 => Num::I(r.i64()?),
        2 => Num::U(r.u64()?),
        3 => Num::S(r.str()?),
        4 => match r.u8()? {
            0 => Num::B(false),
            1 => Num::B(true),
            _ => return Err(r.err("a boolean (0 or 1)")),
        },
        _ => return Err(r.err("a value type (0 to 4)")),
    })
}

fn put_opt<T>(w: &mut Writer, v: &Option<T>, f: impl FnOnce(&mut Writer, &T)) {
    match v {
        None => w.u8(0),
        Some(x) => {
            w.u8(1);
            f(w, x);
        }
    }
}

fn get_opt<'a, T>(
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    if r.opt()? { Ok(Some(f(r)?)) } else { Ok(None) }
}

/// Appends the encoding of `s`.
pub fn put_state(w: &mut Writer, s: &State) {
    match s {
        State::Count(n) => {
            w.u8(0);
            w.u64(*n);
        }
        State::Sum { f, i, n } => {
            w.u8(1);
            w.f64(*f);
            w.i128(*i);
            w.u64(*n);
        }
        State::Mean { sum, n } => {
            w.u8(2);
            w.f64(*sum);
            w.u64(*n);
        }
        State::MinMax { min, max } => {
            w.u8(3);
            for m in [min, max] {
                put_opt(w, m, |w, (v, t)| {
                    put_num(w, v);
                    w.i64(*t);
                });
            }
        }
        State::Moments { n, mean, m2 } => {
            w.u8(4);
            w.u64(*n);
            w.f64(*mean);
            w.f64(*m2);
        }
        State::Point(p) => {
            w.u8(5);
            put_opt(w, p, |w, (t, v)| {
                w.i64(*t);
                put_num(w, v);
            });
        }
        State::Counter {
            first,
            last,
            prev,
            inc,
            merged,
        } => {
            w.u8(6);
            for p in [first, last] {
                put_opt(w, p, |w, (t, v)| {
                    w.i64(*t);
                    w.f64(*v);
                });
            }
            put_opt(w, prev, |w, v| w.f64(*v));
            w.f64(*inc);
            put_opt(w, merged, |w, v| w.f64(*v));
        }
        State::Values(v) => {
            w.u8(7);
            w.u64(v.len() as u64);
            let mut prev = 0i64;
            for (t, n) in v {
                w.i64(t.wrapping_sub(prev));
                prev = *t;
                put_num(w, n);
            }
        }
        State::Hist(h) => {
            w.u8(8);
            w.u64(h.len() as u64);
            for (le, c) in h {
                w.f64(*le);
                w.f64(*c);
            }
        }
        State::Area(a) => {
            w.u8(9);
            put_opt(w, a, |w, v| w.f64(*v));
        }
        State::Counts(c) => {
            w.u8(10);
            w.u64(c.len() as u64);
            for (v, n, t) in c {
                put_num(w, v);
                w.u64(*n);
                w.i64(*t);
            }
        }
        State::Sketch(s) => {
            w.u8(11);
            put_sketch(w, s);
        }
    }
}

/// Reads one state.
pub fn get_state(r: &mut Reader<'_>) -> Result<State, DecodeError> {
    Ok(match r.u8()? {
        0 => State::Count(r.u64()?),
        1 => State::Sum {
            f: r.f64()?,
            i: r.i128()?,
            n: r.u64()?,
        },
        2 => State::Mean {
            sum: r.f64()?,
            n: r.u64()?,
        },
        3 => {
            let mut m = || get_opt(r, |r| Ok((get_num(r)?, r.i64()?)));
            let min = m()?;
            let max = m()?;
            State::MinMax { min, max }
        }
        4 => State::Moments {
            n: r.u64()?,
            mean: r.f64()?,
            m2: r.f64()?,
        },
        5 => State::Point(get_opt(r, |r| Ok((r.i64()?, get_num(r)?)))?),
        6 => {
            let first = get_opt(r, |r| Ok((r.i64()?, r.f64()?)))?;
            let last = get_opt(r, |r| Ok((r.i64()?, r.f64()?)))?;
            State::Counter {
                first,
                last,
                prev: get_opt(r, Reader::f64)?,
                inc: r.f64()?,
                merged: get_opt(r, Reader::f64)?,
            }
        }
        7 => {
            let n = r.len(3)?;
            let mut v = Vec::with_capacity(n);
            let mut prev = 0i64;
            for _ in 0..n {
                let t = prev.wrapping_add(r.i64()?);
                prev = t;
                v.push((t, get_num(r)?));
            }
            State::Values(v)
        }
        8 => {
            let n = r.len(16)?;
            let mut h = Vec::with_capacity(n);
            for _ in 0..n {
                h.push((r.f64()?, r.f64()?));
            }
            State::Hist(h)
        }
        9 => State::Area(get_opt(r, Reader::f64)?),
        10 => {
            let n = r.len(4)?;
            let mut c = Vec::with_capacity(n);
            for _ in 0..n {
                c.push((get_num(r)?, r.u64()?, r.i64()?));
            }
            State::Counts(c)
        }
        11 => State::Sketch(get_sketch(r)?),
        _ => return Err(r.err("a state type (0 to 11)")),
    })
}

/// The encoding of one state, on its own.
pub fn encode_state(s: &State) -> Vec<u8> {
    let mut w = Writer::default();
    put_state(&mut w, s);
    w.buf
}

/// Decodes exactly one state from `src`.
pub fn decode_state(src: &[u8]) -> Result<State, DecodeError> {
    let mut r = Reader::new(src);
    let s = get_state(&mut r)?;
    if !r.is_empty() {
        return Err(r.err("the end of the input"));
    }
    Ok(s)
}

impl State {
    /// The state as it travels between nodes for function `kind`: what the function's
    /// result needs and no more. Mode keeps distinct values with counts
    /// ([`State::Counts`]); top and bottom keep their best N points; percentiles and
    /// median over more than [`EXACT_VALUES_MAX`] numeric points become a [`Sketch`].
    /// Every other state travels as it is (its size does not grow with points).
    pub fn for_wire(self, kind: AggKind) -> State {
        let State::Values(vals) = self else {
            return self;
        };
        match kind {
            AggKind::Mode => State::Counts(counts_of(vals)),
            AggKind::Top(_) | AggKind::Bottom(_) => {
                let best = State::Values(vals).best_rows(kind);
                State::Values(
                    best.into_iter()
                        .filter_map(|(t, v)| Num::from_value(&v).map(|n| (t, n)))
                        .collect(),
                )
            }
            AggKind::Percentile(_) | AggKind::Median
                if vals.len() > EXACT_VALUES_MAX
                    && vals
                        .iter()
                        .all(|(_, n)| !matches!(n, Num::S(_) | Num::B(_))) =>
            {
                let mut s = Sketch::new();
                for (_, n) in &vals {
                    s.add(n.f64());
                }
                State::Sketch(s)
            }
            _ => State::Values(vals),
        }
    }
}

/// Distinct values of `vals` with their count and earliest time, sorted by value.
pub(crate) fn counts_of(mut vals: Vec<(i64, Num)>) -> Vec<(Num, u64, i64)> {
    vals.sort_by(|a, b| a.1.order(&b.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<(Num, u64, i64)> = Vec::new();
    for (t, v) in vals {
        match out.last_mut() {
            Some((lv, c, _)) if lv.order(&v).is_eq() => *c += 1,
            _ => out.push((v, 1, t)),
        }
    }
    out
}

#[cfg(test)]
mod tests;
