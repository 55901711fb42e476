//! How a collector queue is configured, in the JSON shape the TypeScript
//! API passes (camelCase). Defaults follow event_collector's.

use std::time::Duration;

use serde::Deserialize;

use super::metrics::Windows;
use super::queue::QueueType;
use crate::config::TransportConfig;
use crate::error::{Error, Result};

/// The smallest metrics window event_collector allows.
const MIN_METRICS_WINDOW_MS: u64 = 5_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CollectorQueueConfig {
    pub queue_type: QueueType,
    /// The priority of events sent without one (lower runs first).
    pub default_priority: f64,
    /// Size the pool by the monitor; without it the pool stays at `max_consumers`.
    pub autoscale: bool,
    pub min_consumers: usize,
    pub max_consumers: usize,
    /// Headroom over the work in progress, between 0 and 1.
    pub wip_margin: f64,
    pub monitor_interval_ms: u64,
    pub avg_load_interval_ms: u64,
    /// The window of the arrival and departure rates (at least 5000).
    pub metrics_window_ms: u64,
    /// How many recent events the service and wait times average.
    pub service_window_size: usize,
    pub metrics_warmup_ms: u64,
    pub consumer_shutdown_timeout_ms: u64,
}

impl Default for CollectorQueueConfig {
    fn default() -> Self {
        CollectorQueueConfig {
            queue_type: QueueType::Fifo,
            default_priority: 100.0,
            autoscale: true,
            min_consumers: 1,
            max_consumers: 100_000,
            wip_margin: 0.15,
            monitor_interval_ms: 10,
            avg_load_interval_ms: 60_000,
            metrics_window_ms: 60_000,
            service_window_size: 500,
            metrics_warmup_ms: 3_000,
            consumer_shutdown_timeout_ms: 10_000,
        }
    }
}

impl CollectorQueueConfig {
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::InvalidConfig(reason));
        if self.min_consumers == 0 || self.max_consumers < self.min_consumers {
            return invalid(format!(
                "consumers need 1 <= minConsumers <= maxConsumers, got {} and {}",
                self.min_consumers, self.max_consumers
            ));
        }
        if !(0.0..=1.0).contains(&self.wip_margin) {
            return invalid(format!("wipMargin must be between 0 and 1, got {}", self.wip_margin));
        }
        if !self.default_priority.is_finite() {
            return invalid("defaultPriority must be a finite number".into());
        }
        if self.monitor_interval_ms == 0 || self.service_window_size == 0 {
            return invalid("monitorIntervalMs and serviceWindowSize must be at least 1".into());
        }
        if self.avg_load_interval_ms < self.monitor_interval_ms {
            return invalid("avgLoadIntervalMs must be at least monitorIntervalMs".into());
        }
        if self.metrics_window_ms < MIN_METRICS_WINDOW_MS {
            return invalid(format!(
                "metricsWindowMs must be at least {MIN_METRICS_WINDOW_MS}, got {}",
                self.metrics_window_ms
            ));
        }
        Ok(())
    }

    pub(crate) fn monitor_interval(&self) -> Duration {
        Duration::from_millis(self.monitor_interval_ms)
    }

    pub(crate) fn windows(&self) -> Windows {
        Windows {
            rate: Duration::from_millis(self.metrics_window_ms),
            events: self.service_window_size,
            load_samples: (self.avg_load_interval_ms / self.monitor_interval_ms) as usize,
            warmup: Duration::from_millis(self.metrics_warmup_ms),
        }
    }
}

/// One collector as the publisher's side describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectorSpec {
    pub key: String,
    #[serde(default)]
    pub topics: Vec<String>,
    /// A built-in transport; without one, the host runs the handler.
    pub transport: Option<TransportConfig>,
}

/// Everything a collector queue starts from.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectorQueueSpec {
    #[serde(default)]
    pub options: CollectorQueueConfig,
    pub collectors: Vec<CollectorSpec>,
}

impl CollectorQueueSpec {
    pub fn from_json(text: &str) -> Result<CollectorQueueSpec> {
        let spec: CollectorQueueSpec = serde_json::from_str(text).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        if spec.collectors.is_empty() {
            return Err(Error::InvalidConfig(
                "a collector queue needs at least one collector".into(),
            ));
        }
        spec.options.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_options() {
        let spec = CollectorQueueSpec::from_json(r#"{"collectors":[{"key":"a"}]}"#).unwrap();
        assert_eq!(spec.options.max_consumers, 100_000);
        assert_eq!(spec.options.windows().load_samples, 6_000);
        for bad in [
            r#"{"options":{"minConsumers":0},"collectors":[{"key":"a"}]}"#,
            r#"{"options":{"minConsumers":5,"maxConsumers":2},"collectors":[{"key":"a"}]}"#,
            r#"{"options":{"metricsWindowMs":1000},"collectors":[{"key":"a"}]}"#,
            r#"{"options":{"wipMargin":2},"collectors":[{"key":"a"}]}"#,
            r#"{"options":{"queueType":"stack"},"collectors":[{"key":"a"}]}"#,
            r#"{"collectors":[]}"#,
        ] {
            assert_eq!(
                CollectorQueueSpec::from_json(bad).unwrap_err().code(),
                "ERR_INVALID_CONFIG",
                "{bad}"
            );
        }
    }
}
