//! What a Service publishes in external zones: its external-dns annotations, read as
//! external-dns reads them (kubernetes-sigs/external-dns, `source/annotations` and
//! `source/service.go`), and the spec and status fields they use.
//!
//! A Service carries an [`ExternalSpec`] when it has a `hostname` annotation. Values that
//! cannot be used are not fatal: they are left out and listed in
//! [`ExternalSpec::problems`] with why, and the Service's cluster records are unaffected.
//!
//! The rules, where external-dns leaves a choice or where we are stricter:
//!
//! - **Prefixes.** Each annotation is read under `external-dns.kubernetes.io/` (external-dns's
//!   prefix since v0.22) and `external-dns.alpha.kubernetes.io/` (the older one, still the
//!   common spelling). When both set the same key, the `external-dns.kubernetes.io/` value
//!   wins, as in external-dns; the other is a problem if it differs.
//! - **`hostname`**: a comma-separated list; each item trimmed of white space, an empty
//!   item skipped, a trailing dot dropped, lower-cased, a repeated name kept once. A name
//!   must be a DNS name of RFC 1123 labels (1–63 bytes of `a-z`, `0-9`, `-`, not starting
//!   or ending with `-`; 253 bytes in all); a wildcard (`*.example.com`) is not published.
//!   Either is a problem, and the other names are kept. (external-dns deletes every space
//!   inside the value; we only trim, so `a b.example.com` is a problem, not `ab.example.com`.)
//! - **`target`**: a comma-separated list as above. All IP addresses: A/AAAA records of
//!   them (each once). One DNS name: a CNAME to it. Anything else (names and addresses
//!   mixed, several names, a value that is neither) is a problem and there is no target.
//! - **`ttl`**: what external-dns accepts: a Go duration (`90s`, `1m`, `1h30m`, `1.5s`;
//!   fractions of a second dropped) or else a whole number of seconds, 1 to 2³¹−1.
//!   Anything else is a problem and the zone's TTL applies.
//! - **`endpoints-type`**: `NodeExternalIP` or `HostIP`, spelled exactly so (external-dns
//!   compares them as written). Any other non-empty value is a problem and the pod IPs are
//!   published, external-dns's default.
//! - **Fields.** `metadata.creationTimestamp` (RFC 3339) as Unix seconds, 0 when absent or
//!   unreadable; `spec.type`; `status.loadBalancer.ingress` (IPs and hostnames, each
//!   once); `spec.externalIPs` (each once); each port's `nodePort`. A field value that is
//!   not usable (an address that is not one) is a problem named by the field's path.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;

use crate::cluster::SharedStr;
use values::{dns_name, ttl_seconds, unix_seconds};

mod last_good;
mod layout;
mod values;

pub use layout::ExternalSpecFields;

/// external-dns's annotation prefix since v0.22; its value wins over the alpha one.
pub const EXTERNAL_DNS_PREFIX: &str = "external-dns.kubernetes.io/";
/// external-dns's older annotation prefix, still accepted.
pub const EXTERNAL_DNS_ALPHA_PREFIX: &str = "external-dns.alpha.kubernetes.io/";

/// What a Service publishes in external zones: its external-dns annotations and the spec
/// and status fields they use. Present (Some) on a Service with a `hostname` annotation.
///
/// Kept compactly: the fields most Services leave empty (a `target`, load balancer
/// ingress, external IPs, node ports, problems) are behind one optional box and read
/// through methods; [`ExternalSpecFields`] is the plain form, which state files keep.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "ExternalSpecFields", into = "ExternalSpecFields")]
pub struct ExternalSpec {
    /// `hostname`: each name lower-cased, without a trailing dot, a valid DNS name (RFC 1123
    /// labels), not a wildcard; invalid ones are only in `problems`.
    pub hostnames: Box<[SharedStr]>,
    /// `ttl` in seconds.
    pub ttl: Option<u32>,
    /// `endpoints-type`.
    pub endpoints_type: EndpointsType,
    /// `metadata.creationTimestamp` as Unix seconds (0 when absent): the older Service wins
    /// a name claimed twice.
    pub created: i64,
    /// `spec.type`.
    pub service_type: ExposedType,
    /// The rest; `None` when all of it is empty.
    rest: Option<Box<layout::Rest>>,
}

