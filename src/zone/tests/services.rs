//! Unit tests of ClusterIP services (spec §2.3) and ExternalName services (§2.5).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{ask, assert_nodata, assert_nxdomain, data, sts_pod, zone};

/// A ClusterIP service `svc1` in `ns` selecting `app: web`, with `ips` as `spec.clusterIPs`.
pub(crate) fn cluster_ip(ips: &[&str]) -> String {
    let list: Vec<String> = ips.iter().map(|ip| format!("\"{ip}\"")).collect();
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: svc1, namespace: ns}}\n\
         spec: {{clusterIP: {first}, clusterIPs: [{}], selector: {{app: web}}, \
         ports: [{{name: http, port: 80, targetPort: 8080}}, {{name: DNS, port: 53, protocol: UDP}}, {{port: 9000}}]}}\n---\n",
        list.join(", "),
        first = list.first().cloned().unwrap_or_else(|| "\"\"".into())
    )
}

pub(crate) fn external(name: &str, target: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\n\
         spec: {{type: ExternalName, externalName: {target}}}\n---\n"
    )
}

const SVC: &str = "svc1.ns.svc.cluster.local.";

#[test]
fn a_cluster_ip_service_answers_its_cluster_ips_whatever_its_endpoints() {
    // No pods at all: the name still answers (a headless service would be NXDOMAIN).
    let z = zone(&cluster_ip(&["10.96.0.10"]));
    let a = ask(&z, SVC, RecordType::A);
    assert_eq!((a.rcode, a.authoritative), (ResponseCode::NoError, true));
    assert_eq!(data(&a.answers), [format!("{SVC} 10.96.0.10")]);
    assert_nodata(&ask(&z, SVC, RecordType::AAAA), 5);
    // Ready pods do not add their addresses.
    let z = zone(&format!("{}{}", cluster_ip(&["10.96.0.10"]), sts_pod("web-0", &["10.0.0.1"], true)));
    assert_eq!(data(&ask(&z, SVC, RecordType::A).answers), [format!("{SVC} 10.96.0.10")]);
}

#[test]
fn a_dual_stack_service_answers_both_families() {
    let z = zone(&cluster_ip(&["10.96.0.10", "fd00:96::a"]));
    assert_eq!(data(&ask(&z, SVC, RecordType::A).answers), [format!("{SVC} 10.96.0.10")]);
    assert_eq!(data(&ask(&z, SVC, RecordType::AAAA).answers), [format!("{SVC} fd00:96::a")]);
    assert_eq!(
        data(
            &ask(
                &z,
                "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.",
                RecordType::PTR
            )
            .answers
        ),
        [format!("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa. {SVC}")]
    );
}

#[test]
fn named_ports_get_srv_records_on_the_service_name() {
    let z = zone(&cluster_ip(&["10.96.0.10", "fd00:96::a"]));
    let srv = ask(&z, &format!("_http._tcp.{SVC}"), RecordType::SRV);
    assert_eq!(data(&srv.answers), [format!("_http._tcp.{SVC} 0 100 80 {SVC}")]);
    assert_eq!(data(&srv.additionals), [format!("{SVC} 10.96.0.10"), format!("{SVC} fd00:96::a")]);
    // Port names match case-insensitively; the protocol must match.
    assert_eq!(data(&ask(&z, &format!("_dns._udp.{SVC}"), RecordType::SRV).answers).len(), 1);
    assert_nxdomain(&ask(&z, &format!("_dns._tcp.{SVC}"), RecordType::SRV));
    assert_nxdomain(&ask(&z, &format!("_9000._tcp.{SVC}"), RecordType::SRV));
    // `_tcp` exists (empty non-terminal), `_sctp` does not.
    assert_nodata(&ask(&z, &format!("_tcp.{SVC}"), RecordType::A), 5);
    assert_nxdomain(&ask(&z, &format!("_sctp.{SVC}"), RecordType::A));
    // Asked of the name itself: one record per port, named or not.
    let bare = ask(&z, SVC, RecordType::SRV);
    assert_eq!(
        data(&bare.answers),
        [format!("{SVC} 0 33 53 {SVC}"), format!("{SVC} 0 33 80 {SVC}"), format!("{SVC} 0 33 9000 {SVC}")]
    );
    assert_eq!(bare.additionals.len(), 2);
}

