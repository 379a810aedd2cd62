//! Unit tests of an external zone's answers and files, from hand-built Service records
//! over a cluster zone built from YAML (the records' builder is tested in `build`).

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::*;
use crate::zone::ServiceRecords;
use crate::zone::pending::Pending;
use crate::zone::tests::{SERVICE, sts_pod, zone};
use crate::zone::{Answer, ZoneSettings};

const STS: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: ns}\nspec: {serviceName: svc1, replicas: 3}\n---\n";

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// `h` as an annotation's hostname: lower-cased, without the trailing dot.
fn hostname(h: &str) -> SharedStr {
    h.trim_end_matches('.').to_ascii_lowercase().into()
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
        hostnames: Box::new([hostname(h)]),
        ttl: 30,
        targets: Targets::Endpoints,
        cluster: Some(cluster_records()),
        details: None,
    }
}

fn load_balancer(service: &str, created: i64, h: &str, ip: &str) -> ExternalService {
    ExternalService {
        key: key(service),
        created,
        hostnames: Box::new([hostname(h)]),
        ttl: 60,
        targets: Targets::Addresses(Box::new([ip.parse().unwrap()])),
        cluster: None,
        details: ExternalDetails {
            ports: Box::new([ExternalPort { name: "kafka".into(), protocol: "tcp", port: 9094 }]),
            ..Default::default()
        }
        .boxed(),
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
    // A hostname's key is its name's.
    assert_eq!(zone.key_of_hostname("a.b.example.com"), zone.key_of(&name("a.b.example.com.")));
    assert_eq!(zone.key_of_hostname("a.b.example.org"), None);
    assert_eq!(zone.key_of_hostname("example.com"), None, "the apex is nobody's");
    assert_eq!(zone.key_of_hostname("a.ample.com"), None);
}

#[test]
fn labels_under_the_apex_are_listed_outwards() {
    let apex = name("example.com.");
    assert_eq!(labels_under(&apex, "kafka-0.kafka.example.com"), Some(vec!["kafka", "kafka-0"]));
    assert_eq!(labels_under(&apex, "kafka.EXAMPLE.com"), Some(vec!["kafka"]));
    assert_eq!(labels_under(&apex, "example.com"), None);
    assert_eq!(labels_under(&apex, "com"), None);
    assert_eq!(labels_under(&apex, "kafka.example.org"), None);
    assert_eq!(labels_under(&apex, "kafkaexample.com"), None);
    assert_eq!(labels_under(&apex, "a..example.com"), None);
    assert_eq!(depth_under(&apex, "kafka-0.kafka.example.com"), Some(2));
    assert_eq!(depth_under(&apex, "Example.COM"), Some(0), "the apex");
    assert_eq!(depth_under(&apex, "kafka.example.org"), None);
    assert_eq!(depth_under(&apex, "a..example.com"), None);
}

#[test]
fn hosts_and_identities_not_listed_are_the_cluster_zones() {
    let service = headless(1, "kafka.example.com.");
    let hosts: Vec<&str> = service.hosts().map(|(label, _)| &**label).collect();
    assert_eq!(hosts, ["web-0", "web-1"]);
    assert!(matches!(service.host("web-1"), Some((label, Targets::Endpoints)) if label == "web-1"));
    assert!(service.host("web-2").is_none());
    assert_eq!(service.identities().len(), 1);
    assert_eq!(&*service.identities()[0].statefulset, "web");
    // Listed ones replace them.
    let web9 = ("web-9".into(), Targets::Addresses(Box::new(["192.0.2.9".parse().unwrap()])));
    let details = ExternalDetails {
        hosts: Some(Box::new([web9])),
        identities: Some(Box::new([])),
        ..Default::default()
    };
    let listed = ExternalService { details: details.boxed(), ..service };
    let hosts: Vec<&str> = listed.hosts().map(|(label, _)| &**label).collect();
    assert_eq!(hosts, ["web-9"]);
    assert!(listed.host("web-0").is_none());
    assert!(matches!(listed.host("web-9"), Some((_, Targets::Addresses(ips))) if ips.len() == 1));
    assert!(listed.identities().is_empty());
    assert_eq!(listed.pending("web-2"), None, "no identity of web is pending under it");
}

/// Service svc1 of `crate::zone::tests::SERVICE` published as `kafka.example.com`, with
/// `extra` annotations (`, key: value` pairs).
fn annotated_service(extra: &str) -> String {
    SERVICE.replace(
        "metadata: {name: svc1, namespace: ns}",
        &format!(
            "metadata: {{name: svc1, namespace: ns, annotations: {{external-dns.alpha.kubernetes.io/hostname: \
             kafka.example.com{extra}}}}}"
        ),
    )
}

/// svc1's records built from `yaml` (the cluster state and zone it makes).
fn built(yaml: &str) -> ExternalService {
    let state = crate::cluster::testing::state(yaml);
    let cluster = zone(yaml);
    build::build(&settings(), &state, &cluster, &key("svc1")).expect("published")
}

#[test]
fn a_statefulsets_hosts_and_identities_are_the_cluster_zones_not_copies() {
    let yaml = format!(
        "{}{STS}{}{}",
        annotated_service(""),
        sts_pod("web-0", &["10.0.0.1"], true),
        sts_pod("web-1", &["10.0.0.2"], true)
    );
    let service = built(&yaml);
    assert!(service.details.is_none(), "nothing of its own: {service:?}");
    let hosts: Vec<&str> = service.hosts().map(|(label, _)| &**label).collect();
    assert_eq!(hosts, ["web-0", "web-1"]);
    assert_eq!(service.pending("web-2"), Some(Pending::Ordinal { statefulset: "web", ordinal: 2 }));
    assert_eq!(&service.hostnames[..], [SharedStr::from("kafka.example.com")]);
}

#[test]
fn hosts_that_are_not_the_cluster_zones_labels_are_listed() {
    // A pod whose subdomain is another Service's: a host here, no label in svc1's records.
    let other =
        crate::zone::tests::pod("other", ", hostname: other, subdomain: elsewhere", &["10.0.0.9"], true, "");
    let yaml = format!("{}{STS}{}{other}", annotated_service(""), sts_pod("web-0", &["10.0.0.1"], true));
    let service = built(&yaml);
    let hosts: Vec<&str> = service.hosts().map(|(label, _)| &**label).collect();
    assert_eq!(hosts, ["other", "web-0"]);
    assert!(service.details().hosts.is_some());
    assert!(
        matches!(service.host("other"), Some((_, Targets::Addresses(ips))) if ips[..] == ["10.0.0.9".parse::<std::net::IpAddr>().unwrap()])
    );
    assert!(matches!(service.host("web-0"), Some((_, Targets::Endpoints))));
    // Node addresses instead of the pods': every host listed with its own.
    let yaml = format!(
        "{}{STS}{}",
        annotated_service(", external-dns.alpha.kubernetes.io/endpoints-type: HostIP"),
        sts_pod("web-0", &["10.0.0.1"], true)
    );
    let service = built(&yaml);
    assert!(matches!(service.host("web-0"), Some((_, Targets::Addresses(_)))), "{service:?}");
}

#[test]
fn a_services_records_stay_small() {
    // Every Service of a large cluster may be exported: with its reference counts, one
    // Service's records fit an allocation of 128 bytes (the details boxed apart).
    assert!(std::mem::size_of::<ExternalService>() + 16 <= 128, "{}", std::mem::size_of::<ExternalService>());
}

#[test]
fn a_repacked_zone_answers_alike() {
    let mut zone = synced(vec![
        headless(1, "kafka.example.com."),
        load_balancer("lb", 2, "lb.example.com.", "192.0.2.7"),
    ]);
    let before = zone.zone_records();
    zone.repack();
    assert_eq!(zone.zone_records(), before);
    assert_eq!(zone.claim_counts(), (2, 0));
    assert!(zone.service(&key("lb")).is_some());
}
