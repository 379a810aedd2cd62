//! The bare SRV RRset on a headless service's name (issue 18): every port of every ready
//! endpoint, as kube-dns and CoreDNS answer `dig SRV <svc>.<ns>.svc.<zone>`.

use hickory_proto::rr::RecordType;

use super::{SERVICE, ask, assert_nodata, assert_nxdomain, basic, data, pod, sts_pod, zone};
use crate::zone::*;

const BARE: &str = "svc1.ns.svc.cluster.local.";

/// The SRV data of an answer, sorted: `priority weight port target`.
fn srv_data(answer: &Answer) -> Vec<String> {
    let mut out: Vec<String> = answer
        .answers
        .iter()
        .map(|r| {
            assert_eq!(r.name.to_string(), BARE, "owner is the service name");
            r.data.to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn bare_srv_lists_every_port_named_or_not_of_every_ready_endpoint() {
    // SERVICE: http (named targetPort http = 8080), raw 81, dns/UDP (targetPort dns = 5353),
    // missing (targetPort nope: no pod has it), and an unnamed port 83.
    let z = basic();
    let srv = ask(&z, BARE, RecordType::SRV);
    assert_eq!(srv.rcode, ResponseCode::NoError);
    assert!(srv.authoritative && srv.authorities.is_empty());
    // 3 endpoints x 4 ports = 12 records: weight floor(100 / 12) = 8.
    let mut expected = Vec::new();
    for target in ["10-0-0-3", "web-0", "web-1"] {
        for port in [81, 83, 5353, 8080] {
            expected.push(format!("0 8 {port} {target}.svc1.ns.svc.cluster.local."));
        }
    }
    expected.sort();
    assert_eq!(srv_data(&srv), expected);
    // Glue: each target's addresses once, both families for the dual-stack web-1.
    assert_eq!(
        data(&srv.additionals),
        [
            "10-0-0-3.svc1.ns.svc.cluster.local. 10.0.0.3",
            "web-0.svc1.ns.svc.cluster.local. 10.0.0.1",
            "web-1.svc1.ns.svc.cluster.local. 10.0.0.2",
            "web-1.svc1.ns.svc.cluster.local. fd00::2",
        ]
    );
    // The other types at the name are unchanged; ANY stays one RRset, without glue.
    assert_eq!(ask(&z, BARE, RecordType::A).answers.len(), 3);
    let any = ask(&z, BARE, RecordType::ANY);
    assert!(any.answers.iter().all(|r| r.record_type() == RecordType::A) && any.additionals.is_empty());
    // The named-port names still exist only for named ports.
    assert_nxdomain(&ask(&z, "_._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV));
    assert_nxdomain(&ask(&z, "_83._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV));
}

#[test]
fn a_named_target_port_one_pod_lacks_leaves_out_only_that_record() {
    let without_http =
        sts_pod("web-1", &["10.0.0.2"], true).replace("{name: http, containerPort: 8080}, ", "");
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
        spec: {clusterIP: None, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {port: 81}]}\n---\n";
    let z = zone(&format!("{service}{}{without_http}", sts_pod("web-0", &["10.0.0.1"], true)));
    // web-0: 8080 and 81; web-1: 81 only. N = 3, weight 33.
    assert_eq!(
        srv_data(&ask(&z, BARE, RecordType::SRV)),
        [
            "0 33 8080 web-0.svc1.ns.svc.cluster.local.",
            "0 33 81 web-0.svc1.ns.svc.cluster.local.",
            "0 33 81 web-1.svc1.ns.svc.cluster.local.",
        ]
    );
    // The same for the named-port RRset.
    assert_eq!(ask(&z, "_http._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV).answers.len(), 1);
}

#[test]
fn one_endpoint_port_behind_two_service_ports_is_one_record() {
    // Two service ports on the same target port: CoreDNS drops the duplicate SRV record.
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
        spec: {clusterIP: None, selector: {app: web}, ports: [{name: a, port: 80, targetPort: 8080}, {name: b, port: 8080}, {name: c, port: 53, protocol: UDP, targetPort: 8080}]}\n---\n";
    let z = zone(&format!("{service}{}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_eq!(srv_data(&ask(&z, BARE, RecordType::SRV)), ["0 100 8080 web-0.svc1.ns.svc.cluster.local."]);
    let srv = ask(&z, BARE, RecordType::SRV);
    assert_eq!(data(&srv.additionals), ["web-0.svc1.ns.svc.cluster.local. 10.0.0.1"]);
}

#[test]
fn dual_stack_endpoints_without_hostname_get_one_target_per_address() {
    let z = zone(&format!("{SERVICE}{}", pod("p", "", &["10.0.0.9", "fd00::9"], true, "")));
    let srv = ask(&z, BARE, RecordType::SRV);
    // Two labels (10-0-0-9, fd00--9) x 4 ports: weight 12.
    assert_eq!(srv.answers.len(), 8);
    assert!(srv_data(&srv).iter().all(|r| r.starts_with("0 12 ")), "{:?}", srv_data(&srv));
    assert_eq!(
        data(&srv.additionals),
        ["10-0-0-9.svc1.ns.svc.cluster.local. 10.0.0.9", "fd00--9.svc1.ns.svc.cluster.local. fd00::9"]
    );
}

#[test]
fn pending_identities_are_not_targets_and_portless_services_answer_nodata() {
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\nspec: {serviceName: svc1, replicas: 3}\n---\n";
    let z = zone(&format!(
        "{SERVICE}{sts}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2"], false)
    ));
    let srv = ask(&z, BARE, RecordType::SRV);
    assert!(srv_data(&srv).iter().all(|r| r.ends_with(" web-0.svc1.ns.svc.cluster.local.")), "{srv:?}");
    assert_eq!(srv.answers.len(), 4);
    // Ready endpoints but no ports: the name exists, without SRV records.
    let portless = "apiVersion: v1\nkind: Service\nmetadata: {name: svc1, namespace: ns}\n\
        spec: {clusterIP: None, selector: {app: web}}\n---\n";
    let z = zone(&format!("{portless}{}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_nodata(&ask(&z, BARE, RecordType::SRV), 5);
    assert_eq!(ask(&z, BARE, RecordType::A).answers.len(), 1);
    // Only a named targetPort no pod has: NODATA as well.
    let nope = portless.replace("app: web}}", "app: web}, ports: [{name: x, port: 1, targetPort: nope}]}");
    let z = zone(&format!("{nope}{}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_nodata(&ask(&z, BARE, RecordType::SRV), 5);
    // No ready endpoint: the service name does not exist, whatever the type.
    let z = zone(&format!("{SERVICE}{}", sts_pod("web-0", &["10.0.0.1"], false)));
    assert_nxdomain(&ask(&z, BARE, RecordType::SRV));
}
