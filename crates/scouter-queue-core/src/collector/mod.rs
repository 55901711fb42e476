//! CollectorQueue: payloads published to a queue (FIFO, LIFO or priority),
//! taken by a pool of competing consumers, and routed to collectors by key,
//! topic or broadcast; each event completes with one result per collector
//! it reached. Modelled on Python's event_collector.
//!
//! - [`queue`]: the three queue orders.
//! - [`router`]: the directory of collectors and the routers.
//! - `pool`: the consumers and the monitor that sizes them.
//! - [`metrics`]: rates, times, load and work in progress.
//! - [`event`]: events, results and the `Collector` trait.
//! - [`host`]: collectors whose handlers run on a host thread (JavaScript).
//! - [`transport`]: any `Producer` as a collector.
//! - [`config`]: options and their defaults.

pub mod config;
pub mod event;
pub mod host;
pub mod metrics;
mod pool;
pub mod queue;
pub mod router;
pub mod transport;

pub use config::{CollectorQueueConfig, CollectorQueueSpec, CollectorSpec};
pub use event::{
    Collector, CollectorResult, Completed, CompletionListener, Event, NewEvent, Outcome, Registration, Reply, Value,
};
pub use host::{Host, HostCollector, HostJob, Outbox};
pub use metrics::Metrics;
pub use queue::QueueType;
pub use router::{Directory, Route, Router, SimpleRouter};
pub use transport::TransportCollector;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use metrics::Stats;
use queue::EventQueue;

/// What became of the events published, once shutdown has settled them:
/// `published = processed + timed_out + not_processed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    pub published: u64,
    /// Every collector reached gave its result (ok or error).
    pub processed: u64,
    /// Cut at the shutdown deadline: unfinished collectors gave `ERR_SHUTDOWN_TIMEOUT`.
    pub timed_out: u64,
    /// Still queued at the deadline (or at once, without draining): each
    /// collector it would have reached gave `ERR_NOT_PROCESSED`.
    pub not_processed: u64,
}

pub struct CollectorQueue {
    inner: Arc<Inner>,
    runtime: tokio::runtime::Handle,
    monitor: Mutex<Option<JoinHandle<()>>>,
    deadline: watch::Sender<Option<Instant>>,
    report: watch::Sender<Option<ShutdownReport>>,
}

/// What consumers, the monitor and publishers share.
pub(crate) struct Inner {
    config: CollectorQueueConfig,
    directory: Directory,
    collectors: Vec<Arc<dyn Collector>>,
    router: Arc<dyn Router>,
    on_complete: CompletionListener,
    waiting: Mutex<Waiting>,
    stats: Mutex<Stats>,
    pool: pool::Pool,
    /// Consumers leave once the queue is empty.
    closing: AtomicBool,
    /// The shutdown deadline passed: consumers stop waiting for collectors.
    abort: watch::Sender<bool>,
    counts: Counts,
}

/// The queue and whether it takes events, under one lock, so nothing is
/// queued after shutdown has taken what was left.
struct Waiting {
    events: EventQueue<Queued>,
    open: bool,
}

struct Queued {
    event: Arc<Event>,
    route: Route,
    enqueued_at: Instant,
}

#[derive(Default)]
struct Counts {
    published: AtomicU64,
    processed: AtomicU64,
    timed_out: AtomicU64,
    not_processed: AtomicU64,
}

impl CollectorQueue {
    /// Starts the consumers and the monitor on the current runtime.
    pub fn start(
        config: CollectorQueueConfig,
        collectors: Vec<Registration>,
        router: Arc<dyn Router>,
        on_complete: CompletionListener,
    ) -> Result<CollectorQueue> {
        config.validate()?;
        let directory = Directory::new(collectors.iter().map(|c| (c.key.as_str(), c.topics.as_slice())))?;
        if directory.is_empty() {
            return Err(Error::InvalidConfig(
                "a collector queue needs at least one collector".into(),
            ));
        }
        let inner = Arc::new(Inner {
            stats: Mutex::new(Stats::new(Instant::now(), config.windows())),
            waiting: Mutex::new(Waiting {
                events: EventQueue::new(config.queue_type),
                open: true,
            }),
            collectors: collectors.into_iter().map(|c| c.collector).collect(),
            directory,
            router,
            on_complete,
            pool: pool::Pool::default(),
            closing: AtomicBool::new(false),
            abort: watch::channel(false).0,
            counts: Counts::default(),
            config,
        });
        let initial = if inner.config.autoscale {
            inner.config.min_consumers
        } else {
            inner.config.max_consumers
        };
        pool::resize(&inner, initial);
        let monitor = tokio::spawn(pool::monitor(inner.clone()));
        Ok(CollectorQueue {
            inner,
            runtime: tokio::runtime::Handle::current(),
            monitor: Mutex::new(Some(monitor)),
            deadline: watch::channel(None).0,
            report: watch::channel(None).0,
        })
    }

