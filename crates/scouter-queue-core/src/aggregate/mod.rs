//! Aggregators sit between a queue's channel and its producer: they turn
//! inserted items into the messages the transport carries. A queue without
//! drift aggregation publishes each item as a raw record.

mod passthrough;
mod raw;

pub use passthrough::PassthroughAggregator;
pub use raw::RawAggregator;

use std::time::Instant;

use crate::record::Item;

/// One message as its transport carries it, and how many inserted items it
/// accounts for (so counters stay in items whatever the aggregation).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub payload: String,
    pub items: u64,
}

/// Turns items into messages. Called from the worker only, never concurrently.
pub trait Aggregator: Send {
    /// Takes one item inserted at `inserted_at` (Scouter's timestamp text);
    /// pushes any messages that are now complete. An item it cannot use is
    /// an error the worker counts and reports; the rest go on.
    fn add(&mut self, item: Item, inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String>;

    /// When `flush_due` next has something to publish, if ever.
    fn next_due(&self) -> Option<Instant> {
        None
    }

    /// Publishes what the timed flush says is due.
    fn flush_due(&mut self, _now: Instant, _out: &mut Vec<Message>) {}

    /// Publishes every partial aggregate (at shutdown).
    fn flush_all(&mut self, _out: &mut Vec<Message>) {}
}
