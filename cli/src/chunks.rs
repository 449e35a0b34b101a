//! Cutting an import's input into chunks that worker threads split and parse in parallel.
//!
//! The reader ([`read_chunks`]) only decompresses and cuts: it ends each chunk after a
//! newline (at most `chunk_lines` lines, about `chunk_bytes` bytes) and counts the chunk's
//! newlines, so every chunk knows the physical line number it starts at. Workers find the
//! chunk's whole lines ([`split_lp`], [`split_plain`]) and write them.
//!
//! A newline inside a quoted line-protocol string does not end a line, so a chunk may end
//! inside a line. Invariants that keep lines and line numbers right:
//! - chunk `k + 1` starts at a line start exactly when chunk `k` (with what it took over
//!   from chunk `k - 1`) ends at a line end; otherwise chunk `k` hands its unfinished last
//!   line to chunk `k + 1` ([`End::Carry`]), which puts it in front of its own bytes;
//! - each worker splits its chunk speculatively (as if it started at a line start) while
//!   earlier chunks are still being split, then takes the previous chunk's [`End`] from the
//!   [`Chain`] before writing anything, and splits again in the rare case of a carry: so no
//!   line is ever written from a wrong start;
//! - a chunk publishes its own [`End`] before it writes, so the chain moves at the speed of
//!   splitting (a `memchr` scan), not of writing;
//! - line numbers are physical (an editor's): a carried line keeps the number of the line it
//!   starts on, and lines after a multi-line string are counted with its newlines.

use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::io::{self, Read};
use std::ops::Range;
use strata_engine::ingest::line_protocol::LineSplitter;

/// A piece of the decompressed input.
#[derive(Debug)]
pub struct Chunk {
    /// Position in the input, from 0.
    pub seq: u64,
    /// The physical line number of the chunk's first byte (1-based).
    pub first_line: usize,
    /// Bytes; every chunk but the last ends with a newline.
    pub bytes: Vec<u8>,
    /// Whether this is the input's last chunk (it may be empty).
    pub last: bool,
}

/// Bytes read from the input at a time while looking for enough lines.
const READ_STEP: usize = 256 << 10;

/// Reads `input` to its end, handing `emit` chunks in order, the last one marked: each
/// ends after its `chunk_lines`-th newline or after the last newline within about
/// `chunk_bytes` (more when one line is longer), whichever comes first. `emit` returns
/// `false` to stop early.
pub fn read_chunks(
    input: &mut dyn Read,
    chunk_bytes: usize,
    chunk_lines: usize,
    mut emit: impl FnMut(Chunk) -> bool,
) -> io::Result<()> {
    let (chunk_bytes, chunk_lines) = (chunk_bytes.max(1), chunk_lines.max(1));
    let mut pending: Vec<u8> = Vec::new();
    let (mut seq, mut next_line) = (0u64, 1usize);
    loop {
        let mut buf = std::mem::take(&mut pending);
        let mut newlines = memchr::memchr_iter(b'\n', &buf).count();
        let mut want = chunk_bytes;
        let cut = loop {
            if newlines >= chunk_lines {
                // Just past the chunk_lines-th newline.
                break memchr::memchr_iter(b'\n', &buf)
                    .nth(chunk_lines - 1)
                    .map(|i| i + 1);
            }
            if buf.len() >= want {
                match memchr::memrchr(b'\n', &buf) {
                    Some(i) => break Some(i + 1),
                    // One line longer than a chunk: read on until it ends.
                    None => want = buf.len() + chunk_bytes,
                }
            }
            let start = buf.len();
            let eof = fill(
                input,
                &mut buf,
                (start + READ_STEP).min(want.max(start + 1)),
            )?;
            newlines += memchr::memchr_iter(b'\n', &buf[start..]).count();
            // At the end, the rest is the last chunk unless it still holds too many lines.
            if eof && newlines < chunk_lines {
                break None;
            }
        };
        let last = cut.is_none();
        if let Some(c) = cut {
            pending = buf[c..].to_vec();
            buf.truncate(c);
        }
        let lines = memchr::memchr_iter(b'\n', &buf).count();
        let chunk = Chunk {
            seq,
            first_line: next_line,
            bytes: buf,
            last,
        };
        if !emit(chunk) || last {
            return Ok(());
        }
        seq += 1;
        next_line += lines;
    }
}

