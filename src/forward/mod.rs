//! Sidecar resolver mode: forwarding what we are not authoritative for, safely.
//!
//! - Out-of-zone queries (and, with `--fallthrough`, in-zone names we do not know, such as
//!   ClusterIP services) go to the upstreams; the reply is relayed as is (rcode, flags,
//!   EDNS, DNSSEC records), with the client's ID.
//! - UDP with a TCP retry on TC; a query that came over TCP is forwarded over TCP.
//! - Per-try timeout, retries across upstreams, failing upstreams skipped for a while;
//!   SERVFAIL when none answers. A bound on queries in flight.
//! - Random IDs and source ports; replies must match ID and question.
//! - Only clients in `--allow-from` are served: never an open resolver.
//! - Optional LRU cache honouring TTLs and negative caching ([`cache`]).
//! - Optional autopath ([`Forwarder::autopath`]): answers the first search-path name a
//!   client would find, with a CNAME, saving its round trips.

pub mod cache;
pub mod selfloop;
pub mod upstream;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{DNSClass, Name, RData, Record};
use ipnet::IpNet;
use tokio::sync::Semaphore;

use crate::access::AccessList;
use crate::zone::{Answer, Zone};
pub use upstream::Upstream;

/// Forwarding settings, from the command line.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    /// Upstream servers, tried in order.
    pub upstreams: Vec<SocketAddr>,
    /// Forward in-zone names we do not know instead of answering NXDOMAIN.
    pub fallthrough: bool,
    /// Clients allowed to have queries forwarded.
    pub allow_from: AccessList,
    /// Per-try timeout.
    pub timeout: Duration,
    /// Forwarded queries in flight at most; more get SERVFAIL.
    pub max_inflight: usize,
    /// Cached answers at most; 0 disables the cache.
    pub cache_size: usize,
    /// The pod's namespace, enabling autopath.
    pub autopath_namespace: Option<String>,
}

/// The default `--allow-from`: loopback and private ranges (RFC 1918, ULA).
pub static DEFAULT_ALLOW_FROM: std::sync::LazyLock<[IpNet; 6]> = std::sync::LazyLock::new(|| {
    ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
        .map(|n| n.parse().expect("static network"))
});

/// Reads the `nameserver` lines of a resolv.conf.
pub fn resolv_conf(path: &Path) -> Result<Vec<SocketAddr>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let servers: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    if servers.is_empty() {
        return Err(format!("{}: no nameserver lines", path.display()));
    }
    Ok(servers)
}

/// Parses one `--forward` value: `IP`, `IP:PORT`, `[IPv6]:PORT`, or `resolv.conf[:PATH]`.
pub fn parse_forward(value: &str) -> Result<Vec<SocketAddr>, String> {
    if let Some(rest) = value.strip_prefix("resolv.conf") {
        let path = rest.strip_prefix(':').unwrap_or("/etc/resolv.conf");
        return resolv_conf(Path::new(if path.is_empty() { "/etc/resolv.conf" } else { path }));
    }
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    value
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| vec![SocketAddr::new(ip, 53)])
        .map_err(|_| "expected IP, IP:PORT, [IPv6]:PORT or resolv.conf[:PATH]".to_owned())
}

/// Forwards queries to upstream servers.
pub struct Forwarder {
    upstreams: Vec<Upstream>,
    settings: ForwardSettings,
    inflight: Semaphore,
    cache: Option<cache::Cache>,
}

impl Forwarder {
    /// A forwarder with these settings.
    pub fn new(settings: ForwardSettings) -> Self {
        Self {
            upstreams: settings.upstreams.iter().map(|a| Upstream::new(*a)).collect(),
            inflight: Semaphore::new(settings.max_inflight.max(1)),
            cache: NonZeroUsize::new(settings.cache_size).map(cache::Cache::new),
            settings,
        }
    }

    /// Whether unknown in-zone names are forwarded.
    pub fn fallthrough(&self) -> bool {
        self.settings.fallthrough
    }

    /// The namespace autopath works for, if enabled.
    pub fn autopath_namespace(&self) -> Option<&str> {
        self.settings.autopath_namespace.as_deref()
    }

