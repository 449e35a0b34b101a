//! `strata query`: runs InfluxQL statements, or with `--promql` a PromQL expression
//! (instant at `--time`, or a range with `--start`/`--end`/`--step`), against a data
//! directory, embedded (the directory must not be open in a running server; query the
//! server over HTTP then).

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
    /// The query is a PromQL expression, not InfluxQL statements.
    #[arg(long)]
    promql: bool,
    /// PromQL: evaluation time, RFC 3339 or Unix seconds [default: now].
    #[arg(long, requires = "promql")]
    time: Option<String>,
    /// PromQL range query: first step (RFC 3339 or Unix seconds); needs --end and --step.
    #[arg(long, requires_all = ["promql", "end", "step"])]
    start: Option<String>,
    /// PromQL range query: last step.
    #[arg(long, requires = "start")]
    end: Option<String>,
    /// PromQL range query: step, a duration (15s) or seconds.
    #[arg(long, requires = "start")]
    step: Option<String>,
    /// Statements separated by `;` (or one PromQL expression); `-` or nothing reads them
    /// from stdin.
    query: Option<String>,
}

/// Runs a PromQL expression; JSON is the Prometheus API's answer, the table one line per
/// sample as `promtool query` prints it, CSV `metric,time,value` rows.
fn run_promql(args: &Args, db: &Db, text: &str) -> Result<bool, Box<dyn std::error::Error>> {
    use strata_query::promql::{self, QueryValue, json};
    use strata_server::prom_api::{parse_duration, parse_time};
    let opts = promql::EvalOptions {
        timeout: Some(args.timeout),
        ..promql::EvalOptions::default()
    };
    let time = |s: &str, what: &str| parse_time(s).map_err(|e| format!("--{what}: {e}"));
    let result = match promql::parse_expr(text.trim()) {
        Err(e) => Err(promql::PromError::BadData(e.to_string())),
        Ok(expr) => match (&args.start, &args.end, &args.step) {
            (Some(a), Some(b), Some(c)) => {
                let step = parse_duration(c).map_err(|e| format!("--step: {e}"))?;
                promql::range(db, &expr, time(a, "start")?, time(b, "end")?, step, &opts)
            }
            _ => {
                let t = match &args.time {
                    Some(t) => time(t, "time")?,
                    None => strata_server::prom_api::now_ms(),
                };
                promql::instant(db, &expr, t, &opts)
            }
        },
    };
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let out = match args.format {
                Format::Json => format!("{}\n", json::query_error(&e)),
                _ => format!("error ({}): {e}\n", e.error_type()),
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            return Ok(false);
        }
    };
    let mut out = String::new();
    let secs = |t: i64| json::format_time(t);
    match (args.format, &value) {
        (Format::Json, v) => {
            out.push_str(&json::success(&json::data_json(v), &[]));
            out.push('\n');
        }
        (Format::Table, QueryValue::Scalar { t, v }) => {
            out.push_str(&format!(
                "scalar: {} @[{}]\n",
                json::format_value(*v),
                secs(*t)
            ));
        }
        (Format::Table, QueryValue::String { t, v }) => {
            out.push_str(&format!("string: {v:?} @[{}]\n", secs(*t)));
        }
        (Format::Table, QueryValue::Vector { t, samples }) => {
            for (l, v) in samples {
                out.push_str(&format!(
                    "{l} => {} @[{}]\n",
                    json::format_value(*v),
                    secs(*t)
                ));
            }
        }
        (Format::Table, QueryValue::Matrix(series)) => {
            for (l, pts) in series {
                out.push_str(&format!("{l} =>\n"));
                for (t, v) in pts {
                    out.push_str(&format!("{} @[{}]\n", json::format_value(*v), secs(*t)));
                }
            }
        }
        (Format::Csv, v) => {
            out.push_str("metric,time,value\n");
            let mut row = |l: &str, t: i64, v: f64| {
                let l = l.replace('"', "\"\"");
                out.push_str(&format!("\"{l}\",{},{}\n", secs(t), json::format_value(v)));
            };
            match v {
                QueryValue::Scalar { t, v } => row("", *t, *v),
                QueryValue::String { t, v } => row(v, *t, f64::NAN),
                QueryValue::Vector { t, samples } => {
                    for (l, v) in samples {
                        row(&l.to_string(), *t, *v);
                    }
                }
                QueryValue::Matrix(series) => {
                    for (l, pts) in series {
                        for (t, v) in pts {
                            row(&l.to_string(), *t, *v);
                        }
                    }
                }
            }
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(true)
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
    if args.promql {
        let ok = run_promql(&args, &db, &text)?;
        db.close()?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
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
