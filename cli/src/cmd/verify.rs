//! `strata verify`: checks every checksum of every file in a data directory (manifests,
//! segments, WAL files) without changing anything, names the file and offset of any
//! damage, and exits 1 if there is any.

use super::CmdResult;
use crate::progress;
use std::path::PathBuf;
use std::process::ExitCode;
use strata_engine::lock::DirLock;
use strata_engine::{manifest, segment, wal};

/// Arguments of `strata verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data directory.
    #[arg(long, short = 'd', value_name = "DIR")]
    data_dir: PathBuf,
}

/// Runs `verify`.
pub fn run(args: Args) -> CmdResult {
    let dir = &args.data_dir;
    if !dir.is_dir() {
        return Err(format!("{} is not a data directory", dir.display()).into());
    }
    let _lock = DirLock::acquire(dir)?;
    let seg_dir = dir.join(segment::SEGMENT_DIR);
    let wal_dir = dir.join(wal::WAL_DIR);
    let mut segs: Vec<(u64, PathBuf)> = Vec::new();
    if seg_dir.is_dir() {
        for e in std::fs::read_dir(&seg_dir)? {
            let e = e?;
            if let Some(id) = e.file_name().to_str().and_then(segment::parse_file_name) {
                segs.push((id, e.path()));
            }
        }
    }
    segs.sort();
    let wal_files = if wal_dir.is_dir() {
        wal::list_files(&wal_dir)?
    } else {
        Vec::new()
    };
    let total: u64 = segs
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum::<u64>()
        + wal_files
            .iter()
            .map(|&f| std::fs::metadata(wal::file_path(&wal_dir, f)).map_or(0, |m| m.len()))
            .sum::<u64>();
    let bar = progress::bytes_bar(Some(total), "verifying");
    let mut problems = manifest::verify(dir)?;
    for (id, path) in &segs {
        problems.extend(segment::verify_file(path, *id));
        bar.inc(std::fs::metadata(path).map_or(0, |m| m.len()));
    }
    let mut records = 0;
    for (i, &f) in wal_files.iter().enumerate() {
        let path = wal::file_path(&wal_dir, f);
        let c = wal::verify_file(&path, i + 1 == wal_files.len())?;
        records += c.records;
        if let Some(at) = c.torn_tail_at {
            eprintln!(
                "note: {}: torn tail at offset {at} (left by a crash; cut at the next open)",
                path.display()
            );
        }
        problems.extend(c.problems);
        bar.inc(std::fs::metadata(&path).map_or(0, |m| m.len()));
    }
    bar.finish_and_clear();
    for p in &problems {
        println!("{p}");
    }
    println!(
        "checked {} segment files, {} WAL files ({records} records), the manifests: {} problems",
        segs.len(),
        wal_files.len(),
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
