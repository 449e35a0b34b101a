//! One module per subcommand.

pub mod export;
pub mod import;

/// A command's failure, printed as `strata: <message>`.
pub type CmdResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;
