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
use crate::encoding::ItemKind;
use crate::filequeue::{FileQueueOptions, Reader, Row};
use crate::runtime;
use crate::report::{BackgroundError, Counters, EventListener, QueueEvent};
use crate::transport::{Delivery, Producer};

/// How long a worker whose intake closed without a shutdown deadline (the
/// queue was dropped) still gives its producer.
const DEFAULT_FLUSH_TIME: Duration = Duration::from_secs(10);

/// How long a replayed batch may wait for its acknowledgements before it is
/// given back to the spill queue, to be tried again.
const REPLAY_CONFIRM_TIME: Duration = Duration::from_secs(30);

/// How often to look for spilled batches while none are ready.
const REPLAY_LOOK_EVERY: Duration = Duration::from_secs(1);

/// Replays an alias's spill queue into its transport once the transport takes
/// messages again: at start (what earlier runs spilled) and after an outage.
pub(crate) struct Replay {
    pub queue: FileQueueOptions,
    pub next_look: Instant,
}

pub(crate) enum Role {
    /// Delivers to the transport; what it cannot deliver goes to `spill`.
    Main { spill: UnboundedSender<Input> },
    /// Writes what the main worker could not take. Its deliveries count as spilled.
    Spill,
}

pub(crate) struct Worker<P> {
    alias: String,
    kind: ItemKind,
    counters: Arc<Counters>,
    aggregator: Box<dyn Aggregator>,
    producer: P,
    role: Role,
    on_event: EventListener,
    /// Set by shutdown: the time by which everything must be settled.
    deadline: watch::Receiver<Option<Instant>>,
    /// The producer's held bytes as last added to `queued_bytes`.
    held_bytes: u64,
    replay: Option<Replay>,
}

/// A worker before its producer is chosen, so one builder serves the main
/// and the spill worker whatever their producer types.
pub(crate) struct WorkerParts {
    pub alias: String,
    pub kind: ItemKind,
    pub counters: Arc<Counters>,
    pub aggregator: Box<dyn Aggregator>,
    pub role: Role,
    pub on_event: EventListener,
    pub deadline: watch::Receiver<Option<Instant>>,
    pub replay: Option<Replay>,
}

impl WorkerParts {
    pub(crate) fn with<P: Producer>(self, producer: P) -> Worker<P> {
        let WorkerParts { alias, kind, counters, aggregator, role, on_event, deadline, replay } = self;
        Worker { alias, kind, counters, aggregator, producer, role, on_event, deadline, held_bytes: 0, replay }
    }
}

impl<P: Producer> Worker<P> {
    /// Runs until every sender of `rx` is gone and the channel is drained,
    /// then publishes what is left.
    pub(crate) async fn run(mut self, mut rx: UnboundedReceiver<Input>) {
        // A producer that holds back leaves items in the channel (within the
        // memory budget); shutdown is then the one thing that must still wake us.
        let mut shutdown = self.deadline.clone();
        let mut shutdown_pending = true;
        loop {
            if self.replay_due() {
                self.replay_one().await;
                continue;
            }
            let due = earliest(earliest(self.producer.next_due(), self.aggregator.next_due()), self.replay_look());
            let take_more = self.producer.accepting() || self.deadline.borrow().is_some();
            tokio::select! {
                input = rx.recv(), if take_more => match input {
                    Some(Input::Items(batch)) => self.take_batch(batch).await,
                    Some(Input::Messages(messages)) => self.deliver(messages).await,
                    None => break,
                },
                changed = shutdown.changed(), if shutdown_pending => shutdown_pending = changed.is_ok(),
                _ = sleep_until(due) => self.tick().await,
            }
        }
        self.finish().await;
    }

    fn replay_due(&self) -> bool {
        self.replay.as_ref().is_some_and(|r| Instant::now() >= r.next_look)
            && self.producer.accepting()
            && self.deadline.borrow().is_none()
    }

    fn replay_look(&self) -> Option<Instant> {
        self.replay.as_ref().map(|r| r.next_look)
    }

