//! A transport as a collector: each event's JSON body becomes one message
//! of a [`Producer`], handed over by a task that owns the producer. Any
//! transport behind the `Producer` trait works the same way. An event's
//! result is ok once the producer has taken its message (for the file queue:
//! written; committed within `commitEveryMs`), so a consumer is not held for
//! the commit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use super::event::{BoxFuture, Collector, Event, Reply, Value};
use crate::aggregate::Message;
use crate::config::TransportConfig;
use crate::error::{Error, Result};
use crate::transport::{FileProducer, Producer};

/// Events handed to the producer in one `publish` call, at most.
const MAX_BATCH: usize = 1024;
/// How long the producer may take to flush at teardown.
const FLUSH_TIME: Duration = Duration::from_secs(10);

type Job = (Arc<Event>, Reply);

pub struct TransportCollector {
    /// Dropped at teardown, which ends the task once it has drained.
    jobs: Mutex<Option<UnboundedSender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl TransportCollector {
    /// Starts the transport named by `config`; its queue or topic is named
    /// after the collector's `key`. Must be called within the runtime.
    pub fn start(key: &str, config: &TransportConfig) -> Result<TransportCollector> {
        let start_failed = |e: Error| Error::StartFailed {
            alias: key.to_owned(),
            reason: e.to_string(),
        };
        match config {
            TransportConfig::File(file) => {
                let producer = file.queue(key).and_then(FileProducer::new).map_err(start_failed)?;
                Ok(TransportCollector::spawn(producer))
            }
        }
    }

    pub fn spawn<P: Producer>(producer: P) -> TransportCollector {
        let (tx, rx) = unbounded_channel();
        TransportCollector {
            jobs: Mutex::new(Some(tx)),
            task: Mutex::new(Some(tokio::spawn(run(producer, rx)))),
        }
    }
}

impl Collector for TransportCollector {
    fn handle(&self, event: Arc<Event>, reply: Reply) {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.as_ref() {
            Some(tx) => {
                if let Err(refused) = tx.send((event, reply)) {
                    refused
                        .0
                         .1
                        .send(Err(Error::Transport("the transport has stopped".into())));
                }
            }
            None => reply.send(Err(Error::QueueClosed)),
        }
    }

    fn teardown(&self) -> BoxFuture {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(async move {
            if let Some(task) = task {
                let _ = task.await;
            }
        })
    }
}

async fn run<P: Producer>(mut producer: P, mut jobs: UnboundedReceiver<Job>) {
    loop {
        tokio::select! {
            job = jobs.recv() => match job {
                Some(first) => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match jobs.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    deliver(&mut producer, batch).await;
                }
                None => break,
            },
            // Timed work (a commit, a roll). A failure here concerns rows whose
            // events already have their ok result (written, not yet committed):
            // it cannot be reported per event, see the README.
            _ = sleep_until(producer.next_due()) => drop(producer.tick(Instant::now()).await),
        }
    }
    producer.flush(Instant::now() + FLUSH_TIME).await;
}

/// Publishes the bodies; each event's result is whether the transport took it.
async fn deliver<P: Producer>(producer: &mut P, batch: Vec<Job>) {
    let mut messages = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for (event, reply) in batch {
        match &event.body {
            Some(body) => {
                messages.push(Message {
                    payload: body.clone(),
                    items: 1,
                });
                replies.push(reply);
            }
            None => reply.send(Err(Error::InvalidPayload(
                "a transport collector needs the payload as JSON".into(),
            ))),
        }
    }
    if messages.is_empty() {
        return;
    }
    let delivery = producer.publish(messages).await;
    let failure = delivery.error.map(|e| e.to_string());
    for reply in replies {
        reply.send(match &failure {
            Some(message) => Err(Error::Transport(message.clone())),
            None => Ok(Value::Empty),
        });
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
