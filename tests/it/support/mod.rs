//! Shared test support.
#![allow(dead_code)]

pub mod changes;
pub mod deploy;
pub mod dns;
pub mod external;
pub mod ports;
pub mod process;
pub mod secondaries;
pub mod upstream;
pub mod xfer;

use std::path::Path;

/// The fake Kubernetes API server (`crates/fake-apiserver`), as `support::fake_apiserver`.
pub use fake_apiserver;

/// The demo manifests, `config/demo`, as a command-line argument.
pub const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo");

/// The demo manifests, `config/demo`.
pub fn demo() -> &'static Path {
    Path::new(DEMO)
}

/// The text of one file of the demo manifests, e.g. `demo_file("nginx.yaml")`.
pub fn demo_file(file: &str) -> String {
    std::fs::read_to_string(demo().join(file)).unwrap()
}
