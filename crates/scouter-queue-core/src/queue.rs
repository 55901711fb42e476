//! ScouterQueue: the set of aliases started together, and their shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::aggregate;
use crate::bus::QueueBus;
use crate::config::{QueueConfig, TransportConfig};
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::report::{AliasReport, Counters, ErrorListener};
use crate::transport::{FileProducer, HttpClient, HttpProducer, Producer};
use crate::worker::{Role, WorkerParts};

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
    pub async fn start(config: QueueConfig, on_error: ErrorListener) -> Result<ScouterQueue> {
        let profiles = config
            .aliases
            .iter()
            .map(|spec| match (&spec.path, &spec.profile) {
                (Some(path), None) => Profile::from_path(&spec.alias, path),
                (None, Some(doc)) => Profile::from_json(&spec.alias, "<inline profile>", &doc.to_string()),
                _ => Err(Error::InvalidConfig(format!(
                    "alias '{}' needs exactly one of a profile path or a profile",
                    spec.alias
                ))),
            })
            .collect::<Result<Vec<_>>>()?;

        let (deadline, _) = watch::channel(None);
        let mut queue = ScouterQueue {
            buses: Vec::new(),
            index: HashMap::new(),
            deadline,
            finished: Vec::new(),
        };
        // One HTTP client for every alias: one pool of connections, one login.
        let http = match &config.transport {
            TransportConfig::Http(http) => Some(HttpClient::connect(http.settings()?).await.map_err(|e| Error::StartFailed {
                alias: profiles.iter().map(|p| p.alias.as_str()).collect::<Vec<_>>().join(", "),
                reason: e.to_string(),
            })?),
            TransportConfig::File(_) => None,
        };
        for profile in profiles {
            if queue.index.contains_key(&profile.alias) {
                return Err(Error::InvalidConfig(format!("alias '{}' is given twice", profile.alias)));
            }
            let bus = match (&config.transport, &http) {
                (TransportConfig::File(file), _) => {
                    let producer = file.queue(&profile.alias).and_then(FileProducer::new);
                    queue.start_alias(&config, &profile, producer, &on_error)?
                }
                (TransportConfig::Http(_), client) => {
                    let producer = client
                        .clone()
                        .map(|client| HttpProducer::new(client, queue.deadline.subscribe()))
                        .ok_or_else(|| Error::Transport("the HTTP client is missing".into()));
                    queue.start_alias(&config, &profile, producer, &on_error)?
                }
            };
            queue.index.insert(profile.alias.clone(), queue.buses.len());
            queue.buses.push(bus);
        }
        Ok(queue)
    }

    fn start_alias<P: Producer>(
        &mut self,
        config: &QueueConfig,
        profile: &Profile,
        producer: Result<P>,
        on_error: &ErrorListener,
    ) -> Result<QueueBus> {
        let start_failed = |e: Error| Error::StartFailed {
            alias: profile.alias.clone(),
            reason: e.to_string(),
        };
        let producer = producer.map_err(start_failed)?;
        let settings = config.aggregation()?;
        // Two aggregators of the same kind, one per worker: what spills past the
        // budget is aggregated too, so every message is what the transport takes.
        let aggregator = || aggregate::for_profile(profile, settings);
        let (main_aggregator, spill_aggregator) = (aggregator()?, aggregator()?);
        let spill_producer = config
            .spill_queue(&profile.alias)
            .and_then(FileProducer::new)
            .map_err(start_failed)?;

        let counters = Arc::new(Counters::default());
        let (worker_tx, worker_rx) = mpsc::unbounded_channel();
        let (spill_tx, spill_rx) = mpsc::unbounded_channel();
        let worker = |role, aggregator| WorkerParts {
            alias: profile.alias.clone(),
            entity: profile.drift_type.entity(),
            counters: counters.clone(),
            aggregator,
            role,
            on_error: on_error.clone(),
            deadline: self.deadline.subscribe(),
        };
        let main = worker(Role::Main { spill: spill_tx.clone() }, main_aggregator).with(producer);
        let spill = worker(Role::Spill, spill_aggregator).with(spill_producer);
        self.finished.push(spawn_watched(main.run(worker_rx)));
        self.finished.push(spawn_watched(spill.run(spill_rx)));
        Ok(QueueBus::new(
            profile.alias.clone(),
            profile.drift_type.entity(),
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
        for finished in &self.finished {
            let _ = finished.clone().wait_for(|done| *done).await;
        }
        self.report()
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
