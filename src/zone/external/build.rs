//! Building a Service's records in an external zone from the cluster state and the
//! cluster zone, the way external-dns reads its annotations:
//!
//! - a headless Service's name H answers every ready endpoint's target, and each ready
//!   selected pod with a `spec.hostname` gets `<hostname>.H`, whatever its subdomain;
//!   its StatefulSets' ordinals without a ready pod are pending under H (the cluster
//!   zone's identities, shared);
//! - the targets are the pods' IPs, or with `endpoints-type` their nodes' ExternalIPs
//!   (`NodeExternalIP`) or their `status.hostIPs` (`HostIP`); a `target` annotation
//!   replaces them (addresses, or a CNAME);
//! - a LoadBalancer Service answers its ingress IPs (a CNAME to its ingress hostname
//!   when it has no IP), a NodePort Service its nodes' ExternalIPs, a ClusterIP Service
//!   its `spec.externalIPs` (and with `--external-publish-internal` its cluster IPs), an
//!   ExternalName Service a CNAME to its external name; their named ports' SRV records
//!   point at H (a NodePort Service's at the node port).
//!
//! Readiness is the cluster zone's (EndpointSlice-exact, `publishNotReadyAddresses`,
//! terminal phases): the same pods are published under both names.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::{
    ExternalDetails, ExternalPort, ExternalService, ExternalSettings, ExternalSrv, ExternalZone, Targets,
    find_host, labels_under,
};
use crate::cluster::{
    ClusterState, EndpointsType, ExposedType, ExternalSpec, ExternalTarget, Ingress, ObjectKey, Pod, Service,
    SharedStr,
};
use crate::zone::build::{endpoint_hostname, endpoint_port, is_ready};
use crate::zone::records::lowercase;
use crate::zone::{Identities, Zone};

/// The Services of `state` with a `hostname` annotation: what a full build of an
/// external zone looks at.
pub fn publishing(state: &ClusterState) -> Vec<ObjectKey> {
    state
        .namespaces()
        .flat_map(|(name, ns)| {
            ns.services
                .values()
                .filter(|s| s.external.is_some())
                .map(move |s| ObjectKey { namespace: name.clone(), name: s.key.name.clone() })
        })
        .collect()
}

/// Rebuilds `keys` in `zone`. Returns the claimed names whose records may have changed.
pub fn rebuild(
    zone: &mut ExternalZone,
    state: &ClusterState,
    cluster: &Zone,
    keys: &[ObjectKey],
) -> Vec<Name> {
    let mut names = Vec::new();
    for key in keys {
        let service = build(zone.settings(), state, cluster, key);
        names.extend(zone.replace(key, service));
    }
    names.sort();
    names.dedup();
    names
}

/// The names of `spec`'s `hostname` annotation that `settings`' zone can hold: inside it,
/// not its apex; sorted, each once (the annotation's strings, shared).
pub fn names_in(settings: &ExternalSettings, spec: &ExternalSpec) -> Vec<SharedStr> {
    let mut names: Vec<SharedStr> =
        spec.hostnames.iter().filter(|h| labels_under(&settings.apex, h).is_some()).cloned().collect();
    names.sort();
    names.dedup();
    names
}

