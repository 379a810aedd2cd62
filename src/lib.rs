//! headless-dns: authoritative DNS for the Kubernetes cluster domain, giving
//! StatefulSet pods stable names whose addresses follow the pod.
//!
//! Updates flow one way: a **source** (manifest files, the Kubernetes API, the state
//! file) sends objects to the **index**, the single writer, which keeps the trimmed
//! [`cluster`] state, builds the [`zone`]s from it, sets their serials and journals and
//! publishes them as one immutable snapshot. The readers ([`dns`] for queries, [`xfer`]
//! for transfers and NOTIFY, [`explain`]) answer from the current snapshot without taking
//! a lock. Sources also ask the index for a consistent view now and then (the state file
//! saves one; a watcher waits for the index to catch up), through the same channel.
//!
//! The top-level modules form layers, lowest first: `packed`, `wire`, `access`;
//! `cluster`; `zone`; `xfer`, `forward`, `explain`; `dns`; `index`; `source`; `admin`;
//! `config`; `error`, `telemetry`; `app`. A module imports only from layers below it
//! (`tests/it/module_graph.rs` checks; docs/development.md draws the map).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod admin;
pub mod app;
pub mod cluster;
pub mod config;
pub mod dns;
pub mod error;
pub mod explain;
pub mod forward;
pub mod index;
mod packed;
pub mod source;
pub mod telemetry;
pub mod wire;
pub mod xfer;
pub mod zone;

pub use error::{Error, report};
