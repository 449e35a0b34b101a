use super::*;
use crate::model::{ColumnData, ColumnValues, TimeRange};
use crate::segment::{BlockEncoding, WriterOptions};

const HOUR: i64 = BLOCK_SPAN_NANOS;

fn sample_columns() -> Vec<(String, ColumnData)> {
    let ts: Vec<i64> = (0..10_000).map(|i| i * 1_000_000_000 - 7 * HOUR).collect();
    vec![
        (
            "f".into(),
            ColumnData {
                timestamps: ts.clone(),
                values: ColumnValues::Float(
                    ts.iter()
                        .enumerate()
                        .map(|(i, _)| {
                            if i == 5 {
                                f64::from_bits(0x7ff8_0000_0000_0001)
                            } else {
                                i as f64 * 0.5 - 3.0
                            }
                        })
                        .collect(),
                ),
            },
        ),
        (
            "i".into(),
            ColumnData {
                timestamps: ts[..3].to_vec(),
                values: ColumnValues::Integer(vec![i64::MIN, 0, i64::MAX]),
            },
        ),
        (
            "u".into(),
            ColumnData {
                timestamps: vec![1, 2],
                values: ColumnValues::Unsigned(vec![u64::MAX, 3]),
            },
        ),
        (
            "b".into(),
            ColumnData {
                timestamps: vec![-5, 9],
                values: ColumnValues::Boolean(vec![true, false]),
            },
        ),
        (
            "s".into(),
            ColumnData {
                timestamps: vec![4, 5, 6],
                values: ColumnValues::String(vec!["".into(), "héllo\nworld".into(), "x".into()]),
            },
        ),
    ]
}

