//! Writes rows into `load` batches and rolls them to `ready`.

use std::path::PathBuf;
use std::time::Instant;

use rusqlite::Connection;

use super::owner::Owner;
use super::{list_batches, sqlite_error, BatchName, BatchState, FileQueueOptions, CREATE_TABLE};
use crate::error::{Error, Result};

/// What a write did: rows now committed (durable beyond this process), and
/// rows lost with the error that lost them.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    pub committed: usize,
    pub failed: usize,
    /// Batches that became ready.
    pub rolled: usize,
    pub error: Option<Error>,
}

impl WriteOutcome {
    fn merge(&mut self, other: WriteOutcome) {
        self.committed += other.committed;
        self.failed += other.failed;
        self.rolled += other.rolled;
        if self.error.is_none() {
            self.error = other.error;
        }
    }
}

/// One process's writer into a file queue. Many writers may share a queue:
/// each fills its own uniquely named `load` file.
pub struct Writer {
    options: FileQueueOptions,
    queue_dir: PathBuf,
    open: Option<OpenBatch>,
}

struct OpenBatch {
    // Dropped before `owner`: see `owner` on closing descriptors.
    conn: Connection,
    owner: Owner,
    name: BatchName,
    rows: usize,
    uncommitted: usize,
    opened: Instant,
    last_commit: Instant,
}

impl Writer {
    pub fn new(options: FileQueueOptions) -> Result<Writer> {
        let queue_dir = options.queue_dir();
        std::fs::create_dir_all(&queue_dir).map_err(|e| Error::file_queue(&queue_dir, e))?;
        Ok(Writer {
            options,
            queue_dir,
            open: None,
        })
    }

    pub fn options(&self) -> &FileQueueOptions {
        &self.options
    }

