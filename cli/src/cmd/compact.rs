//! `strata compact`: offline compaction of a data directory.
//!
//! First a rotation moves hot data older than `hot.max_age` out of the WAL (with
//! `--force`, every hot value, however recent); then every warm segment is merged into one
//! (the default), or every segment into cold files, one per UTC day (`--to-cold`). Refuses
//! to run, naming the holder's pid, while another process holds the directory.

use super::CmdResult;
use crate::config::EngineArgs;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use strata_engine::{CompactionReport, Db};

/// Arguments of `strata compact`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
    /// Merge everything into cold files (encoded + zstd), one per UTC day.
    #[arg(long)]
    to_cold: bool,
    /// Also move hot data younger than `hot.max_age` out of the WAL first.
    #[arg(long)]
    force: bool,
}

/// Runs `compact`.
pub fn run(args: Args) -> CmdResult {
    if !args.engine.data_dir.is_dir() {
        return Err(format!("{} is not a data directory", args.engine.data_dir.display()).into());
    }
    let mut options = args.engine.options()?;
    options.rotation_interval = Duration::ZERO;
    let started = Instant::now();
    let db = Db::open(&args.engine.data_dir, options)?;
    let before = db.tier_stats();
    let bytes_before = before.warm.bytes + before.cold.bytes + before.wal_bytes;
    let report = compact_with_bar(&db, args.to_cold, args.force)?;
    let after = db.tier_stats();
    db.close()?;
    let bytes_after = after.warm.bytes + after.cold.bytes + after.wal_bytes;
    let points = after.hot.points + after.warm.points + after.cold.points;
    match report {
        None => eprintln!("nothing to compact"),
        Some(r) => eprintln!(
            "compacted {} files ({} bytes) into {} {} files ({} bytes) in {:.2} s",
            r.files_in,
            r.bytes_in,
            r.files_out,
            if args.to_cold { "cold" } else { "warm" },
            r.bytes_out,
            r.seconds
        ),
    }
    let bpp = if points > 0 {
        bytes_after as f64 / points as f64
    } else {
        0.0
    };
    eprintln!(
        "on disk (segments + WAL): {bytes_before} bytes before, {bytes_after} bytes after; {points} points, {bpp:.3} bytes/point; {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs [`Db::compact`] on a helper thread while this one draws its progress: a spinner
/// during the rotation, then series written of the total.
fn compact_with_bar(
    db: &Db,
    to_cold: bool,
    force: bool,
) -> Result<Option<CompactionReport>, strata_engine::Error> {
    let first_task = db.compaction_progress().task;
    let bar = crate::progress::units_bar(0, "rotating", "series");
    bar.enable_steady_tick(Duration::from_millis(120));
    let report = std::thread::scope(|scope| {
        let job = scope.spawn(|| db.compact(to_cold, force));
        while !job.is_finished() {
            let p = db.compaction_progress();
            if p.task > first_task {
                bar.set_message("compacting");
                bar.set_length(p.total);
                bar.set_position(p.done);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        job.join()
            .unwrap_or_else(|_| Err(strata_engine::Error::Internal("compaction panicked".into())))
    });
    bar.finish_and_clear();
    report
}
