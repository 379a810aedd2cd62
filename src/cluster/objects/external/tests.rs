//! Unit tests of the external spec: each annotation rule and problem, through the
//! Service's wire form (as every source reads it).

use super::*;
use crate::cluster::objects::{Kind, Object, Service};
use serde_json::{Value, json};

const ALPHA: &str = EXTERNAL_DNS_ALPHA_PREFIX;
const CURRENT: &str = EXTERNAL_DNS_PREFIX;

fn service(annotations: Value, spec: Value, status: Value) -> Service {
    let object = Object::from_json(
        Kind::Service,
        json!({"metadata": {"name": "kafka", "namespace": "data", "annotations": annotations,
                            "creationTimestamp": "2024-05-01T12:00:00Z"},
               "spec": spec, "status": status}),
    )
    .expect("bad annotations never refuse a Service");
    let Object::Service(service) = object else { panic!("not a service") };
    (*service).clone()
}

fn external(annotations: Value) -> ExternalSpec {
    let svc = service(annotations, json!({"clusterIP": "None", "selector": {"app": "kafka"}}), json!({}));
    *svc.external.expect("a hostname annotation")
}

fn problems(spec: &ExternalSpec) -> Vec<String> {
    spec.problems().iter().map(ToString::to_string).collect()
}

fn names(list: &[&str]) -> Box<[SharedStr]> {
    list.iter().map(|n| SharedStr::from(*n)).collect()
}

fn ips(list: &[&str]) -> Box<[IpAddr]> {
    list.iter().map(|ip| ip.parse().unwrap()).collect()
}

#[test]
fn without_a_hostname_annotation_there_is_no_external_spec() {
    let svc =
        service(json!({format!("{ALPHA}ttl"): "60", "other": "x"}), json!({"clusterIP": "None"}), json!({}));
    assert!(svc.external.is_none());
    let svc = service(json!(null), json!({"clusterIP": "None"}), json!({}));
    assert!(svc.external.is_none());
}

#[test]
fn hostnames_are_a_trimmed_lowercased_list_under_either_prefix() {
    for prefix in [ALPHA, CURRENT] {
        let spec = external(
            json!({format!("{prefix}hostname"): " Kafka.Example.com. , ,b.example.com,kafka.example.com,"}),
        );
        assert_eq!(spec.hostnames, names(&["kafka.example.com", "b.example.com"]), "{prefix}");
        assert!(spec.problems().is_empty(), "{:?}", problems(&spec));
        assert_eq!(spec.target(), None);
        assert_eq!(spec.ttl, None);
        assert_eq!(spec.endpoints_type, EndpointsType::PodIp);
        assert_eq!(spec.created, 1_714_564_800);
        assert_eq!(spec.service_type, ExposedType::ClusterIp);
    }
    // A hostname annotation with nothing usable still gives a spec, with the problems.
    let spec = external(json!({format!("{ALPHA}hostname"): ""}));
    assert!(spec.hostnames.is_empty() && spec.problems().is_empty());
}

#[test]
fn bad_hostnames_are_problems_and_the_others_are_kept() {
    let long_label = "a".repeat(64);
    let long_name = ["abcdefghij"; 24].join("."); // 263 bytes
    let key = format!("{ALPHA}hostname");
    let value = format!(
        "*.example.com,ok.example.com,a b.example.com,{long_label}.example.com,{long_name},-x.example.com,*,x_y.example.com"
    );
    let spec = external(json!({&key: value}));
    assert_eq!(spec.hostnames, names(&["ok.example.com"]));
    let why: Vec<(&str, &str)> = spec.problems().iter().map(|p| (&*p.value, &*p.reason)).collect();
    assert_eq!(
        why,
        [
            ("*.example.com", "a wildcard is not published"),
            (
                "a b.example.com",
                "not a DNS name (labels of a-z, 0-9 and '-', not starting or ending with '-')"
            ),
            (&*format!("{long_label}.example.com"), "a label longer than 63 bytes"),
            (&*long_name, "longer than 253 bytes"),
            (
                "-x.example.com",
                "not a DNS name (labels of a-z, 0-9 and '-', not starting or ending with '-')"
            ),
            ("*", "a wildcard is not published"),
            (
                "x_y.example.com",
                "not a DNS name (labels of a-z, 0-9 and '-', not starting or ending with '-')"
            ),
        ]
    );
    assert!(spec.problems().iter().all(|p| *p.annotation == *key), "the key as written");
    assert_eq!(problems(&spec)[0], format!("{key}=\"*.example.com\": a wildcard is not published"));
}

