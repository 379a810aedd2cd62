//! Command line: `headless-dns serve` and its options.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::zone::EndpointNames;

/// headless-dns: stable DNS names for StatefulSet pods, whose addresses follow the pod.
///
/// Serves the Kubernetes DNS records of headless services (A/AAAA, SRV, PTR) from a live
/// cluster or from manifest files. Try it without a cluster:
///
///   headless-dns serve --manifests config/demo --listen 127.0.0.1:5353
///   dig @127.0.0.1 -p 5353 web-0.nginx.default.svc.cluster.local
#[derive(Debug, Parser)]
#[command(name = "headless-dns", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the DNS server.
    Serve(Box<ServeArgs>),
}

/// Log output format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of `headless-dns serve`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "DNS")]
pub struct ServeArgs {
    /// Address to answer DNS on, UDP and TCP (repeatable).
    #[arg(
        long = "listen",
        value_name = "ADDR:PORT",
        default_value = "0.0.0.0:53",
        env = "HEADLESS_DNS_LISTEN",
        value_delimiter = ','
    )]
    pub listen: Vec<SocketAddr>,

    /// The cluster domain we are authoritative for.
    #[arg(long, default_value = "cluster.local", env = "HEADLESS_DNS_ZONE")]
    pub zone: String,

    /// TTL of positive answers, in seconds (CoreDNS's default is 5).
    #[arg(long, default_value_t = 5, env = "HEADLESS_DNS_TTL")]
    pub ttl: u32,

    /// SOA minimum: how long resolvers may cache NXDOMAIN and NODATA, in seconds.
    #[arg(long, default_value_t = 5, env = "HEADLESS_DNS_NEGATIVE_TTL")]
    pub negative_ttl: u32,

    /// Negative TTL of a known StatefulSet identity that has no ready address yet.
    #[arg(long, default_value_t = 1, env = "HEADLESS_DNS_PENDING_TTL")]
    pub pending_ttl: u32,

    /// How to name endpoints whose pod has no matching hostname/subdomain.
    #[arg(long, value_enum, default_value_t = EndpointNames::Hostname, env = "HEADLESS_DNS_ENDPOINT_NAMES")]
    pub endpoint_names: EndpointNames,

    /// Largest UDP answer, in bytes; bigger answers are truncated (TC) and completed over TCP.
    #[arg(long, default_value_t = 1232, value_parser = clap::value_parser!(u16).range(512..), env = "HEADLESS_DNS_MAX_UDP_SIZE")]
    pub max_udp_size: u16,

    /// UDP worker threads per listen address (SO_REUSEPORT sockets); default: one per core.
    #[arg(long, value_name = "N", env = "HEADLESS_DNS_UDP_WORKERS")]
    pub udp_workers: Option<usize>,

    /// Close a TCP connection idle for this many seconds.
    #[arg(long, default_value_t = 10, env = "HEADLESS_DNS_TCP_IDLE_TIMEOUT")]
    pub tcp_idle_timeout: u64,

    /// Serve from these manifest files or directories instead of a cluster (repeatable).
    ///
    /// YAML (multi-document, `kind: List`) or JSON; only Pods, Services and StatefulSets
    /// are read. Files are watched and reloaded on change.
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Sources",
        env = "HEADLESS_DNS_MANIFESTS",
        value_delimiter = ','
    )]
    pub manifests: Vec<PathBuf>,

    /// Kubeconfig file (default: in-cluster service account, else KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE", help_heading = "Sources", env = "HEADLESS_DNS_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use.
    #[arg(long, value_name = "NAME", help_heading = "Sources", env = "HEADLESS_DNS_CONTEXT")]
    pub context: Option<String>,

    /// Watch only this namespace (repeatable; default: the whole cluster).
    #[arg(
        long = "namespace",
        value_name = "NS",
        help_heading = "Sources",
        env = "HEADLESS_DNS_NAMESPACE",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,

    /// Only watch pods matching this label selector (e.g. `dns=headless`).
    #[arg(long, value_name = "SELECTOR", help_heading = "Sources", env = "HEADLESS_DNS_LABEL_SELECTOR")]
    pub label_selector: Option<String>,

    /// Save the trimmed state here (atomically, at most once a second) and answer from it
    /// at startup until the API server has been listed.
    #[arg(long, value_name = "PATH", help_heading = "Sources", env = "HEADLESS_DNS_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, help_heading = "Operations", env = "HEADLESS_DNS_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Log every query at info level (for debugging; costly under load).
    #[arg(long, help_heading = "Operations", env = "HEADLESS_DNS_QUERY_LOG")]
    pub query_log: bool,
}

impl ServeArgs {
    /// The Kubernetes options.
    pub fn kube_options(&self) -> crate::source::kubernetes::KubeOptions {
        crate::source::kubernetes::KubeOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespaces: self.namespaces.clone(),
            label_selector: self.label_selector.clone(),
        }
    }

    /// The zone settings these options describe.
    pub fn zone_settings(&self) -> Result<crate::zone::ZoneSettings, crate::Error> {
        let mut settings = crate::zone::ZoneSettings::new(&self.zone).map_err(|e| crate::Error::Config {
            message: format!("--zone {:?} is not a domain name: {e}", self.zone),
        })?;
        settings.ttl = self.ttl;
        settings.negative_ttl = self.negative_ttl;
        settings.pending_ttl = self.pending_ttl;
        settings.endpoint_names = self.endpoint_names;
        Ok(settings)
    }
}
