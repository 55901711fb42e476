//! Kafka through the `rdkafka` crate (librdkafka, built from source and linked
//! statically). One librdkafka client per queue, shared by its aliases: one
//! set of connections and threads, batching by librdkafka's linger. A message
//! counts as published only when its delivery report says so; a report of
//! failure sends it back to the worker as undelivered (spilled, replayed
//! later), except for refusals no retry can mend (too large, invalid), which
//! count as failed.
//!
//! While the brokers are down or slow librdkafka keeps retrying the messages
//! it holds (up to `message.timeout.ms`); once the oldest has waited
//! [`STALLED_AFTER`], or past `max_in_flight` or the alias's budget, the
//! producer takes no more, so items wait in memory within the budget, then spill.
//! librdkafka purges what it still holds when the client is dropped, so a
//! flush hands back everything unacknowledged before that can happen.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::ClientContext;

use super::{Delivery, Producer};
use crate::aggregate::Message;
use crate::config::KafkaSettings;
use crate::error::{Error, Result};

/// How often the worker collects delivery reports while messages are in flight.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// Between metadata requests at start while the topic is being created.
const METADATA_BACKOFF: Duration = Duration::from_millis(250);
/// The longest one metadata request at start waits, so a refused login is
/// told at once rather than when the whole timeout has passed (librdkafka
/// keeps connecting in between).
const METADATA_SLICE: Duration = Duration::from_secs(1);
/// How long a topic may be reported unknown at start before it is taken
/// as missing: a broker that creates topics on first use answers "unknown"
/// while the creation is under way.
const UNKNOWN_TOPIC_GRACE: Duration = Duration::from_secs(2);
/// A message unacknowledged this long means the brokers are down or slow:
/// the producer takes no more (nor replays) until acknowledgements come
/// again, and with librdkafka reporting an error, it is an outage worth
/// telling the application about.
const STALLED_AFTER: Duration = Duration::from_secs(1);

/// librdkafka's last error (a broker down, a failed connect, a refused
/// login), which it reports on its own threads: for start errors and outage
/// reports.
#[derive(Clone, Default)]
struct LastError(Arc<Mutex<Option<(Option<RDKafkaErrorCode>, String)>>>);

impl LastError {
    fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|(_, text)| text.clone())
    }

    /// Whether the brokers refused this client's credentials: no retry helps.
    fn is_refused_login(&self) -> bool {
        let last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        matches!(last.as_ref(), Some((Some(RDKafkaErrorCode::Authentication), _)))
    }

    fn set(&self, error: Option<(Option<RDKafkaErrorCode>, String)>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }
}

/// Where librdkafka's error callbacks land.
struct Context(LastError);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.set(Some((error.rdkafka_error_code(), format!("{error} ({reason})"))));
    }
}

/// The librdkafka client of one queue, shared by its aliases.
pub struct KafkaClient {
    producer: FutureProducer<Context>,
    last_error: LastError,
    topic: String,
    brokers: String,
}

impl KafkaClient {
    /// Creates the client and asks the brokers for the topic's metadata,
    /// `max_retries` more times if they do not answer: a start against
    /// brokers nobody can reach, credentials they refuse, or a topic that
    /// cannot be written (an invalid name, missing where brokers do not
    /// create topics, not authorized), fails with the reason.
    pub async fn connect(settings: KafkaSettings) -> Result<Arc<KafkaClient>> {
        let mut config = ClientConfig::new();
        for (name, value) in &settings.client {
            config.set(name, value);
        }
        let last_error = LastError::default();
        let producer: FutureProducer<Context> = config
            .create_with_context(Context(last_error.clone()))
            .map_err(|e| Error::InvalidConfig(format!("librdkafka refused the configuration: {e}")))?;
        let brokers = settings.client.get("bootstrap.servers").cloned().unwrap_or_default();
        let client = Arc::new(KafkaClient { producer, last_error, topic: settings.topic, brokers });
        let mut attempt = 0;
        loop {
            let checked = client.clone();
            let timeout = settings.connect_timeout;
            let outcome = tokio::task::spawn_blocking(move || checked.check_topic(timeout))
                .await
                .map_err(|e| Error::Transport(format!("the Kafka metadata request failed: {e}")))?;
            match outcome {
                TopicCheck::Writable => return Ok(client),
                TopicCheck::Refused(reason) => return Err(Error::Transport(reason)),
                TopicCheck::NotYet(_) if attempt < settings.max_retries => attempt += 1,
                TopicCheck::NotYet(reason) => return Err(Error::Transport(reason)),
            }
        }
    }

