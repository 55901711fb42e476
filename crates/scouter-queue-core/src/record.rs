//! The items users insert (Features, Metrics) in Scouter's serde shape, and
//! the raw record a queue without aggregation publishes for each of them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// One named value, externally tagged as Scouter writes it: `{"Int":{"name":"age","value":42}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Feature {
    Int(IntFeature),
    Float(FloatFeature),
    String(StringFeature),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntFeature {
    pub name: String,
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloatFeature {
    pub name: String,
    #[serde(with = "non_finite")]
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringFeature {
    pub name: String,
    pub value: String,
}

impl Feature {
    pub fn name(&self) -> &str {
        match self {
            Feature::Int(f) => &f.name,
            Feature::Float(f) => &f.name,
            Feature::String(f) => &f.name,
        }
    }
}

/// A metric; names are lower-cased where the item is built (in JavaScript).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    #[serde(with = "non_finite")]
    pub value: f64,
}

/// Which kind of item a queue takes. Psi and Spc profiles take features,
/// Custom profiles take metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityType {
    Feature,
    Metric,
}

/// One inserted item, decoded on a worker thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Features(Vec<Feature>),
    Metrics(Vec<Metric>),
}

impl Item {
    /// Decodes one line of the insert encoding: a JSON array of features or
    /// metrics in Scouter's shape, which the JavaScript items build once.
    pub fn decode(entity: EntityType, line: &str) -> Result<Item, String> {
        match entity {
            EntityType::Feature => serde_json::from_str(line).map(Item::Features),
            EntityType::Metric => serde_json::from_str(line).map(Item::Metrics),
        }
        .map_err(|e| format!("cannot decode item {}: {e}", truncate(line, 120)))
    }
}

/// Where a queue's records come from: the profile's identity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueIdentity {
    pub space: String,
    pub name: String,
    pub version: String,
    pub uid: String,
}

/// What a queue without aggregation publishes for each item.
#[derive(Debug, Serialize)]
pub struct RawRecord<'a> {
    pub created_at: &'a str,
    pub space: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub uid: &'a str,
    pub entity_type: EntityType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<&'a [Feature]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<&'a [Metric]>,
}

/// Scouter's timestamp text: RFC 3339 in UTC with the fewest fraction digits
/// (0, 3, 6 or 9) that hold the non-zero part, then `Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// JSON has no NaN or infinities. Items carry them as the strings "NaN",
/// "inf" and "-inf" so they reach aggregation (which skips and counts them);
/// a raw record writes them back the same way rather than as `null`.
mod non_finite {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *v {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_str("NaN"),
            v if v > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText<'a> {
        Number(f64),
        Text(&'a str),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(v) => Ok(v),
            NumberOrText::Text("NaN") => Ok(f64::NAN),
            NumberOrText::Text("inf") => Ok(f64::INFINITY),
            NumberOrText::Text("-inf") => Ok(f64::NEG_INFINITY),
            NumberOrText::Text(other) => Err(de::Error::invalid_value(
                de::Unexpected::Str(other),
                &"a number, \"NaN\", \"inf\" or \"-inf\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn decodes_scouter_shaped_features() {
        let item = Item::decode(
            EntityType::Feature,
            r#"[{"Int":{"name":"age","value":42}},{"Float":{"name":"income","value":5100.5}},{"String":{"name":"state","value":"CA"}},{"Float":{"name":"x","value":"NaN"}}]"#,
        )
        .unwrap();
        let Item::Features(f) = item else { panic!("features expected") };
        assert_eq!(f.len(), 4);
        assert_eq!(f[0], Feature::Int(IntFeature { name: "age".into(), value: 42 }));
        assert!(matches!(&f[3], Feature::Float(x) if x.value.is_nan()));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(Item::decode(EntityType::Metric, "[{\"name\":1}]").is_err());
        assert!(Item::decode(EntityType::Feature, "not json").is_err());
    }

    #[test]
    fn timestamps_use_the_fewest_fraction_digits() {
        let t = Utc.with_ymd_and_hms(2026, 3, 26, 10, 15, 30).unwrap();
        assert_eq!(timestamp(t), "2026-03-26T10:15:30Z");
        let t = t + chrono::Duration::milliseconds(123);
        assert_eq!(timestamp(t), "2026-03-26T10:15:30.123Z");
        let t = t + chrono::Duration::nanoseconds(456);
        assert_eq!(timestamp(t), "2026-03-26T10:15:30.123000456Z");
    }
}
