//! `config.feature_map`: how string values become numbers. Scouter numbers
//! the sorted distinct values of a feature 0..n-1, and a `"missing"` key
//! gets n: the code of every value it never saw.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureMap {
    pub features: BTreeMap<String, HashMap<String, usize>>,
}

impl FeatureMap {
    /// The code of `value` for `feature`: its own, else the `"missing"` one.
    pub fn code(&self, feature: &str, value: &str) -> Result<usize, String> {
        let Some(codes) = self.features.get(feature) else {
            return Err(format!("feature '{feature}': the string '{value}' has no code, and feature_map has no entry for '{feature}'"));
        };
        codes.get(value).or_else(|| codes.get("missing")).copied().ok_or_else(|| {
            format!("feature '{feature}': '{value}' is not in feature_map, which has no \"missing\" code either")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_take_the_missing_code() {
        let map: FeatureMap =
            serde_json::from_str(r#"{"features":{"state":{"CA":0,"NY":1,"missing":2},"plain":{"a":0}}}"#).unwrap();
        assert_eq!(map.code("state", "NY"), Ok(1));
        assert_eq!(map.code("state", "TX"), Ok(2));
        assert!(map.code("plain", "b").unwrap_err().contains("no \"missing\" code"));
        assert!(map.code("other", "b").unwrap_err().contains("no entry for 'other'"));
    }
}
