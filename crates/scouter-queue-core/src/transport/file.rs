//! The embedded default transport: each message is a row of the file queue.
//! A row counts as published when it is committed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Delivery, Producer};
use crate::aggregate::Message;
use crate::filequeue::{FileQueueOptions, WriteOutcome, Writer};
use crate::error::Result;

/// How often a producer with `max_ready_files` counts the ready batches.
const BACKPRESSURE_CHECK_EVERY: Duration = Duration::from_millis(100);

pub struct FileProducer {
    writer: Writer,
    /// Items per written, not yet committed row, oldest first: commits are
    /// in row order, so committed rows are popped from the front.
    uncommitted_items: VecDeque<u64>,
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
            backpressured: false,
            next_backpressure_check,
        })
    }

    /// Counts ready batches when due; returns the new state if it changed.
    fn check_backpressure(&mut self, now: Instant) -> Option<bool> {
        let due = self.next_backpressure_check.filter(|at| *at <= now)?;
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
            undelivered: Vec::new(),
            error: outcome.error,
            backpressured: None,
        }
    }
}

impl Producer for FileProducer {
    async fn publish(&mut self, messages: Vec<Message>) -> Delivery {
        self.uncommitted_items.extend(messages.iter().map(|m| m.items));
        let outcome = self.writer.append(messages.iter().map(|m| m.payload.as_str()));
        self.settle(outcome)
    }

    fn accepting(&self) -> bool {
        !self.backpressured
    }

    fn next_due(&self) -> Option<Instant> {
        match (self.writer.next_due(), self.next_backpressure_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn tick(&mut self, now: Instant) -> Delivery {
        let outcome = self.writer.tick(now);
        let backpressured = self.check_backpressure(now);
        Delivery { backpressured, ..self.settle(outcome) }
    }

    /// Local disk needs no waiting: commit and roll what is open.
    async fn flush(&mut self, _deadline: Instant) -> Delivery {
        let outcome = self.writer.close();
        self.settle(outcome)
    }
}
