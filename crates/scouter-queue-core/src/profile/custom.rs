//! The Custom profile: named metrics with their baselines.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Validate;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomProfile {
    pub config: CustomConfig,
    /// Baseline per metric. Metric names are lower-cased where items are
    /// built, so lookups use the lower-cased name.
    pub metrics: BTreeMap<String, f64>,
    pub scouter_version: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomConfig {
    #[serde(default = "default_sample_size")]
    pub sample_size: usize,
    pub space: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub uid: Option<String>,
    pub alert_config: CustomAlertConfig,
    pub drift_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomAlertConfig {
    pub dispatch_config: Value,
    pub schedule: String,
    pub alert_conditions: Option<Value>,
}

fn default_sample_size() -> usize {
    25
}

impl Validate for CustomProfile {
    fn validate(&self) -> Result<(), (String, String)> {
        if self.config.sample_size == 0 {
            return Err(("config.sample_size".into(), "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DriftProfile, Profile};

    const CUSTOM: &str = r#"{"config": {"sample_size": 3, "space": "s", "name": "quality", "version": "2.0.0", "uid": "u3",
        "alert_config": {"dispatch_config": {"Console": {"enabled": true}}, "schedule": "0 0 0 * * *", "alert_conditions": null},
        "drift_type": "custom"}, "metrics": {"mae": 2.0, "mape": 1.0}, "scouter_version": "0.25.0"}"#;

    #[test]
    fn loads_metrics_and_sample_size() {
        let p = Profile::from_json("q", "quality.json", CUSTOM).unwrap();
        assert_eq!(p.queue_id(), "s/quality/v2.0.0/custom");
        let DriftProfile::Custom(custom) = p.drift else { panic!("a Custom profile") };
        assert_eq!(custom.config.sample_size, 3);
        assert_eq!(custom.metrics.keys().collect::<Vec<_>>(), ["mae", "mape"]);
    }

    #[test]
    fn a_metric_baseline_must_be_a_number() {
        let text = CUSTOM.replace(r#""mae": 2.0"#, r#""mae": "two""#);
        let message = Profile::from_json("q", "quality.json", &text).unwrap_err().to_string();
        assert!(message.contains("`metrics.mae`"), "{message}");
    }
}