    /// Whether `client` may have queries forwarded.
    pub fn allows(&self, client: IpAddr) -> bool {
        self.settings.allow_from.allows(client)
    }

    /// Resolves `query` upstream. Always returns a reply for the client: the upstream's,
    /// or SERVFAIL when none answers in time.
    pub async fn resolve(&self, query: &Message, tcp: bool) -> Message {
        self.resolve_from(query, tcp).await.0
    }

    /// [`resolve`](Self::resolve), also saying whether the reply came from the cache
    /// (`true`) rather than an upstream asked now, for the query log.
    pub async fn resolve_from(&self, query: &Message, tcp: bool) -> (Message, bool) {
        let key = cache::CacheKey::of(query);
        if let (Some(cache), Some(key)) = (&self.cache, &key)
            && let Some(hit) = cache.get(key, query)
        {
            return (hit, true);
        }
        (self.ask_upstreams(query, key, tcp).await, false)
    }

    async fn ask_upstreams(&self, query: &Message, key: Option<cache::CacheKey>, tcp: bool) -> Message {
        let Ok(_permit) = self.inflight.try_acquire() else {
            tracing::debug!("too many forwarded queries in flight");
            return servfail(query);
        };
        let mut outgoing = query.clone();
        outgoing.metadata.id = rand::random();
        let Ok(bytes) = outgoing.to_vec() else { return servfail(query) };
        let now = Instant::now();
        let mut order: Vec<&Upstream> = self.upstreams.iter().filter(|u| u.is_healthy(now)).collect();
        order.extend(self.upstreams.iter().filter(|u| !u.is_healthy(now)));
        let attempts = order.len().max(2);
        for upstream in order.iter().cycle().take(attempts) {
            match upstream.exchange(&bytes, tcp, self.settings.timeout).await {
                Ok(reply) => match Message::from_vec(&reply) {
                    Ok(mut reply) => {
                        upstream.record(true);
                        reply.metadata.id = query.metadata.id;
                        if let (Some(cache), Some(key)) = (&self.cache, key) {
                            cache.put(key, &reply);
                        }
                        return reply;
                    }
                    Err(e) => {
                        upstream.record(false);
                        tracing::debug!(upstream = %upstream.addr, error = %e, "undecodable upstream reply");
                    }
                },
                Err(e) => {
                    upstream.record(false);
                    tracing::debug!(error = %e, "upstream failed");
                }
            }
        }
        servfail(query)
    }

    /// Our answer to `query` is a CNAME chain ending outside the zone (an ExternalName
    /// service): resolves its `target` upstream and answers the chain followed by the
    /// upstream's answer (its code, records and authority), as a recursive resolver does.
    /// The client's stub resolver (glibc, musl) does not follow a CNAME itself. The flag
    /// says whether the upstream part came from the cache (as [`Self::resolve_from`]).
    pub async fn chase(
        &self,
        query: &Message,
        chain: Vec<Record>,
        target: Name,
        tcp: bool,
    ) -> (Message, bool) {
        let mut sub = query.clone();
        sub.queries[0].set_name(target);
        let (mut out, cached) = self.resolve_from(&sub, tcp).await;
        out.metadata.id = query.metadata.id;
        out.queries = query.queries.clone();
        let rest = std::mem::take(&mut out.answers);
        out.answers = chain;
        out.answers.extend(rest);
        (out, cached)
    }

