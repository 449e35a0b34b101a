//! A series' blocks cut and encoded apart from the segment file, so that compaction can
//! encode many series on worker threads and append them to one [`super::SegmentWriter`]
//! in series order.
//!
//! Invariants:
//! - every payload is a pure function of (writer options, column data, block range): the
//!   same data encodes to the same bytes on any thread, in any order;
//! - the only state a block's bytes depend on beyond its own data is whether an earlier
//!   block *of the same segment, in file order* has the same timestamps (shared
//!   timestamps, format version 2). That decision is made by the writer alone, at append
//!   time, in series order. A [`SharingHint`] only guesses it so a worker can encode the
//!   form that will most likely be used; a wrong guess costs time (the writer encodes the
//!   other form itself), never different bytes.

use super::{BlockEncoding, BlockStats, WriterOptions, pad8};
use crate::codec;
use crate::error::{Error, Result};
use crate::model::{ColumnData, ColumnValues};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::hash::Hasher;
use std::ops::Range;

/// A block's payload and how it is stored. For the shared forms the bytes are the value
/// part only; the writer puts the number of the block whose timestamps it borrows first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub encoding: BlockEncoding,
    pub bytes: Vec<u8>,
}

/// One block of a prepared column: its rows, statistics, and the payloads computed so far.
#[derive(Debug)]
pub(crate) struct PreparedBlock {
    pub range: Range<usize>,
    /// Hash of the block's timestamps (shared-timestamp lookups).
    pub ts_hash: u64,
    /// The encoded [`BlockStats`].
    pub stats: [u8; 32],
    /// The block stored on its own (`Raw`, `Codec` or `CodecZstd`), if computed.
    pub full: Option<Payload>,
    /// The value part of the block as `SharedCodec`/`SharedCodecZstd`, if computed.
    pub values_only: Option<Payload>,
}

/// One column of a prepared series.
#[derive(Debug)]
pub(crate) struct PreparedColumn<'a> {
    pub name: Cow<'a, str>,
    pub data: Cow<'a, ColumnData>,
    pub blocks: Vec<PreparedBlock>,
}

/// A series checked and cut into blocks under some [`WriterOptions`], ready for
/// [`super::SegmentWriter::add_prepared`]. Building one checks the columns' order;
/// [`PreparedSeries::encode`] (optional, e.g. on a worker thread) computes the payloads.
#[derive(Debug)]
pub struct PreparedSeries<'a> {
    pub(crate) key: Cow<'a, [u8]>,
    pub(crate) opts: WriterOptions,
    pub(crate) columns: Vec<PreparedColumn<'a>>,
}

impl<'a> PreparedSeries<'a> {
    /// Checks and cuts `columns` (name, data) of series `key` (canonical key bytes) into
    /// blocks under `opts`. Each column's timestamps must strictly increase; empty columns
    /// are skipped.
    pub fn new(
        opts: WriterOptions,
        key: Cow<'a, [u8]>,
        columns: impl IntoIterator<Item = (Cow<'a, str>, Cow<'a, ColumnData>)>,
    ) -> Result<PreparedSeries<'a>> {
        let mut out = Vec::new();
        for (name, data) in columns {
            if data.is_empty() {
                continue;
            }
            if data.timestamps.len() != data.values.len()
                || data.timestamps.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(Error::Internal(format!(
                    "segment writer: column {name:?} is not strictly time-ordered"
                )));
            }
            let blocks = cut(&opts, &data);
            out.push(PreparedColumn { name, data, blocks });
        }
        Ok(PreparedSeries {
            key,
            opts,
            columns: out,
        })
    }

    /// Computes the payloads the writer will most likely need: for codec blocks with
    /// zstd, the shared form when `hint` has seen the block's timestamps before, else the
    /// full form (see the module's invariants).
    pub fn encode(&mut self, hint: Option<&SharingHint>) -> Result<()> {
        let opts = self.opts;
        for c in &mut self.columns {
            for b in &mut c.blocks {
                let ts = &c.data.timestamps[b.range.clone()];
                let shared = opts.encoding == BlockEncoding::CodecZstd
                    && hint.is_some_and(|h| !h.first_sight(b.ts_hash, ts));
                if shared {
                    b.values_only = Some(values_payload(&opts, &c.data, b.range.clone())?);
                } else {
                    b.full = Some(full_payload(&opts, &c.data, b.range.clone())?);
                }
            }
        }
        Ok(())
    }

    /// Heap bytes held: the columns' data and the payloads computed so far.
    pub fn heap_bytes(&self) -> usize {
        let mut n = self.key.len();
        for c in &self.columns {
            n += c.name.len() + c.data.timestamps.len() * 8 + values_bytes(&c.data.values);
            for b in &c.blocks {
                n += b.stats.len()
                    + b.full.as_ref().map_or(0, |p| p.bytes.len())
                    + b.values_only.as_ref().map_or(0, |p| p.bytes.len());
            }
        }
        n
    }
}