    /// Appends rows, committing and rolling as the options say.
    pub fn append<'a>(&mut self, rows: impl IntoIterator<Item = &'a str>) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            if let Err(error) = self.ensure_open() {
                outcome.failed += rows.count();
                outcome.error = Some(error);
                return outcome;
            }
            let room = self.room();
            let written = self.insert(rows.by_ref().take(room));
            let failed = written.is_err();
            outcome.merge(written.unwrap_or_else(|e| self.abandon(e)));
            if failed {
                outcome.failed += rows.count();
                return outcome;
            }
            if self.open.as_ref().is_some_and(|b| b.rows >= self.options.max_events_per_file) {
                outcome.merge(self.roll());
            } else if self.commit_due(Instant::now()) {
                outcome.merge(self.commit());
            }
        }
        outcome
    }

    /// Commits and rolls on time, for the caller's timer.
    pub fn tick(&mut self, now: Instant) -> WriteOutcome {
        let Some(batch) = &self.open else { return WriteOutcome::default() };
        if now.duration_since(batch.opened) >= self.options.max_batch_age {
            self.roll()
        } else if self.commit_due(now) {
            self.commit()
        } else {
            WriteOutcome::default()
        }
    }

    /// When `tick` next has something to do, if anything is open.
    pub fn next_due(&self) -> Option<Instant> {
        let batch = self.open.as_ref()?;
        let roll = batch.opened + self.options.max_batch_age;
        Some(if batch.uncommitted > 0 { roll.min(batch.last_commit + self.options.commit_every) } else { roll })
    }

    /// Commits and rolls whatever is open; the writer may be used again.
    pub fn close(&mut self) -> WriteOutcome {
        self.roll()
    }

    /// Rows the open batch takes before it rolls (a whole batch if none is open).
    pub fn room(&self) -> usize {
        self.options.max_events_per_file - self.open.as_ref().map_or(0, |b| b.rows)
    }

    /// Whether readers are behind: `max_ready_files` or more batches wait.
    /// Counting lists the folder, so callers ask on a timer, not per row.
    pub fn backpressured(&self) -> Result<bool> {
        let Some(max) = self.options.max_ready_files else { return Ok(false) };
        let ready = list_batches(&self.queue_dir)?
            .iter()
            .filter(|b| b.name.state == BatchState::Ready)
            .count();
        Ok(ready >= max)
    }

    fn commit_due(&self, now: Instant) -> bool {
        self.open.as_ref().is_some_and(|b| {
            b.uncommitted >= self.options.commit_every_rows
                || (b.uncommitted > 0 && now.duration_since(b.last_commit) >= self.options.commit_every)
        })
    }

    fn ensure_open(&mut self) -> Result<()> {
        if self.open.is_some() {
            return Ok(());
        }
        let name = BatchName::new_load();
        let path = self.queue_dir.join(name.to_string());
        let owner = Owner::create(&path).map_err(|e| Error::file_queue(&path, e))?;
        let conn = Connection::open(&path).map_err(sqlite_error(&path))?;
        // A killed process keeps what it committed (the OS has the pages);
        // only an OS crash can lose the last commits, in exchange for not
        // waiting on the disk at every commit.
        conn.execute_batch(&format!("PRAGMA synchronous=OFF; {CREATE_TABLE}; BEGIN"))
            .map_err(sqlite_error(&path))?;
        let now = Instant::now();
        self.open = Some(OpenBatch {
            conn,
            owner,
            name,
            rows: 0,
            uncommitted: 0,
            opened: now,
            last_commit: now,
        });
        Ok(())
    }

    fn insert<'a>(&mut self, rows: impl Iterator<Item = &'a str>) -> Result<WriteOutcome> {
        let path = self.path_of_open();
        let batch = self.open.as_mut().ok_or_else(|| Error::file_queue(&path, "no open batch"))?;
        let mut statement = batch
            .conn
            .prepare_cached("INSERT INTO logs (log_data) VALUES (?1)")
            .map_err(sqlite_error(&path))?;
        for row in rows {
            // A row that failed counts with the uncommitted ones `abandon` reports lost.
            batch.uncommitted += 1;
            statement.execute([row]).map_err(sqlite_error(&path))?;
            batch.rows += 1;
        }
        Ok(WriteOutcome::default())
    }

    fn commit(&mut self) -> WriteOutcome {
        let path = self.path_of_open();
        let Some(batch) = self.open.as_mut() else { return WriteOutcome::default() };
        match batch.conn.execute_batch("COMMIT; BEGIN") {
            Ok(()) => {
                let committed = std::mem::take(&mut batch.uncommitted);
                batch.last_commit = Instant::now();
                WriteOutcome { committed, ..Default::default() }
            }
            Err(e) => self.abandon(Error::file_queue(path, e)),
        }
    }

    /// Commits, closes and renames the open batch to `ready`.
    fn roll(&mut self) -> WriteOutcome {
        let mut outcome = self.commit();
        let Some(batch) = self.open.take() else { return outcome };
        let from = self.queue_dir.join(batch.name.to_string());
        let to = self.queue_dir.join(batch.name.with_state(BatchState::Ready).to_string());
        // The transaction opened after the last commit is empty; ending it
        // with the connection leaves the committed rows as they are.
        drop(batch.conn);
        match std::fs::rename(&from, &to) {
            Ok(()) => outcome.rolled += 1,
            Err(e) => {
                outcome.error.get_or_insert(Error::file_queue(&from, format!("cannot roll to ready: {e}")));
            }
        }
        drop(batch.owner);
        outcome
    }

    /// After an error the open batch cannot be trusted with more rows: its
    /// uncommitted rows are lost (counted), its committed ones are kept.
    fn abandon(&mut self, error: Error) -> WriteOutcome {
        let failed = self.open.as_ref().map_or(0, |b| b.uncommitted);
        if let Some(batch) = self.open.take() {
            let rolled_back = batch.conn.execute_batch("ROLLBACK").is_ok();
            let from = self.queue_dir.join(batch.name.to_string());
            let to = self.queue_dir.join(batch.name.with_state(BatchState::Ready).to_string());
            drop(batch.conn);
            // Without the rollback its -journal still belongs to the `load`
            // name: left as it is, recovery rolls it back before it is read.
            if rolled_back {
                let _ = std::fs::rename(from, to);
            }
            drop(batch.owner);
        }
        WriteOutcome {
            failed,
            error: Some(error),
            ..WriteOutcome::default()
        }
    }

    fn path_of_open(&self) -> PathBuf {
        match &self.open {
            Some(b) => self.queue_dir.join(b.name.to_string()),
            None => self.queue_dir.clone(),
        }
    }
}

impl Drop for Writer {
    /// A writer dropped without `close` still leaves its rows ready.
    fn drop(&mut self) {
        let _ = self.roll();
    }
}
