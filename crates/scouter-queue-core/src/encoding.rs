//! The insert encoding: how an item crosses from JavaScript. Each item is one
//! JSON object of `name: value`, the cheapest text JavaScript can build (for
//! `Features.from` it is `JSON.stringify` of the user's own object). Kinds
//! follow the value, as `Features.from` documents: an integer token is an
//! int, a token with a fraction or exponent a float, a string a string, a
//! boolean an int 0/1, `null` is skipped. A one-key object `{"Int"|"Float"|
//! "String": value}` states the kind outright, for what plain JSON cannot
//! say: non-finite floats ("NaN", "inf", "-inf") and integers beyond 2^53 (as
//! decimal text).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::record::{Feature, FloatFeature, IntFeature, Item, Metric, StringFeature};

/// Integers beyond this are not exact in JavaScript, so they arrive as floats
/// unless stated as `{"Int": "..."}`.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// What an alias's items are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `Features`, for Psi and Spc profiles.
    Features,
    /// `Metrics`, for Custom profiles.
    Metrics,
    /// Any JSON value, stored as it is (a plain file queue).
    Json,
}

/// Decodes one item of the given kind.
pub fn decode_item(kind: ItemKind, line: &str) -> Result<Item, String> {
    let cannot = |e: serde_json::Error| format!("cannot decode item {}: {e}", truncate(line, 120));
    match kind {
        ItemKind::Json => {
            serde_json::from_str::<serde::de::IgnoredAny>(line).map_err(cannot)?;
            Ok(Item::Json(line.to_owned()))
        }
        ItemKind::Features => entries(line)
            .map_err(cannot)?
            .into_iter()
            .filter_map(|(name, value)| feature(name, value).transpose())
            .collect::<Result<_, _>>()
            .map(Item::Features),
        ItemKind::Metrics => entries(line)
            .map_err(cannot)?
            .into_iter()
            .map(|(name, value)| Ok(Metric { value: float(&name, &value)?, name }))
            .collect::<Result<_, _>>()
            .map(Item::Metrics),
    }
}

fn feature(name: String, value: Value) -> Result<Option<Feature>, String> {
    Ok(Some(match value {
        Value::Null => return Ok(None),
        Value::Bool(b) => Feature::Int(IntFeature { name, value: b as i64 }),
        Value::Number(n) => match safe_integer(&n) {
            Some(value) => Feature::Int(IntFeature { name, value }),
            None => Feature::Float(FloatFeature { value: n.as_f64().unwrap_or(f64::NAN), name }),
        },
        Value::String(value) => Feature::String(StringFeature { name, value }),
        Value::Object(tagged) => return stated(name, tagged).map(Some),
        Value::Array(_) => return Err(format!("feature '{name}': an array is not a feature value")),
    }))
}

/// A feature whose kind is stated: `{"Int": 9007199254740993}` or `{"Float": "NaN"}`.
fn stated(name: String, tagged: Map<String, Value>) -> Result<Feature, String> {
    let mut entries = tagged.into_iter();
    let (Some((tag, value)), None) = (entries.next(), entries.next()) else {
        return Err(format!("feature '{name}': expected {{\"Int\"|\"Float\"|\"String\": value}}"));
    };
    match (tag.as_str(), value) {
        ("Int", Value::Number(n)) if n.is_i64() => Ok(Feature::Int(IntFeature { value: n.as_i64().unwrap_or(0), name })),
        ("Int", Value::String(text)) => text
            .parse()
            .map(|value| Feature::Int(IntFeature { name: name.clone(), value }))
            .map_err(|_| format!("feature '{name}': '{text}' is not a 64-bit integer")),
        ("Float", value) => Ok(Feature::Float(FloatFeature { value: float(&name, &value)?, name })),
        ("String", Value::String(value)) => Ok(Feature::String(StringFeature { name, value })),
        (tag, value) => Err(format!("feature '{name}': {value} is not a valid {tag}")),
    }
}

fn safe_integer(n: &Number) -> Option<i64> {
    n.as_i64().filter(|v| v.abs() <= MAX_SAFE_INTEGER)
}

fn float(name: &str, value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("'{name}': {n} is not a number")),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "inf" => Ok(f64::INFINITY),
        Value::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        other => Err(format!("'{name}': {other} is not a number")),
    }
}

/// The object's entries in order, duplicates kept (a `Map` would merge them).
fn entries(line: &str) -> Result<Vec<(String, Value)>, serde_json::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, Value)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of name: value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let entries = deserializer.deserialize_map(Entries)?;
    deserializer.end()?;
    Ok(entries)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(line: &str) -> Vec<Feature> {
        match decode_item(ItemKind::Features, line).unwrap() {
            Item::Features(f) => f,
            other => panic!("features expected, got {other:?}"),
        }
    }

    fn int(name: &str, value: i64) -> Feature {
        Feature::Int(IntFeature { name: name.into(), value })
    }

    fn float_(name: &str, value: f64) -> Feature {
        Feature::Float(FloatFeature { name: name.into(), value })
    }

    #[test]
    fn kinds_follow_the_tokens() {
        assert_eq!(
            features(r#"{"age":42,"income":5100.5,"whole":5100.0,"state":"CA","member":true,"spare":null,"big":1e21}"#),
            vec![
                int("age", 42),
                float_("income", 5100.5),
                float_("whole", 5100.0),
                Feature::String(StringFeature { name: "state".into(), value: "CA".into() }),
                int("member", 1),
                float_("big", 1e21),
            ]
        );
    }

    #[test]
    fn stated_kinds_carry_what_json_cannot() {
        let f = features(r#"{"n":{"Float":"NaN"},"i":{"Float":"-inf"},"b":{"Int":"9223372036854775807"},"s":{"String":"x"}}"#);
        assert!(matches!(&f[0], Feature::Float(x) if x.value.is_nan()));
        assert!(matches!(&f[1], Feature::Float(x) if x.value == f64::NEG_INFINITY));
        assert_eq!(f[2], int("b", i64::MAX));
        assert_eq!(features(r#"{"unsafe":9007199254740993}"#), vec![float_("unsafe", 9007199254740993.0)]);
    }

    #[test]
    fn keeps_order_and_duplicates() {
        assert_eq!(features(r#"{"b":1,"a":2,"b":3}"#), vec![int("b", 1), int("a", 2), int("b", 3)]);
    }

    #[test]
    fn metrics_are_floats() {
        let Item::Metrics(m) = decode_item(ItemKind::Metrics, r#"{"mape":1,"mae":"inf"}"#).unwrap() else { panic!() };
        assert_eq!(m[0], Metric { name: "mape".into(), value: 1.0 });
        assert_eq!(m[1].value, f64::INFINITY);
    }

    #[test]
    fn json_rows_are_kept_as_they_are_once_checked() {
        assert_eq!(decode_item(ItemKind::Json, r#"{"any":[1,"json"]}"#).unwrap(), Item::Json(r#"{"any":[1,"json"]}"#.into()));
        assert_eq!(decode_item(ItemKind::Json, "42").unwrap(), Item::Json("42".into()));
        assert!(decode_item(ItemKind::Json, "{oops").is_err());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in ["not json", "[1,2]", r#"{"a":[1]}"#, r#"{"a":{"Int":1.5}}"#, r#"{"a":{"Int":1,"Float":2}}"#, r#"{"a":1} trailing"#] {
            assert!(decode_item(ItemKind::Features, bad).is_err(), "{bad}");
        }
        assert!(decode_item(ItemKind::Metrics, r#"{"m":"x"}"#).is_err());
    }
}
