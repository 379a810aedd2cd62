//! From cluster state to the records of one headless service.
//!
//! This is where the Kubernetes DNS rules live: which pods are endpoints, when an
//! endpoint is ready, what its label is, which port its SRV record names, and which
//! names are known StatefulSet identities.

use std::net::IpAddr;

use super::ServiceType;
use super::records::{
    Endpoint, EndpointNames, ServiceRecords, SrvPort, dashed_ip, identities, is_dns_label, lowercase,
};
use crate::cluster::SharedStr;
use crate::cluster::{ClusterState, ObjectKey, Pod, Protocol, Service, TargetPort};

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
        let selects = |p: &&Pod| service.selects(p);
        let mut selected: Vec<&Pod> = match (candidates, by_label, selector.first()) {
            (Some(names), _, _) => {
                names.iter().filter_map(|n| ns.pods.get(n)).map(|p| &**p).filter(selects).collect()
            }
            (None, Some(index), Some((k, v))) => {
                index.get(&(&**k, &**v)).into_iter().flatten().copied().filter(selects).collect()
            }
            _ => ns.pods.values().map(|p| &**p).filter(selects).collect(),
        };
        // In name order, once each: a candidate can be listed twice (a member that also
        // changed), and the members are kept sorted.
        selected.sort_unstable_by(|a, b| a.key.name.cmp(&b.key.name));
        selected.dedup_by(|a, b| a.key.name == b.key.name);
        for pod in selected {
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