#[test]
fn the_current_prefix_wins_over_the_alpha_one() {
    let spec = external(json!({
        format!("{ALPHA}hostname"): "old.example.com",
        format!("{CURRENT}hostname"): "new.example.com",
        format!("{ALPHA}ttl"): "60",
        format!("{CURRENT}ttl"): "60",
    }));
    assert_eq!(spec.hostnames, names(&["new.example.com"]));
    assert_eq!(spec.ttl, Some(60));
    assert_eq!(
        problems(&spec),
        [format!("{ALPHA}hostname=\"old.example.com\": {CURRENT}hostname is set too, and wins")],
        "an equal value under both is no problem"
    );
    // Keys are read independently: the hostname under one, the ttl under the other.
    let spec = external(json!({format!("{CURRENT}hostname"): "a.example.com", format!("{ALPHA}ttl"): "30"}));
    assert_eq!((spec.hostnames.len(), spec.ttl), (1, Some(30)));
}

#[test]
fn targets_are_addresses_or_one_name() {
    let with = |target: &str| {
        external(json!({format!("{ALPHA}hostname"): "a.example.com", format!("{ALPHA}target"): target}))
    };
    let spec = with("203.0.113.1, 2001:db8::1,203.0.113.1");
    assert_eq!(spec.target(), Some(&ExternalTarget::Addresses(ips(&["203.0.113.1", "2001:db8::1"]))));
    assert_eq!(with("LB.Example.net.").target(), Some(&ExternalTarget::Name("lb.example.net".into())));
    assert_eq!(with("").target(), None);
    assert!(with(" , ").problems().is_empty());
    for (value, reason) in [
        ("203.0.113.1,lb.example.net", "addresses and names mixed: no target is used"),
        ("a.example.net,b.example.net", "several names (a CNAME has one target): no target is used"),
        (
            "not a name!",
            "not an IP address or a usable DNS name: not a DNS name (labels of a-z, 0-9 and '-', not starting or ending with '-')",
        ),
        ("*.example.net", "not an IP address or a usable DNS name: a wildcard is not published"),
        (
            "300.1.1.1",
            "not an IP address or a usable DNS name: not a DNS name: its last label is all digits, like an address",
        ),
    ] {
        let spec = with(value);
        assert_eq!(spec.target(), None, "{value}");
        assert_eq!(problems(&spec), [format!("{ALPHA}target={value:?}: {reason}")]);
    }
}

#[test]
fn an_unusable_ttl_is_a_problem() {
    let spec =
        external(json!({format!("{CURRENT}hostname"): "a.example.com", format!("{CURRENT}ttl"): "ten"}));
    assert_eq!(spec.ttl, None);
    assert_eq!(
        problems(&spec),
        [format!("{CURRENT}ttl=\"ten\": not a duration (90s, 5m, 1h) or a number of seconds")]
    );
}

#[test]
fn endpoints_types_are_spelled_as_external_dns_spells_them() {
    let with = |value: &str| {
        external(
            json!({format!("{ALPHA}hostname"): "a.example.com", format!("{ALPHA}endpoints-type"): value}),
        )
    };
    assert_eq!(with("NodeExternalIP").endpoints_type, EndpointsType::NodeExternalIp);
    assert_eq!(with("HostIP").endpoints_type, EndpointsType::HostIp);
    assert_eq!(with("").endpoints_type, EndpointsType::PodIp);
    assert!(with("").problems().is_empty());
    for value in ["nodeexternalip", "PodIP", "hostIP"] {
        let spec = with(value);
        assert_eq!(spec.endpoints_type, EndpointsType::PodIp, "{value}");
        assert_eq!(
            problems(&spec),
            [format!(
                "{ALPHA}endpoints-type={value:?}: not NodeExternalIP or HostIP: the pod IPs are published"
            )]
        );
    }
}