/// Reads into `buf` until it holds `want` bytes; `true` at the end of the input.
fn fill(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    while buf.len() < want {
        let start = buf.len();
        buf.resize(want, 0);
        let n = match input.read(&mut buf[start..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                buf.truncate(start);
                continue;
            }
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A chunk cut into write batches.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Byte ranges of whole lines, each with the physical line number it starts at.
    pub batches: Vec<(Range<usize>, usize)>,
    /// The unfinished last line, if any: its offset and line number.
    pub carry: Option<(usize, usize)>,
}

/// Most bytes a chunk hands on as its unfinished last line. A string value opened and
/// not closed within this much input ends at its own newline instead (the engine's rule
/// for a string that never closes), so one stray quote cannot make every later chunk wait.
pub const MAX_CARRY_BYTES: usize = 64 << 20;

/// Splits line protocol `text` (starting at line `first_line`) into batches of at most
/// `batch_lines` lines, as the engine's [`LineSplitter`] sees lines. Unless `last`, lines
/// whose meaning may depend on bytes after `text` are left out as the carry: a string value
/// still open at the end of `text` reaches on to the next quote in the input.
pub fn split_lp(text: &[u8], first_line: usize, batch_lines: usize, last: bool) -> Split {
    let batch_lines = batch_lines.max(1);
    let base = text.as_ptr() as usize;
    // (start, end, number, after its newline) of each line.
    let mut lines: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (no, line) in LineSplitter::with_first_line(text, first_line) {
        let start = line.as_ptr() as usize - base;
        let end = start + line.len();
        // Past the "\r\n" or "\n" that ends the line.
        let mut after = end;
        while after < text.len() && (text[after] == b'\r' || text[after] == b'\n') {
            after += 1;
            if text[after - 1] == b'\n' {
                break;
            }
        }
        lines.push((start, end, no, after));
    }
    let mut out = Split::default();
    let mut whole = lines.len();
    if !last && let Some(k) = unfinished(text, &lines) {
        whole = k;
        out.carry = Some((lines[k].0, lines[k].2));
    }
    let (mut batch_start, mut batch_line) = (0usize, first_line);
    for chunk in lines[..whole].chunks(batch_lines) {
        let (start, _, no, after) = chunk[chunk.len() - 1];
        let end = if out.carry.is_some() || chunk.len() == batch_lines {
            after
        } else {
            text.len()
        };
        out.batches.push((batch_start..end, batch_line));
        batch_line = no + memchr::memchr_iter(b'\n', &text[start..after]).count();
        batch_start = end;
    }
    if let Some(last_batch) = out.batches.last_mut()
        && out.carry.is_none()
    {
        last_batch.0.end = text.len();
    }
    out
}

/// The first line that may continue past the end of `text`: the one holding the last quote,
/// when that quote opens a string value that does not close (found by closing it after the
/// end: the line then reaches the end). `None` when every line ends inside `text`.
fn unfinished(text: &[u8], lines: &[(usize, usize, usize, usize)]) -> Option<usize> {
    if let Some(&(_, end, ..)) = lines.last()
        && end == text.len()
        && !text.ends_with(b"\n")
    {
        return Some(lines.len() - 1);
    }
    let q = memchr::memrchr(b'"', text)?;
    let k = lines.partition_point(|l| l.0 <= q).checked_sub(1)?;
    let (start, end, ..) = lines[k];
    if q >= end || text.len() - start > MAX_CARRY_BYTES {
        return None;
    }
    let mut probe = text[start..].to_vec();
    probe.push(b'"');
    let (_, first) = LineSplitter::new(&probe).next()?;
    (first.len() > end - start).then_some(k)
}

/// Splits `text` (starting at line `first_line`) into batches of `batch_lines` physical
/// lines (the Prometheus text format has no multi-line values): never a carry.
pub fn split_plain(text: &[u8], first_line: usize, batch_lines: usize) -> Split {
    let batch_lines = batch_lines.max(1);
    let mut out = Split::default();
    let (mut start, mut line) = (0usize, first_line);
    for (k, nl) in memchr::memchr_iter(b'\n', text).enumerate() {
        if (k + 1) % batch_lines == 0 {
            out.batches.push((start..nl + 1, line));
            start = nl + 1;
            line += batch_lines;
        }
    }
    if start < text.len() {
        out.batches.push((start..text.len(), line));
    }
    out
}

/// How a chunk ended: at a line end, or inside a line handed to the next chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The next chunk starts at a line start.
    Clean,
    /// The unfinished line's bytes and its line number.
    Carry {
        /// The bytes of the unfinished line.
        bytes: Vec<u8>,
        /// Its physical line number.
        first_line: usize,
    },
}

/// Each chunk's [`End`], handed from the worker of chunk `k` to that of chunk `k + 1`.
#[derive(Default)]
pub struct Chain {
    ends: Mutex<(HashMap<u64, End>, bool)>,
    published: Condvar,
}

impl Chain {
    /// Records how chunk `seq` ended.
    pub fn publish(&self, seq: u64, end: End) {
        self.ends.lock().0.insert(seq, end);
        self.published.notify_all();
    }

    /// How the chunk before `seq` ended (chunk 0 starts clean), waiting for it; `None` when
    /// the chain was abandoned (a worker died).
    pub fn take_previous(&self, seq: u64) -> Option<End> {
        let Some(prev) = seq.checked_sub(1) else {
            return Some(End::Clean);
        };
        let mut g = self.ends.lock();
        loop {
            if let Some(e) = g.0.remove(&prev) {
                return Some(e);
            }
            if g.1 {
                return None;
            }
            self.published.wait(&mut g);
        }
    }

    /// Wakes every waiter for good: no more ends will be published.
    pub fn abandon(&self) {
        self.ends.lock().1 = true;
        self.published.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunking of `text` at every size gives the lines (and numbers) of one split.
    fn lines_through_chunks(
        text: &[u8],
        chunk_bytes: usize,
        batch_lines: usize,
    ) -> Vec<(usize, Vec<u8>)> {
        let mut chunks = Vec::new();
        read_chunks(&mut &text[..], chunk_bytes, batch_lines, |c| {
            chunks.push(c);
            true
        })
        .unwrap();
        let mut out = Vec::new();
        let mut prev = End::Clean;
        for c in chunks {
            let (bytes, first) = match std::mem::replace(&mut prev, End::Clean) {
                End::Clean => (c.bytes.clone(), c.first_line),
                End::Carry {
                    mut bytes,
                    first_line,
                } => {
                    bytes.extend_from_slice(&c.bytes);
                    (bytes, first_line)
                }
            };
            let s = split_lp(&bytes, first, batch_lines, c.last);
            if let Some((off, line)) = s.carry {
                prev = End::Carry {
                    bytes: bytes[off..].to_vec(),
                    first_line: line,
                };
            }
            for (r, line) in s.batches {
                for (no, l) in LineSplitter::with_first_line(&bytes[r], line) {
                    out.push((no, l.to_vec()));
                }
            }
        }
        assert_eq!(prev, End::Clean, "the last chunk carries nothing");
        out
    }

    #[test]
    fn chunks_give_the_lines_and_numbers_of_one_split_whatever_their_size() {
        let text = b"m v=1i 1\n\n# comment\nm s=\"two\nlines\" 2\r\nm,t=\"x v=3i 3\nm s=\"open\n\nm s=\"a\\\"b\n\" 4\nlast v=5i".to_vec();
        let whole: Vec<(usize, Vec<u8>)> = LineSplitter::new(&text)
            .map(|(n, l)| (n, l.to_vec()))
            .collect();
        assert!(whole.len() >= 5);
        for chunk_bytes in 1..text.len() + 2 {
            for batch_lines in [1, 2, 3, 100] {
                assert_eq!(
                    lines_through_chunks(&text, chunk_bytes, batch_lines),
                    whole,
                    "chunks of {chunk_bytes} bytes, batches of {batch_lines} lines"
                );
            }
        }
    }

    #[test]
    fn chunk_line_numbers_count_every_newline_before_them() {
        let text = b"a\nb\n\nc\nd\ne\n";
        let mut firsts = Vec::new();
        read_chunks(&mut &text[..], 4, 100, |c| {
            firsts.push((c.first_line, c.bytes.clone(), c.last));
            true
        })
        .unwrap();
        assert_eq!(
            firsts,
            vec![
                (1, b"a\nb\n".to_vec(), false),
                (3, b"\nc\n".to_vec(), false),
                (5, b"d\ne\n".to_vec(), false),
                (7, Vec::new(), true),
            ]
        );
    }

    #[test]
    fn chunks_end_after_chunk_lines_lines_even_at_the_end_of_the_input() {
        let text = b"1\n2\n3\n4\n5\n6\n7";
        let mut got = Vec::new();
        read_chunks(&mut &text[..], 1 << 20, 3, |c| {
            got.push((c.seq, c.first_line, c.bytes.clone(), c.last));
            true
        })
        .unwrap();
        assert_eq!(
            got,
            vec![
                (0, 1, b"1\n2\n3\n".to_vec(), false),
                (1, 4, b"4\n5\n6\n".to_vec(), false),
                (2, 7, b"7".to_vec(), true),
            ]
        );
    }

    #[test]
    fn plain_batches_number_their_lines() {
        let s = split_plain(b"a\nb\nc\nd\ne", 10, 2);
        assert_eq!(s.batches, vec![(0..4, 10), (4..8, 12), (8..9, 14)]);
        assert_eq!(s.carry, None);
    }
}
