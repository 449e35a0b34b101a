//! The rollup file: one rule's buckets for one UTC day, every rolled-up (series, field).
//! Layout: docs/FORMAT.md, "Rollup file". Encoding and decoding only; no I/O beyond
//! [`write`] (tmp, fsync, rename, directory fsync) and [`read`].
//!
//! Invariants: every byte is under a checksum (the header's, the frame's, the body's);
//! decoding any bytes gives a file or an error naming the offset, never a panic, and
//! allocates no more than the bytes can describe (the zstd frame's declared size is
//! bounded by [`MAX_BODY`]); entries are decoded one at a time, on demand.

use super::bucket::{RollupBucket, Scalar};
use super::wire::{DecodeError, Reader, Writer, get_sketch, put_sketch};
use crate::error::{Error, Result};
use crate::model::FieldType;
use crate::segment::BlockStats;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Magic bytes that open a rollup file.
pub const MAGIC: &[u8; 8] = b"STRATRUP";
/// Magic bytes that close a rollup file.
pub const END_MAGIC: &[u8; 4] = b"RUPE";
/// The rollup format version written and read.
pub const VERSION: u32 = 1;
/// Fixed bytes before the body.
pub const HEAD_LEN: usize = 32;
/// Largest decompressed body accepted (against damaged or hostile size fields).
pub const MAX_BODY: usize = 1 << 30;
/// Body flag: the body is one zstd frame.
const FLAG_ZSTD: u32 = 1;

/// What a rollup file is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupMeta {
    /// The rule's pattern ([`super::RollupRule::pattern`]).
    pub pattern: String,
    /// Bucket width, nanoseconds.
    pub interval: i64,
    /// The UTC day (days since the epoch).
    pub day: i64,
    /// The cold segment of this day the buckets were computed with; when `no_raw`, an id
    /// allocated for the file alone (no raw data of the day was left).
    pub source: u64,
    /// Whether the day's raw data had all expired when the file was written.
    pub no_raw: bool,
    /// The aggregates ([`super::Aggregates`] bits).
    pub aggregates: u8,
}

/// One (series, field)'s buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupEntry {
    /// Canonical series key.
    pub key: Vec<u8>,
    /// Field name.
    pub field: String,
    /// Column type (float, integer or unsigned).
    pub ty: FieldType,
    /// Buckets, by increasing start, all inside the day.
    pub buckets: Vec<RollupBucket>,
}

/// Per series key: each field's (name, type, payload offset, payload length).
type Directory = HashMap<Box<[u8]>, Vec<(String, FieldType, usize, usize)>>;

/// A decoded file: its meta and a directory over the undecoded entries.
#[derive(Debug)]
pub struct RollupFile {
    /// What the file is about.
    pub meta: RollupMeta,
    body: Vec<u8>,
    /// Series key → (field, type, payload offset, payload length).
    dir: Directory,
    entries: usize,
}

fn type_tag(ty: FieldType) -> u8 {
    match ty {
        FieldType::Float => 1,
        FieldType::Integer => 2,
        _ => 3,
    }
}

fn type_of(tag: u8) -> Option<FieldType> {
    match tag {
        1 => Some(FieldType::Float),
        2 => Some(FieldType::Integer),
        3 => Some(FieldType::Unsigned),
        _ => None,
    }
}

fn put_scalar(w: &mut Writer, v: Scalar) {
    match v {
        Scalar::F(f) => w.f64(f),
        Scalar::I(i) => w.i64(i),
        Scalar::U(u) => w.u64(u),
    }
}

fn get_scalar(r: &mut Reader<'_>, ty: FieldType) -> Result<Scalar, DecodeError> {
    Ok(match ty {
        FieldType::Float => Scalar::F(r.f64()?),
        FieldType::Integer => Scalar::I(r.i64()?),
        _ => Scalar::U(r.u64()?),
    })
}

fn put_buckets(w: &mut Writer, meta: &RollupMeta, buckets: &[RollupBucket]) {
    let day_start = meta.day.saturating_mul(crate::compaction::DAY_NANOS);
    w.u64(buckets.len() as u64);
    let mut prev = 0i64;
    for b in buckets {
        let slot = (b.start - day_start) / meta.interval;
        w.u64((slot - prev) as u64);
        prev = slot;
        w.u64(b.count);
        match b.stats {
            BlockStats::Float { sum, min, max } => {
                w.f64(sum);
                w.f64(min);
                w.f64(max);
            }
            BlockStats::Integer { sum, min, max } => {
                w.i128(sum);
                w.i64(min);
                w.i64(max);
            }
            BlockStats::Unsigned { sum, min, max } => {
                w.u64(sum as u64);
                w.u64((sum >> 64) as u64);
                w.u64(min);
                w.u64(max);
            }
            BlockStats::Boolean { .. } | BlockStats::String => {}
        }
        w.u64((b.first.0 - b.start) as u64);
        put_scalar(w, b.first.1);
        w.u64((b.last.0 - b.first.0) as u64);
        put_scalar(w, b.last.1);
        if meta.aggregates & super::Aggregates::QUANTILE != 0 {
            match &b.sketch {
                Some(s) => put_sketch(w, s),
                None => put_sketch(w, &super::Sketch::new()),
            }
        }
    }
}

