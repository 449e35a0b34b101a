//! The rollup file: one rule's buckets for one UTC day, every rolled-up (series, field).
//! Layout: docs/FORMAT.md, "Rollup file". Encoding and decoding only; no I/O beyond
//! [`write`] (tmp, fsync, rename, directory fsync) and [`read`].
//!
//! Version 2 (written) stores the buckets column-wise in stripes of same-typed entries
//! ([`stripe`]); version 1 (row-wise, [`v1`]) is still read.
//!
//! Invariants: every byte is under a checksum (the header's, the frame's, the body's);
//! decoding any bytes gives a file or an error naming the offset, never a panic, and
//! allocates no more than the bytes can describe (the zstd frame's declared size is
//! bounded by [`MAX_BODY`]; a stripe's buckets by its grid runs and by
//! [`stripe::MAX_STRIPE_BUCKETS`]); a v2 file's stripes are decoded one at a time, on
//! demand ([`RollupFile::stripe`]).

mod directory;
mod stripe;
mod v1;

pub use directory::Cursor as DirCursor;
use directory::Directory;
pub use stripe::{MAX_STRIPE_BUCKETS, STRIPE_BUCKETS};

use super::columns::BucketColumns;
use super::wire::{DecodeError, Reader, Writer};
use crate::error::{Error, Result};
use crate::model::FieldType;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Magic bytes that open a rollup file.
pub const MAGIC: &[u8; 8] = b"STRATRUP";
/// Magic bytes that close a rollup file.
pub const END_MAGIC: &[u8; 4] = b"RUPE";
/// The rollup format version written: column-wise stripes.
pub const VERSION: u32 = 2;
/// The first version (row-wise buckets), still read.
pub const VERSION_1: u32 = 1;
/// Fixed bytes before the body.
pub const HEAD_LEN: usize = 32;
/// Largest decompressed body accepted (against damaged or hostile size fields).
pub const MAX_BODY: usize = 1 << 30;
/// The highest zstd level a body is compressed with: the columns are codec-encoded
/// already, and what zstd still finds (series keys, sketch stores) a fast level finds,
/// at a small part of the time level 12 takes in compaction.
pub const MAX_ZSTD_LEVEL: i32 = 3;
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
    /// Buckets, by increasing start, all inside the day; typed as the column.
    pub buckets: BucketColumns,
}

impl RollupEntry {
    /// The column type.
    pub fn ty(&self) -> FieldType {
        self.buckets.ty()
    }
}

/// A stripe of a decoded file: still encoded (v2, decoded on demand) or decoded at load
/// (a v1 entry).
#[derive(Debug)]
enum Stripe {
    Encoded(stripe::StripeRef),
    Decoded(Arc<BucketColumns>),
}

