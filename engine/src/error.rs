//! The engine's error type. Every variant carries what a user needs to act on it: the
//! file and offset of corruption, the path of an I/O failure, the pid holding a lock.

use std::path::PathBuf;

/// Errors returned by the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O error on a file or directory.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Damaged bytes in a data file.
    #[error("corruption in {} at offset {offset}: {what}", file.display())]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage in that file.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// Another process holds the data directory.
    #[error("data directory {} is locked by {}", path.display(), match pid { Some(p) => format!("process {p}"), None => "another process".to_owned() })]
    Locked {
        /// The data directory.
        path: PathBuf,
        /// The holder's pid, as written in the lock file.
        pid: Option<u32>,
    },
    /// An earlier WAL write or fsync failed. Nothing after it is acknowledged, because
    /// the state of the file on disk is unknown; reopen the database to recover.
    #[error(
        "the write-ahead log failed earlier and refuses writes until the database is reopened: {reason}"
    )]
    WalFailed {
        /// The first failure.
        reason: String,
    },
    /// The database was closed.
    #[error("the database is closed")]
    Closed,
    /// A broken internal invariant: a bug in Strata, never caused by input.
    #[error("internal error (a bug in Strata): {0}")]
    Internal(String),
    /// A point or option the caller passed is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
