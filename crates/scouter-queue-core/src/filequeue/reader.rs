//! Takes ready batches, one reader each, and lists a queue for people.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::owner::Owner;
use super::recovery::set_aside;
use super::{sqlite_error, BatchName, BatchState, FileQueueOptions, CHECKPOINT_TABLE};
use crate::error::{Error, Result};

/// A batch file as found in the queue folder.
#[derive(Debug, Clone)]
pub struct BatchInfo {
    pub name: BatchName,
    pub path: PathBuf,
    pub bytes: u64,
}

/// Lists the queue's batch files, oldest first. Other files are ignored.
pub fn list_batches(queue_dir: &Path) -> Result<Vec<BatchInfo>> {
    let entries = match std::fs::read_dir(queue_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::file_queue(queue_dir, e)),
    };
    let mut batches: Vec<BatchInfo> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = BatchName::from_path(&entry.path())?;
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            Some(BatchInfo { name, path: entry.path(), bytes })
        })
        .collect();
    batches.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(batches)
}

/// Reads a batch's committed rows still to deliver (after any checkpoint)
/// without taking it: for inspection beside live writers and readers.
pub fn read_rows(path: &Path) -> Result<Vec<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite_error(path))?;
    Ok(rows_after_checkpoint(&conn).map_err(sqlite_error(path))?.into_iter().map(|r| r.data).collect())
}

/// Whether SQLite says the file itself is damaged (not merely unreadable now).
pub(super) fn is_damaged(error: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match error {
        rusqlite::Error::SqliteFailure(e, message) => {
            matches!(e.code, DatabaseCorrupt | NotADatabase)
                || message.as_deref().is_some_and(|m| m.contains("no such table"))
        }
        _ => false,
    }
}

/// One row of a batch: its position, for checkpoints, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub rowid: i64,
    pub data: String,
}

/// The rows a reader has not yet handled, in order.
pub(super) fn rows_after_checkpoint(conn: &Connection) -> rusqlite::Result<Vec<Row>> {
    let has_checkpoint: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [CHECKPOINT_TABLE],
        |row| row.get::<_, i64>(0).map(|n| n > 0),
    )?;
    let after: i64 = if has_checkpoint {
        conn.query_row(&format!("SELECT coalesce(max(last_rowid), 0) FROM {CHECKPOINT_TABLE}"), [], |row| row.get(0))?
    } else {
        0
    };
    // The column's declared type `json` has numeric affinity, so a row
    // that is a bare number is stored as one; read every row as text.
    let mut statement = conn.prepare("SELECT rowid, CAST(log_data AS TEXT) FROM logs WHERE rowid > ?1 ORDER BY rowid")?;
    let rows = statement
        .query_map([after], |row| Ok(Row { rowid: row.get(0)?, data: row.get(1)? }))?
        .collect();
    rows
}

/// Takes ready batches from a queue, oldest first.
pub struct Reader {
    queue_dir: PathBuf,
}

/// A batch this reader owns (renamed to `unload`, its lock held). Rows are
/// checkpointed as they are handled; `finish` deletes the batch.
#[derive(Debug)]
pub struct TakenBatch {
    pub path: PathBuf,
    pub rows: Vec<Row>,
    // Dropped before `owner`: see `owner` on closing descriptors.
    conn: Connection,
    owner: Owner,
}

impl TakenBatch {
    /// Records that every row up to `rowid` is handled: if this reader dies,
    /// the batch resumes after it rather than being delivered again whole.
    pub fn checkpoint(&self, rowid: i64) -> Result<()> {
        self.conn
            .execute_batch(&format!(
                "BEGIN; DELETE FROM {CHECKPOINT_TABLE}; INSERT INTO {CHECKPOINT_TABLE} VALUES ({rowid}); COMMIT"
            ))
            .map_err(sqlite_error(&self.path))
    }

    /// Gives the batch back to other readers (after its last checkpoint).
    pub fn release(self) -> Result<()> {
        let TakenBatch { path, conn, owner, .. } = self;
        drop(conn);
        let ready = BatchName::from_path(&path)
            .map(|name| path.with_file_name(name.with_state(BatchState::Ready).to_string()))
            .ok_or_else(|| Error::file_queue(&path, "not a batch file name"))?;
        let renamed = std::fs::rename(&path, &ready).map_err(|e| Error::file_queue(&path, e));
        drop(owner);
        renamed
    }

    /// Moves the batch to `aside/` with `reason` beside it: it cannot be
    /// delivered as it is.
    pub fn set_aside(self, reason: &str) -> Result<()> {
        let TakenBatch { path, conn, owner, .. } = self;
        drop(conn);
        let moved = set_aside(&path, reason).map(drop);
        drop(owner);
        moved
    }

    /// Deletes the batch once every row is handled.
    pub fn finish(self) -> Result<()> {
        let TakenBatch { path, conn, owner, .. } = self;
        drop(conn);
        let removed = std::fs::remove_file(&path).map_err(|e| Error::file_queue(&path, e));
        drop(owner);
        removed
    }
}

