//! The entry points of the fuzz targets (`fuzz/`), shared with the stand-in tests that
//! run them in `cargo test` on seeds and mutations of seeds, so that CI exercises every
//! decoder of outside bytes without nightly Rust. Each function panics exactly when the
//! property its target checks is broken; on any input it must return.

use crate::codec::{self, CodecError};
use crate::ingest::line_protocol::{
    LineSplitter, ParsedLine, ParsedValue, parse_after_series, parse_line, series_span,
    write_line_exact,
};
use crate::ingest::prom_text::{
    PageLine, VALUE_FIELD, lines as page_lines, lines_with_text, metadata, parse_page,
    parse_page_line, parse_value_and_timestamp, sample_series_span,
};
use crate::manifest::Manifest;
use crate::model::FieldValue;
use crate::model::Precision;
use crate::model::TimeRange;
use crate::rollup::RollupFile;
use crate::segment::Segment;
use crate::wal::batch::{Batch, BatchEncoder, SeriesNaming, SeriesTable, decode_batch};
use crate::wal::dict::{decode_defs, put_def};
use crate::wal::frame::{self, Frame, RecordKind};

fn codec_poke<T>(bytes: &[u8], dec: fn(&[u8], &mut Vec<T>) -> Result<usize, CodecError>) {
    let mut out = Vec::new();
    match dec(bytes, &mut out) {
        Ok(used) => assert!(used <= bytes.len() && out.len() <= codec::MAX_BLOCK_POINTS),
        Err(_) => assert!(out.is_empty()),
    }
}

fn codec_roundtrip<T, K: PartialEq + std::fmt::Debug>(
    values: &[T],
    enc: fn(&[T], &mut Vec<u8>),
    dec: fn(&[u8], &mut Vec<T>) -> Result<usize, CodecError>,
    key: fn(&T) -> K,
) {
    let mut block = Vec::new();
    enc(values, &mut block);
    let len = block.len();
    block.extend_from_slice(&[0x22, 0x01, 0xFF]); // a following block must not be read
    let mut out = Vec::new();
    let used = dec(&block, &mut out).expect("a fresh block decodes");
    assert_eq!(used, len);
    let got: Vec<K> = out.iter().map(key).collect();
    let want: Vec<K> = values.iter().map(key).collect();
    assert_eq!(got, want);
}

fn codec_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(8).map(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    })
}

/// Small signed steps, accumulated: regular, jittered and walking shapes.
fn codec_walk(bytes: &[u8], start: i64, scale: i64) -> Vec<i64> {
    let mut acc = start;
    bytes
        .iter()
        .map(|&b| {
            acc = acc.wrapping_add(i64::from(b as i8).wrapping_mul(scale));
            acc
        })
        .collect()
}

/// Codec fuzz target.
///
/// 1. The input as an encoded block, handed to every decoder: no panic, a plausible byte
///    count on success, nothing appended on error.
/// 2. The input as values (the first byte picks the type and shape): encode, then decode,
///    must give back the same values bit for bit and consume exactly the block.
pub fn codec(data: &[u8]) {
    codec_poke(data, codec::decode_timestamps);
    codec_poke(data, codec::decode_floats);
    codec_poke(data, codec::decode_i64);
    codec_poke(data, codec::decode_u64);
    codec_poke(data, codec::decode_bools);
    codec_poke(data, codec::decode_strings);

    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let ts = |v: &[i64]| {
        codec_roundtrip(v, codec::encode_timestamps, codec::decode_timestamps, |x| {
            *x
        })
    };
    let fl = |v: &[f64]| {
        codec_roundtrip(v, codec::encode_floats, codec::decode_floats, |x| {
            x.to_bits()
        })
    };
    let int = |v: &[i64]| codec_roundtrip(v, codec::encode_i64, codec::decode_i64, |x| *x);
    match sel % 10 {
        0 => ts(&codec_words(rest).map(|w| w as i64).collect::<Vec<_>>()),
        1 => {
            // Deltas of 10 s plus jitter in whole milliseconds, or exact steps.
            let mut v = codec_walk(rest, 1_451_606_400_000_000_000, 1_000_000);
            for (i, t) in v.iter_mut().enumerate() {
                *t = t.wrapping_add(i as i64 * 10_000_000_000);
            }
            ts(&v);
        }
        2 => fl(&codec_words(rest).map(f64::from_bits).collect::<Vec<_>>()),
        3 => fl(&codec_walk(rest, 5000, 1)
            .iter()
            .map(|&n| n as f64 / 100.0)
            .collect::<Vec<_>>()),
        4 => {
            // Float runs: each word repeated per the following byte.
            let v: Vec<f64> = rest
                .chunks_exact(9)
                .flat_map(|c| {
                    let bits = codec_words(&c[..8]).next().unwrap_or(0);
                    std::iter::repeat_n(f64::from_bits(bits), usize::from(c[8] % 16) + 1)
                })
                .collect();
            fl(&v);
        }
        5 => int(&codec_words(rest).map(|w| w as i64).collect::<Vec<_>>()),
        6 => int(&codec_walk(rest, 50, 1)),
        7 => codec_roundtrip(
            &codec_words(rest).collect::<Vec<_>>(),
            codec::encode_u64,
            codec::decode_u64,
            |x| *x,
        ),
        8 => codec_roundtrip(
            &rest.iter().map(|b| b & 1 == 1).collect::<Vec<_>>(),
            codec::encode_bools,
            codec::decode_bools,
            |x| *x,
        ),
        _ => {
            let v: Vec<String> = rest
                .split(|&b| b == 0xFF)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            codec_roundtrip(&v, codec::encode_strings, codec::decode_strings, |x| {
                x.clone()
            });
        }
    }
}

