//! The worker of one alias: it owns the aggregator and the producer and
//! loops over new items, timed work and shutdown. A second worker per alias,
//! the spill worker, runs the same loop into the spill file queue.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use crate::aggregate::{Aggregator, Message};
use crate::bus::{Batch, Input};
use crate::record::EntityType;
use crate::report::{BackgroundError, Counters, ErrorListener};
use crate::transport::{Delivery, Producer};

/// How long a worker whose intake closed without a shutdown deadline (the
/// queue was dropped) still gives its producer.
const DEFAULT_FLUSH_TIME: Duration = Duration::from_secs(10);

pub(crate) enum Role {
    /// Delivers to the transport; what it cannot deliver goes to `spill`.
    Main { spill: UnboundedSender<Input> },
    /// Writes what the main worker could not take. Its deliveries count as spilled.
    Spill,
}

pub(crate) struct Worker<P> {
    alias: String,
    entity: EntityType,
    counters: Arc<Counters>,
    aggregator: Box<dyn Aggregator>,
    producer: P,
    role: Role,
    on_error: ErrorListener,
    /// Set by shutdown: the time by which everything must be settled.
    deadline: watch::Receiver<Option<Instant>>,
}

/// A worker before its producer is chosen, so one builder serves the main
/// and the spill worker whatever their producer types.
pub(crate) struct WorkerParts {
    pub alias: String,
    pub entity: EntityType,
    pub counters: Arc<Counters>,
    pub aggregator: Box<dyn Aggregator>,
    pub role: Role,
    pub on_error: ErrorListener,
    pub deadline: watch::Receiver<Option<Instant>>,
}

impl WorkerParts {
    pub(crate) fn with<P: Producer>(self, producer: P) -> Worker<P> {
        let WorkerParts { alias, entity, counters, aggregator, role, on_error, deadline } = self;
        Worker { alias, entity, counters, aggregator, producer, role, on_error, deadline }
    }
}

impl<P: Producer> Worker<P> {
    /// Runs until every sender of `rx` is gone and the channel is drained,
    /// then publishes what is left.
    pub(crate) async fn run(mut self, mut rx: UnboundedReceiver<Input>) {
        loop {
            let due = earliest(self.producer.next_due(), self.aggregator.next_due());
            tokio::select! {
                input = rx.recv() => match input {
                    Some(Input::Items(batch)) => self.take_batch(batch).await,
                    Some(Input::Messages(messages)) => self.deliver(messages).await,
                    None => break,
                },
                _ = sleep_until(due) => self.tick().await,
            }
        }
        self.finish().await;
    }

    async fn take_batch(&mut self, batch: Batch) {
        let mut messages = Vec::new();
        let (mut bad, mut first_reason) = (0u64, None);
        let aggregator = &mut self.aggregator;
        batch.decode(self.entity, |item| {
            if let Err(reason) = item.and_then(|item| aggregator.add(item, &batch.inserted_at, &mut messages)) {
                bad += 1;
                first_reason.get_or_insert(reason);
            }
        });
        if let Some(reason) = first_reason {
            Counters::add(&self.counters.failed, bad);
            self.report("ERR_INVALID_ITEM", reason, bad);
        }
        if let Some(skipped) = self.aggregator.take_skipped() {
            Counters::add(&self.counters.skipped_values, skipped.values);
            let message = format!("{} value(s) left out of the aggregates; the first: {}", skipped.values, skipped.first_reason);
            self.report("ERR_VALUE_SKIPPED", message, 0);
        }
        self.deliver(messages).await;
        if matches!(self.role, Role::Main { .. }) {
            self.counters.queued_bytes.fetch_sub(batch.bytes, Relaxed);
        }
    }

    async fn deliver(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        if let (Role::Main { .. }, true) = (&self.role, self.past_deadline()) {
            return self.spill(messages);
        }
        let delivery = self.producer.publish(messages).await;
        self.settle(delivery);
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        let delivery = self.producer.tick(now).await;
        self.settle(delivery);
        let mut due = Vec::new();
        self.aggregator.flush_due(now, &mut due);
        self.deliver(due).await;
    }

    async fn finish(&mut self) {
        let mut partial = Vec::new();
        self.aggregator.flush_all(&mut partial);
        self.deliver(partial).await;
        let deadline = self.deadline.borrow().unwrap_or_else(|| Instant::now() + DEFAULT_FLUSH_TIME);
        let delivery = self.producer.flush(deadline).await;
        self.settle(delivery);
    }

    fn settle(&mut self, delivery: Delivery) {
        let Delivery { published, failed, undelivered, error } = delivery;
        Counters::add(self.delivered_counter(), published);
        Counters::add(&self.counters.failed, failed);
        if let Some(error) = error {
            self.report(error.code(), error.to_string(), failed);
        }
        self.spill(undelivered);
    }

    fn spill(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let items: u64 = messages.iter().map(|m| m.items).sum();
        let refused = match &self.role {
            Role::Main { spill } => spill.send(Input::Messages(messages)).is_err(),
            Role::Spill => true,
        };
        if refused {
            Counters::add(&self.counters.failed, items);
            self.report("ERR_FILE_QUEUE", "the spill file queue could not take undelivered items".into(), items);
        }
    }

    fn delivered_counter(&self) -> &AtomicU64 {
        match self.role {
            Role::Main { .. } => &self.counters.published,
            Role::Spill => &self.counters.spilled,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.borrow().is_some_and(|d| Instant::now() >= d)
    }

    fn report(&self, code: &'static str, message: String, items: u64) {
        (self.on_error)(BackgroundError {
            alias: self.alias.clone(),
            code,
            message,
            items,
        });
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
