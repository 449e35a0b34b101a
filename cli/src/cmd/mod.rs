//! One module per subcommand.

pub mod compact;
pub mod export;
pub mod import;
pub mod inspect;
pub mod query;
pub mod serve;
pub mod snapshot;
pub mod test;
pub mod verify;

/// A command's failure, printed as `strata: <message>`.
pub type CmdResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;
