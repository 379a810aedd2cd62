//! What a service publishes, as the zone keeps it: its endpoints (label and address),
//! SRV ports, pending hostnames and the StatefulSets whose identities it answers for,
//! or the records of a ClusterIP or ExternalName service. Built from pods (`build`) or
//! from EndpointSlices (`slices`); read by the lookup.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::ServiceType;
use crate::cluster::SharedStr;
use crate::cluster::{CompactIp, ObjectKey, Protocol};

/// How endpoints without a matching hostname are named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointNames {
    /// The dashed IP (`10-1-2-3`), as the Kubernetes DNS spec and CoreDNS do.
    #[default]
    Hostname,
    /// The pod's name when it is a valid DNS label (CoreDNS's `endpoint_pod_names`).
    PodName,
}

impl EndpointNames {
    /// Every naming.
    pub const ALL: [EndpointNames; 2] = [EndpointNames::Hostname, EndpointNames::PodName];

    /// Its name (`--endpoint-names`, the config file).
    pub fn name(self) -> &'static str {
        match self {
            EndpointNames::Hostname => "hostname",
            EndpointNames::PodName => "pod-name",
        }
    }
}

/// One published address of a service: a ready pod IP and the label it answers under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    /// The first label of its name (`web-0`, `10-1-2-3`), shared with the pod's hostname.
    pub label: SharedStr,
    /// The address, in 16 bytes (see [`CompactIp`]): read it through [`ip`](Self::ip).
    address: CompactIp,
}

impl Endpoint {
    /// The endpoint `label` at `ip`.
    pub fn new(label: SharedStr, ip: IpAddr) -> Self {
        Endpoint { label, address: ip.into() }
    }

    /// The address.
    pub fn ip(&self) -> IpAddr {
        self.address.get()
    }
}

/// The SRV targets of one service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvPort {
    /// The port's name, lower-cased (`web` in `_web._tcp`). An unnamed port has no
    /// `_<port>._<proto>` name; it is kept for the bare SRV RRset on the service name,
    /// which lists every port.
    pub name: Option<Box<str>>,
    /// The port's protocol.
    pub protocol: Protocol,
    /// `(endpoint label, endpoint port)`, sorted and without duplicates; read through
    /// [`targets`](Self::targets).
    targets: SrvTargets,
}

/// How an [`SrvPort`] stores its targets.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SrvTargets {
    /// Each endpoint label once, all on this port: the usual case (every pod serves the
    /// port under the same number), kept without a list of its own: the list would be a
    /// copy of what the endpoints already say.
    EveryEndpoint(u16),
    /// Any other set.
    Listed(Box<[(SharedStr, u16)]>),
}

impl SrvPort {
    /// The SRV port `name` (unnamed: only in the bare SRV RRset) with these
    /// `(endpoint label, endpoint port)` targets, stored without a list when they are
    /// every endpoint of `records` on one number.
    pub(crate) fn new(
        name: Option<&str>,
        protocol: Protocol,
        mut targets: Vec<(SharedStr, u16)>,
        records: &ServiceRecords,
    ) -> Self {
        targets.sort();
        targets.dedup();
        let first = targets.first().map(|(_, number)| *number);
        let targets = match first {
            Some(number)
                if targets.iter().map(|(label, _)| label).eq(records.endpoint_labels())
                    && targets.iter().all(|(_, n)| *n == number) =>
            {
                SrvTargets::EveryEndpoint(number)
            }
            _ => SrvTargets::Listed(targets.into()),
        };
        let name = name.filter(|n| !n.is_empty()).map(|n| n.to_ascii_lowercase().into());
        SrvPort { name, protocol, targets }
    }

    /// `(endpoint label, endpoint port)`, sorted and without duplicates. `records` are
    /// the records this port belongs to.
    pub fn targets<'a>(&'a self, records: &'a ServiceRecords) -> impl Iterator<Item = (&'a SharedStr, u16)> {
        let (every, listed) = match &self.targets {
            SrvTargets::EveryEndpoint(port) => (Some(*port), &[][..]),
            SrvTargets::Listed(targets) => (None, &targets[..]),
        };
        let every =
            every.into_iter().flat_map(|port| records.endpoint_labels().map(move |label| (label, port)));
        listed.iter().map(|(label, port)| (label, *port)).chain(every)
    }

    /// Whether the port has any target (a port without one has no SRV name).
    pub fn has_targets(&self, records: &ServiceRecords) -> bool {
        self.targets(records).next().is_some()
    }
}

/// A StatefulSet governed by this service, kept to answer for its identities lazily
/// (a StatefulSet may declare millions of replicas; we never expand them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identities {
    /// The StatefulSet's name: identities are `<name>-<ordinal>`.
    pub statefulset: SharedStr,
    /// First ordinal.
    pub start: u32,
    /// Number of replicas.
    pub replicas: u32,
}

