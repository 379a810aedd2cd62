//! Explain for names in an external zone (`--external-zone`): which Service claims the
//! name (and which lost it to an older one), what its targets are made of (pods, nodes,
//! load balancer, annotation), why a per-pod name is pending, and which annotation values
//! were ignored.

use hickory_proto::rr::Name;

use super::pod_sentence;
use crate::cluster::{
    ClusterState, EndpointsType, ExposedType, ExternalSpec, ExternalTarget, Ingress, ObjectKey, Pod, Service,
};
use crate::zone::external::{ExternalNode, ExternalService, ExternalZone, Targets};
use crate::zone::pending::Pending;

/// Explains `lower` (a lower-cased name inside `zone`).
pub(super) fn explain(state: &ClusterState, zone: &ExternalZone, lower: &Name, reasons: &mut Vec<String>) {
    let apex = zone.apex();
    if !zone.is_synced() {
        reasons.push(format!(
            "the server has not completed its first sync with the cluster: the external zone {apex} answers \
             SERVFAIL until then, so that no resolver caches a false NXDOMAIN"
        ));
        return;
    }
    match zone.node(lower) {
        ExternalNode::Apex => {
            reasons.push(format!(
                "{apex} is an external zone's apex (--external-zone): SOA and NS records; serial {}",
                zone.serial()
            ));
            let names: Vec<String> = zone.settings().nameservers.iter().map(|(n, _)| n.to_string()).collect();
            reasons.push(format!("its name servers (--external-nameserver): {}", names.join(", ")));
            for key in asked_by(state, lower) {
                reasons.push(format!(
                    "{key} has it in its external-dns hostname annotation: the apex's records are the zone's \
                     own, so the Service's are not published there"
                ));
                problems(state, &key, reasons);
            }
        }
        ExternalNode::NameServer(_) => reasons.push(format!(
            "{lower} is a name server of {apex} inside the zone (--external-nameserver NAME=ADDRESS): its \
             addresses are served as glue"
        )),
        ExternalNode::Service(service) => {
            claimed(state, zone, lower, service, reasons);
            reasons.push(format!("{lower} answers {}", targets(state, service, &service.targets)));
        }
        ExternalNode::Host(service, label, host_targets) => {
            claimed(state, zone, &lower.base_name(), service, reasons);
            reasons.push(format!(
                "{label} is the spec.hostname of a ready pod {} selects (whatever its subdomain, as external-dns \
                 names pods); it answers {}",
                service.key,
                targets(state, service, host_targets)
            ));
            pod_sentences(
                state,
                service,
                |pod| pod.hostname().is_some_and(|h| h.eq_ignore_ascii_case(label)),
                reasons,
            );
        }
        ExternalNode::Pending(service, pending) => {
            claimed(state, zone, &lower.base_name(), service, reasons);
            let label = lower.iter().next().map(String::from_utf8_lossy).unwrap_or_default();
            reasons.push(format!(
                "{label} is a stable identity under {} without a ready pod ({}): it answers NODATA with that \
                 TXT record (TTL {} s), never NXDOMAIN, here and on secondaries that transfer the zone",
                lower.base_name(),
                pending.text(),
                zone.settings().pending_ttl
            ));
            match pending {
                Pending::Ordinal { .. } => {
                    let found = pod_sentences(state, service, |pod| *pod.key.name == *label, reasons);
                    if !found {
                        reasons.push(format!(
                            "pod {label} does not exist yet in namespace {}",
                            service.key.namespace
                        ));
                    }
                }
                Pending::NotReady => {
                    pod_sentences(
                        state,
                        service,
                        |pod| pod.hostname().is_some_and(|h| **h == *label),
                        reasons,
                    );
                }
            }
        }
        ExternalNode::Srv(service, h, port, proto) => {
            claimed(state, zone, &h, service, reasons);
            let to =
                if service.cluster.is_some() { "its ready pods' names under it" } else { "the name itself" };
            reasons.push(format!(
                "the SRV records of port {port} ({proto}) of {}, pointing at {to}",
                service.key
            ));
        }
        ExternalNode::EmptyNonTerminal => reasons.push(format!(
            "{lower} exists because a name below it is published (an empty non-terminal): NODATA"
        )),
        ExternalNode::NotFound => not_found(state, zone, lower, reasons),
    }
}

