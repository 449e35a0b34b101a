//! Opens a segment with mmap, checks its structure, and serves blocks in place.
//!
//! `open` checks the header, the footer, the directory and the block index (their
//! checksums and every offset and count in them), so that nothing read later can point
//! outside the file. A block's own checksum is checked on its first read (then remembered),
//! so a damaged block is an error naming the file and offset, never wrong numbers; the
//! rest of the segment stays readable. `verify` checks every byte.

use super::{
    BlockCache, BlockEncoding, BlockStats, END_MAGIC, FOOTER_LEN, HEADER_LEN, INDEX_ENTRY_LEN,
    MAGIC, MAX_DECODED_BLOCK_BYTES, MIN_VERSION, VERSION, pad8,
};

/// Footer flag (version 2): the directory is stored as one zstd frame.
pub(crate) const FLAG_DIR_ZSTD: u32 = 1;
/// Footer flag (version 2): the block index is stored as one zstd frame.
pub(crate) const FLAG_INDEX_ZSTD: u32 = 2;
/// Largest decompressed block index a reader accepts (1 GiB: 13 M blocks).
pub(crate) const MAX_INDEX_BYTES: usize = 1 << 30;
use crate::codec;
use crate::error::{Error, Result};
use crate::model::series::read_uvarint;
use crate::model::{ColumnData, ColumnValues, FieldType, TimeRange};
use memmap2::Mmap;
use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(target_endian = "little"))]
compile_error!(
    "segments are read in place as little-endian arrays; Strata needs a little-endian CPU"
);

/// A column in a segment's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnEntry {
    /// Field name (shared by the directory's columns of the same name).
    pub name: Arc<str>,
    /// Field type.
    pub field_type: FieldType,
    /// Index of its first block.
    pub first_block: u32,
    /// Number of blocks.
    pub n_blocks: u32,
}

/// A series in a segment's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesEntry {
    /// Canonical series-key bytes (shared with the index, which keeps the same key).
    pub key: Arc<[u8]>,
    /// Its columns.
    pub columns: Vec<ColumnEntry>,
}

/// One block's index entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockMeta {
    /// Byte offset of the block in the file.
    pub offset: u64,
    /// Block length in bytes (padding included).
    pub len: u32,
    /// Points in the block.
    pub count: u32,
    /// First timestamp.
    pub min_ts: i64,
    /// Last timestamp.
    pub max_ts: i64,
    /// Value statistics.
    pub stats: BlockStats,
    /// CRC-32 of the block's bytes.
    pub crc: u32,
    /// How the payload is stored (`None`: an unknown tag, which `open` refuses).
    pub encoding: Option<BlockEncoding>,
    /// Payload bytes before the padding.
    pub payload_len: u32,
    /// The reserved bytes 73..76, which must be zero.
    reserved: [u8; 3],
}

