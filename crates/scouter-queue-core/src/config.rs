//! How a queue is configured, in the JSON shape the TypeScript API passes
//! through (camelCase). Defaults live here, once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::aggregate::Settings;
use crate::error::{Error, Result};
use crate::filequeue::FileQueueOptions;

/// Where each alias's profile comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AliasSpec {
    pub alias: String,
    /// A profile file to read...
    pub path: Option<PathBuf>,
    /// ...or the profile itself...
    pub profile: Option<serde_json::Value>,
    /// ...or none: a plain file queue of JSON rows, stored as they are.
    #[serde(default)]
    pub json: bool,
}

/// Everything `ScouterQueue::start` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    pub aliases: Vec<AliasSpec>,
    #[serde(default)]
    pub transport: TransportConfig,
    /// Bytes that may wait in memory per alias before items spill to disk.
    #[serde(default = "default_budget")]
    pub memory_budget_bytes: u64,
    #[serde(default)]
    pub overflow: OverflowPolicy,
    /// Where a network transport's alias spills what it cannot deliver
    /// (`<spillDir>/<alias>`), and replays it from once the transport is back.
    #[serde(default = "default_spill_dir")]
    pub spill_dir: PathBuf,
    /// Off: every item is published as a raw record instead of Scouter's drift records.
    #[serde(default = "default_aggregate")]
    pub aggregate: bool,
    /// The timed flush of Psi and Custom aggregates; unset, from
    /// `SCOUTER_QUEUE_PUBLISH_INTERVAL_SECS`, else 30 s.
    pub publish_interval_ms: Option<u64>,
}

/// What happens to items beyond the memory budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OverflowPolicy {
    /// Write them to the spill file queue (nothing is lost).
    #[default]
    Spill,
    /// Discard and count them.
    Drop,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TransportConfig {
    File(FileTransportConfig),
    Rabbitmq(RabbitMqConfig),
    Http(HttpTransportConfig),
    Kafka(KafkaConfig),
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig::File(FileTransportConfig::default())
    }
}

/// The embedded default: each alias writes the file queue `<dir>/<alias>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FileTransportConfig {
    pub dir: PathBuf,
    pub max_events_per_file: usize,
    pub max_batch_age_ms: u64,
    pub commit_every_rows: usize,
    pub commit_every_ms: u64,
    /// Writers hold records in memory (within the budget) while this many
    /// batches wait for readers.
    pub max_ready_files: Option<usize>,
}

impl Default for FileTransportConfig {
    fn default() -> Self {
        let defaults = FileQueueOptions::new(default_data_dir(), "");
        FileTransportConfig {
            dir: defaults.dir,
            max_events_per_file: defaults.max_events_per_file,
            max_batch_age_ms: defaults.max_batch_age.as_millis() as u64,
            commit_every_rows: defaults.commit_every_rows,
            commit_every_ms: defaults.commit_every.as_millis() as u64,
            max_ready_files: defaults.max_ready_files,
        }
    }
}

/// Scouter's HTTP transport. Unset fields come from the environment as
/// Scouter's client reads it (see [`HttpTransportConfig::settings`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct HttpTransportConfig {
    pub server_uri: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub auth_token: Option<String>,
    pub timeout_ms: Option<u64>,
    pub max_retries: Option<u32>,
}