    /// Sends one spilled batch again. Replayed messages carry no items (their
    /// items were counted in the run that inserted them); `replayed` counts
    /// their rows once the transport has acknowledged the whole batch.
    async fn replay_one(&mut self) {
        let Some(replay) = &mut self.replay else { return };
        replay.next_look = Instant::now() + REPLAY_LOOK_EVERY;
        let reader = Reader::new(&replay.queue);
        let batch = match runtime::blocking(move || reader.take_next()).await {
            Ok(Some(batch)) => batch,
            Ok(None) => return,
            Err(error) => return self.report(error.code(), error.to_string(), 0),
        };
        // Shutdown does not wait for a replay: the batch goes back whole, and
        // what is in flight settles (or spills) in `finish`.
        let mut shutdown = self.deadline.clone();
        let sent = tokio::select! {
            sent = resend(&mut self.producer, &batch.rows) => Some(sent),
            _ = shutdown.wait_for(Option::is_some) => None,
        };
        let Some((earlier, mut delivery)) = sent else {
            if let Err(error) = batch.release() {
                self.report(error.code(), error.to_string(), 0);
            }
            return;
        };
        self.settle(earlier);
        let rows = batch.rows.len() as u64;
        let kept = if delivery.rejected > 0 {
            // Sent again, it would be refused again: kept aside for a person to look at.
            let reason = format!("the transport refused {} of its {rows} rows on replay", delivery.rejected);
            self.report("ERR_TRANSPORT", format!("a spilled batch is set aside: {reason}"), 0);
            batch.set_aside(&reason)
        } else if delivery.undelivered.is_empty() {
            Counters::add(&self.counters.replayed, rows);
            // The transport keeps up: the next batch goes now, not a second later,
            // so a backlog drains at the transport's speed.
            if let Some(replay) = &mut self.replay {
                replay.next_look = Instant::now();
            }
            batch.finish()
        } else {
            // Its rows are still in the batch: it goes back, whole, to be tried again.
            batch.release()
        };
        delivery.undelivered.clear();
        self.settle(delivery);
        if let Err(error) = kept {
            self.report(error.code(), error.to_string(), 0);
        }
    }

    async fn take_batch(&mut self, batch: Batch) {
        let mut messages = Vec::new();
        let (mut bad, mut first_reason) = (0u64, None);
        let aggregator = &mut self.aggregator;
        batch.decode(self.kind, |item| {
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
        let held = self.producer.held_bytes();
        if matches!(self.role, Role::Main { .. }) && held != self.held_bytes {
            self.counters.queued_bytes.fetch_add(held.wrapping_sub(self.held_bytes), Relaxed);
            self.held_bytes = held;
        }
        let Delivery { published, failed, undelivered, error, backpressured, .. } = delivery;
        Counters::add(self.delivered_counter(), published);
        Counters::add(&self.counters.failed, failed);
        if let Some(error) = error {
            self.report(error.code(), error.to_string(), failed);
        }
        // A state that flapped within one call is no news.
        if let Some(active) = backpressured.filter(|active| self.counters.backpressured.swap(*active, Relaxed) != *active) {
            (self.on_event)(QueueEvent::Backpressure { alias: self.alias.clone(), active });
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
        (self.on_event)(QueueEvent::Error(BackgroundError {
            alias: self.alias.clone(),
            code,
            message,
            items,
        }));
    }
}

/// Sends a spilled batch's rows again and waits for their acknowledgements;
/// first settles what was in flight, so the wait is for these rows only.
/// Returns that earlier delivery and the batch's own.
async fn resend<P: Producer>(producer: &mut P, rows: &[Row]) -> (Delivery, Delivery) {
    let earlier = producer.flush(Instant::now() + REPLAY_CONFIRM_TIME).await;
    let messages = rows.iter().map(|row| Message { payload: row.data.clone(), items: 0 }).collect();
    let mut delivery = producer.publish(messages).await;
    let confirmed = producer.flush(Instant::now() + REPLAY_CONFIRM_TIME).await;
    delivery.published += confirmed.published;
    delivery.failed += confirmed.failed;
    delivery.rejected += confirmed.rejected;
    delivery.undelivered.extend(confirmed.undelivered);
    delivery.error = delivery.error.or(confirmed.error);
    delivery.backpressured = confirmed.backpressured.or(delivery.backpressured);
    (earlier, delivery)
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
