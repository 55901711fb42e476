//! Recovery: returns the `load` and `unload` files of dead processes to
//! `ready`, and sets aside files that cannot be delivered. A file whose
//! owner lives is never touched, so recovery may run at any time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::owner::Owner;
use super::reader::{is_damaged, list_batches, rows_after_checkpoint};
use super::{BatchState, ASIDE_DIR};
use crate::error::{Error, Result};

/// What one recovery pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovered {
    /// Batches of dead writers or readers, now ready again.
    pub returned: Vec<PathBuf>,
    /// Batches of dead readers that had handled every row, now deleted.
    pub finished: Vec<PathBuf>,
    /// Files set aside under `aside/`, with why.
    pub set_aside: Vec<(PathBuf, String)>,
}

/// One pass over a queue folder. A file no live process owns is taken over
/// only once it has not changed for `min_idle`: Turbo Queue's own writers
/// and readers hold no lock, and a file they are using is never idle long.
pub fn recover(queue_dir: &Path, min_idle: Duration) -> Result<Recovered> {
    let mut recovered = Recovered::default();
    remove_abandoned_creations(queue_dir);
    for batch in list_batches(queue_dir)? {
        if batch.name.state == BatchState::Ready || !idle_for(&batch.path, min_idle) {
            continue;
        }
        let Some(owner) = Owner::try_take(&batch.path).map_err(|e| Error::file_queue(&batch.path, e))? else {
            continue; // a live process owns it
        };
        match remaining_rows(&batch.path) {
            Ok(0) if batch.name.state == BatchState::Unload => {
                std::fs::remove_file(&batch.path).map_err(|e| Error::file_queue(&batch.path, e))?;
                recovered.finished.push(batch.path);
            }
            Ok(0) => {
                let reason = "its writer died before committing any row".to_owned();
                recovered.set_aside.push((set_aside(&batch.path, &reason)?, reason));
            }
            Ok(_) => {
                let ready = queue_dir.join(batch.name.with_state(BatchState::Ready).to_string());
                std::fs::rename(&batch.path, &ready).map_err(|e| Error::file_queue(&batch.path, e))?;
                recovered.returned.push(ready);
            }
            Err(Check::Damaged(reason)) => recovered.set_aside.push((set_aside(&batch.path, &reason)?, reason)),
            // Not the file's fault (a full disk, say): left for a later pass.
            Err(Check::Unreadable(e)) => return Err(Error::file_queue(&batch.path, e)),
        }
        drop(owner);
    }
    Ok(recovered)
}

/// Far longer than a writer keeps a file under its hidden name.
const ABANDONED_CREATION_AGE: Duration = Duration::from_secs(60);

fn idle_for(path: &Path, min_idle: Duration) -> bool {
    min_idle.is_zero()
        || std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|idle| idle >= min_idle)
}

/// Rows still to deliver, after an integrity check. The file is opened for
/// writing so that SQLite rolls back the transaction its dead owner left
/// half-done (its `-journal` beside it): renamed first, the journal would no
/// longer match the file, and the half-written pages would stay.
fn remaining_rows(path: &Path) -> std::result::Result<usize, Check> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let checked = Connection::open_with_flags(path, flags).and_then(|conn| {
        let verdict: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
        Ok((verdict, rows_after_checkpoint(&conn)?.len()))
    });
    match checked {
        Ok((verdict, rows)) if verdict == "ok" => Ok(rows),
        Ok((verdict, _)) => Err(Check::Damaged(format!("integrity check failed: {verdict}"))),
        Err(e) if is_damaged(&e) => Err(Check::Damaged(format!("cannot be read: {e}"))),
        Err(e) => Err(Check::Unreadable(e)),
    }
}

enum Check {
    /// The file itself is corrupt or not a batch: set aside, with why.
    Damaged(String),
    Unreadable(rusqlite::Error),
}

