//! `strata export`: every stored point as line protocol on stdout, by measurement, series
//! and time; one line per (series, timestamp) holding every field written at that time
//! ([`Db::export_lp`]). What line protocol cannot spell (a newline in a tag value, NaN,
//! infinities) is written in Strata's exact form (`#!strata …`), which `strata import`
//! reads back exactly.

use super::CmdResult;
use crate::config::EngineArgs;
use crate::timearg::parse_time;
use std::io::Write;
use std::process::ExitCode;
use strata_engine::Db;
use strata_engine::model::TimeRange;

/// Arguments of `strata export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
    /// Only this measurement.
    #[arg(long)]
    measurement: Option<String>,
    /// Inclusive start: RFC 3339 or integer nanoseconds.
    #[arg(long, value_parser = parse_time)]
    start: Option<i64>,
    /// Exclusive end: RFC 3339 or integer nanoseconds.
    #[arg(long, value_parser = parse_time)]
    end: Option<i64>,
}

/// Runs the export; exit code 1 if some points could not be written at all.
/// A reader that stops early (`strata export | head`) is not an error.
pub fn run(args: Args) -> CmdResult {
    match export(args) {
        Err(e) if is_broken_pipe(&*e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let io = e.downcast_ref::<std::io::Error>().or_else(|| {
        match e.downcast_ref::<strata_engine::Error>() {
            Some(strata_engine::Error::Io { source, .. }) => Some(source),
            _ => None,
        }
    });
    io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn export(args: Args) -> CmdResult {
    if !args.engine.data_dir.is_dir() {
        return Err(format!("{} is not a data directory", args.engine.data_dir.display()).into());
    }
    let mut options = args.engine.options()?;
    options.rotation_interval = std::time::Duration::ZERO;
    let db = Db::open(&args.engine.data_dir, options)?;
    let range = TimeRange::new(args.start.unwrap_or(i64::MIN), args.end.unwrap_or(i64::MAX));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let summary = db.export_lp(args.measurement.as_deref(), range, &mut out, "stdout")?;
    out.flush()?;
    drop(out);
    db.close()?;
    if summary.exact_lines > 0 {
        eprintln!(
            "strata export: {} of {} lines use Strata's exact form (#!strata …) for what line protocol cannot spell (newlines in names, NaN, infinities); strata import reads them back, InfluxDB skips them as comments",
            summary.exact_lines, summary.lines
        );
    }
    for s in &summary.skipped {
        eprintln!("strata export: skipped {s}");
    }
    if !summary.skipped.is_empty() {
        eprintln!("{} points could not be exported", summary.skipped.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
