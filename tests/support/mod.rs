//! Shared test support.
#![allow(dead_code)]

pub mod dns;
pub mod ports;
pub mod process;
pub mod upstream;
pub mod xfer;

/// The fake Kubernetes API server (`crates/fake-apiserver`), as `support::fake_apiserver`.
pub use fake_apiserver;
