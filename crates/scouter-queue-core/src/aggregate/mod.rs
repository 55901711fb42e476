//! Aggregators sit between a queue's channel and its producer: they turn
//! inserted items into the messages the transport carries. Profiles of the
//! three drift types aggregate as Scouter's client does (`psi`, `spc`,
//! `custom`, publishing `wire::ServerRecords`); a queue started with
//! aggregation off publishes each item as a raw record.

mod passthrough;
mod custom;
mod means;
mod psi;
mod raw;
mod spc;

pub use passthrough::PassthroughAggregator;
pub use custom::CustomAggregator;
pub use psi::PsiAggregator;
pub use raw::RawAggregator;
pub use spc::SpcAggregator;

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::profile::{DriftProfile, FeatureMap, Profile};
use crate::record::{Feature, Item};

/// One message as its transport carries it, and how many inserted items it
/// accounts for (so counters stay in items whatever the aggregation).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub payload: String,
    pub items: u64,
}

/// Turns items into messages. Called from the worker only, never concurrently.
pub trait Aggregator: Send {
    /// Takes one item inserted at `inserted_at` (Scouter's timestamp text);
    /// pushes any messages that are now complete. An item it cannot use at
    /// all is an error the worker counts and reports; the rest go on.
    fn add(&mut self, item: Item, inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String>;

    /// When `flush_due` next has something to publish, if ever.
    fn next_due(&self) -> Option<Instant> {
        None
    }

    /// Publishes what the timed flush says is due.
    fn flush_due(&mut self, _now: Instant, _out: &mut Vec<Message>) {}

    /// Publishes every partial aggregate (at shutdown).
    fn flush_all(&mut self, _out: &mut Vec<Message>) {}

    /// Values left out of items that were otherwise used (a NaN, a value
    /// outside every bin), since the last call.
    fn take_skipped(&mut self) -> Option<Skipped> {
        None
    }
}

/// How an alias's items are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Off: every item is published as a raw record, whatever the profile.
    pub aggregate: bool,
    /// The timed flush of Psi and Custom aggregates.
    pub publish_interval: Duration,
}

/// The aggregator for a profile: its drift type's, unless aggregation is off.
pub fn for_profile(profile: &Profile, settings: Settings) -> Result<Box<dyn Aggregator>> {
    if !settings.aggregate {
        return Ok(Box::new(RawAggregator::new(profile.identity.clone())));
    }
    // Scouter's server knows a queue by its uid alone; a record without one is lost there.
    let uid = match profile.identity.uid.as_str() {
        "" => {
            return Err(Error::ProfileInvalid {
                alias: profile.alias.clone(),
                origin: profile.origin.clone(),
                field: "config.uid".into(),
                reason: "missing: drift records need it (start with aggregation off to publish raw records)".into(),
            })
        }
        uid => uid.to_owned(),
    };
    Ok(match &profile.drift {
        DriftProfile::Psi(p) => Box::new(PsiAggregator::new(uid, p, settings.publish_interval)),
        DriftProfile::Spc(p) => Box::new(SpcAggregator::new(uid, p)),
        DriftProfile::Custom(p) => Box::new(CustomAggregator::new(uid, p, settings.publish_interval)),
    })
}

/// A tally of skipped values: how many, and why the first one was.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub values: u64,
    pub first_reason: String,
}

/// What one item gave an aggregator: whether any value was used, and the
/// values that were not.
#[derive(Debug, Default)]
struct ItemOutcome {
    used: bool,
    problems: u64,
    first_problem: Option<String>,
}

impl ItemOutcome {
    fn problem(&mut self, reason: String) {
        self.problems += 1;
        self.first_problem.get_or_insert(reason);
    }

    /// An item with no usable value is the worker's failure to count; an
    /// item with some adds its unusable values to `skipped`.
    fn settle(self, skipped: &mut Option<Skipped>, nothing_monitored: impl FnOnce() -> String) -> Result<(), String> {
        match (self.used, self.first_problem) {
            (false, reason) => Err(reason.unwrap_or_else(nothing_monitored)),
            (true, None) => Ok(()),
            (true, Some(reason)) => {
                let tally = skipped.get_or_insert_with(|| Skipped { values: 0, first_reason: reason });
                tally.values += self.problems;
                Ok(())
            }
        }
    }
}

/// A feature's value as a number, as Scouter reads it for Spc means and Psi
/// numeric bins: strings through the feature map. Non-finite values are refused.
fn to_float(feature: &Feature, feature_map: &FeatureMap) -> Result<f64, String> {
    let value = match feature {
        Feature::Int(f) => f.value as f64,
        Feature::Float(f) => f.value,
        Feature::String(f) => feature_map.code(&f.name, &f.value)? as f64,
    };
    if !value.is_finite() {
        return Err(format!("feature '{}': {value} is not a finite number", feature.name()));
    }
    Ok(value)
}

/// When an aggregate opened at `opened_at` is due on the timed flush.
/// Scouter counts from the last publish; counting from the aggregate's first
/// item publishes the same under steady traffic, and does not publish the
/// first item after a quiet spell alone.
fn due(opened_at: Option<Instant>, interval: Duration) -> Option<Instant> {
    opened_at.map(|at| at + interval)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Items and payload checks shared by the aggregators' tests.

    use serde_json::Value;

    use super::{Aggregator, Message};
    use crate::encoding::{decode_item, ItemKind};
    use crate::record::Item;

    pub fn features(line: &str) -> Item {
        decode_item(ItemKind::Features, line).unwrap()
    }

    pub fn metrics(line: &str) -> Item {
        decode_item(ItemKind::Metrics, line).unwrap()
    }

    /// Adds every item, returning the messages and the errors.
    pub fn add_all(aggregator: &mut dyn Aggregator, items: Vec<Item>) -> (Vec<Message>, Vec<String>) {
        let mut out = Vec::new();
        let errors = items
            .into_iter()
            .filter_map(|item| aggregator.add(item, "2026-03-26T10:15:30Z", &mut out).err())
            .collect();
        (out, errors)
    }

    /// The records of a message as `(kind, record)`, created_at checked and removed.
    pub fn records(message: &Message) -> Vec<(String, Value)> {
        let v: Value = serde_json::from_str(&message.payload).unwrap();
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tagged| {
                let (kind, record) = tagged.as_object().unwrap().iter().next().unwrap();
                let mut record = record.clone();
                let at = record.as_object_mut().unwrap().remove("created_at").unwrap();
                assert!(at.as_str().unwrap().ends_with('Z'), "{at}");
                (kind.clone(), record)
            })
            .collect()
    }
}
