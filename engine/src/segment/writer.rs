//! Builds a segment file: blocks first (streamed), then the column directory, the block
//! index and the footer; published with tmp + fsync + rename + directory fsync.
//!
//! Series are appended one at a time, in the order given, either from column data
//! ([`SegmentWriter::add_series`]) or already cut and encoded on another thread
//! ([`SegmentWriter::add_prepared`], see `encode`); both write the same bytes for the same
//! data. Whether a block borrows an earlier block's timestamps is decided here, in append
//! order, so that decision never depends on which thread encoded what first.

use super::encode::{
    MAX_SHARED_TIMESTAMPS, PreparedBlock, PreparedSeries, full_payload, pad, values_payload,
};
use super::reader::{FLAG_DIR_ZSTD, FLAG_INDEX_ZSTD, MAX_INDEX_BYTES};
use super::{
    BLOCK_POINTS, BLOCK_SPAN_NANOS, BlockEncoding, COLD_BLOCK_POINTS, COLD_BLOCK_SPAN_NANOS,
    END_MAGIC, FOOTER_LEN, HEADER_LEN, MAGIC, MAX_DECODED_BLOCK_BYTES, VERSION, pad8,
};
use crate::error::{Error, Result};
use crate::fault::{self, Site};
use crate::model::ColumnData;
use crate::model::series::put_uvarint;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// What a finished segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's id (its file name).
    pub id: u64,
    /// Earliest timestamp (`i64::MAX` when empty).
    pub min_ts: i64,
    /// Latest timestamp (`i64::MIN` when empty).
    pub max_ts: i64,
    /// Values stored.
    pub points: u64,
    /// Series stored.
    pub series: u64,
    /// Columns stored.
    pub columns: u64,
    /// Blocks stored.
    pub blocks: u64,
    /// File size.
    pub bytes: u64,
}

/// How a segment's blocks are cut and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Raw arrays (warm) or codec blocks (cold).
    pub encoding: BlockEncoding,
    /// zstd level for codec blocks; a block is stored compressed only when that is smaller.
    pub zstd_level: i32,
    /// Blocks never cross a multiple of this many nanoseconds.
    pub block_span_nanos: i64,
    /// Most points per block.
    pub block_points: usize,
}

impl WriterOptions {
    /// Warm segments: raw arrays, hour-aligned blocks of at most 8,192 points.
    pub const WARM: WriterOptions = WriterOptions {
        encoding: BlockEncoding::Raw,
        zstd_level: 0,
        block_span_nanos: BLOCK_SPAN_NANOS,
        block_points: BLOCK_POINTS,
    };

    /// Cold segments: codec blocks compressed with zstd at `level`, day-aligned blocks of
    /// at most 65,536 points.
    pub const fn cold(level: i32) -> WriterOptions {
        WriterOptions {
            encoding: BlockEncoding::CodecZstd,
            zstd_level: level,
            block_span_nanos: COLD_BLOCK_SPAN_NANOS,
            block_points: COLD_BLOCK_POINTS,
        }
    }
}

/// Writes one segment. Add series with [`SegmentWriter::add_series`], then `finish`.
pub struct SegmentWriter {
    opts: WriterOptions,
    out: BufWriter<File>,
    tmp: TmpFile,
    path: PathBuf,
    /// Where the writes happen, for fault injection.
    site: Site,
    dir: PathBuf,
    pos: u64,
    directory: Vec<u8>,
    index: Vec<u8>,
    info: SegmentInfo,
    scratch: Vec<u8>,
    /// Codec blocks written so far, by their timestamps, so that a later block with the
    /// same timestamps shares them (every series scraped together has the same ones).
    shared: FxHashMap<u64, Vec<SharedTimestamps>>,
    /// Timestamps held in `shared`, bounded by [`MAX_SHARED_TIMESTAMPS`].
    shared_len: usize,
}

/// `plain` as one zstd frame at `level`, if that is smaller and `plain` is at most `max`
/// bytes (what a reader accepts).
fn smaller_zstd(plain: &[u8], level: i32, max: usize) -> Option<Vec<u8>> {
    if plain.len() > max {
        return None;
    }
    crate::codec::zstd_ctx::compress(plain, level)
        .ok()
        .filter(|z| z.len() < plain.len())
}

/// The temporary file being written: removed when dropped before `finish` published it,
/// so that a failed or abandoned write leaves nothing behind.
struct TmpFile(PathBuf, bool);

impl Drop for TmpFile {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// A codec block already written (by number) and its timestamps.
type SharedTimestamps = (u32, Box<[i64]>);

impl SegmentWriter {
    /// Starts warm segment `id` in `dir` (the segments directory, which must exist).
    pub fn create(dir: &Path, id: u64) -> Result<SegmentWriter> {
        SegmentWriter::create_at(dir, id, WriterOptions::WARM, Site::RotationSegment)
    }

    /// Starts segment `id` in `dir` with the given block options.
    pub fn create_with(dir: &Path, id: u64, opts: WriterOptions) -> Result<SegmentWriter> {
        SegmentWriter::create_at(dir, id, opts, Site::CompactionSegment)
    }