/// A block's values: in place in the mapped file for raw numeric blocks, decoded
/// otherwise.
#[derive(Debug, Clone, Copy)]
pub enum ValuesView<'a> {
    /// Floats.
    Float(&'a [f64]),
    /// Signed integers.
    Integer(&'a [i64]),
    /// Unsigned integers.
    Unsigned(&'a [u64]),
    /// Booleans.
    Boolean(&'a [bool]),
    /// Strings.
    String(&'a [String]),
}

#[derive(Debug, Clone)]
pub(crate) enum BlockValues<'a> {
    Float(Cow<'a, [f64]>),
    Integer(Cow<'a, [i64]>),
    Unsigned(Cow<'a, [u64]>),
    Boolean(Vec<bool>),
    String(Vec<String>),
}

/// A decoded block, shareable through the block cache.
pub(crate) type DecodedArc = Arc<Decoded<'static>>;

/// A float block's values, owned (for tests of the cache).
#[cfg(test)]
pub(crate) fn owned_floats(v: Vec<f64>) -> BlockValues<'static> {
    BlockValues::Float(Cow::Owned(v))
}

/// One block: its index entry, timestamps (strictly increasing) and values.
#[derive(Debug, Clone)]
pub struct Block<'a> {
    /// The index entry.
    pub meta: BlockMeta,
    timestamps: Cow<'a, [i64]>,
    values: BlockValues<'a>,
    /// Set for decoded blocks: the arrays live here (and maybe in the cache).
    shared: Option<DecodedArc>,
}

impl Block<'_> {
    /// The timestamps.
    pub fn timestamps(&self) -> &[i64] {
        match &self.shared {
            Some(d) => &d.0,
            None => &self.timestamps,
        }
    }

    /// The values.
    pub fn values(&self) -> ValuesView<'_> {
        let values = match &self.shared {
            Some(d) => &d.1,
            None => &self.values,
        };
        match values {
            BlockValues::Float(v) => ValuesView::Float(v),
            BlockValues::Integer(v) => ValuesView::Integer(v),
            BlockValues::Unsigned(v) => ValuesView::Unsigned(v),
            BlockValues::Boolean(v) => ValuesView::Boolean(v),
            BlockValues::String(v) => ValuesView::String(v),
        }
    }
}

/// An open segment.
pub struct Segment {
    path: PathBuf,
    id: u64,
    map: Mmap,
    series: Vec<SeriesEntry>,
    index_offset: usize,
    /// The block index, decompressed, when the file stores it as a zstd frame (version 2
    /// cold files); otherwise it is read in place at `index_offset`.
    index: Option<Box<[u8]>>,
    n_blocks: usize,
    /// Column type of each block (from the directory), for decoding stats.
    block_types: Vec<FieldType>,
    verified: Box<[AtomicBool]>,
    min_ts: i64,
    max_ts: i64,
    points: u64,
    /// Where decoded blocks are kept between reads, if anywhere.
    cache: Option<Arc<BlockCache>>,
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let Some(c) = &self.cache {
            c.forget_segment(self.id);
        }
    }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl Segment {
    /// Maps and checks the segment at `path` whose id is `id`.
    pub fn open(path: &Path, id: u64) -> Result<Segment> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: segment files are immutable once published (written under a temporary
        // name, fsynced, renamed) and the data-directory lock keeps other Strata
        // processes from changing them; every read through the map is bounds-checked
        // against the structure validated below.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let corrupt = |offset: usize, what: &str| Error::Corrupt {
            file: path.to_path_buf(),
            offset: offset as u64,
            what: what.to_owned(),
        };
        let b = &map[..];
        let version = check_header(b).map_err(|(o, w)| corrupt(o, w))?;
        let f = parse_footer(b, version).map_err(|(o, w)| corrupt(o, w))?;
        let stored_dir = &b[f.dir_offset..f.dir_offset + f.dir_len];
        let plain_dir;
        let dir = if f.flags & FLAG_DIR_ZSTD != 0 {
            plain_dir = unzstd(stored_dir, MAX_DECODED_BLOCK_BYTES)
                .map_err(|w| corrupt(f.dir_offset, &format!("directory: {w}")))?;
            &plain_dir[..]
        } else {
            stored_dir
        };
        let series =
            parse_directory(dir, f.n_blocks).map_err(|(o, w)| corrupt(f.dir_offset + o, w))?;
        let index = if f.flags & FLAG_INDEX_ZSTD != 0 {
            let stored = &b[f.index_offset..b.len() - FOOTER_LEN];
            let plain = unzstd(stored, MAX_INDEX_BYTES)
                .map_err(|w| corrupt(f.index_offset, &format!("block index: {w}")))?;
            if plain.len() != f.n_blocks * INDEX_ENTRY_LEN {
                return Err(corrupt(
                    f.index_offset,
                    "block index does not hold one entry per block",
                ));
            }
            Some(plain.into_boxed_slice())
        } else {
            None
        };
        let mut block_types = vec![FieldType::Float; f.n_blocks];
        let mut covered = 0usize;
        for s in &series {
            for c in &s.columns {
                let (a, n) = (c.first_block as usize, c.n_blocks as usize);
                if a != covered {
                    return Err(corrupt(
                        f.dir_offset,
                        "column block ranges do not tile the block index",
                    ));
                }
                block_types[a..a + n].fill(c.field_type);
                covered += n;
            }
        }
        if covered != f.n_blocks {
            return Err(corrupt(f.dir_offset, "columns do not cover every block"));
        }
        let seg = Segment {
            path: path.to_path_buf(),
            id,
            series,
            index_offset: f.index_offset,
            index,
            n_blocks: f.n_blocks,
            block_types,
            verified: (0..f.n_blocks).map(|_| AtomicBool::new(false)).collect(),
            min_ts: f.min_ts,
            max_ts: f.max_ts,
            points: f.points,
            map,
            cache: None,
        };
        // Blocks must tile [HEADER_LEN, dir_offset) in order, with lengths that fit their
        // counts and types.
        let mut at = HEADER_LEN as u64;
        let mut points = 0u64;
        for i in 0..seg.n_blocks {
            let m = seg.block_meta(i);
            let min_len = match m.encoding {
                Some(BlockEncoding::Raw) => block_min_len(seg.block_types[i], m.count as usize),
                Some(e) if e.shares_timestamps() => {
                    // Version 2 only. The block it borrows from is named in its payload,
                    // which its checksum covers, so that is checked when it is read: a
                    // damaged block then costs only itself.
                    if version < 2 {
                        return Err(corrupt(
                            seg.index_offset + i * INDEX_ENTRY_LEN,
                            "block shares timestamps, which version 1 files cannot",
                        ));
                    }
                    5
                }
                _ => 1,
            };
            if m.offset != at
                || m.encoding.is_none()
                || m.reserved != [0; 3]
                || (m.payload_len as usize) < min_len
                || m.payload_len > m.len
                || m.len - m.payload_len >= 8
                || !m.len.is_multiple_of(8)
                || m.count == 0
                || m.min_ts > m.max_ts
            {
                return Err(corrupt(
                    seg.index_offset + i * INDEX_ENTRY_LEN,
                    "block index entry is inconsistent",
                ));
            }
            at += u64::from(m.len);
            points += u64::from(m.count);
        }
        if at != f.dir_offset as u64 || points != seg.points {
            return Err(corrupt(
                f.dir_offset,
                "blocks do not end where the directory starts",
            ));
        }
        Ok(seg)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps decoded blocks of this segment in `cache` (shared with the database's other
    /// segments) between reads.
    pub fn with_cache(mut self, cache: Option<Arc<BlockCache>>) -> Segment {
        self.cache = cache;
        self
    }

    /// The segment id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Series and their columns.
    pub fn series(&self) -> &[SeriesEntry] {
        &self.series
    }

    /// Earliest and latest timestamps.
    pub fn time_range(&self) -> (i64, i64) {
        (self.min_ts, self.max_ts)
    }

    /// Values stored.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// File size in bytes.
    pub fn bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        self.n_blocks
    }

    /// The bytes of block `i`'s index entry.
    fn index_entry(&self, i: usize) -> &[u8] {
        let all = match &self.index {
            Some(plain) => &plain[..],
            None => &self.map[self.index_offset..],
        };
        &all[i * INDEX_ENTRY_LEN..][..INDEX_ENTRY_LEN]
    }

    /// Index entry of block `i` (< `block_count`).
    pub fn block_meta(&self, i: usize) -> BlockMeta {
        let e = self.index_entry(i);
        let mut stats = [0u8; 32];
        stats.copy_from_slice(&e[32..64]);
        BlockMeta {
            offset: le_u64(e, 0),
            len: le_u32(e, 8),
            count: le_u32(e, 12),
            min_ts: le_u64(e, 16) as i64,
            max_ts: le_u64(e, 24) as i64,
            stats: BlockStats::decode(self.block_types[i], &stats),
            crc: le_u32(e, 64),
            encoding: BlockEncoding::from_tag(e[72]),
            payload_len: le_u32(e, 76),
            reserved: [e[73], e[74], e[75]],
        }
    }

    /// The block whose timestamps block `i` (of a shared-timestamps encoding, whose
    /// payload `open` checked is at least 5 bytes) uses: the payload's first 4 bytes.
    fn shared_from(&self, i: usize) -> u32 {
        let m = self.block_meta(i);
        le_u32(&self.map, m.offset as usize)
    }

    /// Block `i`: in place for raw numeric blocks, decoded otherwise. Its checksum is
    /// verified on first access.
    pub fn block(&self, i: usize) -> Result<Block<'_>> {
        let meta = self.block_meta(i);
        let start = meta.offset as usize;
        let bytes = &self.map[start..start + meta.len as usize];
        if !self.verified[i].load(Ordering::Relaxed) {
            if crc32fast::hash(bytes) != meta.crc {
                return Err(Error::Corrupt {
                    file: self.path.clone(),
                    offset: meta.offset,
                    what: format!("block {i} checksum mismatch"),
                });
            }
            self.verified[i].store(true, Ordering::Relaxed);
        }
        let payload = &bytes[..meta.payload_len as usize];
        let bad = |what: String| Error::Corrupt {
            file: self.path.clone(),
            offset: meta.offset,
            what: format!("block {i}: {what}"),
        };
        let n = meta.count as usize;
        let ty = self.block_types[i];
        let cache_key = (self.id, i as u32);
        if meta.encoding != Some(BlockEncoding::Raw)
            && let Some(hit) = self.cache.as_ref().and_then(|c| c.get(cache_key))
        {
            return Ok(Block {
                meta,
                timestamps: Cow::Borrowed(&[]),
                values: BlockValues::Boolean(Vec::new()),
                shared: Some(hit),
            });
        }
        let (timestamps, values) = match meta.encoding {
            Some(BlockEncoding::Raw) => {
                let (timestamps, values) =
                    raw_block(payload, n, ty).map_err(|w| bad(w.to_owned()))?;
                return Ok(Block {
                    meta,
                    timestamps,
                    values,
                    shared: None,
                });
            }
            Some(BlockEncoding::Codec) => decode_block(payload, n, ty).map_err(bad)?,
            Some(BlockEncoding::CodecZstd) => {
                let plain = unzstd(payload, MAX_DECODED_BLOCK_BYTES).map_err(bad)?;
                decode_block(&plain, n, ty).map_err(bad)?
            }
            Some(e @ (BlockEncoding::SharedCodec | BlockEncoding::SharedCodecZstd)) => {
                // The block named must be an earlier codec block with the same count and
                // bounds (so equal timestamps, unless it is damaged, which its own
                // checksum reports); `open` checked the payload holds the 4-byte number.
                let from = self.shared_from(i) as usize;
                let like = from < i && {
                    let r = self.block_meta(from);
                    matches!(
                        r.encoding,
                        Some(BlockEncoding::Codec | BlockEncoding::CodecZstd)
                    ) && (r.count, r.min_ts, r.max_ts) == (meta.count, meta.min_ts, meta.max_ts)
                };
                if !like {
                    return Err(bad(format!(
                        "shares the timestamps of block {from}, which is no earlier codec block like it"
                    )));
                }
                let source = self.block(from)?;
                let ts = source.timestamps().to_vec();
                let body = &payload[4..];
                let values = if e == BlockEncoding::SharedCodecZstd {
                    decode_values(&unzstd(body, MAX_DECODED_BLOCK_BYTES).map_err(bad)?, n, ty)
                } else {
                    decode_values(body, n, ty)
                }
                .map_err(bad)?;
                (Cow::Owned(ts), values)
            }
            None => return Err(bad("unknown block encoding".into())),
        };
        let bytes = decoded_bytes(&timestamps, &values);
        let shared: DecodedArc = Arc::new((timestamps, values));
        if let Some(c) = &self.cache {
            c.insert(cache_key, shared.clone(), bytes);
        }
        Ok(Block {
            meta,
            timestamps: Cow::Borrowed(&[]),
            values: BlockValues::Boolean(Vec::new()),
            shared: Some(shared),
        })
    }

    /// The points of `column` within `range`, copied out.
    pub fn read_column(&self, column: &ColumnEntry, range: TimeRange) -> Result<ColumnData> {
        let mut out = ColumnData::empty(column.field_type);
        for i in self.blocks_in(column, range) {
            let m = self.block_meta(i);
            if !range.overlaps(m.min_ts, m.max_ts) {
                continue;
            }
            let b = self.block(i)?;
            let ts = b.timestamps();
            let lo = ts.partition_point(|&t| t < range.start);
            let hi = ts.partition_point(|&t| t < range.start || range.contains(t));
            out.timestamps.extend_from_slice(&ts[lo..hi]);
            match (&mut out.values, b.values()) {
                (ColumnValues::Float(o), ValuesView::Float(v)) => o.extend_from_slice(&v[lo..hi]),
                (ColumnValues::Integer(o), ValuesView::Integer(v)) => {
                    o.extend_from_slice(&v[lo..hi])
                }
                (ColumnValues::Unsigned(o), ValuesView::Unsigned(v)) => {
                    o.extend_from_slice(&v[lo..hi])
                }
                (ColumnValues::Boolean(o), ValuesView::Boolean(v)) => {
                    o.extend_from_slice(&v[lo..hi])
                }
                (ColumnValues::String(o), ValuesView::String(v)) => o.extend_from_slice(&v[lo..hi]),
                _ => return Err(Error::Internal("segment column type mismatch".into())),
            }
        }
        Ok(out)
    }

    /// The blocks of `column` that may overlap `range`: a column's blocks are time-ordered
    /// and disjoint, so two binary searches over the index find them.
    pub fn blocks_in(&self, column: &ColumnEntry, range: TimeRange) -> std::ops::Range<usize> {
        let first = column.first_block as usize;
        let end = first + column.n_blocks as usize;
        if first == end {
            return first..end;
        }
        // Most scans cover the whole column.
        let (lo_ts, _) = self.block_times(first);
        let (_, hi_ts) = self.block_times(end - 1);
        if range.start <= lo_ts && range.contains(hi_ts) {
            return first..end;
        }
        // First block whose max_ts >= range.start.
        let (mut lo, mut hi) = (first, end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.block_times(mid).1 < range.start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let start = lo;
        // First block wholly at or after range.end.
        let (mut lo, mut hi) = (start, end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (min_ts, max_ts) = self.block_times(mid);
            if range.overlaps(min_ts, max_ts) || max_ts < range.start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        start..lo
    }

    /// Block `i`'s first and last timestamps, read straight from its index entry.
    fn block_times(&self, i: usize) -> (i64, i64) {
        let e = self.index_entry(i);
        (le_u64(e, 16) as i64, le_u64(e, 24) as i64)
    }

    /// Checks every byte: each block's checksum (the others were checked by `open`) and
    /// that timestamps in each block strictly increase. Returns every problem found.
    pub fn verify(&self) -> Vec<Error> {
        let mut problems = Vec::new();
        for i in 0..self.n_blocks {
            self.verified[i].store(false, Ordering::Relaxed);
            match self.block(i) {
                Ok(b) if b.timestamps().windows(2).any(|w| w[0] >= w[1]) => {
                    problems.push(Error::Corrupt {
                        file: self.path.clone(),
                        offset: b.meta.offset,
                        what: format!("block {i}: timestamps are not strictly increasing"),
                    })
                }
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
        }
        problems
    }
}

/// Checks a segment file completely: structure at open, then every block. Returns every
/// problem found (empty when the file is sound).
pub fn verify_file(path: &Path, id: u64) -> Vec<Error> {
    match Segment::open(path, id) {
        Ok(s) => s.verify(),
        Err(e) => vec![e],
    }
}

pub(crate) type Decoded<'a> = (Cow<'a, [i64]>, BlockValues<'a>);

/// Heap bytes of a decoded block, for the cache's accounting.
fn decoded_bytes(ts: &[i64], v: &BlockValues<'_>) -> usize {
    let values = match v {
        BlockValues::Float(x) => x.len() * 8,
        BlockValues::Integer(x) => x.len() * 8,
        BlockValues::Unsigned(x) => x.len() * 8,
        BlockValues::Boolean(x) => x.len(),
        BlockValues::String(x) => x.iter().map(|s| s.len() + 24).sum(),
    };
    ts.len() * 8 + values + 64
}

/// A raw block's arrays: numeric values in place, booleans and strings decoded.
fn raw_block(payload: &[u8], n: usize, ty: FieldType) -> Result<Decoded<'_>, &'static str> {
    let timestamps: &[i64] =
        bytemuck::try_cast_slice(&payload[..n * 8]).map_err(|_| "misaligned")?;
    let rest = &payload[n * 8..];
    let values = match ty {
        FieldType::Float => BlockValues::Float(Cow::Borrowed(
            bytemuck::try_cast_slice(&rest[..n * 8]).map_err(|_| "misaligned")?,
        )),
        FieldType::Integer => BlockValues::Integer(Cow::Borrowed(
            bytemuck::try_cast_slice(&rest[..n * 8]).map_err(|_| "misaligned")?,
        )),
        FieldType::Unsigned => BlockValues::Unsigned(Cow::Borrowed(
            bytemuck::try_cast_slice(&rest[..n * 8]).map_err(|_| "misaligned")?,
        )),
        FieldType::Boolean => BlockValues::Boolean(
            rest[..n]
                .iter()
                .map(|&b| match b {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err("boolean byte is neither 0 nor 1"),
                })
                .collect::<Result<_, _>>()?,
        ),
        FieldType::String => {
            let offsets: &[u32] =
                bytemuck::try_cast_slice(&rest[..(n + 1) * 4]).map_err(|_| "misaligned")?;
            let data = &rest[(n + 1) * 4..];
            if offsets[n] as usize != data.len()
                || offsets[0] != 0
                || offsets.windows(2).any(|w| w[0] > w[1])
            {
                return Err("string offsets out of range");
            }
            let mut v = Vec::with_capacity(n);
            for k in 0..n {
                let s = &data[offsets[k] as usize..offsets[k + 1] as usize];
                v.push(
                    std::str::from_utf8(s)
                        .map_err(|_| "string value is not UTF-8")?
                        .to_owned(),
                );
            }
            BlockValues::String(v)
        }
    };
    Ok((Cow::Borrowed(timestamps), values))
}

/// The content of one zstd frame, whose declared size must be at most `max` bytes.
fn unzstd(payload: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let size = zstd::zstd_safe::get_frame_content_size(payload)
        .ok()
        .flatten()
        .ok_or_else(|| "zstd frame without a content size".to_owned())?;
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if size > max {
        return Err(format!("declares {size} decompressed bytes"));
    }
    crate::codec::zstd_ctx::decompress(payload, size).map_err(|e| format!("zstd: {e}"))
}

/// A codec block: timestamps then values, exactly `n` of each, consuming every byte.
fn decode_block(plain: &[u8], n: usize, ty: FieldType) -> Result<Decoded<'static>, String> {
    let mut ts = Vec::with_capacity(n);
    let used = codec::decode_timestamps(plain, &mut ts).map_err(|e| format!("timestamps: {e}"))?;
    if ts.len() != n {
        return Err(format!("holds {} timestamps, the index says {n}", ts.len()));
    }
    let values = decode_values(&plain[used..], n, ty)?;
    Ok((Cow::Owned(ts), values))
}

/// A value codec block of exactly `n` values of type `ty`, consuming every byte.
fn decode_values(rest: &[u8], n: usize, ty: FieldType) -> Result<BlockValues<'static>, String> {
    fn vals<T>(
        rest: &[u8],
        n: usize,
        dec: fn(&[u8], &mut Vec<T>) -> Result<usize, codec::CodecError>,
    ) -> Result<Vec<T>, String> {
        let mut v = Vec::with_capacity(n);
        let used = dec(rest, &mut v).map_err(|e| format!("values: {e}"))?;
        if used != rest.len() {
            return Err("trailing bytes after the values".into());
        }
        Ok(v)
    }
    let values = match ty {
        FieldType::Float => BlockValues::Float(Cow::Owned(vals(rest, n, codec::decode_floats)?)),
        FieldType::Integer => BlockValues::Integer(Cow::Owned(vals(rest, n, codec::decode_i64)?)),
        FieldType::Unsigned => BlockValues::Unsigned(Cow::Owned(vals(rest, n, codec::decode_u64)?)),
        FieldType::Boolean => BlockValues::Boolean(vals(rest, n, codec::decode_bools)?),
        FieldType::String => BlockValues::String(vals(rest, n, codec::decode_strings)?),
    };
    let len = match &values {
        BlockValues::Float(v) => v.len(),
        BlockValues::Integer(v) => v.len(),
        BlockValues::Unsigned(v) => v.len(),
        BlockValues::Boolean(v) => v.len(),
        BlockValues::String(v) => v.len(),
    };
    if len != n {
        return Err(format!("holds {len} values, the index says {n}"));
    }
    Ok(values)
}

fn block_min_len(ty: FieldType, n: usize) -> usize {
    match ty {
        FieldType::Float | FieldType::Integer | FieldType::Unsigned => n * 16,
        FieldType::Boolean => n * 8 + n,
        FieldType::String => n * 8 + (n + 1) * 4,
    }
}

/// Checks the header; returns the file's format version.
fn check_header(b: &[u8]) -> Result<u32, (usize, &'static str)> {
    if b.len() < HEADER_LEN + FOOTER_LEN {
        return Err((0, "file too short to be a segment"));
    }
    if &b[..8] != MAGIC {
        return Err((0, "bad magic (not a Strata segment)"));
    }
    if le_u32(b, 12) != crc32fast::hash(&b[..12]) {
        return Err((0, "header checksum mismatch"));
    }
    let version = le_u32(b, 8);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err((8, "unsupported segment format version"));
    }
    Ok(version)
}

struct Footer {
    dir_offset: usize,
    dir_len: usize,
    index_offset: usize,
    n_blocks: usize,
    /// Version 2: [`FLAG_DIR_ZSTD`], [`FLAG_INDEX_ZSTD`].
    flags: u32,
    min_ts: i64,
    max_ts: i64,
    points: u64,
}

fn parse_footer(b: &[u8], version: u32) -> Result<Footer, (usize, &'static str)> {
    let at = b.len() - FOOTER_LEN;
    let f = &b[at..];
    if &f[68..72] != END_MAGIC {
        return Err((at + 68, "bad end magic (truncated segment?)"));
    }
    if le_u32(f, 64) != crc32fast::hash(&f[..64]) {
        return Err((at, "footer checksum mismatch"));
    }
    let big = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    // Version 1: bytes 24..32 are the block count (u64). Version 2: the block count (u32),
    // then flags (u32).
    let (n_blocks, flags) = if version >= 2 {
        (u64::from(le_u32(f, 24)), le_u32(f, 28))
    } else {
        (le_u64(f, 24), 0)
    };
    if flags & !(FLAG_DIR_ZSTD | FLAG_INDEX_ZSTD) != 0 {
        return Err((at + 28, "unknown footer flags"));
    }
    let footer = Footer {
        dir_offset: big(le_u64(f, 0)),
        dir_len: big(le_u64(f, 8)),
        index_offset: big(le_u64(f, 16)),
        n_blocks: big(n_blocks),
        flags,
        min_ts: le_u64(f, 32) as i64,
        max_ts: le_u64(f, 40) as i64,
        points: le_u64(f, 48),
    };
    let dir_end = footer
        .dir_offset
        .checked_add(footer.dir_len)
        .ok_or((at, "directory length overflows"))?;
    let index_len = footer
        .n_blocks
        .checked_mul(INDEX_ENTRY_LEN)
        .ok_or((at, "block count overflows"))?;
    if footer.dir_offset < HEADER_LEN
        || !footer.dir_offset.is_multiple_of(8)
        || footer.index_offset != dir_end + pad8(footer.dir_len)
        || (flags & FLAG_INDEX_ZSTD == 0 && footer.index_offset.checked_add(index_len) != Some(at))
        || footer.index_offset > at
    {
        return Err((at, "footer offsets do not match the file layout"));
    }
    if le_u32(f, 56) != crc32fast::hash(&b[footer.dir_offset..dir_end]) {
        return Err((footer.dir_offset, "directory checksum mismatch"));
    }
    if b[dir_end..footer.index_offset].iter().any(|&x| x != 0) {
        return Err((dir_end, "padding after the directory is not zero"));
    }
    if le_u32(f, 60) != crc32fast::hash(&b[footer.index_offset..at]) {
        return Err((footer.index_offset, "block index checksum mismatch"));
    }
    Ok(footer)
}

fn parse_directory(dir: &[u8], n_blocks: usize) -> Result<Vec<SeriesEntry>, (usize, &'static str)> {
    let mut c = Cursor { b: dir, pos: 0 };
    // Every count is bounded by the bytes that must follow it, so a damaged count cannot
    // make us allocate more than the directory's size.
    let n_series = c.count("series count")?;
    let mut series = Vec::with_capacity(n_series);
    let mut next_block = 0usize;
    // Field names repeat from series to series: each distinct one is allocated once.
    let mut names: Vec<Arc<str>> = Vec::new();
    for _ in 0..n_series {
        let key_len = c.count("series key length")?;
        let key = c.bytes(key_len, "series key")?.into();
        let n_columns = c.count("column count")?;
        let mut columns = Vec::with_capacity(n_columns);
        for _ in 0..n_columns {
            let name_len = c.count("field name length")?;
            let at = c.pos;
            let raw = c.bytes(name_len, "field name")?;
            let name = match names.iter().find(|n| n.as_bytes() == raw) {
                Some(n) => n.clone(),
                None => {
                    let n: Arc<str> = std::str::from_utf8(raw)
                        .map_err(|_| (at, "field name is not UTF-8"))?
                        .into();
                    // Bounded: a directory with many distinct names keeps the first few.
                    if names.len() < 64 {
                        names.push(n.clone());
                    }
                    n
                }
            };
            let at = c.pos;
            let tag = c.bytes(1, "field type")?[0];
            let field_type = FieldType::from_tag(tag).ok_or((at, "unknown field type"))?;
            let at = c.pos;
            let first_block = c.index("first block")?;
            let blocks = c.index("block count")?;
            if first_block != next_block
                || blocks == 0
                || blocks > n_blocks
                || first_block + blocks > n_blocks
            {
                return Err((at, "column block range out of order or out of bounds"));
            }
            next_block += blocks;
            columns.push(ColumnEntry {
                name,
                field_type,
                first_block: u32::try_from(first_block)
                    .map_err(|_| (at, "block index too large"))?,
                n_blocks: u32::try_from(blocks).map_err(|_| (at, "block count too large"))?,
            });
        }
        series.push(SeriesEntry { key, columns });
    }
    if c.pos != dir.len() {
        return Err((c.pos, "trailing bytes in the directory"));
    }
    Ok(series)
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn count(&mut self, what: &'static str) -> Result<usize, (usize, &'static str)> {
        let (v, used) = read_uvarint(&self.b[self.pos..]).ok_or((self.pos, what))?;
        let v = usize::try_from(v).map_err(|_| (self.pos, what))?;
        if v > self.b.len() {
            return Err((self.pos, what));
        }
        self.pos += used;
        Ok(v)
    }

    /// A block index or count: bounded by the caller against the block index, not by the
    /// directory's size.
    fn index(&mut self, what: &'static str) -> Result<usize, (usize, &'static str)> {
        let (v, used) = read_uvarint(&self.b[self.pos..]).ok_or((self.pos, what))?;
        let v = usize::try_from(v).map_err(|_| (self.pos, what))?;
        self.pos += used;
        Ok(v)
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], (usize, &'static str)> {
        let out = self.b.get(self.pos..self.pos + n).ok_or((self.pos, what))?;
        self.pos += n;
        Ok(out)
    }
}