/// The first and one-past-last nanosecond of UTC `day`, when both fit an `i64`.
fn day_bounds(day: i64) -> Option<(i64, i64)> {
    let start = day.checked_mul(crate::compaction::DAY_NANOS)?;
    Some((start, start.checked_add(crate::compaction::DAY_NANOS)?))
}

fn get_buckets(
    r: &mut Reader<'_>,
    meta: &RollupMeta,
    ty: FieldType,
    sketches: bool,
) -> Result<Vec<RollupBucket>, DecodeError> {
    let day_start = day_bounds(meta.day)
        .ok_or(r.err("a day inside the nanosecond timestamp range"))?
        .0;
    let slots = crate::compaction::DAY_NANOS / meta.interval;
    let n = r.len(4)?;
    let mut out = Vec::with_capacity(n);
    let mut slot: i64 = -1;
    for _ in 0..n {
        let d = i64::try_from(r.u64()?).map_err(|_| r.err("a bucket slot"))?;
        let next = if out.is_empty() {
            d
        } else {
            slot.saturating_add(d)
        };
        if (!out.is_empty() && d == 0) || next >= slots {
            return Err(r.err("increasing bucket slots inside the day"));
        }
        slot = next;
        let start = day_start + slot * meta.interval;
        let count = r.u64()?;
        if count == 0 {
            return Err(r.err("a bucket count above zero"));
        }
        let stats = match ty {
            FieldType::Float => BlockStats::Float {
                sum: r.f64()?,
                min: r.f64()?,
                max: r.f64()?,
            },
            FieldType::Integer => BlockStats::Integer {
                sum: r.i128()?,
                min: r.i64()?,
                max: r.i64()?,
            },
            _ => {
                let lo = r.u64()?;
                let hi = r.u64()?;
                BlockStats::Unsigned {
                    sum: (u128::from(hi) << 64) | u128::from(lo),
                    min: r.u64()?,
                    max: r.u64()?,
                }
            }
        };
        let inside = |off: u64, from: i64| {
            i64::try_from(off)
                .ok()
                .and_then(|o| from.checked_add(o))
                .filter(|t| *t < start + meta.interval)
        };
        let f_off = r.u64()?;
        let first_t = inside(f_off, start).ok_or(r.err("a first time inside the bucket"))?;
        let first = (first_t, get_scalar(r, ty)?);
        let l_off = r.u64()?;
        let last_t = inside(l_off, first_t).ok_or(r.err("a last time inside the bucket"))?;
        let last = (last_t, get_scalar(r, ty)?);
        let sketch = if meta.aggregates & super::Aggregates::QUANTILE != 0 {
            let s = get_sketch(r)?;
            sketches.then_some(s)
        } else {
            None
        };
        out.push(RollupBucket {
            start,
            count,
            stats,
            first,
            last,
            sketch,
        });
    }
    Ok(out)
}

/// One entry with its buckets already encoded (compaction workers encode their series'
/// buckets in parallel; the file is assembled from these).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEntry {
    /// Canonical series key.
    pub key: Vec<u8>,
    /// Field name.
    pub field: String,
    /// Column type.
    pub ty: FieldType,
    /// The buckets' encoding ([`encode_buckets`]).
    pub payload: Vec<u8>,
}

/// The encoding of `buckets` (all inside `meta.day`) as a file of `meta` stores them.
pub fn encode_buckets(meta: &RollupMeta, buckets: &[RollupBucket]) -> Vec<u8> {
    let mut w = Writer::default();
    put_buckets(&mut w, meta, buckets);
    w.buf
}

impl RollupEntry {
    /// This entry with its buckets encoded for a file of `meta`.
    pub fn encoded(&self, meta: &RollupMeta) -> EncodedEntry {
        EncodedEntry {
            key: self.key.clone(),
            field: self.field.clone(),
            ty: self.ty,
            payload: encode_buckets(meta, &self.buckets),
        }
    }
}

/// Decodes what [`encode_buckets`] wrote (`path` names the file in errors).
pub fn decode_buckets(
    meta: &RollupMeta,
    ty: FieldType,
    payload: &[u8],
    path: &Path,
) -> Result<Vec<RollupBucket>> {
    let mut r = Reader::new(payload);
    let b = get_buckets(&mut r, meta, ty, true).map_err(|e| {
        corrupt(
            path,
            HEAD_LEN as u64,
            format!("entry byte {}: {}", e.offset, e.what),
        )
    })?;
    if !r.is_empty() {
        return Err(corrupt(
            path,
            HEAD_LEN as u64,
            "an entry payload with trailing bytes",
        ));
    }
    Ok(b)
}

