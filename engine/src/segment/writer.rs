//! Builds a segment file: blocks first (streamed), then the column directory, the block
//! index and the footer; published with tmp + fsync + rename + directory fsync.

use super::{
    BLOCK_POINTS, BLOCK_SPAN_NANOS, BlockStats, END_MAGIC, FOOTER_LEN, HEADER_LEN, MAGIC, VERSION,
    file_path, pad8,
};
use crate::error::{Error, Result};
use crate::model::series::put_uvarint;
use crate::model::{ColumnData, ColumnValues};
use std::fs::File;
use std::io::{BufWriter, Write};
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

/// Writes one segment. Add series with [`SegmentWriter::add_series`], then `finish`.
pub struct SegmentWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    pos: u64,
    directory: Vec<u8>,
    index: Vec<u8>,
    info: SegmentInfo,
    scratch: Vec<u8>,
}

impl SegmentWriter {
    /// Starts segment `id` in `dir` (the segments directory, which must exist).
    pub fn create(dir: &Path, id: u64) -> Result<SegmentWriter> {
        let path = file_path(dir, id);
        let tmp = path.with_extension("seg.tmp");
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        let crc = crc32fast::hash(&header[..12]);
        header[12..].copy_from_slice(&crc.to_le_bytes());
        out.write_all(&header).map_err(|e| Error::io(&tmp, e))?;
        Ok(SegmentWriter {
            out,
            tmp,
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
        })
    }

    /// Adds a series (canonical key bytes) and its columns. Each column's timestamps must
    /// strictly increase; empty columns are skipped.
    pub fn add_series(&mut self, key: &[u8], columns: &[(&str, &ColumnData)]) -> Result<()> {
        let columns: Vec<&(&str, &ColumnData)> =
            columns.iter().filter(|(_, c)| !c.is_empty()).collect();
        if columns.is_empty() {
            return Ok(());
        }
        put_uvarint(&mut self.directory, key.len() as u64);
        self.directory.extend_from_slice(key);
        put_uvarint(&mut self.directory, columns.len() as u64);
        for (name, data) in columns {
            if data.timestamps.len() != data.values.len()
                || data.timestamps.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(Error::Internal(format!(
                    "segment writer: column {name:?} is not strictly time-ordered"
                )));
            }
            let first_block = self.info.blocks;
            let column_no = u32::try_from(self.info.columns).unwrap_or(u32::MAX);
            let mut start = 0;
            while start < data.timestamps.len() {
                let span = data.timestamps[start].div_euclid(BLOCK_SPAN_NANOS);
                let mut end = start + 1;
                while end < data.timestamps.len()
                    && end - start < BLOCK_POINTS
                    && data.timestamps[end].div_euclid(BLOCK_SPAN_NANOS) == span
                {
                    end += 1;
                }
                self.write_block(column_no, data, start..end)?;
                start = end;
            }
            put_uvarint(&mut self.directory, name.len() as u64);
            self.directory.extend_from_slice(name.as_bytes());
            self.directory.push(data.values.field_type().tag());
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
        r: std::ops::Range<usize>,
    ) -> Result<()> {
        let b = &mut self.scratch;
        b.clear();
        for t in &data.timestamps[r.clone()] {
            b.extend_from_slice(&t.to_le_bytes());
        }
        match &data.values {
            ColumnValues::Float(v) => v[r.clone()]
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_bits().to_le_bytes())),
            ColumnValues::Integer(v) => v[r.clone()]
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
            ColumnValues::Unsigned(v) => v[r.clone()]
                .iter()
                .for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
            ColumnValues::Boolean(v) => b.extend(v[r.clone()].iter().map(|&x| u8::from(x))),
            ColumnValues::String(v) => {
                let strings = &v[r.clone()];
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
        b.resize(b.len() + pad8(b.len()), 0);
        let crc = crc32fast::hash(b);
        self.out.write_all(b).map_err(|e| Error::io(&self.tmp, e))?;
        let (min_ts, max_ts) = (data.timestamps[r.start], data.timestamps[r.end - 1]);
        let e = &mut self.index;
        e.extend_from_slice(&self.pos.to_le_bytes());
        e.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        e.extend_from_slice(&u32::try_from(r.len()).unwrap_or(u32::MAX).to_le_bytes());
        e.extend_from_slice(&min_ts.to_le_bytes());
        e.extend_from_slice(&max_ts.to_le_bytes());
        e.extend_from_slice(&BlockStats::compute(&data.values, r.clone()).encode());
        e.extend_from_slice(&crc.to_le_bytes());
        e.extend_from_slice(&column_no.to_le_bytes());
        self.pos += b.len() as u64;
        self.info.blocks += 1;
        self.info.points += r.len() as u64;
        self.info.min_ts = self.info.min_ts.min(min_ts);
        self.info.max_ts = self.info.max_ts.max(max_ts);
        Ok(())
    }

    /// Writes the directory, index and footer, fsyncs, and publishes the file under its
    /// final name. Returns what it holds.
    pub fn finish(mut self) -> Result<SegmentInfo> {
        let io = |e| Error::io(&self.tmp, e);
        let mut dir_block = Vec::with_capacity(10 + self.directory.len());
        put_uvarint(&mut dir_block, self.info.series);
        dir_block.extend_from_slice(&self.directory);
        let dir_offset = self.pos;
        let dir_len = dir_block.len() as u64;
        let dir_crc = crc32fast::hash(&dir_block);
        dir_block.resize(dir_block.len() + pad8(dir_block.len()), 0);
        self.out.write_all(&dir_block).map_err(io)?;
        let index_offset = dir_offset + dir_block.len() as u64;
        self.out.write_all(&self.index).map_err(io)?;
        let mut footer = [0u8; FOOTER_LEN];
        footer[0..8].copy_from_slice(&dir_offset.to_le_bytes());
        footer[8..16].copy_from_slice(&dir_len.to_le_bytes());
        footer[16..24].copy_from_slice(&index_offset.to_le_bytes());
        footer[24..32].copy_from_slice(&self.info.blocks.to_le_bytes());
        footer[32..40].copy_from_slice(&self.info.min_ts.to_le_bytes());
        footer[40..48].copy_from_slice(&self.info.max_ts.to_le_bytes());
        footer[48..56].copy_from_slice(&self.info.points.to_le_bytes());
        footer[56..60].copy_from_slice(&dir_crc.to_le_bytes());
        footer[60..64].copy_from_slice(&crc32fast::hash(&self.index).to_le_bytes());
        let footer_crc = crc32fast::hash(&footer[..64]);
        footer[64..68].copy_from_slice(&footer_crc.to_le_bytes());
        footer[68..72].copy_from_slice(END_MAGIC);
        self.out.write_all(&footer).map_err(io)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        self.info.bytes = index_offset + self.index.len() as u64 + FOOTER_LEN as u64;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        crate::wal::sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        Ok(self.info)
    }
}