fn values_bytes(v: &ColumnValues) -> usize {
    match v {
        ColumnValues::Float(v) => v.len() * 8,
        ColumnValues::Integer(v) => v.len() * 8,
        ColumnValues::Unsigned(v) => v.len() * 8,
        ColumnValues::Boolean(v) => v.len(),
        ColumnValues::String(v) => v.iter().map(|s| s.len() + 24).sum(),
    }
}

/// Cuts `data` into blocks: never across a multiple of the block span, at most
/// `block_points` each.
fn cut(opts: &WriterOptions, data: &ColumnData) -> Vec<PreparedBlock> {
    let (span_ns, max_points) = (opts.block_span_nanos.max(1), opts.block_points.max(1));
    let ts = &data.timestamps;
    let mut blocks = Vec::new();
    let mut start = 0;
    while start < ts.len() {
        let span = ts[start].div_euclid(span_ns);
        let mut end = start + 1;
        while end < ts.len() && end - start < max_points && ts[end].div_euclid(span_ns) == span {
            end += 1;
        }
        blocks.push(PreparedBlock {
            range: start..end,
            ts_hash: timestamps_hash(&ts[start..end]),
            stats: BlockStats::compute(&data.values, start..end).encode(),
            full: None,
            values_only: None,
        });
        start = end;
    }
    blocks
}

/// The hash under which blocks with equal timestamps are found.
pub(crate) fn timestamps_hash(ts: &[i64]) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for t in ts {
        h.write_i64(*t);
    }
    h.finish()
}

/// Most timestamps a [`SharingHint`] or a writer keeps to find blocks that can share them
/// (64 MiB).
pub(crate) const MAX_SHARED_TIMESTAMPS: usize = 8 << 20;

/// Timestamp sets already seen by any worker encoding series for one segment: a guess
/// of which blocks the writer will store with shared timestamps (module docs). Bounded
/// like the writer's own table, by [`MAX_SHARED_TIMESTAMPS`].
#[derive(Debug, Default)]
pub struct SharingHint {
    seen: Mutex<SeenTimestamps>,
}

/// Timestamp sets by hash, and how many timestamps they hold together.
type SeenTimestamps = (FxHashMap<u64, Vec<Box<[i64]>>>, usize);

impl SharingHint {
    /// Whether `ts` (hashing to `hash`) is seen here for the first time; remembers it.
    fn first_sight(&self, hash: u64, ts: &[i64]) -> bool {
        let mut g = self.seen.lock();
        let (map, len) = &mut *g;
        let candidates = map.entry(hash).or_default();
        if candidates.iter().any(|c| **c == *ts) {
            return false;
        }
        if *len + ts.len() <= MAX_SHARED_TIMESTAMPS {
            *len += ts.len();
            candidates.push(ts.into());
        }
        true
    }
}

fn compress(plain: &[u8], level: i32) -> Result<Vec<u8>> {
    crate::codec::zstd_ctx::compress(plain, level)
        .map_err(|e| Error::Internal(format!("zstd compression at level {level} failed: {e}")))
}

