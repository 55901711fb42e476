//! ScouterQueue: the set of aliases started together, and their shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::aggregate::{self, Aggregator, PassthroughAggregator, Settings};
use crate::bus::QueueBus;
use crate::config::{AliasSpec, KafkaKey, QueueConfig, TransportConfig};
use crate::encoding::ItemKind;
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::filequeue::{self, FileQueueOptions};
use crate::record::EntityType;
use crate::report::{AliasReport, BackgroundError, Counters, EventListener, QueueEvent};
use crate::transport::{FileProducer, HttpClient, HttpProducer, KafkaClient, KafkaProducer, Producer, RabbitMqProducer};
use crate::worker::{Replay, Role, WorkerParts};

/// How long past its deadline shutdown still waits for a worker.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub struct ScouterQueue {
    buses: Vec<QueueBus>,
    index: HashMap<String, usize>,
    deadline: watch::Sender<Option<Instant>>,
    /// One flag per worker (main and spill), set when it has finished.
    finished: Vec<watch::Receiver<bool>>,
}

impl ScouterQueue {
    /// Loads every profile, starts every alias's workers on the shared
    /// runtime, and returns once each transport is ready. Must be called
    /// from within the runtime.
    pub async fn start(config: QueueConfig, on_event: EventListener) -> Result<ScouterQueue> {
        let aliases = config.aliases.iter().map(Alias::load).collect::<Result<Vec<_>>>()?;

        let (deadline, _) = watch::channel(None);
        let mut queue = ScouterQueue {
            buses: Vec::new(),
            index: HashMap::new(),
            deadline,
            finished: Vec::new(),
        };
        let all_failed = |e: Error| match e {
            Error::InvalidConfig(_) => e,
            e => Error::StartFailed {
                alias: aliases.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", "),
                reason: e.to_string(),
            },
        };
        // One HTTP client for every alias: one pool of connections, one login.
        let http = match &config.transport {
            TransportConfig::Http(http) => Some(HttpClient::connect(http.settings()?).await.map_err(all_failed)?),
            _ => None,
        };
        // One librdkafka client for every alias: one set of connections and threads.
        let kafka = match &config.transport {
            TransportConfig::Kafka(kafka) => {
                let settings = kafka.settings()?;
                Some((KafkaClient::connect(settings.clone()).await.map_err(all_failed)?, settings))
            }
            _ => None,
        };
        for alias in aliases {
            if queue.index.contains_key(&alias.name) {
                return Err(Error::InvalidConfig(format!("alias '{}' is given twice", alias.name)));
            }
            let bus = match (&config.transport, &http) {
                (TransportConfig::Kafka(_), _) => {
                    let producer = kafka
                        .as_ref()
                        .map(|(client, settings)| {
                            let key = alias.kafka_key(&settings.key);
                            KafkaProducer::new(client.clone(), key, settings.max_in_flight, config.memory_budget_bytes)
                        })
                        .ok_or_else(|| Error::Transport("the Kafka client is missing".into()));
                    queue.start_alias(&config, &alias, producer, &on_event)?
                }
                (TransportConfig::File(file), _) => {
                    let producer = file.queue(&alias.name).and_then(FileProducer::new);
                    queue.start_alias(&config, &alias, producer, &on_event)?
                }
                (TransportConfig::Rabbitmq(rabbitmq), _) => {
                    let producer = match rabbitmq.settings() {
                        Ok(settings) => RabbitMqProducer::connect(settings).await,
                        Err(error) => Err(error),
                    };
                    queue.start_alias(&config, &alias, producer, &on_event)?
                }
                (TransportConfig::Http(_), client) => {
                    let producer = client
                        .clone()
                        .map(|client| HttpProducer::new(client, queue.deadline.subscribe()))
                        .ok_or_else(|| Error::Transport("the HTTP client is missing".into()));
                    queue.start_alias(&config, &alias, producer, &on_event)?
                }
            };
            queue.index.insert(alias.name.clone(), queue.buses.len());
            queue.buses.push(bus);
        }
        Ok(queue)
    }

    fn start_alias<P: Producer>(
        &mut self,
        config: &QueueConfig,
        alias: &Alias,
        producer: Result<P>,
        on_event: &EventListener,
    ) -> Result<QueueBus> {
        let start_failed = |e: Error| Error::StartFailed {
            alias: alias.name.clone(),
            reason: e.to_string(),
        };
        let producer = producer.map_err(start_failed)?;
        let settings = config.aggregation()?;
        // Two aggregators of the same kind, one per worker: what spills past the
        // budget is aggregated too, so every message is what the transport takes.
        let (main_aggregator, spill_aggregator) = (alias.aggregator(settings)?, alias.aggregator(settings)?);
        let spill_queue = config.spill_queue(&alias.name).map_err(start_failed)?;
        let replay_queue = config.replay_queue(&alias.name).map_err(start_failed)?;
        // What dead processes left, this one's earlier runs included, is
        // made ready again: spilled rows get replayed, queued ones read.
        // A network transport's spill queue is ours alone; the file
        // transport's queue may have Turbo Queue writers beside us.
        let min_idle = if replay_queue.is_some() { Duration::ZERO } else { filequeue::SHARED_QUEUE_IDLE };
        recover(&spill_queue, min_idle, on_event, &alias.name);
        let spill_producer = FileProducer::new(spill_queue).map_err(start_failed)?;

        let counters = Arc::new(Counters::default());
        let (worker_tx, worker_rx) = mpsc::unbounded_channel();
        let (spill_tx, spill_rx) = mpsc::unbounded_channel();
        let worker = |role, aggregator, replay| WorkerParts {
            alias: alias.name.clone(),
            kind: alias.kind,
            counters: counters.clone(),
            aggregator,
            role,
            on_event: on_event.clone(),
            deadline: self.deadline.subscribe(),
            replay,
        };
        let replay = replay_queue.map(|queue| Replay { queue, next_look: Instant::now() });
        let main = worker(Role::Main { spill: spill_tx.clone() }, main_aggregator, replay).with(producer);
        let spill = worker(Role::Spill, spill_aggregator, None).with(spill_producer);
        self.finished.push(spawn_watched(main.run(worker_rx)));
        self.finished.push(spawn_watched(spill.run(spill_rx)));
        Ok(QueueBus::new(
            alias.name.clone(),
            alias.kind,
            counters,
            config.memory_budget_bytes,
            config.overflow,
            worker_tx,
            spill_tx,
        ))
    }

    /// The index of an alias, for the binding to keep instead of the name.
    pub fn alias_index(&self, alias: &str) -> Result<usize> {
        self.index.get(alias).copied().ok_or_else(|| Error::UnknownAlias {
            alias: alias.to_owned(),
            known: self.aliases().join(", "),
        })
    }

    pub fn aliases(&self) -> Vec<String> {
        self.buses.iter().map(|b| b.alias.clone()).collect()
    }

    pub fn bus(&self, index: usize) -> Result<&QueueBus> {
        self.buses.get(index).ok_or_else(|| Error::UnknownAlias {
            alias: format!("#{index}"),
            known: self.aliases().join(", "),
        })
    }

    /// Counters of every alias, now.
    pub fn report(&self) -> Vec<AliasReport> {
        self.buses.iter().map(|b| b.counters.snapshot(&b.alias)).collect()
    }

    /// Stops intake, lets every worker drain, flush and spill within
    /// `timeout`, and returns the report. Safe to call more than once: a
    /// later call with an earlier deadline shortens it.
    pub async fn shutdown(&self, timeout: Duration) -> Vec<AliasReport> {
        let deadline = Instant::now() + timeout;
        self.deadline.send_if_modified(|current| match current {
            Some(earlier) if *earlier <= deadline => false,
            _ => {
                *current = Some(deadline);
                true
            }
        });
        for bus in &self.buses {
            bus.close();
        }
        // A worker should settle within the deadline; past it and a grace,
        // the report is returned anyway and the worker finishes on its own.
        let limit = deadline + SHUTDOWN_GRACE;
        for finished in &self.finished {
            let _ = tokio::time::timeout_at(limit.into(), finished.clone().wait_for(|done| *done)).await;
        }
        self.report()
    }
}

