//! Events, the collectors that handle them, and what comes back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::router::Route;
use crate::error::Error;

/// One published payload, as collectors see it.
#[derive(Debug)]
pub struct Event {
    /// The publisher's id for the event, handed back with its results.
    pub id: u64,
    /// The payload's value as JSON, for collectors that run in Rust (a
    /// JavaScript host keeps the value itself and finds it by `id`).
    pub body: Option<String>,
}

/// What a publisher hands to the queue.
#[derive(Debug)]
pub struct NewEvent {
    pub id: u64,
    pub route: Route,
    /// For a priority queue; `None` takes the queue's default.
    pub priority: Option<f64>,
    pub body: Option<String>,
}

/// A successful result's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (a transport that took the payload).
    Empty,
    /// Kept by the host that ran the handler (JavaScript keeps its values).
    Held,
    /// JSON text.
    Json(String),
}

/// One collector's result for one event.
pub type Outcome = Result<Value, Error>;

/// The result of one collector the event reached.
#[derive(Debug)]
pub struct CollectorResult {
    /// The collector's index in the queue's directory.
    pub collector: usize,
    pub outcome: Outcome,
}

/// An event's results, one per collector reached, when the last one is in.
#[derive(Debug)]
pub struct Completed {
    pub id: u64,
    pub results: Vec<CollectorResult>,
    /// Time in the queue before a consumer took it.
    pub wait_time: Duration,
    /// Time from a consumer taking it to its last result (0 if never taken).
    pub service_time: Duration,
}

/// Receives every completed event; called from consumer threads, must not block.
pub type CompletionListener = Arc<dyn Fn(Completed) + Send + Sync>;

/// Where a collector sends its outcome for one event. Dropping it unanswered
/// gives the event an error result rather than leaving it waiting.
#[derive(Debug)]
pub struct Reply(oneshot::Sender<Outcome>);

impl Reply {
    pub(crate) fn new() -> (Reply, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        (Reply(tx), rx)
    }

    /// Sends the outcome; a consumer that stopped waiting (shutdown
    /// deadline) is not an error.
    pub fn send(self, outcome: Outcome) {
        let _ = self.0.send(outcome);
    }
}

pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Something that handles events. A consumer calls `handle` and waits for
/// the reply, so `handle` only starts the work and returns at once.
pub trait Collector: Send + Sync + 'static {
    fn handle(&self, event: Arc<Event>, reply: Reply);

    /// Called once at shutdown, after the consumers are done.
    fn teardown(&self) -> BoxFuture {
        Box::pin(async {})
    }
}

/// A collector and how it is reached.
pub struct Registration {
    pub key: String,
    pub topics: Vec<String>,
    pub collector: Arc<dyn Collector>,
}