/// Manifest fuzz target: arbitrary bytes decode to a manifest or an error, never a panic;
/// a decoded manifest re-encodes to bytes that decode to the same manifest, and to the
/// very same bytes when it was stored in the current version without tombstones (a
/// version 1 delete inside a tombstone re-encodes as version 2).
pub fn manifest(data: &[u8]) {
    if let Ok(m) = Manifest::decode(data) {
        let again = m.encode();
        assert_eq!(Manifest::decode(&again).as_ref(), Ok(&m));
        if data.get(8..12) == Some(&2u32.to_le_bytes()[..]) && m.tombstones.is_empty() {
            assert_eq!(again, data);
        }
    }
}

/// Index image fuzz target (the index part of `INDEX`, docs/FORMAT.md): arbitrary bytes
/// decode to an index or an error, never a panic; a decoded index answers every listing,
/// and its own image decodes to an index that lists the same.
pub fn index_image(data: &[u8]) {
    crate::index::image::fuzz_check(data);
}

/// A valid index part for the index image target's seeds.
pub fn index_image_seed() -> Vec<u8> {
    crate::index::image::fuzz_seed()
}

const LINE_PROTOCOL_PRECISIONS: [Precision; 6] = [
    Precision::Nanosecond,
    Precision::Microsecond,
    Precision::Millisecond,
    Precision::Second,
    Precision::Minute,
    Precision::Hour,
];