    /// Autopath: `query` asks `X.<ns>.svc.<zone>` (a client's first search-path try) and
    /// that name does not exist. Try the names the client's resolver would try next —
    /// `X.svc.<zone>`, `X.<zone>`, then `X.` — and answer the first that has records, with a
    /// CNAME from the asked name to it. `None` when the query does not have that shape or
    /// nothing is found (the caller answers as usual).
    pub async fn autopath(&self, zone: &Zone, query: &Message, tcp: bool) -> Option<Message> {
        let namespace = self.settings.autopath_namespace.as_deref()?;
        let [question] = query.queries.as_slice() else { return None };
        let asked = question.name();
        let origin = &zone.settings().origin;
        let first_search = Name::from_ascii(format!("{namespace}.svc")).ok()?.append_domain(origin).ok()?;
        let lower = asked.to_lowercase();
        if !first_search.zone_of(&lower) || lower.num_labels() <= first_search.num_labels() {
            return None;
        }
        let depth = usize::from(lower.num_labels() - first_search.num_labels());
        let x = Name::from_labels(asked.iter().take(depth)).ok()?;
        let svc = Name::from_ascii("svc").ok()?.append_domain(origin).ok()?;
        let mut candidates = Vec::new();
        for search in [&svc, origin] {
            candidates.extend(x.clone().append_domain(search).ok());
        }
        let mut absolute = x.clone();
        absolute.set_fqdn(true);
        candidates.push(absolute);
        for candidate in candidates {
            let mut sub = query.clone();
            sub.queries[0].set_name(candidate.clone());
            let reply = if origin.zone_of(&candidate) {
                let answer = zone.lookup(&candidate, question.query_type(), DNSClass::IN);
                if answer.rcode == ResponseCode::NXDomain && self.settings.fallthrough {
                    self.resolve(&sub, tcp).await
                } else {
                    to_message(&sub, answer)
                }
            } else {
                self.resolve(&sub, tcp).await
            };
            if reply.metadata.response_code == ResponseCode::NoError && !reply.answers.is_empty() {
                let mut out = reply;
                out.metadata.id = query.metadata.id;
                out.queries = query.queries.clone();
                let cname =
                    Record::from_rdata(asked.clone(), zone.settings().ttl, RData::CNAME(CNAME(candidate)));
                out.answers.insert(0, cname);
                return Some(out);
            }
        }
        None
    }
}

/// A SERVFAIL reply to `query`.
pub fn servfail(query: &Message) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = ResponseCode::ServFail;
    reply.queries = query.queries.clone();
    reply.edns = query.edns.as_ref().map(|_| {
        let mut e = hickory_proto::op::Edns::new();
        e.set_max_payload(1232);
        e
    });
    reply
}

/// A zone answer as a reply message to `query`.
fn to_message(query: &Message, answer: Answer) -> Message {
    let mut reply = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    reply.metadata.authoritative = answer.authoritative;
    reply.metadata.response_code = answer.rcode;
    reply.queries = query.queries.clone();
    reply.answers = answer.answers;
    reply.authorities = answer.authorities;
    reply.additionals = answer.additionals;
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_values_and_resolv_conf() {
        assert_eq!(parse_forward("10.96.0.10").unwrap(), vec!["10.96.0.10:53".parse().unwrap()]);
        assert_eq!(parse_forward("127.0.0.1:5300").unwrap(), vec!["127.0.0.1:5300".parse().unwrap()]);
        assert_eq!(parse_forward("[fd00::10]:53").unwrap(), vec!["[fd00::10]:53".parse().unwrap()]);
        assert!(parse_forward("dns.example").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        std::fs::write(&path, "search default.svc.cluster.local\nnameserver 10.96.0.10 # kube-dns\nnameserver fe80::1%eth0\noptions ndots:5\n").unwrap();
        let servers = parse_forward(&format!("resolv.conf:{}", path.display())).unwrap();
        assert_eq!(servers, vec!["10.96.0.10:53".parse().unwrap(), "[fe80::1]:53".parse().unwrap()]);
        std::fs::write(&path, "search x\n").unwrap();
        assert!(resolv_conf(&path).is_err());
    }

    #[test]
    fn allow_from_defaults_to_private_ranges() {
        let f = Forwarder::new(ForwardSettings {
            upstreams: vec![],
            fallthrough: false,
            allow_from: AccessList::new(&DEFAULT_ALLOW_FROM[..]),
            timeout: Duration::from_secs(1),
            max_inflight: 10,
            cache_size: 0,
            autopath_namespace: None,
        });
        for ok in ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "::1", "fd00::1", "::ffff:10.0.0.1"]
        {
            assert!(f.allows(ok.parse().unwrap()), "{ok}");
        }
        for no in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "100.64.0.1"] {
            assert!(!f.allows(no.parse().unwrap()), "{no}");
        }
    }
}