#[test]
fn no_name_exists_below_a_cluster_ip_service() {
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\n\
               spec: {serviceName: svc1, replicas: 3}\n---\n";
    let z = zone(&format!("{}{sts}{}", cluster_ip(&["10.96.0.10"]), sts_pod("web-0", &["10.0.0.1"], true)));
    assert_nxdomain(&ask(&z, &format!("web-0.{SVC}"), RecordType::A));
    // Not even a StatefulSet's identities: they need a headless governing service.
    assert_nxdomain(&ask(&z, &format!("web-1.{SVC}"), RecordType::A));
    assert_nxdomain(&ask(&z, &format!("10-0-0-1.{SVC}"), RecordType::A));
    // The pod's address has no PTR through a ClusterIP service; the cluster IP has one.
    assert_nxdomain(&ask(&z, "1.0.0.10.in-addr.arpa.", RecordType::PTR));
    assert_eq!(
        data(&ask(&z, "10.0.96.10.in-addr.arpa.", RecordType::PTR).answers),
        [format!("10.0.96.10.in-addr.arpa. {SVC}")]
    );
    // The namespace exists.
    assert_nodata(&ask(&z, "ns.svc.cluster.local.", RecordType::A), 5);
}

#[test]
fn a_cluster_ip_service_without_an_address_yet_does_not_exist() {
    let z = zone(&cluster_ip(&[]));
    assert_nxdomain(&ask(&z, SVC, RecordType::A));
}

#[test]
fn an_external_name_is_a_cname_for_any_type() {
    let z = zone(&external("svc1", "db.example.com."));
    for qtype in [RecordType::A, RecordType::AAAA, RecordType::CNAME, RecordType::SRV, RecordType::TXT] {
        let answer = ask(&z, SVC, qtype);
        assert_eq!(answer.rcode, ResponseCode::NoError, "{qtype}");
        assert_eq!(data(&answer.answers), [format!("{SVC} db.example.com.")], "{qtype}");
        assert!(answer.authorities.is_empty(), "{qtype}");
    }
    assert_nxdomain(&ask(&z, &format!("x.{SVC}"), RecordType::A));
    assert_nxdomain(&ask(&z, &format!("_http._tcp.{SVC}"), RecordType::SRV));
}

#[test]
fn an_external_name_inside_the_zone_is_followed() {
    let yaml = format!(
        "{}{}{}{}",
        cluster_ip(&["10.96.0.10"]),
        external("alias", "svc1.ns.svc.cluster.local"),
        external("chain", "alias.ns.svc.cluster.local"),
        external("dangling", "nope.ns.svc.cluster.local"),
    );
    let z = zone(&yaml);
    let a = ask(&z, "chain.ns.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert_eq!(
        a.answers.iter().map(|r| format!("{} {} {}", r.name, r.record_type(), r.data)).collect::<Vec<_>>(),
        [
            "chain.ns.svc.cluster.local. CNAME alias.ns.svc.cluster.local.".to_owned(),
            "alias.ns.svc.cluster.local. CNAME svc1.ns.svc.cluster.local.".to_owned(),
            format!("{SVC} A 10.96.0.10"),
        ]
    );
    // The target has no AAAA: the CNAME, then NODATA's SOA.
    let aaaa = ask(&z, "alias.ns.svc.cluster.local.", RecordType::AAAA);
    assert_eq!((aaaa.rcode, aaaa.answers.len(), aaaa.authorities.len()), (ResponseCode::NoError, 1, 1));
    // The target does not exist: the CNAME with NXDOMAIN (RFC 6604: the last name's code).
    let gone = ask(&z, "dangling.ns.svc.cluster.local.", RecordType::A);
    assert_eq!((gone.rcode, gone.answers.len(), gone.authorities.len()), (ResponseCode::NXDomain, 1, 1));
}

#[test]
fn an_external_name_loop_ends() {
    let z = zone(&format!(
        "{}{}",
        external("a", "b.ns.svc.cluster.local"),
        external("b", "a.ns.svc.cluster.local")
    ));
    let answer = ask(&z, "a.ns.svc.cluster.local.", RecordType::A);
    assert_eq!(answer.rcode, ResponseCode::NoError);
    assert_eq!(answer.answers.len(), 8);
}
