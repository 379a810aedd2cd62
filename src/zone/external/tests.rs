//! Unit tests of an external zone's answers and files, from hand-built Service records
//! over a cluster zone built from YAML (the records' builder is tested in `build`).

use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::*;
use crate::zone::tests::{SERVICE, sts_pod, zone};
use crate::zone::{Answer, ZoneSettings};

const STS: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\nspec: {serviceName: svc1, replicas: 3}\n---\n";

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn key(name: &str) -> ObjectKey {
    ObjectKey { namespace: "ns".into(), name: name.into() }
}

/// svc1's records in the cluster zone: web-0 (10.0.0.1), web-1 (10.0.0.2, fd00::2)
/// ready, web-2 pending (a StatefulSet of 3).
fn cluster_records() -> Arc<ServiceRecords> {
    let cluster = zone(&format!(
        "{SERVICE}{STS}{}{}",
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2", "fd00::2"], true)
    ));
    cluster.service_shared("ns", "svc1").expect("served")
}

fn settings() -> ExternalSettings {
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    settings.ns_addresses = vec!["192.0.2.53".parse().unwrap()];
    settings.external_zone("example.com", Vec::new(), false).unwrap()
}

/// The headless svc1 published as `kafka.example.com`, its pods under it.
fn headless(created: i64, h: &str) -> ExternalService {
    ExternalService {
        key: key("svc1"),
        created,
        hostnames: Box::new([name(h)]),
        ttl: 30,
        targets: Targets::Endpoints,
        cluster: Some(cluster_records()),
        hosts: Box::new(["web-0".into(), "web-1".into()]),
        host_targets: None,
        ports: Box::new([]),
        srv: None,
        identities: Box::new([crate::zone::Identities { statefulset: "web".into(), start: 0, replicas: 3 }]),
        not_ready: Box::new([]),
    }
}

fn load_balancer(service: &str, created: i64, h: &str, ip: &str) -> ExternalService {
    ExternalService {
        key: key(service),
        created,
        hostnames: Box::new([name(h)]),
        ttl: 60,
        targets: Targets::Addresses(Box::new([ip.parse().unwrap()])),
        cluster: None,
        hosts: Box::new([]),
        host_targets: None,
        ports: Box::new([ExternalPort { name: "kafka".into(), protocol: "tcp", port: 9094 }]),
        srv: None,
        identities: Box::new([]),
        not_ready: Box::new([]),
    }
}

fn synced(services: Vec<ExternalService>) -> ExternalZone {
    let mut zone = ExternalZone::new(settings());
    zone.set_synced(true);
    for service in services {
        let key = service.key.clone();
        zone.replace(&key, Some(service));
    }
    zone
}

fn ask(zone: &ExternalZone, q: &str, qtype: RecordType) -> Answer {
    zone.lookup(&name(q), qtype, DNSClass::IN)
}

fn data(answer: &Answer) -> Vec<String> {
    answer.answers.iter().map(|r| r.data.to_string()).collect()
}

#[test]
fn a_headless_service_publishes_its_name_its_pods_and_its_pending_identities() {
    let zone = synced(vec![headless(100, "kafka.example.com.")]);
    let all = ask(&zone, "kafka.example.com.", RecordType::A);
    assert_eq!((all.rcode, data(&all)), (ResponseCode::NoError, vec!["10.0.0.1".into(), "10.0.0.2".into()]));
    assert_eq!(data(&ask(&zone, "web-1.kafka.example.com.", RecordType::AAAA)), ["fd00::2"]);
    assert_eq!(data(&ask(&zone, "WEB-0.Kafka.Example.COM.", RecordType::A)), ["10.0.0.1"]);
    assert_eq!(ask(&zone, "web-0.kafka.example.com.", RecordType::A).answers[0].ttl, 30);
    // web-2, an ordinal without a ready pod: NODATA with its TXT, never NXDOMAIN.
    let pending = ask(&zone, "web-2.kafka.example.com.", RecordType::A);
    assert_eq!((pending.rcode, pending.answers.len()), (ResponseCode::NoError, 0));
    let soa = &pending.authorities[0];
    assert_eq!(soa.ttl, 1, "the pending TTL");
    let txt = ask(&zone, "web-2.kafka.example.com.", RecordType::TXT);
    assert!(data(&txt)[0].contains("ordinal 2 of StatefulSet web"), "{:?}", data(&txt));
    // Beyond the StatefulSet's replicas, and unknown labels: NXDOMAIN.
    for missing in [
        "web-3.kafka.example.com.",
        "other.kafka.example.com.",
        "x.web-0.kafka.example.com.",
        "nope.example.com.",
    ] {
        assert_eq!(ask(&zone, missing, RecordType::A).rcode, ResponseCode::NXDomain, "{missing}");
    }
    // The apex: SOA and NS, the default name server's glue.
    let soa = ask(&zone, "example.com.", RecordType::SOA);
    assert!(data(&soa)[0].starts_with("ns.example.com. hostmaster.example.com. 1 7200"), "{:?}", data(&soa));
    assert_eq!(data(&ask(&zone, "example.com.", RecordType::NS)), ["ns.example.com."]);
    assert_eq!(data(&ask(&zone, "ns.example.com.", RecordType::A)), ["192.0.2.53"]);
    // Outside the zone, or unsynced.
    assert_eq!(ask(&zone, "web-0.svc1.ns.svc.cluster.local.", RecordType::A).rcode, ResponseCode::Refused);
    let mut unsynced = zone.clone();
    unsynced.set_synced(false);
    assert_eq!(ask(&unsynced, "kafka.example.com.", RecordType::A).rcode, ResponseCode::ServFail);
}