/// The block stored on its own: raw arrays (warm) or a timestamp and a value codec block,
/// zstd-compressed when that is smaller (cold).
pub(crate) fn full_payload(
    opts: &WriterOptions,
    data: &ColumnData,
    r: Range<usize>,
) -> Result<Payload> {
    if opts.encoding == BlockEncoding::Raw {
        return Ok(Payload {
            encoding: BlockEncoding::Raw,
            bytes: raw_payload(data, r)?,
        });
    }
    let mut plain = Vec::new();
    codec::encode_timestamps(&data.timestamps[r.clone()], &mut plain);
    encode_values(&data.values, r.clone(), &mut plain);
    if opts.encoding == BlockEncoding::CodecZstd {
        let level = opts.zstd_level;
        let mut best = compress(&plain, level)?;
        // Integers: the one-byte-per-delta form often compresses smaller under zstd
        // than the bit-packed one, though it is larger before; keep whichever wins.
        let mut bytewise = Vec::new();
        codec::encode_timestamps(&data.timestamps[r.clone()], &mut bytewise);
        let ts_len = bytewise.len();
        let applies = match &data.values {
            ColumnValues::Integer(v) => codec::encode_i64_bytewise(&v[r], &mut bytewise),
            ColumnValues::Unsigned(v) => codec::encode_u64_bytewise(&v[r], &mut bytewise),
            _ => false,
        };
        if applies && bytewise.len() > ts_len {
            let other = compress(&bytewise, level)?;
            if other.len() < best.len() {
                best = other;
            }
        }
        if best.len() < plain.len() {
            return Ok(Payload {
                encoding: BlockEncoding::CodecZstd,
                bytes: best,
            });
        }
    }
    Ok(Payload {
        encoding: BlockEncoding::Codec,
        bytes: plain,
    })
}

/// The value part of a block that borrows an earlier block's timestamps, zstd-compressed
/// when that is smaller.
pub(crate) fn values_payload(
    opts: &WriterOptions,
    data: &ColumnData,
    r: Range<usize>,
) -> Result<Payload> {
    let mut plain = Vec::new();
    encode_values(&data.values, r.clone(), &mut plain);
    let level = opts.zstd_level;
    let mut best = compress(&plain, level)?;
    let mut bytewise = Vec::new();
    let applies = match &data.values {
        ColumnValues::Integer(v) => codec::encode_i64_bytewise(&v[r], &mut bytewise),
        ColumnValues::Unsigned(v) => codec::encode_u64_bytewise(&v[r], &mut bytewise),
        _ => false,
    };
    if applies {
        let other = compress(&bytewise, level)?;
        if other.len() < best.len() {
            best = other;
        }
    }
    if best.len() < plain.len() {
        return Ok(Payload {
            encoding: BlockEncoding::SharedCodecZstd,
            bytes: best,
        });
    }
    Ok(Payload {
        encoding: BlockEncoding::SharedCodec,
        bytes: plain,
    })
}

fn encode_values(values: &ColumnValues, r: Range<usize>, out: &mut Vec<u8>) {
    match values {
        ColumnValues::Float(v) => codec::encode_floats(&v[r], out),
        ColumnValues::Integer(v) => codec::encode_i64(&v[r], out),
        ColumnValues::Unsigned(v) => codec::encode_u64(&v[r], out),
        ColumnValues::Boolean(v) => codec::encode_bools(&v[r], out),
        ColumnValues::String(v) => codec::encode_strings(&v[r], out),
    }
}

/// The block as little-endian arrays (warm).
fn raw_payload(data: &ColumnData, r: Range<usize>) -> Result<Vec<u8>> {
    let mut b = Vec::new();
    for t in &data.timestamps[r.clone()] {
        b.extend_from_slice(&t.to_le_bytes());
    }
    match &data.values {
        ColumnValues::Float(v) => v[r]
            .iter()
            .for_each(|x| b.extend_from_slice(&x.to_bits().to_le_bytes())),
        ColumnValues::Integer(v) => v[r]
            .iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        ColumnValues::Unsigned(v) => v[r]
            .iter()
            .for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        ColumnValues::Boolean(v) => b.extend(v[r].iter().map(|&x| u8::from(x))),
        ColumnValues::String(v) => {
            let strings = &v[r];
            let mut off = 0u32;
            b.extend_from_slice(&off.to_le_bytes());
            for s in strings {
                let len = u32::try_from(s.len())
                    .map_err(|_| Error::InvalidInput("a string value is over 4 GiB".into()))?;
                off = off.checked_add(len).ok_or_else(|| {
                    Error::InvalidInput("a block's strings are over 4 GiB together".into())
                })?;
                b.extend_from_slice(&off.to_le_bytes());
            }
            for s in strings {
                b.extend_from_slice(s.as_bytes());
            }
        }
    }
    Ok(b)
}