fn write(dir: &std::path::Path, id: u64, keys: &[&[u8]]) -> SegmentInfo {
    let cols = sample_columns();
    let refs: Vec<(&str, &ColumnData)> = cols.iter().map(|(n, c)| (n.as_str(), c)).collect();
    let mut w = SegmentWriter::create(dir, id).unwrap();
    for k in keys {
        w.add_series(k, &refs).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn columns_round_trip_and_blocks_respect_hours_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let info = write(dir.path(), 7, &[b"\x01a", b"\x01b"]);
    assert_eq!(info.series, 2);
    assert_eq!(info.columns, 10);
    let seg = Segment::open(&file_path(dir.path(), 7), 7).unwrap();
    assert_eq!(seg.points(), info.points);
    assert_eq!(seg.bytes(), info.bytes);
    let want = sample_columns();
    for s in seg.series() {
        for (c, (name, data)) in s.columns.iter().zip(&want) {
            assert_eq!(&*c.name, name.as_str());
            let got = seg.read_column(c, TimeRange::ALL).unwrap();
            assert_eq!(got.timestamps, data.timestamps);
            match (&got.values, &data.values) {
                (ColumnValues::Float(a), ColumnValues::Float(b)) => {
                    assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
                }
                (a, b) => assert_eq!(a, b),
            }
            for i in c.first_block..c.first_block + c.n_blocks {
                let m = seg.block_meta(i as usize);
                assert!(m.count as usize <= BLOCK_POINTS);
                assert_eq!(
                    m.min_ts.div_euclid(HOUR),
                    m.max_ts.div_euclid(HOUR),
                    "a block crosses an hour"
                );
            }
        }
        let f = &s.columns[0];
        let part = seg
            .read_column(
                f,
                TimeRange::new(-7 * HOUR + 10_000_000_000, -7 * HOUR + 12_000_000_000),
            )
            .unwrap();
        assert_eq!(part.len(), 2);
    }
    // Block statistics match the data.
    let f = &seg.series()[0].columns[0];
    let m = seg.block_meta(f.first_block as usize);
    let b = seg.block(f.first_block as usize).unwrap();
    let ValuesView::Float(v) = b.values() else {
        panic!()
    };
    let BlockStats::Float { sum, min, max } = m.stats else {
        panic!()
    };
    assert!(sum.is_nan(), "a NaN value makes the sum NaN");
    assert_eq!(min, v.iter().copied().fold(f64::NAN, f64::min));
    assert_eq!(max, v.iter().copied().fold(f64::NAN, f64::max));
    let i = &seg.series()[0].columns[1];
    assert_eq!(
        seg.block_meta(i.first_block as usize).stats,
        BlockStats::Integer {
            sum: i128::from(i64::MIN) + i128::from(i64::MAX),
            min: i64::MIN,
            max: i64::MAX
        }
    );
    assert!(seg.verify().is_empty());
}

#[test]
fn every_flipped_byte_is_found_by_verify_and_never_read_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let cols = [
        (
            "v".to_owned(),
            ColumnData {
                timestamps: vec![1, 2, 3],
                values: ColumnValues::Integer(vec![10, 20, 30]),
            },
        ),
        (
            "s".to_owned(),
            ColumnData {
                timestamps: vec![1],
                values: ColumnValues::String(vec!["abc".into()]),
            },
        ),
    ];
    let refs: Vec<(&str, &ColumnData)> = cols.iter().map(|(n, c)| (n.as_str(), c)).collect();
    let mut w = SegmentWriter::create(dir.path(), 1).unwrap();
    w.add_series(b"\x01m", &refs).unwrap();
    w.add_series(b"\x01n", &refs).unwrap();
    w.finish().unwrap();
    let path = file_path(dir.path(), 1);
    let good = std::fs::read(&path).unwrap();
    let damaged = dir.path().join("damaged.seg");
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&damaged, &bad).unwrap();
        let problems = verify_file(&damaged, 1);
        assert!(
            !problems.is_empty(),
            "flip at byte {i} of {} not noticed",
            good.len()
        );
        for p in &problems {
            assert!(matches!(p, crate::Error::Corrupt { .. }), "{p}");
        }
        // Reading never returns wrong numbers: either open fails, or the damaged block
        // errors, and the other blocks read correctly.
        if let Ok(seg) = Segment::open(&damaged, 1) {
            for s in seg.series() {
                for c in &s.columns {
                    match seg.read_column(c, TimeRange::ALL) {
                        Ok(d) => {
                            let want = &cols.iter().find(|(n, _)| **n == *c.name).unwrap().1;
                            assert_eq!(&d, want, "flip at {i} changed data silently");
                        }
                        Err(e) => assert!(e.to_string().contains("damaged.seg"), "{e}"),
                    }
                }
            }
        }
    }
    // Truncation at any point is an error, never a panic.
    for cut in 0..good.len() {
        std::fs::write(&damaged, &good[..cut]).unwrap();
        assert!(Segment::open(&damaged, 1).is_err(), "cut at {cut}");
    }
}

#[test]
fn file_names_round_trip() {
    assert_eq!(parse_file_name(&file_name(42)), Some(42));
    assert_eq!(parse_file_name("42.seg"), None);
    assert_eq!(parse_file_name("00000000000000000042.seg.tmp"), None);
}