#[test]
fn names_above_a_claimed_name_exist_and_srv_names_point_at_the_pods() {
    let zone = synced(vec![headless(100, "kafka.prod.example.com.")]);
    let ent = ask(&zone, "prod.example.com.", RecordType::A);
    assert_eq!((ent.rcode, ent.answers.len()), (ResponseCode::NoError, 0), "an empty non-terminal");
    let srv = ask(&zone, "_http._tcp.kafka.prod.example.com.", RecordType::SRV);
    assert_eq!(
        data(&srv),
        ["0 50 8080 web-0.kafka.prod.example.com.", "0 50 8080 web-1.kafka.prod.example.com."]
    );
    assert_eq!(srv.additionals.len(), 3, "the targets' addresses as glue: {:?}", srv.additionals);
    let bare = ask(&zone, "kafka.prod.example.com.", RecordType::SRV);
    // Every port of every pod: 4 ports (SERVICE's with a target) × 2 pods.
    assert_eq!(data(&bare).len(), 8, "{:?}", data(&bare));
    assert!(data(&bare).contains(&"0 12 5353 web-0.kafka.prod.example.com.".to_owned()), "{:?}", data(&bare));
    assert_eq!(ask(&zone, "_tcp.kafka.prod.example.com.", RecordType::A).rcode, ResponseCode::NoError);
    assert_eq!(
        ask(&zone, "_nope._tcp.kafka.prod.example.com.", RecordType::SRV).rcode,
        ResponseCode::NXDomain
    );
}

#[test]
fn a_load_balancer_answers_its_ingress_and_its_ports_point_at_its_name() {
    let zone = synced(vec![load_balancer("lb", 5, "broker.example.com.", "203.0.113.7")]);
    assert_eq!(data(&ask(&zone, "broker.example.com.", RecordType::A)), ["203.0.113.7"]);
    assert_eq!(ask(&zone, "broker.example.com.", RecordType::AAAA).rcode, ResponseCode::NoError);
    assert_eq!(
        data(&ask(&zone, "_kafka._tcp.broker.example.com.", RecordType::SRV)),
        ["0 100 9094 broker.example.com."]
    );
    let mut cname = load_balancer("lb", 5, "broker.example.com.", "203.0.113.7");
    cname.targets = Targets::Name(Box::new(name("lb-1234.elb.example.net.")));
    let zone = synced(vec![cname]);
    for qtype in [RecordType::A, RecordType::AAAA, RecordType::CNAME] {
        let answer = ask(&zone, "broker.example.com.", qtype);
        assert!(matches!(answer.answers[0].data, RData::CNAME(_)), "{qtype}: {:?}", answer.answers);
    }
}

