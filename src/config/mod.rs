//! Configuration: the command line (clap) and the TOML file.
//!
//! Precedence is flags > environment (`HEADLESS_DNS_*`) > file (`--config`) > defaults.
//! The file's keys are the long option names with `_` for `-` (`negative_ttl = 5`);
//! an unknown key is an error that names it. File values are applied by re-parsing them
//! as the options they name, so they are validated exactly like flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::source::list_strategy::StreamingList;
use crate::zone::{EndpointNames, PodRecords};

pub mod choice;
mod effective;
mod file;
mod kube_names;
mod numbers;
mod settings;
mod switch;
#[cfg(test)]
mod tests;
mod tools;
mod values;

pub use file::{ConfigError, parse, parse_from};
use kube_names::{parse_label_selector, parse_namespace};
use numbers::whole;
pub use tools::{ExplainArgs, RecordsArgs, Target};
pub use values::{AdminAddr, ListenAddr, Nameserver};
use values::{
    TsigKeyParser, parse_admin, parse_domain, parse_external_listen, parse_listen, parse_nameserver,
    parse_network, parse_notify,
};

/// headless-dns: stable DNS names for StatefulSet pods, whose addresses follow the pod.
///
/// An authoritative DNS server for the cluster domain (headless, ClusterIP and ExternalName
/// services, StatefulSet identities that never answer NXDOMAIN, pod records, PTR), from a
/// live cluster or from manifest files; it feeds other DNS servers by zone transfer.
#[derive(Debug, Parser)]
#[command(name = "headless-dns", version, about, long_about, propagate_version = true, after_help = TOP_EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

// Examples are `after_help` text, not doc comments: clap rewraps doc comments into one
// paragraph, which ran the example commands together on one line.
const TOP_EXAMPLES: &str = "\
Try it without a cluster:
  headless-dns serve --manifests config/demo --listen 127.0.0.1:5353
  dig @127.0.0.1 -p 5353 web-0.nginx.default.svc.cluster.local";

const SERVE_EXAMPLES: &str = "\
Examples:
  headless-dns serve --manifests config/demo --listen 127.0.0.1:5353
  headless-dns serve --namespace default --admin-allow 10.0.0.0/8
  headless-dns serve --listen 127.0.0.1:53 --forward 10.96.0.10 --fallthrough";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  headless-dns explain web-0.nginx.default.svc.cluster.local --manifests config/demo
  headless-dns explain db-1.db.data.svc.cluster.local AAAA --server http://127.0.0.1:8080
  headless-dns explain nginx.default.svc.cluster.local SRV --manifests config/demo
  headless-dns explain 10.244.2.11 --manifests config/demo
  headless-dns explain web-0.nginx --manifests config/demo";

const RECORDS_EXAMPLES: &str = "\
Examples:
  headless-dns records --manifests config/demo
  headless-dns records --zone-file in-addr-arpa --server http://127.0.0.1:8080";

