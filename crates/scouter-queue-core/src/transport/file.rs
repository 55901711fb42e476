//! The embedded default transport: each message is a row of the file queue.
//! A row counts as published when it is committed.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Delivery, Producer};
use crate::aggregate::Message;
use crate::filequeue::{FileQueueOptions, WriteOutcome, Writer};
use crate::error::Result;

pub struct FileProducer {
    writer: Writer,
    /// Items per written, not yet committed row, oldest first: commits are
    /// in row order, so committed rows are popped from the front.
    uncommitted_items: VecDeque<u64>,
}

impl FileProducer {
    pub fn new(options: FileQueueOptions) -> Result<Self> {
        Ok(FileProducer {
            writer: Writer::new(options)?,
            uncommitted_items: VecDeque::new(),
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
        }
    }
}

impl Producer for FileProducer {
    async fn publish(&mut self, messages: Vec<Message>) -> Delivery {
        self.uncommitted_items.extend(messages.iter().map(|m| m.items));
        let outcome = self.writer.append(messages.iter().map(|m| m.payload.as_str()));
        self.settle(outcome)
    }

    fn next_due(&self) -> Option<Instant> {
        self.writer.next_due()
    }

    async fn tick(&mut self, now: Instant) -> Delivery {
        let outcome = self.writer.tick(now);
        self.settle(outcome)
    }

    /// Local disk needs no waiting: commit and roll what is open.
    async fn flush(&mut self, _deadline: Instant) -> Delivery {
        let outcome = self.writer.close();
        self.settle(outcome)
    }
}
