//! Sources of cluster state. Each one feeds the index through the same
//! [`Update`](crate::index::Update) messages: apply, delete, resync, synced.

pub mod kubernetes;
pub mod list_strategy;
pub mod manifests;
pub mod state_file;
