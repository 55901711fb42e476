//! Per-alias counters, kept as atomics so the report (and later the queue
//! manager's metrics) read them without locks while workers run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Live counters of one alias. Items are counted where they end:
/// `inserted = published + spilled + dropped + failed + in flight`.
#[derive(Debug, Default)]
pub struct Counters {
    pub inserted: AtomicU64,
    /// Acknowledged by the transport (for the file queue: committed).
    pub published: AtomicU64,
    /// Written to the spill file queue instead of the transport.
    pub spilled: AtomicU64,
    /// Discarded by the user's `drop` overflow policy.
    pub dropped: AtomicU64,
    /// Lost to an error (a malformed item, a write that failed); each is reported.
    pub failed: AtomicU64,
    /// Rows sent again from the spill queue and acknowledged (items of this
    /// run that were spilled, or of earlier runs).
    pub replayed: AtomicU64,
    /// Bytes accepted by `insert` and not yet handed to the transport.
    pub queued_bytes: AtomicU64,
    /// Whether the transport holds back (file queue readers are behind).
    pub backpressured: AtomicBool,
    /// Values left out of drift aggregates (a NaN, a value outside every
    /// bin) from items that were otherwise aggregated. Not items: the
    /// equation above does not include them.
    pub skipped_values: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Relaxed);
        }
    }

    pub fn snapshot(&self, alias: &str) -> AliasReport {
        AliasReport {
            alias: alias.to_owned(),
            inserted: self.inserted.load(Relaxed),
            published: self.published.load(Relaxed),
            spilled: self.spilled.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            failed: self.failed.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            queued_bytes: self.queued_bytes.load(Relaxed),
            backpressured: self.backpressured.load(Relaxed),
            skipped_values: self.skipped_values.load(Relaxed),
        }
    }
}

/// What happened to one alias's items, at the moment it was read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AliasReport {
    pub alias: String,
    pub inserted: u64,
    pub published: u64,
    pub spilled: u64,
    pub dropped: u64,
    pub failed: u64,
    pub replayed: u64,
    pub queued_bytes: u64,
    pub backpressured: bool,
    pub skipped_values: u64,
}

/// A problem in the background, for the application's error listener.
#[derive(Debug, Clone)]
pub struct BackgroundError {
    pub alias: String,
    pub code: &'static str,
    pub message: String,
    /// How many items the problem affected (0 when none was lost).
    pub items: u64,
}

/// What a queue tells the application from the background.
#[derive(Debug, Clone)]
pub enum QueueEvent {
    Error(BackgroundError),
    /// The transport started (`true`) or stopped (`false`) holding back.
    Backpressure { alias: String, active: bool },
}

/// Receives queue events; called from worker threads, so it must not block.
pub type EventListener = std::sync::Arc<dyn Fn(QueueEvent) + Send + Sync>;