    /// Metadata requests for the topic until it is writable, refused, or
    /// `timeout` has passed (no answer, or still being created). Blocks.
    fn check_topic(&self, timeout: Duration) -> TopicCheck {
        let deadline = Instant::now() + timeout;
        let mut unknown_since = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).min(METADATA_SLICE);
            let check = match self.producer.client().fetch_metadata(Some(&self.topic), left) {
                Err(error) if self.last_error.is_refused_login() => {
                    let cause = self.last_error.get().unwrap_or_else(|| error.to_string());
                    TopicCheck::Refused(format!("Kafka at {}: the credentials were refused: {cause}", self.brokers))
                }
                Err(error) => {
                    let cause = self.last_error.get().unwrap_or_else(|| error.to_string());
                    TopicCheck::NotYet(format!("Kafka at {}: no broker answered within {timeout:?}: {cause}", self.brokers))
                }
                Ok(metadata) => match metadata.topics().iter().find(|t| t.name() == self.topic) {
                    None => TopicCheck::NotYet(format!("Kafka at {}: the metadata did not list topic '{}'", self.brokers, self.topic)),
                    Some(topic) => match topic.error().map(RDKafkaErrorCode::from) {
                        None if !topic.partitions().is_empty() => TopicCheck::Writable,
                        None | Some(RDKafkaErrorCode::LeaderNotAvailable) => {
                            TopicCheck::NotYet(format!("Kafka at {}: topic '{}' has no leader yet", self.brokers, self.topic))
                        }
                        Some(code @ (RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic)) => {
                            let since = *unknown_since.get_or_insert_with(Instant::now);
                            if since.elapsed() < UNKNOWN_TOPIC_GRACE && Instant::now() + METADATA_BACKOFF < deadline {
                                TopicCheck::NotYet(self.topic_refusal(code))
                            } else {
                                TopicCheck::Refused(self.topic_refusal(code))
                            }
                        }
                        Some(code) => TopicCheck::Refused(self.topic_refusal(code)),
                    },
                },
            };
            match check {
                TopicCheck::NotYet(_) if Instant::now() + METADATA_BACKOFF < deadline => std::thread::sleep(METADATA_BACKOFF),
                TopicCheck::NotYet(_) if Instant::now() < deadline => {}
                check => return check,
            }
        }
    }

    fn topic_refusal(&self, code: RDKafkaErrorCode) -> String {
        let why = match code {
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                "does not exist, and is not created on first use (the broker's auto.create.topics.enable, or allow.auto.create.topics in config, is off): create it first"
            }
            RDKafkaErrorCode::InvalidTopic => "is not a valid topic name (at most 249 of a-z, A-Z, 0-9, '.', '_', '-')",
            RDKafkaErrorCode::TopicAuthorizationFailed => "cannot be written: this client is not authorized",
            _ => "cannot be written",
        };
        format!("Kafka at {}: topic '{}' {why} ({code})", self.brokers, self.topic)
    }
}

impl Drop for KafkaClient {
    /// Dropping librdkafka purges its queue, flushes for up to 500 ms and
    /// joins its threads: done off the runtime's threads. Every message has
    /// been acknowledged or handed back (spilled) by then.
    fn drop(&mut self) {
        let last = self.producer.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn_blocking(move || drop(last));
        }
    }
}

enum TopicCheck {
    Writable,
    /// No answer, or the topic is still being created: worth asking again.
    NotYet(String),
    /// The brokers answered no.
    Refused(String),
}

