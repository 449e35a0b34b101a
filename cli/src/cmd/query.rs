//! `strata query`: runs InfluxQL statements against a data directory, embedded (the
//! directory must not be open in a running server; query the server over HTTP then).

use super::CmdResult;
use crate::config::EngineArgs;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;
use strata_engine::Db;
use strata_query::{Epoch, QueryOptions};

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An aligned table per series.
    Table,
    /// InfluxDB 1.x CSV.
    Csv,
    /// InfluxDB 1.x JSON.
    Json,
}

/// Arguments of `strata query`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Times as integers in this unit (ns, u, ms, s, m, h) instead of RFC 3339.
    #[arg(long)]
    epoch: Option<String>,
    /// Most rows a statement may return.
    #[arg(long, default_value_t = 1_000_000)]
    max_rows: usize,
    /// Most series a statement may return.
    #[arg(long, default_value_t = 100_000)]
    max_series: usize,
    /// Longest a statement may run, e.g. 60s.
    #[arg(long, value_parser = crate::config::parse_duration, default_value = "60s")]
    timeout: Duration,
    /// Statements separated by `;`; `-` or nothing reads them from stdin.
    query: Option<String>,
}

/// Runs `query`: exit 0 when every statement succeeded, 1 when one failed (its error is in
/// the output), 2 when the directory cannot be opened.
pub fn run(args: Args) -> CmdResult {
    if !args.engine.data_dir.is_dir() {
        return Err(format!("{} is not a data directory", args.engine.data_dir.display()).into());
    }
    let epoch = match args.epoch.as_deref() {
        None => Epoch::Rfc3339,
        Some(e) => {
            Epoch::parse(e).ok_or_else(|| format!("--epoch {e}: expected ns, u, ms, s, m or h"))?
        }
    };
    let text = match args.query.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        Some(q) => q.to_owned(),
    };
    let mut options = args.engine.options()?;
    options.rotation_interval = Duration::ZERO; // read, do not move data
    let db = Db::open(&args.engine.data_dir, options)?;
    let mut qopts = QueryOptions::default();
    qopts.limits.max_rows = args.max_rows;
    qopts.limits.max_series = args.max_series;
    qopts.limits.timeout = Some(args.timeout);
    let response = strata_query::execute(&db, &text, &qopts);
    let out = match args.format {
        Format::Json => {
            let mut s = response.to_json(epoch);
            s.push('\n');
            s
        }
        Format::Csv => response.to_csv(epoch),
        Format::Table => response.to_table(epoch),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    db.close()?;
    Ok(if response.first_error().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
