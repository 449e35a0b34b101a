//! `strata export`: every stored point as line protocol on stdout, by measurement, series
//! and time; one line per (series, timestamp) holding every field written at that time.

use super::CmdResult;
use crate::config::EngineArgs;
use crate::timearg::parse_time;
use std::io::Write;
use std::process::ExitCode;
use strata_engine::Db;
use strata_engine::ingest::line_protocol::write_line;
use strata_engine::model::{ColumnData, ColumnValues, FieldValueRef, TimeRange};

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

/// Runs the export; exit code 1 if some values could not be expressed in line protocol.
/// A reader that stops early (`strata export | head`) is not an error.
pub fn run(args: Args) -> CmdResult {
    match export(args) {
        Err(e) if is_broken_pipe(&*e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
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
    let measurements = match &args.measurement {
        Some(m) => vec![m.clone()],
        None => db.measurements(),
    };
    let mut line = Vec::new();
    let mut unwritable = 0usize;
    for m in &measurements {
        for key in db.series(m) {
            let mut cols: Vec<(String, ColumnData)> = Vec::new();
            for (field, _) in db.series_fields(&key) {
                if let Some(data) = db.read_column(&key, &field, range)? {
                    cols.push((field, data));
                }
            }
            let tags: Vec<(&str, &str)> = key
                .tags()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let mut pos = vec![0usize; cols.len()];
            loop {
                let next = cols
                    .iter()
                    .zip(&pos)
                    .filter_map(|((_, c), &p)| c.timestamps.get(p).copied())
                    .min();
                let Some(ts) = next else { break };
                let mut fields = Vec::with_capacity(cols.len());
                for ((name, c), p) in cols.iter().zip(pos.iter_mut()) {
                    if c.timestamps.get(*p) == Some(&ts) {
                        let v = value_at(&c.values, *p);
                        *p += 1;
                        if matches!(v, FieldValueRef::Float(f) if !f.is_finite()) {
                            unwritable += 1;
                            eprintln!(
                                "strata export: {key} field {name:?} at {ts} is {v:?}, which line protocol cannot express: skipped"
                            );
                            continue;
                        }
                        fields.push((name.as_str(), v));
                    }
                }
                if fields.is_empty() {
                    continue;
                }
                line.clear();
                write_line(
                    &mut line,
                    key.measurement(),
                    tags.iter().copied(),
                    fields.iter().copied(),
                    ts,
                )?;
                out.write_all(&line)?;
            }
        }
    }
    out.flush()?;
    drop(out);
    db.close()?;
    if unwritable > 0 {
        eprintln!("{unwritable} values could not be expressed in line protocol (NaN or infinity)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn value_at(v: &ColumnValues, i: usize) -> FieldValueRef<'_> {
    match v {
        ColumnValues::Float(x) => FieldValueRef::Float(x[i]),
        ColumnValues::Integer(x) => FieldValueRef::Integer(x[i]),
        ColumnValues::Unsigned(x) => FieldValueRef::Unsigned(x[i]),
        ColumnValues::Boolean(x) => FieldValueRef::Boolean(x[i]),
        ColumnValues::String(x) => FieldValueRef::String(&x[i]),
    }
}
