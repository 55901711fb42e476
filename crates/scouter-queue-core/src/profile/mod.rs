//! Profile files: one per alias, in the JSON shape Scouter writes. This module
//! reads the part every queue needs (identity and drift type); aggregation
//! reads the rest from `document`.

use std::path::Path;

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

/// A loaded profile: what identifies the queue and what kind of items it takes.
#[derive(Debug, Clone)]
pub struct Profile {
    pub alias: String,
    pub identity: QueueIdentity,
    pub drift_type: DriftType,
    /// The whole file, for the aggregators that need more of it.
    pub document: Value,
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
        let text_field = |name: &str| -> Result<String> {
            match config.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(invalid(&format!("config.{name}"), format!("expected a string, found {other}"))),
                None => Err(invalid(&format!("config.{name}"), "missing".into())),
            }
        };
        let drift_text = text_field("drift_type")?;
        let drift_type = DriftType::parse(&drift_text).ok_or_else(|| {
            invalid("config.drift_type", format!("'{drift_text}' is not one of Psi, Spc, Custom"))
        })?;
        let identity = QueueIdentity {
            space: text_field("space")?,
            name: text_field("name")?,
            version: text_field("version")?,
            // Older profiles have no uid; the identity path stands in for it.
            uid: match config.get("uid") {
                None | Some(Value::Null) => String::new(),
                Some(_) => text_field("uid")?,
            },
        };
        Ok(Profile {
            alias: alias.to_owned(),
            identity,
            drift_type,
            document,
        })
    }

    /// Scouter's queue identity: `{space}/{name}/v{version}/{psi|spc|custom}`.
    pub fn queue_id(&self) -> String {
        let QueueIdentity { space, name, version, .. } = &self.identity;
        format!("{space}/{name}/v{version}/{}", self.drift_type.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSI: &str = r#"{"features":{},"config":{"space":"s","name":"credit","version":"1.0.0","uid":"u1","drift_type":"PSI"},"scouter_version":"0.25.0"}"#;

    #[test]
    fn loads_identity_and_matches_drift_type_without_case() {
        let p = Profile::from_json("credit", "inline", PSI).unwrap();
        assert_eq!(p.drift_type, DriftType::Psi);
        assert_eq!(p.queue_id(), "s/credit/v1.0.0/psi");
        assert_eq!(p.identity.uid, "u1");
    }

    #[test]
    fn names_the_missing_field() {
        let text = PSI.replace(r#""version":"1.0.0","#, "");
        let err = Profile::from_json("credit", "credit.json", &text).unwrap_err();
        assert_eq!(err.code(), "ERR_PROFILE_INVALID");
        assert!(err.to_string().contains("config.version"), "{err}");
        assert!(err.to_string().contains("credit.json"), "{err}");
    }

    #[test]
    fn bad_json_and_unknown_drift_type_are_errors() {
        let err = Profile::from_json("a", "a.json", "{nope").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"));
        let err = Profile::from_json("a", "a.json", &PSI.replace("PSI", "Kl")).unwrap_err();
        assert!(err.to_string().contains("config.drift_type"));
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = Profile::from_path("a", Path::new("/nonexistent/profile.json")).unwrap_err();
        assert_eq!(err.code(), "ERR_PROFILE_NOT_FOUND");
    }
}
