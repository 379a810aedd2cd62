//! headless-dns: authoritative DNS for the Kubernetes cluster domain, giving
//! StatefulSet pods stable names whose addresses follow the pod.
//!
//! Data flows one way: a **source** (manifest files, or the Kubernetes API) reports
//! objects; the **index** keeps the trimmed [`cluster`] state and builds the
//! [`zone`] from it, publishing an immutable snapshot; the [`dns`] server answers every
//! query from the current snapshot without taking a lock.
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
