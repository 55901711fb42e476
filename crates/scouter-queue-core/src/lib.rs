//! The scouter-queue engine, free of any Node-API code: the binding in the
//! root crate converts JavaScript values and forwards to this crate.
//!
//! # Layout
//! - [`collector`]: `CollectorQueue`, payloads routed to collectors through
//!   an autoscaled consumer pool.
//! - [`queue`]: `ScouterQueue`, the aliases started together, and shutdown.
//! - [`bus`]: `QueueBus`, the insert side of one alias: memory accounting and
//!   the channel to its worker.
//! - `worker`: the per-alias loop over items, timed work and shutdown.
//! - [`aggregate`]: what turns items into messages: Scouter's Psi, Spc and
//!   Custom drift aggregation, or raw records.
//! - [`wire`]: Scouter's `ServerRecords`, the JSON its server reads.
//! - [`transport`]: the `Producer` trait and its implementations.
//! - [`filequeue`]: Turbo Queue's batch files, the default transport and the spill.
//! - [`profile`], [`record`]: profile files and the items users insert.
//! - [`encoding`]: how an item crosses from JavaScript.
//! - [`report`]: per-alias counters and background errors.
//! - [`runtime`]: the one tokio runtime of the process.
//! - [`error`]: the one error type, with stable codes.

pub mod aggregate;
pub mod bus;
pub mod collector;
pub mod config;
pub mod encoding;
pub mod error;
pub mod filequeue;
pub mod profile;
pub mod queue;
pub mod record;
pub mod report;
pub mod runtime;
pub mod transport;
pub mod wire;
mod worker;

pub use error::{Error, Result};
