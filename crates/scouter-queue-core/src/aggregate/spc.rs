//! Spc: consecutive samples of `sample_size` items; each gives one
//! `SpcRecord` per monitored feature with the feature's mean over the sample.
//! Like Scouter, no timed flush (a mean over fewer items is another
//! statistic); unlike it, the partial sample is published at shutdown.

use super::means::Means;
use super::{to_float, Aggregator, ItemOutcome, Message, Skipped};
use crate::profile::{FeatureMap, SpcProfile};
use crate::record::Item;
use crate::wire::{ServerRecord, SpcRecord, ENTITY_ID};

pub struct SpcAggregator {
    uid: String,
    feature_map: FeatureMap,
    means: Means,
    sample_size: u64,
    items: u64,
    skipped: Option<Skipped>,
}

impl SpcAggregator {
    pub fn new(uid: String, profile: &SpcProfile) -> Self {
        SpcAggregator {
            uid,
            feature_map: profile.config.feature_map.clone(),
            means: Means::new(profile.monitored().cloned()),
            sample_size: profile.config.sample_size as u64,
            items: 0,
            skipped: None,
        }
    }

    fn publish(&mut self, out: &mut Vec<Message>) {
        out.extend(self.means.publish(self.items, &self.uid, spc_record));
        self.items = 0;
    }
}

fn spc_record<'a>(created_at: &'a str, uid: &'a str, feature: &'a str, value: f64) -> ServerRecord<'a> {
    ServerRecord::Spc(SpcRecord { created_at, uid, feature, value, entity_id: ENTITY_ID })
}

impl Aggregator for SpcAggregator {
    fn add(&mut self, item: Item, _inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String> {
        let Item::Features(features) = item else {
            return Err("an Spc queue takes features, not metrics".into());
        };
        let mut outcome = ItemOutcome::default();
        for feature in &features {
            let Some(i) = self.means.index(feature.name()) else { continue };
            match to_float(feature, &self.feature_map) {
                Ok(value) => {
                    self.means.add(i, value);
                    outcome.used = true;
                }
                Err(reason) => outcome.problem(reason),
            }
        }
        let names = self.means.names();
        outcome.settle(&mut self.skipped, || {
            format!("none of its features is monitored by the profile ({})", names.join(", "))
        })?;
        self.items += 1;
        if self.items == self.sample_size {
            self.publish(out);
        }
        Ok(())
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

    const PROFILE: &str = r#"{
      "features": {
        "age": {"id": "age", "center": 40.0, "one_ucl": 45.0, "one_lcl": 35.0, "two_ucl": 50.0,
                "two_lcl": 30.0, "three_ucl": 55.0, "three_lcl": 25.0, "timestamp": "2026-03-26T10:15:30Z"},
        "state": {"id": "state", "center": 0.5, "one_ucl": 1.0, "one_lcl": 0.0, "two_ucl": 1.5,
                "two_lcl": -0.5, "three_ucl": 2.0, "three_lcl": -1.0, "timestamp": "2026-03-26T10:15:30Z"},
        "ignored": {"id": "ignored", "center": 0.0, "one_ucl": 1.0, "one_lcl": -1.0, "two_ucl": 2.0,
                "two_lcl": -2.0, "three_ucl": 3.0, "three_lcl": -3.0, "timestamp": "2026-03-26T10:15:30Z"}
      },
      "config": {"sample_size": 4, "sample": true, "space": "s", "name": "n", "version": "1.0.0", "uid": "u",
        "alert_config": {"rule": {"rule": "8 16 4 8 2 4 1 1", "zones_to_monitor": ["Zone 1"]},
          "schedule": "0 0 0 * * *", "features_to_monitor": ["age", "state", "ghost"],
          "dispatch_config": {"Console": {"enabled": true}}},
        "feature_map": {"features": {"state": {"CA": 0, "NY": 1, "missing": 2}}},
        "drift_type": "Spc"},
      "scouter_version": "0.25.0"
    }"#;

    fn aggregator() -> SpcAggregator {
        let DriftProfile::Spc(p) = Profile::from_json("a", "spc.json", PROFILE).unwrap().drift else { panic!() };
        SpcAggregator::new("u".into(), &p)
    }

    fn spc(feature: &str, value: f64) -> (String, serde_json::Value) {
        ("Spc".into(), json!({"uid": "u", "feature": feature, "value": value, "entity_id": 0}))
    }

    #[test]
    fn means_per_sample_and_the_partial_sample_at_shutdown() {
        let mut agg = aggregator();
        let (out, errors) = add_all(
            &mut agg,
            vec![
                features(r#"{"age": 30, "state": "CA", "ignored": 100}"#),
                features(r#"{"age": 31.5, "state": "NY"}"#),
                features(r#"{"age": 40, "state": "TX"}"#), // TX -> missing, code 2
                features(r#"{"age": 50.5}"#),
                features(r#"{"age": 10, "state": "NY"}"#),
                features(r#"{"age": 11}"#),
            ],
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].items, 4);
        // age (30 + 31.5 + 40 + 50.5) / 4 = 38; state (0 + 1 + 2) / 3 = 1.
        assert_eq!(records(&out[0]), vec![spc("age", 38.0), spc("state", 1.0)]);
        assert!(out[0].payload.contains(r#""value":38.0,"#), "an integral mean keeps its .0: {}", out[0].payload);

        let mut partial = Vec::new();
        agg.flush_all(&mut partial);
        assert_eq!(partial[0].items, 2);
        assert_eq!(records(&partial[0]), vec![spc("age", 10.5), spc("state", 1.0)]);
    }

    #[test]
    fn non_finite_values_are_skipped_and_never_published() {
        let mut agg = aggregator();
        let (_, errors) = add_all(
            &mut agg,
            vec![features(r#"{"age": {"Float": "NaN"}, "state": "CA"}"#), features(r#"{"age": 2}"#), features(r#"{"age": {"Float": "-inf"}}"#)],
        );
        assert_eq!(errors.len(), 1, "the item with nothing else fails");
        assert_eq!(agg.take_skipped().map(|s| s.values), Some(1));
        let mut out = Vec::new();
        agg.flush_all(&mut out);
        assert_eq!(out[0].items, 2);
        assert_eq!(records(&out[0]), vec![spc("age", 2.0), spc("state", 0.0)]);
    }
}
