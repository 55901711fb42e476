//! Custom: every `sample_size` metric sets, one `CustomMetricRecord` per
//! metric with the mean of its values; also on the timed flush and at
//! shutdown. Metrics the profile does not name are skipped, as in Scouter.

use std::time::{Duration, Instant};

use super::means::Means;
use super::{due, Aggregator, ItemOutcome, Message, Skipped};
use crate::profile::CustomProfile;
use crate::record::Item;
use crate::wire::{CustomMetricRecord, ServerRecord, ENTITY_ID};

pub struct CustomAggregator {
    uid: String,
    means: Means,
    sample_size: u64,
    items: u64,
    opened_at: Option<Instant>,
    interval: Duration,
    skipped: Option<Skipped>,
}

impl CustomAggregator {
    pub fn new(uid: String, profile: &CustomProfile, interval: Duration) -> Self {
        CustomAggregator {
            uid,
            // Items' metric names are lower-cased; the profile's may not be.
            means: Means::new(profile.metrics.keys().map(|m| m.to_lowercase())),
            sample_size: profile.config.sample_size as u64,
            items: 0,
            opened_at: None,
            interval,
            skipped: None,
        }
    }

    fn publish(&mut self, out: &mut Vec<Message>) {
        out.extend(self.means.publish(self.items, &self.uid, custom_record));
        self.items = 0;
        self.opened_at = None;
    }
}

fn custom_record<'a>(created_at: &'a str, uid: &'a str, metric: &'a str, value: f64) -> ServerRecord<'a> {
    ServerRecord::Custom(CustomMetricRecord { created_at, uid, metric, value, entity_id: ENTITY_ID })
}

impl Aggregator for CustomAggregator {
    fn add(&mut self, item: Item, _inserted_at: &str, out: &mut Vec<Message>) -> Result<(), String> {
        let Item::Metrics(metrics) = item else {
            return Err("a Custom queue takes metrics, not features".into());
        };
        let mut outcome = ItemOutcome::default();
        for metric in &metrics {
            let Some(i) = self.means.index(&metric.name) else { continue };
            if metric.value.is_finite() {
                self.means.add(i, metric.value);
                outcome.used = true;
            } else {
                outcome.problem(format!("metric '{}': {} is not a finite number", metric.name, metric.value));
            }
        }
        let names = self.means.names();
        outcome.settle(&mut self.skipped, || {
            format!("none of its metrics is in the profile ({})", names.join(", "))
        })?;
        self.items += 1;
        self.opened_at.get_or_insert_with(Instant::now);
        if self.items == self.sample_size {
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

    use super::super::testing::{add_all, metrics, records};
    use super::*;
    use crate::profile::{DriftProfile, Profile};

    const PROFILE: &str = r#"{"config": {"sample_size": 3, "space": "s", "name": "quality", "version": "1.0.0", "uid": "u",
        "alert_config": {"dispatch_config": {"Console": {"enabled": true}}, "schedule": "0 0 0 * * *", "alert_conditions": null},
        "drift_type": "Custom"}, "metrics": {"MAE": 2.0, "mape": 1.0}, "scouter_version": "0.25.0"}"#;

    fn aggregator(interval: Duration) -> CustomAggregator {
        let DriftProfile::Custom(p) = Profile::from_json("q", "quality.json", PROFILE).unwrap().drift else { panic!() };
        CustomAggregator::new("u".into(), &p, interval)
    }

    fn custom(metric: &str, value: f64) -> (String, serde_json::Value) {
        ("Custom".into(), json!({"uid": "u", "metric": metric, "value": value, "entity_id": 0}))
    }

    #[test]
    fn means_per_sample_unknown_metrics_skipped_and_the_rest_at_shutdown() {
        let mut agg = aggregator(Duration::from_secs(30));
        let (out, errors) = add_all(
            &mut agg,
            vec![
                metrics(r#"{"mae": 1, "mape": 0.25, "rmse": 9}"#),
                metrics(r#"{"mae": 2}"#),
                metrics(r#"{"mae": 4.5, "mape": 0.5}"#),
                metrics(r#"{"rmse": 1}"#), // nothing the profile knows: fails
                metrics(r#"{"mape": "NaN", "mae": 7}"#),
            ],
        );
        assert_eq!(errors, ["none of its metrics is in the profile (mae, mape)"]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].items, 3);
        // mae (1 + 2 + 4.5) / 3 = 2.5; mape (0.25 + 0.5) / 2 = 0.375.
        assert_eq!(records(&out[0]), vec![custom("mae", 2.5), custom("mape", 0.375)]);
        assert_eq!(agg.take_skipped().map(|s| s.values), Some(1));

        let mut rest = Vec::new();
        agg.flush_all(&mut rest);
        assert_eq!(rest[0].items, 1);
        assert_eq!(records(&rest[0]), vec![custom("mae", 7.0)]);
    }

    #[test]
    fn the_timed_flush_publishes_a_partial_sample() {
        let mut agg = aggregator(Duration::from_millis(100));
        add_all(&mut agg, vec![metrics(r#"{"mae": 3}"#)]);
        let mut out = Vec::new();
        agg.flush_due(agg.next_due().unwrap(), &mut out);
        assert_eq!(records(&out[0]), vec![custom("mae", 3.0)]);
        assert_eq!(agg.next_due(), None);
    }
}
