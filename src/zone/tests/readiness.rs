//! Unit tests of which pods are endpoints, exactly as the EndpointSlice controller
//! decides (`ShouldPodBeInEndpoints`, `podToEndpoint`): terminal phases, pods without an
//! IP, terminating pods, each with and without publishNotReadyAddresses.

use hickory_proto::rr::RecordType;

use super::{SERVICE, ask, assert_nodata, assert_nxdomain, data, zone};
use crate::cluster::testing;
use crate::zone::*;

/// A StatefulSet pod `name` of service `svc1` in `phase` (absent when empty).
pub(crate) fn pod_in(name: &str, phase: &str, ips: &[&str], ready: bool, extra_meta: &str) -> String {
    let ip_list: Vec<String> = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect();
    let phase = if phase.is_empty() { String::new() } else { format!(", phase: {phase}") };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: ns, labels: {{app: web}}{extra_meta}}}\n\
         spec: {{hostname: {name}, subdomain: svc1}}\n\
         status: {{podIPs: [{}], conditions: [{{type: Ready, status: \"{}\"}}]{phase}}}\n---\n",
        ip_list.join(", "),
        if ready { "True" } else { "False" }
    )
}

pub(crate) fn publishing() -> String {
    SERVICE.replace("selector:", "publishNotReadyAddresses: true, selector:")
}

pub(crate) const TERMINATING: &str = ", deletionTimestamp: \"2026-01-01T00:00:00Z\"";

pub(crate) fn ptr(z: &impl super::Ask, name: &str) -> Answer {
    ask(z, name, RecordType::PTR)
}

#[test]
fn a_pod_in_a_terminal_phase_is_never_an_endpoint() {
    for phase in ["Failed", "Succeeded"] {
        for service in [SERVICE.to_owned(), publishing()] {
            // A stale Ready condition, an IP still in status: neither matters.
            let z = zone(&format!("{service}{}", pod_in("web-0", phase, &["10.0.0.1"], true, "")));
            assert_nxdomain(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A));
            // The hostname is still a known identity: pending, never the old address.
            assert_nodata(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A), 1);
            assert_nxdomain(&ptr(&z, "1.0.0.10.in-addr.arpa."));
        }
    }
}

#[test]
fn running_pending_and_unknown_phases_follow_the_other_rules() {
    for phase in ["Running", "Pending", "Unknown", ""] {
        let z = zone(&format!("{SERVICE}{}", pod_in("web-0", phase, &["10.0.0.1"], true, "")));
        assert_eq!(
            data(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A).answers),
            ["web-0.svc1.ns.svc.cluster.local. 10.0.0.1"],
            "phase {phase:?}"
        );
    }
}

#[test]
fn a_pod_without_an_ip_is_never_an_endpoint_even_when_not_ready_ones_are_published() {
    let z = zone(&format!("{}{}", publishing(), pod_in("web-0", "Pending", &[], false, "")));
    assert_nxdomain(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A));
    assert_nodata(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A), 1);
}

#[test]
fn a_terminating_pod_is_an_endpoint_only_with_publish_not_ready_addresses() {
    let terminating = pod_in("web-0", "Running", &["10.0.0.1"], true, TERMINATING);
    let z = zone(&format!("{SERVICE}{terminating}"));
    assert_nodata(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A), 1);
    assert_nxdomain(&ptr(&z, "1.0.0.10.in-addr.arpa."));
    let z = zone(&format!("{}{terminating}", publishing()));
    assert_eq!(
        data(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["web-0.svc1.ns.svc.cluster.local. 10.0.0.1"]
    );
    assert_eq!(ptr(&z, "1.0.0.10.in-addr.arpa.").answers.len(), 1);
    // Terminating and terminal: the phase wins.
    let z = zone(&format!("{}{}", publishing(), pod_in("web-0", "Failed", &["10.0.0.1"], true, TERMINATING)));
    assert_nodata(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A), 1);
}

#[test]
fn readiness_gives_the_reason() {
    use crate::zone::build::{Readiness, readiness};
    let objects = testing::objects;
    let cases = [
        (SERVICE.to_owned(), pod_in("p", "Running", &["10.0.0.1"], true, ""), Readiness::Ready),
        (SERVICE.to_owned(), pod_in("p", "Running", &["10.0.0.1"], false, ""), Readiness::NotReady),
        (
            SERVICE.to_owned(),
            pod_in("p", "Running", &["10.0.0.1"], true, TERMINATING),
            Readiness::Terminating,
        ),
        (
            publishing(),
            pod_in("p", "Running", &["10.0.0.1"], true, TERMINATING),
            Readiness::PublishedNotReady,
        ),
        (publishing(), pod_in("p", "Running", &["10.0.0.1"], false, ""), Readiness::PublishedNotReady),
        (publishing(), pod_in("p", "Pending", &[], false, ""), Readiness::NoIp),
        (publishing(), pod_in("p", "Failed", &["10.0.0.1"], true, ""), Readiness::Terminal),
        (SERVICE.to_owned(), pod_in("p", "Succeeded", &["10.0.0.1"], true, ""), Readiness::Terminal),
    ];
    for (service, pod, expected) in cases {
        let (mut svc, mut p) = (None, None);
        for o in objects(&format!("{service}{pod}")) {
            match o {
                crate::cluster::Object::Service(s) => svc = Some(s),
                crate::cluster::Object::Pod(x) => p = Some(x),
                _ => {}
            }
        }
        let (svc, p) = (svc.unwrap(), p.unwrap());
        assert_eq!(readiness(&svc, &p), expected, "{pod}");
        assert_eq!(
            readiness(&svc, &p).is_published(),
            matches!(expected, Readiness::Ready | Readiness::PublishedNotReady)
        );
    }
}