/// A delivery report: the broker's offset or librdkafka's error, or
/// cancelled if the client went first.
type Report = <DeliveryFuture as std::future::Future>::Output;

/// A message librdkafka holds, and its delivery report to come.
struct InFlight {
    message: Message,
    report: DeliveryFuture,
    sent_at: Instant,
}

/// One alias's messages to the shared client.
pub struct KafkaProducer {
    client: Arc<KafkaClient>,
    key: Option<String>,
    max_in_flight: usize,
    /// The alias's memory budget: past it (as `held_bytes` counts) the
    /// producer takes no more. Items waiting in the channel are counted
    /// before they are encoded, so without this cap a channel full of
    /// small items could grow many times over once taken.
    max_held_bytes: u64,
    /// Handed to librdkafka, in order.
    in_flight: VecDeque<InFlight>,
    in_flight_bytes: u64,
    /// Not yet taken by librdkafka (its queue was full), in order.
    waiting: VecDeque<Message>,
    waiting_bytes: u64,
    /// Told once per outage, not per message.
    outage_reported: bool,
}

impl KafkaProducer {
    pub fn new(client: Arc<KafkaClient>, key: Option<String>, max_in_flight: usize, max_held_bytes: u64) -> KafkaProducer {
        KafkaProducer {
            client,
            key,
            max_in_flight,
            max_held_bytes,
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            outage_reported: false,
        }
    }

    /// Hands waiting messages to librdkafka, in order, until its queue is full.
    fn send_waiting(&mut self, delivery: &mut Delivery) {
        while let Some(message) = self.waiting.pop_front() {
            self.waiting_bytes -= message.payload.len() as u64;
            if let Some(message) = self.send(message, delivery) {
                self.waiting_bytes += message.payload.len() as u64;
                self.waiting.push_front(message);
                return;
            }
        }
    }

    /// Gives one message to librdkafka; returns it if librdkafka's queue is full.
    fn send(&mut self, message: Message, delivery: &mut Delivery) -> Option<Message> {
        let mut record = FutureRecord::<str, str>::to(&self.client.topic).payload(&message.payload);
        if let Some(key) = &self.key {
            record = record.key(key);
        }
        match self.client.producer.send_result(record) {
            Ok(report) => {
                self.in_flight_bytes += message.payload.len() as u64;
                self.in_flight.push_back(InFlight { message, report, sent_at: Instant::now() });
                None
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => Some(message),
            Err((error, _)) => {
                self.undelivered(message, error, delivery);
                None
            }
        }
    }

    /// Settles the delivery reports that have arrived, in order, without waiting.
    fn collect_ready(&mut self, delivery: &mut Delivery) {
        while let Some(InFlight { report, .. }) = self.in_flight.front_mut() {
            let Some(outcome) = report.now_or_never() else { break };
            self.settle_front(outcome, delivery);
        }
    }

    fn settle_front(&mut self, outcome: Report, delivery: &mut Delivery) {
        let Some(InFlight { message, .. }) = self.in_flight.pop_front() else { return };
        self.in_flight_bytes -= message.payload.len() as u64;
        match outcome {
            Ok(Ok(_)) => {
                delivery.published += message.items;
                if self.outage_reported {
                    self.outage_reported = false;
                    self.client.last_error.set(None);
                }
            }
            Ok(Err((error, _))) => self.undelivered(message, error, delivery),
            // The client went before its report: whether the broker has the
            // message is unknown, so it is spilled (at least once).
            Err(_) => delivery.undelivered.push(message),
        }
    }

    /// A message librdkafka could not deliver: failed if the broker can never
    /// take it, else handed back to be spilled and sent again.
    fn undelivered(&mut self, message: Message, error: KafkaError, delivery: &mut Delivery) {
        let reason = format!("Kafka at {}, topic '{}': {error}", self.client.brokers, self.client.topic);
        if is_refusal(&error) {
            delivery.failed += message.items;
            delivery.rejected += 1;
            delivery.error.get_or_insert(Error::Transport(reason));
        } else {
            delivery.undelivered.push(message);
            if !std::mem::replace(&mut self.outage_reported, true) {
                delivery.error.get_or_insert(Error::Transport(reason));
            }
        }
    }

    /// How long the oldest unacknowledged message has waited.
    fn waited(&self) -> Duration {
        self.in_flight.front().map(|f| f.sent_at.elapsed()).unwrap_or_default()
    }

    /// librdkafka's own report of brokers going down, once per outage.
    fn report_outage(&mut self, delivery: &mut Delivery) {
        let waited = self.waited();
        if self.outage_reported || waited < STALLED_AFTER {
            return;
        }
        if let Some(cause) = self.client.last_error.get() {
            self.outage_reported = true;
            delivery.error.get_or_insert(Error::Transport(format!(
                "Kafka at {}: no acknowledgement for {waited:.1?}; librdkafka reports: {cause}; records wait in memory, then spill, until it is back",
                self.client.brokers
            )));
        }
    }
}

/// Refusals of the message itself, which no retry mends.
fn is_refusal(error: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        error.rdkafka_error_code(),
        Some(MessageSizeTooLarge | InvalidMessageSize | InvalidMessage | InvalidRecord | MessageBatchTooLarge | InvalidArgument)
    )
}