    /// Starts a queue from its spec: transports run in Rust, the other
    /// collectors on `host`, which knows each by its index in the spec.
    pub async fn from_spec(
        spec: CollectorQueueSpec,
        host: &Arc<Host>,
        on_complete: CompletionListener,
    ) -> Result<CollectorQueue> {
        let mut collectors = Vec::with_capacity(spec.collectors.len());
        for (index, c) in spec.collectors.into_iter().enumerate() {
            let collector: Arc<dyn Collector> = match &c.transport {
                Some(transport) => Arc::new(TransportCollector::start(&c.key, transport).await?),
                None => Arc::new(host.collector(index as u32)),
            };
            collectors.push(Registration {
                key: c.key,
                topics: c.topics,
                collector,
            });
        }
        CollectorQueue::start(spec.options, collectors, Arc::new(SimpleRouter), on_complete)
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    /// Queues events, all or none: an unknown key or a bad priority refuses
    /// the whole batch, as does a queue that is shutting down.
    pub fn publish(&self, events: Vec<NewEvent>) -> Result<()> {
        for event in &events {
            self.inner.directory.check(&event.route)?;
            if event.priority.is_some_and(|p| !p.is_finite()) {
                return Err(Error::InvalidPayload(format!(
                    "event {}: priority must be a finite number",
                    event.id
                )));
            }
        }
        let now = Instant::now();
        let count = events.len();
        {
            let mut waiting = self.inner.waiting.lock().unwrap_or_else(|p| p.into_inner());
            if !waiting.open {
                return Err(Error::QueueClosed);
            }
            let default_priority = self.inner.config.default_priority;
            for NewEvent {
                id,
                route,
                priority,
                body,
            } in events
            {
                let queued = Queued {
                    event: Arc::new(Event { id, body }),
                    route,
                    enqueued_at: now,
                };
                waiting.events.push(queued, priority.unwrap_or(default_priority));
            }
        }
        self.inner.counts.published.fetch_add(count as u64, SeqCst);
        self.inner
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .arrived(now, count as u64);
        // Waking a consumer from outside the runtime (the JavaScript thread)
        // can cost a system call each; one task wakes them all from inside.
        if tokio::runtime::Handle::try_current().is_ok() {
            self.inner.pool.wake_for(count);
        } else {
            let inner = self.inner.clone();
            self.runtime.spawn(async move { inner.pool.wake_for(count) });
        }
        Ok(())
    }

    pub fn metrics(&self) -> Metrics {
        let (qsize, busy, live) = self.inner.levels();
        self.inner
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .read(Instant::now(), qsize, busy, live)
    }

    /// The counts so far (final once shutdown has returned).
    pub fn report(&self) -> ShutdownReport {
        let c = &self.inner.counts;
        ShutdownReport {
            published: c.published.load(SeqCst),
            processed: c.processed.load(SeqCst),
            timed_out: c.timed_out.load(SeqCst),
            not_processed: c.not_processed.load(SeqCst),
        }
    }

    /// Stops intake; lets the consumers go on until the queue is empty (or,
    /// without `drain`, reports what is queued at once) and until `timeout`;
    /// then gives up on the collectors still running, reports what is still
    /// queued, tears the collectors down and returns the counts. A second
    /// call waits for the same end; a shorter timeout shortens it.
    pub async fn shutdown(&self, timeout: Duration, drain: bool) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        self.deadline.send_if_modified(|current| match current {
            Some(earlier) if *earlier <= deadline => false,
            _ => {
                *current = Some(deadline);
                true
            }
        });
        let first = std::mem::replace(
            &mut self.inner.waiting.lock().unwrap_or_else(|p| p.into_inner()).open,
            false,
        );
        if !first {
            let mut report = self.report.subscribe();
            return match report.wait_for(Option::is_some).await {
                Ok(done) => done.unwrap_or_default(),
                Err(_) => self.report(),
            };
        }
        if !drain {
            self.inner.fail_queued();
        }
        self.inner.closing.store(true, SeqCst);
        self.inner.pool.wake.notify_waiters();
        self.wait_for_consumers().await;
        self.inner.fail_queued();
        for collector in &self.inner.collectors {
            collector.teardown().await;
        }
        let report = self.report();
        self.report.send_replace(Some(report));
        report
    }

