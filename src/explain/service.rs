//! Namespaces and services: whether a service is served, the pods it selects, and one
//! sentence per pod on whether it is an endpoint and under which name.

use hickory_proto::rr::RecordType;

use super::pod_sentence;
use crate::cluster::{ClusterState, Namespace, Pod, Service};
use crate::zone::Zone;

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
                reasons.extend(pods.iter().map(|pod| pod_sentence::sentence(service, pod)));
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
