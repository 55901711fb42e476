//! Who owns a `load` or `unload` file: the process holding an OS lock
//! (`flock`) on it. The OS releases the lock when its process dies, however
//! it dies, so recovery can take over exactly the files of dead processes,
//! at any time, beside live ones, without pids that can be reused.
//!
//! SQLite's own locks are POSIX record locks, which a process loses when it
//! closes *any* descriptor of the file; the owner's descriptor is therefore
//! closed only after the batch's connection is.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;

#[derive(Debug)]
pub struct Owner {
    _file: File,
}

impl Owner {
    /// Creates an empty file at `path`, owned from the first moment: it is
    /// created and locked under a hidden name, then renamed into place.
    pub fn create(path: &Path) -> io::Result<Owner> {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("batch");
        let hidden = path.with_file_name(format!(".creating_{file_name}"));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&hidden)?;
        file.lock()?;
        std::fs::rename(&hidden, path)?;
        Ok(Owner { _file: file })
    }

    /// Owns an existing file if no live process does; `None` when one does
    /// or the file has gone (another process moved it on).
    pub fn try_take(path: &Path) -> io::Result<Option<Owner>> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(Owner { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_has_one_owner_until_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("load_1_a.db");
        let owner = Owner::create(&path).unwrap();
        assert!(path.exists());
        assert!(Owner::try_take(&path).unwrap().is_none(), "a second owner while the first lives");
        drop(owner);
        assert!(Owner::try_take(&path).unwrap().is_some(), "taken over once released");
        assert!(Owner::try_take(&dir.path().join("gone.db")).unwrap().is_none());
    }
}
