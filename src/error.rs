//! The library's one error type. Every variant carries where (file, watch, URL) and why,
//! so a message read in `status` or a log line is enough to act on.

use std::path::PathBuf;

use crate::fetch::FetchError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more problems in the config file or watchlists, each already formatted as
    /// `file:line:col: message`.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Fetch(#[from] FetchError),

    /// A source answered, but not with what its kind expects.
    #[error("{url}: {reason}")]
    Extract { url: String, reason: String },

    #[error("store: {0}")]
    Store(String),

    #[error("cannot open the store at {path}: {reason}. {hint}")]
    StoreOpen {
        path: PathBuf,
        reason: String,
        hint: &'static str,
    },

    /// The store's files are damaged (exit code 4). Nothing is thrown away: `doctor`
    /// salvages what is readable into a new store.
    #[error("store damaged at {path}: {reason}. Run `policywatch doctor` to see what is damaged and salvage every readable record into a new store; the damaged directory is left untouched")]
    StoreDamaged { path: PathBuf, reason: String },

    #[error("unknown watch `{0}`")]
    UnknownWatch(String),

    #[error("no such {what} `{id}`")]
    NotFound { what: &'static str, id: String },

    #[error("discord: {0}")]
    Discord(String),

    #[error("{0}")]
    Usage(String),

    /// Every watch of a `check` failed (exit 3): how many, and what the failures share.
    #[error("{0}")]
    AllFailed(String),

    /// A command the running daemon ran for us (see `control`) failed; its message and
    /// exit code as the daemon gave them.
    #[error("{message}")]
    Daemon { code: i32, message: String },
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        match e {
            crate::config::ConfigError::Invalid(problems) => Error::Invalid(problems),
            crate::config::ConfigError::Io { path, source } => Error::Io { path, source },
        }
    }
}

impl Error {
    pub fn extract(url: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Extract {
            url: url.into(),
            reason: reason.into(),
        }
    }

    /// The exit codes the README promises (Commands): 2 for configuration or usage, 4 for a
    /// damaged store, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            // Naming a watch, change or version that does not exist is a usage mistake.
            Error::Invalid(_)
            | Error::Usage(_)
            | Error::UnknownWatch(_)
            | Error::NotFound { .. } => 2,
            Error::AllFailed(_) => 3,
            Error::Daemon { code, .. } => *code,
            Error::StoreDamaged { .. } => 4,
            _ => 1,
        }
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<sled::transaction::TransactionError<Error>> for Error {
    fn from(e: sled::transaction::TransactionError<Error>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => Error::Store(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Store(format!("corrupt record: {e}"))
    }
}
