//! File queue functions: listing and reading batches, and taking them.

use std::path::PathBuf;

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use scouter_queue_core::filequeue::{self, FileQueueOptions};

use crate::errors::IntoJs;
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

/// A batch taken by this process: its file is now `unload_*`.
#[napi(object)]
pub struct TakenBatch {
    pub path: String,
    pub rows: Vec<String>,
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

/// Reads a batch's committed rows without taking it.
#[napi]
pub fn read_batch(path: String) -> napi::Result<Vec<String>> {
    filequeue::read_rows(&PathBuf::from(path)).into_js()
}

/// Takes the oldest ready batch of `<dir>/<name>`, or resolves `null`.
#[napi(ts_return_type = "Promise<TakenBatch | null>")]
pub fn take_batch<'env>(env: &'env Env, dir: String, name: String) -> napi::Result<Object<'env>> {
    spawn_promise(env, async move {
        let taken = filequeue::take_next_batch(FileQueueOptions::new(dir, name)).await?;
        Ok(taken.map(|t| TakenBatch {
            path: t.path.display().to_string(),
            rows: t.rows,
        }))
    })
}

/// Deletes a batch taken with `takeBatch`, once all its rows are handled.
#[napi]
pub fn finish_batch(path: String) -> napi::Result<()> {
    filequeue::finish_batch(&PathBuf::from(path)).into_js()
}
