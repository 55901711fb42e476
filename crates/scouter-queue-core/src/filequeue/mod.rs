//! Turbo Queue's queue of batch files, so both projects read each other's
//! batches: `<dir>/<name>/<state>_<epoch seconds>_<uuid>.db`, each a SQLite
//! file with one table `logs(log_data json)`, moving `load` -> `ready` -> `unload`.
//!
//! A [`Writer`] fills one `load` file, commits it every few rows or
//! milliseconds, and renames it `ready` when it is full or old enough. A
//! [`Reader`] takes the oldest `ready` file by an atomic rename to `unload`,
//! so each batch goes to exactly one reader, checkpoints how far it got,
//! and deletes it when done. Every `load` and `unload` file is owned by the
//! live process holding its lock; [`recover`] returns the files of dead
//! processes to `ready` (resuming after their checkpoint) and sets aside
//! what is corrupt or empty, so it may run at any time beside live workers.

mod names;
mod owner;
mod reader;
mod recovery;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use names::{BatchName, BatchState};
pub use reader::{list_batches, read_rows, BatchInfo, Reader, Row, TakenBatch};
pub use recovery::{recover, Recovered};
pub use writer::{WriteOutcome, Writer};

/// Where a queue lives and when its batches roll and commit.
#[derive(Debug, Clone, PartialEq)]
pub struct FileQueueOptions {
    /// The root folder; the queue is the subfolder `name`.
    pub dir: PathBuf,
    pub name: String,
    /// A batch becomes ready when it holds this many rows.
    pub max_events_per_file: usize,
    /// ...or when its first row is this old (an empty batch never rolls).
    pub max_batch_age: Duration,
    /// Rows are committed at least this often, so a killed writer loses at
    /// most this window rather than its whole batch.
    pub commit_every_rows: usize,
    pub commit_every: Duration,
    /// Writers hold back while this many batches wait for readers.
    pub max_ready_files: Option<usize>,
}

impl FileQueueOptions {
    pub fn new(dir: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        FileQueueOptions {
            dir: dir.into(),
            name: name.into(),
            max_events_per_file: 10_000,
            max_batch_age: Duration::from_secs(10),
            commit_every_rows: 1_000,
            commit_every: Duration::from_millis(200),
            max_ready_files: None,
        }
    }

    pub fn queue_dir(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

/// The table every batch file holds, as Turbo Queue creates it.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS logs (log_data json)";

/// Readers record the last row handled here; Turbo Queue ignores the table.
const CHECKPOINT_TABLE: &str = "scouter_checkpoint";

/// How long a lockless `load` or `unload` file must be untouched before
/// automatic recovery takes it over (Turbo Queue rolls a batch every 10 s).
pub const SHARED_QUEUE_IDLE: Duration = Duration::from_secs(30);

/// Where files that cannot be read are set aside, with a `.reason` beside each.
const ASIDE_DIR: &str = "aside";

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> crate::Error + '_ {
    move |e| crate::Error::file_queue(path, e)
}
