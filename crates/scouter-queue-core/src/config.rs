//! How a queue is configured, in the JSON shape the TypeScript API passes
//! through (camelCase). Defaults live here, once.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::filequeue::FileQueueOptions;
use crate::transport::RabbitMqConfig;

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

fn default_budget() -> u64 {
    64 * 1024 * 1024
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("scouter-queue-data")
}

fn default_spill_dir() -> PathBuf {
    default_data_dir().join("spill")
}