impl HttpTransportConfig {
    /// Every setting resolved: given, else from the environment, else the default.
    pub fn settings(&self) -> Result<HttpSettings> {
        self.resolve(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<HttpSettings> {
        let pick = |given: &Option<String>, name: &str, default: &str| {
            given.clone().or_else(|| env(name)).unwrap_or_else(|| default.to_owned())
        };
        let server_uri = pick(&self.server_uri, "SCOUTER_SERVER_URI", "http://localhost:8000");
        if !(server_uri.starts_with("http://") || server_uri.starts_with("https://")) {
            return Err(Error::InvalidConfig(format!("serverUri '{server_uri}' must start with http:// or https://")));
        }
        Ok(HttpSettings {
            server_uri: server_uri.trim_end_matches('/').to_owned(),
            username: pick(&self.username, "SCOUTER_USERNAME", "guest"),
            password: pick(&self.password, "SCOUTER_PASSWORD", "guest"),
            auth_token: self.auth_token.clone().or_else(|| env("SCOUTER_AUTH_TOKEN")).filter(|t| !t.is_empty()),
            timeout: Duration::from_millis(self.timeout_ms.unwrap_or(60_000)),
            max_retries: self.max_retries.unwrap_or(3),
        })
    }
}

/// RabbitMQ, as Scouter's client configures it. Unset fields come from the
/// environment Scouter reads (see [`RabbitMqConfig::settings`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RabbitMqConfig {
    /// The whole address; when set, host, port, username, password and vhost are not used.
    pub address: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub vhost: Option<String>,
    pub queue: Option<String>,
    pub exchange: Option<String>,
    pub routing_key: Option<String>,
    pub max_retries: Option<u32>,
    pub connect_timeout_ms: Option<u64>,
    pub max_in_flight: Option<usize>,
}

impl RabbitMqConfig {
    /// Every setting resolved: given, else from the environment, else the default.
    pub fn settings(&self) -> Result<RabbitMqSettings> {
        self.resolve(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<RabbitMqSettings> {
        let address = match self.address.clone().or_else(|| env("RABBITMQ_ADDR")) {
            Some(address) => address,
            None => {
                let host = self.host.clone().or_else(|| env("RABBITMQ_HOST")).unwrap_or_else(|| "localhost".into());
                let port = match (self.port, env("RABBITMQ_PORT")) {
                    (Some(port), _) => port,
                    (None, Some(text)) => text
                        .parse()
                        .map_err(|_| Error::InvalidConfig(format!("RABBITMQ_PORT='{text}' is not a port")))?,
                    (None, None) => 5672,
                };
                let credentials = match self.username.clone().or_else(|| env("RABBITMQ_USERNAME")) {
                    Some(user) => {
                        let password = self.password.clone().or_else(|| env("RABBITMQ_PASSWORD")).unwrap_or_default();
                        format!("{}:{}@", percent_encode(&user), percent_encode(&password))
                    }
                    None => String::new(),
                };
                let vhost = percent_encode(self.vhost.as_deref().unwrap_or("/"));
                format!("amqp://{credentials}{host}:{port}/{vhost}")
            }
        };
        if !(address.starts_with("amqp://") || address.starts_with("amqps://")) {
            return Err(Error::InvalidConfig(format!("RabbitMQ address '{address}' must start with amqp://")));
        }
        let queue = self.queue.clone().or_else(|| env("RABBITMQ_QUEUE")).unwrap_or_else(|| "scouter_monitoring".into());
        Ok(RabbitMqSettings {
            address,
            routing_key: self.routing_key.clone().unwrap_or_else(|| queue.clone()),
            queue,
            exchange: self.exchange.clone().unwrap_or_default(),
            max_retries: self.max_retries.unwrap_or(3),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.unwrap_or(5_000)),
            max_in_flight: self.max_in_flight.unwrap_or(10_000).max(1),
        })
    }
}

/// Percent-encodes what an AMQP URI cannot hold as is (a vhost's `/`, a password's `@`).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// RabbitMQ's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RabbitMqSettings {
    /// `amqp://user:pass@host:port/vhost`.
    pub address: String,
    /// Declared durable at start.
    pub queue: String,
    /// `""` is the default exchange, which routes by queue name.
    pub exchange: String,
    pub routing_key: String,
    /// Connection attempts at start, after the first, before it fails.
    pub max_retries: u32,
    pub connect_timeout: Duration,
    /// Unconfirmed messages beyond which the producer takes no more.
    pub max_in_flight: usize,
}

/// Kafka, as Scouter's client configures it. Unset fields come from the
/// environment Scouter reads (see [`KafkaConfig::settings`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// `bootstrap.servers`, comma-separated.
    pub brokers: Option<String>,
    pub topic: Option<String>,
    /// none, gzip, snappy, lz4 or zstd.
    pub compression_type: Option<String>,
    pub message_timeout_ms: Option<u64>,
    pub message_max_bytes: Option<u64>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub security_protocol: Option<String>,
    pub sasl_mechanism: Option<String>,
    pub max_retries: Option<u32>,
    /// librdkafka's own settings, by its names; they win over every field above.
    pub config: BTreeMap<String, serde_json::Value>,
    /// Absent: the alias's queue identity; `null`: no key, as Scouter sends.
    #[serde(deserialize_with = "present")]
    pub key: Option<Option<String>>,
    pub connect_timeout_ms: Option<u64>,
    pub max_in_flight: Option<usize>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

const COMPRESSION_TYPES: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

impl KafkaConfig {
    /// Every setting resolved: given, else from the environment, else the default.
    pub fn settings(&self) -> Result<KafkaSettings> {
        self.resolve(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<KafkaSettings> {
        let either = |given: &Option<String>, names: &[&str]| given.clone().or_else(|| names.iter().find_map(|name| env(name)));
        let compression = self.compression_type.clone().unwrap_or_else(|| "gzip".into());
        if !COMPRESSION_TYPES.contains(&compression.as_str()) {
            return Err(Error::InvalidConfig(format!(
                "compressionType '{compression}' is not one of {}",
                COMPRESSION_TYPES.join(", ")
            )));
        }
        let mut client = BTreeMap::new();
        let mut set = |name: &str, value: String| client.insert(name.to_owned(), value);
        set("bootstrap.servers", either(&self.brokers, &["KAFKA_BROKERS"]).unwrap_or_else(|| "localhost:9092".into()));
        set("compression.type", compression);
        set("message.timeout.ms", self.message_timeout_ms.unwrap_or(600_000).to_string());
        set("message.max.bytes", self.message_max_bytes.unwrap_or(2_097_164).to_string());
        // Beyond Scouter: no duplicates from librdkafka's own retries, and
        // one alias's messages stay in order on their partition.
        set("enable.idempotence", "true".into());
        // Back within 2 s of the brokers, not librdkafka's 10 s.
        set("reconnect.backoff.max.ms", "2000".into());
        set("client.id", "scouter-queue".into());
        let username = either(&self.username, &["KAFKA_USERNAME", "KAFKA_KEY"]);
        let password = either(&self.password, &["KAFKA_PASSWORD", "KAFKA_SECRET"]);
        let protocol = either(&self.security_protocol, &["KAFKA_SECURITY_PROTOCOL"]);
        match (username, password) {
            (Some(username), Some(password)) => {
                set("security.protocol", protocol.unwrap_or_else(|| "SASL_SSL".into()));
                set("sasl.mechanism", either(&self.sasl_mechanism, &["KAFKA_SASL_MECHANISM"]).unwrap_or_else(|| "PLAIN".into()));
                set("sasl.username", username);
                set("sasl.password", password);
            }
            (None, None) => {
                if let Some(protocol) = protocol {
                    set("security.protocol", protocol);
                }
            }
            (Some(_), None) => return Err(Error::InvalidConfig("a Kafka username is given (username, KAFKA_USERNAME or KAFKA_KEY) but no password (password, KAFKA_PASSWORD or KAFKA_SECRET)".into())),
            (None, Some(_)) => return Err(Error::InvalidConfig("a Kafka password is given (password, KAFKA_PASSWORD or KAFKA_SECRET) but no username (username, KAFKA_USERNAME or KAFKA_KEY)".into())),
        }
        for (name, value) in &self.config {
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
                other => return Err(Error::InvalidConfig(format!("config['{name}'] must be a string, number or boolean, not {other}"))),
            };
            set(name, text);
        }
        let topic = either(&self.topic, &["SCOUTER_KAFKA_TOPIC", "KAFKA_TOPIC"]).unwrap_or_else(|| "scouter_monitoring".into());
        if topic.is_empty() {
            return Err(Error::InvalidConfig("the Kafka topic must not be empty".into()));
        }
        Ok(KafkaSettings {
            client,
            topic,
            key: match &self.key {
                None => KafkaKey::Identity,
                Some(None) => KafkaKey::None,
                Some(Some(key)) => KafkaKey::Fixed(key.clone()),
            },
            max_retries: self.max_retries.unwrap_or(3),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.unwrap_or(10_000)),
            max_in_flight: self.max_in_flight.unwrap_or(100_000).max(1),
        })
    }
}

/// The key each message is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaKey {
    /// The alias's queue identity (`space/name/vVersion/kind`, or the alias
    /// for a JSON queue): one alias, one partition, its order kept.
    Identity,
    Fixed(String),
    /// No key: librdkafka spreads messages over partitions.
    None,
}

