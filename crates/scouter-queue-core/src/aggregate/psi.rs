//! Psi: counts of each monitored feature's values per bin, published as one
//! `PsiRecord` per bin (zero counts included) for every feature with a count,
//! when 1000 items are counted, on the timed flush and at shutdown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{due, to_float, Aggregator, ItemOutcome, Message, Skipped};
use crate::profile::{BinType, FeatureMap, PsiFeatureProfile, PsiProfile};
use crate::record::{timestamp, Feature, Item};
use crate::wire::{PsiRecord, ServerRecord, ServerRecords, ENTITY_ID};

/// Scouter's Psi queue publishes at this many items.
const CAPACITY: u64 = 1000;

pub struct PsiAggregator {
    uid: String,
    feature_map: FeatureMap,
    /// Monitored features, sorted by name: the order records are published in.
    features: Vec<Counts>,
    index: HashMap<String, usize>,
    items: u64,
    opened_at: Option<Instant>,
    interval: Duration,
    skipped: Option<Skipped>,
}

struct Counts {
    name: String,
    bins: Bins,
    /// Bin ids in the profile's array order, and a count for each.
    ids: Vec<i32>,
    counts: Vec<u32>,
}

enum Bins {
    /// `(lower, upper)`: a value goes to the first bin with `lower < v <= upper`.
    Numeric(Vec<(f64, f64)>),
    /// Category code to the position of its bin.
    Category(HashMap<i64, usize>),
}

impl PsiAggregator {
    pub fn new(uid: String, profile: &PsiProfile, interval: Duration) -> Self {
        let features: Vec<Counts> = profile.monitored().map(|(name, feature)| Counts::new(name, feature)).collect();
        let index = features.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        PsiAggregator {
            uid,
            feature_map: profile.config.feature_map.clone(),
            features,
            index,
            items: 0,
            opened_at: None,
            interval,
            skipped: None,
        }
    }

    fn publish(&mut self, out: &mut Vec<Message>) {
        if self.items == 0 {
            return;
        }
        let created_at = timestamp(Utc::now());
        let mut records = Vec::new();
        for feature in &mut self.features {
            if feature.counts.iter().all(|&c| c == 0) {
                continue;
            }
            for (&bin_id, count) in feature.ids.iter().zip(&mut feature.counts) {
                records.push(ServerRecord::Psi(PsiRecord {
                    created_at: &created_at,
                    uid: &self.uid,
                    feature: &feature.name,
                    bin_id,
                    bin_count: i32::try_from(*count).unwrap_or(i32::MAX),
                    entity_id: ENTITY_ID,
                }));
                *count = 0;
            }
        }
        // Every counted item counted at least one value, so `records` is never empty.
        out.push(Message { payload: ServerRecords { records }.to_json(), items: self.items });
        self.items = 0;
        self.opened_at = None;
    }

}

fn nothing_monitored(features: &[Counts]) -> String {
    let names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
    format!("none of its features is monitored by the profile ({})", names.join(", "))
}

impl Counts {
    fn new(name: &str, feature: &PsiFeatureProfile) -> Self {
        let ids: Vec<i32> = feature.bins.iter().map(|b| b.id).collect();
        let bins = match feature.bin_type {
            BinType::Numeric => Bins::Numeric(feature.numeric_bins().into_iter().map(|(lo, hi, _)| (lo, hi)).collect()),
            // The first bin of a code wins, as with numeric bins.
            BinType::Category => Bins::Category(ids.iter().enumerate().rev().map(|(i, &id)| (id as i64, i)).collect()),
        };
        Counts { name: name.to_owned(), counts: vec![0; ids.len()], ids, bins }
    }

    /// The position of the bin `feature`'s value falls in.
    fn bin(&self, feature: &Feature, feature_map: &FeatureMap) -> Result<usize, String> {
        let name = &self.name;
        match &self.bins {
            Bins::Numeric(limits) => {
                let value = to_float(feature, feature_map)?;
                limits
                    .iter()
                    .position(|&(lower, upper)| lower < value && value <= upper)
                    .ok_or_else(|| format!("feature '{name}': {value} is outside every bin"))
            }
            Bins::Category(positions) => {
                let code = match feature {
                    Feature::Int(f) => f.value,
                    // Scouter truncates a float to its category code.
                    Feature::Float(f) if f.value.is_finite() => f.value.trunc() as i64,
                    Feature::Float(f) => return Err(format!("feature '{name}': {} is not a category code", f.value)),
                    Feature::String(f) => feature_map.code(name, &f.value)? as i64,
                };
                positions.get(&code).copied().ok_or_else(|| format!("feature '{name}': category code {code} has no bin"))
            }
        }
    }
}