impl Producer for KafkaProducer {
    async fn publish(&mut self, messages: Vec<Message>) -> Delivery {
        let mut delivery = Delivery::default();
        for message in messages {
            if !self.waiting.is_empty() {
                self.waiting_bytes += message.payload.len() as u64;
                self.waiting.push_back(message);
            } else if let Some(message) = self.send(message, &mut delivery) {
                self.waiting_bytes += message.payload.len() as u64;
                self.waiting.push_back(message);
            }
        }
        self.collect_ready(&mut delivery);
        delivery
    }

    fn accepting(&self) -> bool {
        self.waiting.is_empty()
            && self.in_flight.len() < self.max_in_flight
            && self.held_bytes() < self.max_held_bytes
            && self.waited() < STALLED_AFTER
    }

    /// librdkafka holds a copy of every message in flight, besides ours.
    fn held_bytes(&self) -> u64 {
        2 * self.in_flight_bytes + self.waiting_bytes
    }

    fn next_due(&self) -> Option<Instant> {
        (!self.in_flight.is_empty() || !self.waiting.is_empty()).then(|| Instant::now() + POLL_EVERY)
    }

    async fn tick(&mut self, _now: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        self.collect_ready(&mut delivery);
        self.send_waiting(&mut delivery);
        self.report_outage(&mut delivery);
        delivery
    }

    async fn flush(&mut self, deadline: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        loop {
            self.send_waiting(&mut delivery);
            // Woken early to tell of an outage while waiting, not only once the wait is over.
            let look_again = match self.waited() {
                _ if self.outage_reported => deadline,
                waited if waited < STALLED_AFTER => Instant::now() + (STALLED_AFTER - waited),
                _ => Instant::now() + 5 * POLL_EVERY,
            };
            let Some(InFlight { report, .. }) = self.in_flight.front_mut() else {
                if self.waiting.is_empty() {
                    break;
                }
                // librdkafka's queue is full of other aliases' messages.
                if Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(POLL_EVERY).await;
                continue;
            };
            match tokio::time::timeout_at(deadline.min(look_again).into(), report).await {
                Ok(outcome) => {
                    self.settle_front(outcome, &mut delivery);
                    self.collect_ready(&mut delivery);
                }
                Err(_) if Instant::now() < deadline => self.report_outage(&mut delivery),
                Err(_) => break,
            }
        }
        // The deadline passed: what is unacknowledged goes back, to be spilled.
        // librdkafka may still deliver some of it: sent again later, at least once.
        self.collect_ready(&mut delivery);
        self.report_outage(&mut delivery);
        delivery.undelivered.extend(self.in_flight.drain(..).map(|f| f.message));
        delivery.undelivered.extend(self.waiting.drain(..));
        (self.in_flight_bytes, self.waiting_bytes) = (0, 0);
        delivery
    }
}