/// The `target` annotation: what the names point to instead of the computed targets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExternalTarget {
    /// A/AAAA records of these addresses, each once, in their order.
    Addresses(Box<[IpAddr]>),
    /// A CNAME to this name (lower-cased, without a trailing dot).
    Name(SharedStr),
}

/// The `endpoints-type` annotation: which addresses a headless Service's pods publish.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EndpointsType {
    /// The pods' own IPs (no annotation, or a value we do not know).
    #[default]
    PodIp,
    /// `NodeExternalIP`: the `ExternalIP` addresses of each pod's node.
    NodeExternalIp,
    /// `HostIP`: each pod's `status.hostIPs` (else `status.hostIP`).
    HostIp,
}

/// A Service's `spec.type`. (Not `ServiceType`: the zone has one, for what its cluster
/// records are.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ExposedType {
    /// `ClusterIP`, or absent (headless services are ClusterIP services).
    #[default]
    ClusterIp,
    /// `NodePort`.
    NodePort,
    /// `LoadBalancer`.
    LoadBalancer,
    /// `ExternalName`.
    ExternalName,
}

impl ExposedType {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExposedType::ClusterIp => "ClusterIP",
            ExposedType::NodePort => "NodePort",
            ExposedType::LoadBalancer => "LoadBalancer",
            ExposedType::ExternalName => "ExternalName",
        }
    }
}

/// One entry of `status.loadBalancer.ingress`: an IP, or a hostname (lower-cased, without
/// a trailing dot). An entry with both is two of these, the IP first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Ingress {
    /// `ip`.
    Ip(IpAddr),
    /// `hostname`.
    Hostname(SharedStr),
}

/// An annotation value (or field value) left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExternalProblem {
    /// The annotation's full key as written (`external-dns.alpha.kubernetes.io/ttl`), or
    /// the path of the field (`spec.externalIPs`).
    pub annotation: SharedStr,
    /// The value left out: the whole annotation value, or the one item of a list.
    pub value: SharedStr,
    /// Why, as a phrase: `a wildcard is not published`.
    pub reason: Box<str>,
}

impl fmt::Display for ExternalProblem {
    /// `external-dns.alpha.kubernetes.io/ttl="ten": not a duration or a number of seconds`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.annotation, self.value, self.reason)
    }
}

/// `status.loadBalancer` as it arrives.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LoadBalancerWire {
    ingress: Option<Vec<IngressWire>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct IngressWire {
    ip: Option<String>,
    hostname: Option<String>,
}

/// The fields of a Service an [`ExternalSpec`] is read from.
pub(super) struct ExternalFields<'a> {
    pub annotations: Option<&'a BTreeMap<String, String>>,
    pub creation_timestamp: Option<&'a str>,
    pub service_type: Option<&'a str>,
    pub external_ips: &'a [String],
    /// Each port's `nodePort`, in `spec.ports` order.
    pub node_ports: Vec<Option<i64>>,
    pub load_balancer: Option<&'a LoadBalancerWire>,
}

/// Collects the problems while the spec is read.
#[derive(Default)]
struct Problems(Vec<ExternalProblem>);

impl Problems {
    fn add(&mut self, annotation: &str, value: &str, reason: impl Into<Box<str>>) {
        self.0.push(ExternalProblem {
            annotation: annotation.into(),
            value: value.into(),
            reason: reason.into(),
        });
    }
}

/// The annotations under either prefix.
struct Annotations<'a>(&'a BTreeMap<String, String>);