/// Why `h` belongs to `service`: its annotation, the Services that lost the name to it,
/// and the annotation values it has that were ignored.
fn claimed(
    state: &ClusterState,
    zone: &ExternalZone,
    h: &Name,
    service: &ExternalService,
    reasons: &mut Vec<String>,
) {
    let kind = match spec_of(state, &service.key).map(|(svc, spec)| (svc.headless, spec.service_type)) {
        Some((true, _)) => "headless Service".to_owned(),
        Some((false, t)) => format!("{} Service", t.as_str()),
        None => "Service".to_owned(),
    };
    reasons
        .push(format!("{h} is published by {kind} {} (its external-dns hostname annotation)", service.key));
    if let Some(claims) = zone.claims(h) {
        for (_, key) in claims.iter().skip(1) {
            reasons.push(format!(
                "{key} claims {h} too, and is not served there: the older Service (by creationTimestamp, then \
                 namespace/name) wins a name, never a merge"
            ));
        }
    }
    problems(state, &service.key, reasons);
}

/// The annotation values of `key` that were ignored, one sentence each.
pub(super) fn problems(state: &ClusterState, key: &ObjectKey, reasons: &mut Vec<String>) {
    if let Some((_, spec)) = spec_of(state, key) {
        for problem in spec.problems().iter() {
            reasons.push(format!("{key}: {problem}"));
        }
    }
}

/// What `targets` (of `service`) are made of, as a phrase.
fn targets(state: &ClusterState, service: &ExternalService, targets: &Targets) -> String {
    let Some((svc, spec)) = spec_of(state, &service.key) else { return "nothing".into() };
    match (targets, spec.target()) {
        (Targets::Name(name), Some(ExternalTarget::Name(_))) => {
            format!("a CNAME to {name} (the target annotation)")
        }
        (Targets::Addresses(_), Some(ExternalTarget::Addresses(_))) => {
            "the target annotation's addresses".into()
        }
        (Targets::Endpoints, _) => "the IPs of its ready endpoints (as in the cluster zone)".into(),
        (Targets::Name(name), None) => match spec.service_type {
            ExposedType::ExternalName => format!("a CNAME to {name} (its spec.externalName)"),
            _ => format!("a CNAME to {name} (its load balancer's ingress hostname)"),
        },
        (Targets::Addresses(ips), None) => {
            let source = source_of(state, svc, spec);
            if ips.is_empty() { format!("no address yet, so NODATA: {source}") } else { source }
        }
        _ => "its targets".into(),
    }
}

/// Where a Service's computed addresses come from, as a phrase.
fn source_of(state: &ClusterState, svc: &Service, spec: &ExternalSpec) -> String {
    if svc.headless {
        return match spec.endpoints_type {
            EndpointsType::NodeExternalIp => {
                let nodes = node_ips(state, svc);
                format!(
                    "the ExternalIPs of the nodes its ready pods run on (endpoints-type NodeExternalIP){nodes}"
                )
            }
            EndpointsType::HostIp => "its ready pods' status.hostIPs (endpoints-type HostIP)".into(),
            EndpointsType::PodIp => "its ready pods' IPs".into(),
        };
    }
    match spec.service_type {
        ExposedType::LoadBalancer if spec.load_balancer().is_empty() => {
            "its load balancer has no ingress yet (status.loadBalancer.ingress is empty)".into()
        }
        ExposedType::LoadBalancer => {
            let ips = spec.load_balancer().iter().filter(|i| matches!(i, Ingress::Ip(_))).count();
            format!("its load balancer's {ips} ingress IP(s) (status.loadBalancer.ingress)")
        }
        ExposedType::NodePort => {
            let nodes = state.nodes().filter(|n| !n.external_ips.is_empty()).count();
            format!("the ExternalIPs of the cluster's nodes (a NodePort Service; {nodes} node(s) have one)")
        }
        _ if !spec.external_ips().is_empty() => "its spec.externalIPs".into(),
        _ => "its cluster IPs (--external-publish-internal), or nothing: a ClusterIP Service without \
              spec.externalIPs publishes no address outside the cluster unless that option is given"
            .into(),
    }
}

