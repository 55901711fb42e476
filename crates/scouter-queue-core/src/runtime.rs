//! The one tokio runtime of the process. Every queue's workers run on it, and
//! the binding spawns its futures on it, so a process with many queues still
//! has a fixed, small number of threads.

use std::sync::{Mutex, OnceLock};

use tokio::runtime::Runtime;

use crate::error::{Error, Result};

const DEFAULT_WORKER_THREADS: usize = 2;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static WORKER_THREADS: Mutex<Option<usize>> = Mutex::new(None);

/// Sets the number of worker threads before the runtime starts. Changing it
/// after the first queue has started is an error, since threads already run.
pub fn configure(worker_threads: usize) -> Result<()> {
    if worker_threads == 0 {
        return Err(Error::InvalidConfig("workerThreads must be at least 1".into()));
    }
    let mut wanted = WORKER_THREADS.lock().unwrap_or_else(|p| p.into_inner());
    if RUNTIME.get().is_some() && *wanted != Some(worker_threads) {
        return Err(Error::InvalidConfig(
            "the runtime has already started; configure it before the first queue".into(),
        ));
    }
    *wanted = Some(worker_threads);
    Ok(())
}

/// The process-wide runtime, created on first use.
pub fn get() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let threads = WORKER_THREADS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert(threads_from_env())
        .to_owned();
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("scouter-queue")
        // Time for the workers' ticks, I/O for the HTTP transport.
        .enable_all()
        .build()
        .map_err(|e| Error::InvalidConfig(format!("cannot start the runtime: {e}")))?;
    // A racing caller may have won; its runtime is the one kept and ours is dropped.
    Ok(RUNTIME.get_or_init(|| built))
}

/// Runs file work off the async threads (renames, SQLite reads), for the
/// binding's promises.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::InvalidConfig(format!("a background task failed: {e}")))?
}

fn threads_from_env() -> usize {
    std::env::var("SCOUTER_QUEUE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_WORKER_THREADS)
}