impl<'a> Annotations<'a> {
    /// The value of `key` and its full key as written: the `external-dns.kubernetes.io/`
    /// one when both are set (the other, if it differs, is a problem).
    fn get(&self, key: &str, problems: &mut Problems) -> Option<(&'a str, &'a str)> {
        let find = |prefix: &str| {
            let (k, v) = self.0.get_key_value(&format!("{prefix}{key}"))?;
            Some((k.as_str(), v.as_str()))
        };
        let (current, alpha) = (find(EXTERNAL_DNS_PREFIX), find(EXTERNAL_DNS_ALPHA_PREFIX));
        match (current, alpha) {
            (Some((k, v)), Some((alpha_key, alpha_value))) => {
                if alpha_value != v {
                    problems.add(alpha_key, alpha_value, format!("{k} is set too, and wins"));
                }
                Some((k, v))
            }
            (Some((k, v)), None) | (None, Some((k, v))) => Some((k, v)),
            (None, None) => None,
        }
    }
}

impl ExternalSpec {
    /// Whether a Service with these annotations has a spec (a `hostname` annotation).
    pub(super) fn wanted(annotations: Option<&BTreeMap<String, String>>) -> bool {
        annotations.is_some_and(|a| {
            [EXTERNAL_DNS_PREFIX, EXTERNAL_DNS_ALPHA_PREFIX]
                .iter()
                .any(|prefix| a.contains_key(&format!("{prefix}hostname")))
        })
    }

    /// The spec of a Service with these fields; `None` without a `hostname` annotation.
    pub(super) fn read(fields: ExternalFields<'_>) -> Option<ExternalSpec> {
        let annotations = Annotations(fields.annotations?);
        let mut problems = Problems::default();
        let (hostname_key, hostname_value) = annotations.get("hostname", &mut problems)?;
        let mut hostnames: Vec<SharedStr> = Vec::new();
        for item in list_items(hostname_value) {
            match dns_name(item) {
                Ok(name) if !hostnames.contains(&name) => hostnames.push(name),
                Ok(_) => {}
                Err(reason) => problems.add(hostname_key, item, reason),
            }
        }
        let target = annotations.get("target", &mut problems).and_then(|(k, v)| target(k, v, &mut problems));
        let ttl = annotations.get("ttl", &mut problems).and_then(|(key, value)| match ttl_seconds(value) {
            Ok(ttl) => Some(ttl),
            Err(reason) => {
                problems.add(key, value, reason);
                None
            }
        });
        let endpoints_type = match annotations.get("endpoints-type", &mut problems) {
            None | Some((_, "")) => EndpointsType::PodIp,
            Some((_, "NodeExternalIP")) => EndpointsType::NodeExternalIp,
            Some((_, "HostIP")) => EndpointsType::HostIp,
            Some((key, value)) => {
                problems.add(key, value, "not NodeExternalIP or HostIP: the pod IPs are published");
                EndpointsType::PodIp
            }
        };
        let created = match fields.creation_timestamp {
            None | Some("") => 0,
            Some(raw) => unix_seconds(raw).unwrap_or_else(|| {
                problems.add("metadata.creationTimestamp", raw, "not an RFC 3339 time: taken as 0");
                0
            }),
        };
        let service_type = match fields.service_type {
            Some("NodePort") => ExposedType::NodePort,
            Some("LoadBalancer") => ExposedType::LoadBalancer,
            Some("ExternalName") => ExposedType::ExternalName,
            // Any other type refuses the Service before it gets here (`service.rs`).
            _ => ExposedType::ClusterIp,
        };
        let mut load_balancer: Vec<Ingress> = Vec::new();
        let ingress = fields.load_balancer.and_then(|lb| lb.ingress.as_deref()).unwrap_or_default();
        for entry in ingress {
            if let Some(raw) = entry.ip.as_deref().filter(|ip| !ip.is_empty()) {
                match raw.parse() {
                    Ok(ip) => load_balancer.push(Ingress::Ip(ip)),
                    Err(_) => problems.add("status.loadBalancer.ingress[].ip", raw, "not an IP address"),
                }
            }
            if let Some(raw) = entry.hostname.as_deref().filter(|h| !h.is_empty()) {
                match dns_name(raw) {
                    Ok(name) => load_balancer.push(Ingress::Hostname(name)),
                    Err(reason) => problems.add("status.loadBalancer.ingress[].hostname", raw, reason),
                }
            }
        }
        let mut unique = Vec::with_capacity(load_balancer.len());
        for ingress in load_balancer {
            if !unique.contains(&ingress) {
                unique.push(ingress);
            }
        }
        let mut external_ips: Vec<IpAddr> = Vec::new();
        for raw in fields.external_ips.iter().filter(|ip| !ip.is_empty()) {
            match raw.parse() {
                Ok(ip) if !external_ips.contains(&ip) => external_ips.push(ip),
                Ok(_) => {}
                Err(_) => problems.add("spec.externalIPs", raw, "not an IP address"),
            }
        }
        let mut node_ports: Vec<u16> = fields
            .node_ports
            .into_iter()
            .map(|port| match port {
                None | Some(0) => 0,
                Some(n) => u16::try_from(n).unwrap_or_else(|_| {
                    problems.add("spec.ports[].nodePort", &n.to_string(), "not a port number");
                    0
                }),
            })
            .collect();
        if node_ports.iter().all(|p| *p == 0) {
            node_ports.clear(); // none: no allocation on the many Services without node ports
        }
        Some(
            ExternalSpecFields {
                hostnames: hostnames.into(),
                target,
                ttl,
                endpoints_type,
                created,
                service_type,
                load_balancer: unique.into(),
                external_ips: external_ips.into(),
                node_ports: node_ports.into(),
                problems: problems.0.into(),
            }
            .into(),
        )
    }
}

