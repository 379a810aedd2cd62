//! SRV: the RRset of one named port (`_<port>._<proto>.<svc>`) and the bare RRset on the
//! service name, which lists every port of every ready endpoint. Says which endpoints and
//! ports made the answer, and which were left out and why.

use std::collections::BTreeMap;

use super::pod_sentence;
use crate::cluster::SharedStr;
use crate::cluster::{Pod, Service, ServicePort, TargetPort};
use crate::zone::Zone;
use crate::zone::build::{endpoint_hostname, endpoint_label, endpoint_port, is_ready};

/// `web (80/TCP)`, or `80/TCP` for an unnamed port.
fn port_text(port: &ServicePort) -> String {
    let number = format!("{}/{}", port.port, port.protocol.srv_label().to_uppercase());
    match &port.name {
        Some(name) => format!("{name} ({number})"),
        None => number,
    }
}

fn target_port_text(target: &TargetPort) -> String {
    match target {
        TargetPort::Name(n) => n.to_string(),
        TargetPort::Number(n) => n.to_string(),
    }
}

/// Why a ready pod has no record for `port`: its container ports lack the named targetPort.
fn missing_port(pod: &Pod, port: &ServicePort) -> String {
    format!(
        "pod {} has no container port named {:?} ({}), so it has no SRV record for port {}",
        pod.key.name,
        target_port_text(&port.target_port),
        port.protocol.srv_label().to_uppercase(),
        port_text(port)
    )
}

/// `_<port>._<proto>.<svc>.<ns>.svc.<zone>`.
pub(super) fn explain_named(
    service: &Service,
    pods: &[&Pod],
    proto: &str,
    port: &str,
    reasons: &mut Vec<String>,
) {
    let (proto, port) = (proto.trim_start_matches('_'), port.trim_start_matches('_'));
    let Some(sp) = service.ports.iter().find(|p| {
        p.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(port)) && p.protocol.srv_label() == proto
    }) else {
        let named: Vec<String> = service
            .ports
            .iter()
            .filter_map(|p| p.name.as_ref().map(|n| format!("_{n}._{}", p.protocol.srv_label())))
            .collect();
        reasons.push(format!(
            "service {} has no port named {port} with protocol {proto}; its SRV names are: {}",
            service.key,
            if named.is_empty() {
                "none (only named ports get SRV records)".into()
            } else {
                named.join(", ")
            }
        ));
        return;
    };
    for pod in pods {
        if !is_ready(service, pod) || pod.ips.is_empty() {
            reasons.push(pod_sentence::sentence(service, pod));
            continue;
        }
        match endpoint_port(pod, sp.protocol, &sp.target_port) {
            Some(n) => reasons.push(format!("pod {} serves port {port} on {n}", pod.key.name)),
            None => reasons.push(missing_port(pod, sp)),
        }
    }
}

/// The bare SRV RRset on `<svc>.<ns>.svc.<zone>` of a service with ready endpoints.
pub(super) fn explain_bare(zone: &Zone, service: &Service, pods: &[&Pod], reasons: &mut Vec<String>) {
    if service.ports.is_empty() {
        reasons.push(format!(
            "service {} declares no ports, so its name has no SRV records (NODATA); peer discovery by \
             SRV needs at least one port in the Service",
            service.key
        ));
        return;
    }
    reasons.push(format!(
        "the SRV records on the service name list every ready endpoint on every service port ({}), \
         named or not, as kube-dns and CoreDNS answer peer discovery",
        service.ports.iter().map(port_text).collect::<Vec<_>>().join(", ")
    ));
    let names = zone.settings().endpoint_names;
    // (target label, endpoint port) -> the service ports that lead there.
    let mut records: BTreeMap<(SharedStr, u16), Vec<String>> = BTreeMap::new();
    for pod in pods {
        if !is_ready(service, pod) || pod.ips.is_empty() {
            reasons.push(format!("left out: {}", pod_sentence::sentence(service, pod)));
            continue;
        }
        let hostname = endpoint_hostname(service, pod);
        let mut labels: Vec<SharedStr> =
            pod.ips.iter().map(|ip| endpoint_label(pod, hostname, ip, names)).collect();
        labels.dedup();
        let (mut served, mut left_out) = (Vec::new(), Vec::new());
        for port in &service.ports {
            match endpoint_port(pod, port.protocol, &port.target_port) {
                Some(n) => {
                    served.push(format!("{} on {n}", port_text(port)));
                    for label in &labels {
                        records.entry((label.clone(), n)).or_default().push(port_text(port));
                    }
                }
                None => left_out.push(format!("left out: {}", missing_port(pod, port))),
            }
        }
        if !served.is_empty() {
            let targets: Vec<String> =
                labels.iter().map(|l| zone.endpoint_name(&service.key, l).to_string()).collect();
            reasons.push(format!(
                "pod {} is a target as {}: {}",
                pod.key.name,
                targets.join(" and "),
                served.join(", ")
            ));
        }
        reasons.extend(left_out);
    }
    for ((label, number), ports) in &records {
        if ports.len() > 1 {
            reasons.push(format!(
                "ports {} all reach {label} on {number}: one record, as CoreDNS drops the duplicates",
                ports.join(" and ")
            ));
        }
    }
    if let Some(records_of) = zone.service(&service.key.namespace, &service.key.name) {
        let mut pending: Vec<String> = records_of
            .identities
            .iter()
            .flat_map(|ids| {
                let end = ids.start.saturating_add(ids.replicas.min(64));
                (ids.start..end).map(move |i| format!("{}-{i}", ids.statefulset))
            })
            .chain(records_of.pending_pods.iter().map(|p| p.to_string()))
            .filter(|label| records_of.is_pending(label))
            .collect();
        pending.sort();
        pending.dedup();
        if !pending.is_empty() {
            reasons.push(format!(
                "left out: {} (known identities without a ready address: no address, so not a target)",
                pending.join(", ")
            ));
        }
    }
    match records.len() {
        0 => reasons.push(
            "no ready endpoint serves any of the ports, so the name has no SRV records (NODATA)".to_owned(),
        ),
        n => {
            reasons.push(format!("{n} record(s), priority 0, weight floor(100 / {n}) = {}", (100 / n).max(1)))
        }
    }
}
