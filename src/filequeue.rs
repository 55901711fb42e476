//! File queue functions: listing, reading, taking and recovering batches.

use std::path::PathBuf;
use std::time::Duration;

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use scouter_queue_core::filequeue::{self, FileQueueOptions, Reader};
use scouter_queue_core::runtime;

use crate::errors::{to_js, IntoJs};
use crate::promise::spawn_promise;

/// A batch file of a file queue.
#[napi(object)]
pub struct BatchInfo {
    /// `load`, `ready` or `unload`.
    pub state: String,
    /// Creation time, in seconds since the epoch.
    pub epoch: f64,
    pub id: String,
    pub path: String,
    pub bytes: f64,
}

/// A file recovery set aside, and why.
#[napi(object)]
pub struct SetAside {
    pub path: String,
    pub reason: String,
}

/// What one recovery pass did.
#[napi(object)]
pub struct RecoveryReport {
    /// Batches of dead writers or readers, ready again.
    pub returned: Vec<String>,
    /// Batches of dead readers that had handled every row, deleted.
    pub finished: Vec<String>,
    /// Files moved to `aside/`, each with a `.reason` file beside it.
    pub set_aside: Vec<SetAside>,
}

/// Lists the batch files of `<dir>/<name>`, oldest first.
#[napi]
pub fn list_batches(dir: String, name: String) -> napi::Result<Vec<BatchInfo>> {
    let batches = filequeue::list_batches(&PathBuf::from(dir).join(name)).into_js()?;
    Ok(batches
        .into_iter()
        .map(|b| BatchInfo {
            state: b.name.state.as_str().to_owned(),
            epoch: b.name.epoch as f64,
            id: b.name.id,
            path: b.path.display().to_string(),
            bytes: b.bytes as f64,
        })
        .collect())
}

/// Reads a batch's rows still to deliver, without taking it.
#[napi]
pub fn read_batch(path: String) -> napi::Result<Vec<String>> {
    filequeue::read_rows(&PathBuf::from(path)).into_js()
}

/// Takes the oldest ready batch of `<dir>/<name>`, or resolves `null`.
#[napi(ts_return_type = "Promise<TakenBatch | null>")]
pub fn take_batch<'env>(env: &'env Env, dir: String, name: String) -> napi::Result<Object<'env>> {
    spawn_promise(env, async move {
        let reader = Reader::new(&FileQueueOptions::new(dir, name));
        let taken = runtime::blocking(move || reader.take_next()).await?;
        Ok(taken.map(|inner| TakenBatch { inner: Some(inner) }))
    })
}

/// Returns the batches of dead processes to `ready` and sets aside what cannot be read;
/// lockless files only once untouched for `minIdleMs`.
#[napi(ts_return_type = "Promise<RecoveryReport>")]
pub fn recover_queue<'env>(env: &'env Env, dir: String, name: String, min_idle_ms: u32) -> napi::Result<Object<'env>> {
    spawn_promise(env, async move {
        let queue_dir = PathBuf::from(dir).join(name);
        let min_idle = Duration::from_millis(min_idle_ms as u64);
        let recovered = runtime::blocking(move || filequeue::recover(&queue_dir, min_idle)).await?;
        Ok(RecoveryReport {
            returned: recovered.returned.iter().map(|p| p.display().to_string()).collect(),
            finished: recovered.finished.iter().map(|p| p.display().to_string()).collect(),
            set_aside: recovered
                .set_aside
                .into_iter()
                .map(|(path, reason)| SetAside { path: path.display().to_string(), reason })
                .collect(),
        })
    })
}

/// A batch this process took: it owns the `unload_*` file until `finish`.
#[napi]
pub struct TakenBatch {
    inner: Option<filequeue::TakenBatch>,
}

#[napi]
impl TakenBatch {
    fn inner(&self) -> napi::Result<&filequeue::TakenBatch> {
        self.inner
            .as_ref()
            .ok_or_else(|| napi::Error::from_reason("ERR_FILE_QUEUE: this batch is already finished"))
    }

    #[napi(getter)]
    pub fn path(&self) -> napi::Result<String> {
        Ok(self.inner()?.path.display().to_string())
    }

    /// The rows still to handle, in order.
    #[napi]
    pub fn rows(&self) -> napi::Result<Vec<String>> {
        Ok(self.inner()?.rows.iter().map(|r| r.data.clone()).collect())
    }

    /// The row ids of `rows()`, for `checkpoint`.
    #[napi]
    pub fn row_ids(&self) -> napi::Result<Vec<i64>> {
        Ok(self.inner()?.rows.iter().map(|r| r.rowid).collect())
    }

    /// Records that every row up to `rowId` is handled.
    #[napi]
    pub fn checkpoint(&self, row_id: i64) -> napi::Result<()> {
        self.inner()?.checkpoint(row_id).into_js()
    }

    /// Gives the batch back to other readers, to resume after the last checkpoint.
    #[napi]
    pub fn release(&mut self) -> napi::Result<()> {
        match self.inner.take() {
            Some(batch) => batch.release().map_err(to_js),
            None => Ok(()),
        }
    }

    /// Deletes the batch; every row is handled.
    #[napi]
    pub fn finish(&mut self) -> napi::Result<()> {
        match self.inner.take() {
            Some(batch) => batch.finish().map_err(to_js),
            None => Ok(()),
        }
    }
}