impl Reader {
    pub fn new(options: &FileQueueOptions) -> Reader {
        Reader {
            queue_dir: options.queue_dir(),
        }
    }

    /// Takes the oldest ready batch, or `None` when none is ready. A batch
    /// that cannot be read is set aside and the next one taken.
    pub fn take_next(&self) -> Result<Option<TakenBatch>> {
        for batch in list_batches(&self.queue_dir)?.into_iter().filter(|b| b.name.state == BatchState::Ready) {
            // The lock first, then the rename: no moment where the batch is
            // `unload` and unowned, which recovery would take for abandoned.
            let Some(owner) = Owner::try_take(&batch.path).map_err(|e| Error::file_queue(&batch.path, e))? else {
                continue;
            };
            let taken = self.queue_dir.join(batch.name.with_state(BatchState::Unload).to_string());
            match std::fs::rename(&batch.path, &taken) {
                Ok(()) => {}
                // Another reader renamed it between our listing and our lock.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::file_queue(&batch.path, e)),
            }
            let opened = Connection::open(&taken).and_then(|conn| {
                // As for writers: a checkpoint survives the death of this
                // process without waiting on the disk.
                conn.execute_batch(&format!(
                    "PRAGMA synchronous=OFF; CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (last_rowid INTEGER NOT NULL)"
                ))?;
                Ok((rows_after_checkpoint(&conn)?, conn))
            });
            match opened {
                Ok((rows, conn)) => return Ok(Some(TakenBatch { path: taken, rows, conn, owner })),
                Err(e) if is_damaged(&e) => {
                    set_aside(&taken, &format!("cannot be read: {e}"))?;
                    drop(owner);
                }
                // A full disk, no file descriptors, a lock held too long: the
                // batch is fine, it goes back for later.
                Err(e) => {
                    let back = std::fs::rename(&taken, &batch.path);
                    drop(owner);
                    back.map_err(|e| Error::file_queue(&taken, e))?;
                    return Err(Error::file_queue(&batch.path, e));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Writer;
    use super::*;
    use std::time::{Duration, Instant};

    fn options(dir: &Path) -> FileQueueOptions {
        FileQueueOptions {
            max_events_per_file: 3,
            ..FileQueueOptions::new(dir, "q")
        }
    }

    fn states(dir: &Path) -> Vec<BatchState> {
        list_batches(&dir.join("q")).unwrap().into_iter().map(|b| b.name.state).collect()
    }

    #[test]
    fn rolls_by_count_and_reads_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = Writer::new(options(tmp.path())).unwrap();
        let rows: Vec<String> = (0..7).map(|i| format!("{{\"n\":{i}}}")).collect();
        let outcome = writer.append(rows.iter().map(String::as_str));
        assert!(outcome.error.is_none());
        assert_eq!(outcome.committed, 6, "two full batches are committed at the roll");
        let found = states(tmp.path());
        assert_eq!(found.iter().filter(|s| **s == BatchState::Ready).count(), 2);
        assert_eq!(found.iter().filter(|s| **s == BatchState::Load).count(), 1);
        assert_eq!(writer.close().committed, 1);

        let reader = Reader::new(&options(tmp.path()));
        let mut seen = Vec::new();
        while let Some(batch) = reader.take_next().unwrap() {
            seen.extend(batch.rows.iter().map(|r| r.data.clone()));
            batch.finish().unwrap();
        }
        seen.sort();
        let mut expected = rows.clone();
        expected.sort();
        assert_eq!(seen, expected);
        assert!(states(tmp.path()).is_empty());
    }

    #[test]
    fn rolls_by_age_but_never_rolls_an_empty_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = Writer::new(FileQueueOptions {
            max_batch_age: Duration::from_millis(50),
            ..options(tmp.path())
        })
        .unwrap();
        assert_eq!(writer.tick(Instant::now() + Duration::from_secs(1)).committed, 0);
        assert!(states(tmp.path()).is_empty());
        writer.append(["{}"]);
        assert_eq!(writer.tick(Instant::now() + Duration::from_millis(60)).committed, 1);
        assert_eq!(states(tmp.path()), vec![BatchState::Ready]);
    }

    #[test]
    fn commits_on_time_before_the_roll() {
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = Writer::new(FileQueueOptions {
            max_events_per_file: 100,
            commit_every: Duration::from_millis(10),
            ..options(tmp.path())
        })
        .unwrap();
        writer.append(["1", "2"]);
        assert_eq!(writer.tick(Instant::now() + Duration::from_millis(20)).committed, 2);
        let load = &list_batches(&tmp.path().join("q")).unwrap()[0];
        assert_eq!(read_rows(&load.path).unwrap(), vec!["1", "2"], "committed rows are readable beside the writer");
    }
}
