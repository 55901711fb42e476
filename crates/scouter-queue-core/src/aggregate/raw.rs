//! No aggregation: every item becomes one `RawRecord` message.

use super::{Aggregator, Message};
use crate::record::{EntityType, Item, QueueIdentity, RawRecord};

pub struct RawAggregator {
    identity: QueueIdentity,
}

impl RawAggregator {
    pub fn new(identity: QueueIdentity) -> Self {
        RawAggregator { identity }
    }
}

impl Aggregator for RawAggregator {
    fn add(&mut self, item: Item, inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String> {
        let QueueIdentity { space, name, version, uid } = &self.identity;
        let (entity_type, features, metrics) = match &item {
            Item::Features(f) => (EntityType::Feature, Some(f.as_slice()), None),
            Item::Metrics(m) => (EntityType::Metric, None, Some(m.as_slice())),
            Item::Json(_) => return Err("a JSON row cannot be a record of a profile's queue".into()),
        };
        let record = RawRecord {
            created_at: inserted_at,
            space,
            name,
            version,
            uid,
            entity_type,
            features,
            metrics,
        };
        let payload = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        out.push(Message { payload, items: 1 });
        Ok(())
    }
}
