//! The manifest: which segment files are live, in which tier, and the WAL checkpoint.
//! Layout: docs/FORMAT.md, "Manifest".
//!
//! Each version is a file `MANIFEST-<generation>` written to a temporary name, fsynced,
//! renamed and the directory fsynced, so a crash leaves either the old or the new set of
//! files, never a mix. The previous generation is kept: if the newest file is damaged,
//! [`load`] falls back to it and says the state is *untrusted*, in which case the caller
//! rebuilds the segment list from the segment files themselves and deletes nothing.
//!
//! The WAL checkpoint `(file, cutoff)` promises: every value in a WAL file numbered below
//! `file` with a timestamp below `cutoff` is in a live segment.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The manifest file-name prefix.
pub const PREFIX: &str = "MANIFEST-";
const MAGIC: &[u8; 8] = b"STRATMAN";
/// The version written; version 1 (no tombstones) is still read.
const VERSION: u32 = 2;
const SEGMENT_RECORD_LEN: usize = 41;
const FIXED_LEN: usize = 8 + 4 + 8 + 8 + 8 + 8 + 8 + 4;

/// Which tier a segment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Written by rotation from the hot tier.
    Warm,
    /// Written by compaction (encoded and compressed).
    Cold,
}

impl Tier {
    fn tag(self) -> u8 {
        match self {
            Tier::Warm => 1,
            Tier::Cold => 2,
        }
    }

    fn from_tag(t: u8) -> Option<Tier> {
        match t {
            1 => Some(Tier::Warm),
            2 => Some(Tier::Cold),
            _ => None,
        }
    }

    /// `warm` or `cold`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Warm => "warm",
            Tier::Cold => "cold",
        }
    }
}

/// One live segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRecord {
    /// Segment id (file name).
    pub id: u64,
    /// Its tier.
    pub tier: Tier,
    /// Earliest timestamp.
    pub min_ts: i64,
    /// Latest timestamp.
    pub max_ts: i64,
    /// Values stored.
    pub points: u64,
    /// File size.
    pub bytes: u64,
}

/// The WAL checkpoint; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// WAL files numbered below this are covered…
    pub file: u64,
    /// …for timestamps below this.
    pub cutoff: i64,
}

/// A manifest version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Increases by one with every stored version.
    pub generation: u64,
    /// The id the next new segment gets.
    pub next_segment_id: u64,
    /// The WAL checkpoint, if any rotation happened.
    pub checkpoint: Option<Checkpoint>,
    /// Live segments, oldest data version first (a later segment wins on equal timestamps).
    pub segments: Vec<SegmentRecord>,
    /// The id of the last delete recorded here (as a tombstone, or as needing none; 0:
    /// none). Replay records a WAL delete with a larger id again.
    pub last_delete: u64,
    /// Deletes whose covered values may still be in segments: reads filter them out,
    /// compaction purges them.
    pub tombstones: Vec<Tombstone>,
}

/// A pending delete: segments with ids up to `max_segment` (those that existed when it
/// was made) may hold values it covers; later segments never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The largest segment id when the delete was made.
    pub max_segment: u64,
    /// The delete.
    pub spec: crate::wal::delete::DeleteSpec,
}