/// Moves a file into `aside/` and writes why beside it; returns its new path.
pub(super) fn set_aside(path: &Path, reason: &str) -> Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new(".")).join(ASIDE_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::file_queue(&dir, e))?;
    let target = dir.join(path.file_name().unwrap_or_default());
    std::fs::rename(path, &target).map_err(|e| Error::file_queue(path, e))?;
    let mut note = target.clone().into_os_string();
    note.push(".reason");
    std::fs::write(&note, format!("{reason}\n")).map_err(|e| Error::file_queue(&target, e))?;
    Ok(target)
}

/// A writer that died between creating a file and naming it leaves a hidden
/// `.creating_*` file behind, unowned and empty. A live writer holds that
/// name unlocked for an instant (between creating the file and locking it):
/// removing it then made the writer fail its rows, so only old ones go.
fn remove_abandoned_creations(queue_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(queue_dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".creating_"));
        if hidden && idle_for(&path, ABANDONED_CREATION_AGE) && matches!(Owner::try_take(&path), Ok(Some(_))) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FileQueueOptions, Reader, Writer};
    use super::*;

    fn options(dir: &Path) -> FileQueueOptions {
        FileQueueOptions {
            max_events_per_file: 10,
            ..FileQueueOptions::new(dir, "q")
        }
    }

    fn rows(n: usize) -> Vec<String> {
        (0..n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn live_files_are_left_alone_and_dead_ones_returned() {
        let tmp = tempfile::tempdir().unwrap();
        let queue_dir = tmp.path().join("q");
        let mut writer = Writer::new(options(tmp.path())).unwrap();
        writer.append(rows(15).iter().map(String::as_str)); // one ready, one loading (uncommitted)
        let reader = Reader::new(&options(tmp.path()));
        let taken = reader.take_next().unwrap().unwrap();
        assert_eq!(taken.rows.len(), 10);

        let pass = recover(&queue_dir, Duration::ZERO).unwrap();
        assert_eq!(pass, Recovered::default(), "the live writer's and reader's files are theirs");

        taken.checkpoint(taken.rows[3].rowid).unwrap();
        drop(taken); // the reader dies after handling 4 rows
        let pass = recover(&queue_dir, Duration::ZERO).unwrap();
        assert_eq!(pass.returned.len(), 1);
        let again = reader.take_next().unwrap().unwrap();
        assert_eq!(again.rows.len(), 6, "resumed after the checkpoint");
        again.finish().unwrap();
        drop(writer);
    }

    #[test]
    fn a_lockless_file_in_use_is_left_until_it_has_been_idle() {
        let tmp = tempfile::tempdir().unwrap();
        let queue_dir = tmp.path().join("q");
        std::fs::create_dir_all(&queue_dir).unwrap();
        // As Turbo Queue writes: no lock, just a file being filled.
        std::fs::write(queue_dir.join("load_1_turbo.db"), b"").unwrap();
        // A writer between creating its file and locking it: not abandoned.
        std::fs::write(queue_dir.join(".creating_load_2_fresh.db"), b"").unwrap();
        assert_eq!(recover(&queue_dir, Duration::from_secs(60)).unwrap(), Recovered::default());
        assert_eq!(recover(&queue_dir, Duration::ZERO).unwrap().set_aside.len(), 1);
        assert!(queue_dir.join(".creating_load_2_fresh.db").exists());
    }

    #[test]
    fn corrupt_and_empty_files_are_set_aside_with_a_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let queue_dir = tmp.path().join("q");
        std::fs::create_dir_all(&queue_dir).unwrap();
        std::fs::write(queue_dir.join("load_1_dead.db"), b"").unwrap();
        std::fs::write(queue_dir.join("unload_2_junk.db"), b"SQLite format 3\0 but then nothing useful").unwrap();
        let pass = recover(&queue_dir, Duration::ZERO).unwrap();
        assert_eq!(pass.set_aside.len(), 2, "{pass:?}");
        let reasons = std::fs::read_dir(queue_dir.join("aside"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "reason"))
            .count();
        assert_eq!(reasons, 2);
        assert!(list_batches(&queue_dir).unwrap().is_empty());
    }
}
