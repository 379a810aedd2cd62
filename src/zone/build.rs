//! From cluster state to the records of one headless service.
//!
//! This is where the Kubernetes DNS rules live: which pods are endpoints, when an
//! endpoint is ready, what its label is, which port its SRV record names, and which
//! names are known StatefulSet identities.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::ServiceType;
use crate::cluster::SharedStr;
use crate::cluster::{ClusterState, CompactIp, ObjectKey, Pod, Protocol, Service, TargetPort};

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
    /// port under the same number), kept without a list of its own. At 100k pods the
    /// lists would be 2.3 MiB, a copy of what the endpoints already say.
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

impl Identities {
    /// True when `label` is `<statefulset>-<ordinal>` with the ordinal in range.
    pub fn owns(&self, label: &str) -> bool {
        let Some(ordinal) = label.strip_prefix(&*self.statefulset).and_then(|rest| rest.strip_prefix('-'))
        else {
            return false;
        };
        // Reject "web-01" and "web-+1": Kubernetes never creates those names.
        if ordinal.is_empty() || (ordinal.len() > 1 && ordinal.starts_with('0')) {
            return false;
        }
        if !ordinal.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        ordinal
            .parse::<u64>()
            .is_ok_and(|i| i >= u64::from(self.start) && i < u64::from(self.start) + u64::from(self.replicas))
    }
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
    members: Option<Box<[SharedStr]>>,
}

impl ServiceRecords {
    /// Builds the records of one service, or `None` when the service is not one we serve
    /// (absent, or a ClusterIP service without an address). Two shortcuts for the pods
    /// a selector can match: `by_label`, a namespace's pods by label (built once when many
    /// services of it are rebuilt), and `candidates`, the only pod names to consider (the
    /// previous members and the pods changed since: correct whenever the service's
    /// selector did not change); without either, every pod of the namespace.
    pub fn build(
        state: &ClusterState,
        key: &ObjectKey,
        names: EndpointNames,
        by_label: Option<&PodsByLabel<'_>>,
        candidates: Option<&[SharedStr]>,
    ) -> Option<ServiceRecords> {
        let ns = state.namespace(&key.namespace)?;
        let service = ns.services.get(&key.name)?;
        if !service.headless {
            let service_type = Some(Box::new(ServiceType::build(service)?));
            return Some(ServiceRecords { service_type, ..ServiceRecords::default() });
        }
        let Some(selector) = service.selector.as_ref() else {
            // No selector: its operator publishes its endpoints in EndpointSlices.
            return Some(super::slices::records_from_slices(ns, service, key));
        };
        let mut records = ServiceRecords::default();
        let mut members: Vec<SharedStr> = Vec::new();
        let mut ready_pods: Vec<&Pod> = Vec::new();
        let candidates: Box<dyn Iterator<Item = &Pod>> = match (candidates, by_label, selector.first()) {
            (Some(names), _, _) => Box::new(names.iter().filter_map(|n| ns.pods.get(n)).map(|p| &**p)),
            (None, Some(index), Some((k, v))) => {
                Box::new(index.get(&(&**k, &**v)).into_iter().flatten().copied())
            }
            _ => Box::new(ns.pods.values().map(|p| &**p)),
        };
        let mut seen = std::collections::HashSet::new();
        for pod in candidates.filter(|p| service.selects(p)) {
            if !seen.insert(pod.key.name.clone()) {
                continue; // a candidate listed twice (a member that also changed)
            }
            members.push(pod.key.name.clone());
            let hostname = endpoint_hostname(service, pod);
            // No IP yet (just scheduled) or a terminal phase (deleted, evicted) counts as
            // not ready: a hostnamed pod is pending, never its old address.
            if !is_ready(service, pod) {
                if let Some(h) = hostname {
                    records.pending_pods.insert(lowercase(h));
                }
                continue;
            }
            ready_pods.push(pod);
            for ip in pod.ips.iter() {
                records.endpoints.push(Endpoint::new(endpoint_label(pod, hostname, ip, names), ip));
            }
        }
        members.sort();
        members.dedup();
        records.endpoints.sort();
        records.endpoints.dedup();
        if !members.iter().eq(records.endpoint_labels()) {
            records.members = Some(members.into());
        }
        // A hostname that is ready on one pod is not pending because another pod with
        // the same hostname is not.
        for e in &records.endpoints {
            records.pending_pods.remove(&e.label);
        }

        for port in &service.ports {
            let mut targets: Vec<(SharedStr, u16)> = Vec::new();
            for pod in &ready_pods {
                let Some(number) = endpoint_port(pod, port.protocol, &port.target_port) else { continue };
                let hostname = endpoint_hostname(service, pod);
                for ip in pod.ips.iter() {
                    targets.push((endpoint_label(pod, hostname, ip, names), number));
                }
            }
            let port = SrvPort::new(port.name.as_deref(), port.protocol, targets, &records);
            records.srv.push(port);
        }

        records.identities = identities(ns, key);
        // Built by pushing: drop the spare capacity, a third of these vectors on average.
        records.endpoints.shrink_to_fit();
        records.srv.shrink_to_fit();
        Some(records)
    }

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

