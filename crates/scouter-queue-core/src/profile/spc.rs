//! The Spc profile: control limits per feature, and the sample size whose
//! means the client publishes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{FeatureMap, Validate};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpcProfile {
    pub features: BTreeMap<String, SpcFeatureProfile>,
    pub config: SpcConfig,
    pub scouter_version: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpcFeatureProfile {
    pub id: String,
    pub center: f64,
    pub one_ucl: f64,
    pub one_lcl: f64,
    pub two_ucl: f64,
    pub two_lcl: f64,
    pub three_ucl: f64,
    pub three_lcl: f64,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpcConfig {
    #[serde(default = "default_sample_size")]
    pub sample_size: usize,
    #[serde(default = "default_sample")]
    pub sample: bool,
    pub space: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub uid: Option<String>,
    pub alert_config: SpcAlertConfig,
    #[serde(default)]
    pub feature_map: FeatureMap,
    pub drift_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpcAlertConfig {
    pub rule: SpcRule,
    pub schedule: String,
    pub features_to_monitor: Vec<String>,
    pub dispatch_config: Value,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpcRule {
    pub rule: String,
    pub zones_to_monitor: Vec<String>,
}

fn default_sample_size() -> usize {
    25
}

fn default_sample() -> bool {
    true
}

impl SpcProfile {
    /// The features aggregated: in both `features` and `features_to_monitor`.
    pub fn monitored(&self) -> impl Iterator<Item = &String> {
        let wanted = &self.config.alert_config.features_to_monitor;
        self.features.keys().filter(move |name| wanted.contains(name))
    }
}

impl Validate for SpcProfile {
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

    const SPC: &str = r#"{
      "features": {
        "age": {"id": "age", "center": 40.0, "one_ucl": 45.0, "one_lcl": 35.0, "two_ucl": 50.0,
                "two_lcl": 30.0, "three_ucl": 55.0, "three_lcl": 25.0, "timestamp": "2026-03-26T10:15:30Z"}
      },
      "config": {"space": "s", "name": "credit", "version": "1.0.0", "uid": "u2",
        "alert_config": {"rule": {"rule": "8 16 4 8 2 4 1 1", "zones_to_monitor": ["Zone 1"]},
          "schedule": "0 0 0 * * *", "features_to_monitor": ["age"], "dispatch_config": {"Console": {"enabled": true}}},
        "drift_type": "Spc"},
      "scouter_version": "0.25.0"
    }"#;

    #[test]
    fn sample_size_defaults_to_25_and_zero_is_refused() {
        let p = Profile::from_json("a", "spc.json", SPC).unwrap();
        assert_eq!(p.queue_id(), "s/credit/v1.0.0/spc");
        let DriftProfile::Spc(spc) = p.drift else { panic!("an Spc profile") };
        assert_eq!((spc.config.sample_size, spc.config.sample), (25, true));

        let zero = SPC.replace(r#""space": "s""#, r#""sample_size": 0, "space": "s""#);
        let message = Profile::from_json("a", "spc.json", &zero).unwrap_err().to_string();
        assert!(message.contains("`config.sample_size`"), "{message}");
    }

    #[test]
    fn names_a_missing_control_limit() {
        let text = SPC.replace(r#""two_lcl": 30.0, "#, "");
        let message = Profile::from_json("a", "spc.json", &text).unwrap_err().to_string();
        assert!(message.contains("`features.age.two_lcl`: missing"), "{message}");
    }
}
