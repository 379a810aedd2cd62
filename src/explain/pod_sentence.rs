//! One sentence on a pod as an endpoint of a service: its readiness (and why not) and
//! the name it answers under. The explanations of service names, endpoints and SRV
//! records all describe the selected pods with it.

use crate::cluster::{Phase, Pod, Service};
use crate::zone::build::{Readiness, endpoint_hostname, readiness};

/// One sentence on a pod's readiness and name as an endpoint of `service`.
pub(super) fn sentence(service: &Service, pod: &Pod) -> String {
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