#[test]
fn load_balancer_ingress_external_ips_node_ports_and_type_are_read() {
    let svc = service(
        json!({format!("{ALPHA}hostname"): "lb.example.com"}),
        json!({"type": "LoadBalancer", "clusterIP": "10.96.0.10",
               "externalIPs": ["198.51.100.1", "198.51.100.1", "2001:db8::7", "bogus"],
               "ports": [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81},
                         {"name": "c", "port": 82, "nodePort": 70000}]}),
        json!({"loadBalancer": {"ingress": [
            {"ip": "203.0.113.5"}, {"hostname": "Abc.ELB.amazonaws.com."},
            {"ip": "203.0.113.6", "hostname": "both.example.net"}, {"ip": "203.0.113.5"},
            {"ip": "nope"}, {"hostname": "*.bad"}, {}]}}),
    );
    assert_eq!(svc.cluster_ips.len(), 1, "the cluster records are unaffected");
    let spec = svc.external.expect("a spec");
    assert_eq!(spec.service_type, ExposedType::LoadBalancer);
    assert_eq!(
        spec.load_balancer(),
        [
            Ingress::Ip("203.0.113.5".parse().unwrap()),
            Ingress::Hostname("abc.elb.amazonaws.com".into()),
            Ingress::Ip("203.0.113.6".parse().unwrap()),
            Ingress::Hostname("both.example.net".into()),
        ]
    );
    assert_eq!(*spec.external_ips(), *ips(&["198.51.100.1", "2001:db8::7"]));
    assert_eq!(spec.node_ports(), [30080, 0, 0]);
    let headless = service(
        json!({format!("{ALPHA}hostname"): "kafka.example.com"}),
        json!({"clusterIP": "None", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}),
        json!({}),
    );
    assert!(headless.external.expect("a spec").node_ports().is_empty(), "no node port: none kept");
    assert_eq!(
        problems(&spec),
        [
            "status.loadBalancer.ingress[].ip=\"nope\": not an IP address",
            "status.loadBalancer.ingress[].hostname=\"*.bad\": a wildcard is not published",
            "spec.externalIPs=\"bogus\": not an IP address",
            "spec.ports[].nodePort=\"70000\": not a port number",
        ]
    );
    for (raw, exposed) in [
        ("NodePort", ExposedType::NodePort),
        ("ExternalName", ExposedType::ExternalName),
        ("ClusterIP", ExposedType::ClusterIp),
    ] {
        let mut spec = json!({"type": raw, "clusterIP": "10.96.0.11"});
        if raw == "ExternalName" {
            spec = json!({"type": raw, "externalName": "db.example.net"});
        }
        let svc = service(json!({format!("{ALPHA}hostname"): "a.example.com"}), spec, json!({}));
        assert_eq!(svc.external.unwrap().service_type, exposed);
    }
}

#[test]
fn creation_timestamps_are_unix_seconds_or_0() {
    let with = |meta: Value| {
        let object =
            Object::from_json(Kind::Service, json!({"metadata": meta, "spec": {"clusterIP": "None"}}))
                .unwrap();
        let Object::Service(svc) = object else { panic!() };
        *svc.external.clone().unwrap()
    };
    let annotations = json!({format!("{ALPHA}hostname"): "a.example.com"});
    let absent = with(json!({"name": "s", "annotations": annotations}));
    assert_eq!((absent.created, absent.problems().len()), (0, 0));
    let bad = with(json!({"name": "s", "annotations": annotations, "creationTimestamp": "soon"}));
    assert_eq!(bad.created, 0);
    assert_eq!(problems(&bad), ["metadata.creationTimestamp=\"soon\": not an RFC 3339 time: taken as 0"]);
}