/// Pads `b` with zeros to a multiple of 8 bytes.
pub(crate) fn pad(b: &mut Vec<u8>) {
    b.resize(b.len() + pad8(b.len()), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{SegmentWriter, file_path};

    /// Six series: int and float columns on two timestamp grids (shared between series),
    /// and one column with timestamps of its own.
    /// A series key and its named columns.
    type TestSeries = (Vec<u8>, Vec<(String, ColumnData)>);

    fn series() -> Vec<TestSeries> {
        (0..6)
            .map(|s: i64| {
                let grid: Vec<i64> = (0..3000).map(|i| i * 10_000_000_000 + (s % 2)).collect();
                let own: Vec<i64> = (0..500).map(|i| i * 7_000_000_000 + s * 13).collect();
                let cols = vec![
                    (
                        "i".to_owned(),
                        ColumnData {
                            timestamps: grid.clone(),
                            values: ColumnValues::Integer(
                                grid.iter().map(|t| (t / 1_000_000_000 + s) % 97).collect(),
                            ),
                        },
                    ),
                    (
                        "f".to_owned(),
                        ColumnData {
                            timestamps: grid.clone(),
                            values: ColumnValues::Float(
                                grid.iter().map(|t| (*t % 1000) as f64 * 0.25).collect(),
                            ),
                        },
                    ),
                    (
                        "o".to_owned(),
                        ColumnData {
                            timestamps: own,
                            values: ColumnValues::Unsigned((0..500).map(|v| v * 3).collect()),
                        },
                    ),
                ];
                (format!("\x01s{s}").into_bytes(), cols)
            })
            .collect()
    }

    fn prepared(opts: WriterOptions, data: &[TestSeries]) -> Vec<PreparedSeries<'_>> {
        data.iter()
            .map(|(k, cols)| {
                PreparedSeries::new(
                    opts,
                    Cow::Borrowed(k.as_slice()),
                    cols.iter()
                        .map(|(n, d)| (Cow::Borrowed(n.as_str()), Cow::Borrowed(d))),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn encoding_ahead_in_any_order_writes_the_bytes_of_add_series() {
        let data = series();
        for opts in [
            WriterOptions::WARM,
            WriterOptions::cold(3),
            WriterOptions {
                encoding: BlockEncoding::Codec,
                ..WriterOptions::cold(3)
            },
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = SegmentWriter::create_with(dir.path(), 1, opts).unwrap();
            for (k, cols) in &data {
                let refs: Vec<(&str, &ColumnData)> =
                    cols.iter().map(|(n, d)| (n.as_str(), d)).collect();
                w.add_series(k, &refs).unwrap();
            }
            let reference_info = w.finish().unwrap();
            let reference = std::fs::read(file_path(dir.path(), 1)).unwrap();
            // Encoded in reverse order under one hint: the hint's "first sight" of each
            // grid is the last series, so the first series' guesses are wrong; then every
            // other series only, the rest left to the writer.
            for (id, every) in [(2, 1), (3, 2)] {
                let mut ps = prepared(opts, &data);
                let hint = SharingHint::default();
                for p in ps.iter_mut().rev().step_by(every) {
                    p.encode(Some(&hint)).unwrap();
                    assert!(p.heap_bytes() > 0);
                }
                let mut w = SegmentWriter::create_with(dir.path(), id, opts).unwrap();
                for p in ps {
                    w.add_prepared(p).unwrap();
                }
                let info = w.finish().unwrap();
                assert_eq!(
                    (info.points, info.blocks),
                    (reference_info.points, reference_info.blocks)
                );
                let bytes = std::fs::read(file_path(dir.path(), id)).unwrap();
                assert!(bytes == reference, "{opts:?}: encoded ahead ({id}) differs");
            }
        }
        // Prepared under other options: refused, never written with the wrong encoding.
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create_with(dir.path(), 1, WriterOptions::WARM).unwrap();
        let p = prepared(WriterOptions::cold(3), &data).remove(0);
        assert!(matches!(w.add_prepared(p), Err(Error::Internal(_))));
    }
}