    /// Starts segment `id` in `dir` with the given block options, its file operations
    /// named `site` (fault injection).
    pub fn create_at(
        dir: &Path,
        id: u64,
        opts: WriterOptions,
        site: Site,
    ) -> Result<SegmentWriter> {
        SegmentWriter::create_named(dir, &super::file_name(id), id, opts, site)
    }

    /// Starts segment `id` in `dir` under the file name `name` rather than the id's own
    /// (a compaction writes its outputs under pending names and gives them ids when it
    /// publishes them: `db::compact`).
    pub fn create_named(
        dir: &Path,
        name: &str,
        id: u64,
        opts: WriterOptions,
        site: Site,
    ) -> Result<SegmentWriter> {
        let path = dir.join(name);
        let tmp = path.with_extension("seg.tmp");
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create(true).truncate(true);
        let file = fault::create(site, &tmp, &create).map_err(|e| Error::io(&tmp, e))?;
        let tmp = TmpFile(tmp, true);
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        let crc = crc32fast::hash(&header[..12]);
        header[12..].copy_from_slice(&crc.to_le_bytes());
        fault::write_all(site, &tmp.0, &mut out, &header).map_err(|e| Error::io(&tmp.0, e))?;
        Ok(SegmentWriter {
            opts,
            out,
            tmp,
            site,
            path,
            dir: dir.to_path_buf(),
            pos: HEADER_LEN as u64,
            directory: Vec::new(),
            index: Vec::new(),
            info: SegmentInfo {
                id,
                min_ts: i64::MAX,
                max_ts: i64::MIN,
                points: 0,
                series: 0,
                columns: 0,
                blocks: 0,
                bytes: 0,
            },
            scratch: Vec::new(),
            shared: FxHashMap::default(),
            shared_len: 0,
        })
    }

    /// Adds a series (canonical key bytes) and its columns. Each column's timestamps must
    /// strictly increase; empty columns are skipped.
    pub fn add_series(&mut self, key: &[u8], columns: &[(&str, &ColumnData)]) -> Result<()> {
        let prepared = PreparedSeries::new(
            self.opts,
            Cow::Borrowed(key),
            columns
                .iter()
                .map(|(n, d)| (Cow::Borrowed(*n), Cow::Borrowed(*d))),
        )?;
        self.add_prepared(prepared)
    }

    /// Adds a series prepared (and perhaps encoded, on another thread) with this writer's
    /// options. The bytes written are those [`SegmentWriter::add_series`] writes for the
    /// same data, whatever was encoded beforehand (see `encode`'s invariants).
    pub fn add_prepared(&mut self, series: PreparedSeries<'_>) -> Result<()> {
        if series.opts != self.opts {
            return Err(Error::Internal(
                "segment writer: series prepared with other writer options".into(),
            ));
        }
        if series.columns.is_empty() {
            return Ok(());
        }
        put_uvarint(&mut self.directory, series.key.len() as u64);
        self.directory.extend_from_slice(&series.key);
        put_uvarint(&mut self.directory, series.columns.len() as u64);
        for column in series.columns {
            let first_block = self.info.blocks;
            let column_no = u32::try_from(self.info.columns).unwrap_or(u32::MAX);
            for block in column.blocks {
                self.write_block(column_no, &column.data, block)?;
            }
            put_uvarint(&mut self.directory, column.name.len() as u64);
            self.directory.extend_from_slice(column.name.as_bytes());
            self.directory.push(column.data.values.field_type().tag());
            put_uvarint(&mut self.directory, first_block);
            put_uvarint(&mut self.directory, self.info.blocks - first_block);
            self.info.columns += 1;
        }
        self.info.series += 1;
        Ok(())
    }

    fn write_block(
        &mut self,
        column_no: u32,
        data: &ColumnData,
        block: PreparedBlock,
    ) -> Result<()> {
        let r = block.range;
        let shared_from = if self.opts.encoding == BlockEncoding::CodecZstd {
            self.shared_timestamps(block.ts_hash, &data.timestamps[r.clone()])
        } else {
            None
        };
        let b = &mut self.scratch;
        b.clear();
        let (encoding, payload_len) = match shared_from {
            Some(from) => {
                let values = match block.values_only {
                    Some(p) => p,
                    None => values_payload(&self.opts, data, r.clone())?,
                };
                b.extend_from_slice(&from.to_le_bytes());
                b.extend_from_slice(&values.bytes);
                (values.encoding, b.len())
            }
            None => {
                let full = match block.full {
                    Some(p) => p,
                    None => full_payload(&self.opts, data, r.clone())?,
                };
                b.extend_from_slice(&full.bytes);
                (full.encoding, b.len())
            }
        };
        pad(b);
        let crc = crc32fast::hash(b);
        fault::write_all(self.site, &self.tmp.0, &mut self.out, b)
            .map_err(|e| Error::io(&self.tmp.0, e))?;
        let (min_ts, max_ts) = (data.timestamps[r.start], data.timestamps[r.end - 1]);
        let e = &mut self.index;
        e.extend_from_slice(&self.pos.to_le_bytes());
        e.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        e.extend_from_slice(&u32::try_from(r.len()).unwrap_or(u32::MAX).to_le_bytes());
        e.extend_from_slice(&min_ts.to_le_bytes());
        e.extend_from_slice(&max_ts.to_le_bytes());
        e.extend_from_slice(&block.stats);
        e.extend_from_slice(&crc.to_le_bytes());
        e.extend_from_slice(&column_no.to_le_bytes());
        e.extend_from_slice(&[encoding.tag(), 0, 0, 0]);
        e.extend_from_slice(&u32::try_from(payload_len).unwrap_or(u32::MAX).to_le_bytes());
        self.pos += b.len() as u64;
        self.info.blocks += 1;
        self.info.points += r.len() as u64;
        self.info.min_ts = self.info.min_ts.min(min_ts);
        self.info.max_ts = self.info.max_ts.max(max_ts);
        Ok(())
    }

