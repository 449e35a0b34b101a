//! Shared helpers for Strata's benches: loading the shared data sets and cutting them into
//! write batches.

use std::path::PathBuf;

/// The shared data directory (`../shared/data` beside the repository), overridable with
/// `STRATA_DATA_DIR`.
pub fn shared_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("STRATA_DATA_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// Reads and decompresses one of the shared `.lp.zst` files.
pub fn load_lp(name: &str) -> std::io::Result<Vec<u8>> {
    let path = shared_data_dir().join(name);
    let file = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    zstd::stream::decode_all(file)
}

/// Cuts line protocol into batches of `lines` lines each (at newlines).
pub fn batches(lp: &[u8], lines: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut count = 0;
    for (i, &b) in lp.iter().enumerate() {
        if b == b'\n' {
            count += 1;
            if count == lines {
                out.push(lp[start..=i].to_vec());
                start = i + 1;
                count = 0;
            }
        }
    }
    if start < lp.len() {
        out.push(lp[start..].to_vec());
    }
    out
}

/// Field values (points) in line protocol, counted as the database counts them.
pub fn count_points(lp: &[u8]) -> usize {
    let (points, errors) = strata_engine::ingest::line_protocol::parse_points(
        lp,
        strata_engine::model::Precision::Nanosecond,
        0,
    );
    assert!(errors.is_empty(), "bench data must parse cleanly");
    points.iter().map(|p| p.fields.len()).sum()
}

/// Options for benches that load data: fsync `never`, no background rotation, and a clock
/// in late 2026, so that every shared data set is older than `hot_max_age`.
pub fn bench_options() -> strata_engine::Options {
    strata_engine::Options {
        fsync: strata_engine::FsyncPolicy::Never,
        rotation_interval: std::time::Duration::ZERO,
        clock: std::sync::Arc::new(strata_engine::ManualClock::new(1_795_000_000_000_000_000)),
        ..strata_engine::Options::default()
    }
}

/// Opens a database in a fresh temporary directory with [`bench_options`] and writes the
/// batches; returns the directory (keep it alive), the database and the points written.
pub fn loaded_db(batches: &[Vec<u8>]) -> (tempfile::TempDir, strata_engine::Db, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = strata_engine::Db::open(dir.path(), bench_options()).expect("open");
    let mut points = 0;
    for b in batches {
        points += db
            .write_lp(b, strata_engine::model::Precision::Nanosecond)
            .expect("write")
            .points;
    }
    (dir, db, points)
}
