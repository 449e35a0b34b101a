//! `strata snapshot DIR OUT`: a consistent, hard-linked copy of a data directory, taken
//! from its files while a server may be writing to it (the directory lock is not taken).
//! The copy is a data directory: `strata verify` checks it, `strata serve --data-dir`
//! opens it, and restoring is copying it back in place of the original (README).

use super::CmdResult;
use std::path::PathBuf;
use std::process::ExitCode;
use strata_engine::snapshot::{self, SnapshotOptions};

/// Arguments of `strata snapshot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data directory to copy (live or not).
    #[arg(value_name = "DIR")]
    data_dir: PathBuf,
    /// Where to write the snapshot: a new or empty directory.
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// Leave out the write-ahead log: only data already in segments (Prometheus'
    /// `skip_head`).
    #[arg(long)]
    skip_wal: bool,
}

/// Runs `snapshot`.
pub fn run(args: Args) -> CmdResult {
    let report = snapshot::take(
        &args.data_dir,
        &args.out,
        SnapshotOptions {
            skip_wal: args.skip_wal,
        },
    )?;
    let linked = report.segments - report.copied_segments;
    println!(
        "snapshot of {} in {}: manifest generation {}, {} segments ({} linked, {} copied, {} bytes), {} WAL files ({} bytes){}",
        args.data_dir.display(),
        report.dir.display(),
        report.generation,
        report.segments,
        linked,
        report.copied_segments,
        report.segment_bytes,
        report.wal_files,
        report.wal_bytes,
        if report.attempts > 1 {
            format!(", {} attempts", report.attempts)
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
