//! `NativeQueue`: a started ScouterQueue, driven by the TypeScript `ScouterQueue`.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Float64ArraySlice, Function, Object};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Env;
use napi_derive::napi;
use scouter_queue_core::bus::ValueKind;
use scouter_queue_core::config::QueueConfig;
use scouter_queue_core::queue::ScouterQueue;
use scouter_queue_core::encoding::ItemKind;
use scouter_queue_core::report::{self, QueueEvent};
use scouter_queue_core::runtime;

use crate::errors::IntoJs;
use crate::promise::spawn_promise;

/// What happened to one alias's items.
#[napi(object)]
pub struct AliasReport {
    pub alias: String,
    pub inserted: f64,
    pub published: f64,
    pub spilled: f64,
    pub dropped: f64,
    pub failed: f64,
    /// Rows sent again from the spill queue and acknowledged (spilled earlier in this run or in earlier runs).
    pub replayed: f64,
    pub queued_bytes: f64,
    /// Whether the transport holds records back (file queue readers are behind).
    pub backpressured: bool,
    /// Values left out of drift aggregates (NaN, outside every bin) from items otherwise aggregated.
    pub skipped_values: f64,
}

impl From<report::AliasReport> for AliasReport {
    fn from(r: report::AliasReport) -> Self {
        AliasReport {
            alias: r.alias,
            inserted: r.inserted as f64,
            published: r.published as f64,
            spilled: r.spilled as f64,
            dropped: r.dropped as f64,
            failed: r.failed as f64,
            replayed: r.replayed as f64,
            queued_bytes: r.queued_bytes as f64,
            backpressured: r.backpressured,
            skipped_values: r.skipped_values as f64,
        }
    }
}

/// What a queue tells the application from the background.
#[napi(object)]
pub struct NativeQueueEvent {
    /// `error` (with code, message, items) or `backpressure` (with active).
    pub kind: String,
    pub alias: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub items: Option<f64>,
    pub active: Option<bool>,
}

impl From<QueueEvent> for NativeQueueEvent {
    fn from(event: QueueEvent) -> Self {
        match event {
            QueueEvent::Error(e) => NativeQueueEvent {
                kind: "error".into(),
                alias: e.alias,
                code: Some(e.code.to_owned()),
                message: Some(e.message),
                items: Some(e.items as f64),
                active: None,
            },
            QueueEvent::Backpressure { alias, active } => NativeQueueEvent {
                kind: "backpressure".into(),
                alias,
                code: None,
                message: None,
                items: None,
                active: Some(active),
            },
        }
    }
}

/// The kind of a value on the bound fast path.
#[napi(string_enum = "lowercase")]
pub enum BoundKind {
    Int,
    Float,
}

/// One field of a bound schema.
#[napi(object)]
pub struct BoundField {
    pub name: String,
    pub kind: BoundKind,
}

type EventCallback = ThreadsafeFunction<NativeQueueEvent, (), NativeQueueEvent, napi::Status, false, true>;

#[napi]
pub struct NativeQueue {
    inner: Arc<ScouterQueue>,
}

/// Starts a queue from its JSON configuration. Background events are
/// passed to `onEvent`, which does not keep the process alive.
#[napi(ts_return_type = "Promise<NativeQueue>")]
pub fn start_queue<'env>(
    env: &'env Env,
    config_json: String,
    on_event: Function<'env, NativeQueueEvent, ()>,
) -> napi::Result<Object<'env>> {
    let config = QueueConfig::from_json(&config_json).into_js()?;
    let callback: EventCallback = on_event
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    let listener: report::EventListener = Arc::new(move |event: QueueEvent| {
        callback.call(event.into(), ThreadsafeFunctionCallMode::NonBlocking);
    });
    spawn_promise(env, async move {
        let queue = ScouterQueue::start(config, listener).await?;
        Ok(NativeQueue { inner: Arc::new(queue) })
    })
}

#[napi]
impl NativeQueue {
    /// The index of an alias, used by every insert instead of its name.
    #[napi]
    pub fn alias_index(&self, alias: String) -> napi::Result<u32> {
        self.inner.alias_index(&alias).map(|i| i as u32).into_js()
    }

    /// The kind of item an alias takes.
    #[napi(ts_return_type = "'Features' | 'Metrics' | 'Json'")]
    pub fn item_kind(&self, alias: u32) -> napi::Result<&'static str> {
        let bus = self.inner.bus(alias as usize).into_js()?;
        Ok(match bus.kind {
            ItemKind::Features => "Features",
            ItemKind::Metrics => "Metrics",
            ItemKind::Json => "Json",
        })
    }

    #[napi]
    pub fn aliases(&self) -> Vec<String> {
        self.inner.aliases()
    }

    /// Queues `count` items encoded one per line.
    #[napi]
    pub fn push(&self, alias: u32, lines: String, count: u32) -> napi::Result<()> {
        self.inner.bus(alias as usize).and_then(|bus| bus.push_lines(lines, count as u64)).into_js()
    }

    /// Queues `count` rows of a bound schema's numbers.
    #[napi]
    pub fn push_values(&self, alias: u32, schema: u32, values: Float64ArraySlice, count: u32) -> napi::Result<()> {
        self.inner
            .bus(alias as usize)
            .and_then(|bus| bus.push_values(schema, values.to_vec(), count as u64))
            .into_js()
    }

    /// Fixes the names and kinds of a feature schema; returns its id.
    #[napi]
    pub fn bind(&self, alias: u32, fields: Vec<BoundField>) -> napi::Result<u32> {
        let fields = fields
            .into_iter()
            .map(|f| {
                let kind = match f.kind {
                    BoundKind::Int => ValueKind::Int,
                    BoundKind::Float => ValueKind::Float,
                };
                (f.name, kind)
            })
            .collect();
        self.inner.bus(alias as usize).and_then(|bus| bus.bind(fields)).into_js()
    }

    #[napi]
    pub fn report(&self) -> Vec<AliasReport> {
        self.inner.report().into_iter().map(Into::into).collect()
    }

    /// Stops intake and settles everything within `timeoutMs`.
    #[napi(ts_return_type = "Promise<AliasReport[]>")]
    pub fn shutdown<'env>(&self, env: &'env Env, timeout_ms: u32) -> napi::Result<Object<'env>> {
        let queue = self.inner.clone();
        spawn_promise(env, async move {
            let report = queue.shutdown(Duration::from_millis(timeout_ms as u64)).await;
            Ok(report.into_iter().map(AliasReport::from).collect::<Vec<_>>())
        })
    }

    /// The same, blocking the calling thread: for process exit, when no
    /// promise can settle any more.
    #[napi]
    pub fn shutdown_sync(&self, timeout_ms: u32) -> napi::Result<Vec<AliasReport>> {
        let runtime = runtime::get().into_js()?;
        let report = runtime.block_on(self.inner.shutdown(Duration::from_millis(timeout_ms as u64)));
        Ok(report.into_iter().map(Into::into).collect())
    }
}
