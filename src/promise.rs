//! Runs a future on the core's runtime and settles a JavaScript promise
//! with its result, so the binding needs no runtime of its own.

use std::future::Future;

use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::Env;
use scouter_queue_core::{runtime, Error};

use crate::errors::{to_js, IntoJs};

pub fn spawn_promise<'env, T, F>(env: &'env Env, work: F) -> napi::Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    let runtime = runtime::get().into_js()?;
    let (deferred, promise) = env.create_deferred()?;
    let task = runtime.spawn(work);
    // Awaited from a second task, so that a panic in `work` still settles the
    // promise (a promise left pending would keep Node alive for ever).
    runtime.spawn(async move {
        match task.await {
            Ok(Ok(value)) => deferred.resolve(move |_| Ok(value)),
            Ok(Err(error)) => deferred.reject(to_js(error)),
            Err(failed) => deferred.reject(napi::Error::from_reason(format!("ERR_TRANSPORT: a background task failed: {failed}"))),
        }
    });
    Ok(promise)
}