/// One recovery pass over a queue; what it sets aside is reported, and a
/// failure to recover does not stop the start.
fn recover(queue: &FileQueueOptions, min_idle: Duration, on_event: &EventListener, alias: &str) {
    let report = |code: &'static str, message: String| {
        on_event(QueueEvent::Error(BackgroundError { alias: alias.to_owned(), code, message, items: 0 }))
    };
    match filequeue::recover(&queue.queue_dir(), min_idle) {
        Ok(recovered) => {
            for (path, reason) in recovered.set_aside {
                report("ERR_FILE_QUEUE", format!("set aside {}: {reason}", path.display()));
            }
        }
        Err(error) => report(error.code(), error.to_string()),
    }
}

/// One alias as configured: its profile, or none for a plain file queue.
struct Alias {
    name: String,
    kind: ItemKind,
    profile: Option<Profile>,
}

impl Alias {
    fn load(spec: &AliasSpec) -> Result<Alias> {
        let profile = match (&spec.path, &spec.profile, spec.json) {
            (Some(path), None, false) => Some(Profile::from_path(&spec.alias, path)?),
            (None, Some(doc), false) => Some(Profile::from_json(&spec.alias, "<inline profile>", &doc.to_string())?),
            (None, None, true) => None,
            _ => {
                return Err(Error::InvalidConfig(format!(
                    "alias '{}' needs exactly one of a profile path, a profile, or `json: true`",
                    spec.alias
                )))
            }
        };
        let kind = match &profile {
            Some(profile) if profile.drift_type.entity() == EntityType::Metric => ItemKind::Metrics,
            Some(_) => ItemKind::Features,
            None => ItemKind::Json,
        };
        Ok(Alias { name: spec.alias.clone(), kind, profile })
    }

    /// The key of this alias's Kafka messages: its queue identity unless
    /// the configuration says otherwise.
    fn kafka_key(&self, key: &KafkaKey) -> Option<String> {
        match (key, &self.profile) {
            (KafkaKey::Identity, Some(profile)) => Some(profile.queue_id()),
            (KafkaKey::Identity, None) => Some(self.name.clone()),
            (KafkaKey::Fixed(key), _) => Some(key.clone()),
            (KafkaKey::None, _) => None,
        }
    }

    fn aggregator(&self, settings: Settings) -> Result<Box<dyn Aggregator>> {
        match &self.profile {
            Some(profile) => aggregate::for_profile(profile, settings),
            None => Ok(Box::new(PassthroughAggregator)),
        }
    }
}

/// Spawns a worker and returns a flag that turns true when it has ended,
/// however it ended (a panic included), so shutdown never waits forever.
fn spawn_watched(work: impl std::future::Future<Output = ()> + Send + 'static) -> watch::Receiver<bool> {
    let (done_tx, done_rx) = watch::channel(false);
    struct SetOnDrop(watch::Sender<bool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.send_replace(true);
        }
    }
    tokio::spawn(async move {
        let _done = SetOnDrop(done_tx);
        work.await;
    });
    done_rx
}