    /// True when `label` is a known identity (a StatefulSet ordinal in range, or a
    /// selected not-ready pod's hostname) that has no ready address right now.
    pub fn is_pending(&self, label: &str) -> bool {
        self.labelled(label).is_empty()
            && (self.pending_pods.contains(label) || self.identities.iter().any(|i| i.owns(label)))
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

/// A namespace's pods by each of their labels.
pub type PodsByLabel<'a> = std::collections::HashMap<(&'a str, &'a str), Vec<&'a Pod>>;

/// Indexes the pods of `namespace` by label, for rebuilding many of its services at once.
/// Only the label keys the services look up (their selectors' first key) are indexed:
/// the others, such as the unique `statefulset.kubernetes.io/pod-name`, would only add a
/// short-lived entry per pod.
pub fn pods_by_label<'a>(state: &'a ClusterState, namespace: &str) -> PodsByLabel<'a> {
    let mut index = PodsByLabel::new();
    let Some(ns) = state.namespace(namespace) else { return index };
    let keys: std::collections::HashSet<&str> = ns
        .services
        .values()
        .filter(|s| s.headless)
        .filter_map(|s| s.selector.as_ref()?.first())
        .map(|(k, _)| &**k)
        .collect();
    for pod in ns.pods.values() {
        for (k, v) in pod.label_pairs().filter(|(k, _)| keys.contains(k)) {
            index.entry((k, v)).or_default().push(pod);
        }
    }
    index
}

/// Whether a selected pod is a published endpoint of a service, and why (explain says it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Ready: its `Ready` condition is `True` and it is not terminating.
    Ready,
    /// Published although not ready or terminating: the service publishes not-ready addresses.
    PublishedNotReady,
    /// In a terminal phase (`Failed`, `Succeeded`): never an endpoint, whatever the service.
    Terminal,
    /// Without an IP: never an endpoint.
    NoIp,
    /// Terminating (`deletionTimestamp`) and the service does not publish not-ready addresses.
    Terminating,
    /// Its `Ready` condition is not `True`.
    NotReady,
}

impl Readiness {
    /// Whether the pod's addresses are published.
    pub fn is_published(self) -> bool {
        matches!(self, Readiness::Ready | Readiness::PublishedNotReady)
    }
}

/// How the EndpointSlice controller decides (`ShouldPodBeInEndpoints` and
/// `podToEndpoint` in k8s.io/endpointslice), keeping only what it marks ready, as DNS
/// publishes: a pod in a terminal phase never is an endpoint, even under
/// publishNotReadyAddresses (its IP may already belong to another pod); a pod without
/// an IP never is; a terminating pod is one only when the service publishes not-ready
/// addresses; otherwise the pod's `Ready` condition decides.
pub fn readiness(service: &Service, pod: &Pod) -> Readiness {
    if pod.phase.is_terminal() {
        Readiness::Terminal
    } else if pod.ips.is_empty() {
        Readiness::NoIp
    } else if pod.ready_condition && !pod.terminating {
        Readiness::Ready
    } else if service.publish_not_ready {
        Readiness::PublishedNotReady
    } else if pod.terminating {
        Readiness::Terminating
    } else {
        Readiness::NotReady
    }
}

/// Whether a selected pod's addresses are published (see [`readiness`]).
pub fn is_ready(service: &Service, pod: &Pod) -> bool {
    readiness(service, pod).is_published()
}

/// The pod's hostname, when it applies to this service (`spec.subdomain` names it).
pub fn endpoint_hostname<'a>(service: &Service, pod: &'a Pod) -> Option<&'a SharedStr> {
    match (pod.hostname(), pod.subdomain()) {
        (Some(h), Some(s)) if **s == *service.key.name => Some(h),
        _ => None,
    }
}

/// `s` lower-cased, sharing its allocation when it already is (Kubernetes names are).
pub(crate) fn lowercase(s: &SharedStr) -> SharedStr {
    if s.bytes().any(|b| b.is_ascii_uppercase()) { s.to_ascii_lowercase() } else { s.clone() }
}

/// The label an endpoint address answers under.
pub fn endpoint_label(
    pod: &Pod,
    hostname: Option<&SharedStr>,
    ip: IpAddr,
    names: EndpointNames,
) -> SharedStr {
    if let Some(h) = hostname {
        return lowercase(h);
    }
    if names == EndpointNames::PodName && is_dns_label(&pod.key.name) {
        return lowercase(&pod.key.name);
    }
    dashed_ip(ip).into()
}

/// `10.1.2.3` → `10-1-2-3`, `fd00::1` → `fd00--1`.
pub fn dashed_ip(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

pub use crate::cluster::objects::is_dns_label;

/// The port an endpoint serves a service port on: the numeric `targetPort`, or the
/// pod's container port of that name and protocol (none: no SRV for this endpoint).
pub fn endpoint_port(pod: &Pod, protocol: Protocol, target: &TargetPort) -> Option<u16> {
    match target {
        TargetPort::Number(n) => Some(*n),
        TargetPort::Name(name) => {
            pod.ports().iter().find(|p| p.name == *name && p.protocol == protocol).map(|p| p.port)
        }
    }
}

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
