//! `strata import`: line protocol or Prometheus text exposition files (plain, gzip, zstd,
//! or stdin) into a data directory, on every core.
//!
//! One reader thread decompresses and cuts the input into chunks after a newline, of at
//! most `--batch-lines` lines (or about `--chunk-bytes`), counting newlines so each chunk
//! knows its first line number (`crate::chunks`). `--threads` workers find each chunk's
//! whole lines (in line protocol a newline inside a quoted string value does not end a
//! line; a line cut by a chunk boundary is handed to the next chunk before anything is
//! written), parse them and write them as one batch through `Db::write_lp_in_turn` or
//! `Db::write_prom_text_in_turn`, so refused lines carry their line number in the file.
//!
//! Memory: at most `2 × threads` chunks wait between the reader and the workers, plus one
//! per worker and the reader's own: about `(3 × threads + 1) × chunk-bytes` of input.
//!
//! Order: chunks are parsed concurrently but reach the WAL in file order (chunk `k` in turn
//! `k` of a [`SubmitOrder`]; a chunk with nothing to write, or written after a failure,
//! passes its turn). So, as with one writer, the last copy of a repeated point in the file
//! wins, and the hot tier receives each series' values in file order. Only the WAL
//! submission (a copy into its queue) is serial; parsing and series lookup are not.

use super::CmdResult;
use crate::chunks::{self, Chain, Chunk, End};
use crate::config::EngineArgs;
use crate::{input, progress};
use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use strata_engine::model::Precision;
use strata_engine::{Db, SubmitOrder, WriteSummary};

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
    /// Lines per write batch (each a chunk of the input handed to one thread).
    #[arg(long, default_value_t = 5000)]
    batch_lines: usize,
    /// Threads that split, parse and write (the reader is one more) [default: all cores].
    #[arg(long, alias = "writers", value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    /// Bytes of decompressed input per chunk handed to a thread (at least one line).
    #[arg(long, default_value_t = 4 << 20, hide = true)]
    chunk_bytes: usize,
    /// Input format: `lp` (InfluxDB line protocol) or `prometheus` (the text exposition
    /// format; samples without a timestamp get the import's start time).
    #[arg(long, default_value = "lp", value_parser = ["lp", "prometheus"])]
    format: String,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).ok_or_else(|| format!("unknown precision {s:?}: use ns, us, ms, s, m or h"))
}

#[derive(Default)]
struct Totals {
    lines: AtomicUsize,
    points: AtomicUsize,
    bad: AtomicUsize,
}

/// What every worker of one file shares.
struct Job<'a> {
    db: &'a Db,
    file: &'a str,
    prometheus: bool,
    precision: Precision,
    batch_lines: usize,
    now: i64,
    totals: &'a Totals,
    chain: Chain,
    /// Chunk `k` reaches the WAL in turn `k`: file order.
    order: SubmitOrder,
    /// Set by the first failed write: the reader stops, workers write nothing more.
    failed: AtomicBool,
}

/// Runs the import; exit code 1 if any line was refused.
pub fn run(args: Args) -> CmdResult {
    let options = args.engine.options()?;
    let db = Db::open(&args.engine.data_dir, options)?;
    let totals = Totals::default();
    let started = Instant::now();
    let threads = match args.threads {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0) * 1_000_000);
    let mut result: Result<(), String> = Ok(());
    for path in &args.files {
        let name = path.display().to_string();
        let job = Job {
            db: &db,
            file: &name,
            prometheus: args.format == "prometheus",
            precision: args.precision,
            batch_lines: args.batch_lines.max(1),
            now,
            totals: &totals,
            chain: Chain::default(),
            order: SubmitOrder::new(0),
            failed: AtomicBool::new(false),
        };
        if let Err(e) = import_file(&job, path, threads, args.chunk_bytes) {
            result = Err(format!("{name}: {e}"));
            break;
        }
    }
    let closing = Instant::now();
    let close_result = db.close();
    let close_secs = closing.elapsed().as_secs_f64();
    let secs = started.elapsed().as_secs_f64();
    let (lines, points, bad) = (
        totals.lines.load(Ordering::Relaxed),
        totals.points.load(Ordering::Relaxed),
        totals.bad.load(Ordering::Relaxed),
    );
    eprintln!(
        "imported {points} points ({lines} lines) in {secs:.2} s: {:.0} points/s \
         ({close_secs:.2} s of it closing: hot data to warm segments, WAL sync)",
        points as f64 / secs.max(1e-9)
    );
    result?;
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

