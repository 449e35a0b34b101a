//! Segments: immutable, checksummed, mmapped column files. Layout: docs/FORMAT.md,
//! "Segment file".
//!
//! A segment holds many columns, each cut into time-ordered blocks of little-endian
//! arrays (8-byte aligned, so a mapped block is read in place as `&[i64]` / `&[f64]`), with
//! per-block statistics for pruning and for answering aggregates without reading the
//! block. Invariants kept by the writer and checked by the reader:
//! - every byte is under a checksum: the header, each block (padding included), the
//!   column directory, the zero padding after it (checked to be zero), the block index and
//!   the footer;
//! - blocks tile the region between the header and the directory, in index order;
//! - within a column, blocks are in time order and do not overlap; within a block,
//!   timestamps strictly increase;
//! - a published segment is never modified: it is written to a temporary name, fsynced,
//!   renamed into place and the directory fsynced.
//!
//! Warm and cold tiers share this container; the tier is an attribute in the manifest.

mod cache;
mod encode;
mod reader;
mod stats;
mod writer;

pub use cache::BlockCache;
pub use encode::{PreparedSeries, SharingHint};
pub use reader::{Block, BlockMeta, ColumnEntry, Segment, SeriesEntry, ValuesView, verify_file};
pub use stats::BlockStats;
pub use writer::{SegmentInfo, SegmentWriter, WriterOptions};

use std::path::{Path, PathBuf};

/// The segments' directory inside the data directory.
pub const SEGMENT_DIR: &str = "segments";
/// Magic bytes that open every segment file.
pub const MAGIC: &[u8; 8] = b"STRATSEG";
/// Magic bytes that close every segment file.
pub const END_MAGIC: &[u8; 4] = b"SEGE";
/// The segment format version this build writes. It reads this one and every earlier one
/// ([`MIN_VERSION`]..=`VERSION`).
pub const VERSION: u32 = 2;
/// The oldest segment format version this build reads (version 1 has no blocks with
/// shared timestamps; everything else is the same).
pub const MIN_VERSION: u32 = 1;
/// Header bytes.
pub const HEADER_LEN: usize = 16;
/// Bytes of one block-index entry.
pub const INDEX_ENTRY_LEN: usize = 80;
/// Upper bound on a decoded block's size, against damaged or hostile length fields.
pub const MAX_DECODED_BLOCK_BYTES: usize = 256 << 20;

/// How a block's payload is stored (a byte in its index entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEncoding {
    /// Little-endian arrays, read in place (warm).
    Raw,
    /// A timestamp codec block followed by a value codec block (docs/FORMAT.md, "Codecs").
    Codec,
    /// `Codec`, then compressed as one zstd frame (cold).
    CodecZstd,
    /// A value codec block alone; the timestamps are those of an earlier `Codec` or
    /// `CodecZstd` block of the same segment, named by number (version 2).
    SharedCodec,
    /// `SharedCodec` with the value codec block compressed as one zstd frame (version 2).
    SharedCodecZstd,
}

impl BlockEncoding {
    /// Whether the block borrows its timestamps from an earlier block.
    pub const fn shares_timestamps(self) -> bool {
        matches!(
            self,
            BlockEncoding::SharedCodec | BlockEncoding::SharedCodecZstd
        )
    }
}

impl BlockEncoding {
    /// The byte stored in the block index.
    pub const fn tag(self) -> u8 {
        match self {
            BlockEncoding::Raw => 0,
            BlockEncoding::Codec => 1,
            BlockEncoding::CodecZstd => 2,
            BlockEncoding::SharedCodec => 3,
            BlockEncoding::SharedCodecZstd => 4,
        }
    }

    /// Inverse of [`BlockEncoding::tag`].
    pub const fn from_tag(t: u8) -> Option<BlockEncoding> {
        match t {
            0 => Some(BlockEncoding::Raw),
            1 => Some(BlockEncoding::Codec),
            2 => Some(BlockEncoding::CodecZstd),
            3 => Some(BlockEncoding::SharedCodec),
            4 => Some(BlockEncoding::SharedCodecZstd),
            _ => None,
        }
    }
}
/// Footer bytes.
pub const FOOTER_LEN: usize = 72;
/// Warm blocks never cross a multiple of this span (1 h), so that GROUP BY time buckets of
/// an hour or a multiple of it find whole blocks inside one bucket.
pub const BLOCK_SPAN_NANOS: i64 = 3_600_000_000_000;
/// Most points in one warm block.
pub const BLOCK_POINTS: usize = 8192;
/// Cold blocks never cross a UTC day: larger blocks compress better.
pub const COLD_BLOCK_SPAN_NANOS: i64 = 86_400_000_000_000;
/// Most points in one cold block.
pub const COLD_BLOCK_POINTS: usize = 65_536;

/// The path of segment `id` under `dir` (the segments directory).
pub fn file_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(file_name(id))
}

/// The file name of segment `id`.
pub fn file_name(id: u64) -> String {
    format!("{id:020}.seg")
}

/// Parses a segment file name back into its id.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn pad8(n: usize) -> usize {
    (8 - n % 8) % 8
}

#[cfg(test)]
mod tests;
