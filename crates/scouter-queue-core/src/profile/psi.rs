//! The Psi profile: bins per feature (numeric limits or category codes).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{FeatureMap, Validate};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PsiProfile {
    pub features: BTreeMap<String, PsiFeatureProfile>,
    pub config: PsiConfig,
    pub scouter_version: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PsiFeatureProfile {
    pub id: String,
    pub bins: Vec<Bin>,
    pub timestamp: DateTime<Utc>,
    pub bin_type: BinType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BinType {
    Numeric,
    Category,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Bin {
    /// 1..n for numeric bins; the category's code for category bins.
    pub id: i32,
    pub lower_limit: Limit,
    pub upper_limit: Limit,
    pub proportion: f64,
}

/// A bin limit as Scouter writes it: a finite number, `null`, or the strings
/// `"-inf"` and `"inf"` (JSON has no infinite numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit(pub Option<f64>);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Text(String),
        }
        match Option::<Written>::deserialize(deserializer)? {
            None => Ok(Limit(None)),
            Some(Written::Number(n)) => Ok(Limit(Some(n))),
            Some(Written::Text(t)) if t == "-inf" => Ok(Limit(Some(f64::NEG_INFINITY))),
            Some(Written::Text(t)) if t == "inf" => Ok(Limit(Some(f64::INFINITY))),
            Some(Written::Text(t)) => Err(serde::de::Error::custom(format!(
                "'{t}' is not a bin limit: expected a number, null, \"-inf\" or \"inf\""
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PsiConfig {
    pub space: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub uid: Option<String>,
    pub alert_config: PsiAlertConfig,
    #[serde(default)]
    pub feature_map: FeatureMap,
    pub drift_type: String,
    pub categorical_features: Option<Vec<String>>,
    /// How the bins were made (e.g. `{"QuantileBinning":{"num_bins":10}}`); the client only keeps it.
    pub binning_strategy: Value,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PsiAlertConfig {
    pub schedule: String,
    pub features_to_monitor: Vec<String>,
    /// Alerting is the server's business; the client keeps these as written.
    pub dispatch_config: Value,
    pub threshold: Value,
}

impl PsiProfile {
    /// The features aggregated: in both `features` and `features_to_monitor`.
    pub fn monitored(&self) -> impl Iterator<Item = (&String, &PsiFeatureProfile)> {
        let wanted = &self.config.alert_config.features_to_monitor;
        self.features.iter().filter(move |(name, _)| wanted.contains(name))
    }
}

impl PsiFeatureProfile {
    /// Numeric bins as `(lower, upper, id)`, a null outer edge read as infinite
    /// (older files write them so; validation refused any other null).
    pub fn numeric_bins(&self) -> Vec<(f64, f64, i32)> {
        self.bins
            .iter()
            .map(|b| (b.lower_limit.0.unwrap_or(f64::NEG_INFINITY), b.upper_limit.0.unwrap_or(f64::INFINITY), b.id))
            .collect()
    }
}

impl Validate for PsiProfile {
    fn validate(&self) -> Result<(), (String, String)> {
        for (name, feature) in &self.features {
            if feature.bin_type != BinType::Numeric {
                continue;
            }
            if feature.bins.is_empty() {
                return Err((format!("features.{name}.bins"), "a numeric feature needs at least one bin".into()));
            }
            let last = feature.bins.len() - 1;
            for (i, bin) in feature.bins.iter().enumerate() {
                let at = |limit: &str| format!("features.{name}.bins[{i}].{limit}");
                if bin.lower_limit.0.is_none() && i != 0 {
                    return Err((at("lower_limit"), "null is accepted only as the first bin's lower limit (-inf)".into()));
                }
                if bin.upper_limit.0.is_none() && i != last {
                    return Err((at("upper_limit"), "null is accepted only as the last bin's upper limit (inf)".into()));
                }
                for (limit, value) in [("lower_limit", bin.lower_limit.0), ("upper_limit", bin.upper_limit.0)] {
                    if value.is_some_and(f64::is_nan) {
                        return Err((at(limit), "NaN is not a bin limit".into()));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::PSI;
    use super::super::{DriftProfile, Profile};
    use super::*;

    fn psi(text: &str) -> crate::Result<PsiProfile> {
        Profile::from_json("credit", "credit.json", text).map(|p| match p.drift {
            DriftProfile::Psi(p) => p,
            other => panic!("a Psi profile, got {other:?}"),
        })
    }

    #[test]
    fn limits_are_numbers_null_or_infinite_strings() {
        let bins: Vec<Bin> = serde_json::from_str(
            r#"[{"id":1,"lower_limit":null,"upper_limit":1.5,"proportion":0.5},
                {"id":2,"lower_limit":1.5,"upper_limit":"inf","proportion":0.5}]"#,
        )
        .unwrap();
        assert_eq!(bins[0].lower_limit, Limit(None));
        assert_eq!(bins[1].upper_limit, Limit(Some(f64::INFINITY)));
        assert!(serde_json::from_str::<Limit>(r#""Infinity""#).is_err());
    }

    #[test]
    fn null_outer_edges_are_infinite_and_inner_nulls_are_refused() {
        let older = PSI.replace(r#""lower_limit": "-inf""#, r#""lower_limit": null"#).replace(r#""upper_limit": "inf""#, r#""upper_limit": null"#);
        let profile = psi(&older).unwrap();
        assert_eq!(profile.features["age"].numeric_bins(), vec![(f64::NEG_INFINITY, 30.0, 1), (30.0, f64::INFINITY, 2)]);

        let inner = PSI.replace(r#""lower_limit": 30.0"#, r#""lower_limit": null"#);
        let message = psi(&inner).unwrap_err().to_string();
        assert!(message.contains("`features.age.bins[1].lower_limit`"), "{message}");
    }

    #[test]
    fn only_features_in_both_lists_are_monitored() {
        let text = PSI.replace(r#""features_to_monitor": ["age"]"#, r#""features_to_monitor": ["age", "ghost"]"#);
        let profile = psi(&text).unwrap();
        assert_eq!(profile.monitored().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["age"]);
    }
}