/// `key`'s records in the zone of `settings`, or `None` when it publishes nothing there.
pub fn build(
    settings: &ExternalSettings,
    state: &ClusterState,
    cluster: &Zone,
    key: &ObjectKey,
) -> Option<ExternalService> {
    let ns = state.namespace(&key.namespace)?;
    let service = ns.services.get(&key.name)?;
    let spec = service.external.as_deref()?;
    let hostnames = names_in(settings, spec);
    if hostnames.is_empty() {
        return None;
    }
    let fixed = spec.target().and_then(target);
    let mut out = ExternalService {
        key: key.clone(),
        created: spec.created,
        hostnames: hostnames.into(),
        ttl: spec.ttl.unwrap_or(settings.ttl),
        targets: Targets::Addresses(Box::new([])),
        cluster: None,
        details: None,
    };
    let mut details = ExternalDetails::default();
    if service.headless {
        let records = cluster.service_shared(&key.namespace, &key.name);
        let pods: Vec<&Pod> = records
            .as_deref()
            .map(|r| r.members().filter_map(|name| ns.pods.get(name)).map(|p| &**p).collect())
            .unwrap_or_default();
        let (ready, not_ready): (Vec<&Pod>, Vec<&Pod>) = pods.into_iter().partition(|p| is_ready(service, p));
        let per_pod = |pod: &Pod| -> Targets {
            match spec.endpoints_type {
                EndpointsType::PodIp => Targets::Addresses(pod.ips.iter().collect()),
                EndpointsType::NodeExternalIp => Targets::Addresses(node_ips(state, pod).into()),
                EndpointsType::HostIp => {
                    Targets::Addresses(pod.placement.host_ips().iter().copied().collect())
                }
            }
        };
        out.targets = match (&fixed, spec.endpoints_type) {
            (Some(t), _) => t.clone(),
            (None, EndpointsType::PodIp) => Targets::Endpoints,
            (None, _) => Targets::Addresses(union(ready.iter().map(|p| per_pod(p)))),
        };
        let mut hosts: Vec<(SharedStr, Targets)> = Vec::new();
        for pod in &ready {
            let Some(hostname) = pod.hostname() else { continue };
            let label = lowercase(hostname);
            let target = match (&fixed, records.as_deref()) {
                (Some(t), _) => t.clone(),
                // Its own endpoints in the cluster zone, when they are exactly its addresses.
                (None, Some(r))
                    if spec.endpoints_type == EndpointsType::PodIp
                        && r.labelled(&label).iter().map(|e| e.ip()).eq(pod.ips.iter()) =>
                {
                    Targets::Endpoints
                }
                (None, _) => per_pod(pod),
            };
            hosts.push((label, target));
        }
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        // Two pods with one hostname: one name with both's addresses (the cluster zone's
        // endpoints of a label already hold both).
        let mut merged: Vec<(SharedStr, Targets)> = Vec::new();
        for (label, target) in hosts {
            match merged.last_mut() {
                Some((last, existing)) if *last == label => {
                    if *existing != Targets::Endpoints || target != Targets::Endpoints {
                        let own = |t: Targets| match t {
                            Targets::Endpoints => Targets::Addresses(
                                records
                                    .as_deref()
                                    .map_or_else(Vec::new, |r| {
                                        r.labelled(&label).iter().map(|e| e.ip()).collect()
                                    })
                                    .into(),
                            ),
                            other => other,
                        };
                        *existing =
                            Targets::Addresses(union([own(existing.clone()), own(target)].into_iter()));
                    }
                }
                _ => merged.push((label, target)),
            }
        }
        // The cluster zone's labels, each its own endpoints (a StatefulSet's pods): not kept.
        let clusters_own = records.as_deref().is_some_and(|r| {
            merged.iter().all(|(_, t)| *t == Targets::Endpoints)
                && r.endpoint_labels().eq(merged.iter().map(|(l, _)| l))
        });
        details.hosts = (!clusters_own).then(|| merged.into_boxed_slice());
        // SRV targets: the cluster zone's, unless a pod's hostname is not its label there
        // (its subdomain names another Service).
        let own_labels =
            ready.iter().all(|p| p.hostname().is_none() || endpoint_hostname(service, p).is_some());
        if !own_labels {
            let ports = service.ports.iter().map(|port| {
                let mut targets: Vec<(SharedStr, u16)> = ready
                    .iter()
                    .filter_map(|pod| {
                        let label = lowercase(pod.hostname()?);
                        Some((label, endpoint_port(pod, port.protocol, &port.target_port)?))
                    })
                    .collect();
                targets.sort();
                targets.dedup();
                ExternalSrv {
                    name: port.name.as_deref().map(|n| n.to_ascii_lowercase().into()),
                    protocol: port.protocol.srv_label(),
                    targets: targets.into(),
                }
            });
            details.srv = Some(ports.collect());
        }
        // Pending: the identities of the StatefulSets it governs or whose pods it selects,
        // and the hostnames of its not-ready pods.
        let mut identities: Vec<Identities> =
            records.as_deref().map_or_else(Vec::new, |r| r.identities.to_vec());
        // A selected pod `<set>-<ordinal>` is StatefulSet `<set>`'s, when it exists.
        let owners = ready.iter().chain(&not_ready).filter_map(|p| {
            let (set, ordinal) = p.key.name.rsplit_once('-')?;
            let is_ordinal = !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit());
            if is_ordinal { ns.statefulsets.get(set) } else { None }
        });
        for sts in owners {
            if !identities.iter().any(|i| i.statefulset == sts.key.name) {
                identities.push(Identities {
                    statefulset: sts.key.name.clone(),
                    start: sts.ordinal_start,
                    replicas: sts.replicas,
                });
            }
        }
        identities.sort_by(|a, b| a.statefulset.cmp(&b.statefulset));
        let clusters_own = records.as_deref().is_some_and(|r| *r.identities == *identities);
        details.identities = (!clusters_own).then(|| identities.into());
        let mut waiting: Vec<SharedStr> =
            not_ready.iter().filter_map(|p| p.hostname().map(lowercase)).collect();
        waiting.sort();
        waiting.dedup();
        waiting.retain(|h| find_host(details.hosts.as_deref(), records.as_deref(), h).is_none());
        details.not_ready = waiting.into();
        out.cluster = records;
        out.details = details.boxed();
        return Some(out);
    }
    out.targets = match fixed {
        Some(t) => t,
        None => typed_targets(settings, state, service, spec)?,
    };
    details.ports = service
        .ports
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let name = p.name.as_deref()?.to_ascii_lowercase();
            let node_port = spec.node_ports().get(i).copied().filter(|n| *n != 0);
            let port = match spec.service_type {
                ExposedType::NodePort => node_port?,
                _ => p.port,
            };
            Some(ExternalPort { name: name.into(), protocol: p.protocol.srv_label(), port })
        })
        .collect();
    out.details = details.boxed();
    Some(out)
}

