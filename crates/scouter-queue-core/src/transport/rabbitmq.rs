//! RabbitMQ through `lapin`, with publisher confirms: each message is
//! persistent, many are in flight at once, and a message counts as published
//! only when the broker acknowledges it (a nack is a failure). When the
//! connection is lost, the unconfirmed messages come back as undelivered (so
//! they are spilled: at least once), and the producer reconnects with backoff.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::future::{join_all, FutureExt};
use futures::stream::{FuturesOrdered, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};

use super::{Delivery, Producer};
use crate::aggregate::Message;
use crate::config::RabbitMqSettings;
use crate::error::{Error, Result};

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

type Confirm = Pin<Box<dyn Future<Output = std::result::Result<Confirmation, lapin::Error>> + Send>>;

struct Link {
    // Kept open for the channel's sake; closed when dropped.
    _connection: Connection,
    channel: Channel,
}

pub struct RabbitMqProducer {
    config: RabbitMqSettings,
    link: Option<Link>,
    /// Confirms in publish order, and beside them the messages they confirm,
    /// in the same order: what is unconfirmed can always be spilled.
    confirms: FuturesOrdered<Confirm>,
    unconfirmed: VecDeque<Message>,
    in_flight_bytes: u64,
    backoff: Duration,
    next_connect: Instant,
    /// Told once per outage, not per message.
    outage_reported: bool,
}

impl RabbitMqProducer {
    /// Connects and declares the queue, retrying `max_retries` times: a start
    /// against a broker that is unreachable or refuses the credentials fails
    /// with the reason.
    pub async fn connect(config: RabbitMqSettings) -> Result<Self> {
        let mut attempt = 0;
        let link = loop {
            match open_link(&config).await {
                Ok(link) => break link,
                Err(e) if attempt >= config.max_retries || is_refusal(&e) => return Err(e),
                Err(_) => {
                    tokio::time::sleep(FIRST_BACKOFF.saturating_mul(1 << attempt.min(16)).min(MAX_BACKOFF)).await;
                    attempt += 1;
                }
            }
        };
        Ok(RabbitMqProducer {
            config,
            link: Some(link),
            confirms: FuturesOrdered::new(),
            unconfirmed: VecDeque::new(),
            in_flight_bytes: 0,
            backoff: FIRST_BACKOFF,
            next_connect: Instant::now(),
            outage_reported: false,
        })
    }

    fn routing_key(&self) -> &str {
        &self.config.routing_key
    }

    /// Collects the confirms that have arrived, without waiting.
    fn collect_ready(&mut self, delivery: &mut Delivery) {
        while let Some(Some(confirmation)) = self.confirms.next().now_or_never() {
            self.settle(confirmation, delivery);
        }
    }

    /// Settles the oldest unconfirmed message with its confirmation.
    fn settle(&mut self, confirmation: std::result::Result<Confirmation, lapin::Error>, delivery: &mut Delivery) {
        let Some(message) = self.unconfirmed.pop_front() else { return };
        self.in_flight_bytes -= message.payload.len() as u64;
        match confirmation {
            Ok(Confirmation::Ack(_)) | Ok(Confirmation::NotRequested) => delivery.published += message.items,
            Ok(Confirmation::Nack(_)) => {
                delivery.failed += message.items;
                delivery.rejected += 1;
                delivery.error.get_or_insert(Error::Transport("RabbitMQ refused a message (nack)".into()));
            }
            // The connection went before the confirm: the broker may or may
            // not have the message; it is spilled and sent again (at least once).
            Err(_) => {
                self.lose_link();
                delivery.undelivered.push(message);
            }
        }
    }

    fn lose_link(&mut self) {
        if self.link.take().is_some() {
            self.next_connect = Instant::now() + self.backoff;
        }
    }