/// Kafka's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Everything handed to librdkafka, by its names.
    pub client: BTreeMap<String, String>,
    pub topic: String,
    pub key: KafkaKey,
    /// Metadata requests at start, after the first, before it fails.
    pub max_retries: u32,
    /// How long one metadata request at start may wait for a broker.
    pub connect_timeout: Duration,
    /// Unacknowledged messages per alias beyond which the producer takes no more.
    pub max_in_flight: usize,
}

/// The HTTP transport's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Without a trailing slash; the API is under `{server_uri}/scouter`.
    pub server_uri: String,
    pub username: String,
    pub password: String,
    /// A token issued beforehand: used as the bearer token before any login.
    pub auth_token: Option<String>,
    /// Per request, connecting included.
    pub timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx and unreachable servers.
    pub max_retries: u32,
}

impl FileTransportConfig {
    pub fn queue(&self, name: &str) -> Result<FileQueueOptions> {
        if self.max_events_per_file == 0 || self.commit_every_rows == 0 {
            return Err(Error::InvalidConfig(
                "maxEventsPerFile and commitEveryRows must be at least 1".into(),
            ));
        }
        Ok(FileQueueOptions {
            dir: self.dir.clone(),
            name: name.to_owned(),
            max_events_per_file: self.max_events_per_file,
            max_batch_age: Duration::from_millis(self.max_batch_age_ms),
            commit_every_rows: self.commit_every_rows,
            commit_every: Duration::from_millis(self.commit_every_ms),
            max_ready_files: self.max_ready_files,
        })
    }
}