/// Everything a headless service publishes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServiceRecords {
    /// Ready endpoints, sorted by label then address.
    pub endpoints: Vec<Endpoint>,
    /// SRV targets, one entry per service port (named or not), in the service's order.
    pub srv: Vec<SrvPort>,
    /// Labels of pods selected by the service, with a matching hostname, that are not ready.
    pub pending_pods: BTreeSet<SharedStr>,
    /// StatefulSets whose `serviceName` is this service. A boxed slice, exact: a vector
    /// collected from a filter kept room for four (96 bytes a service), and its 8 bytes
    /// more put the records one allocation size up.
    pub identities: Box<[Identities]>,
    /// `None` for a headless service; what a ClusterIP or ExternalName service answers
    /// instead (boxed: 8 bytes on the many headless services).
    pub service_type: Option<Box<ServiceType>>,
    /// Names of the pods the selector matched (ready or not): with the pods changed since,
    /// the only candidates when the service itself did not change. `None` when they are
    /// the endpoints' labels (ready StatefulSet pods: their hostname is their name), which
    /// saves a list per service; read through [`members`](Self::members).
    pub(super) members: Option<Box<[SharedStr]>>,
}

impl ServiceRecords {
    /// The names of the pods the service's selector matched, ready or not, sorted.
    pub fn members(&self) -> impl Iterator<Item = &SharedStr> {
        let (listed, from_endpoints) = match &self.members {
            Some(names) => (&names[..], None),
            None => (&[][..], Some(self.endpoint_labels())),
        };
        listed.iter().chain(from_endpoints.into_iter().flatten())
    }

    /// The addresses with PTR records naming this service: its ready endpoints' or its
    /// cluster IPs.
    pub fn published_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let cluster = self.service_type.as_deref().map_or(&[][..], ServiceType::cluster_ips);
        self.endpoints.iter().map(Endpoint::ip).chain(cluster.iter().copied())
    }

    /// The addresses with PTR records that `records` (`None`: none) publish, sorted, each
    /// once: what a change of a service's records adds to or removes from the reverse index.
    pub fn published_set(records: Option<&ServiceRecords>) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = records.map(|r| r.published_ips().collect()).unwrap_or_default();
        ips.sort_unstable();
        ips.dedup();
        ips
    }

    /// The endpoints' labels, each once, sorted.
    pub fn endpoint_labels(&self) -> impl Iterator<Item = &SharedStr> {
        let endpoints = &self.endpoints;
        endpoints
            .iter()
            .enumerate()
            .filter(|(i, e)| *i == 0 || endpoints[i - 1].label != e.label)
            .map(|(_, e)| &e.label)
    }

    /// The endpoints labelled `label`, found by binary search (they are sorted by label):
    /// looking up every name of a 20k-pod service (a zone transfer, SRV glue) stays linear.
    pub fn labelled(&self, label: &str) -> &[Endpoint] {
        let start = self.endpoints.partition_point(|e| &*e.label < label);
        let len = self.endpoints[start..].partition_point(|e| &*e.label == label);
        &self.endpoints[start..start + len]
    }
}

/// The StatefulSets of `ns` governed by service `key`, by name.
pub(crate) fn identities(ns: &crate::cluster::Namespace, key: &ObjectKey) -> Box<[Identities]> {
    let mut identities: Vec<Identities> = ns
        .statefulsets_of(&key.name)
        .map(|s| Identities { statefulset: s.key.name.clone(), start: s.ordinal_start, replicas: s.replicas })
        .collect();
    identities.sort_by(|a, b| a.statefulset.cmp(&b.statefulset));
    identities.into_boxed_slice()
}

/// `s` lower-cased, sharing its allocation when it already is (Kubernetes names are).
pub(crate) fn lowercase(s: &SharedStr) -> SharedStr {
    if s.bytes().any(|b| b.is_ascii_uppercase()) { s.to_ascii_lowercase() } else { s.clone() }
}

/// `10.1.2.3` → `10-1-2-3`, `fd00::1` → `fd00--1`.
pub fn dashed_ip(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

pub use crate::cluster::objects::is_dns_label;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_records_fit_a_128_byte_allocation_with_their_reference_counts() {
        // One per service: 8 bytes more and each takes a 160-byte block.
        assert!(std::mem::size_of::<ServiceRecords>() + 2 * std::mem::size_of::<usize>() <= 128);
    }

    #[test]
    fn identities_own_only_ordinals_in_range() {
        let ids = Identities { statefulset: "web".into(), start: 2, replicas: 3 };
        assert!(ids.owns("web-2") && ids.owns("web-4"));
        assert!(!ids.owns("web-1") && !ids.owns("web-5"));
        assert!(!ids.owns("web-03") && !ids.owns("web-") && !ids.owns("web") && !ids.owns("webx-2"));
        assert!(!ids.owns("web-99999999999999999999999"));
    }

    #[test]
    fn dashed_ips_and_labels() {
        assert_eq!(dashed_ip("10.1.2.3".parse().unwrap()), "10-1-2-3");
        assert_eq!(dashed_ip("fd00::1".parse().unwrap()), "fd00--1");
        assert!(is_dns_label("web-0"));
        assert!(!is_dns_label("Web") && !is_dns_label("-a") && !is_dns_label("a.b"));
    }
}
