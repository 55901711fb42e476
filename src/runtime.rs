use napi_derive::napi;
use scouter_queue_core::runtime;

use crate::errors::IntoJs;

/// Sets the number of threads of the shared runtime; call it before the
/// first queue starts (the default is 2, or SCOUTER_QUEUE_WORKER_THREADS).
#[napi]
pub fn configure_runtime(worker_threads: u32) -> napi::Result<()> {
    runtime::configure(worker_threads as usize).into_js()
}
