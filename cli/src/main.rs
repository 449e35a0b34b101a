//! `strata`: the command-line front end of the Strata time-series database.

mod chunks;
mod cmd;
mod config;
mod input;
mod machine;
mod progress;
mod timearg;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: allocation-heavy paths (scraping, parsing many
/// small series keys) ran several times slower under glibc's consolidation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Strata: a tiered time-series database.
#[derive(Parser)]
#[command(name = "strata", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the data directory over HTTP (InfluxDB 1.x and Prometheus endpoints).
    Serve(Box<cmd::serve::Args>),
    /// Import line protocol (plain, .gz or .zst; `-` for stdin) into a data directory.
    Import(cmd::import::Args),
    /// Write the stored points out as line protocol on stdout.
    Export(cmd::export::Args),
    /// Merge segments (warm into one, or everything into cold day files with --to-cold).
    Compact(cmd::compact::Args),
    /// Run InfluxQL statements and print the results (table, CSV or JSON).
    Query(cmd::query::Args),
    /// Show each tier's files, series, points, bytes and time range.
    Inspect(cmd::inspect::Args),
    /// Copy a data directory, live or not, into a consistent snapshot (segments hard-linked).
    Snapshot(cmd::snapshot::Args),
    /// Check every checksum of every file; exit 1 if anything is damaged.
    Verify(cmd::verify::Args),
    /// Run rule unit tests (`strata test rules FILE...`, promtool's format).
    Test(cmd::test::Args),
}

/// Turns transparent huge pages off for this process, before it allocates much.
///
/// mimalloc asks for huge pages on its arenas (`madvise(MADV_HUGEPAGE)`) and returns
/// freed memory to the OS; a write request's batch vectors then faulted whole 2 MiB pages
/// back in (`do_huge_pmd_anonymous_page`), each zeroed by the kernel. On node_exporter-
/// shaped ingest that zeroing (`clear_page_erms`) was 30–50 % of the server's CPU, and
/// without huge pages the server spends 35–50 % less CPU per sample (docs/BENCHMARKS.md,
/// "Transparent huge pages off"). A failure (an old kernel) only leaves the system's
/// setting in force.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::debug!("prctl(PR_SET_THP_DISABLE): {e}");
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => cmd::serve::run(*a),
        Command::Import(a) => cmd::import::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Compact(a) => cmd::compact::run(a),
        Command::Query(a) => cmd::query::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Snapshot(a) => cmd::snapshot::run(a),
        Command::Test(a) => cmd::test::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("strata: {e}");
            ExitCode::from(2)
        }
    }
}