#[test]
fn an_unusable_new_value_keeps_the_previous_one() {
    let good = external(json!({
        format!("{CURRENT}hostname"): "kafka.example.com",
        format!("{CURRENT}ttl"): "30",
        format!("{CURRENT}endpoints-type"): "NodeExternalIP",
    }));
    let mut bad = external(json!({
        format!("{CURRENT}hostname"): "*.example.com",
        format!("{CURRENT}ttl"): "ten",
        format!("{CURRENT}endpoints-type"): "nodeexternalip",
    }));
    assert!(bad.keep_last_good(&good));
    assert_eq!(bad.hostnames, names(&["kafka.example.com"]));
    assert_eq!(bad.ttl, good.ttl);
    assert_eq!(bad.endpoints_type, EndpointsType::NodeExternalIp);
    assert_eq!(
        problems(&bad),
        [
            format!(
                "{CURRENT}hostname=\"*.example.com\": a wildcard is not published; the previous value is served"
            ),
            format!(
                "{CURRENT}ttl=\"ten\": not a duration (90s, 5m, 1h) or a number of seconds; the previous value is served"
            ),
            format!(
                "{CURRENT}endpoints-type=\"nodeexternalip\": not NodeExternalIP or HostIP; the previous value is served"
            ),
        ]
    );
    // A version with one good hostname among bad ones serves the good one alone.
    let mut partly = external(json!({format!("{CURRENT}hostname"): "*.example.com,b.example.com"}));
    assert!(!partly.keep_last_good(&good));
    assert_eq!(partly.hostnames, names(&["b.example.com"]));
}

#[test]
fn hostnames_no_external_zone_publishes_keep_the_previous_ones() {
    let apexes: Vec<SharedStr> = vec!["example.com".into(), "example.net".into()];
    let good = external(json!({format!("{CURRENT}hostname"): "kafka.example.com"}));
    // The zone typed wrong, and the apex itself: the previous hostnames stay, each said.
    for (typo, reason) in [
        ("kafka.example.org", "in no external zone (example.com., example.net.)"),
        ("example.com", "the apex of external zone example.com., whose records are the zone's own (SOA, NS)"),
        ("kafkaexample.com", "in no external zone (example.com., example.net.)"),
    ] {
        let mut bad = external(json!({format!("{CURRENT}hostname"): typo}));
        assert!(bad.keep_publishable_hostnames(&good, &apexes), "{typo}");
        assert_eq!(bad.hostnames, names(&["kafka.example.com"]), "{typo}");
        assert_eq!(problems(&bad), [format!("hostname=\"{typo}\": {reason}; the previous value is served")]);
    }
    // One publishable hostname among them: that version is served as it is.
    let mut partly = external(json!({format!("{CURRENT}hostname"): "kafka.example.org,k.example.net"}));
    assert!(!partly.keep_publishable_hostnames(&good, &apexes));
    assert_eq!(partly.hostnames, names(&["kafka.example.org", "k.example.net"]));
    // Nothing publishable before either, or no external zone served: nothing to keep.
    let outside = external(json!({format!("{CURRENT}hostname"): "a.example.org"}));
    let mut bad = external(json!({format!("{CURRENT}hostname"): "b.example.org"}));
    assert!(!bad.keep_publishable_hostnames(&outside, &apexes));
    assert!(!bad.keep_publishable_hostnames(&good, &[]));
    assert_eq!(bad.hostnames, names(&["b.example.org"]));
}

#[test]
fn a_hostname_is_published_only_strictly_under_an_apex_without_empty_labels() {
    let apex = |text: &'static str| text.split('.').map(str::as_bytes);
    let above = |hostname| super::above_apex(hostname, apex("example.com"));
    assert_eq!(above("kafka-0.kafka.example.com"), Some("kafka-0.kafka"));
    assert_eq!(above("kafka.EXAMPLE.com"), Some("kafka"), "labels compare case-insensitively");
    assert_eq!(above("example.com"), Some(""), "the apex itself");
    for outside in ["com", "kafka.example.org", "kafkaexample.com", "a..example.com", ".example.com", ""] {
        assert_eq!(above(outside), None, "{outside:?}");
    }
}
