//! Scouter's `ServerRecords`, the message its server reads from every
//! transport: `{"records":[{"Psi":{...}}, ...]}`, each record tagged by its
//! kind, fields in declaration order, compact. One message holds one kind
//! (the server takes the kind from the first record). HTTP alone sends every
//! object's keys in alphabetical order, as Scouter's client does by going
//! through a generic JSON value: see [`alphabetical`].

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct ServerRecords<'a> {
    pub records: Vec<ServerRecord<'a>>,
}

/// Externally tagged, as Scouter's enum is: `{"Spc":{...}}`.
#[derive(Debug, Serialize)]
pub enum ServerRecord<'a> {
    Spc(SpcRecord<'a>),
    Psi(PsiRecord<'a>),
    Custom(CustomMetricRecord<'a>),
}

/// The mean of one feature over one sample. `value` is always finite.
#[derive(Debug, Serialize)]
pub struct SpcRecord<'a> {
    pub created_at: &'a str,
    pub uid: &'a str,
    pub feature: &'a str,
    pub value: f64,
    pub entity_id: i32,
}

/// The count of one bin of one feature.
#[derive(Debug, Serialize)]
pub struct PsiRecord<'a> {
    pub created_at: &'a str,
    pub uid: &'a str,
    pub feature: &'a str,
    pub bin_id: i32,
    pub bin_count: i32,
    pub entity_id: i32,
}

/// The mean of one metric over one sample. `value` is always finite.
#[derive(Debug, Serialize)]
pub struct CustomMetricRecord<'a> {
    pub created_at: &'a str,
    pub uid: &'a str,
    pub metric: &'a str,
    pub value: f64,
    pub entity_id: i32,
}

/// Scouter sends 0 and its server ignores it, but the field must be there.
pub const ENTITY_ID: i32 = 0;

impl ServerRecords<'_> {
    /// The compact JSON, keys in declaration order (file, Kafka, RabbitMQ).
    pub fn to_json(&self) -> String {
        // Only strings, integers and finite floats: serde_json cannot fail on them.
        serde_json::to_string(self).expect("ServerRecords always serialize")
    }
}

/// The same JSON with every object's keys in alphabetical order, as HTTP
/// carries it. serde_json's `Value` keeps its keys sorted (the crate's
/// `preserve_order` feature is off), and numbers keep their text: `1.0`
/// stays `1.0`.
pub fn alphabetical(payload: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<Value>(payload).map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-03-26T10:15:30.123456Z";

    fn golden(name: &str) -> String {
        let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim_end().to_owned()
    }

    /// What the golden files hold (see their README).
    fn one_of_each_value() -> [ServerRecords<'static>; 3] {
        let psi = |bin_id, bin_count| {
            let uid = "0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d2e";
            ServerRecord::Psi(PsiRecord { created_at: AT, uid, feature: "age", bin_id, bin_count, entity_id: ENTITY_ID })
        };
        let spc = |feature, value| {
            let uid = "0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d30";
            ServerRecord::Spc(SpcRecord { created_at: AT, uid, feature, value, entity_id: ENTITY_ID })
        };
        let custom = |metric, value| {
            let uid = "0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d2f";
            ServerRecord::Custom(CustomMetricRecord { created_at: AT, uid, metric, value, entity_id: ENTITY_ID })
        };
        [
            ServerRecords { records: vec![psi(1, 2), psi(2, 0), psi(3, 0)] },
            ServerRecords { records: vec![spc("age", 1.0), spc("income", 0.1 + 0.2)] },
            ServerRecords { records: vec![custom("mae", 1e21), custom("mape", -2.5e-7)] },
        ]
    }

    #[test]
    fn declaration_order_matches_the_golden_files() {
        let [psi, spc, custom] = one_of_each_value();
        assert_eq!(psi.to_json(), golden("psi.json"));
        assert_eq!(spc.to_json(), golden("spc.json"));
        assert_eq!(custom.to_json(), golden("custom.json"));
    }

    #[test]
    fn http_sorts_every_object_and_keeps_the_numbers_text() {
        let [psi, spc, custom] = one_of_each_value();
        assert_eq!(alphabetical(&psi.to_json()).unwrap(), golden("psi.http.json"));
        assert_eq!(alphabetical(&spc.to_json()).unwrap(), golden("spc.http.json"));
        assert_eq!(alphabetical(&custom.to_json()).unwrap(), golden("custom.http.json"));
    }
}