/// A decoded file: its meta and a directory over the stripes.
#[derive(Debug)]
pub struct RollupFile {
    /// What the file is about.
    pub meta: RollupMeta,
    /// The format version it was read from.
    pub version: u32,
    body: Vec<u8>,
    dir: Directory,
    stripes: Vec<Stripe>,
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

/// The first and one-past-last nanosecond of UTC `day`, when both fit an `i64`.
fn day_bounds(day: i64) -> Option<(i64, i64)> {
    let start = day.checked_mul(crate::compaction::DAY_NANOS)?;
    Some((start, start.checked_add(crate::compaction::DAY_NANOS)?))
}

/// Whether `interval` is a whole number of seconds dividing one day (what v2 stores).
fn whole_seconds(interval: i64) -> bool {
    interval > 0 && interval % 1_000_000_000 == 0 && crate::compaction::DAY_NANOS % interval == 0
}

/// Checks that `e`'s buckets can be stored in a file of `meta`.
fn check_entry(meta: &RollupMeta, e: &RollupEntry) -> Result<()> {
    let bad = |what: &str| {
        Err(Error::InvalidInput(format!(
            "rollup entry {:?}/{}: {what}",
            String::from_utf8_lossy(&e.key),
            e.field
        )))
    };
    let Some((lo, hi)) = day_bounds(meta.day) else {
        return bad("a day outside the nanosecond timestamp range");
    };
    let b = &e.buckets;
    if !b.sketches.is_empty() && b.sketches.len() != b.len() {
        return bad("sketches on some buckets only");
    }
    let mut prev = None;
    for i in 0..b.len() {
        let s = b.start[i];
        if s < lo || s >= hi || (s - lo) % meta.interval != 0 || prev.is_some_and(|p| p >= s) {
            return bad("bucket starts on the day's grid, increasing");
        }
        prev = Some(s);
        let end = s + meta.interval;
        if b.count[i] == 0 || b.first_t[i] < s || b.last_t[i] < b.first_t[i] || b.last_t[i] >= end {
            return bad("counts above zero and first ≤ last times inside their bucket");
        }
    }
    Ok(())
}

/// The bytes of a rollup file (version 2) holding `entries`; zstd at `zstd_level` (at
/// most [`MAX_ZSTD_LEVEL`]) over the body when that makes it smaller by more than a
/// thirty-second (`zstd_level` 0: never).
pub fn encode(meta: &RollupMeta, entries: &[RollupEntry], zstd_level: i32) -> Result<Vec<u8>> {
    encode_on(meta, entries, zstd_level, 1)
}

/// [`encode`] with the stripes encoded on `threads` threads (the bytes do not depend on
/// how many).
pub fn encode_on(
    meta: &RollupMeta,
    entries: &[RollupEntry],
    zstd_level: i32,
    threads: usize,
) -> Result<Vec<u8>> {
    if !whole_seconds(meta.interval) {
        return Err(Error::InvalidInput(format!(
            "rollup interval {} ns is not a whole number of seconds dividing a day",
            meta.interval
        )));
    }
    for e in entries {
        check_entry(meta, e)?;
    }
    let mut order: Vec<&RollupEntry> = entries.iter().collect();
    order.sort_by(|a, b| {
        (type_tag(a.ty()), &a.key, &a.field).cmp(&(type_tag(b.ty()), &b.key, &b.field))
    });
    let mut w = Writer::default();
    w.u64(meta.interval as u64);
    w.i64(meta.day);
    w.u64(meta.source);
    w.u8(meta.aggregates);
    w.u8(u8::from(meta.no_raw));
    w.str(&meta.pattern);
    // The directory: each distinct key and field name once, then per entry their indices.
    let mut keys: Vec<&[u8]> = order.iter().map(|e| e.key.as_slice()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut fields: Vec<&str> = order.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    fields.dedup();
    w.u64(keys.len() as u64);
    for k in &keys {
        w.bytes(k);
    }
    w.u64(fields.len() as u64);
    for f in &fields {
        w.str(f);
    }
    w.u64(order.len() as u64);
    for e in &order {
        w.u64(keys.binary_search(&e.key.as_slice()).unwrap_or(0) as u64);
        w.u64(fields.binary_search(&e.field.as_str()).unwrap_or(0) as u64);
    }
    // Stripes: runs of same-typed entries, closed at STRIPE_BUCKETS buckets.
    let mut stripes: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let ty = order[i].ty();
        let mut j = i;
        let mut n = 0;
        while j < order.len()
            && order[j].ty() == ty
            && (j == i || n + order[j].buckets.len() <= STRIPE_BUCKETS)
        {
            n += order[j].buckets.len();
            j += 1;
        }
        stripes.push(i..j);
        i = j;
    }
    w.u64(stripes.len() as u64);
    crate::pool::ordered_map(
        stripes.len(),
        threads,
        2 * threads,
        |j| {
            let r = stripes[j].clone();
            let cols: Vec<&BucketColumns> = order[r.clone()].iter().map(|e| &e.buckets).collect();
            let mut sw = Writer::default();
            stripe::encode(&mut sw, meta, order[r.start].ty(), &cols);
            Ok(sw.buf)
        },
        |_, bytes| {
            w.buf.extend_from_slice(&bytes);
            Ok(())
        },
    )?;
    Ok(frame(w.buf, zstd_level))
}

/// `body` in the file frame: header, optional zstd, checksums, end magic.
fn frame(body: Vec<u8>, zstd_level: i32) -> Vec<u8> {
    let squeezed = match zstd_level {
        0 => None,
        l => crate::codec::zstd_ctx::compress(&body, l.min(MAX_ZSTD_LEVEL))
            .ok()
            .filter(|z| z.len() < body.len() - body.len() / 32),
    };
    let (stored, flags) = match squeezed {
        Some(z) => (z, FLAG_ZSTD),
        None => (body, 0),
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

/// Checks the frame of `b` and returns (version, decompressed body).
fn unframe(path: &Path, b: &[u8]) -> Result<(u32, Vec<u8>)> {
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
    if version != VERSION && version != VERSION_1 {
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
        crate::codec::zstd_ctx::decompress(stored, size as usize)
            .map_err(|e| corrupt(path, HEAD_LEN as u64, format!("zstd: {e}")))?
    } else {
        stored.to_vec()
    };
    Ok((version, body))
}

/// The error for a body decoding error.
fn body_error(path: &Path, e: DecodeError) -> Error {
    corrupt(
        path,
        HEAD_LEN as u64,
        format!("body byte {}: {}", e.offset, e.what),
    )
}

impl RollupFile {
    /// Decodes the bytes of a file (`path` names it in errors): checks, decompresses and
    /// reads the directory and the stripes' layout; a v2 file's bucket columns stay
    /// undecoded, a v1 file's are decoded now.
    pub fn decode(path: &Path, b: &[u8]) -> Result<RollupFile> {
        let (version, body) = unframe(path, b)?;
        let at = |e: DecodeError| body_error(path, e);
        let mut r = Reader::new(&body);
        let interval = i64::try_from(r.u64().map_err(at)?).unwrap_or(0);
        let day = r.i64().map_err(at)?;
        let source = r.u64().map_err(at)?;
        let aggregates = r.u8().map_err(at)?;
        let no_raw = r.opt().map_err(at)?;
        let pattern = r.str().map_err(at)?;
        let interval_ok = match version {
            VERSION_1 => interval > 0 && crate::compaction::DAY_NANOS % interval == 0,
            _ => whole_seconds(interval),
        };
        if !interval_ok {
            return Err(corrupt(
                path,
                HEAD_LEN as u64,
                "an interval dividing one day (whole seconds from version 2)",
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
        let mut dir: Vec<directory::Entry> = Vec::new();
        let mut stripes = Vec::new();
        let entries;
        if version == VERSION_1 {
            let all = v1::entries(&mut r, &meta).map_err(at)?;
            entries = all.len();
            for (key, field, buckets) in all {
                dir.push(directory::Entry {
                    key,
                    field,
                    ty: buckets.ty(),
                    stripe: stripes.len(),
                    range: 0..buckets.len(),
                });
                stripes.push(Stripe::Decoded(Arc::new(buckets)));
            }
        } else {
            let nk = r.len(1).map_err(at)?;
            let mut keys: Vec<&[u8]> = Vec::with_capacity(nk);
            for _ in 0..nk {
                keys.push(r.bytes().map_err(at)?);
            }
            let nf = r.len(1).map_err(at)?;
            let mut fields = Vec::with_capacity(nf);
            for _ in 0..nf {
                fields.push(r.str().map_err(at)?);
            }
            let n = r.len(2).map_err(at)?;
            let mut names = Vec::with_capacity(n);
            for _ in 0..n {
                let k = usize::try_from(r.u64().map_err(at)?).unwrap_or(usize::MAX);
                let f = usize::try_from(r.u64().map_err(at)?).unwrap_or(usize::MAX);
                let (Some(key), Some(field)) = (keys.get(k), fields.get(f)) else {
                    return Err(at(r.err("key and field indices inside their tables")));
                };
                names.push((Box::<[u8]>::from(*key), field.clone()));
            }
            let s = r.len(3).map_err(at)?;
            let mut names = names.into_iter();
            for j in 0..s {
                let sref = stripe::read_ref(&mut r, body.len(), &meta).map_err(at)?;
                let mut from = 0;
                for &k in &sref.entry_buckets {
                    let Some((key, field)) = names.next() else {
                        return Err(at(r.err("as many directory entries as stripe entries")));
                    };
                    dir.push(directory::Entry {
                        key,
                        field,
                        ty: sref.ty,
                        stripe: j,
                        range: from..from + k,
                    });
                    from += k;
                }
                stripes.push(Stripe::Encoded(sref));
            }
            if names.next().is_some() || !r.is_empty() {
                return Err(at(r.err("stripes that hold every entry and fill the body")));
            }
            entries = n;
        }
        let dir = Directory::build(dir);
        Ok(RollupFile {
            meta,
            version,
            body,
            dir,
            stripes,
            entries,
        })
    }

    /// Every (series key, field, type) the file holds.
    pub fn columns(&self) -> impl Iterator<Item = (&[u8], &str, FieldType)> {
        self.dir.iter().map(|(k, f, l)| (k, f, l.ty))
    }

    /// The decompressed body (directory and stripes), for the fuzz seeds.
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    /// Number of (series, field) entries.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Number of stripes.
    pub fn stripes(&self) -> usize {
        self.stripes.len()
    }

    /// Where series `key`'s field `field` lies: (stripe, bucket range in it).
    pub fn locate(&self, key: &[u8], field: &str) -> Option<(usize, Range<usize>)> {
        self.cursor().seek(key, field)
    }

    /// Whether `other` lists the same series keys and fields (positions from
    /// [`DirCursor::seek_key`] and indices from [`RollupFile::field_id`] then hold in
    /// both): consecutive days of a stable set of series usually do, and a query reading
    /// many days looks its columns up once.
    pub fn same_names(&self, other: &RollupFile) -> bool {
        self.dir.same_names(&other.dir)
    }

    /// The index of field `field` in this file's field table.
    pub fn field_id(&self, field: &str) -> Option<u32> {
        self.dir.field_id(field)
    }

    /// Where the series at directory position `pos` has the field with index `field`:
    /// (stripe, bucket range in it).
    pub fn locate_at(&self, pos: usize, field: u32) -> Option<(usize, Range<usize>)> {
        self.dir.locate_at(pos, field)
    }

    /// A cursor for locating many columns: cheapest when they are asked in ascending key
    /// order (each seek then walks forward from the last, a merge join against the
    /// sorted directory), correct in any order.
    pub fn cursor(&self) -> DirCursor<'_> {
        self.dir.cursor()
    }

    /// The bucket columns of stripe `j` (`path` names the file in errors): decoded now
    /// for a v2 file (callers cache them), shared for a v1 file.
    pub fn stripe(&self, path: &Path, j: usize) -> Result<Arc<BucketColumns>> {
        match self.stripes.get(j) {
            None => Err(Error::InvalidInput(format!(
                "{}: no stripe {j}",
                path.display()
            ))),
            Some(Stripe::Decoded(c)) => Ok(c.clone()),
            Some(Stripe::Encoded(s)) => stripe::decode(&self.body, &self.meta, s)
                .map(Arc::new)
                .map_err(|e| body_error(path, e)),
        }
    }

    /// The buckets of series `key`'s field `field` (`None` when the file has none),
    /// decoding its stripe (uncached).
    pub fn buckets(&self, path: &Path, key: &[u8], field: &str) -> Result<Option<BucketColumns>> {
        let Some((j, range)) = self.locate(key, field) else {
            return Ok(None);
        };
        let s = self.stripe(path, j)?;
        let mut out = BucketColumns::new(s.ty())
            .ok_or_else(|| corrupt(path, HEAD_LEN as u64, "a numeric stripe"))?;
        if !out.extend_from(&s, range) {
            return Err(corrupt(path, HEAD_LEN as u64, "an entry inside its stripe"));
        }
        Ok(Some(out))
    }

    /// Every entry, decoded, sorted by (key, field, type) (for carrying buckets into a new
    /// file, and for checks).
    pub fn all_entries(&self, path: &Path) -> Result<Vec<RollupEntry>> {
        let decoded = (0..self.stripes.len())
            .map(|j| self.stripe(path, j))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(self.entries);
        for (key, field, l) in self.dir.iter() {
            let s = &decoded[l.stripe];
            let mut buckets = BucketColumns::new(s.ty())
                .ok_or_else(|| corrupt(path, HEAD_LEN as u64, "a numeric stripe"))?;
            if !buckets.extend_from(s, l.range.clone()) {
                return Err(corrupt(path, HEAD_LEN as u64, "an entry inside its stripe"));
            }
            out.push(RollupEntry {
                key: key.to_vec(),
                field: field.to_owned(),
                buckets,
            });
        }
        out.sort_by(|a, b| {
            (&a.key, &a.field, type_tag(a.ty())).cmp(&(&b.key, &b.field, type_tag(b.ty())))
        });
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
