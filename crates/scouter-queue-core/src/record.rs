//! The items users insert (Features, Metrics) in Scouter's serde shape, and
//! the raw record a queue without aggregation publishes for each of them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// One named value, externally tagged as Scouter writes it: `{"Int":{"name":"age","value":42}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Feature {
    Int(IntFeature),
    Float(FloatFeature),
    String(StringFeature),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntFeature {
    pub name: String,
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloatFeature {
    pub name: String,
    #[serde(serialize_with = "non_finite")]
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    pub name: String,
    #[serde(serialize_with = "non_finite")]
    pub value: f64,
}

/// Which kind of item a queue takes. Psi and Spc profiles take features,
/// Custom profiles take metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EntityType {
    Feature,
    Metric,
}

/// One inserted item, decoded on a worker thread (see `encoding`).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Features(Vec<Feature>),
    Metrics(Vec<Metric>),
    /// A row of a plain file queue: JSON text, kept as it is.
    Json(String),
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

/// JSON has no NaN or infinities: a raw record writes them as the strings
/// "NaN", "inf" and "-inf" rather than as `null`, as the insert encoding does.
fn non_finite<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        v if v.is_finite() => s.serialize_f64(v),
        v if v.is_nan() => s.serialize_str("NaN"),
        v if v > 0.0 => s.serialize_str("inf"),
        _ => s.serialize_str("-inf"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
