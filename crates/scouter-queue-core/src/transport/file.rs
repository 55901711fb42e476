//! The embedded default transport: each message is a row of the file queue.
//! A row counts as published when it is committed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Delivery, Producer};
use crate::aggregate::Message;
use crate::error::Result;
use crate::filequeue::{FileQueueOptions, WriteOutcome, Writer};

/// How often a producer with `max_ready_files` counts the ready batches
/// while nothing rolls.
const BACKPRESSURE_CHECK_EVERY: Duration = Duration::from_millis(100);

pub struct FileProducer {
    writer: Writer,
    /// Items per written, not yet committed row, oldest first: commits are
    /// in row order, so committed rows are popped from the front.
    uncommitted_items: VecDeque<u64>,
    /// Messages taken while readers fell behind: at most the rest of one
    /// input batch, since the worker takes no more until they are written.
    held: VecDeque<Message>,
    held_bytes: u64,
    backpressured: bool,
    /// When to count ready batches next; `None` without `max_ready_files`.
    next_backpressure_check: Option<Instant>,
}

impl FileProducer {
    pub fn new(options: FileQueueOptions) -> Result<Self> {
        let next_backpressure_check = options.max_ready_files.map(|_| Instant::now());
        Ok(FileProducer {
            writer: Writer::new(options)?,
            uncommitted_items: VecDeque::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            backpressured: false,
            next_backpressure_check,
        })
    }

    /// Writes held messages, a batch's room at a time, while readers keep up;
    /// with `ignore_backpressure` (shutdown), writes them all.
    fn write_held(&mut self, ignore_backpressure: bool) -> Delivery {
        let mut delivery = Delivery::default();
        while !self.held.is_empty() && (ignore_backpressure || !self.backpressured) {
            let room = self.writer.room().clamp(1, self.held.len());
            let chunk: Vec<Message> = self.held.drain(..room).collect();
            self.held_bytes -= chunk.iter().map(|m| m.payload.len() as u64).sum::<u64>();
            self.uncommitted_items.extend(chunk.iter().map(|m| m.items));
            let outcome = self.writer.append(chunk.iter().map(|m| m.payload.as_str()));
            let rolled = outcome.rolled > 0;
            merge(&mut delivery, self.settle(outcome));
            if rolled {
                delivery.backpressured = self.check_backpressure(Instant::now(), true).or(delivery.backpressured);
            }
        }
        delivery
    }

    /// Counts ready batches when due (or `now` after a roll); returns the
    /// new state if it changed.
    fn check_backpressure(&mut self, now: Instant, rolled: bool) -> Option<bool> {
        let due = self.next_backpressure_check.filter(|at| rolled || *at <= now)?;
        self.next_backpressure_check = Some(due.max(now) + BACKPRESSURE_CHECK_EVERY);
        // A folder that cannot be listed shows up as a write error soon enough.
        let backpressured = self.writer.backpressured().unwrap_or(false);
        (backpressured != self.backpressured).then(|| {
            self.backpressured = backpressured;
            backpressured
        })
    }

    fn settle(&mut self, outcome: WriteOutcome) -> Delivery {
        let mut take = |rows: usize| -> u64 {
            let n = rows.min(self.uncommitted_items.len());
            self.uncommitted_items.drain(..n).sum()
        };
        let published = take(outcome.committed);
        let failed = take(outcome.failed);
        Delivery {
            published,
            failed,
            error: outcome.error,
            ..Delivery::default()
        }
    }
}

fn merge(into: &mut Delivery, other: Delivery) {
    into.published += other.published;
    into.failed += other.failed;
    into.undelivered.extend(other.undelivered);
    if into.error.is_none() {
        into.error = other.error;
    }
    into.backpressured = other.backpressured.or(into.backpressured);
}

impl Producer for FileProducer {
    async fn publish(&mut self, messages: Vec<Message>) -> Delivery {
        self.held_bytes += messages.iter().map(|m| m.payload.len() as u64).sum::<u64>();
        self.held.extend(messages);
        self.write_held(false)
    }

    fn accepting(&self) -> bool {
        !self.backpressured && self.held.is_empty()
    }

    fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    fn next_due(&self) -> Option<Instant> {
        match (self.writer.next_due(), self.next_backpressure_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn tick(&mut self, now: Instant) -> Delivery {
        let outcome = self.writer.tick(now);
        let mut delivery = self.settle(outcome);
        delivery.backpressured = self.check_backpressure(now, false);
        merge(&mut delivery, self.write_held(false));
        delivery
    }

    /// Local disk needs no waiting: write what is held, commit and roll.
    async fn flush(&mut self, _deadline: Instant) -> Delivery {
        let mut delivery = self.write_held(true);
        let outcome = self.writer.close();
        merge(&mut delivery, self.settle(outcome));
        delivery
    }
}
