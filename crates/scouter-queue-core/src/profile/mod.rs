//! Profile files: one per alias, in the JSON shape Scouter writes, read into
//! typed Psi, Spc and Custom profiles. An error names the file and the field
//! (`features.age.bins[2].upper_limit`), never panics.

mod custom;
mod feature_map;
mod psi;
mod spc;

pub use custom::{CustomAlertConfig, CustomConfig, CustomProfile};
pub use feature_map::FeatureMap;
pub use psi::{Bin, BinType, Limit, PsiAlertConfig, PsiConfig, PsiFeatureProfile, PsiProfile};
pub use spc::{SpcAlertConfig, SpcConfig, SpcFeatureProfile, SpcProfile, SpcRule};

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::record::{EntityType, QueueIdentity};

/// Scouter's drift types, matched without regard to case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftType {
    Psi,
    Spc,
    Custom,
}

impl DriftType {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "psi" => Some(DriftType::Psi),
            "spc" => Some(DriftType::Spc),
            "custom" => Some(DriftType::Custom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DriftType::Psi => "psi",
            DriftType::Spc => "spc",
            DriftType::Custom => "custom",
        }
    }

    /// Custom profiles monitor metrics; Psi and Spc monitor features.
    pub fn entity(self) -> EntityType {
        match self {
            DriftType::Custom => EntityType::Metric,
            DriftType::Psi | DriftType::Spc => EntityType::Feature,
        }
    }
}

/// The typed content of a profile file, by drift type.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftProfile {
    Psi(PsiProfile),
    Spc(SpcProfile),
    Custom(CustomProfile),
}

/// A loaded profile: what identifies the queue, what kind of items it takes,
/// and what its aggregation needs.
#[derive(Debug, Clone)]
pub struct Profile {
    pub alias: String,
    /// The file path, or `<inline profile>`: what errors about it name.
    pub origin: String,
    pub identity: QueueIdentity,
    pub drift_type: DriftType,
    pub drift: DriftProfile,
}

/// Checks a typed profile cannot express in serde: values that parse but
/// cannot work. Returns the field (from the document root) and why.
trait Validate {
    fn validate(&self) -> Result<(), (String, String)>;
}

impl Profile {
    /// Reads and validates a profile file.
    pub fn from_path(alias: &str, path: &Path) -> Result<Profile> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ProfileNotFound {
            alias: alias.to_owned(),
            path: path.to_owned(),
            source,
        })?;
        Profile::from_json(alias, &path.display().to_string(), &text)
    }

    /// Validates a profile given as JSON text; `origin` names it in errors.
    pub fn from_json(alias: &str, origin: &str, text: &str) -> Result<Profile> {
        let invalid = |field: &str, reason: String| Error::ProfileInvalid {
            alias: alias.to_owned(),
            origin: origin.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let document: Value =
            serde_json::from_str(text).map_err(|e| invalid("(document)", format!("not valid JSON: {e}")))?;
        let config = document
            .get("config")
            .filter(|c| c.is_object())
            .ok_or_else(|| invalid("config", "missing, or not an object".into()))?;
        // The drift type decides the shape of everything else, so it is read first.
        let drift_type = match config.get("drift_type") {
            Some(Value::String(text)) => DriftType::parse(text)
                .ok_or_else(|| invalid("config.drift_type", format!("'{text}' is not one of Psi, Spc, Custom")))?,
            Some(other) => return Err(invalid("config.drift_type", format!("expected a string, found {other}"))),
            None => return Err(invalid("config.drift_type", "missing".into())),
        };
        let typed = |document| -> Result<DriftProfile> {
            Ok(match drift_type {
                DriftType::Psi => DriftProfile::Psi(typed(document).map_err(|(f, r)| invalid(&f, r))?),
                DriftType::Spc => DriftProfile::Spc(typed(document).map_err(|(f, r)| invalid(&f, r))?),
                DriftType::Custom => DriftProfile::Custom(typed(document).map_err(|(f, r)| invalid(&f, r))?),
            })
        };
        let drift = typed(document)?;
        let (space, name, version, uid) = match &drift {
            DriftProfile::Psi(p) => (&p.config.space, &p.config.name, &p.config.version, &p.config.uid),
            DriftProfile::Spc(p) => (&p.config.space, &p.config.name, &p.config.version, &p.config.uid),
            DriftProfile::Custom(p) => (&p.config.space, &p.config.name, &p.config.version, &p.config.uid),
        };
        let identity = QueueIdentity {
            space: space.clone(),
            name: name.clone(),
            version: version.clone(),
            // Older profiles have no uid; only drift records need one (see `aggregate`).
            uid: uid.clone().unwrap_or_default(),
        };
        Ok(Profile {
            alias: alias.to_owned(),
            origin: origin.to_owned(),
            identity,
            drift_type,
            drift,
        })
    }

    /// Scouter's queue identity: `{space}/{name}/v{version}/{psi|spc|custom}`.
    pub fn queue_id(&self) -> String {
        let QueueIdentity { space, name, version, .. } = &self.identity;
        format!("{space}/{name}/v{version}/{}", self.drift_type.as_str())
    }
}