/// The items of a comma-separated annotation value: trimmed, empty ones skipped.
/// What of `hostname` (without the trailing dot) lies above an external zone's apex,
/// given by its labels: `kafka-0.kafka` for `kafka-0.kafka.example.com` under
/// `example.com`, empty for the apex itself, `None` outside the zone or with an empty
/// label. Labels compare case-insensitively. The one rule of which hostnames a zone
/// publishes (those strictly under its apex): the cluster state checks new versions
/// against it, the zone builds from it, the index says what it leaves out.
pub fn above_apex<'h, 'a>(
    hostname: &'h str,
    apex: impl DoubleEndedIterator<Item = &'a [u8]>,
) -> Option<&'h str> {
    let mut rest = Some(hostname);
    for label in apex.rev() {
        let current = rest?;
        let (before, last) = match current.rsplit_once('.') {
            Some((before, last)) => (Some(before), last),
            None => (None, current),
        };
        if !last.as_bytes().eq_ignore_ascii_case(label) {
            return None;
        }
        rest = before;
    }
    match rest {
        None => Some(""),
        Some(above) if !above.is_empty() && !above.split('.').any(str::is_empty) => Some(above),
        Some(_) => None,
    }
}

fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|item| !item.is_empty())
}

/// The `target` annotation's value: all addresses, or one name.
fn target(key: &str, value: &str, problems: &mut Problems) -> Option<ExternalTarget> {
    let items: Vec<&str> = list_items(value).map(|item| item.strip_suffix('.').unwrap_or(item)).collect();
    if items.is_empty() {
        return None; // an empty target is no target, as in external-dns
    }
    let ips: Vec<IpAddr> = items.iter().filter_map(|item| item.parse().ok()).collect();
    if ips.len() == items.len() {
        let mut unique: Vec<IpAddr> = Vec::with_capacity(ips.len());
        for ip in ips {
            if !unique.contains(&ip) {
                unique.push(ip);
            }
        }
        return Some(ExternalTarget::Addresses(unique.into()));
    }
    let reason = match items.as_slice() {
        [one] => match dns_name(one) {
            Ok(name) => return Some(ExternalTarget::Name(name)),
            Err(reason) => format!("not an IP address or a usable DNS name: {reason}"),
        },
        _ if !ips.is_empty() => "addresses and names mixed: no target is used".into(),
        _ => "several names (a CNAME has one target): no target is used".into(),
    };
    problems.add(key, value, reason);
    None
}

#[cfg(test)]
mod tests;