impl Aggregator for PsiAggregator {
    fn add(&mut self, item: Item, _inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String> {
        let Item::Features(features) = item else {
            return Err("a Psi queue takes features, not metrics".into());
        };
        let mut outcome = ItemOutcome::default();
        for feature in &features {
            let Some(&i) = self.index.get(feature.name()) else { continue };
            match self.features[i].bin(feature, &self.feature_map) {
                Ok(bin) => {
                    self.features[i].counts[bin] += 1;
                    outcome.used = true;
                }
                Err(reason) => outcome.problem(reason),
            }
        }
        let features = &self.features;
        outcome.settle(&mut self.skipped, || nothing_monitored(features))?;
        self.items += 1;
        self.opened_at.get_or_insert_with(Instant::now);
        if self.items >= CAPACITY {
            self.publish(out);
        }
        Ok(())
    }

    fn next_due(&self) -> Option<Instant> {
        due(self.opened_at, self.interval)
    }

    fn flush_due(&mut self, now: Instant, out: &mut Vec<Message>) {
        if self.next_due().is_some_and(|at| at <= now) {
            self.publish(out);
        }
    }

    fn flush_all(&mut self, out: &mut Vec<Message>) {
        self.publish(out);
    }

    fn take_skipped(&mut self) -> Option<Skipped> {
        self.skipped.take()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{add_all, features, records};
    use super::*;
    use crate::profile::{DriftProfile, Profile};

    /// `age`: numeric bins (-inf, 30], (30, 50], (50, inf) with ids 1..3;
    /// `state`: categories CA=0, NY=1, missing=2 with bins of those ids;
    /// `score`: numeric bins with finite outer edges [0, 1], (1, 2];
    /// `ignored`: in the profile but not monitored.
    const PROFILE: &str = r#"{
      "features": {
        "age": {"id": "age", "bins": [
          {"id": 1, "lower_limit": "-inf", "upper_limit": 30.0, "proportion": 0.3},
          {"id": 2, "lower_limit": 30.0, "upper_limit": 50.0, "proportion": 0.4},
          {"id": 3, "lower_limit": 50.0, "upper_limit": "inf", "proportion": 0.3}],
          "timestamp": "2026-03-26T10:15:30Z", "bin_type": "Numeric"},
        "state": {"id": "state", "bins": [
          {"id": 0, "lower_limit": null, "upper_limit": null, "proportion": 0.5},
          {"id": 1, "lower_limit": null, "upper_limit": null, "proportion": 0.4},
          {"id": 2, "lower_limit": null, "upper_limit": null, "proportion": 0.1}],
          "timestamp": "2026-03-26T10:15:30Z", "bin_type": "Category"},
        "score": {"id": "score", "bins": [
          {"id": 1, "lower_limit": 0.0, "upper_limit": 1.0, "proportion": 0.5},
          {"id": 2, "lower_limit": 1.0, "upper_limit": 2.0, "proportion": 0.5}],
          "timestamp": "2026-03-26T10:15:30Z", "bin_type": "Numeric"},
        "ignored": {"id": "ignored", "bins": [
          {"id": 1, "lower_limit": "-inf", "upper_limit": "inf", "proportion": 1.0}],
          "timestamp": "2026-03-26T10:15:30Z", "bin_type": "Numeric"}
      },
      "config": {"space": "s", "name": "n", "version": "1.0.0", "uid": "u",
        "alert_config": {"schedule": "0 0 0 * * *", "features_to_monitor": ["age", "state", "score"],
          "dispatch_config": {"Console": {"enabled": true}}, "threshold": {"Fixed": {"threshold": 0.25}}},
        "feature_map": {"features": {"state": {"CA": 0, "NY": 1, "missing": 2}}},
        "drift_type": "Psi", "categorical_features": ["state"],
        "binning_strategy": {"QuantileBinning": {"num_bins": 3}}},
      "scouter_version": "0.25.0"
    }"#;

    fn aggregator(interval: Duration) -> PsiAggregator {
        let DriftProfile::Psi(p) = Profile::from_json("a", "psi.json", PROFILE).unwrap().drift else { panic!() };
        PsiAggregator::new("u".into(), &p, interval)
    }

    fn psi(feature: &str, bin_id: i32, bin_count: i32) -> (String, serde_json::Value) {
        ("Psi".into(), json!({"uid": "u", "feature": feature, "bin_id": bin_id, "bin_count": bin_count, "entity_id": 0}))
    }

    #[test]
    fn values_on_an_edge_go_to_the_lower_bin_and_categories_through_the_map() {
        let mut agg = aggregator(Duration::from_secs(30));
        let (out, errors) = add_all(
            &mut agg,
            vec![
                features(r#"{"age": 30, "state": "CA"}"#),   // age edge 30 -> bin 1
                features(r#"{"age": 30.5, "state": "TX"}"#), // TX is not in the map -> missing (2)
                features(r#"{"age": 50.0, "state": 1}"#),    // edge 50 -> bin 2; int code 1
                features(r#"{"age": -1e300, "state": 1.9}"#), // -inf edge; float code truncated to 1
                features(r#"{"age": 1e300, "ignored": 5}"#),
            ],
        );
        assert!(errors.is_empty() && out.is_empty(), "{errors:?}");
        let mut out = Vec::new();
        agg.flush_all(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].items, 5);
        // Sorted by feature; `score` had no value, so no records for it.
        assert_eq!(
            records(&out[0]),
            vec![psi("age", 1, 2), psi("age", 2, 2), psi("age", 3, 1), psi("state", 0, 1), psi("state", 1, 2), psi("state", 2, 1)]
        );
        assert_eq!(agg.take_skipped(), None);
    }

    #[test]
    fn a_value_that_cannot_be_binned_is_skipped_and_counted_not_the_item() {
        let mut agg = aggregator(Duration::from_secs(30));
        let (_, errors) = add_all(
            &mut agg,
            vec![
                features(r#"{"age": {"Float": "NaN"}, "score": 0.5}"#),    // NaN skipped, score used
                features(r#"{"age": 40, "score": 2.5}"#),                 // score beyond the last edge
                features(r#"{"age": 40, "score": 0.0}"#),                 // 0 is not > the lower edge 0
                features(r#"{"age": 40, "state": 7}"#),                   // no bin of code 7
                features(r#"{"score": {"Float": "inf"}}"#),                // nothing usable: the item fails
                features(r#"{"other": 1}"#),                              // nothing monitored: fails
            ],
        );
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("'score': inf is not a finite number"), "{}", errors[0]);
        assert!(errors[1].contains("none of its features is monitored by the profile (age, score, state)"), "{}", errors[1]);
        let skipped = agg.take_skipped().unwrap();
        assert_eq!(skipped.values, 4);
        assert!(skipped.first_reason.contains("'age': NaN is not a finite number"), "{}", skipped.first_reason);
        assert_eq!(agg.take_skipped(), None, "taken once");

        let mut out = Vec::new();
        agg.flush_all(&mut out);
        assert_eq!(out[0].items, 4);
        assert_eq!(records(&out[0]), vec![psi("age", 1, 0), psi("age", 2, 3), psi("age", 3, 0), psi("score", 1, 1), psi("score", 2, 0)]);
    }

    #[test]
    fn publishes_every_thousand_items() {
        let mut agg = aggregator(Duration::from_secs(30));
        let items = (0..2500).map(|i| features(&format!(r#"{{"age": {}}}"#, i % 100))).collect();
        let (out, errors) = add_all(&mut agg, items);
        assert!(errors.is_empty());
        assert_eq!(out.iter().map(|m| m.items).collect::<Vec<_>>(), [1000, 1000]);
        // Of every 100 ages 0..99: 31 are <= 30, 20 in (30, 50], 49 above.
        assert_eq!(records(&out[0]), vec![psi("age", 1, 310), psi("age", 2, 200), psi("age", 3, 490)]);
        let mut rest = Vec::new();
        agg.flush_all(&mut rest);
        assert_eq!(rest[0].items, 500);
        agg.flush_all(&mut rest);
        assert_eq!(rest.len(), 1, "nothing left to publish");
    }

    #[test]
    fn the_timed_flush_is_due_an_interval_after_the_first_item() {
        let mut agg = aggregator(Duration::from_millis(200));
        assert_eq!(agg.next_due(), None, "nothing to flush");
        let before = Instant::now();
        add_all(&mut agg, vec![features(r#"{"age": 1}"#)]);
        let due = agg.next_due().unwrap();
        assert!(due >= before + Duration::from_millis(200));
        let mut out = Vec::new();
        agg.flush_due(due - Duration::from_millis(1), &mut out);
        assert!(out.is_empty(), "not yet");
        agg.flush_due(due, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(agg.next_due(), None);
    }
}
