//! `strata import`: line protocol or Prometheus text exposition files (plain, gzip, zstd,
//! or stdin) into a data directory.
//!
//! A reader thread cuts the input into batches at line boundaries (in line protocol, a
//! newline inside a quoted string value does not end a line) and worker threads write them
//! through `Db::write_lp_numbered` or `Db::write_prom_text`, so refused lines carry their
//! line number in the file.

use super::CmdResult;
use crate::config::EngineArgs;
use crate::{input, progress};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use strata_engine::Db;
use strata_engine::ingest::line_protocol::LineSplitter;
use strata_engine::model::Precision;

/// Bad lines printed in full; beyond this only the count is kept.
const MAX_PRINTED_ERRORS: usize = 100;

/// Arguments of `strata import`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
    /// Files to import: plain, .gz or .zst line protocol, or `-` for stdin.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Timestamp unit of the input: ns, us, ms, s, m or h.
    #[arg(long, default_value = "ns", value_parser = parse_precision)]
    precision: Precision,
    /// Lines per write batch.
    #[arg(long, default_value_t = 5000)]
    batch_lines: usize,
    /// Concurrent writer threads.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Input format: `lp` (InfluxDB line protocol) or `prometheus` (the text exposition
    /// format; samples without a timestamp get the import's start time).
    #[arg(long, default_value = "lp", value_parser = ["lp", "prometheus"])]
    format: String,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).ok_or_else(|| format!("unknown precision {s:?}: use ns, us, ms, s, m or h"))
}

struct Batch {
    file: Arc<str>,
    first_line: usize,
    text: Vec<u8>,
}

#[derive(Default)]
struct Totals {
    lines: AtomicUsize,
    points: AtomicUsize,
    bad: AtomicUsize,
}

/// Runs the import; exit code 1 if any line was refused.
pub fn run(args: Args) -> CmdResult {
    let options = args.engine.options()?;
    let db = Arc::new(Db::open(&args.engine.data_dir, options)?);
    let totals = Arc::new(Totals::default());
    let started = Instant::now();
    let (tx, rx) = crossbeam_channel::bounded::<Batch>(args.writers.max(1) * 2);
    let mut workers = Vec::new();
    let prometheus = args.format == "prometheus";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0) * 1_000_000);
    for _ in 0..args.writers.max(1) {
        let (rx, db, totals) = (rx.clone(), db.clone(), totals.clone());
        let precision = args.precision;
        workers.push(std::thread::spawn(
            move || -> Result<(), strata_engine::Error> {
                for b in rx {
                    let s = if prometheus {
                        let mut s = db.write_prom_text(&b.text, now)?.write;
                        for r in &mut s.rejected {
                            r.line += b.first_line - 1;
                        }
                        s
                    } else {
                        db.write_lp_numbered(&b.text, precision, b.first_line)?
                    };
                    totals.lines.fetch_add(s.lines, Ordering::Relaxed);
                    totals.points.fetch_add(s.points, Ordering::Relaxed);
                    for r in &s.rejected {
                        if totals.bad.fetch_add(1, Ordering::Relaxed) < MAX_PRINTED_ERRORS {
                            eprintln!("{}: {r}", b.file);
                        }
                    }
                }
                Ok(())
            },
        ));
    }
    drop(rx);
    let mut read_result = Ok(());
    for path in &args.files {
        if let Err(e) = read_file(path, args.batch_lines.max(1), prometheus, &tx) {
            read_result = Err(format!("{}: {e}", path.display()));
            break;
        }
    }
    drop(tx);
    let mut write_result = Ok(());
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => write_result = Err(e),
            Err(_) => {
                write_result = Err(strata_engine::Error::Internal(
                    "writer thread panicked".into(),
                ))
            }
        }
    }
    let db = Arc::into_inner(db).ok_or("internal: database still shared after import")?;
    let close_result = db.close();
    let secs = started.elapsed().as_secs_f64();
    let (lines, points, bad) = (
        totals.lines.load(Ordering::Relaxed),
        totals.points.load(Ordering::Relaxed),
        totals.bad.load(Ordering::Relaxed),
    );
    eprintln!(
        "imported {points} points ({lines} lines) in {secs:.2} s: {:.0} points/s",
        points as f64 / secs.max(1e-9)
    );
    read_result?;
    write_result?;
    close_result?;
    if bad > 0 {
        if bad > MAX_PRINTED_ERRORS {
            eprintln!("... and {} more", bad - MAX_PRINTED_ERRORS);
        }
        eprintln!("{bad} bad lines were skipped");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one input, sending batches of about `batch_lines` lines that end on line
/// boundaries (plain newlines for the text format, which has no multi-line values).
fn read_file(
    path: &std::path::Path,
    batch_lines: usize,
    plain_lines: bool,
    tx: &crossbeam_channel::Sender<Batch>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut input = input::open(path)?;
    let bar = progress::bytes_bar(input.raw_len, &path.display().to_string());
    let name: Arc<str> = path.display().to_string().into();
    let mut buf: Vec<u8> = Vec::with_capacity(8 << 20);
    let mut next_line = 1usize;
    let mut chunk = vec![0u8; 1 << 20];
    let mut eof = false;
    let mut need_more = false;
    while !eof {
        // Fill until the buffer holds at least `batch_lines` newlines or the input ends
        // (and by at least one more read when the last pass found no complete line).
        let mut newlines = memchr_count(&buf);
        while newlines < batch_lines || need_more {
            need_more = false;
            let n = input.reader.read(&mut chunk)?;
            if n == 0 {
                eof = true;
                break;
            }
            newlines += memchr_count(&chunk[..n]);
            buf.extend_from_slice(&chunk[..n]);
            bar.set_position(input.raw_read.load(Ordering::Relaxed));
        }
        let cut = if eof {
            buf.len()
        } else if plain_lines {
            nth_newline_end(&buf, batch_lines)
        } else {
            last_complete_line_end(&buf, batch_lines)
        };
        if cut == 0 {
            need_more = true;
            continue;
        }
        let rest = buf.split_off(cut);
        let text = std::mem::replace(&mut buf, rest);
        let lines_in = memchr_count(&text);
        tx.send(Batch {
            file: name.clone(),
            first_line: next_line,
            text,
        })?;
        next_line += lines_in;
    }
    bar.finish_and_clear();
    Ok(())
}

/// The end (just past it) of the `want`-th newline of `buf`, or of its last newline.
fn nth_newline_end(buf: &[u8], want: usize) -> usize {
    buf.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'\n')
        .take(want)
        .last()
        .map_or(0, |(i, _)| i + 1)
}

fn memchr_count(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// The end (just past its newline) of the last logical line that starts within the
/// first `want` newlines' worth of `buf`, as the line-protocol splitter sees lines; the
/// line it yields last may be incomplete, so it is never included.
fn last_complete_line_end(buf: &[u8], want: usize) -> usize {
    let base = buf.as_ptr() as usize;
    let mut end = 0;
    let mut prev_end = None;
    for (i, (_, line)) in LineSplitter::new(buf).enumerate() {
        if let Some(e) = prev_end {
            end = e;
        }
        let line_end = line.as_ptr() as usize - base + line.len();
        // Step past "\r\n" or "\n" that ended the line.
        let mut e = line_end;
        while e < buf.len() && (buf[e] == b'\r' || buf[e] == b'\n') {
            e += 1;
            if buf[e - 1] == b'\n' {
                break;
            }
        }
        prev_end = Some(e);
        if i + 1 >= want {
            break;
        }
    }
    end
}