fn line_protocol_same_value(a: &ParsedValue<'_>, b: &ParsedValue<'_>) -> bool {
    match (a, b) {
        (ParsedValue::Float(x), ParsedValue::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// Every parsed line (exact-form lines included, NaN and all) writes back, in line
/// protocol or the exact form, and parses again to the same values.
fn line_protocol_check_round_trip(parsed: &ParsedLine<'_>, written: &mut Vec<u8>) {
    let timestamp = parsed.timestamp.unwrap_or(0);
    written.clear();
    let tags: Vec<(&str, &str)> = parsed
        .tags
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    let fields: Vec<_> = parsed
        .fields
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    if let Err(e) = write_line_exact(written, &parsed.measurement, &tags, &fields, timestamp) {
        panic!("a parsed line must be writable: {e}: {parsed:?}");
    }
    let mut lines = LineSplitter::new(written);
    let Some((_, line)) = lines.next() else {
        panic!(
            "written line vanished: {:?}",
            String::from_utf8_lossy(written)
        );
    };
    assert!(lines.next().is_none(), "one line written, several read");
    let mut again = ParsedLine::default();
    if let Err(e) = parse_line(line, Precision::Nanosecond, &mut again) {
        panic!(
            "{e} in {:?} written from {parsed:?}",
            String::from_utf8_lossy(line)
        );
    }
    assert_eq!(again.measurement, parsed.measurement);
    assert_eq!(again.tags, parsed.tags);
    assert_eq!(again.timestamp, Some(timestamp));
    assert_eq!(again.fields.len(), parsed.fields.len());
    for ((ka, va), (kb, vb)) in again.fields.iter().zip(&parsed.fields) {
        assert_eq!(ka, kb);
        assert!(line_protocol_same_value(va, vb), "{va:?} != {vb:?}");
    }
}

/// Arbitrary bytes through `LineSplitter` + `parse_line` at every precision must never
/// panic; a line that parses must write back and parse again to the same values.
pub fn line_protocol(data: &[u8]) {
    let mut parsed = ParsedLine::default();
    let mut fast = ParsedLine::default();
    let mut written = Vec::new();
    for precision in LINE_PROTOCOL_PRECISIONS {
        for (_, line) in LineSplitter::new(data) {
            if parse_line(line, precision, &mut parsed).is_ok() {
                line_protocol_check_round_trip(&parsed, &mut written);
                // A known series' shortcut reads what the full parse reads, with the
                // line's text given or not.
                if let Some((_, end)) = series_span(line) {
                    for text in [None, std::str::from_utf8(line).ok()] {
                        assert!(parse_after_series(line, text, end, precision, &mut fast));
                        assert_eq!(fast.fields, parsed.fields);
                        assert_eq!(fast.timestamp, parsed.timestamp);
                    }
                }
            }
        }
    }
}

/// Arbitrary bytes through `parse_page` and `metadata` must never panic, every error must
/// name a line of the page and a column of at least 1, and every point must carry exactly
/// one float field named `value`.
pub fn prom_text(data: &[u8]) {
    let lines = data.split(|&b| b == b'\n').count();
    let (points, errors) = parse_page(data, 42);
    assert!(points.len() + errors.len() <= lines);
    for e in &errors {
        assert!(e.line >= 1 && e.line <= lines, "{e}");
        assert!(e.column >= 1 && e.column <= data.len() + 1, "{e}");
    }
    for p in &points {
        assert_eq!(p.fields.len(), 1);
        assert_eq!(p.fields[0].0, VALUE_FIELD);
        assert!(matches!(p.fields[0].1, FieldValue::Float(_)));
    }
    let _ = metadata(data);
    // The write path's shortcuts: lines with their text split as the bytes do, and a
    // sample's value and timestamp read after its series span as the full parse reads them.
    assert!(page_lines(data).eq(lines_with_text(data).map(|(n, l, _)| (n, l))));
    for (number, line, text) in lines_with_text(data) {
        if let Some(t) = text {
            assert_eq!(t.as_bytes(), line);
        }
        if let Ok(PageLine::Sample {
            value, timestamp, ..
        }) = parse_page_line(line, number, 42)
        {
            let (_, end) = sample_series_span(line).expect("a sample has a series span");
            for given in [None, text] {
                let (v, t) = parse_value_and_timestamp(line, given, end, 42)
                    .expect("the shortcut reads a sample the full parse reads");
                assert_eq!((v.to_bits(), t), (value.to_bits(), timestamp));
            }
        }
    }
}

/// Segment fuzz target: arbitrary bytes as a segment file must open to an error or to a
/// segment whose every column reads (values or a corruption error) without a panic.
pub fn segment(data: &[u8]) {
    let path = std::env::temp_dir().join(format!("strata-fuzz-segment-{}.seg", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(seg) = Segment::open(&path, 1) {
        for s in seg.series() {
            for c in &s.columns {
                let _ = seg.read_column(c, TimeRange::ALL);
            }
        }
        let _ = seg.verify();
    }
}

/// Rollup file fuzz target: arbitrary bytes, both as a rollup file and as the body of a
/// file framed with valid checksums in each version (so that mutations reach the body's
/// parser instead of stopping at a checksum), must decode to an error or to a file whose
/// every entry and stripe reads (buckets or a corruption error) without a panic; a file
/// whose entries all read re-encodes (as version 2) to bytes that decode to the same meta
/// and the same entries, and encoding those again gives the very same bytes.
pub fn rollup_file(data: &[u8]) {
    use crate::rollup::file::{VERSION, VERSION_1};
    rollup_file_check(data);
    rollup_file_check(&rollup_file_framed(data, VERSION));
    rollup_file_check(&rollup_file_framed(data, VERSION_1));
}

/// `body` framed as an uncompressed rollup file of `version` (docs/FORMAT.md, "Rollup
/// file").
pub fn rollup_file_framed(body: &[u8], version: u32) -> Vec<u8> {
    use crate::rollup::file::{END_MAGIC, MAGIC};
    let mut out = Vec::with_capacity(body.len() + 40);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&out).to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&out[16..28]).to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(END_MAGIC);
    out
}

/// The decompressed body of a rollup file (seeds for the framed half of [`rollup_file`]);
/// `None` when `file` does not decode.
pub fn rollup_file_body(file: &[u8]) -> Option<Vec<u8>> {
    RollupFile::decode(std::path::Path::new("seed.rup"), file)
        .ok()
        .map(|f| f.body().to_vec())
}

fn rollup_file_check(data: &[u8]) {
    let path = std::path::Path::new("fuzz.rup");
    let Ok(file) = RollupFile::decode(path, data) else {
        return;
    };
    let columns: Vec<(Vec<u8>, String)> = file
        .columns()
        .map(|(k, f, _)| (k.to_vec(), f.to_owned()))
        .collect();
    assert_eq!(columns.len(), file.entries());
    for (key, field) in &columns {
        let _ = file.buckets(path, key, field);
    }
    // Every column is found, and a cursor walking the columns in order (as queries do)
    // or backwards finds what a lookup from scratch finds, by name and by position.
    let mut sorted = columns.clone();
    sorted.sort();
    let backwards: Vec<_> = sorted.iter().rev().cloned().collect();
    for order in [&sorted, &backwards] {
        let mut c = file.cursor();
        for (key, field) in order {
            let want = file.locate(key, field);
            assert!(want.is_some(), "a listed column is not found");
            assert_eq!(c.seek(key, field), want, "the cursor disagrees");
            let at = (file.cursor().seek_key(key))
                .zip(file.field_id(field))
                .and_then(|(p, f)| file.locate_at(p, f));
            assert_eq!(at, want, "the position disagrees");
        }
    }
    for j in 0..file.stripes() {
        let _ = file.stripe(path, j);
    }
    let Ok(entries) = file.all_entries(path) else {
        return;
    };
    // A v1 file may hold what version 2 cannot (a sub-second interval): then encoding
    // refuses it, with an error.
    let Ok(again) = crate::rollup::file::encode(&file.meta, &entries, 1) else {
        return;
    };
    let decoded = match RollupFile::decode(path, &again) {
        Ok(d) => d,
        Err(e) => panic!("a re-encoded rollup file must decode: {e}"),
    };
    assert_eq!(decoded.meta, file.meta);
    let entries_again = match decoded.all_entries(path) {
        Ok(e) => e,
        Err(e) => panic!("a re-encoded rollup file's entries must read: {e}"),
    };
    assert_eq!(entries_again.len(), entries.len());
    for (a, b) in entries_again.iter().zip(&entries) {
        assert_eq!((&a.key, &a.field), (&b.key, &b.field));
        assert!(
            same_buckets(&a.buckets, &b.buckets),
            "a rollup entry changed across encoding"
        );
    }
    match crate::rollup::file::encode(&decoded.meta, &entries_again, 1) {
        Ok(third) => assert_eq!(third, again, "rollup encoding is not stable"),
        Err(e) => panic!("decoded entries must encode again: {e}"),
    }
}

/// Bucket columns equal bit for bit (floats compared by their bits, so NaN equals NaN).
fn same_buckets(a: &crate::rollup::BucketColumns, b: &crate::rollup::BucketColumns) -> bool {
    use crate::rollup::columns::TypedValues;
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let values = match (&a.values, &b.values) {
        (TypedValues::Float(x), TypedValues::Float(y)) => [
            (&x.sum, &y.sum),
            (&x.min, &y.min),
            (&x.max, &y.max),
            (&x.first, &y.first),
            (&x.last, &y.last),
        ]
        .iter()
        .all(|(p, q)| bits(p) == bits(q)),
        (TypedValues::Integer(x), TypedValues::Integer(y)) => x == y,
        (TypedValues::Unsigned(x), TypedValues::Unsigned(y)) => x == y,
        _ => false,
    };
    let sketches = a.sketches.len() == b.sketches.len()
        && a.sketches.iter().zip(&b.sketches).all(|(p, q)| {
            (p.pos == q.pos && p.neg == q.neg)
                && (p.zeros, p.neg_inf, p.pos_inf, p.nan) == (q.zeros, q.neg_inf, q.pos_inf, q.nan)
                && p.min.to_bits() == q.min.to_bits()
                && p.max.to_bits() == q.max.to_bits()
        });
    values
        && sketches
        && (&a.start, &a.count, &a.first_t, &a.last_t)
            == (&b.start, &b.count, &b.first_t, &b.last_t)
}

/// WAL fuzz target: arbitrary bytes as a record frame, as the payload of each record kind
/// (a write batch naming series by number and by key, series definitions, a delete) and
/// as a whole WAL file (`wal::verify_bytes`: frames, kinds, payloads and the file's series
/// dictionary) must decode or be checked to a value or an error, never a panic or an
/// allocation beyond the input's size. A decoded frame re-encodes to the same bytes; a
/// decoded numbered batch and decoded definitions re-encode to bytes that decode to the
/// same again.
pub fn wal(data: &[u8]) {
    if let Frame::Record {
        kind,
        payload,
        size,
    } = frame::decode_record(data)
    {
        assert!(size <= data.len());
        if let Some(kind) = RecordKind::from_u8(kind) {
            let mut again = Vec::new();
            frame::encode_record(kind, payload, &mut again);
            assert_eq!(&again[..], &data[..size]);
        }
    }
    for naming in [SeriesNaming::Numbers, SeriesNaming::Keys] {
        if let Ok(batch) = decode_batch(data, naming) {
            assert!(batch.lines.iter().all(|l| !l.fields.is_empty()));
            assert!(batch.lines.iter().all(|l| l.series < batch.series.len()));
            if let SeriesTable::Numbers(_) = batch.series {
                let once = encode_numbered(&batch);
                let decoded = match decode_batch(&once, SeriesNaming::Numbers) {
                    Ok(b) => b,
                    Err(e) => panic!("a re-encoded batch must decode: {e:?}"),
                };
                assert_eq!(decoded.series, batch.series);
                assert_eq!(decoded.lines.len(), batch.lines.len());
                assert_eq!(
                    encode_numbered(&decoded),
                    once,
                    "batch encoding is not stable"
                );
            }
        }
    }
    if let Ok(defs) = decode_defs(data) {
        let mut again = Vec::new();
        for &(id, key) in &defs {
            put_def(&mut again, id, key);
        }
        assert_eq!(decode_defs(&again), Ok(defs));
    }
    // A delete payload (either version) decodes or is refused; decoded, it round-trips.
    if let Ok(d) = crate::wal::delete::DeleteSpec::decode(data) {
        assert_eq!(crate::wal::delete::DeleteSpec::decode(&d.encode()), Ok(d));
    }
    let _ = frame::check_header(data);
    // Whole files: the bytes as they are, and after a valid header, as the newest file
    // (a torn tail allowed) and as an older one.
    let path = std::path::Path::new("fuzz.wal");
    let _ = crate::wal::verify_bytes(path, data, false);
    let mut file = frame::header().to_vec();
    file.extend_from_slice(data);
    for newest in [true, false] {
        let check = crate::wal::verify_bytes(path, &file, newest);
        assert!(check.records as usize <= data.len() / (frame::FRAME_PREFIX_LEN + 1));
    }
}

/// A decoded numbered batch, encoded again.
fn encode_numbered(batch: &Batch<'_>) -> Vec<u8> {
    let mut e = BatchEncoder::default();
    if let SeriesTable::Numbers(ids) = &batch.series {
        for &id in ids {
            e.add_series(id);
        }
    }
    for line in &batch.lines {
        e.begin_line(line.series as u64, line.timestamp);
        for &(name, value) in &line.fields {
            e.field(name, value);
        }
        e.end_line();
    }
    let mut out = Vec::new();
    e.finish_into(&mut out);
    out
}

/// A deterministic generator for the stand-in tests (xorshift64*).
pub struct Mutator(u64);

impl Mutator {
    /// A generator started from `seed` (any value; 0 is replaced).
    pub fn new(seed: u64) -> Mutator {
        Mutator(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// A variant of `seed` as a fuzzer would make one: one to four of bit flips,
    /// interesting bytes, truncation, a repeated slice, random bytes inserted, or a splice
    /// with `other`.
    pub fn mutate(&mut self, seed: &[u8], other: &[u8]) -> Vec<u8> {
        const INTERESTING: [u8; 8] = [0, 1, 0x7F, 0x80, 0xFF, b'\n', b' ', b'='];
        let mut v = seed.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(7) {
                0 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] ^= 1 << self.below(8);
                }
                1 if !v.is_empty() => {
                    let i = self.below(v.len());
                    v[i] = INTERESTING[self.below(INTERESTING.len())];
                }
                2 => v.truncate(self.below(v.len() + 1)),
                3 if !v.is_empty() => {
                    let a = self.below(v.len());
                    let b = (a + 1 + self.below(16)).min(v.len());
                    let piece = v[a..b].to_vec();
                    let at = self.below(v.len() + 1);
                    v.splice(at..at, piece);
                }
                4 => {
                    let at = self.below(v.len() + 1);
                    let n = 1 + self.below(8);
                    let bytes: Vec<u8> = (0..n).map(|_| self.next() as u8).collect();
                    v.splice(at..at, bytes);
                }
                5 if !other.is_empty() => {
                    let cut = self.below(v.len() + 1);
                    let from = self.below(other.len());
                    v.truncate(cut);
                    v.extend_from_slice(&other[from..]);
                }
                _ => {
                    let n = self.below(64);
                    v = (0..n).map(|_| self.next() as u8).collect();
                }
            }
        }
        v
    }
}