impl QueueConfig {
    pub fn from_json(text: &str) -> Result<QueueConfig> {
        let config: QueueConfig =
            serde_json::from_str(text).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        if config.aliases.is_empty() {
            return Err(Error::InvalidConfig("at least one alias is needed".into()));
        }
        Ok(config)
    }

    /// A queue of one alias of JSON rows, stored as they are, on `transport`.
    pub fn json_rows(name: &str, transport: TransportConfig) -> QueueConfig {
        QueueConfig {
            aliases: vec![AliasSpec { alias: name.to_owned(), path: None, profile: None, json: true }],
            transport,
            memory_budget_bytes: default_budget(),
            overflow: OverflowPolicy::default(),
            spill_dir: default_spill_dir(),
            aggregate: default_aggregate(),
            publish_interval_ms: None,
        }
    }

    /// How items are aggregated, with the publish interval resolved.
    pub fn aggregation(&self) -> Result<Settings> {
        let env = std::env::var(PUBLISH_INTERVAL_ENV).ok();
        Ok(Settings {
            aggregate: self.aggregate,
            publish_interval: publish_interval(self.publish_interval_ms, env.as_deref())?,
        })
    }

    /// Where an alias's spilled items go: the file transport spills into
    /// its own queue, so a reader finds every item in one place. Spilling
    /// ignores `max_ready_files`: past the memory budget, disk is the only
    /// place where nothing is lost.
    pub fn spill_queue(&self, alias: &str) -> Result<FileQueueOptions> {
        let queue = match &self.transport {
            TransportConfig::File(file) => file.queue(alias)?,
            // Rolled soon, so replay can start soon after the transport is back.
            _ => FileQueueOptions {
                max_batch_age: Duration::from_secs(1),
                ..FileQueueOptions::new(&self.spill_dir, alias)
            },
        };
        Ok(FileQueueOptions { max_ready_files: None, ..queue })
    }

    /// The spill queue an alias replays from: none where the spill is the
    /// transport's own queue.
    pub fn replay_queue(&self, alias: &str) -> Result<Option<FileQueueOptions>> {
        match &self.transport {
            TransportConfig::File(_) => Ok(None),
            _ => self.spill_queue(alias).map(Some),
        }
    }
}

const PUBLISH_INTERVAL_ENV: &str = "SCOUTER_QUEUE_PUBLISH_INTERVAL_SECS";
const DEFAULT_PUBLISH_INTERVAL: Duration = Duration::from_secs(30);