/// Deserializes a whole document into `T`, keeping the path to the value
/// that failed; a missing field is named by its own path, not its parent's.
fn typed<T: DeserializeOwned + Validate>(document: Value) -> Result<T, (String, String)> {
    let profile: T = serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner().to_string();
        match reason.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
            Some(field) if path == "." => (field.to_owned(), "missing".to_owned()),
            Some(field) => (format!("{path}.{field}"), "missing".to_owned()),
            None => (path, reason),
        }
    })?;
    profile.validate()?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PSI: &str = r#"{
      "features": {
        "age": {"id": "age", "bins": [
          {"id": 1, "lower_limit": "-inf", "upper_limit": 30.0, "proportion": 0.5},
          {"id": 2, "lower_limit": 30.0, "upper_limit": "inf", "proportion": 0.5}],
          "timestamp": "2026-03-26T10:15:30.123456Z", "bin_type": "Numeric"}
      },
      "config": {"space": "s", "name": "credit", "version": "1.0.0", "uid": "u1",
        "alert_config": {"schedule": "0 0 0 * * *", "features_to_monitor": ["age"],
          "dispatch_config": {"Console": {"enabled": true}}, "threshold": {"Fixed": {"threshold": 0.25}}},
        "drift_type": "PSI", "categorical_features": null,
        "binning_strategy": {"QuantileBinning": {"num_bins": 10}}},
      "scouter_version": "0.25.0"
    }"#;

    fn error(text: &str) -> String {
        let err = Profile::from_json("credit", "credit.json", text).unwrap_err();
        assert_eq!(err.code(), "ERR_PROFILE_INVALID");
        let message = err.to_string();
        assert!(message.contains("credit.json"), "{message}");
        message
    }

    #[test]
    fn loads_identity_and_matches_drift_type_without_case() {
        let p = Profile::from_json("credit", "inline", PSI).unwrap();
        assert_eq!(p.drift_type, DriftType::Psi);
        assert_eq!(p.queue_id(), "s/credit/v1.0.0/psi");
        assert_eq!(p.identity.uid, "u1");
        let DriftProfile::Psi(psi) = p.drift else { panic!("a Psi profile") };
        assert_eq!(psi.features["age"].bins[0].lower_limit, Limit(Some(f64::NEG_INFINITY)));
        assert!(psi.config.feature_map.features.is_empty(), "feature_map defaults to empty");
    }

    #[test]
    fn names_the_missing_field() {
        assert!(error(&PSI.replace(r#""version": "1.0.0","#, "")).contains("`config.version`: missing"));
        assert!(error(&PSI.replace(r#""scouter_version": "0.25.0""#, r#""x": 1"#)).contains("`scouter_version`: missing"));
        let no_proportion = PSI.replace(r#", "proportion": 0.5}],"#, "}],");
        assert!(error(&no_proportion).contains("`features.age.bins[1].proportion`: missing"));
    }

    #[test]
    fn names_a_field_of_the_wrong_type() {
        let message = error(&PSI.replace(r#""upper_limit": 30.0"#, r#""upper_limit": "thirty""#));
        assert!(message.contains("`features.age.bins[0].upper_limit`"), "{message}");
        assert!(message.contains("thirty"), "{message}");
        let message = error(&PSI.replace(r#""bin_type": "Numeric""#, r#""bin_type": "Ordinal""#));
        assert!(message.contains("`features.age.bin_type`"), "{message}");
    }

    #[test]
    fn bad_json_and_unknown_drift_type_are_errors() {
        assert!(error("{nope").contains("not valid JSON"));
        assert!(error(&PSI.replace("PSI", "Kl")).contains("config.drift_type"));
        assert!(error(r#"{"config": 3}"#).contains("`config`"));
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = Profile::from_path("a", Path::new("/nonexistent/profile.json")).unwrap_err();
        assert_eq!(err.code(), "ERR_PROFILE_NOT_FOUND");
    }
}
