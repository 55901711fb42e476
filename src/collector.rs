//! `NativeCollectorQueue`: a started CollectorQueue, driven by the
//! TypeScript `CollectorQueue`. JavaScript handlers are reached through two
//! weak threadsafe functions, each called once per batch: one carries the
//! jobs to run, the other the completed events with their results.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{Float64Array, Float64ArraySlice, FnArgs, Function, Object};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use scouter_queue_core::collector::host::handler_error;
use scouter_queue_core::collector::{
    self, CollectorQueue, CollectorQueueSpec, Completed, Host, NewEvent, Outbox, Route, ShutdownReport, Value,
};
use scouter_queue_core::{runtime, Error};

use crate::errors::IntoJs;
use crate::promise::spawn_promise;

/// Jobs or completions handed to JavaScript in one call, at most; the rest
/// follow in the next call, so one call never holds the loop for long.
const MAX_BATCH: usize = 4096;

/// A reading of the queue; averages read 0 during the warm-up interval.
#[napi(object)]
pub struct CollectorMetrics {
    /// Milliseconds since the Unix epoch.
    pub timestamp: f64,
    pub qsize: u32,
    pub busy: u32,
    pub consumers: u32,
    pub load: f64,
    pub avg_load: f64,
    /// Seconds.
    pub service_time: f64,
    /// Seconds.
    pub wait_time: f64,
    /// Events per second.
    pub arrival_rate: f64,
    /// Events per second.
    pub departure_rate: f64,
    pub wip: f64,
    pub event_count: f64,
}

impl From<collector::Metrics> for CollectorMetrics {
    fn from(m: collector::Metrics) -> Self {
        CollectorMetrics {
            timestamp: m.timestamp,
            qsize: m.qsize as u32,
            busy: m.busy as u32,
            consumers: m.consumers as u32,
            load: m.load,
            avg_load: m.avg_load,
            service_time: m.service_time,
            wait_time: m.wait_time,
            arrival_rate: m.arrival_rate,
            departure_rate: m.departure_rate,
            wip: m.wip,
            event_count: m.event_count as f64,
        }
    }
}

/// What became of the events published: `published = processed + timedOut + notProcessed` once shut down.
#[napi(object)]
pub struct CollectorReport {
    pub published: f64,
    pub processed: f64,
    pub timed_out: f64,
    pub not_processed: f64,
}

impl From<ShutdownReport> for CollectorReport {
    fn from(r: ShutdownReport) -> Self {
        CollectorReport {
            published: r.published as f64,
            processed: r.processed as f64,
            timed_out: r.timed_out as f64,
            not_processed: r.not_processed as f64,
        }
    }
}

type JobsCallback = ThreadsafeFunction<(), (), Float64Array, Status, false, true>;
type CompletionsCallback = ThreadsafeFunction<(), (), FnArgs<(Float64Array, Vec<String>)>, Status, false, true>;

/// Result kinds in the completions crossing to JavaScript.
const HELD: f64 = 0.0;
const EMPTY: f64 = 1.0;
const JSON: f64 = 2.0;
const FAILED: f64 = 3.0;

/// Delivery modes in the rows `publish` takes.
const BROADCAST: f64 = 0.0;
const KEYS: f64 = 1.0;
const TOPICS: f64 = 2.0;

#[napi]
pub struct NativeCollectorQueue {
    inner: Arc<CollectorQueue>,
    host: Arc<Host>,
}

/// Starts a collector queue from its JSON spec. `runJobs` receives rows of
/// `[ticket, eventId, collectorIndex]`; `complete` receives completed events
/// (see `encode_completions`). Neither keeps the process alive.
#[napi(ts_return_type = "Promise<NativeCollectorQueue>")]
pub fn start_collector_queue<'env>(
    env: &'env Env,
    spec_json: String,
    run_jobs: Function<'env, Float64Array, ()>,
    complete: Function<'env, FnArgs<(Float64Array, Vec<String>)>, ()>,
) -> napi::Result<Object<'env>> {
    let spec = CollectorQueueSpec::from_json(&spec_json).into_js()?;

    // Each callback reaches its outbox weakly: the outbox owns the callback.
    let host_slot: Arc<OnceLock<Weak<Host>>> = Arc::default();
    let slot = host_slot.clone();
    let jobs: JobsCallback = run_jobs
        .build_threadsafe_function::<()>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(move |_| {
            let jobs = slot
                .get()
                .and_then(Weak::upgrade)
                .map(|host| host.take(MAX_BATCH))
                .unwrap_or_default();
            Ok(Float64Array::new(
                jobs.iter()
                    .flat_map(|j| [j.ticket as f64, j.event as f64, j.collector as f64])
                    .collect(),
            ))
        })?;
    let host = Host::new(Box::new(move || {
        jobs.call((), ThreadsafeFunctionCallMode::NonBlocking);
    }));
    let _ = host_slot.set(Arc::downgrade(&host));

    let outbox_slot: Arc<OnceLock<Weak<Outbox<Completed>>>> = Arc::default();
    let slot = outbox_slot.clone();
    let completions: CompletionsCallback = complete
        .build_threadsafe_function::<()>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(move |_| {
            let done = slot
                .get()
                .and_then(Weak::upgrade)
                .map(|o| o.take(MAX_BATCH))
                .unwrap_or_default();
            Ok(FnArgs::from(encode_completions(done)))
        })?;
    let outbox: Arc<Outbox<Completed>> = Arc::new(Outbox::new(Box::new(move || {
        completions.call((), ThreadsafeFunctionCallMode::NonBlocking);
    })));
    let _ = outbox_slot.set(Arc::downgrade(&outbox));

    spawn_promise(env, async move {
        let queue = CollectorQueue::from_spec(spec, &host, Arc::new(move |done| outbox.push(done))).await?;
        Ok(NativeCollectorQueue {
            inner: Arc::new(queue),
            host,
        })
    })
}