#[test]
fn cold_segments_round_trip_every_type_compressed_and_catch_every_flip() {
    let dir = tempfile::tempdir().unwrap();
    let cols = sample_columns();
    let refs: Vec<(&str, &ColumnData)> = cols.iter().map(|(n, c)| (n.as_str(), c)).collect();
    let mut w = SegmentWriter::create_with(dir.path(), 3, WriterOptions::cold(3)).unwrap();
    w.add_series(b"\x01a", &refs).unwrap();
    let cold = w.finish().unwrap();
    let warm = write(dir.path(), 4, &[b"\x01a"]);
    assert!(
        cold.bytes * 4 < warm.bytes,
        "cold {} vs warm {}",
        cold.bytes,
        warm.bytes
    );
    let seg = Segment::open(&file_path(dir.path(), 3), 3).unwrap();
    for (c, (name, data)) in seg.series()[0].columns.iter().zip(&cols) {
        assert_eq!(&*c.name, name.as_str());
        let got = seg.read_column(c, TimeRange::ALL).unwrap();
        assert_eq!(got.timestamps, data.timestamps);
        match (&got.values, &data.values) {
            (ColumnValues::Float(a), ColumnValues::Float(b)) => {
                assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
            (a, b) => assert_eq!(a, b),
        }
        for i in c.first_block..c.first_block + c.n_blocks {
            let m = seg.block_meta(i as usize);
            assert_ne!(m.encoding, Some(BlockEncoding::Raw));
        }
    }
    // The float column holds 10,000 points over 2.8 hours: one day-aligned block.
    assert_eq!(seg.series()[0].columns[0].n_blocks, 1);
    assert!(seg.verify().is_empty());

    // Every flipped byte of a small cold file is noticed.
    let small = [(
        "v".to_owned(),
        ColumnData {
            timestamps: (0..50).collect(),
            values: ColumnValues::Integer((0..50).map(|i| i % 7).collect()),
        },
    )];
    let refs: Vec<(&str, &ColumnData)> = small.iter().map(|(n, c)| (n.as_str(), c)).collect();
    let mut w = SegmentWriter::create_with(dir.path(), 5, WriterOptions::cold(3)).unwrap();
    w.add_series(b"\x01m", &refs).unwrap();
    w.finish().unwrap();
    let good = std::fs::read(file_path(dir.path(), 5)).unwrap();
    let damaged = dir.path().join("damaged.seg");
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x08;
        std::fs::write(&damaged, &bad).unwrap();
        assert!(
            !verify_file(&damaged, 5).is_empty(),
            "flip at {i} not noticed"
        );
    }
}

#[test]
fn blocks_in_finds_exactly_the_overlapping_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let info = write(dir.path(), 9, &[b"\x01a"]);
    assert!(info.blocks > 3);
    let seg = Segment::open(&file_path(dir.path(), 9), 9).unwrap();
    let col = &seg.series()[0].columns[0];
    let first = col.first_block as usize;
    let all = first..first + col.n_blocks as usize;
    let (lo, hi) = seg.time_range();
    let mut probes = vec![i64::MIN, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, i64::MAX];
    for i in all.clone() {
        let m = seg.block_meta(i);
        probes.extend([
            m.min_ts - 1,
            m.min_ts,
            m.min_ts + 1,
            m.max_ts - 1,
            m.max_ts,
            m.max_ts + 1,
        ]);
    }
    for &a in &probes {
        for &b in &probes {
            let range = TimeRange::new(a, b);
            let want: Vec<usize> = all
                .clone()
                .filter(|&i| {
                    let m = seg.block_meta(i);
                    range.overlaps(m.min_ts, m.max_ts)
                })
                .collect();
            let got: Vec<usize> = seg
                .blocks_in(col, range)
                .filter(|&i| {
                    let m = seg.block_meta(i);
                    range.overlaps(m.min_ts, m.max_ts)
                })
                .collect();
            assert_eq!(got, want, "range {a}..{b}");
            // The search never returns far more than needed.
            assert!(
                seg.blocks_in(col, range).len() <= want.len() + 1,
                "range {a}..{b}"
            );
        }
    }
}

