//! The record rules of headless services: names, addresses, SRV, PTR, the apex,
//! readiness, pending identities, and the answer codes.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::{SERVICE, ask, assert_nodata, assert_nxdomain, basic, data, pod, sts_pod, zone, zone_with};
use crate::zone::*;

#[test]
fn service_a_and_aaaa_list_every_ready_endpoint_of_that_family() {
    let z = basic();
    let a = ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A);
    assert_eq!(a.rcode, ResponseCode::NoError);
    assert!(a.authoritative);
    assert_eq!(
        data(&a.answers),
        [
            "svc1.ns.svc.cluster.local. 10.0.0.1",
            "svc1.ns.svc.cluster.local. 10.0.0.2",
            "svc1.ns.svc.cluster.local. 10.0.0.3"
        ]
    );
    assert!(a.answers.iter().all(|r| r.ttl == 5));
    let aaaa = ask(&z, "svc1.ns.svc.cluster.local.", RecordType::AAAA);
    assert_eq!(data(&aaaa.answers), ["svc1.ns.svc.cluster.local. fd00::2"]);
}

#[test]
fn endpoint_names_use_hostname_when_subdomain_matches_else_dashed_ip() {
    let z = basic();
    assert_eq!(
        data(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["web-0.svc1.ns.svc.cluster.local. 10.0.0.1"]
    );
    // Dual-stack pod with a hostname: both families under one name.
    assert_eq!(
        data(&ask(&z, "web-1.svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["web-1.svc1.ns.svc.cluster.local. 10.0.0.2"]
    );
    assert_eq!(
        data(&ask(&z, "web-1.svc1.ns.svc.cluster.local.", RecordType::AAAA).answers),
        ["web-1.svc1.ns.svc.cluster.local. fd00::2"]
    );
    // No hostname: the dashed IP.
    assert_eq!(
        data(&ask(&z, "10-0-0-3.svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["10-0-0-3.svc1.ns.svc.cluster.local. 10.0.0.3"]
    );
    assert_nxdomain(&ask(&z, "stray.svc1.ns.svc.cluster.local.", RecordType::A));
    // A dual-stack pod without hostname gets one dashed name per address.
    let z = zone(&format!("{SERVICE}{}", pod("p", "", &["10.0.0.9", "fd00::9"], true, "")));
    assert_eq!(
        data(&ask(&z, "fd00--9.svc1.ns.svc.cluster.local.", RecordType::AAAA).answers),
        ["fd00--9.svc1.ns.svc.cluster.local. fd00::9"]
    );
    assert_nodata(&ask(&z, "fd00--9.svc1.ns.svc.cluster.local.", RecordType::A), 5);
}

#[test]
fn subdomain_mismatch_publishes_only_the_dashed_ip() {
    let z = zone(&format!(
        "{SERVICE}{}",
        pod("odd", ", hostname: odd, subdomain: elsewhere", &["10.2.1.52"], true, "")
    ));
    assert_nxdomain(&ask(&z, "odd.svc1.ns.svc.cluster.local.", RecordType::A));
    assert_eq!(
        data(&ask(&z, "10-2-1-52.svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["10-2-1-52.svc1.ns.svc.cluster.local. 10.2.1.52"]
    );
}

#[test]
fn endpoint_names_pod_name_option_uses_the_pod_name() {
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    settings.endpoint_names = EndpointNames::PodName;
    let z = zone_with(settings, &format!("{SERVICE}{}", pod("stray", "", &["10.0.0.3"], true, "")));
    assert_eq!(
        data(&ask(&z, "stray.svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["stray.svc1.ns.svc.cluster.local. 10.0.0.3"]
    );
}

#[test]
fn srv_uses_endpoint_ports_named_target_ports_and_glue() {
    let z = basic();
    let srv = ask(&z, "_http._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV);
    assert_eq!(srv.rcode, ResponseCode::NoError);
    // Named targetPort `http` resolves to container port 8080; 3 targets → weight 33.
    assert_eq!(
        data(&srv.answers),
        [
            "_http._tcp.svc1.ns.svc.cluster.local. 0 33 8080 10-0-0-3.svc1.ns.svc.cluster.local.",
            "_http._tcp.svc1.ns.svc.cluster.local. 0 33 8080 web-0.svc1.ns.svc.cluster.local.",
            "_http._tcp.svc1.ns.svc.cluster.local. 0 33 8080 web-1.svc1.ns.svc.cluster.local.",
        ]
    );
    assert_eq!(
        data(&srv.additionals),
        [
            "10-0-0-3.svc1.ns.svc.cluster.local. 10.0.0.3",
            "web-0.svc1.ns.svc.cluster.local. 10.0.0.1",
            "web-1.svc1.ns.svc.cluster.local. 10.0.0.2",
            "web-1.svc1.ns.svc.cluster.local. fd00::2",
        ]
    );
    // Numeric port without targetPort: the port itself.
    let raw = ask(&z, "_raw._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV);
    assert!(data(&raw.answers).iter().all(|r| r.contains(" 81 ")), "{:?}", raw.answers);
    // UDP named port resolves among UDP container ports only.
    let dns = ask(&z, "_dns._udp.svc1.ns.svc.cluster.local.", RecordType::SRV);
    assert_eq!(dns.answers.len(), 3);
    assert!(data(&dns.answers).iter().all(|r| r.contains(" 5353 ")));
    assert_nxdomain(&ask(&z, "_dns._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV));
    // A named targetPort no pod has: no SRV at all.
    assert_nxdomain(&ask(&z, "_missing._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV));
    // The protocol label is an empty non-terminal: NODATA.
    assert_nodata(&ask(&z, "_tcp.svc1.ns.svc.cluster.local.", RecordType::A), 5);
    assert_nxdomain(&ask(&z, "_sctp.svc1.ns.svc.cluster.local.", RecordType::A));
}

#[test]
fn srv_weight_is_at_least_one() {
    let pods: String = (0..150)
        .map(|i| pod(&format!("p{i}"), "", &[&format!("10.1.{}.{}", i / 200, i % 200 + 1)], true, ""))
        .collect();
    let z = zone(&format!("{SERVICE}{pods}"));
    let srv = ask(&z, "_raw._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV);
    assert_eq!(srv.answers.len(), 150);
    assert!(srv.answers.iter().all(|r| matches!(&r.data, RData::SRV(s) if s.weight == 1 && s.priority == 0)));
}

#[test]
fn ptr_for_ready_endpoints_ipv4_and_ipv6() {
    let z = basic();
    let v4 = ask(&z, "2.0.0.10.in-addr.arpa.", RecordType::PTR);
    assert!(v4.authoritative);
    assert_eq!(data(&v4.answers), ["2.0.0.10.in-addr.arpa. web-1.svc1.ns.svc.cluster.local."]);
    let v6 =
        ask(&z, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", RecordType::PTR);
    assert_eq!(data(&v6.answers).len(), 1);
    assert!(data(&v6.answers)[0].ends_with("web-1.svc1.ns.svc.cluster.local."));
    assert_eq!(
        data(&ask(&z, "3.0.0.10.in-addr.arpa.", RecordType::PTR).answers),
        ["3.0.0.10.in-addr.arpa. 10-0-0-3.svc1.ns.svc.cluster.local."]
    );
    assert_nxdomain(&ask(&z, "9.0.0.10.in-addr.arpa.", RecordType::PTR));
    // A prefix of a known address is an empty non-terminal, not NXDOMAIN (RFC 8020).
    assert_nodata(&ask(&z, "0.0.10.in-addr.arpa.", RecordType::PTR), 5);
    assert_nxdomain(&ask(&z, "0.0.11.in-addr.arpa.", RecordType::PTR));
    // PTR of a name that owns an A record: NODATA.
    assert_nodata(&ask(&z, "2.0.0.10.in-addr.arpa.", RecordType::A), 5);
}

#[test]
fn ptr_lists_one_name_per_selecting_headless_service() {
    let second = SERVICE.replace("name: svc1", "name: svc2");
    let z = zone(&format!("{SERVICE}{second}{}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_eq!(
        data(&ask(&z, "1.0.0.10.in-addr.arpa.", RecordType::PTR).answers),
        [
            "1.0.0.10.in-addr.arpa. 10-0-0-1.svc2.ns.svc.cluster.local.",
            "1.0.0.10.in-addr.arpa. web-0.svc1.ns.svc.cluster.local.",
        ]
    );
}

#[test]
fn apex_soa_ns_and_dns_version() {
    let z = basic();
    let soa = ask(&z, "cluster.local.", RecordType::SOA);
    let [record] = &soa.answers[..] else { panic!("{soa:?}") };
    let RData::SOA(soa_data) = &record.data else { panic!() };
    assert_eq!(soa_data.mname.to_string(), "ns.dns.cluster.local.");
    assert_eq!(soa_data.rname.to_string(), "hostmaster.cluster.local.");
    assert_eq!(soa_data.serial, z.serial());
    let ns = ask(&z, "cluster.local.", RecordType::NS);
    assert_eq!(data(&ns.answers), ["cluster.local. ns.dns.cluster.local."]);
    let txt = ask(&z, "dns-version.cluster.local.", RecordType::TXT);
    assert_eq!(txt.answers.len(), 1);
    assert_eq!(txt.answers[0].ttl, 28800);
    let RData::TXT(txt_data) = &txt.answers[0].data else { panic!("not TXT") };
    assert_eq!(&*txt_data.txt_data, &[b"1.1.0".to_vec().into_boxed_slice()]);
}

#[test]
fn empty_non_terminals_are_nodata_and_unknown_names_nxdomain() {
    let z = basic();
    for ent in ["svc.cluster.local.", "ns.svc.cluster.local.", "_tcp.svc1.ns.svc.cluster.local."] {
        assert_nodata(&ask(&z, ent, RecordType::A), 5);
    }
    // The service name exists but has no AAAA... it does (web-1). Ask TXT instead.
    assert_nodata(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::TXT), 5);
    for nx in [
        "other.svc.cluster.local.",
        "nope.svc1.ns.svc.cluster.local.",
        "web-0.svc1.ns.svc.cluster.local.ns.svc.cluster.local.",
        "pods.cluster.local.",
        "x.y.z.web-0.svc1.ns.svc.cluster.local.",
    ] {
        assert_nxdomain(&ask(&z, nx, RecordType::A));
    }
}

#[test]
fn service_without_ready_endpoints_is_nxdomain() {
    let z = zone(&format!("{SERVICE}{}", pod("p", "", &["10.0.0.1"], false, "")));
    assert_nxdomain(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A));
    // And a service with no pods at all.
    let z = zone(SERVICE);
    assert_nxdomain(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A));
}

#[test]
fn readiness_follows_condition_deletion_and_publish_not_ready() {
    let terminating = pod(
        "t",
        ", hostname: t, subdomain: svc1",
        &["10.0.0.4"],
        true,
        ", deletionTimestamp: \"2026-01-01T00:00:00Z\"",
    );
    let unready = pod("u", ", hostname: u, subdomain: svc1", &["10.0.0.5"], false, "");
    let z = zone(&format!("{SERVICE}{terminating}{unready}"));
    assert_nxdomain(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A));
    // Hostnamed but not ready: a pending identity, NODATA with the short TTL.
    assert_nodata(&ask(&z, "t.svc1.ns.svc.cluster.local.", RecordType::A), 1);
    assert_nodata(&ask(&z, "u.svc1.ns.svc.cluster.local.", RecordType::A), 1);

    let publish = SERVICE.replace("selector:", "publishNotReadyAddresses: true, selector:");
    let z = zone(&format!("{publish}{terminating}{unready}"));
    assert_eq!(ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A).answers.len(), 2);
    assert_eq!(ask(&z, "u.svc1.ns.svc.cluster.local.", RecordType::A).answers.len(), 1);

    let legacy = SERVICE.replace(
        "namespace: ns}",
        "namespace: ns, annotations: {service.alpha.kubernetes.io/tolerate-unready-endpoints: \"true\"}}",
    );
    let z = zone(&format!("{legacy}{unready}"));
    assert_eq!(ask(&z, "u.svc1.ns.svc.cluster.local.", RecordType::A).answers.len(), 1);
}

#[test]
fn clusterip_services_name_no_pods() {
    let clusterip = SERVICE.replace("clusterIP: None", "clusterIP: 10.96.0.10");
    let z = zone(&format!("{clusterip}{}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_eq!(
        data(&ask(&z, "svc1.ns.svc.cluster.local.", RecordType::A).answers),
        ["svc1.ns.svc.cluster.local. 10.96.0.10"]
    );
    assert_nxdomain(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A));
    assert_nxdomain(&ask(&z, "1.0.0.10.in-addr.arpa.", RecordType::PTR));
}

#[test]
fn statefulset_identities_are_pending_not_nxdomain() {
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\nspec: {serviceName: svc1, replicas: 3}\n---\n";
    let z = zone(&format!("{SERVICE}{sts}{}", sts_pod("web-0", &["10.0.0.1"], true)));
    assert_eq!(ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A).answers.len(), 1);
    assert_nodata(&ask(&z, "web-1.svc1.ns.svc.cluster.local.", RecordType::A), 1);
    assert_nodata(&ask(&z, "web-2.svc1.ns.svc.cluster.local.", RecordType::A), 1);
    assert_nxdomain(&ask(&z, "web-3.svc1.ns.svc.cluster.local.", RecordType::A));
}

#[test]
fn a_pending_identity_owns_a_txt_that_says_why_and_travels_in_the_zone_file() {
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\nspec: {serviceName: svc1, replicas: 3}\n---\n";
    let z = zone(&format!(
        "{SERVICE}{sts}{}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2"], false),
        pod("solo", ", hostname: solo, subdomain: svc1", &["10.0.0.9"], false, ""),
    ));
    let txt = |name: &str| data(&ask(&z, name, RecordType::TXT).answers);
    assert_eq!(
        txt("web-1.svc1.ns.svc.cluster.local."),
        ["web-1.svc1.ns.svc.cluster.local. pending: ordinal 1 of StatefulSet web has no ready pod"]
    );
    assert_eq!(
        txt("web-2.svc1.ns.svc.cluster.local."),
        ["web-2.svc1.ns.svc.cluster.local. pending: ordinal 2 of StatefulSet web has no ready pod"]
    );
    assert_eq!(
        txt("solo.svc1.ns.svc.cluster.local."),
        ["solo.svc1.ns.svc.cluster.local. pending: the pod with this hostname is not ready"]
    );
    let answer = ask(&z, "web-2.svc1.ns.svc.cluster.local.", RecordType::TXT);
    assert_eq!(answer.answers[0].ttl, 1, "the pending TTL");
    assert_eq!(ask(&z, "web-2.svc1.ns.svc.cluster.local.", RecordType::ANY).answers.len(), 1, "ANY: the TXT");
    // Addresses: NODATA with the pending TTL; a name with an address has no TXT.
    assert_nodata(&ask(&z, "web-2.svc1.ns.svc.cluster.local.", RecordType::AAAA), 1);
    assert_nodata(&ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::TXT), 5);
    assert_nxdomain(&ask(&z, "web-3.svc1.ns.svc.cluster.local.", RecordType::TXT));
    // The zone file, which is what a transfer sends, holds each pending name once.
    let file = z.zone_file(crate::zone::zonefile::ZoneFile::Forward);
    let pending: Vec<&str> = file.lines().filter(|l| l.contains("\tTXT\t\"pending: ")).collect();
    assert_eq!(pending.len(), 3, "{file}");
    assert!(file.contains("web-2.svc1.ns.svc.cluster.local.\t1\tIN\tTXT\t\"pending: ordinal 2 of StatefulSet web has no ready pod\""), "{file}");
}

#[test]
fn outside_the_zone_is_refused_and_unsynced_is_servfail() {
    let mut z = basic();
    let refused = ask(&z, "example.com.", RecordType::A);
    assert_eq!(refused.rcode, ResponseCode::Refused);
    assert!(!refused.authoritative);
    assert_eq!(ask(&z, "local.", RecordType::A).rcode, ResponseCode::Refused);
    let chaos = z.lookup(&Name::from_ascii("cluster.local.").unwrap(), RecordType::TXT, DNSClass::CH);
    assert_eq!(chaos.rcode, ResponseCode::Refused);
    z.set_synced(false);
    let servfail = ask(&z, "web-0.svc1.ns.svc.cluster.local.", RecordType::A);
    assert_eq!(servfail.rcode, ResponseCode::ServFail);
    assert!(servfail.answers.is_empty() && servfail.authorities.is_empty());
    assert_eq!(ask(&z, "example.com.", RecordType::A).rcode, ResponseCode::Refused);
}

#[test]
fn any_gets_a_minimal_answer() {
    let z = basic();
    let any = ask(&z, "web-1.svc1.ns.svc.cluster.local.", RecordType::ANY);
    assert_eq!(any.rcode, ResponseCode::NoError);
    assert_eq!(data(&any.answers), ["web-1.svc1.ns.svc.cluster.local. 10.0.0.2"]);
    let apex = ask(&z, "cluster.local.", RecordType::ANY);
    assert_eq!(apex.answers.len(), 1);
    assert_eq!(apex.answers[0].record_type(), RecordType::SOA);
    let srv = ask(&z, "_http._tcp.svc1.ns.svc.cluster.local.", RecordType::ANY);
    assert!(srv.additionals.is_empty());
    assert_eq!(ask(&z, "cluster.local.", RecordType::AXFR).rcode, ResponseCode::Refused);
}

#[test]
fn names_match_case_insensitively_and_keep_the_question_case() {
    let z = basic();
    let a = ask(&z, "WEB-0.Svc1.NS.svc.Cluster.Local.", RecordType::A);
    assert_eq!(data(&a.answers), ["WEB-0.Svc1.NS.svc.Cluster.Local. 10.0.0.1"]);
}

#[test]
fn the_name_server_name_resolves_to_the_configured_addresses() {
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    settings.ns_addresses = vec!["10.96.0.53".parse().unwrap(), "fd00::53".parse().unwrap()];
    let mut z = Zone::new(settings);
    z.set_synced(true);
    assert_eq!(
        data(&ask(&z, "ns.dns.cluster.local.", RecordType::A).answers),
        ["ns.dns.cluster.local. 10.96.0.53"]
    );
    assert_eq!(
        data(&ask(&z, "ns.dns.cluster.local.", RecordType::AAAA).answers),
        ["ns.dns.cluster.local. fd00::53"]
    );
    assert_nodata(&ask(&z, "dns.cluster.local.", RecordType::A), 5);
}

#[test]
fn a_hostnamed_pod_without_an_ip_yet_is_pending() {
    // Found by the snapshot_updates fuzzer: a scheduled pod has no IP until its sandbox
    // starts; its name must not answer NXDOMAIN meanwhile.
    let z = zone(&format!("{SERVICE}{}", sts_pod("solo", &[], false)));
    assert_nodata(&ask(&z, "solo.svc1.ns.svc.cluster.local.", RecordType::A), 1);
    let z = zone(&format!("{SERVICE}{}", sts_pod("solo", &[], true)));
    assert_nodata(&ask(&z, "solo.svc1.ns.svc.cluster.local.", RecordType::A), 1);
}

#[test]
fn srv_targets_and_members_read_the_same_however_they_are_stored() {
    // web-1 serves `http` on another number: the targets are listed, not implied.
    let z = zone(&format!(
        "{SERVICE}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2"], true).replace("containerPort: 8080", "containerPort: 9090"),
    ));
    assert_eq!(
        data(&ask(&z, "_http._tcp.svc1.ns.svc.cluster.local.", RecordType::SRV).answers),
        [
            "_http._tcp.svc1.ns.svc.cluster.local. 0 50 8080 web-0.svc1.ns.svc.cluster.local.",
            "_http._tcp.svc1.ns.svc.cluster.local. 0 50 9090 web-1.svc1.ns.svc.cluster.local.",
        ]
    );
    let members = |z: &Zone| -> Vec<String> {
        z.service("ns", "svc1").unwrap().members().map(|m| m.to_string()).collect()
    };
    // Members are the endpoints' labels (implied), then a not-ready pod (listed).
    assert_eq!(members(&z), ["web-0", "web-1"]);
    let z = zone(&format!(
        "{SERVICE}{}{}",
        sts_pod("web-0", &["10.0.0.1", "fd00::1"], true),
        sts_pod("web-1", &["10.0.0.2"], false),
    ));
    assert_eq!(members(&z), ["web-0", "web-1"]);
    let records = z.service("ns", "svc1").unwrap();
    assert_eq!(records.endpoint_labels().map(|l| l.to_string()).collect::<Vec<_>>(), ["web-0"]);
    let targets: Vec<(String, u16)> =
        records.srv[0].targets(records).map(|(label, port)| (label.to_string(), port)).collect();
    assert_eq!(targets, [("web-0".to_string(), 8080)]);
}

#[test]
fn endpoints_are_found_by_label_with_a_binary_search() {
    let endpoint = |label: &str, ip: [u8; 4]| Endpoint::new(label.into(), ip.into());
    let records = ServiceRecords {
        endpoints: vec![
            endpoint("a", [10, 0, 0, 1]),
            endpoint("b", [10, 0, 0, 2]),
            endpoint("b", [10, 0, 0, 3]),
            endpoint("c", [10, 0, 0, 4]),
        ],
        ..ServiceRecords::default()
    };
    let ips = |label: &str| records.labelled(label).iter().map(|e| e.ip().to_string()).collect::<Vec<_>>();
    assert_eq!(ips("b"), ["10.0.0.2", "10.0.0.3"]);
    assert_eq!(ips("a"), ["10.0.0.1"]);
    assert_eq!(ips("c"), ["10.0.0.4"]);
    for absent in ["", "0", "ab", "bb", "d"] {
        assert!(ips(absent).is_empty(), "{absent}");
    }
    assert!(!records.is_pending("b"));
}

#[test]
fn an_endpoint_is_32_bytes_and_keeps_ipv6_addresses_whole() {
    assert_eq!(std::mem::size_of::<Endpoint>(), 32);
    let v6: std::net::IpAddr = "fd00:10:244:1::20".parse().unwrap();
    assert_eq!(Endpoint::new("db-0".into(), v6).ip(), v6);
}