/// `; pod P on node N (ExternalIPs ...)` for each selected pod, or why a pod adds none.
fn node_ips(state: &ClusterState, svc: &Service) -> String {
    let Some(ns) = state.namespace(&svc.key.namespace) else { return String::new() };
    let mut out = String::new();
    for pod in super::service::selected_pods(ns, svc) {
        let line = match pod.placement.node() {
            None => format!("pod {} is not scheduled on a node", pod.key.name),
            Some(node) => match state.node(&node) {
                None => format!("pod {} runs on node {node}, which is not known (yet)", pod.key.name),
                Some(n) if n.external_ips.is_empty() => {
                    format!("pod {} runs on node {node}, which has no ExternalIP address", pod.key.name)
                }
                Some(n) => {
                    let ips: Vec<String> = n.external_ips.iter().map(ToString::to_string).collect();
                    format!("pod {} runs on node {node} ({})", pod.key.name, ips.join(", "))
                }
            },
        };
        out.push_str("; ");
        out.push_str(&line);
    }
    out
}

/// One sentence per pod `service` selects that `matches`; whether there was one.
fn pod_sentences(
    state: &ClusterState,
    service: &ExternalService,
    matches: impl Fn(&Pod) -> bool,
    reasons: &mut Vec<String>,
) -> bool {
    let Some((svc, _)) = spec_of(state, &service.key) else { return false };
    let Some(ns) = state.namespace(&service.key.namespace) else { return false };
    let mut found = false;
    for pod in super::service::selected_pods(ns, svc).into_iter().filter(|p| matches(p)) {
        reasons.push(pod_sentence::sentence(svc, pod));
        found = true;
    }
    found
}

/// A name of the zone that nothing publishes: the Service whose name is its parent (a
/// label that is none of its pods), or the Services asking for it that cannot have it.
fn not_found(state: &ClusterState, zone: &ExternalZone, lower: &Name, reasons: &mut Vec<String>) {
    let parent = lower.base_name();
    if let Some(owner) = zone.owner(&parent) {
        let label = lower.iter().next().map(String::from_utf8_lossy).unwrap_or_default();
        reasons.push(format!(
            "{parent} is published by {}, but {label} is neither the hostname of a pod it selects nor an \
             ordinal of a StatefulSet it governs or selects, so it does not exist (NXDOMAIN)",
            owner.key
        ));
        return;
    }
    let asking = asked_by(state, lower);
    // A pod's name under a hostname that is not published (a wildcard, say).
    let asking_parent = asked_by(state, &parent);
    if asking.is_empty() && asking_parent.is_empty() {
        reasons.push(format!(
            "no Service has {} in its external-dns hostname annotation, so it does not exist (NXDOMAIN)",
            lower.to_string().trim_end_matches('.')
        ));
    }
    for key in asking {
        reasons.push(format!("{key} asks for it, but publishes nothing in {}", zone.apex()));
        problems(state, &key, reasons);
    }
    for key in asking_parent {
        reasons.push(format!(
            "{key} asks for {} (this would be one of its pods' names under it), but publishes nothing in {}",
            parent.to_string().trim_end_matches('.'),
            zone.apex()
        ));
        problems(state, &key, reasons);
    }
}

/// The Services whose `hostname` annotation names `lower`, whether or not it is served.
pub(super) fn asked_by(state: &ClusterState, lower: &Name) -> Vec<ObjectKey> {
    let wanted = lower.to_string();
    let wanted = wanted.trim_end_matches('.');
    let mut keys = Vec::new();
    for (namespace, ns) in state.namespaces() {
        for svc in ns.services.values() {
            // A hostname no external zone publishes, left out for the previous ones, is a
            // problem of the Service's.
            let asks = |spec: &ExternalSpec| {
                spec.hostnames.iter().any(|h| &**h == wanted)
                    || spec.problems().iter().any(|p| {
                        p.annotation.ends_with("hostname") && p.value.trim_start_matches("*.") == wanted
                    })
            };
            if svc.external.as_deref().is_some_and(asks) {
                keys.push(ObjectKey { namespace: namespace.clone(), name: svc.key.name.clone() });
            }
        }
    }
    keys.sort();
    keys
}

/// The Service `key` and its external spec.
fn spec_of<'a>(state: &'a ClusterState, key: &ObjectKey) -> Option<(&'a Service, &'a ExternalSpec)> {
    let svc = state.namespace(&key.namespace)?.services.get(&key.name)?;
    Some((svc, svc.external.as_deref()?))
}