/// Series scraped together share their timestamps: a cold segment stores them once (the
/// later blocks name the first one), reads every value back bit for bit (stale markers
/// and NaN payloads included), notices every flipped byte without returning wrong data,
/// and refuses a shared block in a version 1 file.
#[test]
fn cold_blocks_share_equal_timestamps_and_catch_every_flip() {
    let dir = tempfile::tempdir().unwrap();
    let ts: Vec<i64> = (0..60)
        .map(|i| 1_700_000_000_000 + i * 1_000 + i % 3)
        .collect();
    let col = |f: &dyn Fn(i64) -> f64| ColumnData {
        timestamps: ts.clone(),
        values: ColumnValues::Float(ts.iter().map(|&t| f(t)).collect()),
    };
    let other = ColumnData {
        timestamps: ts.iter().map(|t| t + 5).collect(),
        values: ColumnValues::Integer((0..60).collect()),
    };
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let cols = [
        ("a".to_owned(), col(&|t| (t % 17) as f64 * 0.25)),
        (
            "b".to_owned(),
            col(&|t| if t % 5 == 0 { stale } else { 1.0 }),
        ),
        ("c".to_owned(), other),
        (
            "d".to_owned(),
            col(&|_| f64::from_bits(0x7ff8_dead_beef_0001)),
        ),
    ];
    let refs: Vec<(&str, &ColumnData)> = cols.iter().map(|(n, c)| (n.as_str(), c)).collect();
    let mut w = SegmentWriter::create_with(dir.path(), 7, WriterOptions::cold(3)).unwrap();
    w.add_series(b"\x01m", &refs[..2]).unwrap();
    w.add_series(b"\x01n", &refs[2..]).unwrap();
    w.finish().unwrap();
    let path = file_path(dir.path(), 7);
    let seg = Segment::open(&path, 7).unwrap();
    let encodings: Vec<_> = (0..seg.block_count())
        .map(|i| seg.block_meta(i).encoding.unwrap())
        .collect();
    assert!(!encodings[0].shares_timestamps());
    assert!(encodings[1].shares_timestamps(), "{encodings:?}");
    assert!(!encodings[2].shares_timestamps(), "other timestamps");
    assert!(encodings[3].shares_timestamps());
    let expect = |name: &str| &cols.iter().find(|(n, _)| n == name).unwrap().1;
    let same = |a: &ColumnData, b: &ColumnData| {
        a.timestamps == b.timestamps
            && match (&a.values, &b.values) {
                (ColumnValues::Float(x), ColumnValues::Float(y)) => {
                    x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
                }
                (x, y) => x == y,
            }
    };
    for s in seg.series() {
        for c in &s.columns {
            let got = seg.read_column(c, TimeRange::ALL).unwrap();
            assert!(same(&got, expect(&c.name)), "column {}", c.name);
        }
    }
    assert!(seg.verify().is_empty());
    drop(seg);
    let good = std::fs::read(&path).unwrap();
    let damaged = dir.path().join("damaged.seg");
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x04;
        std::fs::write(&damaged, &bad).unwrap();
        assert!(
            !verify_file(&damaged, 7).is_empty(),
            "flip at {i} not noticed"
        );
        if let Ok(seg) = Segment::open(&damaged, 7) {
            for s in seg.series() {
                for c in &s.columns {
                    if let Ok(d) = seg.read_column(c, TimeRange::ALL) {
                        assert!(
                            same(&d, expect(&c.name)),
                            "flip at {i} changed data silently"
                        );
                    }
                }
            }
        }
    }
    // A damaged block number in a shared block costs that block alone: the file opens,
    // that column reports the damage and the other series still read.
    let seg = Segment::open(&path, 7).unwrap();
    let at = seg.block_meta(1).offset as usize;
    drop(seg);
    let mut bad = good.clone();
    bad[at] ^= 0x01;
    std::fs::write(&damaged, &bad).unwrap();
    let seg = Segment::open(&damaged, 7).unwrap();
    for s in seg.series() {
        for c in &s.columns {
            let got = seg.read_column(c, TimeRange::ALL);
            if &*c.name == "b" {
                assert!(got.is_err(), "damaged block read");
            } else {
                assert!(same(&got.unwrap(), expect(&c.name)), "column {}", c.name);
            }
        }
    }
    drop(seg);
    // The cold writer stored the directory and block index as zstd frames; the same file
    // with them plain reads the same, and labelled version 1 (which has no shared blocks)
    // does not open.
    let plain = with_plain_meta(&good, 2);
    assert!(
        plain.len() > good.len(),
        "directory and index were compressed"
    );
    std::fs::write(&damaged, &plain).unwrap();
    let seg = Segment::open(&damaged, 7).unwrap();
    for s in seg.series() {
        for c in &s.columns {
            let got = seg.read_column(c, TimeRange::ALL).unwrap();
            assert!(same(&got, expect(&c.name)), "column {}", c.name);
        }
    }
    drop(seg);
    std::fs::write(&damaged, with_plain_meta(&good, 1)).unwrap();
    let e = Segment::open(&damaged, 7).unwrap_err().to_string();
    assert!(e.contains("version 1 files cannot"), "{e}");
}

