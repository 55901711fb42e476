//! A transport as a collector: each event's JSON body becomes one message
//! of a [`Producer`], handed over by a task that owns the producer. Any
//! transport behind the `Producer` trait works the same way. An event's
//! result is ok once the producer has taken its message (for the file queue:
//! written; committed within `commitEveryMs`), so a consumer is not held for
//! the commit.

use std::sync::Arc;
use std::time::Duration;

use super::event::{BoxFuture, Collector, Event, Reply, Value};
use crate::config::{QueueConfig, TransportConfig};
use crate::error::{Error, Result};
use crate::queue::ScouterQueue;

/// How long the transport may take to settle at teardown; what it has not
/// delivered by then is in its spill file queue.
const FLUSH_TIME: Duration = Duration::from_secs(10);

/// A one-alias queue of JSON rows on the transport: the same bus and worker
/// as every ScouterQueue, so the memory budget, spill and replay apply.
pub struct TransportCollector {
    queue: Arc<ScouterQueue>,
}

impl TransportCollector {
    /// Starts the transport named by `config`; its queue or topic is named
    /// after the collector's `key`. Must be called within the runtime.
    pub async fn start(key: &str, config: &TransportConfig) -> Result<TransportCollector> {
        // Background errors are counted in the queue's report; records are
        // spilled and replayed, not lost.
        let queue = ScouterQueue::start(QueueConfig::json_rows(key, config.clone()), Arc::new(|_| {})).await?;
        Ok(TransportCollector { queue: Arc::new(queue) })
    }
}

impl Collector for TransportCollector {
    /// Ok once the queue has taken the body: from there it is delivered, or
    /// spilled and replayed, as any record of a ScouterQueue.
    fn handle(&self, event: Arc<Event>, reply: Reply) {
        let taken = match &event.body {
            // One body is one row: the queue reads its input line by line.
            Some(body) if !body.contains('\n') => self.queue.bus(0).and_then(|bus| bus.push_lines(body.clone(), 1)),
            Some(_) => Err(Error::InvalidPayload("a transport collector takes JSON on one line".into())),
            None => Err(Error::InvalidPayload("a transport collector needs the payload as JSON".into())),
        };
        reply.send(taken.map(|()| Value::Empty));
    }

    fn teardown(&self) -> BoxFuture {
        let queue = self.queue.clone();
        Box::pin(async move {
            queue.shutdown(FLUSH_TIME).await;
        })
    }
}