/// The configured interval wins, then the environment's (seconds, as
/// Scouter reads it; fractions allowed), then 30 s.
fn publish_interval(configured_ms: Option<u64>, env: Option<&str>) -> Result<Duration> {
    let interval = match (configured_ms, env.map(str::trim).filter(|v| !v.is_empty())) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(secs)) => secs
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| Error::InvalidConfig(format!("{PUBLISH_INTERVAL_ENV}='{secs}' is not a number of seconds")))?,
        (None, None) => DEFAULT_PUBLISH_INTERVAL,
    };
    if interval.is_zero() {
        return Err(Error::InvalidConfig("the publish interval must be more than 0".into()));
    }
    Ok(interval)
}

fn default_aggregate() -> bool {
    true
}

fn default_budget() -> u64 {
    64 * 1024 * 1024
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("scouter-queue-data")
}

fn default_spill_dir() -> PathBuf {
    default_data_dir().join("spill")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_publish_interval_comes_from_the_config_then_the_environment_then_30_s() {
        assert_eq!(publish_interval(Some(250), Some("5")).unwrap(), Duration::from_millis(250));
        assert_eq!(publish_interval(None, Some("5")).unwrap(), Duration::from_secs(5));
        assert_eq!(publish_interval(None, Some(" 0.5 ")).unwrap(), Duration::from_millis(500));
        assert_eq!(publish_interval(None, Some("")).unwrap(), Duration::from_secs(30));
        assert_eq!(publish_interval(None, None).unwrap(), Duration::from_secs(30));
        for bad in ["soon", "-1", "0"] {
            let err = publish_interval(None, Some(bad)).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_CONFIG", "{bad}");
        }
        assert!(publish_interval(None, Some("soon")).unwrap_err().to_string().contains(PUBLISH_INTERVAL_ENV));
    }

    #[test]
    fn http_settings_come_from_the_config_then_scouters_environment() {
        let env = |name: &str| match name {
            "SCOUTER_SERVER_URI" => Some("https://scouter.example/".to_owned()),
            "SCOUTER_USERNAME" => Some("env-user".to_owned()),
            "SCOUTER_AUTH_TOKEN" => Some("t0".to_owned()),
            _ => None,
        };
        let given = HttpTransportConfig { username: Some("me".into()), max_retries: Some(1), ..Default::default() };
        assert_eq!(
            given.resolve(env).unwrap(),
            HttpSettings {
                server_uri: "https://scouter.example".into(),
                username: "me".into(),
                password: "guest".into(),
                auth_token: Some("t0".into()),
                timeout: Duration::from_secs(60),
                max_retries: 1,
            }
        );
        let defaults = HttpTransportConfig::default().resolve(|_| None).unwrap();
        assert_eq!((defaults.server_uri.as_str(), defaults.auth_token), ("http://localhost:8000", None));
        let bad = HttpTransportConfig { server_uri: Some("localhost:8000".into()), ..Default::default() };
        assert_eq!(bad.resolve(|_| None).unwrap_err().code(), "ERR_INVALID_CONFIG");
    }

    #[test]
    fn rabbitmq_settings_come_from_the_config_then_scouters_environment() {
        let env = |name: &str| match name {
            "RABBITMQ_HOST" => Some("broker".to_owned()),
            "RABBITMQ_USERNAME" => Some("me".to_owned()),
            "RABBITMQ_PASSWORD" => Some("p@ss".to_owned()),
            _ => None,
        };
        let built = RabbitMqConfig::default().resolve(env).unwrap();
        assert_eq!(built.address, "amqp://me:p%40ss@broker:5672/%2F");
        assert_eq!((built.queue.as_str(), built.routing_key.as_str(), built.exchange.as_str()), ("scouter_monitoring", "scouter_monitoring", ""));
        let given = RabbitMqConfig { address: Some("amqp://x/%2f".into()), queue: Some("q".into()), ..Default::default() };
        assert_eq!(given.resolve(env).unwrap().address, "amqp://x/%2f");
        let bare = RabbitMqConfig::default().resolve(|_| None).unwrap();
        assert_eq!(bare.address, "amqp://localhost:5672/%2F");
        let bad = RabbitMqConfig { address: Some("localhost".into()), ..Default::default() };
        assert_eq!(bad.resolve(|_| None).unwrap_err().code(), "ERR_INVALID_CONFIG");
    }

    #[test]
    fn kafka_settings_come_from_the_config_then_scouters_environment() {
        let env = |name: &str| match name {
            "KAFKA_BROKERS" => Some("b1:9092,b2:9092".to_owned()),
            "KAFKA_TOPIC" => Some("from_kafka_topic".to_owned()),
            "KAFKA_KEY" => Some("key-user".to_owned()),
            "KAFKA_SECRET" => Some("s3cret".to_owned()),
            _ => None,
        };
        let built = KafkaConfig::default().resolve(env).unwrap();
        let get = |name: &str| built.client.get(name).map(String::as_str);
        assert_eq!(get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        assert_eq!((get("compression.type"), get("message.timeout.ms"), get("message.max.bytes")), (Some("gzip"), Some("600000"), Some("2097164")));
        assert_eq!((get("security.protocol"), get("sasl.mechanism")), (Some("SASL_SSL"), Some("PLAIN")));
        assert_eq!((get("sasl.username"), get("sasl.password")), (Some("key-user"), Some("s3cret")));
        assert_eq!((built.topic.as_str(), &built.key, built.max_retries), ("from_kafka_topic", &KafkaKey::Identity, 3));

        let scouter_topic = |name: &str| if name == "SCOUTER_KAFKA_TOPIC" { Some("first".to_owned()) } else { env(name) };
        assert_eq!(KafkaConfig::default().resolve(scouter_topic).unwrap().topic, "first");

        let bare = KafkaConfig::default().resolve(|_| None).unwrap();
        assert_eq!(bare.client.get("bootstrap.servers").map(String::as_str), Some("localhost:9092"));
        assert_eq!(bare.topic, "scouter_monitoring");
        assert!(!bare.client.contains_key("security.protocol") && !bare.client.contains_key("sasl.username"));

        let given: KafkaConfig = serde_json::from_str(
            r#"{"brokers":"k:1","compressionType":"zstd","key":null,"securityProtocol":"SASL_PLAINTEXT","config":{"linger.ms":20,"compression.type":"lz4","enable.idempotence":false}}"#,
        )
        .unwrap();
        let built = given.resolve(env).unwrap();
        let get = |name: &str| built.client.get(name).map(String::as_str);
        assert_eq!((get("bootstrap.servers"), get("security.protocol")), (Some("k:1"), Some("SASL_PLAINTEXT")));
        // `config` is librdkafka's own word: it wins.
        assert_eq!((get("linger.ms"), get("compression.type"), get("enable.idempotence")), (Some("20"), Some("lz4"), Some("false")));
        assert_eq!(built.key, KafkaKey::None);
        let fixed: KafkaConfig = serde_json::from_str(r#"{"key":"k"}"#).unwrap();
        assert_eq!(fixed.resolve(|_| None).unwrap().key, KafkaKey::Fixed("k".into()));

        for bad in [
            r#"{"compressionType":"brotli"}"#,
            r#"{"username":"me"}"#,
            r#"{"config":{"linger.ms":[1]}}"#,
            r#"{"topic":""}"#,
        ] {
            let config: KafkaConfig = serde_json::from_str(bad).unwrap();
            assert_eq!(config.resolve(|_| None).unwrap_err().code(), "ERR_INVALID_CONFIG", "{bad}");
        }
        let brotli: KafkaConfig = serde_json::from_str(r#"{"compressionType":"brotli"}"#).unwrap();
        assert!(brotli.resolve(|_| None).unwrap_err().to_string().contains("'brotli' is not one of none, gzip, snappy, lz4, zstd"));
    }

    #[test]
    fn aggregation_is_on_by_default() {
        let config = QueueConfig::from_json(r#"{"aliases":[{"alias":"a","path":"a.json"}]}"#).unwrap();
        assert!(config.aggregate);
        let config = QueueConfig::from_json(r#"{"aliases":[{"alias":"a","path":"a.json"}],"aggregate":false,"publishIntervalMs":100}"#).unwrap();
        assert_eq!(config.aggregation().unwrap(), Settings { aggregate: false, publish_interval: Duration::from_millis(100) });
    }
}