/// The bytes of a rollup file.
pub fn encode(meta: &RollupMeta, entries: &[RollupEntry], zstd_level: i32) -> Result<Vec<u8>> {
    let e: Vec<EncodedEntry> = entries.iter().map(|e| e.encoded(meta)).collect();
    Ok(encode_encoded(meta, &e, zstd_level))
}

/// The bytes of a rollup file from pre-encoded entries.
pub fn encode_encoded(meta: &RollupMeta, entries: &[EncodedEntry], zstd_level: i32) -> Vec<u8> {
    let mut dir = Writer::default();
    dir.u64(meta.interval as u64);
    dir.i64(meta.day);
    dir.u64(meta.source);
    dir.u8(meta.aggregates);
    dir.u8(u8::from(meta.no_raw));
    dir.str(&meta.pattern);
    dir.u64(entries.len() as u64);
    for e in entries {
        dir.bytes(&e.key);
        dir.str(&e.field);
        dir.u8(type_tag(e.ty));
        dir.u64(e.payload.len() as u64);
    }
    let mut body = dir.buf;
    for e in entries {
        body.extend_from_slice(&e.payload);
    }
    let (stored, flags) = match zstd::bulk::compress(&body, zstd_level) {
        Ok(z) if z.len() < body.len() => (z, FLAG_ZSTD),
        _ => (body, 0),
    };
    let mut out = Vec::with_capacity(HEAD_LEN + stored.len() + 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let c = crc32fast::hash(&out);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(&(stored.len() as u64).to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    let c = crc32fast::hash(&out[16..28]);
    out.extend_from_slice(&c.to_le_bytes());
    out.extend_from_slice(&stored);
    out.extend_from_slice(&crc32fast::hash(&stored).to_le_bytes());
    out.extend_from_slice(END_MAGIC);
    out
}

fn corrupt(path: &Path, offset: u64, what: impl Into<String>) -> Error {
    Error::Corrupt {
        file: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(a)
}

impl RollupFile {
    /// Decodes the bytes of a file (`path` names it in errors): checks, decompresses and
    /// reads the directory; entries stay undecoded.
    pub fn decode(path: &Path, b: &[u8]) -> Result<RollupFile> {
        if b.len() < HEAD_LEN + 8 {
            return Err(corrupt(
                path,
                0,
                "shorter than a rollup file's header and footer",
            ));
        }
        if &b[..8] != MAGIC || u32_at(b, 12) != crc32fast::hash(&b[..12]) {
            return Err(corrupt(path, 0, "bad magic or header checksum"));
        }
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(corrupt(
                path,
                8,
                format!("unknown rollup version {version}"),
            ));
        }
        if u32_at(b, 28) != crc32fast::hash(&b[16..28]) {
            return Err(corrupt(path, 16, "bad frame checksum"));
        }
        let mut l = [0u8; 8];
        l.copy_from_slice(&b[16..24]);
        let len = u64::from_le_bytes(l);
        let flags = u32_at(b, 24);
        if flags & !FLAG_ZSTD != 0 {
            return Err(corrupt(path, 24, "unknown body flags"));
        }
        if len != (b.len() - HEAD_LEN - 8) as u64 {
            return Err(corrupt(
                path,
                16,
                "body length does not match the file length",
            ));
        }
        let end = b.len() - 8;
        let stored = &b[HEAD_LEN..end];
        if u32_at(b, end) != crc32fast::hash(stored) || &b[end + 4..] != END_MAGIC {
            return Err(corrupt(path, end as u64, "bad body checksum or end magic"));
        }
        let body = if flags & FLAG_ZSTD != 0 {
            let size = zstd::zstd_safe::get_frame_content_size(stored)
                .ok()
                .flatten()
                .filter(|s| *s <= MAX_BODY as u64)
                .ok_or_else(|| {
                    corrupt(
                        path,
                        HEAD_LEN as u64,
                        "a zstd frame of declared size at most 1 GiB",
                    )
                })?;
            zstd::bulk::decompress(stored, size as usize)
                .map_err(|e| corrupt(path, HEAD_LEN as u64, format!("zstd: {e}")))?
        } else {
            stored.to_vec()
        };
        let at = |e: DecodeError| {
            corrupt(
                path,
                HEAD_LEN as u64,
                format!("body byte {}: {}", e.offset, e.what),
            )
        };
        let mut r = Reader::new(&body);
        let interval = i64::try_from(r.u64().map_err(at)?).unwrap_or(0);
        let day = r.i64().map_err(at)?;
        let source = r.u64().map_err(at)?;
        let aggregates = r.u8().map_err(at)?;
        let no_raw = r.opt().map_err(at)?;
        let pattern = r.str().map_err(at)?;
        if interval <= 0 || crate::compaction::DAY_NANOS % interval != 0 {
            return Err(corrupt(
                path,
                HEAD_LEN as u64,
                "an interval dividing one day",
            ));
        }
        if day_bounds(day).is_none() {
            return Err(corrupt(
                path,
                HEAD_LEN as u64,
                format!("day {day} outside the nanosecond timestamp range"),
            ));
        }
        let meta = RollupMeta {
            pattern,
            interval,
            day,
            source,
            no_raw,
            aggregates,
        };
        let n = r.len(4).map_err(at)?;
        let mut dir: Directory = HashMap::new();
        let mut lens = Vec::with_capacity(n);
        for _ in 0..n {
            let key: Box<[u8]> = r.bytes().map_err(at)?.into();
            let field = r.str().map_err(at)?;
            let ty =
                type_of(r.u8().map_err(at)?).ok_or_else(|| at(r.err("a numeric type (1 to 3)")))?;
            let len = usize::try_from(r.u64().map_err(at)?).unwrap_or(usize::MAX);
            lens.push((key, field, ty, len));
        }
        let mut off = body.len() - r.left();
        for (key, field, ty, len) in lens {
            let end = off
                .checked_add(len)
                .filter(|e| *e <= body.len())
                .ok_or_else(|| {
                    corrupt(path, HEAD_LEN as u64, "entry payloads that fit the body")
                })?;
            dir.entry(key).or_default().push((field, ty, off, len));
            off = end;
        }
        if off != body.len() {
            return Err(corrupt(
                path,
                HEAD_LEN as u64,
                "entry payloads that fill the body",
            ));
        }
        Ok(RollupFile {
            meta,
            body,
            dir,
            entries: n,
        })
    }

    /// Every (series key, field, type) the file holds.
    pub fn columns(&self) -> impl Iterator<Item = (&[u8], &str, FieldType)> {
        self.dir
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |(f, ty, _, _)| (&**k, f.as_str(), *ty)))
    }

    /// The decompressed body (directory and entry payloads), for the fuzz seeds.
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    /// Number of (series, field) entries.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The buckets of series `key`'s field `field` (`None` when the file has none),
    /// sketches decoded only when `sketches`.
    pub fn buckets(
        &self,
        path: &Path,
        key: &[u8],
        field: &str,
        sketches: bool,
    ) -> Result<Option<(FieldType, Vec<RollupBucket>)>> {
        let Some(fields) = self.dir.get(key) else {
            return Ok(None);
        };
        let Some((_, ty, off, len)) = fields.iter().find(|(f, ..)| f == field) else {
            return Ok(None);
        };
        let mut r = Reader::new(&self.body[*off..off + len]);
        let b = get_buckets(&mut r, &self.meta, *ty, sketches).map_err(|e| {
            corrupt(
                path,
                HEAD_LEN as u64,
                format!("body byte {}: {}", off + e.offset, e.what),
            )
        })?;
        if !r.is_empty() {
            return Err(corrupt(
                path,
                HEAD_LEN as u64,
                "an entry payload with trailing bytes",
            ));
        }
        Ok(Some((*ty, b)))
    }

    /// Every entry, decoded (for carrying buckets into a new file, and for checks).
    pub fn all_entries(&self, path: &Path) -> Result<Vec<RollupEntry>> {
        let mut out = Vec::with_capacity(self.entries);
        for (key, fields) in &self.dir {
            for (field, _, _, _) in fields {
                if let Some((ty, buckets)) = self.buckets(path, key, field, true)? {
                    out.push(RollupEntry {
                        key: key.to_vec(),
                        field: field.clone(),
                        ty,
                        buckets,
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.key, &a.field).cmp(&(&b.key, &b.field)));
        Ok(out)
    }
}

/// Reads and decodes the file at `path`.
pub fn read(path: &Path) -> Result<RollupFile> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    RollupFile::decode(path, &b)
}

/// Writes `bytes` as `path` (tmp, fsync, rename, directory fsync).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    use crate::fault::{self, Site};
    let tmp: PathBuf = path.with_extension("tmp");
    let written = {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        fault::create(Site::CompactionSegment, &tmp, &opts).and_then(|mut f| {
            fault::write_all(Site::CompactionSegment, &tmp, &mut f, bytes)
                .and_then(|_| fault::sync(Site::CompactionSegment, &tmp, &f, false))
        })
    };
    if let Err(e) = written.and_then(|_| fault::rename(Site::CompactionSegment, &tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    if let Some(dir) = path.parent() {
        fault::sync_dir(Site::CompactionSegment, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
