//! `strata test rules FILE...`: rule unit tests in `promtool test rules` format, with
//! its output (`Unit Testing:  FILE`, `  SUCCESS` / `  FAILED:` and the differences on
//! stderr) and exit code (1 when any test failed).

use super::CmdResult;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `strata test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Run rule unit tests (promtool test rules format).
    Rules {
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs the tests.
pub fn run(args: Args) -> CmdResult {
    let What::Rules { files } = args.what;
    for f in &files {
        if !f.exists() {
            return Err(format!("path {:?} does not exist", f.display().to_string()).into());
        }
    }
    let ok =
        strata_rules::unittest::run_files(&files, &mut std::io::stdout(), &mut std::io::stderr());
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