/// Per event: `id, waitTime, serviceTime, results`, then per result
/// `collector, kind`; texts hold, in order, a JSON value per `JSON` result
/// and a code and a message per `FAILED` one.
fn encode_completions(done: Vec<Completed>) -> (Float64Array, Vec<String>) {
    let mut numbers = Vec::with_capacity(done.len() * 6);
    let mut texts = Vec::new();
    for c in done {
        numbers.extend([
            c.id as f64,
            c.wait_time.as_secs_f64(),
            c.service_time.as_secs_f64(),
            c.results.len() as f64,
        ]);
        for r in c.results {
            let kind = match r.outcome {
                Ok(Value::Held) => HELD,
                Ok(Value::Empty) => EMPTY,
                Ok(Value::Json(json)) => {
                    texts.push(json);
                    JSON
                }
                Err(error) => {
                    texts.push(error.code().to_owned());
                    texts.push(error.to_string());
                    FAILED
                }
            };
            numbers.extend([r.collector as f64, kind]);
        }
    }
    (Float64Array::new(numbers), texts)
}

#[napi]
impl NativeCollectorQueue {
    /// Queues events given as rows of `[id, priority (NaN for the default),
    /// mode, nameCount]`, their keys or topics in `names` in row order, and,
    /// when a transport collector needs them, their JSON `bodies`.
    #[napi]
    pub fn publish(
        &self,
        rows: Float64ArraySlice,
        names: Vec<String>,
        bodies: Option<Vec<String>>,
    ) -> napi::Result<()> {
        let rows: &[f64] = &rows;
        let mut names = names.into_iter();
        let mut bodies = bodies.map(Vec::into_iter);
        let mut events = Vec::with_capacity(rows.len() / 4);
        for row in rows.chunks_exact(4) {
            let [id, priority, mode, count] = [row[0], row[1], row[2], row[3]];
            let taken: Vec<String> = names.by_ref().take(count as usize).collect();
            if taken.len() != count as usize {
                return Err(Error::InvalidPayload(format!(
                    "event {id}: {count} names announced, fewer given"
                )))
                .into_js();
            }
            let route = match mode {
                BROADCAST => Route::Broadcast,
                KEYS => Route::Keys(taken),
                TOPICS => Route::Topics(taken),
                _ => {
                    return Err(Error::InvalidPayload(format!(
                        "event {id}: unknown delivery mode {mode}"
                    )))
                    .into_js()
                }
            };
            events.push(NewEvent {
                id: id as u64,
                route,
                priority: (!priority.is_nan()).then_some(priority),
                body: bodies.as_mut().and_then(Iterator::next),
            });
        }
        self.inner.publish(events).into_js()
    }

    /// Settles jobs given as rows of `[ticket, ok]`: `ok` 1 means the value
    /// is held in JavaScript, 0 that the handler failed with the next of
    /// `messages`.
    #[napi]
    pub fn settle(&self, rows: Float64ArraySlice, messages: Vec<String>) -> napi::Result<()> {
        let mut messages = messages.into_iter();
        let outcomes: Vec<_> = rows
            .chunks_exact(2)
            .map(|row| {
                let outcome = if row[1] == 1.0 {
                    Ok(Value::Held)
                } else {
                    handler_error(messages.next().unwrap_or_default())
                };
                (row[0] as u32, outcome)
            })
            .collect();
        // Each outcome wakes a consumer; woken from a runtime thread, they cost
        // the JavaScript thread one wake-up per batch instead of one per event.
        let host = self.host.clone();
        runtime::get().into_js()?.spawn(async move { host.settle(outcomes) });
        Ok(())
    }

    #[napi]
    pub fn metrics(&self) -> CollectorMetrics {
        self.inner.metrics().into()
    }

    #[napi]
    pub fn report(&self) -> CollectorReport {
        self.inner.report().into()
    }

    /// Stops intake and settles every event within `timeoutMs` (see the
    /// core's `CollectorQueue::shutdown`).
    #[napi(ts_return_type = "Promise<CollectorReport>")]
    pub fn shutdown<'env>(&self, env: &'env Env, timeout_ms: u32, drain: bool) -> napi::Result<Object<'env>> {
        let queue = self.inner.clone();
        spawn_promise(env, async move {
            Ok(CollectorReport::from(
                queue.shutdown(Duration::from_millis(timeout_ms as u64), drain).await,
            ))
        })
    }

    /// The same, blocking the calling thread: for process exit, when no
    /// JavaScript handler can run any more.
    #[napi]
    pub fn shutdown_sync(&self, timeout_ms: u32, drain: bool) -> napi::Result<CollectorReport> {
        let runtime = runtime::get().into_js()?;
        Ok(runtime
            .block_on(self.inner.shutdown(Duration::from_millis(timeout_ms as u64), drain))
            .into())
    }
}
