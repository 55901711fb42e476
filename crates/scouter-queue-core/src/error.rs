//! The core's one error type. Every variant has a stable `code()` that the
//! binding hands to JavaScript, so applications branch on codes, not messages.

use std::path::PathBuf;

/// Everything that can go wrong in the core, as the application should see it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("profile file {path} for alias '{alias}' cannot be read: {source}")]
    ProfileNotFound {
        alias: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `origin` is the file path, or `<inline profile>` for `fromProfiles`.
    #[error("profile {origin} for alias '{alias}' is invalid at `{field}`: {reason}")]
    ProfileInvalid {
        alias: String,
        origin: String,
        field: String,
        reason: String,
    },

    #[error("unknown alias '{alias}'; this queue has: {known}")]
    UnknownAlias { alias: String, known: String },

    #[error("invalid item for alias '{alias}': {reason}")]
    InvalidItem { alias: String, reason: String },

    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    #[error("queue is closed: shutdown has started, nothing more is accepted")]
    QueueClosed,

    #[error("the queue for alias '{alias}' could not start: {reason}")]
    StartFailed { alias: String, reason: String },

    #[error("file queue error at {path}: {reason}")]
    FileQueue { path: PathBuf, reason: String },

    #[error("transport error: {0}")]
    Transport(String),

    #[error("unknown collector '{key}'; this queue has: {known}")]
    UnknownCollector { key: String, known: String },

    #[error("invalid payload: {0}")]
    InvalidPayload(String),

    /// A collector's handler threw or rejected: the message is its own.
    #[error("{0}")]
    Handler(String),

    #[error("the collector had not finished when the shutdown deadline passed")]
    ShutdownTimeout,

    #[error("the queue shut down before a consumer took this event")]
    NotProcessed,
}

impl Error {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ProfileNotFound { .. } => "ERR_PROFILE_NOT_FOUND",
            Error::ProfileInvalid { .. } => "ERR_PROFILE_INVALID",
            Error::UnknownAlias { .. } => "ERR_UNKNOWN_ALIAS",
            Error::InvalidItem { .. } => "ERR_INVALID_ITEM",
            Error::InvalidConfig(_) => "ERR_INVALID_CONFIG",
            Error::QueueClosed => "ERR_QUEUE_CLOSED",
            Error::StartFailed { .. } => "ERR_START_FAILED",
            Error::FileQueue { .. } => "ERR_FILE_QUEUE",
            Error::Transport(_) => "ERR_TRANSPORT",
            Error::UnknownCollector { .. } => "ERR_UNKNOWN_COLLECTOR",
            Error::InvalidPayload(_) => "ERR_INVALID_PAYLOAD",
            Error::Handler(_) => "ERR_HANDLER",
            Error::ShutdownTimeout => "ERR_SHUTDOWN_TIMEOUT",
            Error::NotProcessed => "ERR_NOT_PROCESSED",
        }
    }

    pub(crate) fn file_queue(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Error::FileQueue {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
