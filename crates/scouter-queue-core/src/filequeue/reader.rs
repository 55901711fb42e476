//! Takes ready batches, one reader each, and lists a queue for people.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{sqlite_error, BatchName, BatchState, FileQueueOptions};
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

/// Reads a batch's committed rows without taking it (for inspection).
pub fn read_rows(path: &Path) -> Result<Vec<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite_error(path))?;
    let mut statement = conn
        // The column's declared type `json` has numeric affinity, so a row
        // that is a bare number is stored as one; read every row as text.
        .prepare("SELECT CAST(log_data AS TEXT) FROM logs ORDER BY rowid")
        .map_err(sqlite_error(path))?;
    let rows = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(sqlite_error(path))?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sqlite_error(path))?;
    Ok(rows)
}

/// Takes ready batches from a queue, oldest first.
pub struct Reader {
    queue_dir: PathBuf,
}

/// A batch this reader owns (renamed to `unload`). `finish` deletes it.
#[derive(Debug)]
pub struct TakenBatch {
    pub path: PathBuf,
    pub rows: Vec<String>,
}

impl TakenBatch {
    pub fn finish(self) -> Result<()> {
        finish_batch(&self.path)
    }
}

/// Deletes a taken batch once every row is handled.
pub fn finish_batch(path: &Path) -> Result<()> {
    std::fs::remove_file(path).map_err(|e| Error::file_queue(path, e))
}

/// [`Reader::take_next`] off the async threads, since it renames and reads files.
pub async fn take_next_batch(options: FileQueueOptions) -> Result<Option<TakenBatch>> {
    let queue_dir = options.queue_dir();
    tokio::task::spawn_blocking(move || Reader::new(&options).take_next())
        .await
        .map_err(|e| Error::file_queue(queue_dir, e))?
}

impl Reader {
    pub fn new(options: &FileQueueOptions) -> Reader {
        Reader {
            queue_dir: options.queue_dir(),
        }
    }

    /// Takes the oldest ready batch, or `None` when none is ready.
    pub fn take_next(&self) -> Result<Option<TakenBatch>> {
        for batch in list_batches(&self.queue_dir)?.into_iter().filter(|b| b.name.state == BatchState::Ready) {
            let taken = self.queue_dir.join(batch.name.with_state(BatchState::Unload).to_string());
            match std::fs::rename(&batch.path, &taken) {
                Ok(()) => {
                    let rows = read_rows(&taken)?;
                    return Ok(Some(TakenBatch { path: taken, rows }));
                }
                // Another reader renamed it first: it is theirs.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::file_queue(&batch.path, e)),
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
            seen.extend(batch.rows.clone());
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
