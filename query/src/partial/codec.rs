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
use std::collections::BTreeMap;

/// Bytes that are not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt partial-state encoding at byte {offset}: {what}")]
pub struct DecodeError {
    /// Offset of the bad byte in the input.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

/// Values a value-keeping state ships exactly; a percentile or median over more points
/// travels as a [`Sketch`] (1% relative error, see [`super::sketch`]).
pub const EXACT_VALUES_MAX: usize = 1024;

/// Writes the encoding of values into a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An unsigned varint.
    pub fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A zigzagged signed varint.
    pub fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    /// An i128 as two halves (low unsigned, high signed).
    pub fn i128(&mut self, v: i128) {
        self.u64(v as u64);
        self.i64((v >> 64) as i64);
    }

    /// A float, bit-exact.
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A length-prefixed string.
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
}

/// Reads values back, checking every length against the bytes left.
#[derive(Debug)]
pub struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `src`.
    pub fn new(src: &'a [u8]) -> Reader<'a> {
        Reader { src, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.src.len()
    }

    /// The error for the current offset.
    pub fn err(&self, what: &'static str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            what,
        }
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.src.get(self.pos).ok_or(self.err("a byte"))?;
        self.pos += 1;
        Ok(b)
    }

    /// An unsigned varint (at most 10 bytes).
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(self.err("a varint that fits 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("the end of a varint"))
    }

    /// A zigzagged signed varint.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        let u = self.u64()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// An i128 written by [`Writer::i128`].
    pub fn i128(&mut self) -> Result<i128, DecodeError> {
        let lo = self.u64()?;
        let hi = self.i64()?;
        Ok((i128::from(hi) << 64) | i128::from(lo))
    }

    /// A float.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        let b = self.take(8, "8 bytes of a float")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    /// A count of items that each take at least `min_item` bytes: refused when the bytes
    /// left cannot hold that many, so nothing is reserved beyond the input's size.
    pub fn len(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        let left = (self.src.len() - self.pos) as u64;
        if n.saturating_mul(min_item.max(1) as u64) > left {
            return Err(self.err("a count the bytes left can hold"));
        }
        Ok(n as usize)
    }

    /// `n` raw bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.src.len() - self.pos < n {
            return Err(self.err(what));
        }
        let b = &self.src[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len(1)?;
        self.take(n, "bytes")
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError {
                offset: start,
                what: "a UTF-8 string",
            })
    }

    fn opt(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError {
                offset: self.pos - 1,
                what: "0 or 1 (absent or present)",
            }),
        }
    }
}

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

fn put_store(w: &mut Writer, s: &BTreeMap<i32, u64>) {
    w.u64(s.len() as u64);
    let mut prev = 0i64;
    for (i, c) in s {
        w.i64(i64::from(*i) - prev);
        prev = i64::from(*i);
        w.u64(*c);
    }
}

fn get_store(r: &mut Reader<'_>) -> Result<BTreeMap<i32, u64>, DecodeError> {
    let n = r.len(2)?;
    if n > super::sketch::MAX_BUCKETS {
        return Err(r.err("at most 2048 sketch buckets"));
    }
    let mut s = BTreeMap::new();
    let mut prev = 0i64;
    for _ in 0..n {
        let d = r.i64()?;
        let i = prev
            .checked_add(d)
            .and_then(|i| i32::try_from(i).ok())
            .ok_or(r.err("a sketch bucket index"))?;
        if !s.is_empty() && i64::from(i) <= prev {
            return Err(r.err("increasing sketch bucket indices"));
        }
        prev = i64::from(i);
        s.insert(i, r.u64()?);
    }
    Ok(s)
}

/// Appends the encoding of a sketch.
pub fn put_sketch(w: &mut Writer, s: &Sketch) {
    put_store(w, &s.pos);
    put_store(w, &s.neg);
    for c in [s.zeros, s.neg_inf, s.pos_inf, s.nan] {
        w.u64(c);
    }
    w.f64(s.min);
    w.f64(s.max);
}

/// Reads a sketch.
pub fn get_sketch(r: &mut Reader<'_>) -> Result<Sketch, DecodeError> {
    Ok(Sketch {
        pos: get_store(r)?,
        neg: get_store(r)?,
        zeros: r.u64()?,
        neg_inf: r.u64()?,
        pos_inf: r.u64()?,
        nan: r.u64()?,
        min: r.f64()?,
        max: r.f64()?,
    })
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
