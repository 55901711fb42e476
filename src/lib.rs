//! The Node-API binding of scouter-queue. It converts JavaScript values to
//! the core's types and forwards; every decision lives in
//! `scouter-queue-core`. One file per exposed class or group of functions.
#![deny(clippy::all)]

mod collector;
mod errors;
mod filequeue;
mod promise;
mod queue;
mod runtime;
