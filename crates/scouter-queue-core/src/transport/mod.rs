//! Producers deliver messages to a transport. Each transport implements
//! [`Producer`]; a queue's worker owns one and is generic over it.

mod file;
mod http;
mod kafka;
mod rabbitmq;

pub use file::FileProducer;
pub use http::{HttpClient, HttpProducer};
pub use kafka::{KafkaClient, KafkaProducer};
pub use rabbitmq::RabbitMqProducer;

use std::future::Future;
use std::time::Instant;

use crate::aggregate::Message;
use crate::error::Error;

/// What a producer call settled: items acknowledged, items lost, and
/// messages it could not deliver, which the worker spills.
#[derive(Debug, Default)]
pub struct Delivery {
    pub published: u64,
    pub failed: u64,
    /// Messages the transport refused (a nack, a 4xx): their items are in
    /// `failed`. Replayed messages carry no items, so replay counts these.
    pub rejected: u64,
    pub undelivered: Vec<Message>,
    pub error: Option<Error>,
    /// Set when the producer started (`true`) or stopped (`false`) holding back.
    pub backpressured: Option<bool>,
}

pub trait Producer: Send + 'static {
    /// Hands messages to the transport. Acknowledgements may come now or in
    /// a later call's `Delivery`.
    fn publish(&mut self, messages: Vec<Message>) -> impl Future<Output = Delivery> + Send;

    /// Whether the producer takes more now; while it does not, items wait
    /// in the channel, within the memory budget.
    fn accepting(&self) -> bool {
        true
    }

    /// Bytes of messages the producer holds and has not written or sent,
    /// counted against the alias's memory budget.
    fn held_bytes(&self) -> u64 {
        0
    }

    /// When `tick` next has work (a commit, a roll, a retry), if ever.
    fn next_due(&self) -> Option<Instant>;

    /// Does timed work and collects acknowledgements.
    fn tick(&mut self, now: Instant) -> impl Future<Output = Delivery> + Send;

    /// Waits until everything handed over is acknowledged or `deadline`
    /// passes; what is still unacknowledged comes back as undelivered.
    fn flush(&mut self, deadline: Instant) -> impl Future<Output = Delivery> + Send;
}