/// What the name of a Service that is not headless answers, or `None` when it publishes
/// nothing (a ClusterIP Service without externalIPs nor `--external-publish-internal`).
fn typed_targets(
    settings: &ExternalSettings,
    state: &ClusterState,
    service: &Service,
    spec: &ExternalSpec,
) -> Option<Targets> {
    let external_ips = spec.external_ips().iter().copied();
    match spec.service_type {
        ExposedType::ExternalName => {
            let target = service.external_name.as_deref()?;
            Some(Targets::Name(Box::new(Name::from_ascii(format!("{target}.")).ok()?)))
        }
        ExposedType::LoadBalancer => {
            let ips: Vec<IpAddr> = spec
                .load_balancer()
                .iter()
                .filter_map(|i| match i {
                    Ingress::Ip(ip) => Some(*ip),
                    Ingress::Hostname(_) => None,
                })
                .chain(external_ips)
                .collect();
            let hostname = spec.load_balancer().iter().find_map(|i| match i {
                Ingress::Hostname(h) => Name::from_ascii(format!("{h}.")).ok(),
                Ingress::Ip(_) => None,
            });
            match (ips.is_empty(), hostname) {
                (true, Some(h)) => Some(Targets::Name(Box::new(h))),
                _ => Some(Targets::Addresses(dedup(ips).into())),
            }
        }
        ExposedType::NodePort => {
            let ips = state.nodes().flat_map(|n| n.external_ips.iter().copied()).chain(external_ips);
            Some(Targets::Addresses(dedup(ips.collect()).into()))
        }
        ExposedType::ClusterIp => {
            let internal = service.cluster_ips.iter().copied().filter(|_| settings.publish_internal);
            let ips: Vec<IpAddr> = internal.chain(external_ips).collect();
            (!ips.is_empty()).then(|| Targets::Addresses(dedup(ips).into()))
        }
    }
}

/// The ExternalIPs of the node `pod` runs on (none when it is not known).
fn node_ips(state: &ClusterState, pod: &Pod) -> Vec<IpAddr> {
    let node = pod.placement.node();
    node.and_then(|n| state.node(&n).map(|node| node.external_ips.to_vec())).unwrap_or_default()
}

/// A `target` annotation as targets.
fn target(target: &ExternalTarget) -> Option<Targets> {
    match target {
        ExternalTarget::Addresses(ips) => Some(Targets::Addresses(ips.clone())),
        ExternalTarget::Name(name) => {
            Some(Targets::Name(Box::new(Name::from_ascii(format!("{name}.")).ok()?)))
        }
    }
}

/// Sorted, each once.
fn dedup(mut ips: Vec<IpAddr>) -> Vec<IpAddr> {
    ips.sort();
    ips.dedup();
    ips
}

/// Every address of `targets` (a CNAME's name is left out), sorted, each once.
fn union(targets: impl Iterator<Item = Targets>) -> Box<[IpAddr]> {
    let ips: Vec<IpAddr> = targets
        .flat_map(|t| match t {
            Targets::Addresses(ips) => ips.into_vec(),
            _ => Vec::new(),
        })
        .collect();
    dedup(ips).into()
}
