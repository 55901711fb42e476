//! A plain file queue's aggregator: each JSON row is published as it is.

use super::{Aggregator, Message};
use crate::record::Item;

pub struct PassthroughAggregator;

impl Aggregator for PassthroughAggregator {
    fn add(&mut self, item: Item, _inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String> {
        match item {
            Item::Json(payload) => {
                out.push(Message { payload, items: 1 });
                Ok(())
            }
            _ => Err("a plain file queue takes JSON rows only".into()),
        }
    }
}
