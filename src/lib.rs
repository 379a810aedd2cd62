//! headless-dns: authoritative DNS for the Kubernetes cluster domain, giving
//! StatefulSet pods stable names whose addresses follow the pod.
//!
//! Data flows one way: a **source** (manifest files, or the Kubernetes API) reports
//! objects; the **index** keeps the trimmed [`cluster`] state and builds the
//! [`zone`] from it, publishing an immutable snapshot; the [`dns`] server answers every
//! query from the current snapshot without taking a lock.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod cluster;
pub mod config;
pub mod dns;
pub mod explain;
pub mod forward;
pub mod index;
mod packed;
pub mod source;
pub mod telemetry;
pub mod zone;

use std::net::SocketAddr;

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option or combination of options is invalid.
    #[error("{message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A manifest could not be loaded at startup.
    #[error("cannot load manifests: {0}")]
    Manifest(#[from] source::manifests::ManifestError),
    /// The configuration is invalid.
    #[error(transparent)]
    Configuration(#[from] config::ConfigError),
    /// A request to a running server failed.
    #[error("{0}")]
    Remote(String),
    /// The Kubernetes API cannot be used.
    #[error(transparent)]
    Kube(#[from] source::kubernetes::KubeError),
    /// A listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (is another DNS server running there? ports below 1024 need root or CAP_NET_BIND_SERVICE; try --listen 127.0.0.1:5353)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A socket failed while serving.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bug: a task panicked or was cancelled.
    #[error("internal error: {message}")]
    Internal {
        /// The description.
        message: String,
    },
}