    /// Waits until every consumer has left, giving up on the collectors
    /// still running once the deadline has passed.
    async fn wait_for_consumers(&self) {
        let mut deadline = self.deadline.subscribe();
        loop {
            let exited = self.inner.pool.exited.notified();
            tokio::pin!(exited);
            exited.as_mut().enable();
            if self.inner.pool.live.load(SeqCst) == 0 {
                // The monitor may have started a consumer since: stop it and look again.
                match self.stop_monitor() {
                    Some(monitor) => {
                        let _ = monitor.await;
                        continue;
                    }
                    None => return,
                }
            }
            let at = *deadline.borrow_and_update();
            tokio::select! {
                _ = exited => {}
                _ = deadline.changed() => {}
                _ = sleep_until(at) => {
                    if let Some(monitor) = self.stop_monitor() {
                        let _ = monitor.await;
                    }
                    self.inner.abort.send_replace(true);
                    self.inner.pool.wake.notify_waiters();
                }
            }
        }
    }

    fn stop_monitor(&self) -> Option<JoinHandle<()>> {
        let monitor = self.monitor.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        monitor.abort();
        Some(monitor)
    }
}

impl Drop for CollectorQueue {
    /// A queue dropped without shutdown still lets its consumers finish
    /// what is queued, then leave.
    fn drop(&mut self) {
        self.inner.waiting.lock().unwrap_or_else(|p| p.into_inner()).open = false;
        self.inner.closing.store(true, SeqCst);
        self.inner.pool.wake.notify_waiters();
        if let Some(monitor) = self.stop_monitor() {
            drop(monitor);
        }
    }
}

impl Inner {
    fn pop(&self) -> Option<Queued> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).events.pop()
    }

    fn is_closing(&self) -> bool {
        self.closing.load(SeqCst)
    }

    /// (queued, busy, consumers) now.
    fn levels(&self) -> (usize, usize, usize) {
        let qsize = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).events.len();
        (qsize, self.pool.busy.load(SeqCst), self.pool.live.load(SeqCst))
    }

    fn reached(&self, route: &Route) -> Vec<usize> {
        let mut reached = self.router.route(route, &self.directory);
        reached.retain(|&i| i < self.collectors.len());
        reached
    }

    /// Hands the event to every collector it reaches at once, then waits for
    /// their results in turn (each is already running).
    async fn process(&self, queued: Queued, abort: &mut watch::Receiver<bool>) {
        self.pool.busy.fetch_add(1, SeqCst);
        let started = Instant::now();
        let pending: Vec<_> = self
            .reached(&queued.route)
            .into_iter()
            .map(|collector| {
                let (reply, outcome) = Reply::new();
                self.collectors[collector].handle(queued.event.clone(), reply);
                (collector, outcome)
            })
            .collect();
        let mut results = Vec::with_capacity(pending.len());
        let mut timed_out = false;
        for (collector, outcome) in pending {
            let outcome = tokio::select! {
                biased;
                outcome = outcome => outcome.unwrap_or_else(|_| Err(Error::Handler("the collector dropped the event without a result".into()))),
                _ = abort.wait_for(|aborted| *aborted) => {
                    timed_out = true;
                    Err(Error::ShutdownTimeout)
                }
            };
            results.push(CollectorResult { collector, outcome });
        }
        let now = Instant::now();
        let (wait_time, service_time) = (started - queued.enqueued_at, now - started);
        self.stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .completed(now, wait_time, service_time);
        let count = if timed_out {
            &self.counts.timed_out
        } else {
            &self.counts.processed
        };
        count.fetch_add(1, SeqCst);
        // Not busy any more by the time the publisher hears of it.
        self.pool.busy.fetch_sub(1, SeqCst);
        (self.on_complete)(Completed {
            id: queued.event.id,
            results,
            wait_time,
            service_time,
        });
    }

    /// Completes every queued event with `ERR_NOT_PROCESSED` results.
    fn fail_queued(&self) {
        let left = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).events.take_all();
        let now = Instant::now();
        for queued in left {
            let results = self
                .reached(&queued.route)
                .into_iter()
                .map(|collector| CollectorResult {
                    collector,
                    outcome: Err(Error::NotProcessed),
                })
                .collect();
            self.counts.not_processed.fetch_add(1, SeqCst);
            (self.on_complete)(Completed {
                id: queued.event.id,
                results,
                wait_time: now - queued.enqueued_at,
                service_time: Duration::ZERO,
            });
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