#[test]
fn a_name_claimed_twice_is_the_older_services_and_passes_on_when_it_goes() {
    let mut zone = synced(vec![
        load_balancer("newer", 200, "broker.example.com.", "203.0.113.2"),
        load_balancer("older", 100, "broker.example.com.", "203.0.113.1"),
    ]);
    assert_eq!(data(&ask(&zone, "broker.example.com.", RecordType::A)), ["203.0.113.1"], "never a merge");
    assert_eq!(zone.claim_counts(), (1, 1));
    let claimants: Vec<&str> =
        zone.claims(&name("broker.example.com.")).unwrap().iter().map(|(_, k)| &*k.name).collect();
    assert_eq!(claimants, ["older", "newer"]);
    let changed = zone.replace(&key("older"), None);
    assert_eq!(changed, [name("broker.example.com.")]);
    assert_eq!(data(&ask(&zone, "broker.example.com.", RecordType::A)), ["203.0.113.2"]);
    // Same creation time: the namespace/name order decides, the same on every replica.
    let zone = synced(vec![
        load_balancer("b", 100, "broker.example.com.", "203.0.113.2"),
        load_balancer("a", 100, "broker.example.com.", "203.0.113.1"),
    ]);
    assert_eq!(data(&ask(&zone, "broker.example.com.", RecordType::A)), ["203.0.113.1"]);
}

#[test]
fn a_pod_name_that_is_another_services_name_goes_to_the_older_service() {
    let pods = headless(100, "kafka.example.com.");
    let lb = load_balancer("lb", 200, "web-0.kafka.example.com.", "203.0.113.9");
    let zone = synced(vec![pods.clone(), lb.clone()]);
    assert_eq!(
        data(&ask(&zone, "web-0.kafka.example.com.", RecordType::A)),
        ["10.0.0.1"],
        "the pods are older"
    );
    let mut older_lb = lb;
    older_lb.created = 50;
    let zone = synced(vec![pods, older_lb]);
    assert_eq!(data(&ask(&zone, "web-0.kafka.example.com.", RecordType::A)), ["203.0.113.9"]);
    // Each name once in the zone file, as its owner answers it.
    let records: Vec<String> = zone.zone_records().iter().map(|r| format!("{} {}", r.name, r.data)).collect();
    let web0: Vec<&String> = records.iter().filter(|r| r.starts_with("web-0.kafka.example.com. ")).collect();
    assert_eq!(
        web0,
        [
            "web-0.kafka.example.com. 203.0.113.9",
            "web-0.kafka.example.com. 0 100 9094 web-0.kafka.example.com."
        ],
        "the load balancer's address and bare SRV; not the pod's address"
    );
}

#[test]
fn the_zone_file_holds_every_answer_and_the_pending_identities() {
    let zone = synced(vec![
        headless(100, "kafka.example.com."),
        load_balancer("lb", 5, "broker.example.com.", "203.0.113.7"),
    ]);
    let text = zone.zone_file();
    for line in [
        "example.com.\t5\tIN\tSOA\tns.example.com. hostmaster.example.com. 1 7200 1800 86400 5",
        "example.com.\t5\tIN\tNS\tns.example.com.",
        "ns.example.com.\t5\tIN\tA\t192.0.2.53",
        "broker.example.com.\t60\tIN\tA\t203.0.113.7",
        "_kafka._tcp.broker.example.com.\t60\tIN\tSRV\t0 100 9094 broker.example.com.",
        "kafka.example.com.\t30\tIN\tA\t10.0.0.1",
        "web-1.kafka.example.com.\t30\tIN\tAAAA\tfd00::2",
        "web-2.kafka.example.com.\t1\tIN\tTXT\t\"pending: ordinal 2 of StatefulSet web has no ready pod\"",
    ] {
        assert!(text.contains(line), "{line}\n---\n{text}");
    }
    // What a transfer holds is what the lookups answer, name by name.
    let records = zone.zone_records();
    for r in &records {
        let answer = zone.lookup(&r.name, r.record_type(), DNSClass::IN);
        assert!(answer.answers.contains(r), "{r} is not answered: {:?}", answer.answers);
    }
    let mut unique = records.clone();
    unique.dedup();
    assert_eq!(unique.len(), records.len());
}

#[test]
fn claims_keys_sort_a_names_descendants_after_it() {
    let zone = synced(vec![headless(1, "a.b.example.com.")]);
    let key = zone.key_of(&name("B.example.com.")).unwrap();
    assert_eq!(&*key, b"b\0");
    assert_eq!(zone.name_of(&zone.key_of(&name("a.b.example.com.")).unwrap()), name("a.b.example.com."));
    assert!(zone.has_descendant(&name("b.example.com.")));
    assert!(!zone.has_descendant(&name("bb.example.com.")));
    assert!(zone.key_of(&name("example.org.")).is_none());
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    assert!(matches!(headless(1, "a.example.com.").host_target(0), Targets::Endpoints) && ip.is_ipv4());
}