/// A version 1 file (as every earlier build wrote) still opens and reads.
#[test]
fn version_1_segments_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let info = write(dir.path(), 8, &[b"\x01a"]);
    let path = file_path(dir.path(), 8);
    let mut b = std::fs::read(&path).unwrap();
    assert_eq!(b[8..12], super::VERSION.to_le_bytes());
    b[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let seg = Segment::open(&path, 8).unwrap();
    assert_eq!(seg.points(), info.points);
    assert!(seg.verify().is_empty());
    b[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32fast::hash(&b[..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    assert!(
        Segment::open(&path, 8).is_err(),
        "a future version is refused"
    );
}

/// A version 2 cold file rewritten with its directory and block index stored plain, as
/// format `version` (1 or 2), every checksum recomputed.
fn with_plain_meta(file: &[u8], version: u32) -> Vec<u8> {
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let f = &file[file.len() - super::FOOTER_LEN..];
    let (dir_offset, dir_len, index_offset) = (
        u64_at(f, 0) as usize,
        u64_at(f, 8) as usize,
        u64_at(f, 16) as usize,
    );
    let flags = u32::from_le_bytes(f[28..32].try_into().unwrap());
    let unz = |b: &[u8]| zstd::stream::decode_all(b).unwrap();
    let dir = &file[dir_offset..dir_offset + dir_len];
    let dir = if flags & 1 != 0 {
        unz(dir)
    } else {
        dir.to_vec()
    };
    let index = &file[index_offset..file.len() - super::FOOTER_LEN];
    let index = if flags & 2 != 0 {
        unz(index)
    } else {
        index.to_vec()
    };
    let mut out = file[..dir_offset].to_vec();
    out[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&out[..12]);
    out[12..16].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&dir);
    out.resize(out.len() + super::pad8(dir.len()), 0);
    let new_index_offset = out.len();
    out.extend_from_slice(&index);
    let mut footer = f.to_vec();
    footer[8..16].copy_from_slice(&(dir.len() as u64).to_le_bytes());
    footer[16..24].copy_from_slice(&(new_index_offset as u64).to_le_bytes());
    footer[28..32].copy_from_slice(&0u32.to_le_bytes());
    footer[56..60].copy_from_slice(&crc32fast::hash(&dir).to_le_bytes());
    footer[60..64].copy_from_slice(&crc32fast::hash(&index).to_le_bytes());
    let crc = crc32fast::hash(&footer[..64]);
    footer[64..68].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&footer);
    out
}

/// A version 1 cold file (codec blocks, plain directory and index, a u64 block count in
/// the footer) still opens and reads every value back.
#[test]
fn version_1_cold_segments_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let cols = sample_columns();
    let refs: Vec<(&str, &ColumnData)> = cols.iter().map(|(n, c)| (n.as_str(), c)).collect();
    let mut w = SegmentWriter::create_with(dir.path(), 9, WriterOptions::cold(3)).unwrap();
    // One series, whose columns all have different timestamps: no shared blocks, which a
    // version 1 file cannot hold.
    w.add_series(b"\x01a", &refs).unwrap();
    w.finish().unwrap();
    let path = file_path(dir.path(), 9);
    let v1 = with_plain_meta(&std::fs::read(&path).unwrap(), 1);
    std::fs::write(&path, &v1).unwrap();
    let seg = Segment::open(&path, 9).unwrap();
    assert!(seg.verify().is_empty());
    for i in 0..seg.block_count() {
        let e = seg.block_meta(i).encoding.unwrap();
        assert!(
            matches!(e, BlockEncoding::Codec | BlockEncoding::CodecZstd),
            "{e:?}"
        );
    }
    let s = &seg.series()[0];
    assert_eq!(s.columns.len(), cols.len());
    for (c, (name, data)) in s.columns.iter().zip(&cols) {
        assert_eq!(&*c.name, name.as_str());
        let got = seg.read_column(c, TimeRange::ALL).unwrap();
        assert_eq!(got.timestamps, data.timestamps);
        match (&got.values, &data.values) {
            (ColumnValues::Float(a), ColumnValues::Float(b)) => {
                assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
                assert_eq!(a.len(), b.len());
            }
            (a, b) => assert_eq!(a, b),
        }
    }
}
