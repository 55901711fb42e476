//! Collectors whose handlers run outside the runtime, on a host thread
//! (JavaScript's). Jobs and completions wait in an [`Outbox`] that wakes the
//! host once, however many items pile up before it looks: the host then
//! takes them all in one call, so a busy queue costs one call per turn of
//! the host's loop, not one per event.

use std::sync::{Arc, Mutex};

use super::event::{Collector, Event, Outcome, Reply};
use crate::error::Error;

/// Tells the host that an outbox has items. Must not block.
pub type Wake = Box<dyn Fn() + Send + Sync>;

/// Items for the host, with at most one wake-up outstanding.
pub struct Outbox<T> {
    state: Mutex<OutboxState<T>>,
    wake: Wake,
}

struct OutboxState<T> {
    items: Vec<T>,
    /// A wake-up was sent and the host has not taken everything since.
    scheduled: bool,
}

impl<T> Outbox<T> {
    pub fn new(wake: Wake) -> Outbox<T> {
        Outbox {
            state: Mutex::new(OutboxState {
                items: Vec::new(),
                scheduled: false,
            }),
            wake,
        }
    }

    pub fn push(&self, item: T) {
        let first = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.items.push(item);
            !std::mem::replace(&mut state.scheduled, true)
        };
        if first {
            (self.wake)();
        }
    }

    /// Takes up to `max` items, oldest first. If more are left, the host is
    /// woken again, so one call never carries an unbounded batch.
    pub fn take(&self, max: usize) -> Vec<T> {
        let (taken, more) = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let taken = if state.items.len() <= max {
                std::mem::take(&mut state.items)
            } else {
                state.items.drain(..max).collect()
            };
            state.scheduled = !state.items.is_empty();
            (taken, state.scheduled)
        };
        if more {
            (self.wake)();
        }
        taken
    }
}

/// One handler call for the host to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostJob {
    /// Hand it back to [`Host::settle`] with the outcome.
    pub ticket: u32,
    pub event: u64,
    /// The host's own index of the collector.
    pub collector: u32,
}

/// The jobs of every host collector of one queue, and the replies they owe.
pub struct Host {
    jobs: Outbox<HostJob>,
    replies: Mutex<Slab<Reply>>,
}

impl Host {
    pub fn new(wake: Wake) -> Arc<Host> {
        Arc::new(Host {
            jobs: Outbox::new(wake),
            replies: Mutex::new(Slab::default()),
        })
    }

    /// The collector with the host's index `collector`.
    pub fn collector(self: &Arc<Self>, collector: u32) -> HostCollector {
        HostCollector {
            host: self.clone(),
            index: collector,
        }
    }

    /// Takes up to `max` jobs, oldest first.
    pub fn take(&self, max: usize) -> Vec<HostJob> {
        self.jobs.take(max)
    }

    /// Delivers jobs' outcomes by ticket. A ticket already settled, or given
    /// up at the shutdown deadline, is ignored: its consumer has moved on.
    pub fn settle(&self, outcomes: impl IntoIterator<Item = (u32, Outcome)>) {
        let replies: Vec<_> = {
            let mut slab = self.replies.lock().unwrap_or_else(|p| p.into_inner());
            outcomes
                .into_iter()
                .filter_map(|(ticket, outcome)| Some((slab.remove(ticket)?, outcome)))
                .collect()
        };
        // Sent outside the lock: each send may wake a consumer.
        for (reply, outcome) in replies {
            reply.send(outcome);
        }
    }

    fn submit(&self, event: u64, collector: u32, reply: Reply) {
        let ticket = self.replies.lock().unwrap_or_else(|p| p.into_inner()).insert(reply);
        self.jobs.push(HostJob {
            ticket,
            event,
            collector,
        });
    }
}

/// A collector whose handler the host runs.
pub struct HostCollector {
    host: Arc<Host>,
    index: u32,
}

impl Collector for HostCollector {
    fn handle(&self, event: Arc<Event>, reply: Reply) {
        self.host.submit(event.id, self.index, reply);
    }
}

/// Replies by ticket; tickets are reused once settled, so they stay small.
struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(ticket) => {
                self.entries[ticket as usize] = Some(value);
                ticket
            }
            None => {
                self.entries.push(Some(value));
                (self.entries.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, ticket: u32) -> Option<T> {
        let value = self.entries.get_mut(ticket as usize)?.take();
        if value.is_some() {
            self.free.push(ticket);
        }
        value
    }
}

/// The outcome of a host job that failed, from the host's message.
pub fn handler_error(message: impl Into<String>) -> Outcome {
    Err(Error::Handler(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[test]
    fn one_wake_per_batch_and_again_for_what_is_left() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let outbox = Outbox::new(Box::new(move || {
            counter.fetch_add(1, Relaxed);
        }));
        for i in 0..10 {
            outbox.push(i);
        }
        assert_eq!(wakes.load(Relaxed), 1);
        assert_eq!(outbox.take(4), vec![0, 1, 2, 3]);
        assert_eq!(wakes.load(Relaxed), 2, "items are left: the host is woken again");
        assert_eq!(outbox.take(100), vec![4, 5, 6, 7, 8, 9]);
        assert_eq!(wakes.load(Relaxed), 2);
        outbox.push(10);
        assert_eq!(wakes.load(Relaxed), 3);
    }

    #[tokio::test]
    async fn jobs_settle_by_ticket_once() {
        let host = Host::new(Box::new(|| {}));
        let collector = host.collector(7);
        let (reply, rx) = Reply::new();
        collector.handle(Arc::new(Event { id: 42, body: None }), reply);
        let jobs = host.take(10);
        assert_eq!(jobs.len(), 1);
        assert_eq!((jobs[0].event, jobs[0].collector), (42, 7));
        host.settle([(jobs[0].ticket, handler_error("boom"))]);
        host.settle([(jobs[0].ticket, Ok(super::super::event::Value::Held))]);
        let outcome = rx.await.unwrap();
        assert_eq!(outcome.unwrap_err().to_string(), "boom");
    }
}