/// Reads one input on this thread, its chunks split and written by `threads` workers.
fn import_file(
    job: &Job<'_>,
    path: &std::path::Path,
    threads: usize,
    chunk_bytes: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut input = input::open(path)?;
    let bar = progress::bytes_bar(input.raw_len, job.file);
    let (tx, rx) = crossbeam_channel::bounded::<Chunk>(threads.max(1) * 2);
    let (read, written) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let rx = rx.clone();
                scope.spawn(move || worker(job, rx))
            })
            .collect();
        drop(rx);
        let read = chunks::read_chunks(&mut input.reader, chunk_bytes, job.batch_lines, |chunk| {
            bar.set_position(input.raw_read.load(Ordering::Relaxed));
            !job.failed.load(Ordering::Relaxed) && tx.send(chunk).is_ok()
        });
        drop(tx);
        let mut written = Ok(());
        for w in workers {
            match w.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => written = Err(e),
                Err(_) => {
                    written = Err(strata_engine::Error::Internal(
                        "import worker panicked".into(),
                    ))
                }
            }
        }
        (read, written)
    });
    bar.finish_and_clear();
    written?;
    read?;
    Ok(())
}

/// Abandons the chain and the submit order if the worker holding them unwinds, so no other
/// worker waits forever.
struct AbandonOnPanic<'a>(&'a Job<'a>);

impl Drop for AbandonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.chain.abandon();
            self.0.order.abandon();
        }
    }
}

/// Chunk `seq`'s turn in the file's submit order, passed when dropped unless a write took
/// it over (the engine then passes it, written or not): so every turn is passed on every
/// path — nothing to write, writing stopped, an error — and no later chunk waits forever.
struct ChunkTurn<'a> {
    order: &'a SubmitOrder,
    seq: u64,
    taken: bool,
}

impl ChunkTurn<'_> {
    fn take(mut self) -> u64 {
        self.taken = true;
        self.seq
    }
}

impl Drop for ChunkTurn<'_> {
    fn drop(&mut self) {
        if self.taken {
        } else if std::thread::panicking() {
            self.order.abandon();
        } else {
            self.order.pass(self.seq);
        }
    }
}

/// Splits and writes chunks until the reader is done; the first write error is returned
/// (later chunks are still split and their turns passed, so that neither the chain of chunk
/// ends nor the submit order ever stalls).
fn worker(job: &Job<'_>, rx: crossbeam_channel::Receiver<Chunk>) -> strata_engine::Result<()> {
    let _guard = AbandonOnPanic(job);
    let mut result = Ok(());
    let split = |text: &[u8], first_line: usize, last: bool| {
        if job.prometheus {
            chunks::split_plain(text, first_line, usize::MAX)
        } else {
            chunks::split_lp(text, first_line, usize::MAX, last)
        }
    };
    for chunk in rx {
        let turn = ChunkTurn {
            order: &job.order,
            seq: chunk.seq,
            taken: false,
        };
        // Find the lines as if the chunk started at a line start, while earlier chunks are
        // still being looked at.
        let guess = split(&chunk.bytes, chunk.first_line, chunk.last);
        let Some(previous) = job.chain.take_previous(chunk.seq) else {
            job.order.abandon();
            return Err(strata_engine::Error::Internal(
                "another import worker panicked".into(),
            ));
        };
        let (text, s) = match previous {
            End::Clean => (Cow::Borrowed(&chunk.bytes[..]), guess),
            End::Carry {
                mut bytes,
                first_line,
            } => {
                bytes.extend_from_slice(&chunk.bytes);
                let s = split(&bytes, first_line, chunk.last);
                (Cow::Owned(bytes), s)
            }
        };
        let end = match s.carry {
            Some((at, first_line)) => End::Carry {
                bytes: text[at..].to_vec(),
                first_line,
            },
            None => End::Clean,
        };
        job.chain.publish(chunk.seq, end);
        // The chunk's whole lines: one contiguous range (batches follow one another).
        let lines = match (s.batches.first(), s.batches.last()) {
            (Some((first, line)), Some((last, _))) => Some((first.start..last.end, *line)),
            _ => None,
        };
        // Nothing to write, or writing stopped: `turn` passes when dropped.
        if let Some((range, first_line)) = lines
            && !job.failed.load(Ordering::Relaxed)
            && let Err(e) = write_batch(job, &text[range], first_line, turn.take())
        {
            job.failed.store(true, Ordering::Relaxed);
            result = Err(e);
        }
    }
    result
}

/// Writes one chunk's whole lines, starting at line `first_line`, in turn `turn` of the
/// file's submit order, and counts the outcome.
fn write_batch(
    job: &Job<'_>,
    text: &[u8],
    first_line: usize,
    turn: u64,
) -> strata_engine::Result<()> {
    let s: WriteSummary = if job.prometheus {
        let mut s = job
            .db
            .write_prom_text_in_turn(text, job.now, &job.order, turn)?
            .write;
        for r in &mut s.rejected {
            r.line += first_line - 1;
        }
        s
    } else {
        job.db
            .write_lp_in_turn(text, job.precision, first_line, &job.order, turn)?
    };
    let t = job.totals;
    t.lines.fetch_add(s.lines, Ordering::Relaxed);
    t.points.fetch_add(s.points, Ordering::Relaxed);
    for r in &s.rejected {
        if t.bad.fetch_add(1, Ordering::Relaxed) < MAX_PRINTED_ERRORS {
            eprintln!("{}: {r}", job.file);
        }
    }
    Ok(())
}
