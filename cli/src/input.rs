//! Opening an input file or stdin, decompressing gzip or zstd by their magic bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// An opened input: a reader of decompressed bytes, the raw size if known, and a counter of
/// raw bytes consumed (for progress).
pub struct Input {
    /// Decompressed content.
    pub reader: Box<dyn Read + Send>,
    /// Size of the raw file, when it is a file.
    pub raw_len: Option<u64>,
    /// Raw bytes read so far.
    pub raw_read: Arc<AtomicU64>,
}

/// Opens `path` (`-` for stdin), detecting gzip and zstd by their first bytes.
pub fn open(path: &Path) -> io::Result<Input> {
    let counter = Arc::new(AtomicU64::new(0));
    let (raw, raw_len): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(path)?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let mut buffered = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: raw,
            count: counter.clone(),
        },
    );
    let head = buffered.fill_buf()?;
    let reader: Box<dyn Read + Send> = if head.starts_with(ZSTD_MAGIC) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?)
    } else if head.starts_with(GZIP_MAGIC) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    Ok(Input {
        reader,
        raw_len,
        raw_read: counter,
    })
}

struct Counting {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
