//! QueueBus: the insert side of one alias. It accounts for the bytes waiting
//! in memory and sends each batch of items to the alias's worker, or past the
//! memory budget to its spill worker.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use crate::config::OverflowPolicy;
use crate::encoding::{decode_item, ItemKind};
use crate::error::{Error, Result};
use crate::record::{timestamp, Feature, FloatFeature, IntFeature, Item};
use crate::report::Counters;

/// The kind of a value in a bound schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Int,
    Float,
}

/// Feature names fixed once, so inserts carry only numbers.
#[derive(Debug)]
pub struct Schema {
    pub fields: Vec<(String, ValueKind)>,
}

/// What a worker receives.
#[derive(Debug)]
pub enum Input {
    /// Items as inserted, not yet decoded.
    Items(Batch),
    /// Messages another worker could not deliver (only a spill worker gets these).
    Messages(Vec<crate::aggregate::Message>),
}

/// Items that crossed from JavaScript in one call.
#[derive(Debug)]
pub struct Batch {
    pub payload: Payload,
    pub count: u64,
    pub bytes: u64,
    /// When the batch was inserted, in Scouter's timestamp text.
    pub inserted_at: String,
}

#[derive(Debug)]
pub enum Payload {
    /// One item per line, in the insert encoding (see `encoding`).
    Lines(String),
    /// `count` rows of `schema.fields.len()` numbers.
    Values { schema: Arc<Schema>, values: Vec<f64> },
}

impl Batch {
    /// Decodes every item, calling `each` with it or with why it is bad.
    pub fn decode(&self, kind: ItemKind, mut each: impl FnMut(Result<Item, String>)) {
        match &self.payload {
            Payload::Lines(text) => text.lines().for_each(|line| each(decode_item(kind, line))),
            Payload::Values { schema, values } => {
                for row in values.chunks_exact(schema.fields.len().max(1)) {
                    let features = schema
                        .fields
                        .iter()
                        .zip(row)
                        .map(|((name, kind), value)| match kind {
                            ValueKind::Int => Feature::Int(IntFeature { name: name.clone(), value: *value as i64 }),
                            ValueKind::Float => Feature::Float(FloatFeature { name: name.clone(), value: *value }),
                        })
                        .collect();
                    each(Ok(Item::Features(features)));
                }
            }
        }
    }
}

pub struct QueueBus {
    pub alias: String,
    pub kind: ItemKind,
    pub counters: Arc<Counters>,
    budget_bytes: u64,
    overflow: OverflowPolicy,
    /// `None` once shutdown has begun: the worker's channel then closes
    /// when it is drained, which is how the worker knows to finish.
    senders: Mutex<Option<Senders>>,
    schemas: Mutex<Vec<Arc<Schema>>>,
}

struct Senders {
    worker: UnboundedSender<Input>,
    spill: UnboundedSender<Input>,
}

impl QueueBus {
    pub(crate) fn new(
        alias: String,
        kind: ItemKind,
        counters: Arc<Counters>,
        budget_bytes: u64,
        overflow: OverflowPolicy,
        worker: UnboundedSender<Input>,
        spill: UnboundedSender<Input>,
    ) -> Self {
        QueueBus {
            alias,
            kind,
            counters,
            budget_bytes,
            overflow,
            senders: Mutex::new(Some(Senders { worker, spill })),
            schemas: Mutex::new(Vec::new()),
        }
    }

    /// Queues items encoded one per line. Never blocks on I/O.
    pub fn push_lines(&self, lines: String, count: u64) -> Result<()> {
        let bytes = lines.len() as u64;
        self.push(Payload::Lines(lines), count, bytes)
    }

    /// Queues `count` rows of numbers for a schema from [`QueueBus::bind`].
    pub fn push_values(&self, schema_id: u32, values: Vec<f64>, count: u64) -> Result<()> {
        let schema = self
            .schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(schema_id as usize)
            .cloned()
            .ok_or_else(|| self.invalid(format!("no bound schema {schema_id}")))?;
        if values.len() as u64 != count * schema.fields.len() as u64 {
            return Err(self.invalid(format!(
                "{count} rows of {} values expected, {} values given",
                schema.fields.len(),
                values.len()
            )));
        }
        let bytes = (values.len() * std::mem::size_of::<f64>()) as u64;
        self.push(Payload::Values { schema, values }, count, bytes)
    }

    /// Fixes feature names and kinds for the numeric fast path.
    pub fn bind(&self, fields: Vec<(String, ValueKind)>) -> Result<u32> {
        if self.kind != ItemKind::Features {
            return Err(self.invalid("only feature queues can be bound".into()));
        }
        if fields.is_empty() {
            return Err(self.invalid("a bound schema needs at least one field".into()));
        }
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        schemas.push(Arc::new(Schema { fields }));
        Ok((schemas.len() - 1) as u32)
    }

    fn push(&self, payload: Payload, count: u64, bytes: u64) -> Result<()> {
        let senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        let senders = senders.as_ref().ok_or(Error::QueueClosed)?;
        let batch = Input::Items(Batch {
            payload,
            count,
            bytes,
            inserted_at: timestamp(Utc::now()),
        });
        let within_budget = self.counters.queued_bytes.load(Relaxed) + bytes <= self.budget_bytes;
        let sent = if within_budget {
            self.counters.queued_bytes.fetch_add(bytes, Relaxed);
            let sent = senders.worker.send(batch).is_ok();
            if !sent {
                self.counters.queued_bytes.fetch_sub(bytes, Relaxed);
            }
            sent
        } else {
            match self.overflow {
                OverflowPolicy::Spill => senders.spill.send(batch).is_ok(),
                OverflowPolicy::Drop => {
                    Counters::add(&self.counters.dropped, count);
                    true
                }
            }
        };
        if !sent {
            return Err(self.stopped());
        }
        Counters::add(&self.counters.inserted, count);
        Ok(())
    }

    /// Stops intake: later pushes fail with `ERR_QUEUE_CLOSED`.
    pub(crate) fn close(&self) {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// A worker ends only at shutdown, after intake closed; if one has
    /// ended anyway, the items are refused rather than lost unseen.
    fn stopped(&self) -> Error {
        Error::StartFailed {
            alias: self.alias.clone(),
            reason: "its worker has stopped".into(),
        }
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidItem {
            alias: self.alias.clone(),
            reason,
        }
    }
}
