//! The options of the offline tools, `explain` and `records`: the name or zone file
//! asked for, and where the cluster is read from (manifests, or a running server).

use std::path::PathBuf;

use super::choice;
use super::values::parse_domain;
use crate::zone::zonefile::ZoneFile;
use crate::zone::{EndpointNames, PodRecords};

/// Where `explain` and `records` read the cluster from: one of `--manifests` and `--server`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    group(clap::ArgGroup::new("source").required(true).args(["manifests", "server"])),
    mut_args = super::switch::with_value
)]
pub struct Target {
    /// Read these manifest files or directories (offline).
    #[arg(long, value_name = "PATH", conflicts_with = "server")]
    pub manifests: Vec<PathBuf>,
    /// Ask a running server's admin endpoint, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The cluster domain (offline only).
    #[arg(long, value_parser = parse_domain)]
    pub zone: Option<String>,
    /// How hostname-less endpoints are named (offline only).
    #[arg(long, value_parser = choice::choice::<EndpointNames>())]
    pub endpoint_names: Option<EndpointNames>,
    /// Which pod records are answered (offline only).
    #[arg(long, value_parser = choice::choice::<PodRecords>())]
    pub pods: Option<PodRecords>,
    /// Also build the multicluster zone, e.g. clusterset.local (offline only).
    #[arg(long, value_name = "ZONE", value_parser = parse_domain)]
    pub multicluster_zone: Option<String>,
    /// This cluster's id when no id.k8s.io ClusterProperty names it (offline only).
    #[arg(long, value_name = "ID")]
    pub cluster_id: Option<String>,
    /// Also build this external zone, e.g. example.com (repeatable; offline only: a running
    /// server serves the external zones it was started with).
    #[arg(long, value_name = "ZONE", value_parser = parse_domain)]
    pub external_zone: Vec<String>,
    /// Publish ClusterIP Services' cluster IPs in the external zones (offline only).
    #[arg(long)]
    pub external_publish_internal: bool,
}

/// Options of `headless-dns explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The name to explain: a full name, an IP address (its PTR), or a short name as a pod
    /// would write it (`web-0.nginx`), explained through the search path.
    pub name: String,
    /// The record type (A, AAAA, SRV, PTR, ...).
    #[arg(default_value = "A")]
    pub qtype: String,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Where to read the cluster from.
    #[command(flatten)]
    pub target: Target,
}

/// Options of `headless-dns records`.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordsArgs {
    /// Which zone file to print.
    #[arg(long, value_parser = choice::choice::<ZoneFile>(), default_value = ZoneFile::Forward.name())]
    pub zone_file: ZoneFile,
    /// Where to read the cluster from.
    #[command(flatten)]
    pub target: Target,
}