    async fn reconnect_if_due(&mut self, delivery: &mut Delivery) {
        if self.link.is_some() || Instant::now() < self.next_connect {
            return;
        }
        match open_link(&self.config).await {
            Ok(link) => {
                self.link = Some(link);
                self.backoff = FIRST_BACKOFF;
                self.outage_reported = false;
            }
            Err(e) => {
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                self.next_connect = Instant::now() + self.backoff;
                if !std::mem::replace(&mut self.outage_reported, true) {
                    delivery.error.get_or_insert(e);
                }
            }
        }
    }
}

impl Producer for RabbitMqProducer {
    async fn publish(&mut self, messages: Vec<Message>) -> Delivery {
        let mut delivery = Delivery::default();
        let Some(link) = &self.link else {
            delivery.undelivered = messages;
            return delivery;
        };
        let channel = link.channel.clone();
        let properties = BasicProperties::default().with_delivery_mode(2);
        let (exchange, routing_key) = (self.config.exchange.as_str(), self.routing_key());
        // Every publish is started before any is awaited: frames go out in
        // order without a round trip each, and confirms are awaited later.
        let sent = join_all(messages.iter().map(|m| {
            channel.basic_publish(exchange.into(), routing_key.into(), BasicPublishOptions::default(), m.payload.as_bytes(), properties.clone())
        }))
        .await;
        for (message, sent) in messages.into_iter().zip(sent) {
            match sent {
                Ok(confirm) => {
                    self.in_flight_bytes += message.payload.len() as u64;
                    self.unconfirmed.push_back(message);
                    self.confirms.push_back(Box::pin(confirm) as Confirm);
                }
                Err(_) => {
                    self.lose_link();
                    delivery.undelivered.push(message);
                }
            }
        }
        self.collect_ready(&mut delivery);
        delivery
    }

    fn accepting(&self) -> bool {
        self.link.is_some() && self.unconfirmed.len() < self.config.max_in_flight
    }

    fn held_bytes(&self) -> u64 {
        self.in_flight_bytes
    }

    fn next_due(&self) -> Option<Instant> {
        if self.link.is_none() {
            Some(self.next_connect)
        } else if !self.unconfirmed.is_empty() {
            Some(Instant::now() + Duration::from_millis(20))
        } else {
            None
        }
    }

    async fn tick(&mut self, _now: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        self.collect_ready(&mut delivery);
        self.reconnect_if_due(&mut delivery).await;
        delivery
    }

    async fn flush(&mut self, deadline: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        loop {
            match tokio::time::timeout_at(deadline.into(), self.confirms.next()).await {
                Ok(Some(confirmation)) => self.settle(confirmation, &mut delivery),
                Ok(None) => break,
                // The deadline passed: every message still unconfirmed is
                // spilled (the broker may have some: at least once).
                Err(_) => {
                    self.collect_ready(&mut delivery);
                    self.confirms = FuturesOrdered::new();
                    self.in_flight_bytes = 0;
                    delivery.undelivered.extend(self.unconfirmed.drain(..));
                    break;
                }
            }
        }
        delivery
    }
}

async fn open_link(config: &RabbitMqSettings) -> Result<Link> {
    let timeout = config.connect_timeout;
    let work = async {
        let connection = Connection::connect(&config.address, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        channel
            .queue_declare(config.queue.as_str().into(), QueueDeclareOptions { durable: true, ..Default::default() }, FieldTable::default())
            .await?;
        Ok::<_, lapin::Error>(Link { _connection: connection, channel })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(link)) => Ok(link),
        Ok(Err(e)) => Err(Error::Transport(format!("RabbitMQ at {}: {e}", redact(&config.address)))),
        Err(_) => Err(Error::Transport(format!("RabbitMQ at {}: no answer within {timeout:?}", redact(&config.address)))),
    }
}

/// Bad credentials or a refused declare will not get better by retrying.
fn is_refusal(error: &Error) -> bool {
    let text = error.to_string();
    text.contains("ACCESS_REFUSED") || text.contains("PRECONDITION_FAILED") || text.contains("NOT_ALLOWED")
}

/// The address without its password, for messages.
fn redact(address: &str) -> String {
    match (address.find("://"), address.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &address[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &address[..scheme + 3], &address[at..])
        }
        _ => address.to_owned(),
    }
}
