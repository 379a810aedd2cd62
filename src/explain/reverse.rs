//! Reverse names: which pod, ClusterIP service or EndpointSlice has an address, and which
//! services publish it.

use std::net::IpAddr;

use crate::cluster::{ClusterState, EndpointSlice, Pod, Service};
use crate::zone::Zone;
use crate::zone::build::{endpoint_hostname, endpoint_label, is_ready};

pub(super) fn explain(state: &ClusterState, zone: &Zone, ip: IpAddr, prefix: u8, reasons: &mut Vec<String>) {
    let full = if ip.is_ipv4() { 32 } else { 128 };
    if prefix != full {
        reasons.push(
            "a partial reverse name: it exists (NODATA) when some published address lies under it".into(),
        );
        return;
    }
    let owners: Vec<(&Pod, &str)> = state
        .namespaces()
        .flat_map(|(ns_name, ns)| ns.pods.values().map(move |p| (&**p, &**ns_name)))
        .filter(|(p, _)| p.ips.contains(&ip))
        .collect();
    let fronts: Vec<&Service> = state
        .namespaces()
        .flat_map(|(_, ns)| ns.services.values().map(|s| &**s))
        .filter(|s| !s.headless && s.cluster_ips.contains(&ip))
        .collect();
    for service in &fronts {
        reasons.push(format!(
            "{ip} is a cluster IP of service {}: PTR {}",
            service.key,
            zone.service_name(&service.key)
        ));
    }
    let sliced: Vec<(&EndpointSlice, bool)> = state
        .namespaces()
        .flat_map(|(_, ns)| ns.endpoint_slices.values().map(|s| &**s))
        .flat_map(|s| s.endpoints.iter().filter(|e| e.addresses.contains(&ip)).map(move |e| (s, e.ready)))
        .collect();
    for (slice, ready) in &sliced {
        reasons.push(format!(
            "{ip} is an endpoint of EndpointSlice {} of service {}: {}",
            slice.key,
            slice.service_name.as_deref().unwrap_or("?"),
            if *ready { "published, so it has a PTR record" } else { "not ready, so no PTR" }
        ));
    }
    if owners.is_empty() && fronts.is_empty() && sliced.is_empty() {
        reasons.push(format!("no known pod or service has the address {ip}"));
    }
    for (pod, ns_name) in owners {
        let Some(ns) = state.namespace(ns_name) else { continue };
        let services: Vec<&Service> = ns
            .services
            .values()
            .map(|s| &**s)
            .filter(|s| s.headless && s.selector.is_some() && s.selects(pod))
            .collect();
        if services.is_empty() {
            reasons.push(format!(
                "pod {}/{} has {ip} but no headless service selects it, so it has no PTR record",
                ns_name, pod.key.name
            ));
        }
        for s in services {
            let hostname = endpoint_hostname(s, pod);
            let label = endpoint_label(pod, hostname, ip, zone.settings().endpoint_names);
            reasons.push(format!(
                "{ip} belongs to pod {}/{}, selected by headless service {}: {}",
                ns_name,
                pod.key.name,
                s.key.name,
                if is_ready(s, pod) {
                    format!("PTR {}", zone.endpoint_name(&s.key, &label))
                } else {
                    format!("not ready, so no PTR (would be {})", zone.endpoint_name(&s.key, &label))
                }
            ));
        }
    }
}