impl Manifest {
    /// The bytes of this version.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED_LEN + self.segments.len() * SEGMENT_RECORD_LEN + 4);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&self.generation.to_le_bytes());
        b.extend_from_slice(&self.next_segment_id.to_le_bytes());
        let (file, cutoff) = self
            .checkpoint
            .map_or((0, i64::MIN), |c| (c.file, c.cutoff));
        b.extend_from_slice(&file.to_le_bytes());
        b.extend_from_slice(&cutoff.to_le_bytes());
        b.extend_from_slice(&self.last_delete.to_le_bytes());
        b.extend_from_slice(
            &u32::try_from(self.segments.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for s in &self.segments {
            b.extend_from_slice(&s.id.to_le_bytes());
            b.push(s.tier.tag());
            b.extend_from_slice(&s.min_ts.to_le_bytes());
            b.extend_from_slice(&s.max_ts.to_le_bytes());
            b.extend_from_slice(&s.points.to_le_bytes());
            b.extend_from_slice(&s.bytes.to_le_bytes());
        }
        b.extend_from_slice(
            &u32::try_from(self.tombstones.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for t in &self.tombstones {
            let spec = t.spec.encode();
            b.extend_from_slice(&t.max_segment.to_le_bytes());
            b.extend_from_slice(&u32::try_from(spec.len()).unwrap_or(u32::MAX).to_le_bytes());
            b.extend_from_slice(&spec);
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a version; on damage, the offset and what is wrong.
    pub fn decode(b: &[u8]) -> Result<Manifest, (usize, &'static str)> {
        if b.len() < FIXED_LEN + 4 {
            return Err((0, "file too short to be a manifest"));
        }
        if &b[..8] != MAGIC {
            return Err((0, "bad magic (not a Strata manifest)"));
        }
        let body = &b[..b.len() - 4];
        let crc = u32::from_le_bytes([
            b[b.len() - 4],
            b[b.len() - 3],
            b[b.len() - 2],
            b[b.len() - 1],
        ]);
        if crc != crc32fast::hash(body) {
            return Err((b.len() - 4, "manifest checksum mismatch"));
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if version != 1 && version != VERSION {
            return Err((8, "unsupported manifest version"));
        }
        let n = u32::from_le_bytes([b[52], b[53], b[54], b[55]]) as usize;
        let segments_end = n
            .checked_mul(SEGMENT_RECORD_LEN)
            .and_then(|x| x.checked_add(FIXED_LEN))
            .ok_or((52, "segment count does not match the file length"))?;
        let tombstones_fit = version >= 2 && body.len() >= segments_end + 4;
        if !(body.len() == segments_end || tombstones_fit) {
            return Err((52, "segment count does not match the file length"));
        }
        let file = u64_at(28);
        if file == 0 && u64_at(36) as i64 != i64::MIN {
            return Err((36, "checkpoint cutoff set without a checkpoint file"));
        }
        let mut m = Manifest {
            generation: u64_at(12),
            next_segment_id: u64_at(20),
            checkpoint: (file != 0).then(|| Checkpoint {
                file,
                cutoff: u64_at(36) as i64,
            }),
            segments: Vec::with_capacity(n),
            last_delete: u64_at(44),
            tombstones: Vec::new(),
        };
        for i in 0..n {
            let at = FIXED_LEN + i * SEGMENT_RECORD_LEN;
            m.segments.push(SegmentRecord {
                id: u64_at(at),
                tier: Tier::from_tag(b[at + 8]).ok_or((at + 8, "unknown tier"))?,
                min_ts: u64_at(at + 9) as i64,
                max_ts: u64_at(at + 17) as i64,
                points: u64_at(at + 25),
                bytes: u64_at(at + 33),
            });
        }
        if version >= 2 {
            m.tombstones = decode_tombstones(body, segments_end)?;
        }
        Ok(m)
    }
}

/// The tombstone section at `at`, which must end exactly at the end of `body`.
fn decode_tombstones(body: &[u8], mut at: usize) -> Result<Vec<Tombstone>, (usize, &'static str)> {
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(body.get(i..i + 4)?.try_into().ok()?))
    };
    let n = u32_at(at).ok_or((at, "tombstone count missing"))?;
    at += 4;
    let mut out = Vec::new();
    for _ in 0..n {
        let max_segment = body
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or((at, "tombstone truncated"))?;
        let len = u32_at(at + 8).ok_or((at + 8, "tombstone truncated"))? as usize;
        let start = at + 12;
        let spec_bytes = start
            .checked_add(len)
            .and_then(|end| body.get(start..end))
            .ok_or((start, "tombstone longer than the file"))?;
        let spec = crate::wal::delete::DeleteSpec::decode(spec_bytes)
            .map_err(|(off, what)| (start + off, what))?;
        out.push(Tombstone { max_segment, spec });
        at = start + len;
    }
    if at != body.len() {
        return Err((at, "trailing bytes after the tombstones"));
    }
    Ok(out)
}

/// The path of manifest generation `g` in `dir`.
pub fn file_path(dir: &Path, g: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{g:020}"))
}

fn list(dir: &Path) -> Result<Vec<u64>> {
    let mut gens = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if let Some(g) = e
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .filter(|d| d.len() == 20 && d.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
        {
            gens.push(g);
        }
    }
    gens.sort_unstable();
    Ok(gens)
}

/// What [`load`] found.
#[derive(Debug)]
pub struct Loaded {
    /// The newest readable version (empty if none).
    pub manifest: Manifest,
    /// False when the newest version was damaged or missing while other data exists: the
    /// caller must rebuild the segment list from the files and delete nothing.
    pub trusted: bool,
    /// Damage found, for the log.
    pub problems: Vec<Error>,
}

/// Loads the newest readable manifest in `dir`.
pub fn load(dir: &Path) -> Result<Loaded> {
    let gens = list(dir)?;
    let mut problems = Vec::new();
    for (k, &g) in gens.iter().rev().enumerate() {
        let path = file_path(dir, g);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        match Manifest::decode(&bytes) {
            Ok(m) => {
                return Ok(Loaded {
                    manifest: m,
                    trusted: k == 0,
                    problems,
                });
            }
            Err((offset, what)) => problems.push(Error::Corrupt {
                file: path,
                offset: offset as u64,
                what: what.to_owned(),
            }),
        }
    }
    Ok(Loaded {
        manifest: Manifest::default(),
        trusted: problems.is_empty(),
        problems,
    })
}

/// Stores `m` as generation `m.generation` (tmp, fsync, rename, fsync dir) and removes
/// generations older than the one before it.
pub fn store(dir: &Path, m: &Manifest) -> Result<()> {
    use crate::fault::{self, Site};
    let path = file_path(dir, m.generation);
    let tmp = path.with_extension("tmp");
    let written = {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        fault::create(Site::Manifest, &tmp, &opts).and_then(|mut f| {
            fault::write_all(Site::Manifest, &tmp, &mut f, &m.encode())
                .and_then(|_| fault::sync(Site::Manifest, &tmp, &f, false))
        })
    };
    if let Err(e) = written.and_then(|_| fault::rename(Site::Manifest, &tmp, &path)) {
        // Not published: the previous generation stays the newest.
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&path, e));
    }
    fault::sync_dir(Site::Manifest, dir).map_err(|e| Error::io(dir, e))?;
    for g in list(dir)? {
        if g + 1 < m.generation {
            let p = file_path(dir, g);
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// Whether generation `generation` may be named in `dir` (after [`store`] failed: if it
/// may, the caller must neither reuse the generation nor the files it names).
pub fn may_be_published(dir: &Path, generation: u64) -> bool {
    file_path(dir, generation).exists()
}

/// Checks every manifest file in `dir`; returns the problems.
pub fn verify(dir: &Path) -> Result<Vec<Error>> {
    let mut problems = Vec::new();
    for g in list(dir)? {
        let path = file_path(dir, g);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if let Err((offset, what)) = Manifest::decode(&bytes) {
            problems.push(Error::Corrupt {
                file: path,
                offset: offset as u64,
                what: what.to_owned(),
            });
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(g: u64) -> Manifest {
        Manifest {
            generation: g,
            next_segment_id: 9,
            checkpoint: Some(Checkpoint {
                file: 4,
                cutoff: -77,
            }),
            segments: vec![SegmentRecord {
                id: 3,
                tier: Tier::Warm,
                min_ts: -1,
                max_ts: 99,
                points: 7,
                bytes: 1234,
            }],
            last_delete: 5,
            tombstones: vec![Tombstone {
                max_segment: 3,
                spec: crate::wal::delete::DeleteSpec {
                    id: 5,
                    predicate: crate::model::Predicate::tag_eq("host", "a"),
                    range: crate::model::TimeRange::new(0, 10),
                    drop: false,
                },
            }],
        }
    }

    #[test]
    fn version_1_manifests_still_load() {
        let mut m = sample(2);
        m.tombstones.clear();
        let mut b = m.encode();
        // Version 1: no tombstone section.
        b.truncate(b.len() - 8);
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(Manifest::decode(&b).unwrap(), m);
    }

    #[test]
    fn round_trip_and_every_flip_is_noticed() {
        let m = sample(2);
        let b = m.encode();
        assert_eq!(Manifest::decode(&b).unwrap(), m);
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x04;
            assert!(Manifest::decode(&bad).is_err(), "flip at {i}");
        }
        for cut in 0..b.len() {
            assert!(Manifest::decode(&b[..cut]).is_err());
        }
    }

    #[test]
    fn damaged_newest_falls_back_to_the_previous_untrusted() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), &sample(1)).unwrap();
        store(dir.path(), &sample(2)).unwrap();
        store(dir.path(), &sample(3)).unwrap();
        assert_eq!(
            list(dir.path()).unwrap(),
            vec![2, 3],
            "older generations are removed"
        );
        let l = load(dir.path()).unwrap();
        assert!(l.trusted);
        assert_eq!(l.manifest.generation, 3);
        let p = file_path(dir.path(), 3);
        let mut b = std::fs::read(&p).unwrap();
        b[20] ^= 1;
        std::fs::write(&p, b).unwrap();
        let l = load(dir.path()).unwrap();
        assert!(!l.trusted);
        assert_eq!(l.manifest.generation, 2);
        assert_eq!(l.problems.len(), 1);
        assert_eq!(verify(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn no_manifest_is_an_empty_trusted_start() {
        let dir = tempfile::tempdir().unwrap();
        let l = load(dir.path()).unwrap();
        assert!(l.trusted);
        assert_eq!(l.manifest, Manifest::default());
    }
}