    /// An earlier codec block of this segment with exactly these timestamps (`hash` is
    /// their `timestamps_hash`); otherwise remembers that the block about to be written
    /// (number `self.info.blocks`) has them.
    fn shared_timestamps(&mut self, hash: u64, ts: &[i64]) -> Option<u32> {
        let candidates = self.shared.entry(hash).or_default();
        if let Some((from, _)) = candidates.iter().find(|(_, c)| **c == *ts) {
            return Some(*from);
        }
        let this = u32::try_from(self.info.blocks).ok()?;
        if self.shared_len + ts.len() <= MAX_SHARED_TIMESTAMPS {
            self.shared_len += ts.len();
            candidates.push((this, ts.into()));
        }
        None
    }

    /// Writes the directory, index and footer, fsyncs, and publishes the file under its
    /// final name. Returns what it holds.
    pub fn finish(mut self) -> Result<SegmentInfo> {
        let tmp = self.tmp.0.clone();
        let site = self.site;
        let io = |e| Error::io(&tmp, e);
        let mut dir_block = Vec::with_capacity(10 + self.directory.len());
        put_uvarint(&mut dir_block, self.info.series);
        dir_block.extend_from_slice(&self.directory);
        let mut flags = 0u32;
        let mut index = std::mem::take(&mut self.index);
        if self.opts.encoding == BlockEncoding::CodecZstd {
            // Cold files are read whole at open: store the directory and the block index
            // as zstd frames when that is smaller (series keys and neighbouring entries
            // repeat a lot).
            let level = self.opts.zstd_level;
            if let Some(z) = smaller_zstd(&dir_block, level, MAX_DECODED_BLOCK_BYTES) {
                dir_block = z;
                flags |= FLAG_DIR_ZSTD;
            }
            if let Some(z) = smaller_zstd(&index, level, MAX_INDEX_BYTES) {
                index = z;
                flags |= FLAG_INDEX_ZSTD;
            }
        }
        let blocks = u32::try_from(self.info.blocks)
            .map_err(|_| Error::InvalidInput("a segment of over 2^32 blocks".into()))?;
        let dir_offset = self.pos;
        let dir_len = dir_block.len() as u64;
        let dir_crc = crc32fast::hash(&dir_block);
        dir_block.resize(dir_block.len() + pad8(dir_block.len()), 0);
        fault::write_all(site, &tmp, &mut self.out, &dir_block).map_err(io)?;
        let index_offset = dir_offset + dir_block.len() as u64;
        fault::write_all(site, &tmp, &mut self.out, &index).map_err(io)?;
        let mut footer = [0u8; FOOTER_LEN];
        footer[0..8].copy_from_slice(&dir_offset.to_le_bytes());
        footer[8..16].copy_from_slice(&dir_len.to_le_bytes());
        footer[16..24].copy_from_slice(&index_offset.to_le_bytes());
        footer[24..28].copy_from_slice(&blocks.to_le_bytes());
        footer[28..32].copy_from_slice(&flags.to_le_bytes());
        footer[32..40].copy_from_slice(&self.info.min_ts.to_le_bytes());
        footer[40..48].copy_from_slice(&self.info.max_ts.to_le_bytes());
        footer[48..56].copy_from_slice(&self.info.points.to_le_bytes());
        footer[56..60].copy_from_slice(&dir_crc.to_le_bytes());
        footer[60..64].copy_from_slice(&crc32fast::hash(&index).to_le_bytes());
        let footer_crc = crc32fast::hash(&footer[..64]);
        footer[64..68].copy_from_slice(&footer_crc.to_le_bytes());
        footer[68..72].copy_from_slice(END_MAGIC);
        fault::write_all(site, &tmp, &mut self.out, &footer).map_err(io)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        fault::sync(site, &tmp, &file, false).map_err(io)?;
        self.info.bytes = index_offset + index.len() as u64 + FOOTER_LEN as u64;
        drop(file);
        fault::rename(site, &tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        self.tmp.1 = false;
        if let Err(e) = fault::sync_dir(site, &self.dir) {
            // Not durably named: the caller must not publish it. Remove it (the caller
            // may reuse the id; a crash leaves an unnamed file the next open removes).
            let _ = std::fs::remove_file(&self.path);
            return Err(Error::io(&self.dir, e));
        }
        Ok(self.info)
    }
}
