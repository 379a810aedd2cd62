//! Namespaces and services: whether a service is served, the pods it selects, and one
//! sentence per pod on whether it is an endpoint and under which name.

use hickory_proto::rr::RecordType;

use crate::cluster::{ClusterState, Namespace, Phase, Pod, Service};
use crate::zone::Zone;
use crate::zone::build::{Readiness, endpoint_hostname, readiness};

pub(super) fn explain_namespace(state: &ClusterState, ns: &str, reasons: &mut Vec<String>) {
    match state.namespace(ns) {
        Some(n) if !n.services.is_empty() => {
            reasons.push(format!("namespace {ns} has services: the name exists without records (NODATA)"))
        }
        Some(_) => reasons.push(format!("namespace {ns} has no service, so nothing is served in it")),
        None => reasons.push(format!("no object is known in namespace {ns}")),
    }
}

/// `<svc>.<ns>.svc.<zone>` and the names under it (`rest`: a label, or `_proto` and
/// `_port`).
pub(super) fn explain_service_name(
    state: &ClusterState,
    zone: &Zone,
    ns_name: &str,
    service_name: &str,
    rest: &[String],
    qtype: RecordType,
    reasons: &mut Vec<String>,
) {
    let Some(ns) = state.namespace(ns_name) else {
        reasons.push(format!("no object is known in namespace {ns_name}"));
        return;
    };
    let Some(service) = ns.services.get(service_name) else {
        reasons.push(format!("there is no service {service_name} in namespace {ns_name}"));
        if let Some(sts) = ns.statefulsets.values().find(|s| *s.service_name == *service_name) {
            reasons.push(format!(
                "StatefulSet {} names {service_name} as its serviceName, but that service does not exist: \
                 create a headless Service {service_name} (clusterIP: None) for its pods to get DNS names",
                sts.key.name
            ));
        }
        return;
    };
    if !service.headless {
        super::service_types::explain_typed_service(zone, service, rest, reasons);
        return;
    }
    if service.selector.is_none() {
        super::slices::explain_selectorless(zone, ns, service, rest, reasons);
        return;
    }
    let pods = selected_pods(ns, service);
    match rest {
        [] => {
            reasons.push(format!("headless service {ns_name}/{service_name} selects {} pod(s)", pods.len()));
            if service.publish_not_ready {
                reasons.push("the service publishes not-ready addresses (publishNotReadyAddresses or the tolerate-unready annotation)".into());
            }
            let without_endpoints =
                zone.service(ns_name, service_name).is_none_or(|r| r.endpoints.is_empty());
            if qtype == RecordType::SRV && !without_endpoints {
                super::srv::explain_bare(zone, service, &pods, reasons);
            } else {
                reasons.extend(pods.iter().map(|pod| pod_sentence(service, pod)));
            }
            if without_endpoints {
                reasons.push("with no ready endpoint the service name does not exist (NXDOMAIN), as the Kubernetes DNS spec says".into());
            }
        }
        [label] if !label.starts_with('_') => {
            super::endpoint::explain(zone, ns, service, &pods, label, reasons)
        }
        [proto] => reasons.push(format!(
            "{proto} groups the SRV records of the service's named {} ports; it owns no records itself",
            &proto[1..]
        )),
        [proto, port] => super::srv::explain_named(service, &pods, proto, port, reasons),
        _ => {}
    }
}

/// The pods `service` selects, by name.
pub(super) fn selected_pods<'a>(ns: &'a Namespace, service: &Service) -> Vec<&'a Pod> {
    let mut pods: Vec<&Pod> = ns.pods.values().map(|p| &**p).filter(|p| service.selects(p)).collect();
    pods.sort_by(|a, b| a.key.name.cmp(&b.key.name));
    pods
}

/// One sentence on a pod's readiness and name as an endpoint of `service`.
pub(super) fn pod_sentence(service: &Service, pod: &Pod) -> String {
    let name = match endpoint_hostname(service, pod) {
        Some(h) => format!("{h} (its hostname; its subdomain is {})", service.key.name),
        None => match (pod.hostname(), pod.subdomain()) {
            (Some(h), Some(s)) => format!(
                "by its dashed IP only: it has hostname {h} but subdomain {s}, not {}",
                service.key.name
            ),
            (Some(h), None) => format!("by its dashed IP only: it has hostname {h} but no subdomain"),
            _ => "by its dashed IP (it has no hostname/subdomain)".to_owned(),
        },
    };
    let why = match readiness(service, pod) {
        Readiness::NoIp => {
            // The most common case of all: a pod being created or rescheduled.
            let phase = match pod.phase {
                Phase::Unknown => String::new(), // no status.phase reported
                phase => format!(", phase {}", phase.as_str()),
            };
            return format!(
                "pod {} has no IP yet (the pod is starting{phase}: scheduled, its network not set up \
                 yet), so it is not an endpoint; once it has an IP and is ready it is named {name}",
                pod.key.name
            );
        }
        Readiness::Ready => "is ready".to_owned(),
        Readiness::PublishedNotReady => {
            "is published although not ready (the service publishes not-ready addresses)".to_owned()
        }
        Readiness::Terminal => format!(
            "is in the terminal phase {} (its containers are done; the kubelet keeps the object while its \
             IP may already belong to another pod), so it is never published, even with \
             publishNotReadyAddresses",
            pod.phase.as_str()
        ),
        Readiness::Terminating => {
            "is terminating (deletionTimestamp is set), so it is not published".to_owned()
        }
        Readiness::NotReady => {
            "is not ready (its Ready condition is not True), so it is not published".to_owned()
        }
    };
    let ips = pod.ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(", ");
    format!("pod {} ({ips}) {why}; it is named {name}", pod.key.name)
}