const CHECK_CONFIG_EXAMPLES: &str = "\
Examples:
  headless-dns check-config --config config/headless-dns.toml
  headless-dns check-config --manifests config/demo --ttl 30";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the DNS server.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(Box<ServeArgs>),
    /// Explain why a name resolves as it does (offline from manifests, or from a running server).
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Print every record the server would serve, as an RFC 1035 zone file.
    #[command(after_help = RECORDS_EXAMPLES)]
    Records(RecordsArgs),
    /// Validate the configuration (file, environment, flags) and print the effective settings.
    #[command(after_help = CHECK_CONFIG_EXAMPLES)]
    CheckConfig(Box<ServeArgs>),
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
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[command(next_help_heading = "DNS", mut_args = switch::with_value)]
pub struct ServeArgs {
    /// TOML configuration file (see config/headless-dns.toml); flags and environment override it.
    #[arg(long, value_name = "FILE", env = "HEADLESS_DNS_CONFIG", help_heading = "Operations")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to answer DNS on, UDP and TCP (repeatable); a host name listens on each of
    /// its addresses (localhost: 127.0.0.1 and ::1).
    #[arg(
        long = "listen",
        value_name = "ADDR:PORT",
        default_value = "0.0.0.0:53",
        env = "HEADLESS_DNS_LISTEN",
        value_delimiter = ',',
        value_parser = parse_listen
    )]
    pub listen: Vec<ListenAddr>,

    /// The cluster domain we are authoritative for.
    #[arg(long, default_value = "cluster.local", value_parser = parse_domain, env = "HEADLESS_DNS_ZONE")]
    pub zone: String,

    /// Also serve the Multi-Cluster Services zone (KEP-1645), normally clusterset.local:
    /// watches ServiceImports, ServiceExports, MCS EndpointSlices and the id.k8s.io
    /// ClusterProperty. Off by default.
    #[arg(
        long,
        value_name = "ZONE",
        value_parser = parse_domain,
        help_heading = "Multi-cluster",
        env = "HEADLESS_DNS_MULTICLUSTER_ZONE"
    )]
    pub multicluster_zone: Option<String>,

    /// This cluster's id in the clusterset when no id.k8s.io ClusterProperty names it:
    /// exported StatefulSets answer as <sts>-<i>.<cluster-id>.<svc>.<ns>.svc.<multicluster-zone>.
    #[arg(long, value_name = "ID", help_heading = "Multi-cluster", env = "HEADLESS_DNS_CLUSTER_ID")]
    pub cluster_id: Option<String>,

    /// Serve this external zone (repeatable), e.g. example.com: Services annotated
    /// external-dns.alpha.kubernetes.io/hostname with a name inside it publish there, their
    /// StatefulSet ordinals pending (NODATA), never NXDOMAIN. Off by default.
    #[arg(
        long,
        value_name = "ZONE",
        value_parser = parse_domain,
        help_heading = "External zones",
        env = "HEADLESS_DNS_EXTERNAL_ZONE",
        value_delimiter = ','
    )]
    pub external_zone: Vec<String>,

    /// A name server of the external zones, NAME or NAME=ADDRESS (repeatable; an address is
    /// glue, for a name inside the zone). Default: ns.<zone> at the --ns-address addresses.
    #[arg(
        long,
        value_name = "NAME[=ADDRESS]",
        value_parser = parse_nameserver,
        help_heading = "External zones",
        env = "HEADLESS_DNS_EXTERNAL_NAMESERVER",
        value_delimiter = ','
    )]
    pub external_nameserver: Vec<Nameserver>,

    /// Also answer the external zones, and only them, on this address (UDP and TCP;
    /// repeatable; port 53 unless given): every other name is REFUSED there, never
    /// forwarded. The --listen addresses answer the external zones too.
    #[arg(
        long,
        value_name = "ADDR[:PORT]",
        value_parser = parse_external_listen,
        help_heading = "External zones",
        env = "HEADLESS_DNS_EXTERNAL_LISTEN",
        value_delimiter = ','
    )]
    pub external_listen: Vec<ListenAddr>,

    /// Publish ClusterIP Services' cluster IPs in the external zones too (external-dns's
    /// --publish-internal-services); by default only their externalIPs.
    #[arg(long, help_heading = "External zones", env = "HEADLESS_DNS_EXTERNAL_PUBLISH_INTERNAL")]
    pub external_publish_internal: bool,

    /// TTL of positive answers, in seconds (CoreDNS's default is 5).
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = whole::<u32>("seconds"), allow_negative_numbers = true, env = "HEADLESS_DNS_TTL")]
    pub ttl: u32,

    /// SOA minimum: how long resolvers may cache NXDOMAIN and NODATA, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = whole::<u32>("seconds"), allow_negative_numbers = true, env = "HEADLESS_DNS_NEGATIVE_TTL")]
    pub negative_ttl: u32,

    /// Negative TTL of a known StatefulSet identity that has no ready address yet.
    #[arg(long, value_name = "SECONDS", default_value_t = 1, value_parser = whole::<u32>("seconds"), allow_negative_numbers = true, env = "HEADLESS_DNS_PENDING_TTL")]
    pub pending_ttl: u32,

    /// How to name endpoints whose pod has no matching hostname/subdomain.
    #[arg(long, value_parser = choice::choice::<EndpointNames>(), default_value = EndpointNames::Hostname.name(), env = "HEADLESS_DNS_ENDPOINT_NAMES")]
    pub endpoint_names: EndpointNames,

    /// Pod records a-b-c-d.<ns>.pod.<zone> (CoreDNS's `pods`): verified answers only an
    /// address a pod of that namespace has; insecure any well-formed name; disabled none.
    #[arg(long, value_parser = choice::choice::<PodRecords>(), default_value = PodRecords::Verified.name(), env = "HEADLESS_DNS_PODS")]
    pub pods: PodRecords,

    /// Address(es) of ns.dns.<zone>, the name server the NS record names (default: $POD_IP,
    /// else the first specific --listen address, else 127.0.0.1).
    #[arg(long = "ns-address", value_name = "IP", env = "HEADLESS_DNS_NS_ADDRESS", value_delimiter = ',')]
    #[serde(rename = "ns_address")]
    pub ns_addresses: Vec<std::net::IpAddr>,

    /// Largest UDP answer, in bytes; bigger answers are truncated (TC) and completed over TCP.
    #[arg(long, value_name = "BYTES", default_value_t = 1232, value_parser = whole::<u16>("bytes").at_least(512), allow_negative_numbers = true, env = "HEADLESS_DNS_MAX_UDP_SIZE")]
    pub max_udp_size: u16,

    /// UDP worker threads per listen address (SO_REUSEPORT sockets); default: one per core.
    #[arg(long, value_name = "N", value_parser = whole::<u16>("threads").at_least(1), allow_negative_numbers = true, env = "HEADLESS_DNS_UDP_WORKERS")]
    pub udp_workers: Option<u16>,

    /// Close a TCP connection idle for this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = whole::<u64>("seconds"), allow_negative_numbers = true, env = "HEADLESS_DNS_TCP_IDLE_TIMEOUT")]
    pub tcp_idle_timeout: u64,

    /// Limit UDP answers to this many per second per client /24 (IPv4) or /56 (IPv6); excess
    /// answers are dropped, every second one replaced by TC=1. Off by default; 0 is off too.
    #[arg(long, value_name = "QPS", value_parser = whole::<u32>("answers per second"), allow_negative_numbers = true, env = "HEADLESS_DNS_RATE_LIMIT")]
    pub rate_limit: Option<u32>,

    /// At most this many TCP connections at once; more are closed when accepted.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1024,
        value_parser = whole::<u32>("connections").at_least(1),
        allow_negative_numbers = true,
        env = "HEADLESS_DNS_TCP_MAX_CONNECTIONS"
    )]
    pub tcp_max_connections: u32,

    /// Clients that may transfer the zones over TCP (AXFR/IXFR), repeatable CIDR. Default:
    /// nobody (transfers are REFUSED). They may also read /records and /explain.
    #[arg(
        long,
        value_name = "CIDR",
        value_parser = parse_network,
        help_heading = "Zone transfers",
        env = "HEADLESS_DNS_TRANSFER_ALLOW",
        value_delimiter = ','
    )]
    pub transfer_allow: Vec<ipnet::IpNet>,

    /// Bytes of recent differences kept for IXFR; a secondary whose serial is older than
    /// the journal gets the whole zone. 0 keeps none.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = crate::zone::journal::DEFAULT_BYTES,
        value_parser = whole::<usize>("bytes"),
        allow_negative_numbers = true,
        help_heading = "Zone transfers",
        env = "HEADLESS_DNS_IXFR_JOURNAL"
    )]
    pub ixfr_journal: usize,

    /// Secondary to send NOTIFY to when the serial changes (repeatable; port 53 by default).
    #[arg(
        long,
        value_name = "ADDR[:PORT]",
        value_parser = parse_notify,
        help_heading = "Zone transfers",
        env = "HEADLESS_DNS_NOTIFY",
        value_delimiter = ','
    )]
    pub notify: Vec<SocketAddr>,

    /// SOA refresh: seconds between a secondary's checks of our serial. NOTIFY tells it
    /// of changes at once; this is the safety net (CoreDNS's value).
    #[arg(long, value_name = "SECONDS", default_value_t = 7200, value_parser = whole::<u32>("seconds").range(1, i32::MAX as u64), allow_negative_numbers = true, help_heading = "Zone transfers", env = "HEADLESS_DNS_SOA_REFRESH")]
    pub soa_refresh: u32,

    /// SOA retry: seconds before a secondary retries a failed refresh.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800, value_parser = whole::<u32>("seconds").range(1, i32::MAX as u64), allow_negative_numbers = true, help_heading = "Zone transfers", env = "HEADLESS_DNS_SOA_RETRY")]
    pub soa_retry: u32,

    /// SOA expire: seconds a secondary that cannot reach us keeps answering from its copy.
    #[arg(long, value_name = "SECONDS", default_value_t = 86400, value_parser = whole::<u32>("seconds").range(1, i32::MAX as u64), allow_negative_numbers = true, help_heading = "Zone transfers", env = "HEADLESS_DNS_SOA_EXPIRE")]
    pub soa_expire: u32,

    /// TSIG key `NAME:ALGORITHM:BASE64SECRET` (hmac-sha256, hmac-sha384, hmac-sha512;
    /// repeatable; in the variable, comma-separated): transfer requests must be signed
    /// with one of the keys, and answers and NOTIFYs are signed too.
    #[arg(
        long,
        value_name = "NAME:ALGORITHM:SECRET",
        value_parser = TsigKeyParser,
        help_heading = "Zone transfers",
        env = "HEADLESS_DNS_TSIG_KEY",
        hide_env_values = true,
        value_delimiter = ','
    )]
    #[serde(skip)] // never printed: check-config names the keys in a comment
    pub tsig_key: Vec<crate::xfer::tsig::TsigKey>,

    /// File of TSIG keys, one `NAME:ALGORITHM:BASE64SECRET` a line (a mounted Kubernetes
    /// Secret), in addition to --tsig-key.
    #[arg(long, value_name = "FILE", help_heading = "Zone transfers", env = "HEADLESS_DNS_TSIG_KEY_FILE")]
    pub tsig_key_file: Option<PathBuf>,

    /// Serve from these manifest files or directories instead of a cluster (repeatable).
    ///
    /// YAML (multi-document, `kind: List`) or JSON; only Pods, Services, StatefulSets,
    /// EndpointSlices, Nodes (for the external zones) and the multicluster kinds
    /// (ServiceImport, ServiceExport, ClusterProperty) are read. Files are watched and
    /// reloaded on change.
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
        value_parser = parse_namespace,
        help_heading = "Sources",
        env = "HEADLESS_DNS_NAMESPACE",
        value_delimiter = ','
    )]
    #[serde(rename = "namespace")]
    pub namespaces: Vec<String>,

    /// Only watch pods matching this label selector (e.g. `dns=headless`, `tier in (db,cache)`),
    /// checked as the API server parses it.
    #[arg(
        long,
        value_name = "SELECTOR",
        value_parser = parse_label_selector,
        help_heading = "Sources",
        env = "HEADLESS_DNS_LABEL_SELECTOR"
    )]
    pub label_selector: Option<String>,

    /// Initial lists and relists as streaming lists (the WatchList protocol: the API server
    /// streams from its watch cache instead of building every page of a list for every
    /// relist of every replica). `--streaming-list` alone is `auto`: stream where the server
    /// supports it, else paged lists; `always`; `never` (the default).
    #[arg(
        long,
        value_parser = choice::choice::<StreamingList>(),
        value_name = "WHEN",
        num_args = 0..=1,
        default_value = StreamingList::Never.name(),
        default_missing_value = "auto",
        help_heading = "Sources",
        env = "HEADLESS_DNS_STREAMING_LIST"
    )]
    pub streaming_list: StreamingList,

    /// Kubernetes API timeout, in seconds: each watch is renewed after this long, and a
    /// connection that sends nothing for 5 s more (a watch) or twice as long (a list) is
    /// taken for dead and reopened, so a silently dropped connection is noticed.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = whole::<u64>("seconds").range(1, 3600),
        allow_negative_numbers = true,
        help_heading = "Sources",
        env = "HEADLESS_DNS_API_TIMEOUT"
    )]
    pub api_timeout: u64,
    /// Save the trimmed state here (atomically, at most once a second) and answer from it
    /// at startup until the API server has been listed.
    #[arg(long, value_name = "PATH", help_heading = "Sources", env = "HEADLESS_DNS_STATE_FILE")]
    pub state_file: Option<PathBuf>,

    /// Forward queries we do not answer to this upstream (repeatable): IP, IP:PORT, [IPv6]:PORT,
    /// or resolv.conf[:PATH] for the nameservers of a resolv.conf (default /etc/resolv.conf).
    #[arg(
        long,
        value_name = "ADDR[:PORT]",
        help_heading = "Resolver mode",
        env = "HEADLESS_DNS_FORWARD",
        value_delimiter = ','
    )]
    pub forward: Vec<String>,

    /// Also forward in-zone names we do not know (services of namespaces not watched, reverse
    /// names of other addresses) instead of answering NXDOMAIN; names we know, pending
    /// identities included, are never forwarded.
    #[arg(long, help_heading = "Resolver mode", env = "HEADLESS_DNS_FALLTHROUGH")]
    pub fallthrough: bool,

    /// Clients whose queries may be forwarded (repeatable CIDR; default loopback, RFC 1918, ULA).
    #[arg(
        long,
        value_name = "CIDR",
        value_parser = parse_network,
        help_heading = "Resolver mode",
        env = "HEADLESS_DNS_ALLOW_FROM",
        value_delimiter = ','
    )]
    pub allow_from: Vec<ipnet::IpNet>,

    /// Per-try timeout of a forwarded query, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 2000,
        value_parser = whole::<u64>("milliseconds"),
        allow_negative_numbers = true,
        help_heading = "Resolver mode",
        env = "HEADLESS_DNS_FORWARD_TIMEOUT"
    )]
    pub forward_timeout: u64,

    /// Forwarded queries in flight at most; beyond that, SERVFAIL.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = whole::<usize>("queries"),
        allow_negative_numbers = true,
        help_heading = "Resolver mode",
        env = "HEADLESS_DNS_FORWARD_MAX_INFLIGHT"
    )]
    pub forward_max_inflight: usize,

    /// Cache this many forwarded answers (TTLs and negative caching honoured); 0: no cache.
    #[arg(
        long,
        value_name = "SIZE",
        default_value_t = 0,
        value_parser = whole::<usize>("answers"),
        allow_negative_numbers = true,
        help_heading = "Resolver mode",
        env = "HEADLESS_DNS_FORWARD_CACHE"
    )]
    pub forward_cache: usize,

    /// Answer a client's first search-path query with what its later ones would find
    /// (CoreDNS's autopath); needs the pod's namespace (--autopath-namespace or POD_NAMESPACE).
    #[arg(long, help_heading = "Resolver mode", env = "HEADLESS_DNS_AUTOPATH")]
    pub autopath: bool,

    /// The namespace of the pod whose resolver we are, for --autopath.
    #[arg(long, value_name = "NS", help_heading = "Resolver mode", env = "POD_NAMESPACE")]
    pub autopath_namespace: Option<String>,

    /// Admin HTTP address (/healthz, /readyz, /metrics, /explain, /records), or `none`. The
    /// default is loopback only; in a pod, give 0.0.0.0:8080 so the kubelet's probes and
    /// Prometheus reach it (deploy/ does).
    #[arg(long, value_name = "ADDR:PORT|none", default_value = "127.0.0.1:8080", value_parser = parse_admin, help_heading = "Operations", env = "HEADLESS_DNS_ADMIN")]
    pub admin: AdminAddr,

    /// Clients besides loopback that may read /records and /explain (repeatable CIDR); they
    /// dump the zone, which refusing AXFR protects. /healthz, /readyz and /metrics are open.
    #[arg(
        long,
        value_name = "CIDR",
        value_parser = parse_network,
        help_heading = "Operations",
        env = "HEADLESS_DNS_ADMIN_ALLOW",
        value_delimiter = ','
    )]
    pub admin_allow: Vec<ipnet::IpNet>,

    /// On SIGTERM/SIGINT, keep answering DNS this many seconds (while /readyz says 503) before exiting.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5,
        value_parser = whole::<u64>("seconds"),
        allow_negative_numbers = true,
        help_heading = "Operations",
        env = "HEADLESS_DNS_LAMEDUCK"
    )]
    pub lameduck: u64,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, help_heading = "Operations", env = "HEADLESS_DNS_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Log every query at info level (for debugging; costly under load).
    #[arg(long, help_heading = "Operations", env = "HEADLESS_DNS_QUERY_LOG")]
    pub query_log: bool,
    /// Whether `--admin` was given (flag, environment or file) rather than defaulted: a
    /// taken default port is replaced by a free one, a given one is an error.
    #[arg(skip)]
    #[serde(skip)]
    pub admin_given: bool,
}
